/* file: source: a capture with INFO, STATUS and SAMPLES frames replays
 * exactly (pace=0 ends with EOF), paced replay never runs ahead of the
 * device clock, loop=1 repeats, a truncated capture loses only its partial
 * frame, and unusable paths or options are clear errors at open. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nd_capture.h"
#include "nd_device.h"
#include "nd_nfp.h"
#include "test_util.h"

#define RATE      200
#define NFRAMES   20
#define SETS_PER  5
#define NSETS_ALL (NFRAMES * SETS_PER)

/* Room for several loop passes, and every event they cause. */
static void capture_init(nd_capture *c)
{
    if (nd_capture_init(c, 4096, 64) != 0) {
        fprintf(stderr, "no memory for the capture\n");
        abort();
    }
}

static int32_t raw_value(uint32_t seq, int ch)
{
    return (int32_t)(seq * 10 + (uint32_t)ch) - 500;
}

/* Write the capture; returns its size. truncate_by > 0 cuts the end. */
static long write_capture(const char *path, size_t truncate_by)
{
    uint8_t buf[16384], f[NFP_MAX_FRAME(NFP_MAX_INFO_BODY)];
    size_t len = 0, n;
    n = nfp_encode_info(f, sizeof f,
                        "{\"model\":\"FILE-T\",\"serial\":\"77\",\"rate_hz\":200,\"nch\":2,"
                        "\"channels\":[\"left\",\"right\"]}");
    memcpy(buf + len, f, n);
    len += n;
    n = nfp_encode_status(f, sizeof f, 0, 0);
    memcpy(buf + len, f, n);
    len += n;
    for (uint32_t fr = 0; fr < NFRAMES; fr++) {
        int32_t raw[SETS_PER * 2];
        uint32_t seq = fr * SETS_PER;
        for (int s = 0; s < SETS_PER; s++)
            for (int c = 0; c < 2; c++) raw[s * 2 + c] = raw_value(seq + (uint32_t)s, c);
        n = nfp_encode_samples(f, sizeof f, seq, 1000000u + seq * 5000u, 2, SETS_PER, raw);
        memcpy(buf + len, f, n);
        len += n;
    }
    len -= truncate_by;
    FILE *fp = fopen(path, "wb");
    fwrite(buf, 1, len, fp);
    fclose(fp);
    return (long)len;
}

static int replay(const char *uri, nd_capture *c, atomic_bool *stop, nd_device **keep)
{
    char err[256];
    nd_sink sink = nd_capture_sink(c);
    nd_device *dev = NULL;
    if (nd_device_open(uri, &sink, &dev, err, sizeof err) < 0) {
        fprintf(stderr, "open %s: %s\n", uri, err);
        return -100;
    }
    int rc = nd_device_run(dev, stop);
    if (keep)
        *keep = dev;
    else
        nd_device_close(dev);
    return rc;
}

static void check_exact(const nd_capture *c, size_t nsets)
{
    CHECK_EQ_INT(c->nsets, nsets);
    bool exact = true;
    for (size_t i = 0; i < c->nsets; i++) {
        const nd_sample *s = &c->sets[i];
        exact = exact && s->seq == i && s->nch == 2 && s->raw[0] == raw_value((uint32_t)i, 0) &&
                s->raw[1] == raw_value((uint32_t)i, 1) && s->flags == 0 &&
                s->dev_t_us == 1000000u + (uint32_t)i * 5000u;
    }
    CHECK(exact);
}

static void test_exact_replay(const char *path, long size)
{
    nd_capture c;
    capture_init(&c);
    atomic_bool stop = false;
    char uri[600];
    snprintf(uri, sizeof uri, "file:%s?proto=nfp&pace=0", path);
    nd_device *dev = NULL;
    CHECK_EQ_INT(replay(uri, &c, &stop, &dev), ND_RUN_EOF);
    check_exact(&c, NSETS_ALL);
    CHECK_EQ_INT(c.ninfo, 1);
    CHECK(strcmp(c.info.model, "FILE-T") == 0 && strcmp(c.info.channel_names[0], "left") == 0);
    CHECK_EQ_INT(c.nevents, 0);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->bytes), size);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->sets), NSETS_ALL);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->frames_ok), NFRAMES + 2);
    nd_device_close(dev);
    nd_capture_free(&c);
}

static void test_paced(const char *path)
{
    nd_capture c;
    capture_init(&c);
    atomic_bool stop = false;
    char uri[600];
    const double pace = 2.0;
    snprintf(uri, sizeof uri, "file:%s?pace=%g", path, pace);
    uint64_t t0 = nd_monotonic_ns();
    CHECK_EQ_INT(replay(uri, &c, &stop, NULL), ND_RUN_EOF);
    double took = (double)(nd_monotonic_ns() - t0) / 1e9;
    check_exact(&c, NSETS_ALL);
    /* The frame holding set k is read no earlier than k / (rate * pace)
     * after the start: the replay can never run ahead of the device clock. */
    double floor_s = (double)(NSETS_ALL - SETS_PER) / (RATE * pace);
    printf("pace=%g: %d sets at %d Hz replayed in %.3f s (nominal %.3f s, floor %.3f s)\n", pace,
           NSETS_ALL, RATE, took, NSETS_ALL / (RATE * pace), floor_s);
    CHECK(took >= floor_s);
    bool spaced = true;
    for (size_t k = SETS_PER; k < c.nsets; k += SETS_PER)
        spaced = spaced && (double)(c.sets[k].host_ns - c.sets[0].host_ns) / 1e9 >=
                               (double)(k - SETS_PER) / (RATE * pace);
    CHECK(spaced);
    nd_capture_free(&c);
}

