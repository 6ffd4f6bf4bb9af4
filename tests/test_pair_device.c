/* pair: two single-channel NFP/1 devices (paced capture replays) combined
 * into one left/right board: partners aligned by seq, frames lost on one
 * side become exact gaps, values land on the right channel; option errors. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nd_capture.h"
#include "nd_device.h"
#include "nd_nfp.h"
#include "test_util.h"

#define SETS      600
#define PER_FRAME 10

/* What the pair delivered; set up in main(). */
static nd_capture cap;

static int32_t value(int side, uint64_t seq)
{
    return (int32_t)(side ? -1000 - seq : 1000 + seq);
}

static bool lost_on_right(uint64_t seq)
{
    return (seq >= 200 && seq < 210) || (seq >= 400 && seq < 420);
}

/* One-channel capture; the right one lacks the frames at 200 and 400..419. */
static void write_capture(const char *path, int side)
{
    FILE *f = fopen(path, "wb");
    uint8_t frame[NFP_MAX_FRAME(NFP_MAX_INFO_BODY)];
    const char *json = side ? "{\"model\":\"R\",\"serial\":\"r1\",\"rate_hz\":1000,\"nch\":1}"
                            : "{\"model\":\"L\",\"serial\":\"l1\",\"rate_hz\":1000,\"nch\":1}";
    size_t n = nfp_encode_info(frame, sizeof frame, json);
    fwrite(frame, 1, n, f);
    for (uint64_t seq = 0; seq < SETS; seq += PER_FRAME) {
        if (side && lost_on_right(seq)) continue;
        int32_t raw[PER_FRAME];
        for (int k = 0; k < PER_FRAME; k++) raw[k] = value(side, seq + (uint64_t)k);
        n = nfp_encode_samples(frame, sizeof frame, (uint32_t)seq, (uint32_t)seq * 1000, 1,
                               PER_FRAME, raw);
        fwrite(frame, 1, n, f);
    }
    fclose(f);
}

static void test_pair_alignment(void)
{
    const char *dir = nd_test_tmpdir("pair");
    char lpath[512], rpath[512], uri[1200];
    snprintf(lpath, sizeof lpath, "%s/left.nfp", dir);
    snprintf(rpath, sizeof rpath, "%s/right.nfp", dir);
    write_capture(lpath, 0);
    write_capture(rpath, 1);
    snprintf(uri, sizeof uri,
             "pair:?left=file:%s&left.proto=nfp&left.pace=1&right=file:%s&right.pace=1&tol_ms=250",
             lpath, rpath);
    nd_sink sink = nd_capture_sink(&cap);
    nd_device *dev = NULL;
    char err[256];
    int rc = nd_device_open(uri, &sink, &dev, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    atomic_bool stop = false;
    CHECK_EQ_INT(nd_device_run(dev, &stop), ND_RUN_EOF);
    CHECK_EQ_INT(cap.nsets, SETS - 30);
    size_t bad = 0, i = 0;
    for (uint64_t seq = 0; seq < SETS; seq++) {
        if (lost_on_right(seq)) continue;
        if (i >= cap.nsets || cap.sets[i].seq != seq || cap.sets[i].nch != 2 ||
            cap.sets[i].raw[0] != value(0, seq) || cap.sets[i].raw[1] != value(1, seq))
            bad++;
        bool after_gap = seq == 210 || seq == 420;
        if (i < cap.nsets && after_gap != !!(cap.sets[i].flags & ND_SAMPLE_AFTER_GAP)) bad++;
        i++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(nd_capture_count_events(&cap, ND_EV_GAP), 2);
    CHECK_EQ_INT(nd_capture_event_count_sum(&cap, ND_EV_GAP), 30);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->gap_sets), 30);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->sets), SETS - 30);
    CHECK_EQ_INT(cap.info.nch, 2);
    CHECK(strcmp(cap.info.model, "pair(L,R)") == 0);
    CHECK(strcmp(cap.info.channel_names[1], "right") == 0);
    CHECK_NEAR(cap.info.rate_hz, 1000, 1e-9);
    nd_device_close(dev);
}

static void test_pair_errors(void)
{
    nd_test_expect_open_error("pair:?left=file:/nonexistent.bin", "right=<device URI> is required",
                              NULL);
    nd_test_expect_open_error("pair:?right=file:/x", "left=<device URI> is required", NULL);
    nd_test_expect_open_error("pair:?left=file:/x&right=file:/y&wobble=1",
                              "unknown option 'wobble'", NULL);
    nd_test_expect_open_error("pair:?left=file:/nonexistent-left.bin&right=file:/y",
                              "pair: left device:", NULL);
    nd_test_expect_open_error("pair:?left=file:/x&right=file:/y&left_ch=9", "left_ch", NULL);
    nd_test_expect_open_error("pair:/dev/x?left=file:/x&right=file:/y", "nothing before '?'", NULL);
}

typedef struct runner {
    nd_device *dev;
    atomic_bool stop;
    int rc;
} runner;

static void *run_pair(void *arg)
{
    runner *r = arg;
    r->rc = nd_device_run(r->dev, &r->stop);
    return NULL;
}

static double cpu_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The left replay ends with sets queued for partners that the right device
 * (connected, silent) has not sent yet: the pair must wait for them without
 * spinning. Its run loop sleeps on a condition; a busy loop would use about
 * all of the interval's CPU time. */
static void test_pair_waits_without_spinning(void)
{
    const char *dir = nd_test_tmpdir("pair-idle");
    char lpath[512], uri[1200];
    snprintf(lpath, sizeof lpath, "%s/left.nfp", dir);
    write_capture(lpath, 0);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    CHECK_EQ_INT(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ_INT(listen(ls, 4), 0);
    getsockname(ls, (struct sockaddr *)&a, &alen);
    snprintf(uri, sizeof uri, "pair:?left=file:%s&left.pace=0&right=tcp:127.0.0.1:%d", lpath,
             ntohs(a.sin_port));
    nd_sink sink = {.ctx = &cap, .samples = nd_capture_on_samples};
    runner r = {0};
    char err[256];
    if (nd_device_open(uri, &sink, &r.dev, err, sizeof err) < 0) {
        CHECK(!"pair device opens");
        fprintf(stderr, "open: %s\n", err);
        close(ls);
        return;
    }
    nd_capture_reset(&cap);
    pthread_t t;
    pthread_create(&t, NULL, run_pair, &r);
    clockid_t clk;
    pthread_getcpuclockid(t, &clk);
    struct timespec pause = {.tv_nsec = 200000000L};
    nanosleep(&pause, NULL); /* the left replay ends within this */
    double c0 = cpu_s(clk), w0 = cpu_s(CLOCK_MONOTONIC);
    pause.tv_nsec = 500000000L;
    nanosleep(&pause, NULL);
    double used = cpu_s(clk) - c0, elapsed = cpu_s(CLOCK_MONOTONIC) - w0;
    atomic_store(&r.stop, true);
    pthread_join(t, NULL);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(cap.nsets, 0); /* no partner ever came */
    CHECK(used < 0.2 * elapsed);
    if (used >= 0.2 * elapsed)
        fprintf(stderr, "  run thread used %.3f s of CPU in %.3f s while waiting\n", used, elapsed);
    nd_device_close(r.dev);
    close(ls);
}

int main(void)
{
    if (nd_capture_init(&cap, SETS, 64) != 0) {
        CHECK(!"capture allocated");
        return nd_test_finish("pair_device");
    }
    test_pair_alignment();
    test_pair_waits_without_spinning();
    test_pair_errors();
    nd_capture_free(&cap);
    return nd_test_finish("pair_device");
}
