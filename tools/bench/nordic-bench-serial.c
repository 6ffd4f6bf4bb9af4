/* nordic-bench-serial: serial path figures, each against a named peer run in
 * the same process on the same bytes.
 *  1. Decoder throughput: the NFP/1 decoder vs a glibc memchr() scan for the
 *     0x00 delimiters (the floor of any framing); the text decoder
 *     (hx711-adc-2x) vs glibc sscanf() on the same lines.
 *  2. End to end through a pty (umockdev fake ttyACM0, libserialport, stream
 *     device, NFP/1 decoder) as fast as it goes, checked for zero loss, vs
 *     plain read() on a raw pty pair ("cat through a pty").
 *  3. CPU share of one core of the acquisition thread at 2 channels x 1 kHz
 *     NFP/1 and at a full 921600-baud byte rate.
 * Re-executes itself with the umockdev preload (and the ioctl shim). */
#include <pthread.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nd_decoder.h"
#include "nd_devsim.h"
#include "nd_device.h"
#include "nd_log.h"
#include "nd_nfp.h"
#include "serial_testbed.h"

static double now_s(void)
{
    return (double)nd_monotonic_ns() * 1e-9;
}

/* At least `bytes` bytes, or with bytes = 0 exactly `want_sets` sets. */
static uint8_t *make_stream(nd_devsim_proto proto, int per_frame, size_t bytes, uint64_t want_sets,
                            uint64_t *sets, size_t *len)
{
    nd_devsim_config cfg = {
        .proto = proto, .rate_hz = 1000, .nch = 2, .sets_per_frame = per_frame, .seed = 9};
    char err[128];
    nd_devsim *d = nd_devsim_new(&cfg, err, sizeof err);
    size_t cap = (bytes ? bytes : (size_t)want_sets * 64) + 8192;
    uint8_t *buf = malloc(cap);
    size_t n = 0;
    while (bytes ? n < bytes : nd_devsim_stats_get(d)->sets < want_sets)
        n += nd_devsim_next(d, buf + n, 8192);
    *sets = nd_devsim_stats_get(d)->sets;
    *len = n;
    nd_devsim_free(d);
    return buf;
}

static uint64_t sink_sets;
static void count_sets(void *ctx, const nd_sample *s, size_t n)
{
    (void)ctx;
    (void)s;
    sink_sets += n;
}

static double time_decoder(const char *uri_text, const uint8_t *buf, size_t len)
{
    nd_uri uri;
    char err[256];
    nd_uri_parse(uri_text, &uri, err, sizeof err);
    const nd_decoder_ops *dec = nd_decoder_find(nd_uri_get(&uri, "proto"));
    nd_device *dev = calloc(1, sizeof *dev);
    dev->sink.samples = count_sets;
    void *st;
    dec->create(&st, dev, &uri, err, sizeof err);
    sink_sets = 0;
    double t0 = now_s();
    for (size_t off = 0; off < len; off += 16384)
        dec->feed(st, buf + off, len - off < 16384 ? len - off : 16384, 0);
    double dt = now_s() - t0;
    dec->destroy(st);
    nd_uri_free(&uri);
    free(dev);
    return dt;
}

