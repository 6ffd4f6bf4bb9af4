/* proto=loadstar: the stream decoder on hand-built bytes, the start-up
 * dialogue against scripted and emulated devices through an in-process
 * link, and end to end through the tcp: transport against the devsim
 * Loadstar emulation on a socket (open, tare, exact values, reconnect
 * re-running the dialogue, close stopping the stream, pair of two units). */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nd_decoder.h"
#include "nd_devsim.h"
#include "nd_loadstar.h"
#include "nd_transport.h"
#include "test_util.h"

#define LBF_N 4.4482216152605

/* ---------- collecting sink ---------- */

typedef struct collector {
    pthread_mutex_t lock;
    nd_sample sets[8192];
    size_t n;
    nd_device_event ev[64];
    size_t nev;
} collector;

static void on_samples(void *ctx, const nd_sample *s, size_t n)
{
    collector *c = ctx;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n && c->n < 8192; i++) c->sets[c->n++] = s[i];
    pthread_mutex_unlock(&c->lock);
}

static void on_event(void *ctx, const nd_device_event *ev)
{
    collector *c = ctx;
    pthread_mutex_lock(&c->lock);
    if (c->nev < 64) c->ev[c->nev++] = *ev;
    pthread_mutex_unlock(&c->lock);
}

static size_t count_sets(collector *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->n;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A bare device for feeding the decoder directly. */
static nd_device *fake_device(collector *c)
{
    nd_device *dev = calloc(1, sizeof *dev);
    dev->sink = (nd_sink){.ctx = c, .samples = on_samples, .event = on_event};
    return dev;
}

static void *make_decoder(nd_device *dev, const char *uri_text, char *err, size_t errlen)
{
    nd_uri uri;
    if (nd_uri_parse(uri_text, &uri, err, errlen) < 0) return NULL;
    void *st = NULL;
    int rc = nd_decoder_loadstar.create(&st, dev, &uri, err, errlen);
    nd_uri_free(&uri);
    return rc == 0 ? st : NULL;
}

/* scale=auto (SERIAL.md): 10^6 before LC is known; once it is, the finest
 * power of ten keeping 4x the capacity in int32 counts: 10^6 for the 250 lb
 * DI-1000 the emulator and the responder describe (4 x 250 x 10^6 < 2^31 <
 * 4 x 250 x 10^7). Every printed decimal of those readings survives. */
#define SCALE_BEFORE_LC 1e6
#define SCALE_250_LB    1e6

/* ---------- 1. stream decoder ---------- */

static void test_stream_lines(void)
{
    collector c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    nd_device *dev = fake_device(&c);
    char err[256];
    void *st = make_decoder(dev, "tcp:x:1?proto=loadstar", err, sizeof err);
    CHECK(st != NULL);
    const char *wire = "     12.3456\r\n"
                       "A\r\n" /* answer to a CR: skipped, not bad */
                       "     -0.0001\r\n"
                       "Tared\r\n"            /* answer to CT0 */
                       "FCM DI-1000\r\n"      /* a stray answer: bad */
                       "?\r\n"                /* unknown command answer: bad */
                       "1.0 2.0\r\n"          /* two numbers: bad */
                       "999999.0\r\n"         /* beyond int32 after the scale: bad */
                       "\r\n\r\n"             /* empty lines: nothing */
                       "0.5\n"                /* LF alone ends a line too */
                       "\x01\x02garbage\r\n"; /* control bytes: bad */
    nd_decoder_loadstar.feed(st, (const uint8_t *)wire, strlen(wire), 42);
    CHECK_EQ_INT(c.n, 3);
    if (c.n == 3) {
        CHECK_EQ_INT(c.sets[0].raw[0], llround(12.3456 * SCALE_BEFORE_LC));
        CHECK_EQ_INT(c.sets[1].raw[0], llround(-0.0001 * SCALE_BEFORE_LC));
        CHECK_EQ_INT(c.sets[2].raw[0], llround(0.5 * SCALE_BEFORE_LC));
        CHECK_EQ_INT(c.sets[2].seq, 2);
        CHECK_EQ_INT(c.sets[0].nch, 1);
        CHECK_EQ_INT(c.sets[0].host_ns, 42);
    }
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->lines_ok), 3);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->lines_bad), 5);

    /* Byte-by-byte gives the same; a partial line dropped by reset is lost. */
    size_t before = c.n;
    const char *split = "  7.0000\r\n-3.25";
    for (size_t i = 0; i < strlen(split); i++)
        nd_decoder_loadstar.feed(st, (const uint8_t *)split + i, 1, 43);
    nd_decoder_loadstar.reset(st);
    nd_decoder_loadstar.feed(st, (const uint8_t *)"1.5\r\n", 5, 44);
    CHECK_EQ_INT(c.n, before + 2);
    if (c.n == before + 2) {
        CHECK_EQ_INT(c.sets[before].raw[0], llround(7.0 * SCALE_BEFORE_LC));
        CHECK_EQ_INT(c.sets[before + 1].raw[0], llround(1.5 * SCALE_BEFORE_LC));
        CHECK_EQ_INT(c.sets[before + 1].seq, 4); /* host counter continues */
    }
    nd_decoder_loadstar.destroy(st);

    /* iLoad dialect: whole millipounds, scale 1. */
    collector c2 = {.lock = PTHREAD_MUTEX_INITIALIZER};
    nd_device *dev2 = fake_device(&c2);
    st = make_decoder(dev2, "tcp:x:1?dialect=iload", err, sizeof err);
    CHECK(st != NULL);
    nd_decoder_loadstar.feed(st, (const uint8_t *)"2345\r\n-12\r\n", 11, 1);
    CHECK_EQ_INT(c2.n, 2);
    if (c2.n == 2) {
        CHECK_EQ_INT(c2.sets[0].raw[0], 2345);
        CHECK_EQ_INT(c2.sets[1].raw[0], -12);
    }
    nd_decoder_loadstar.destroy(st);
    free(dev);
    free(dev2);
}

