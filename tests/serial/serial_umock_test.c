/* The serial driver end to end under umockdev: a fake USB ttyACM0 backed by
 * a pty, the real libserialport, stream device and decoders.
 *  - NFP/1 with >= 1 % of bytes corrupted: every intact frame recovered with
 *    exact values, every bad segment counted, gaps exact;
 *  - text preset with a banner and a connection mid-line;
 *  - unplug and replug mid-stream: lost/back events, exact gap, reconnect flag;
 *  - open by USB VID:PID:serial, and clear errors for bad URIs. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nd_devsim.h"
#include "nd_device.h"
#include "nd_nfp.h"
#include "serial_testbed.h"
#include "test_util.h"

typedef struct collector {
    nd_sample *sets;
    size_t n, cap;
    nd_device_event ev[64];
    size_t nev;
} collector;

static void on_samples(void *ctx, const nd_sample *s, size_t n)
{
    collector *c = ctx;
    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2;
        c->sets = realloc(c->sets, c->cap * sizeof *c->sets);
    }
    memcpy(c->sets + c->n, s, n * sizeof *s);
    c->n += n;
}

static void on_event(void *ctx, const nd_device_event *ev)
{
    collector *c = ctx;
    if (c->nev < 64) c->ev[c->nev++] = *ev;
}

typedef struct runner {
    nd_device *dev;
    atomic_bool stop;
    int rc;
    pthread_t thread;
} runner;

static void *run_thread(void *arg)
{
    runner *r = arg;
    r->rc = nd_device_run(r->dev, &r->stop);
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait (bounded) until the device has read `bytes` bytes. */
static bool wait_bytes(nd_device *dev, uint64_t bytes)
{
    for (int i = 0; i < 1000; i++) {
        if (atomic_load(&nd_device_counters(dev)->bytes) >= bytes) return true;
        sleep_ms(10);
    }
    return false;
}

static bool wait_connected(const nd_device *dev, bool want)
{
    for (int i = 0; i < 1000; i++) {
        if (nd_device_connected(dev) == want) return true;
        sleep_ms(10);
    }
    return false;
}

static uint64_t bad_frames(nd_device *dev)
{
    const nd_counters *c = nd_device_counters(dev);
    return atomic_load(&c->frames_bad_cobs) + atomic_load(&c->frames_bad_crc) +
           atomic_load(&c->frames_bad_version) + atomic_load(&c->frames_bad_length) +
           atomic_load(&c->frames_unknown_type) + atomic_load(&c->frames_bad_payload);
}

/* A clean frame (without its 0x00) and the sets it carries. */
typedef struct sent_frame {
    uint8_t *bytes;
    size_t len;
    bool samples;
    uint64_t seq;
    int nsets;
} sent_frame;

