/* nordic-bench-usb: USB streaming through a fake device (umockdev + real
 * libusb), compared with a named peer in the same run:
 *
 *   1. sustained byte rate: nd_usb_async with N transfers in flight versus
 *      libusb's synchronous libusb_bulk_transfer() loop (same fake device,
 *      same transfer size);
 *   2. CPU per 1 kHz: the whole usb: + nfp pipeline at 1000 sets/s (2
 *      channels) versus the synchronous loop reading the same paced stream;
 *   3. the maximum sample-set rate through the pipeline and its CPU.
 *
 * CPU comes from getrusage(RUSAGE_SELF): it includes the fake device, the
 * umockdev handler thread and libusb's event loop, which spins on the fake's
 * regular-file node (a real usbfs node sleeps in poll). Read the ratios, not
 * the absolute CPU. Re-executes itself under libumockdev-preload if needed.
 *
 * Usage: nordic-bench-usb [-n transfers] [-s size] [-t seconds] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <libusb.h>

#include "nd_device.h"
#include "nd_log.h"
#include "nd_nfp.h"
#include "nd_usb_async.h"
#include "usb_fake.h"

#define EP_IN 0x81

static nd_fake_usb *g_fake;
static atomic_bool g_producer_stop;
static double g_seconds = 2.0;

static double now_s(void)
{
    return (double)nd_monotonic_ns() * 1e-9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

/* ---- producers ---- */

static size_t g_frame_len;
static uint8_t g_block[1 << 16];
static size_t g_block_len;
static uint32_t g_seq;

/* A block of NFP frames of 10 sets x 2 channels, seq continuing. */
static void make_block(int frames)
{
    g_block_len = 0;
    for (int f = 0; f < frames; f++) {
        int32_t raw[20];
        for (int i = 0; i < 20; i++) raw[i] = (int32_t)(g_seq * 2 + (uint32_t)i);
        g_block_len += nfp_encode_samples(g_block + g_block_len, sizeof g_block - g_block_len,
                                          g_seq, g_seq * 1000u, 2, 10, raw);
        g_seq += 10;
    }
    g_frame_len = g_block_len / (size_t)frames;
}