static void bench_decoders(void)
{
    uint64_t sets;
    size_t len;
    uint8_t *nfp = make_stream(ND_DEVSIM_NFP, 10, 64u << 20, 0, &sets, &len);
    double t = time_decoder("serial:/x?proto=nfp", nfp, len);
    double t0 = now_s();
    size_t delims = 0;
    for (const uint8_t *p = nfp, *end = nfp + len; (p = memchr(p, 0, (size_t)(end - p))); p++)
        delims++;
    double tp = now_s() - t0;
    printf("decoder nfp (2 ch, 10 sets/frame): %.0f MB/s, %.2f M sets/s (%llu sets ok of %llu); "
           "peer memchr delimiter scan: %.0f MB/s (%zu frames); ratio decoder/peer %.3f\n",
           len / t / 1e6, sink_sets / t / 1e6, (unsigned long long)sink_sets,
           (unsigned long long)sets, len / tp / 1e6, delims, tp / t);
    free(nfp);

    uint8_t *txt = make_stream(ND_DEVSIM_HX711, 1, 16u << 20, 0, &sets, &len);
    t = time_decoder("serial:/x?proto=text&preset=hx711-adc-2x&first_line=keep", txt, len);
    uint64_t text_sets = sink_sets;
    t0 = now_s();
    size_t parsed = 0;
    double a, b;
    char line[256];
    for (const uint8_t *p = txt, *end = txt + len; p < end;) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = (size_t)((nl ? nl : end) - p);
        if (l >= sizeof line) l = sizeof line - 1;
        memcpy(line, p, l);
        line[l] = '\0';
        if (sscanf(line, "Load_cell 1 output val: %lf Load_cell 2 output val: %lf", &a, &b) == 2)
            parsed++;
        p = nl ? nl + 1 : end;
    }
    tp = now_s() - t0;
    printf("decoder text hx711-adc-2x: %.0f MB/s, %.2f M sets/s (%llu of %llu); peer glibc "
           "sscanf per line: %.0f MB/s (%zu); ratio decoder/peer %.2f\n",
           len / t / 1e6, text_sets / t / 1e6, (unsigned long long)text_sets,
           (unsigned long long)sets, len / tp / 1e6, parsed, tp / t);
    free(txt);
}

typedef struct run_ctx {
    nd_device *dev;
    atomic_bool stop;
    double cpu_s;
} run_ctx;

static void *run_thread(void *arg)
{
    run_ctx *r = arg;
    nd_device_run(r->dev, &r->stop);
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    r->cpu_s = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
    return NULL;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    return nd_stb_write_all(fd, p, n);
}

/* Stream buf into the fake port; pace_bps 0 = as fast as possible. Returns
 * wall seconds until the device had read every byte. */
static double through_port(nd_stb *tb, int n, const uint8_t *buf, size_t len, double pace_bps,
                           double *cpu_share, uint64_t *sets_out, uint64_t *bad_out)
{
    int fd = nd_stb_plug(tb, n, "2341", "0043", "BENCH");
    char uri[64], err[256];
    snprintf(uri, sizeof uri, "serial:/dev/ttyACM%d?baud=921600&proto=nfp", n);
    nd_sink sink = {.samples = count_sets};
    run_ctx r = {0};
    if (fd < 0 || nd_device_open(uri, &sink, &r.dev, err, sizeof err) < 0) {
        fprintf(stderr, "bench: cannot open the fake port: %s\n", err);
        exit(1);
    }
    sink_sets = 0;
    pthread_t th;
    pthread_create(&th, NULL, run_thread, &r);
    double t0 = now_s();
    /* Paced: small writes, like a UART FIFO draining; unpaced: big ones. */
    size_t step = pace_bps > 0 ? 256 : 4096;
    for (size_t off = 0, k; off < len; off += k) {
        k = len - off < step ? len - off : step;
        while (pace_bps > 0 && now_s() < t0 + (double)off / pace_bps) {
            struct timespec ts = {0, 500000};
            nanosleep(&ts, NULL);
        }
        write_all(fd, buf + off, k);
    }
    while (atomic_load(&nd_device_counters(r.dev)->bytes) < len) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    double wall = now_s() - t0;
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    *cpu_share = r.cpu_s / wall;
    *sets_out = sink_sets;
    const nd_counters *c = nd_device_counters(r.dev);
    *bad_out = c->frames_bad_cobs + c->frames_bad_crc + c->frames_bad_length + c->gap_sets;
    nd_device_close(r.dev);
    nd_stb_unplug(tb, n);
    return wall;
}

typedef struct pty_reader {
    int fd;
    size_t want, got;
} pty_reader;