static void test_nfp_corrupted(nd_stb *tb)
{
    int fd = nd_stb_plug(tb, 0, "2341", "0043", "NFP0001");
    CHECK(fd >= 0);
    collector col = {0};
    nd_sink sink = {.ctx = &col, .samples = on_samples, .event = on_event};
    nd_device *dev = NULL;
    char err[256];
    int rc = nd_device_open("serial:/dev/ttyACM0?baud=921600&bits=8&parity=none&stop=1&flow=none",
                            &sink, &dev, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    runner r = {.dev = dev};
    pthread_create(&r.thread, NULL, run_thread, &r);

    nd_devsim_config cfg = {.proto = ND_DEVSIM_NFP,
                            .rate_hz = 1000,
                            .nch = 2,
                            .sets_per_frame = 4,
                            .seq_jump = 0.01,
                            .seed = 7};
    nd_devsim *sim = nd_devsim_new(&cfg, err, sizeof err);
    CHECK(sim != NULL);
    nd_faults faults;
    nd_faults_init(&faults,
                   &(nd_fault_config){.flip = 0.008, .drop = 0.002, .truncate = 0.01, .seed = 11});
    enum { UNITS = 3000 };
    static sent_frame sent[UNITS];
    size_t wire_cap = 1 << 20, wire_len = 0;
    uint8_t *wire = malloc(wire_cap);
    uint8_t clean[NFP_MAX_FRAME(NFP_MAX_INFO_BODY)], dirty[sizeof clean];
    wire_len += nd_devsim_banner(sim, wire, wire_cap);
    for (int u = 0; u < UNITS; u++) {
        uint64_t sets0 = nd_devsim_stats_get(sim)->sets;
        size_t len = nd_devsim_next(sim, clean, sizeof clean);
        const nd_devsim_stats *st = nd_devsim_stats_get(sim);
        sent[u].bytes = malloc(len);
        memcpy(sent[u].bytes, clean, len);
        sent[u].len = len - 1; /* without the delimiter */
        /* next set index = sets sent + sets skipped, so this frame's seq is: */
        sent[u].samples = st->sets > sets0;
        sent[u].nsets = (int)(st->sets - sets0);
        sent[u].seq = sets0 + st->sets_skipped;
        size_t n = nd_faults_apply(&faults, clean, len, dirty);
        if (wire_len + n > wire_cap) wire = realloc(wire, wire_cap *= 2);
        memcpy(wire + wire_len, dirty, n);
        wire_len += n;
    }
    CHECK(nd_devsim_stats_get(sim)->sets_skipped > 0);
    double damaged = (double)(faults.flipped + faults.dropped) / (double)wire_len;
    CHECK(damaged >= 0.01 * 0.9); /* about 1 % of bytes flipped or dropped, plus truncations */
    fprintf(stderr, "nfp: %zu bytes, %llu flipped, %llu dropped, %llu truncated frames\n", wire_len,
            (unsigned long long)faults.flipped, (unsigned long long)faults.dropped,
            (unsigned long long)faults.truncated);

    /* Write in uneven chunks so frames straddle reads. */
    size_t off = 0, chunk = 1;
    while (off < wire_len) {
        size_t n = chunk < wire_len - off ? chunk : wire_len - off;
        CHECK(nd_stb_write_all(fd, wire + off, n));
        off += n;
        chunk = chunk * 7 % 4093 + 1;
    }
    CHECK(wait_bytes(dev, wire_len));
    sleep_ms(50);
    atomic_store(&r.stop, true);
    pthread_join(r.thread, NULL);
    CHECK_EQ_INT(r.rc, 0);

    /* Ground truth from the wire itself: split on 0x00; a segment equal to a
     * clean frame is intact, any other non-empty segment is one bad frame. */
    uint64_t expect_bad = 0, expect_sets = 0, expect_gap = 0, expect_gaps = 0, next_seq = 0;
    bool have_seq = false;
    size_t u = 0, got_i = 0, mismatches = 0;
    size_t start = 0;
    for (size_t i = 0; i < wire_len; i++) {
        if (wire[i] != 0) continue;
        size_t seglen = i - start;
        const uint8_t *seg = wire + start;
        start = i + 1;
        if (seglen == 0) continue;
        /* frames are in order: look ahead a little for the matching one */
        size_t match = UNITS;
        for (size_t k = u; k < UNITS && k < u + 64; k++)
            if (sent[k].len == seglen && memcmp(sent[k].bytes, seg, seglen) == 0) {
                match = k;
                break;
            }
        if (match == UNITS) {
            expect_bad++;
            continue;
        }
        u = match + 1;
        if (!sent[match].samples) continue;
        if (have_seq && sent[match].seq > next_seq) {
            expect_gap += sent[match].seq - next_seq;
            expect_gaps++;
        }
        have_seq = true;
        next_seq = sent[match].seq + (uint64_t)sent[match].nsets;
        for (int k = 0; k < sent[match].nsets; k++) {
            int32_t raw[ND_MAX_CHANNELS];
            nd_devsim_raw(sim, sent[match].seq + (uint64_t)k, raw);
            if (got_i >= col.n || col.sets[got_i].seq != sent[match].seq + (uint64_t)k ||
                col.sets[got_i].raw[0] != raw[0] || col.sets[got_i].raw[1] != raw[1])
                mismatches++;
            got_i++;
            expect_sets++;
        }
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK_EQ_INT(col.n, expect_sets);
    CHECK_EQ_INT(bad_frames(dev), expect_bad);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->gap_sets), expect_gap);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->gaps), expect_gaps);
    CHECK(expect_bad > 50);
    fprintf(stderr, "nfp: %llu sets recovered, %llu bad frames, %llu sets in %llu gaps\n",
            (unsigned long long)expect_sets, (unsigned long long)expect_bad,
            (unsigned long long)expect_gap, (unsigned long long)expect_gaps);
    nd_device_close(dev);
    for (int k = 0; k < UNITS; k++) free(sent[k].bytes);
    free(wire);
    free(col.sets);
    nd_devsim_free(sim);
    nd_stb_unplug(tb, 0);
}