static void test_option_errors(void)
{
    collector c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    nd_device *dev = fake_device(&c);
    char err[256] = "";
    CHECK(make_decoder(dev, "tcp:x:1?dialect=dq4000", err, sizeof err) == NULL);
    CHECK(strstr(err, "dialect=dq4000") != NULL);
    CHECK(make_decoder(dev, "tcp:x:1?unit=furlong", err, sizeof err) == NULL);
    CHECK(strstr(err, "unit=furlong") != NULL);
    CHECK(make_decoder(dev, "tcp:x:1?tare=maybe", err, sizeof err) == NULL);
    CHECK(strstr(err, "tare") != NULL);
    CHECK(make_decoder(dev, "tcp:x:1?timeout_ms=1", err, sizeof err) == NULL);
    CHECK(strstr(err, "timeout_ms") != NULL);
    free(dev);
}

/* ---------- 2. dialogue through an in-process link ---------- */

/* A scripted device: answers from a table (NULL answer = say nothing),
 * or, with sim set, the devsim emulation. */
typedef struct script_dev {
    const char *const *table; /* cmd, answer, cmd, answer, ..., NULL */
    nd_devsim *sim;
    char sent[1024]; /* what the host wrote */
    size_t nsent;
    char out[8192]; /* what the device will say */
    size_t nout, pos;
    int stream_lines; /* sim: lines to add per read while streaming */
    bool lose;        /* link drops on the first read */
} script_dev;

static int sd_write(void *ctx, const uint8_t *buf, size_t len)
{
    script_dev *s = ctx;
    if (s->nsent + len < sizeof s->sent) {
        memcpy(s->sent + s->nsent, buf, len);
        s->nsent += len;
        s->sent[s->nsent] = '\0';
    }
    if (s->sim) {
        s->nout +=
            nd_devsim_input(s->sim, buf, len, (uint8_t *)s->out + s->nout, sizeof s->out - s->nout);
        return 0;
    }
    /* table: answer each complete CR-terminated command */
    static char cmd[64];
    static size_t clen;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\r') {
            if (clen + 1 < sizeof cmd) cmd[clen++] = (char)buf[i];
            continue;
        }
        cmd[clen] = '\0';
        clen = 0;
        for (size_t k = 0; s->table[k]; k += 2)
            if (strcmp(s->table[k], cmd) == 0 && s->table[k + 1]) {
                s->nout += (size_t)snprintf(s->out + s->nout, sizeof s->out - s->nout, "%s\r\n",
                                            s->table[k + 1]);
                break;
            }
    }
    return 0;
}

