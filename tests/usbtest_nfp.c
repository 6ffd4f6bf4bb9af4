/* NFP/1 over USB bulk, end to end: a fake 1209:0001 board on umockdev, the
 * real libusb, the usb: transport with several transfers in flight, the nfp
 * decoder and the stream device. Faults: stall, short packets, bad CRC, seq
 * jump, unplug with transfers in flight, replug. Run under umockdev-wrapper. */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nd_capture.h"
#include "nd_device.h"
#include "nd_log.h"
#include "nd_nfp.h"
#include "nd_usb_async.h"
#include "test_util.h"
#include "usb_fake.h"

/* ThreadSanitizer cannot start threads in a child forked from a threaded
 * process (it dies), and the permission test forks. */
#if defined(__SANITIZE_THREAD__)
#define ND_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ND_UNDER_TSAN 1
#endif
#endif
#ifndef ND_UNDER_TSAN
#define ND_UNDER_TSAN 0
#endif

#define EP_IN      0x81
#define EP_OUT     0x01
#define NCH        2
#define MAX_SETS   20000
#define MAX_EVENTS 256

/* What the device delivered; set up in main(). */
static nd_capture cap;

/* Deterministic raw value of set s, channel c. */
static int32_t raw_of(uint32_t s, int c)
{
    return (int32_t)(s * 7u + (uint32_t)c * 100000u) - 5000;
}

static size_t frame_samples(uint8_t *out, size_t cap_bytes, uint32_t seq, uint8_t n)
{
    int32_t raw[NFP_MAX_NSETS * NCH];
    for (uint8_t i = 0; i < n; i++)
        for (int c = 0; c < NCH; c++) raw[i * NCH + c] = raw_of(seq + i, c);
    return nfp_encode_samples(out, cap_bytes, seq, (seq * 1000u), NCH, n, raw);
}

static void push_frames(nd_fake_usb *f, uint32_t seq, int frames, uint8_t per_frame)
{
    static uint8_t buf[1 << 20];
    size_t used = 0;
    for (int i = 0; i < frames; i++) {
        used += frame_samples(buf + used, sizeof buf - used, seq, per_frame);
        seq += per_frame;
    }
    nd_fake_usb_push(f, EP_IN, buf, used);
}

/* Every captured set in [from, to) has the expected seq and values. */
static int check_range(size_t from, size_t to, uint64_t first_seq)
{
    int bad = 0;
    pthread_mutex_lock(&cap.lock);
    for (size_t i = from; i < to && i < cap.nsets; i++) {
        const nd_sample *s = &cap.sets[i];
        uint64_t seq = first_seq + (i - from);
        if (s->seq != seq || s->nch != NCH || s->raw[0] != raw_of((uint32_t)seq, 0) ||
            s->raw[1] != raw_of((uint32_t)seq, 1)) {
            if (bad++ < 3)
                fprintf(stderr, "set %zu: seq %llu (want %llu) raw %d %d\n", i,
                        (unsigned long long)s->seq, (unsigned long long)seq, s->raw[0], s->raw[1]);
        }
    }
    pthread_mutex_unlock(&cap.lock);
    return bad;
}