static void test_loop(const char *path)
{
    nd_capture c;
    capture_init(&c);
    atomic_bool stop = false;
    nd_capture_stop_after(&c, &stop, 3 * NSETS_ALL + 10);
    char uri[600];
    snprintf(uri, sizeof uri, "file:%s?pace=0&loop=1", path);
    CHECK_EQ_INT(replay(uri, &c, &stop, NULL), 0); /* stopped, not EOF */
    CHECK(c.nsets >= c.stop_at);
    /* Each pass starts at seq 0 again: a device restart per loop. */
    size_t restarts = 0;
    for (size_t i = 0; i < c.nevents; i++) restarts += c.events[i].kind == ND_EV_RESTART;
    CHECK_EQ_INT(restarts, (c.nsets - 1) / NSETS_ALL);
    CHECK(restarts >= 3);
    CHECK_EQ_INT(c.sets[NSETS_ALL].seq, 0);
    CHECK_EQ_INT(c.sets[NSETS_ALL].flags, ND_SAMPLE_AFTER_RESTART);
    CHECK_EQ_INT(c.sets[2 * NSETS_ALL + 7].raw[1], raw_value(7, 1));
    CHECK_EQ_INT(c.ninfo, 1); /* same INFO every pass */
    nd_capture_free(&c);
}

static void test_truncated(const char *dir)
{
    nd_capture c;
    capture_init(&c);
    char path[600], uri[700];
    snprintf(path, sizeof path, "%s/truncated.nfp", dir);
    write_capture(path, 7); /* last frame cut */
    snprintf(uri, sizeof uri, "file:%s?pace=0", path);
    atomic_bool stop = false;
    CHECK_EQ_INT(replay(uri, &c, &stop, NULL), ND_RUN_EOF);
    check_exact(&c, NSETS_ALL - SETS_PER);
    nd_capture_free(&c);
}

static void test_empty(const char *dir)
{
    char path[600], uri[700];
    snprintf(path, sizeof path, "%s/empty.nfp", dir);
    fclose(fopen(path, "wb"));
    nd_capture c;
    capture_init(&c);
    atomic_bool stop = false;
    snprintf(uri, sizeof uri, "file:%s?pace=0&loop=1", path);
    CHECK_EQ_INT(replay(uri, &c, &stop, NULL), ND_RUN_EOF); /* no endless loop */
    CHECK_EQ_INT(c.nsets, 0);
    nd_capture_free(&c);
}

static void test_permission_denied(void);

static void test_errors(const char *dir, const char *path)
{
    char uri[700];
    snprintf(uri, sizeof uri, "file:%s/missing.nfp", dir);
    nd_test_expect_open_error(uri, "cannot open", "No such file or directory");
    snprintf(uri, sizeof uri, "file:%s", dir);
    nd_test_expect_open_error(uri, "is a directory", dir);
    nd_test_expect_open_error("file:/dev/null", "special file", "/dev/null");
    nd_test_expect_open_error("file:", "no path", "file:PATH");
    snprintf(uri, sizeof uri, "file:%s?pace=-1", path);
    nd_test_expect_open_error(uri, "pace=-1", "out of range");
    snprintf(uri, sizeof uri, "file:%s?loop=sometimes", path);
    nd_test_expect_open_error(uri, "loop='sometimes'", "boolean");
    snprintf(uri, sizeof uri, "file:%s?speed=2", path);
    nd_test_expect_open_error(uri, "unknown option 'speed'", "pace, loop");
    test_permission_denied();
}

/* Root reads anything: as root the open is tried in a child that dropped to
 * nobody, on a file in a directory nobody can reach, so the case always runs. */
static void test_permission_denied(void)
{
    char locked[600], uri[700];
    const char *dir = geteuid() == 0 ? nd_test_tmpdir_for_nobody("file_source_perm")
                                     : nd_test_tmpdir("file_source_perm");
    snprintf(locked, sizeof locked, "%s/locked.nfp", dir);
    write_capture(locked, 0);
    chmod(locked, 0);
    snprintf(uri, sizeof uri, "file:%s", locked);
    if (geteuid() != 0) {
        nd_test_expect_open_error(uri, "cannot open", "Permission denied");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
        nd_test_failed = 0;
        nd_test_expect_open_error(uri, "cannot open", "Permission denied");
        _exit(nd_test_failed ? 1 : 0);
    }
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    const char *dir = nd_test_tmpdir("file_source");
    char path[600];
    snprintf(path, sizeof path, "%s/capture.nfp", dir);
    long size = write_capture(path, 0);
    test_exact_replay(path, size);
    test_paced(path);
    test_loop(path);
    test_truncated(dir);
    test_empty(dir);
    test_errors(dir, path);
    return nd_test_finish("test_file_source");
}