static ssize_t sd_read(void *ctx, uint8_t *buf, size_t len, int timeout_ms)
{
    script_dev *s = ctx;
    if (s->lose) return ND_TR_LOST;
    if (s->sim && nd_devsim_streaming(s->sim) && s->pos == s->nout)
        for (int k = 0; k < s->stream_lines; k++)
            s->nout += nd_devsim_next(s->sim, (uint8_t *)s->out + s->nout, sizeof s->out - s->nout);
    if (s->pos == s->nout) {
        sleep_ms(timeout_ms < 5 ? timeout_ms : 5); /* a quiet line */
        return 0;
    }
    size_t n = s->nout - s->pos < len ? s->nout - s->pos : len;
    if (n > 7) n = 7; /* answers straddle reads */
    memcpy(buf, s->out + s->pos, n);
    s->pos += n;
    return (ssize_t)n;
}

static int dialogue(script_dev *s, const char *uri, collector *c, nd_device **devp, void **stp,
                    char *err, size_t errlen)
{
    nd_device *dev = fake_device(c);
    void *st = make_decoder(dev, uri, err, errlen);
    CHECK(st != NULL);
    if (!st) return -99;
    nd_decoder_link link = {.ctx = s, .read = sd_read, .write = sd_write};
    int rc = nd_decoder_loadstar.connect(st, &link, err, errlen);
    *devp = dev;
    *stp = st;
    return rc;
}

static void finish(nd_device *dev, void *st)
{
    nd_decoder_loadstar.destroy(st);
    free(dev);
}