typedef struct runner {
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

static bool inflight_is(nd_fake_usb *f, void *arg)
{
    return nd_fake_usb_inflight(f, EP_IN) == *(int *)arg;
}

/* The fake firmware's view of the OUT endpoint: bytes of device commands. */
static struct {
    pthread_mutex_t lock;
    size_t bytes;
} out_seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void fake_on_out(void *ctx, nd_fake_usb *f, uint8_t ep, const uint8_t *data, size_t len)
{
    (void)ctx;
    (void)f;
    (void)data;
    if (ep != EP_OUT) return;
    pthread_mutex_lock(&out_seen.lock);
    out_seen.bytes += len;
    pthread_mutex_unlock(&out_seen.lock);
}

/* Sends "ping" commands from its own thread, as the daemon's control thread
 * does, until told to stop. */
typedef struct commander {
    nd_device *dev;
    atomic_bool stop;
    atomic_int ok, failed;
} commander;

static void *command_thread(void *arg)
{
    commander *c = arg;
    while (!atomic_load(&c->stop)) {
        char err[256];
        if (nd_device_command(c->dev, "ping", err, sizeof err) == 0)
            c->ok++;
        else
            c->failed++;
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_bad_uris(void)
{
    nd_test_expect_open_error("usb:zz:0001", "VID:PID", NULL);
    nd_test_expect_open_error("usb:1209", "VID:PID", NULL);
    nd_test_expect_open_error("usb:1209:0001?transfers=0", "transfers", NULL);
    nd_test_expect_open_error("usb:1209:0001?ep=0x01", "IN endpoint", NULL);
    nd_test_expect_open_error("usb:1209:0001?transfer=4", "transfer", NULL);
    nd_test_expect_open_error("usb:1209:0002", "1209:0002", "not found");
    nd_test_expect_open_error("usb:1209:0001:NOPE", "NOPE", NULL);
    nd_test_expect_open_error("usb:1209:0001?ep=0x85", "no bulk IN endpoint", NULL);
}

static int open_up(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)type;
    (void)ftw;
    mode_t add = S_ISDIR(st->st_mode) ? 0777 : S_ISSOCK(st->st_mode) ? 0666 : 0444;
    chmod(path, (st->st_mode & 07777) | add);
    return 0;
}

/* Permission denied must name the udev rule. We are root in CI, so a child
 * drops to nobody and the device node is made root-only. */
static void test_permission_denied(nd_fake_usb *f)
{
    const char *node = nd_fake_usb_devnode(f);
    const char *root = getenv("UMOCKDEV_DIR");
    if (ND_UNDER_TSAN) {
        fprintf(stderr, "SKIP permission-denied test under ThreadSanitizer: it forks a "
                        "multi-threaded process, which TSan does not support (the plain and "
                        "ASan runs cover it); checking the message only\n");
        CHECK(strstr(ND_USB_PERMISSION_HINT, "60-nordic.rules") != NULL);
        return;
    }
    if (geteuid() != 0 || !root) {
        nd_test_prerequisite_missing("permission test needs root and UMOCKDEV_DIR");
        CHECK(strstr(ND_USB_PERMISSION_HINT, "60-nordic.rules") != NULL);
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "%s%s", root, node);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    /* The testbed is private to root; open it to nobody (umockdev's fake
     * udev monitor binds a socket in it), all but the device node. */
    nftw(root, open_up, 16, FTW_PHYS);
    chmod(path, 0600);
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
        nd_usb_async_config cfg;
        nd_usb_async_config_default(&cfg);
        cfg.id.vid = 0x1209;
        cfg.id.pid = 0x0001;
        nd_usb_async *u = NULL;
        char err[512] = "";
        int rc = nd_usb_async_open(&cfg, &u, err, sizeof err);
        if (rc == 0) nd_usb_async_close(u);
        (void)!write(pipefd[1], err, strlen(err));
        _exit(rc == 0 ? 1 : 0);
    }
    close(pipefd[1]);
    char msg[512] = "";
    ssize_t n = read(pipefd[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    chmod(path, st.st_mode & 07777);
    fprintf(stderr, "permission-denied message: %s\n", msg);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(strstr(msg, "permission denied") != NULL);
    CHECK(strstr(msg, "60-nordic.rules") != NULL);
}

int main(void)
{
    nd_log_set_level(ND_LOG_NOTICE);
    /* The permission test's child runs as nobody inside the testbed, which
     * umockdev creates under $TMPDIR: move it when a private parent (a 0700
     * home directory) would hide it. */
    const char *tmp = getenv("TMPDIR");
    if (geteuid() == 0 && tmp && !nd_test_reachable_by_others(tmp)) {
        fprintf(stderr, "%s is not reachable by nobody: testbed under /tmp\n", tmp);
        setenv("TMPDIR", "/tmp", 1);
    }
    const nd_fake_usb_desc desc = {.vid = 0x1209,
                                   .pid = 0x0001,
                                   .manufacturer = "Open Lab",
                                   .product = "Nordic NFP board",
                                   .serial = "NFP-0001",
                                   .max_packet = 512,
                                   .ep_in = {EP_IN},
                                   .ep_out = EP_OUT};
    nd_fake_usb *f = nd_fake_usb_new(&desc, fake_on_out, NULL);
    if (!f) {
        CHECK(f != NULL);
        return nd_test_finish("usbtest_nfp");
    }
    CHECK(nd_fake_usb_plug(f) == 0);

    test_bad_uris();
    test_permission_denied(f);

    if (nd_capture_init(&cap, MAX_SETS, MAX_EVENTS) != 0) {
        CHECK(!"capture allocated");
        nd_fake_usb_free(f);
        return nd_test_finish("usbtest_nfp");
    }
    const nd_sink sink = nd_capture_sink(&cap);
    nd_device *dev = NULL;
    char err[512] = "";
    int rc = nd_device_open("usb:1209:0001:NFP-0001?transfers=4&size=2048&rescan_ms=50", &sink,
                            &dev, err, sizeof err);
    if (rc != 0) fprintf(stderr, "open: %s\n", err);
    CHECK(rc == 0);
    if (rc != 0) {
        nd_capture_free(&cap);
        nd_fake_usb_free(f);
        return nd_test_finish("usbtest_nfp");
    }
    runner r = {.dev = dev};
    pthread_t th;
    pthread_create(&th, NULL, run_thread, &r);

    /* 1. Four transfers stay pending while the device is idle. */
    int four = 4;
    CHECK(nd_fake_usb_wait(f, inflight_is, &four, 2000));

    /* 2. INFO, then 100 frames of 10 sets: every set exactly, in order. */
    uint8_t frame[NFP_MAX_FRAME(NFP_MAX_INFO_BODY)];
    size_t n = nfp_encode_info(frame, sizeof frame,
                               "{\"model\":\"NFP board\",\"serial\":\"NFP-0001\",\"rate_hz\":1000,"
                               "\"nch\":2}");
    nd_fake_usb_push(f, EP_IN, frame, n);
    push_frames(f, 0, 100, 10);
    size_t want = 1000;
    CHECK(nd_capture_wait_sets(&cap, want, 5000));
    CHECK_EQ_INT(nd_capture_nsets(&cap), 1000);
    CHECK_EQ_INT(check_range(0, 1000, 0), 0);
    CHECK(cap.ninfo >= 1 && strcmp(cap.info.serial, "NFP-0001") == 0);
    CHECK(nd_fake_usb_submits(f, EP_IN) > 4); /* transfers were resubmitted */

    /* 3. Frames cut into short USB packets of 7 bytes. */
    {
        static uint8_t buf[8192];
        size_t used = 0;
        for (int i = 0; i < 20; i++)
            used += frame_samples(buf + used, sizeof buf - used, 1000 + 5 * (uint32_t)i, 5);
        for (size_t off = 0; off < used; off += 7)
            nd_fake_usb_push_packet(f, EP_IN, buf + off, used - off < 7 ? used - off : 7);
    }
    want = 1100;
    CHECK(nd_capture_wait_sets(&cap, want, 5000));
    CHECK_EQ_INT(check_range(1000, 1100, 1000), 0);

    /* 4. A stall on the stream endpoint: cleared, resubmitted, nothing lost. */
    unsigned halts = nd_fake_usb_clear_halts(f);
    nd_fake_usb_stall(f, EP_IN);
    push_frames(f, 1100, 10, 10);
    want = 1200;
    CHECK(nd_capture_wait_sets(&cap, want, 5000));
    CHECK_EQ_INT(check_range(1100, 1200, 1100), 0);
    CHECK(nd_fake_usb_clear_halts(f) == halts + 1);

    /* 5. A frame with a bad CRC is counted and dropped; the rest arrives. */
    {
        uint8_t good[600];
        size_t g = frame_samples(good, sizeof good, 1200, 10);
        /* Flip a payload bit of a frame whose seq is 1210: COBS keeps the
         * 0x00 delimiter intact, so only the CRC fails. */
        uint8_t bad[600];
        size_t b = frame_samples(bad, sizeof bad, 1210, 10);
        bad[12] ^= 0x01;
        if (bad[12] == 0) bad[12] = 0x02;
        uint8_t tail[600];
        size_t t = frame_samples(tail, sizeof tail, 1220, 10);
        nd_fake_usb_push(f, EP_IN, good, g);
        nd_fake_usb_push(f, EP_IN, bad, b);
        nd_fake_usb_push(f, EP_IN, tail, t);
    }
    want = 1220;
    CHECK(nd_capture_wait_sets(&cap, want, 5000));
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->frames_bad_crc), 1);
    CHECK_EQ_INT(check_range(1200, 1210, 1200), 0);
    CHECK_EQ_INT(check_range(1210, 1220, 1220), 0); /* after the 10-set hole */
    nd_device_event_kind gap_kind = ND_EV_GAP;
    CHECK(nd_capture_wait_events(&cap, gap_kind, 1, 1000));
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->gap_sets), 10);

    /* 6. Unplug with four transfers in flight: device lost, then replug. */
    CHECK(nd_fake_usb_wait(f, inflight_is, &four, 2000));
    nd_fake_usb_unplug(f);
    nd_device_event_kind lost = ND_EV_DEVICE_LOST, back = ND_EV_DEVICE_BACK;
    CHECK(nd_capture_wait_events(&cap, lost, 1, 5000));
    CHECK(!nd_device_connected(dev));
    CHECK(nd_fake_usb_plug(f) == 0);
    CHECK(nd_capture_wait_events(&cap, back, 1, 10000));
    CHECK(nd_fake_usb_wait(f, inflight_is, &four, 2000));
    size_t before = nd_capture_nsets(&cap);
    push_frames(f, 1300, 5, 10); /* the device ran on: seq 1230..1299 missed */
    want = before + 50;
    CHECK(nd_capture_wait_sets(&cap, want, 5000));
    CHECK_EQ_INT(check_range(before, before + 50, 1300), 0);
    pthread_mutex_lock(&cap.lock);
    CHECK(cap.sets[before].flags & ND_SAMPLE_AFTER_RECONNECT);
    CHECK(cap.sets[before].flags & ND_SAMPLE_AFTER_GAP);
    CHECK_EQ_INT(cap.sets[before].gap_sets, 70);
    pthread_mutex_unlock(&cap.lock);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->disconnects), 1);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->reconnects), 1);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->gap_sets), 80);

    /* 7. A sustained burst through the queue: 20000 sets, none lost. */
    size_t base = nd_capture_nsets(&cap);
    for (int k = 0; k < 4; k++) push_frames(f, 1350 + (uint32_t)k * 1000, 100, 10);
    want = base + 4000;
    CHECK(nd_capture_wait_sets(&cap, want, 10000));
    CHECK_EQ_INT(check_range(base, base + 4000, 1350), 0);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->frames_bad_crc), 1);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->frames_bad_cobs), 0);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->frames_bad_length), 0);

    /* 8. Unplug/replug three times while another thread sends commands: a
     * reopen closes the handle a command may be using and the event thread's
     * hotplug callback looks at the device being swapped (both raced before;
     * TSan run). Each command reaches the device whole or fails cleanly;
     * streaming resumes exactly after every replug. */
    commander cmd = {.dev = dev};
    pthread_t cth;
    pthread_create(&cth, NULL, command_thread, &cmd);
    for (int cycle = 0; cycle < 3; cycle++) {
        CHECK(nd_fake_usb_wait(f, inflight_is, &four, 2000));
        size_t lost_before = nd_capture_count_events(&cap, ND_EV_DEVICE_LOST);
        size_t back_before = nd_capture_count_events(&cap, ND_EV_DEVICE_BACK);
        nd_fake_usb_unplug(f);
        nd_capture_wait_events(&cap, ND_EV_DEVICE_LOST, lost_before + 1, 5000);
        CHECK(nd_capture_count_events(&cap, ND_EV_DEVICE_LOST) == lost_before + 1);
        CHECK(nd_fake_usb_plug(f) == 0);
        nd_capture_wait_events(&cap, ND_EV_DEVICE_BACK, back_before + 1, 10000);
        CHECK(nd_capture_count_events(&cap, ND_EV_DEVICE_BACK) == back_before + 1);
        CHECK(nd_fake_usb_wait(f, inflight_is, &four, 2000));
        size_t from = nd_capture_nsets(&cap);
        uint32_t seq = 6000 + (uint32_t)cycle * 1000;
        push_frames(f, seq, 5, 10);
        want = from + 50;
        CHECK(nd_capture_wait_sets(&cap, want, 5000));
        CHECK_EQ_INT(check_range(from, from + 50, seq), 0);
    }
    /* A few commands on the replugged device before stopping. */
    int ok_before = atomic_load(&cmd.ok);
    for (int i = 0; i < 2000 && atomic_load(&cmd.ok) < ok_before + 5; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&cmd.stop, true);
    pthread_join(cth, NULL);
    int ok = atomic_load(&cmd.ok), failed = atomic_load(&cmd.failed);
    fprintf(stderr, "commands across replugs: %d sent, %d refused\n", ok, failed);
    CHECK(ok >= ok_before + 5);
    pthread_mutex_lock(&out_seen.lock);
    size_t out_bytes = out_seen.bytes;
    pthread_mutex_unlock(&out_seen.lock);
    CHECK(out_bytes % 5 == 0);           /* "ping\n": never a torn command */
    CHECK(out_bytes >= (size_t)ok * 5u); /* every accepted one arrived */
    CHECK(out_bytes <= (size_t)(ok + failed) * 5u);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->reconnects), 4);

    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    CHECK_EQ_INT(r.rc, 0);
    nd_device_close(dev);
    nd_capture_free(&cap);
    nd_fake_usb_free(f);
    return nd_test_finish("usbtest_nfp");
}