static void test_text_banner_midline(nd_stb *tb)
{
    int fd = nd_stb_plug(tb, 1, "1a86", "7523", "HX2");
    CHECK(fd >= 0);
    collector col = {0};
    nd_sink sink = {.ctx = &col, .samples = on_samples, .event = on_event};
    nd_device *dev = NULL;
    char err[256];
    int rc = nd_device_open("serial:/dev/ttyACM1?baud=115200&proto=text&preset=hx711-adc-2x", &sink,
                            &dev, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    nd_device_info info;
    CHECK(nd_device_get_info(dev, &info));
    CHECK_EQ_INT(info.nch, 2);
    runner r = {.dev = dev};
    pthread_create(&r.thread, NULL, run_thread, &r);
    const char *text = "t val: 99.00\r\n"
                       "Starting...\r\n"
                       "Startup is complete\r\n"
                       "Load_cell 1 output val: 1.50    Load_cell 2 output val: 2.50\r\n"
                       "Load_cell 1 output val: 3.25    Load_cell 2 output val: -4.75\n"
                       "Load_cell 1 output val: 5";
    const char *rest = ".00    Load_cell 2 output val: 6.00\r\n";
    size_t total = strlen(text) + strlen(rest);
    CHECK(nd_stb_write_all(fd, text, strlen(text)));
    sleep_ms(30); /* the last line arrives in two reads */
    CHECK(nd_stb_write_all(fd, rest, strlen(rest)));
    CHECK(wait_bytes(dev, total));
    sleep_ms(30);
    atomic_store(&r.stop, true);
    pthread_join(r.thread, NULL);
    CHECK_EQ_INT(col.n, 3);
    if (col.n == 3) {
        CHECK_EQ_INT(col.sets[0].raw[0], 150);
        CHECK_EQ_INT(col.sets[1].raw[1], -475);
        CHECK_EQ_INT(col.sets[2].raw[0], 500);
        CHECK_EQ_INT(col.sets[2].raw[1], 600);
        CHECK_EQ_INT(col.sets[2].seq, 2);
    }
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->lines_bad), 3);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->sets), 3);
    nd_device_close(dev);
    free(col.sets);
    nd_stb_unplug(tb, 1);
}

static void test_unplug_replug(nd_stb *tb)
{
    int fd = nd_stb_plug(tb, 2, "0483", "5740", "REPLUG1");
    CHECK(fd >= 0);
    collector col = {0};
    nd_sink sink = {.ctx = &col, .samples = on_samples, .event = on_event};
    nd_device *dev = NULL;
    char err[256];
    /* By USB ids: the port is found again wherever it reappears. */
    int rc =
        nd_device_open("serial:usb=0483:5740:REPLUG1?baud=921600", &sink, &dev, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    runner r = {.dev = dev};
    pthread_create(&r.thread, NULL, run_thread, &r);
    nd_devsim_config cfg = {
        .proto = ND_DEVSIM_NFP, .rate_hz = 1000, .nch = 2, .sets_per_frame = 10, .seed = 3};
    nd_devsim *sim = nd_devsim_new(&cfg, err, sizeof err);
    uint8_t frame[NFP_MAX_FRAME(NFP_MAX_INFO_BODY)];
    uint64_t written = 0;
    for (int u = 0; u < 200; u++) {
        size_t n = nd_devsim_next(sim, frame, sizeof frame);
        CHECK(nd_stb_write_all(fd, frame, n));
        written += n;
    }
    CHECK(wait_bytes(dev, written));
    uint64_t sets_before = nd_devsim_stats_get(sim)->sets;
    nd_stb_unplug(tb, 2);
    CHECK(wait_connected(dev, false));
    /* The board keeps sampling while unplugged: these sets are lost. */
    for (int u = 0; u < 37; u++) nd_devsim_next(sim, frame, sizeof frame);
    uint64_t lost = nd_devsim_stats_get(sim)->sets - sets_before;
    fd = nd_stb_plug(tb, 4, "0483", "5740", "REPLUG1"); /* comes back as ttyACM4 */
    CHECK(fd >= 0);
    CHECK(wait_connected(dev, true));
    uint64_t bytes0 = atomic_load(&nd_device_counters(dev)->bytes);
    written = 0;
    for (int u = 0; u < 100; u++) {
        size_t n = nd_devsim_next(sim, frame, sizeof frame);
        CHECK(nd_stb_write_all(fd, frame, n));
        written += n;
    }
    CHECK(wait_bytes(dev, bytes0 + written));
    sleep_ms(20);
    atomic_store(&r.stop, true);
    pthread_join(r.thread, NULL);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->disconnects), 1);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->reconnects), 1);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->gap_sets), lost);
    CHECK_EQ_INT(col.n, nd_devsim_stats_get(sim)->sets - lost);
    CHECK_EQ_INT(bad_frames(dev), 0);
    bool saw_lost = false, saw_back = false, saw_gap = false;
    for (size_t i = 0; i < col.nev; i++) {
        if (col.ev[i].kind == ND_EV_DEVICE_LOST) saw_lost = true;
        if (col.ev[i].kind == ND_EV_DEVICE_BACK) saw_back = saw_lost;
        if (col.ev[i].kind == ND_EV_GAP && col.ev[i].count == lost) saw_gap = saw_back;
    }
    CHECK(saw_lost);
    CHECK(saw_back);
    CHECK(saw_gap);
    size_t first_after = (size_t)sets_before;
    if (col.n > first_after) {
        CHECK(col.sets[first_after].flags & ND_SAMPLE_AFTER_RECONNECT);
        CHECK(col.sets[first_after].flags & ND_SAMPLE_AFTER_GAP);
        CHECK_EQ_INT(col.sets[first_after].seq, sets_before + lost);
        CHECK_EQ_INT(col.sets[first_after].gap_sets, lost);
    }
    nd_device_close(dev);
    nd_devsim_free(sim);
    free(col.sets);
    nd_stb_unplug(tb, 4);
}