/* Unpaced: keep about 1 MiB queued on the device. */
static void *producer_flat_out(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_producer_stop)) {
        if (nd_fake_usb_pending(g_fake, EP_IN) < (1u << 20)) {
            make_block(100);
            nd_fake_usb_push(g_fake, EP_IN, g_block, g_block_len);
        } else {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* Paced: one frame of 10 sets every 10 ms = 1000 sets/s. */
static void *producer_1khz(void *arg)
{
    (void)arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&g_producer_stop)) {
        make_block(1);
        nd_fake_usb_push(g_fake, EP_IN, g_block, g_block_len);
        next.tv_nsec += 10000000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    return NULL;
}

static pthread_t start_producer(void *(*fn)(void *))
{
    pthread_t t;
    atomic_store(&g_producer_stop, false);
    pthread_create(&t, NULL, fn, NULL);
    return t;
}

static void stop_producer(pthread_t t)
{
    atomic_store(&g_producer_stop, true);
    pthread_join(t, NULL);
    /* Drain what is left so the next phase starts clean. */
    nd_fake_usb_unplug(g_fake);
    nd_fake_usb_plug(g_fake);
}

/* ---- readers ---- */

typedef struct result {
    double bytes_per_s, cpu_frac;
    double reader_cpu_frac; /* pipeline: acquisition thread only */
} result;

static result run_async(int transfers, size_t size)
{
    nd_usb_async_config cfg;
    nd_usb_async_config_default(&cfg);
    cfg.id.vid = 0x1209;
    cfg.id.pid = 0x0001;
    cfg.transfers = transfers;
    cfg.transfer_size = size;
    cfg.queue_chunks = transfers * 4;
    nd_usb_async *u;
    char err[512];
    result r = {0, 0, 0};
    if (nd_usb_async_open(&cfg, &u, err, sizeof err) != 0) {
        fprintf(stderr, "async open: %s\n", err);
        return r;
    }
    nd_usb_async_start(u);
    pthread_t p = start_producer(producer_flat_out);
    uint8_t *buf = malloc(size * 4);
    uint64_t bytes = 0;
    double t0 = now_s(), c0 = cpu_s();
    while (now_s() - t0 < g_seconds) {
        ssize_t n = nd_usb_async_read(u, buf, size * 4, 100, NULL, NULL);
        if (n > 0) bytes += (uint64_t)n;
    }
    double dt = now_s() - t0, dc = cpu_s() - c0;
    stop_producer(p);
    free(buf);
    nd_usb_async_close(u);
    r.bytes_per_s = (double)bytes / dt;
    r.cpu_frac = dc / dt;
    return r;
}

static result run_sync(size_t size, void *(*producer)(void *), double *bytes_out)
{
    result r = {0, 0, 0};
    libusb_context *ctx;
    if (libusb_init(&ctx) != 0) return r;
    libusb_device_handle *h = libusb_open_device_with_vid_pid(ctx, 0x1209, 0x0001);
    if (!h || libusb_claim_interface(h, 0) != 0) {
        fprintf(stderr, "sync peer: cannot open the fake device\n");
        if (h) libusb_close(h);
        libusb_exit(ctx);
        return r;
    }
    pthread_t p = start_producer(producer);
    uint8_t *buf = malloc(size);
    uint64_t bytes = 0;
    double t0 = now_s(), c0 = cpu_s();
    while (now_s() - t0 < g_seconds) {
        int done = 0;
        int rc = libusb_bulk_transfer(h, EP_IN, buf, (int)size, &done, 100);
        if (rc == 0 || rc == LIBUSB_ERROR_TIMEOUT) bytes += (uint64_t)done;
    }
    double dt = now_s() - t0, dc = cpu_s() - c0;
    stop_producer(p);
    free(buf);
    libusb_release_interface(h, 0);
    libusb_close(h);
    libusb_exit(ctx);
    r.bytes_per_s = (double)bytes / dt;
    r.cpu_frac = dc / dt;
    if (bytes_out) *bytes_out = (double)bytes;
    return r;
}

static atomic_ulong g_sets;
static void count_sets(void *ctx, const nd_sample *s, size_t n)
{
    (void)ctx;
    (void)s;
    atomic_fetch_add(&g_sets, n);
}

typedef struct pipe_run {
    nd_device *dev;
    atomic_bool stop;
    double thread_cpu; /* CPU of the acquisition thread (reader + decoder) */
} pipe_run;

static double thread_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static void *pipe_thread(void *arg)
{
    pipe_run *p = arg;
    double c0 = thread_cpu_s();
    nd_device_run(p->dev, &p->stop);
    p->thread_cpu = thread_cpu_s() - c0;
    return NULL;
}

/* The usb: transport + nfp decoder; returns sets/s and CPU. */
static result run_pipeline(int transfers, size_t size, void *(*producer)(void *))
{
    char uri[128], err[512];
    snprintf(uri, sizeof uri, "usb:1209:0001?transfers=%d&size=%zu", transfers, size);
    const nd_sink sink = {.samples = count_sets};
    pipe_run p = {0};
    result r = {0, 0, 0};
    if (nd_device_open(uri, &sink, &p.dev, err, sizeof err) != 0) {
        fprintf(stderr, "pipeline open: %s\n", err);
        return r;
    }
    pthread_t th;
    pthread_create(&th, NULL, pipe_thread, &p);
    atomic_store(&g_sets, 0);
    pthread_t prod = start_producer(producer);
    double t0 = now_s(), c0 = cpu_s();
    struct timespec ts = {(time_t)g_seconds, (long)((g_seconds - (time_t)g_seconds) * 1e9)};
    nanosleep(&ts, NULL);
    double dt = now_s() - t0, dc = cpu_s() - c0;
    unsigned long sets = atomic_load(&g_sets);
    double t_stop = now_s();
    atomic_store(&p.stop, true);
    pthread_join(th, NULL);
    stop_producer(prod);
    nd_device_close(p.dev);
    r.bytes_per_s = (double)sets / dt; /* sets per second here */
    r.cpu_frac = dc / dt;
    r.reader_cpu_frac = p.thread_cpu / (t_stop - t0 + 0.1); /* run ends <= 100 ms later */
    return r;
}

int main(int argc, char **argv)
{
    int transfers = 8;
    size_t size = 16384;
    int opt;
    while ((opt = getopt(argc, argv, "n:s:t:")) != -1) {
        if (opt == 'n')
            transfers = atoi(optarg);
        else if (opt == 's')
            size = (size_t)atol(optarg);
        else if (opt == 't')
            g_seconds = atof(optarg);
        else {
            fprintf(stderr, "usage: %s [-n transfers] [-s size] [-t seconds]\n", argv[0]);
            return 2;
        }
    }
    const char *preload = getenv("LD_PRELOAD");
    if (!preload || !strstr(preload, "umockdev-preload")) {
        char *args[64] = {"umockdev-wrapper"};
        for (int i = 0; i < argc && i < 62; i++) args[i + 1] = argv[i];
        args[argc + 1 < 63 ? argc + 1 : 63] = NULL;
        execvp("umockdev-wrapper", args);
        perror("umockdev-wrapper (Debian package umockdev)");
        return 2;
    }
    nd_log_set_level(ND_LOG_WARNING);
    const nd_fake_usb_desc desc = {.vid = 0x1209,
                                   .pid = 0x0001,
                                   .product = "bench",
                                   .serial = "B1",
                                   .max_packet = 512,
                                   .ep_in = {EP_IN},
                                   .ep_out = 0x01};
    g_fake = nd_fake_usb_new(&desc, NULL, NULL);
    if (!g_fake || nd_fake_usb_plug(g_fake) != 0) return 1;
    make_block(1);
    printf("nordic-bench-usb: fake 1209:0001 (umockdev), %d x %zu-byte transfers, %.1f s per "
           "phase, NFP frame %zu bytes (10 sets x 2 ch)\n",
           transfers, size, g_seconds, g_frame_len);

    result a = run_async(transfers, size);
    result s = run_sync(size, producer_flat_out, NULL);
    printf("sustained rate  nd_usb_async (%d in flight): %8.1f MiB/s   "
           "peer libusb_bulk_transfer loop: %8.1f MiB/s   ratio %.2f\n",
           transfers, a.bytes_per_s / 1048576.0, s.bytes_per_s / 1048576.0,
           s.bytes_per_s > 0 ? a.bytes_per_s / s.bytes_per_s : 0.0);

    result p1 = run_pipeline(transfers, size, producer_1khz);
    result s1 = run_sync(size, producer_1khz, NULL);
    printf("CPU at 1 kHz    usb:+nfp pipeline: %5.1f %% of a core (%.0f sets/s)   "
           "peer sync loop (no decoding): %5.1f %%   ratio %.2f\n",
           p1.cpu_frac * 100, p1.bytes_per_s, s1.cpu_frac * 100,
           s1.cpu_frac > 0 ? p1.cpu_frac / s1.cpu_frac : 0.0);

    result pm = run_pipeline(transfers, size, producer_flat_out);
    printf("                acquisition thread alone (read + NFP decode) at 1 kHz: %.2f %% of a "
           "core\n",
           p1.reader_cpu_frac * 100);
    printf("maximum rate    usb:+nfp pipeline: %.0f sets/s at %5.1f %% CPU; acquisition thread "
           "%.1f %% (%.2f us per 1000 sets)\n",
           pm.bytes_per_s, pm.cpu_frac * 100, pm.reader_cpu_frac * 100,
           pm.bytes_per_s > 0 ? pm.reader_cpu_frac * 1e9 / pm.bytes_per_s : 0.0);
    printf("note: CPU includes the fake device and libusb polling a regular-file node "
           "(spins); compare ratios\n");
    nd_fake_usb_free(g_fake);
    return 0;
}