static void test_dialogue_with_devsim(void)
{
    char err[256] = "";
    nd_devsim_config cfg = {.proto = ND_DEVSIM_LOADSTAR,
                            .rate_hz = 100,
                            .nch = 2,
                            .sets_per_frame = 1,
                            .leg = ND_SIM_LEFT,
                            .seed = 5,
                            .interactive = true};
    nd_devsim *sim = nd_devsim_new(&cfg, err, sizeof err);
    CHECK(sim != NULL);
    uint8_t tmp[128];
    for (int i = 0; i < 400; i++) nd_devsim_next(sim, tmp, sizeof tmp); /* onto the hooks */
    CHECK(!nd_devsim_streaming(sim));
    script_dev s = {.sim = sim, .stream_lines = 2};
    collector c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    nd_device *dev;
    void *st;
    int rc = dialogue(&s, "tcp:x:1?proto=loadstar&tare=1&rate=100", &c, &dev, &st, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "connect: %s\n", err);
    CHECK_EQ_INT(strcmp(s.sent, "\rMODEL\rID\rUNITS\rLC\rCT0\rWC\r"), 0);
    if (strcmp(s.sent, "\rMODEL\rID\rUNITS\rLC\rCT0\rWC\r")) fprintf(stderr, "sent: %s\n", s.sent);
    CHECK(atomic_load(&dev->info_valid));
    CHECK_EQ_INT(strcmp(dev->info.model, "Loadstar DI-1000"), 0);
    CHECK_EQ_INT(strcmp(dev->info.serial, "LS-5"), 0);
    CHECK_EQ_INT(dev->info.nch, 1);
    CHECK_NEAR(dev->info.rate_hz, 100.0, 1e-9);
    CHECK_NEAR(dev->info.capacity_n[0], 250.0 * LBF_N, 1e-6);
    CHECK_NEAR(dev->info.counts_per_newton[0], SCALE_250_LB / LBF_N, 1e-9);
    CHECK(nd_devsim_zero_n(sim) > 5.0); /* tared with the athlete at baseline */
    /* the stream has begun: feed what arrives, as the stream device would */
    CHECK(nd_devsim_streaming(sim));
    uint8_t buf[256];
    for (int k = 0; k < 100; k++) {
        ssize_t n = sd_read(&s, buf, sizeof buf, 1);
        if (n > 0) nd_decoder_loadstar.feed(st, buf, (size_t)n, 1);
    }
    CHECK(c.n > 10);
    /* every value is the device's line x scale, starting near zero after the tare */
    double first = c.n ? c.sets[0].raw[0] / SCALE_250_LB * LBF_N : 1e9;
    CHECK(fabs(first) < 0.5 * nd_devsim_zero_n(sim));
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->lines_bad), 0);
    /* tare command while streaming: stop, CT0, restart */
    s.nsent = 0;
    CHECK_EQ_INT(nd_decoder_loadstar.command(st, &(nd_decoder_link){&s, sd_read, sd_write}, "tare",
                                             err, sizeof err),
                 0);
    CHECK_EQ_INT(strcmp(s.sent, "\rCT0\rWC\r"), 0);
    CHECK_EQ_INT(nd_decoder_loadstar.command(st, &(nd_decoder_link){&s, sd_read, sd_write}, "z",
                                             err, sizeof err),
                 -1);
    CHECK(strstr(err, "unknown command 'z'") != NULL);
    /* close: one CR stops the stream */
    s.nsent = 0;
    nd_decoder_loadstar.disconnect(st, &(nd_decoder_link){&s, sd_read, sd_write});
    CHECK_EQ_INT(strcmp(s.sent, "\r"), 0);
    CHECK(!nd_devsim_streaming(sim));
    finish(dev, st);

    /* iLoad dialect against the same emulation: SS1, SLC, O0W0, millipounds */
    script_dev s2 = {.sim = sim, .stream_lines = 1};
    collector c2 = {.lock = PTHREAD_MUTEX_INITIALIZER};
    rc = dialogue(&s2, "tcp:x:1?dialect=iload", &c2, &dev, &st, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(strcmp(s2.sent, "\rSS1\rSLC\rO0W0\r"), 0);
    CHECK_EQ_INT(strcmp(dev->info.model, "Loadstar iLoad"), 0);
    CHECK_NEAR(dev->info.counts_per_newton[0], 1000.0 / LBF_N, 1e-9);
    CHECK_NEAR(dev->info.capacity_n[0], 250.0 * LBF_N, 1e-6);
    finish(dev, st);
    nd_devsim_free(sim);
}

static void expect_dialogue_error(const char *const *table, const char *uri, const char *needle)
{
    script_dev s = {.table = table};
    collector c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    nd_device *dev;
    void *st;
    char err[256] = "";
    int rc = dialogue(&s, uri, &c, &dev, &st, err, sizeof err);
    CHECK_EQ_INT(rc, -1);
    CHECK(strstr(err, needle) != NULL);
    if (!strstr(err, needle)) fprintf(stderr, "  expected '%s', got: %s\n", needle, err);
    CHECK(!atomic_load(&dev->info_valid)); /* nothing half-learned is published */
    finish(dev, st);
}