static void *pty_reader_main(void *arg)
{
    pty_reader *r = arg;
    static uint8_t rb[16384];
    while (r->got < r->want) {
        ssize_t n = read(r->fd, rb, sizeof rb);
        if (n <= 0) break;
        r->got += (size_t)n;
    }
    return NULL;
}

/* The peer in the same process model as through_port: a reader thread doing
 * plain read() on the pty, the main thread writing 4096-byte steps. The
 * thread is started before the clock starts, as ours is; no fork. */
static double raw_pty(const uint8_t *buf, size_t len)
{
    int m, s;
    if (openpty(&m, &s, NULL, NULL, NULL) < 0) return 0;
    struct termios t;
    tcgetattr(s, &t);
    cfmakeraw(&t);
    tcsetattr(s, TCSANOW, &t);
    pty_reader r = {.fd = s, .want = len};
    pthread_t th;
    pthread_create(&th, NULL, pty_reader_main, &r);
    double t0 = now_s();
    for (size_t off = 0, k; off < len; off += k) {
        k = len - off < 4096 ? len - off : 4096;
        write_all(m, buf + off, k);
    }
    pthread_join(th, NULL);
    double dt = now_s() - t0;
    close(m);
    close(s);
    return r.got == len ? dt : 0;
}

static void bench_port(void)
{
    nd_stb *tb = nd_stb_new();
    if (!tb) exit(1);
    uint64_t sets, got, bad;
    size_t len;
    double cpu;
    uint8_t *nfp = make_stream(ND_DEVSIM_NFP, 10, 32u << 20, 0, &sets, &len);
    double t = through_port(tb, 0, nfp, len, 0, &cpu, &got, &bad);
    double tp = raw_pty(nfp, len);
    printf("end to end through a pty (umockdev ttyACM0, libserialport, NFP/1): %.1f MB/s, %.2f M "
           "sets/s, %llu of %llu sets, %llu lost/bad; peer read() on a raw pty: %.1f MB/s; "
           "ratio %.2f\n",
           len / t / 1e6, got / t / 1e6, (unsigned long long)got, (unsigned long long)sets,
           (unsigned long long)bad, len / tp / 1e6, tp / t);
    free(nfp);

    /* 2 channels x 1 kHz, 10 sets per frame, paced in real time for 4 s. */
    nfp = make_stream(ND_DEVSIM_NFP, 10, 0, 4000, &sets, &len);
    t = through_port(tb, 1, nfp, len, (double)len / 4.0, &cpu, &got, &bad);
    printf("2 ch x 1 kHz NFP/1 (%.0f B/s): acquisition thread %.2f %% of one core, %llu of %llu "
           "sets, %llu lost/bad\n",
           len / t, cpu * 100, (unsigned long long)got, (unsigned long long)sets,
           (unsigned long long)bad);
    free(nfp);
    /* 921600 baud 8N1 = 92160 B/s of 1-set frames (the most frames per byte). */
    nfp = make_stream(ND_DEVSIM_NFP, 1, 92160 * 4, 0, &sets, &len);
    t = through_port(tb, 2, nfp, len, 92160.0, &cpu, &got, &bad);
    printf("921600 baud full (92160 B/s, 1 set/frame, %.0f sets/s): acquisition thread %.2f %% "
           "of one core, %llu of %llu sets, %llu lost/bad\n",
           got / t, cpu * 100, (unsigned long long)got, (unsigned long long)sets,
           (unsigned long long)bad);
    free(nfp);
    nd_stb_free(tb);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *pre = getenv("LD_PRELOAD");
    if (!pre || !strstr(pre, "libumockdev-preload")) {
        setenv("LD_PRELOAD", NORDIC_SERIAL_SHIM ":libumockdev-preload.so.0", 1);
        setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 0);
        execv("/proc/self/exe", argv);
        perror("nordic-bench-serial: re-exec with the umockdev preload");
        return 1;
    }
    nd_log_set_level(ND_LOG_WARNING);
    bench_decoders();
    bench_port();
    return 0;
}