typedef struct commander {
    nd_device *dev;
    atomic_bool stop;
    unsigned sent;
    pthread_t thread;
} commander;

/* An operator pressing "tare" again and again from a control thread. */
static void *command_thread(void *arg)
{
    commander *c = arg;
    char err[256];
    while (!atomic_load(&c->stop)) {
        if (nd_device_command(c->dev, "t", err, sizeof err) == 0) c->sent++;
        sleep_ms(1);
    }
    return NULL;
}

/* Device commands may come from any thread (nd_decoder.h) while the
 * acquisition thread finds the port gone and frees it: the write must never
 * use a port being closed (run under TSan/ASan to see the difference). */
static void test_command_during_unplug(nd_stb *tb)
{
    int fd = nd_stb_plug(tb, 5, "0483", "5740", "CMD1");
    CHECK(fd >= 0);
    nd_sink sink = {0};
    nd_device *dev = NULL;
    char err[256];
    int rc = nd_device_open("serial:/dev/ttyACM5?proto=text", &sink, &dev, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    runner r = {.dev = dev};
    pthread_create(&r.thread, NULL, run_thread, &r);
    commander c = {.dev = dev};
    pthread_create(&c.thread, NULL, command_thread, &c);
    sleep_ms(50);
    nd_stb_unplug(tb, 5);
    CHECK(wait_connected(dev, false));
    sleep_ms(50);
    atomic_store(&c.stop, true);
    pthread_join(c.thread, NULL);
    atomic_store(&r.stop, true);
    pthread_join(r.thread, NULL);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(c.sent > 0);
    /* unplugged: a command now fails with a message instead of crashing */
    CHECK_EQ_INT(nd_device_command(dev, "t", err, sizeof err), -1);
    CHECK(strstr(err, "could not send") != NULL);
    nd_device_close(dev);
}

static void test_open_by_usb_and_errors(nd_stb *tb)
{
    int fd = nd_stb_plug(tb, 3, "0403", "6001", "FT123");
    CHECK(fd >= 0);
    nd_sink sink = {0};
    nd_device *dev = NULL;
    char err[256];
    /* Parity and 5-7 data bits cannot be tested here: ptys refuse them. */
    int rc = nd_device_open("serial:usb=0403:6001?flow=rtscts&stop=2&proto=text", &sink, &dev, err,
                            sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0)
        nd_device_close(dev);
    else
        fprintf(stderr, "open: %s\n", err);
    rc = nd_device_open("serial:usb=0403:6001:FT123?flow=xonxoff&dtr=0", &sink, &dev, err,
                        sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) nd_device_close(dev);
    nd_test_expect_open_error("serial:usb=0403:6001:NOPE", "no such USB serial port", NULL);
    nd_test_expect_open_error("serial:/dev/ttyACM7", "not a serial port known", NULL);
    nd_test_expect_open_error("serial:/dev/ttyACM3?parity=weird", "parity=weird", NULL);
    nd_test_expect_open_error("serial:/dev/ttyACM3?flow=dtrdsr", "flow=dtrdsr", NULL);
    nd_test_expect_open_error("serial:/dev/ttyACM3?baud=fast", "baud", NULL);
    nd_test_expect_open_error("serial:/dev/ttyACM3?bauds=9600", "bauds", NULL);
    nd_test_expect_open_error("serial:usb=zz:1", "usb=VID:PID", NULL);
    nd_test_expect_open_error("serial:ttyACM3", "device path", NULL);
    nd_test_expect_open_error("serial:/dev/ttyACM3?proto=text&preset=nope", "preset=nope", NULL);
    /* wait=1: opening an absent port succeeds and waits for it */
    rc = nd_device_open("serial:/dev/ttyACM6?wait=1", &sink, &dev, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) nd_device_close(dev);
}

int main(void)
{
    nd_stb *tb = nd_stb_new();
    CHECK(tb != NULL);
    if (!tb) return nd_test_finish("serial_umock");
    test_open_by_usb_and_errors(tb);
    test_text_banner_midline(tb);
    test_nfp_corrupted(tb);
    test_unplug_replug(tb);
    test_command_during_unplug(tb);
    nd_stb_free(tb);
    return nd_test_finish("serial_umock");
}