static void test_dialogue_errors(void)
{
    static const char *const silent[] = {NULL};
    expect_dialogue_error(silent, "tcp:x:1?timeout_ms=30", "no \"A\" after 3 CRs");
    static const char *const other[] = {"", "A", "MODEL", "HX711 scale v2", NULL};
    expect_dialogue_error(other, "tcp:x:1?timeout_ms=30", "not a DI-100/DI-1000");
    static const char *const no_id[] = {"", "A", "MODEL", "FCM DI-1000", NULL};
    expect_dialogue_error(no_id, "tcp:x:1?timeout_ms=30", "no answer to ID");
    static const char *const odd_unit[] = {"",      "A",   "MODEL", "FCM DI-1000", "ID", "W1",
                                           "UNITS", "psi", "LC",    "100",         NULL};
    expect_dialogue_error(odd_unit, "tcp:x:1?timeout_ms=30", "UNITS answered \"psi\"");
    static const char *const bad_lc[] = {"",      "A",  "MODEL", "FCM DI-1000", "ID", "W1",
                                         "UNITS", "kg", "LC",    "lots",        NULL};
    expect_dialogue_error(bad_lc, "tcp:x:1?timeout_ms=30", "LC answered \"lots\"");
    static const char *const bad_tare[] = {"",   "A",  "MODEL", "FCM DI-1000", "ID", "W1", "UNITS",
                                           "kg", "LC", "50",    "CT0",         "E2", NULL};
    expect_dialogue_error(bad_tare, "tcp:x:1?timeout_ms=30&tare=1", "CT0 (tare) answered \"E2\"");

    /* unit= overrides a unit the device names oddly; LC in that unit */
    static const char *const with_unit[] = {"",      "A",   "MODEL", "FCM DI-100", "ID", "W1",
                                            "UNITS", "psi", "LC",    "50.0 kN",    NULL};
    script_dev s = {.table = with_unit};
    collector c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    nd_device *dev;
    void *st;
    char err[256] = "";
    CHECK_EQ_INT(
        dialogue(&s, "tcp:x:1?timeout_ms=30&unit=kN&scale=1000", &c, &dev, &st, err, sizeof err),
        0);
    CHECK_EQ_INT(strcmp(dev->info.model, "Loadstar DI-100"), 0);
    CHECK_NEAR(dev->info.capacity_n[0], 50000.0, 1e-6);
    CHECK_NEAR(dev->info.counts_per_newton[0], 1.0, 1e-12);
    finish(dev, st);

    /* the link drops during the dialogue: LOST, for the stream device to retry */
    script_dev lost = {.table = silent, .lose = true};
    collector c3 = {.lock = PTHREAD_MUTEX_INITIALIZER};
    CHECK_EQ_INT(dialogue(&lost, "tcp:x:1", &c3, &dev, &st, err, sizeof err), ND_TR_LOST);
    finish(dev, st);
}

/* ---------- 3. end to end: tcp transport, devsim on a socket ---------- */

typedef struct responder {
    pthread_t thread;
    int listen_fd;
    int port;
    nd_devsim *sim;
    atomic_bool quit;
    bool silent;          /* accept, never answer */
    bool silent_later;    /* answer only the first connection */
    int lines_per_conn;   /* first connection: data lines, then hang up (0: never) */
    pthread_mutex_t lock; /* guards the records below */
    char rx[4096];        /* bytes from the host, connections separated by '|' */
    size_t nrx;
    double sent[4096]; /* data values sent, in order */
    size_t nsent;
    int conns;
} responder;

static void *responder_main(void *arg)
{
    responder *r = arg;
    while (!atomic_load(&r->quit)) {
        struct pollfd pl = {.fd = r->listen_fd, .events = POLLIN};
        if (poll(&pl, 1, 20) != 1) continue;
        int fd = accept(r->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        pthread_mutex_lock(&r->lock);
        r->conns++;
        if (r->nrx && r->nrx < sizeof r->rx - 1) r->rx[r->nrx++] = '|';
        pthread_mutex_unlock(&r->lock);
        int lines = 0, limit = r->conns == 1 ? r->lines_per_conn : 0;
        bool open = true, silent = r->silent || (r->silent_later && r->conns > 1);
        while (open && !atomic_load(&r->quit)) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 2) == 1) {
                uint8_t in[256], out[1024];
                ssize_t n = read(fd, in, sizeof in);
                if (n <= 0) break;
                pthread_mutex_lock(&r->lock);
                for (ssize_t i = 0; i < n && r->nrx < sizeof r->rx - 1; i++)
                    r->rx[r->nrx++] = (char)in[i];
                pthread_mutex_unlock(&r->lock);
                if (silent) continue;
                size_t m = nd_devsim_input(r->sim, in, (size_t)n, out, sizeof out);
                if (m && write(fd, out, m) != (ssize_t)m) break;
            }
            if (!silent && nd_devsim_streaming(r->sim) && (limit == 0 || lines < limit)) {
                char line[64];
                size_t n = nd_devsim_next(r->sim, (uint8_t *)line, sizeof line - 1);
                line[n] = '\0';
                if (write(fd, line, n) != (ssize_t)n) break;
                pthread_mutex_lock(&r->lock);
                if (r->nsent < 4096) r->sent[r->nsent++] = strtod(line, NULL);
                pthread_mutex_unlock(&r->lock);
                if (++lines == limit) open = false; /* unplug */
            }
        }
        close(fd);
    }
    return NULL;
}

static void responder_start(responder *r, nd_devsim *sim, bool silent, bool silent_later,
                            int lines_per_conn)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->sim = sim;
    r->silent = silent;
    r->silent_later = silent_later;
    r->lines_per_conn = lines_per_conn;
    r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK(bind(r->listen_fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(r->listen_fd, 4) == 0);
    getsockname(r->listen_fd, (struct sockaddr *)&a, &al);
    r->port = ntohs(a.sin_port);
    pthread_create(&r->thread, NULL, responder_main, r);
}

static void responder_stop(responder *r)
{
    atomic_store(&r->quit, true);
    pthread_join(r->thread, NULL);
    close(r->listen_fd);
}

typedef struct runner {
    pthread_t thread;
    nd_device *dev;
    atomic_bool stop;
    int rc;
} runner;

static void *run_thread(void *arg)
{
    runner *r = arg;
    r->rc = nd_device_run(r->dev, &r->stop);
    return NULL;
}

static bool wait_until(collector *c, size_t n)
{
    for (int i = 0; i < 1000; i++) {
        if (count_sets(c) >= n) return true;
        sleep_ms(5);
    }
    return false;
}

static nd_devsim *loadstar_sim(uint64_t seed, int leg)
{
    char err[128];
    nd_devsim_config cfg = {.proto = ND_DEVSIM_LOADSTAR,
                            .rate_hz = 100,
                            .nch = 2,
                            .sets_per_frame = 1,
                            .leg = leg,
                            .seed = seed,
                            .interactive = true};
    nd_devsim *sim = nd_devsim_new(&cfg, err, sizeof err);
    uint8_t tmp[128];
    for (int i = 0; i < 400; i++) nd_devsim_next(sim, tmp, sizeof tmp);
    return sim;
}

static void test_end_to_end_tcp(void)
{
    enum { PER_CONN = 150 };
    nd_devsim *sim = loadstar_sim(9, ND_SIM_LEFT);
    responder r;
    responder_start(&r, sim, false, false, PER_CONN);
    char uri[160];
    snprintf(uri, sizeof uri, "tcp:127.0.0.1:%d?proto=loadstar&tare=1&rate=100", r.port);
    collector c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    nd_sink sink = {.ctx = &c, .samples = on_samples, .event = on_event};
    nd_device *dev = NULL;
    char err[256];
    int rc = nd_device_open(uri, &sink, &dev, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "open: %s\n", err);
        responder_stop(&r);
        return;
    }
    CHECK_EQ_INT(strcmp(dev->info.serial, "LS-9"), 0);
    CHECK_NEAR(dev->info.capacity_n[0], 250.0 * LBF_N, 1e-6);
    runner run = {.dev = dev};
    pthread_create(&run.thread, NULL, run_thread, &run);
    /* first connection: PER_CONN lines, then the "cable" is pulled; the
     * driver reconnects and must run the dialogue again (without CT0);
     * the second connection streams on */
    CHECK(wait_until(&c, 2 * PER_CONN));
    /* a tare from another thread while streaming */
    CHECK_EQ_INT(nd_device_command(dev, "tare", err, sizeof err), 0);
    sleep_ms(50);
    atomic_store(&run.stop, true);
    pthread_join(run.thread, NULL);
    CHECK_EQ_INT(run.rc, 0);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->lines_bad), 0);
    nd_device_close(dev); /* sends the CR that stops the stream */
    sleep_ms(30);
    responder_stop(&r);

    pthread_mutex_lock(&r.lock);
    r.rx[r.nrx] = '\0';
    /* the second dialogue may start with an extra CR: the device was still
     * streaming (this emulation keeps its state across the pulled cable),
     * and the first CR only stops the stream */
    const char *want1 = "\rMODEL\rID\rUNITS\rLC\rCT0\rWC\r|\r";
    const char *want2 = "\rMODEL\rID\rUNITS\rLC\rWC\r";
    bool ok = strncmp(r.rx, want1, strlen(want1)) == 0;
    const char *second = r.rx + strlen(want1);
    if (ok && *second == '\r' && strncmp(second, want2, strlen(want2)) != 0) second++;
    ok = ok && strncmp(second, want2, strlen(want2)) == 0;
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "device got: ");
        for (size_t i = 0; i < r.nrx; i++)
            fputs(r.rx[i] == '\r' ? "\\r" : (char[2]){r.rx[i], 0}, stderr);
        fputc('\n', stderr);
    }
    CHECK(r.conns >= 2);
    /* every line the device sent arrived with its exact value, in order */
    size_t n = c.n < r.nsent ? c.n : r.nsent;
    CHECK(n >= 2 * PER_CONN);
    size_t mismatches = 0;
    for (size_t i = 0; i < n; i++)
        if (c.sets[i].raw[0] != (int32_t)llround(r.sent[i] * SCALE_250_LB)) mismatches++;
    CHECK_EQ_INT(mismatches, 0);
    CHECK_EQ_INT(c.sets[PER_CONN].seq, PER_CONN);
    CHECK(c.sets[PER_CONN].flags & ND_SAMPLE_AFTER_RECONNECT);
    CHECK(!(c.sets[PER_CONN - 1].flags & ND_SAMPLE_AFTER_RECONNECT));
    /* tare: device zero at the baseline, first reading near zero */
    CHECK(nd_devsim_zero_n(sim) > 5.0);
    CHECK(fabs(r.sent[0] * LBF_N) < 0.5 * nd_devsim_zero_n(sim));
    /* the tare command and the closing CR reached the device */
    CHECK(strstr(r.rx, "\rCT0\rWC\r") != NULL);
    CHECK(r.nrx > 0 && r.rx[r.nrx - 1] == '\r');
    pthread_mutex_unlock(&r.lock);
    bool lost = false, back = false;
    for (size_t i = 0; i < c.nev; i++) {
        if (c.ev[i].kind == ND_EV_DEVICE_LOST) lost = true;
        if (c.ev[i].kind == ND_EV_DEVICE_BACK) back = lost;
    }
    CHECK(lost && back);
    nd_devsim_free(sim);
}

static void test_end_to_end_errors(void)
{
    /* a device that never answers: open fails with a clear error, quickly */
    nd_devsim *sim = loadstar_sim(1, ND_SIM_LEFT);
    responder r;
    responder_start(&r, sim, true, false, 0);
    char uri[160];
    snprintf(uri, sizeof uri, "tcp:127.0.0.1:%d?proto=loadstar&timeout_ms=50", r.port);
    nd_sink sink = {0};
    nd_device *dev = NULL;
    char err[256] = "";
    CHECK_EQ_INT(nd_device_open(uri, &sink, &dev, err, sizeof err), -1);
    CHECK(strstr(err, "no \"A\"") != NULL);
    responder_stop(&r);

    /* the device comes back after a drop but no longer answers: an error
     * event per attempt, no hang, stop is honoured */
    responder r2;
    responder_start(&r2, sim, false, true, 20);
    snprintf(uri, sizeof uri, "tcp:127.0.0.1:%d?proto=loadstar&timeout_ms=50", r2.port);
    collector c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    nd_sink sink2 = {.ctx = &c, .samples = on_samples, .event = on_event};
    CHECK_EQ_INT(nd_device_open(uri, &sink2, &dev, err, sizeof err), 0);
    runner run = {.dev = dev};
    pthread_create(&run.thread, NULL, run_thread, &run);
    bool saw_error = false;
    for (int i = 0; i < 400 && !saw_error; i++) {
        sleep_ms(5);
        pthread_mutex_lock(&c.lock);
        for (size_t k = 0; k < c.nev; k++)
            if (c.ev[k].kind == ND_EV_ERROR && strstr(c.ev[k].detail, "no \"A\"")) saw_error = true;
        pthread_mutex_unlock(&c.lock);
    }
    CHECK(saw_error);
    CHECK(!nd_device_connected(dev));
    atomic_store(&run.stop, true);
    pthread_join(run.thread, NULL);
    CHECK_EQ_INT(run.rc, 0);
    nd_device_close(dev);
    responder_stop(&r2);

    /* proto=loadstar needs a transport that can write */
    char path[256];
    snprintf(path, sizeof path, "%s/loadstar_capture_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    snprintf(uri, sizeof uri, "file:%s?proto=loadstar", path);
    CHECK_EQ_INT(nd_device_open(uri, &sink, &dev, err, sizeof err), -1);
    CHECK(strstr(err, "needs a transport that can send commands") != NULL);
    if (!strstr(err, "needs a transport")) fprintf(stderr, "  got: %s\n", err);
    unlink(path);
    nd_devsim_free(sim);
}

static void test_pair_of_two(void)
{
    nd_devsim *left = loadstar_sim(21, ND_SIM_LEFT), *right = loadstar_sim(22, ND_SIM_RIGHT);
    responder rl, rr;
    responder_start(&rl, left, false, false, 0);
    responder_start(&rr, right, false, false, 0);
    char uri[300];
    snprintf(uri, sizeof uri,
             "pair:?left=tcp:127.0.0.1:%d&left.proto=loadstar&left.rate=100"
             "&right=tcp:127.0.0.1:%d&right.proto=loadstar&right.rate=100",
             rl.port, rr.port);
    collector c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    nd_sink sink = {.ctx = &c, .samples = on_samples, .event = on_event};
    nd_device *dev = NULL;
    char err[256];
    int rc = nd_device_open(uri, &sink, &dev, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        runner run = {.dev = dev};
        pthread_create(&run.thread, NULL, run_thread, &run);
        CHECK(wait_until(&c, 50));
        atomic_store(&run.stop, true);
        pthread_join(run.thread, NULL);
        CHECK_EQ_INT(dev->info.nch, 2);
        CHECK(strstr(dev->info.serial, "LS-21") != NULL);
        CHECK(strstr(dev->info.serial, "LS-22") != NULL);
        CHECK(c.n > 0 && c.sets[0].nch == 2);
        nd_device_close(dev);
    } else {
        fprintf(stderr, "pair open: %s\n", err);
    }
    /* the percent-encoded inner query is the same device */
    snprintf(uri, sizeof uri,
             "pair:?left=tcp:127.0.0.1:%d%%3Fproto%%3Dloadstar%%26rate%%3D100"
             "&right=tcp:127.0.0.1:%d%%3Fproto%%3Dloadstar&right.rate=100",
             rl.port, rr.port);
    rc = nd_device_open(uri, &sink, &dev, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        size_t before = count_sets(&c);
        runner run = {.dev = dev};
        pthread_create(&run.thread, NULL, run_thread, &run);
        CHECK(wait_until(&c, before + 20));
        atomic_store(&run.stop, true);
        pthread_join(run.thread, NULL);
        CHECK(strstr(dev->info.serial, "LS-21") != NULL);
        CHECK(strstr(dev->info.model, "Loadstar DI-1000") != NULL);
        nd_device_close(dev);
    } else {
        fprintf(stderr, "pair open (encoded): %s\n", err);
    }
    responder_stop(&rl);
    responder_stop(&rr);
    nd_devsim_free(left);
    nd_devsim_free(right);
}

int main(void)
{
    test_stream_lines();
    test_option_errors();
    test_dialogue_with_devsim();
    test_dialogue_errors();
    test_end_to_end_tcp();
    test_end_to_end_errors();
    test_pair_of_two();
    return nd_test_finish("test_loadstar");
}
