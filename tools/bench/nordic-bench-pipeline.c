/* nordic-bench-pipeline: the whole pipeline, device -> ring -> metrics ->
 * HDF5 -> ZeroMQ, in the real nordicd against tools/bench/pipeline_peer.py
 * (numpy, scipy, h5py, pyzmq from Debian: the same NFP/1 decoding, filter,
 * rep detection, sample file layout and live topics), both fed by the same
 * TCP NFP/1 source (nordic-devsim --out tcp:PORT, 10 sets per frame), each
 * recording a trial with one ZeroMQ subscriber on every topic, in the same run:
 *
 *   1. CPU (% of one core, all threads, from /proc/PID/task/TID/schedstat) and
 *      RSS at 1 kHz x 2, 10 kHz x 2 and 10 kHz x 8 ch, paced, --seconds each;
 *   2. the highest paced rate (2 ch) each sustains for --ladder-seconds with
 *      zero loss: no seq gap, no ring overrun or file loss (ours), and at
 *      least 99 % of the sets the source sent in that time (TCP pushes back
 *      on a slow reader, so falling behind shows as missing sets, not gaps);
 *   3. unpaced throughput: the source as fast as it can send --unpaced-sets
 *      sets (2 ch), sets per second of wall time from the first to the last.
 *
 * usage: nordic-bench-pipeline [--seconds S (20)] [--ladder-seconds S (20)]
 *                              [--unpaced-sets N (5000000)] [--skip-ladder]
 *                              [--skip-unpaced] [--no-peer] */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <cjson/cJSON.h>

#include "nd_metrics.h"

#include "bench_proc.h"

#ifndef NORDIC_BINARY_DIR
#define NORDIC_BINARY_DIR "."
#endif
#ifndef NORDIC_SOURCE_DIR
#define NORDIC_SOURCE_DIR "."
#endif

extern char **environ;

static char g_dir[] = "/tmp/nordic-bench-pipeline.XXXXXX";
static int g_port;

/* CPU ns of every thread of pid (threads that ended are in the process's
 * own total only once it is reaped, so sample while running). */
static uint64_t cpu_ns(pid_t pid)
{
    char path[96], buf[256];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return 0;
    uint64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
        if (bench_read_text(path, buf, sizeof buf)) sum += strtoull(buf, NULL, 10);
    }
    closedir(d);
    return sum;
}

static long rss_kib(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (!bench_read_text(path, buf, sizeof buf)) return -1;
    const char *p = strstr(buf, "\nVmRSS:");
    return p ? atol(p + 7) : -1;
}

static pid_t spawn(char *const argv[], int out_fd, bool quiet)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (quiet) posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

static void stop_child(pid_t pid)
{
    if (pid <= 0) return; /* 0: the unpaced file server, which ends by itself */
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
}

/* --- the unpaced source: nordic-devsim's bytes, from a file it wrote, to one
 * TCP client as fast as the client reads (devsim itself streams whether or
 * not anyone listens, as a real board does, so it cannot wait for a reader) */
typedef struct file_server {
    int listen_fd;
    char path[800];
    pthread_t th;
} file_server;

static void *file_server_main(void *arg)
{
    file_server *fs = arg;
    int c = accept4(fs->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    int in = open(fs->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (c >= 0 && in >= 0 && fstat(in, &st) == 0) {
        off_t off = 0;
        while (off < st.st_size)
            if (sendfile(c, in, &off, (size_t)(st.st_size - off)) <= 0) break;
    }
    if (in >= 0) close(in);
    if (c >= 0) close(c);
    close(fs->listen_fd);
    return NULL;
}

static int file_server_start(file_server *fs, int port, const char *path)
{
    snprintf(fs->path, sizeof fs->path, "%s", path);
    fs->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fs->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fs->listen_fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fs->listen_fd, 1) < 0) {
        close(fs->listen_fd);
        return -1;
    }
    return pthread_create(&fs->th, NULL, file_server_main, fs);
}

/* nordic-devsim writes `sets` sets x nch, unpaced, to a file. */
static int make_stream_file(const char *path, int rate, int nch, uint64_t sets)
{
    char r[32], c[32], out[900], dur[64], devsim[600];
    snprintf(r, sizeof r, "%d", rate);
    snprintf(c, sizeof c, "%d", nch);
    snprintf(out, sizeof out, "file:%s", path);
    snprintf(dur, sizeof dur, "%.6f", (double)sets / rate);
    snprintf(devsim, sizeof devsim, "%s/tools/nordic-devsim", NORDIC_BINARY_DIR);
    char *argv[] = {devsim,  "--proto", "nfp",    "--rate",     r,   "--nch", c,
                    "--out", out,       "--fast", "--duration", dur, NULL};
    pid_t pid = spawn(argv, -1, true);
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* --- the paced source */
static char g_stream[800]; /* the unpaced stream file */
static file_server g_fs;

static pid_t start_source(int port, int rate, int nch, bool fast, uint64_t sets)
{
    if (fast) {
        (void)sets;
        return file_server_start(&g_fs, port, g_stream) == 0 ? 0 : -1;
    }
    char r[32], c[32], out[32];
    snprintf(r, sizeof r, "%d", rate);
    snprintf(c, sizeof c, "%d", nch);
    snprintf(out, sizeof out, "tcp:%d", port);
    char devsim[600];
    snprintf(devsim, sizeof devsim, "%s/tools/nordic-devsim", NORDIC_BINARY_DIR);
    char *paced_argv[] = {devsim, "--proto", "nfp", "--rate", r, "--nch", c, "--out", out, NULL};
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_t pid = spawn(paced_argv, null, true);
    close(null);
    bench_sleep_s(0.3); /* listening */
    int st;
    if (pid > 0 && waitpid(pid, &st, WNOHANG) == pid) return -1; /* the port is taken */
    return pid;
}

/* A paced source on a free port (another program may hold one). */
static pid_t start_source_any(int *port, int rate, int nch, bool fast, uint64_t sets)
{
    for (int tries = 0; tries < 20; tries++) {
        *port = g_port++;
        pid_t pid = start_source(*port, rate, nch, fast, sets);
        if (pid >= 0) return pid;
    }
    return -1;
}

/* --- one subscriber on every topic, as a station would be */
typedef struct sub_thread {
    void *zctx;
    char ep[700];
    atomic_bool stop;
    uint64_t msgs;
    pthread_t th;
} sub_thread;

static void *sub_main(void *arg)
{
    sub_thread *s = arg;
    void *sub = zmq_socket(s->zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect(sub, s->ep);
    static char buf[1 << 20];
    while (!atomic_load(&s->stop)) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0) continue;
        while (zmq_recv(sub, buf, sizeof buf, ZMQ_DONTWAIT) >= 0) s->msgs++;
    }
    zmq_close(sub);
    return NULL;
}

static void sub_start(sub_thread *s, void *zctx, const char *ep)
{
    memset(s, 0, sizeof *s);
    s->zctx = zctx;
    snprintf(s->ep, sizeof s->ep, "%s", ep);
    atomic_init(&s->stop, false);
    pthread_create(&s->th, NULL, sub_main, s);
}

static void sub_stop(sub_thread *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
}

/* --- nordicd's control socket */
static cJSON *control(void *zctx, const char *ep, const char *req)
{
    void *s = zmq_socket(zctx, ZMQ_REQ);
    int linger = 0, tmo = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_connect(s, ep);
    cJSON *reply = NULL;
    static char buf[65536];
    if (zmq_send(s, req, strlen(req), 0) >= 0) {
        int n = zmq_recv(s, buf, sizeof buf - 1, 0);
        if (n > 0 && n < (int)sizeof buf) {
            buf[n] = '\0';
            reply = cJSON_Parse(buf);
            if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
                cJSON_Delete(reply);
                reply = NULL;
            }
        }
    }
    zmq_close(s);
    return reply;
}

static double counter(void *zctx, const char *ctl, const char *name)
{
    cJSON *st = control(zctx, ctl, "{\"cmd\":\"status\"}");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(st, "status"), "counters");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, name);
    double r = cJSON_IsNumber(v) ? v->valuedouble : -1;
    cJSON_Delete(st);
    return r;
}

typedef struct result {
    double cpu_pct; /* of one core */
    double rss_mib;
    double received; /* sets in the window (paced) or in total (unpaced) */
    double rate;     /* sets/s over the window */
    bool lossless;
    bool ok; /* ran at all */
} result;

/* --- ours */
static void run_ours(void *zctx, int rate, int nch, bool fast, uint64_t fast_sets, double seconds,
                     result *r)
{
    memset(r, 0, sizeof *r);
    int port;
    pid_t src = start_source_any(&port, rate, nch, fast, fast_sets);
    char conf[700], dev[128], data[700], ctl[700], pub[700], nordicd[600];
    snprintf(conf, sizeof conf, "%s/ours.ini", g_dir);
    FILE *f = fopen(conf, "w");
    if (f) fclose(f); /* the shipped defaults */
    snprintf(dev, sizeof dev, "tcp:127.0.0.1:%d?proto=nfp", port);
    snprintf(data, sizeof data, "%s/ours-%d", g_dir, port);
    snprintf(ctl, sizeof ctl, "ipc://%s/ctl-%d", g_dir, port);
    snprintf(pub, sizeof pub, "ipc://%s/pub-%d", g_dir, port);
    snprintf(nordicd, sizeof nordicd, "%s/daemon/nordicd", NORDIC_BINARY_DIR);
    /* Unpaced: --record, so the trial holds the stream from its first set
     * and the file writer does its share of the work; paced: a trial started
     * over the control socket, as a station does. */
    char *argv[] = {nordicd, "--config",    conf,      "--device",
                    dev,     "--data-dir",  data,      "--state-dir",
                    data,    "--ctl",       ctl,       "--pub",
                    pub,     "--log-level", "warning", fast ? "--record" : NULL,
                    "BENCH", NULL};
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC); /* --record prints a summary */
    pid_t pid = spawn(argv, null, false);
    close(null);
    sub_thread sub;
    sub_start(&sub, zctx, pub);
    cJSON *st = NULL;
    for (int i = 0; i < 100 && !st; i++) {
        bench_sleep_s(0.1);
        st = control(zctx, ctl, "{\"cmd\":\"status\"}");
    }
    /* A start is refused until the device has described itself: retry. */
    cJSON *started = NULL;
    for (int i = 0; st && !started && i < 100; i++) {
        started = fast ? cJSON_CreateTrue()
                       : control(zctx, ctl, "{\"cmd\":\"start\",\"athlete_id\":\"BENCH\"}");
        if (!started) bench_sleep_s(0.1);
    }
    cJSON_Delete(st);
    if (!started) {
        fprintf(stderr, "nordicd did not start a trial at %d Hz x %d\n", rate, nch);
        goto out;
    }
    cJSON_Delete(started);
    if (!fast) {
        bench_sleep_s(2.0);
        double s0 = counter(zctx, ctl, "samples");
        uint64_t c0 = cpu_ns(pid), t0 = bench_mono_ns();
        bench_sleep_s(seconds);
        uint64_t c1 = cpu_ns(pid), t1 = bench_mono_ns();
        double s1 = counter(zctx, ctl, "samples");
        double secs = (double)(t1 - t0) / 1e9;
        r->cpu_pct = (double)(c1 - c0) / (double)(t1 - t0) * 100.0;
        r->rss_mib = rss_kib(pid) / 1024.0;
        r->received = s1 - s0;
        r->rate = r->received / secs;
        r->lossless = r->received >= 0.99 * rate * secs;
    } else {
        /* From the first set to the last of the source's fast_sets. */
        uint64_t t_first = 0, t_last = 0, c0 = 0;
        double s_first = 0;
        uint64_t deadline = bench_mono_ns() + 600000000000ull;
        while (bench_mono_ns() < deadline) {
            double s = counter(zctx, ctl, "samples");
            uint64_t now = bench_mono_ns();
            if (s > 0 && !t_first) t_first = now, s_first = s, c0 = cpu_ns(pid);
            if (s >= (double)fast_sets) {
                t_last = now;
                r->received = s - s_first;
                break;
            }
            bench_sleep_s(0.02);
        }
        if (t_last > t_first) {
            r->rate = r->received / ((double)(t_last - t_first) / 1e9);
            r->cpu_pct = (double)(cpu_ns(pid) - c0) / (double)(t_last - t_first) * 100.0;
        }
        r->rss_mib = rss_kib(pid) / 1024.0;
        r->lossless = t_last > 0;
    }
    if (getenv("NORDIC_BENCH_DEBUG"))
        fprintf(stderr,
                "ours %d Hz x %d: received %.0f (%.0f/s), gap_sets %.0f, overruns %.0f, "
                "file lost %.0f, bad frames %.0f\n",
                rate, nch, r->received, r->rate, counter(zctx, ctl, "gap_sets"),
                counter(zctx, ctl, "ring_overruns"), counter(zctx, ctl, "file_sets_lost"),
                counter(zctx, ctl, "bad_frames"));
    r->lossless = r->lossless && counter(zctx, ctl, "gap_sets") == 0 &&
                  counter(zctx, ctl, "ring_overruns") == 0 &&
                  counter(zctx, ctl, "file_sets_lost") == 0 &&
                  counter(zctx, ctl, "bad_frames") == 0;
    r->ok = true;
    cJSON_Delete(control(zctx, ctl, "{\"cmd\":\"stop\"}"));
out:
    sub_stop(&sub);
    stop_child(pid);
    stop_child(src);
    if (fast && src == 0) pthread_join(g_fs.th, NULL);
}

/* --- the peer */
static void run_peer(void *zctx, int rate, int nch, bool fast, uint64_t fast_sets, double seconds,
                     result *r)
{
    memset(r, 0, sizeof *r);
    int port;
    pid_t src = start_source_any(&port, rate, nch, fast, fast_sets);
    nd_metric_settings s;
    nd_metric_settings_default(&s);
    char connect[64], out[700], pub[700], script[700];
    char cutoff[32], on[32], off[32], hold[32], minrep[32], imp[32];
    snprintf(connect, sizeof connect, "127.0.0.1:%d", port);
    snprintf(out, sizeof out, "%s/peer-%d.h5", g_dir, port);
    snprintf(pub, sizeof pub, "ipc://%s/peerpub-%d", g_dir, port);
    snprintf(script, sizeof script, "%s/tools/bench/pipeline_peer.py", NORDIC_SOURCE_DIR);
    snprintf(cutoff, sizeof cutoff, "%.17g", s.cutoff_hz);
    snprintf(on, sizeof on, "%.17g", s.on_N);
    snprintf(off, sizeof off, "%.17g", s.off_N);
    snprintf(hold, sizeof hold, "%.17g", s.hold_s);
    snprintf(minrep, sizeof minrep, "%.17g", s.min_rep_s);
    snprintf(imp, sizeof imp, "%.17g", s.impulse_threshold_N);
    char *argv[] = {"/usr/bin/python3",
                    script,
                    "--connect",
                    connect,
                    "--out",
                    out,
                    "--pub",
                    pub,
                    "--cutoff",
                    cutoff,
                    "--on",
                    on,
                    "--off",
                    off,
                    "--hold",
                    hold,
                    "--min-rep",
                    minrep,
                    "--impulse-threshold",
                    imp,
                    NULL};
    int pipefd[2];
    if (pipe(pipefd) < 0) return;
    pid_t pid = spawn(argv, pipefd[1], false);
    close(pipefd[1]);
    sub_thread sub;
    sub_start(&sub, zctx, pub);
    uint64_t c0 = 0, t0 = 0;
    if (!fast) {
        bench_sleep_s(2.5); /* python start-up, then steady state */
        c0 = cpu_ns(pid), t0 = bench_mono_ns();
        bench_sleep_s(seconds);
        uint64_t c1 = cpu_ns(pid), t1 = bench_mono_ns();
        r->cpu_pct = (double)(c1 - c0) / (double)(t1 - t0) * 100.0;
        r->rss_mib = rss_kib(pid) / 1024.0;
        kill(pid, SIGTERM);
    }
    /* Unpaced: the peer ends when the source closes. Its last line says
     * what it got. */
    char line[1024] = "";
    FILE *f = fdopen(pipefd[0], "r");
    if (f && fgets(line, sizeof line, f)) {
        if (getenv("NORDIC_BENCH_DEBUG")) fprintf(stderr, "peer: %s", line);
        cJSON *j = cJSON_Parse(line);
        double sets = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "sets"));
        double gaps = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "gaps"));
        double bad = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "bad"));
        double el = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "elapsed_s"));
        cJSON_Delete(j);
        r->ok = sets > 0;
        r->received = sets;
        r->rate = el > 0 ? sets / el : 0;
        /* paced: everything the source sent while the peer read it */
        r->lossless =
            gaps == 0 && bad == 0 && (fast ? sets >= (double)fast_sets : r->rate >= 0.99 * rate);
    }
    if (f) fclose(f);
    int st;
    waitpid(pid, &st, 0);
    sub_stop(&sub);
    stop_child(src);
    if (fast && src == 0) pthread_join(g_fs.th, NULL);
    unlink(out);
}

static int usage(void)
{
    fprintf(stderr, "usage: nordic-bench-pipeline [--seconds S] [--ladder-seconds S] "
                    "[--unpaced-sets N] [--skip-ladder] [--skip-unpaced] [--no-peer]\n");
    return 2;
}

int main(int argc, char **argv)
{
    double seconds = 20, ladder_s = 20;
    uint64_t unpaced_sets = 5000000;
    bool ladder = true, unpaced = true, peer = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--ladder-seconds") && i + 1 < argc)
            ladder_s = atof(argv[++i]);
        else if (!strcmp(argv[i], "--unpaced-sets") && i + 1 < argc)
            unpaced_sets = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--skip-ladder"))
            ladder = false;
        else if (!strcmp(argv[i], "--skip-unpaced"))
            unpaced = false;
        else if (!strcmp(argv[i], "--no-peer"))
            peer = false;
        else
            return usage();
    }
    if (seconds <= 0 || ladder_s <= 0 || unpaced_sets < 1000) return usage();
    if (!mkdtemp(g_dir)) return 2;
    g_port = 21000 + (int)(getpid() % 20000);
    signal(SIGPIPE, SIG_IGN);
    void *zctx = zmq_ctx_new();
    printf("whole pipeline: nordicd vs pipeline_peer.py (numpy/scipy/h5py/pyzmq), each "
           "recording a trial from nordic-devsim over TCP (NFP/1, 10 sets/frame), one "
           "subscriber each\n\n");
    printf("%-14s | %9s %9s | %9s %9s | %8s | %s\n", "paced", "ours CPU%", "ours MiB", "peer CPU%",
           "peer MiB", "CPU x", "zero loss (ours / peer)");
    const int rows[][2] = {{1000, 2}, {10000, 2}, {10000, 8}};
    for (size_t k = 0; k < 3; k++) {
        result o, p = {0};
        run_ours(zctx, rows[k][0], rows[k][1], false, 0, seconds, &o);
        if (peer) run_peer(zctx, rows[k][0], rows[k][1], false, 0, seconds, &p);
        char name[32];
        snprintf(name, sizeof name, "%d Hz x %d", rows[k][0], rows[k][1]);
        printf("%-14s | %9.3f %9.1f | %9.3f %9.1f | %8.1f | %s / %s\n", name, o.cpu_pct, o.rss_mib,
               p.cpu_pct, p.rss_mib, o.cpu_pct > 0 ? p.cpu_pct / o.cpu_pct : NAN,
               o.ok ? (o.lossless ? "yes" : "NO") : "failed",
               !peer  ? "-"
               : p.ok ? (p.lossless ? "yes" : "NO")
                      : "failed");
        fflush(stdout);
    }
    if (ladder) {
        const int rates[] = {1000, 2000, 5000, 10000, 20000, 50000, 100000};
        for (int side = 0; side < (peer ? 2 : 1); side++) {
            int best = 0;
            for (size_t k = 0; k < sizeof rates / sizeof *rates; k++) {
                result r;
                if (side == 0)
                    run_ours(zctx, rates[k], 2, false, 0, ladder_s, &r);
                else
                    run_peer(zctx, rates[k], 2, false, 0, ladder_s, &r);
                if (!r.ok || !r.lossless) break;
                best = rates[k];
            }
            printf("highest paced rate sustained %g s with zero loss, 2 ch, %s: %d Hz%s\n",
                   ladder_s, side == 0 ? "ours" : "peer", best,
                   best == rates[sizeof rates / sizeof *rates - 1] ? " (the ladder's top)" : "");
            fflush(stdout);
        }
    }
    if (unpaced) {
        result o, p = {0};
        snprintf(g_stream, sizeof g_stream, "%s/stream.nfp", g_dir);
        if (make_stream_file(g_stream, 100000, 2, unpaced_sets) < 0) {
            fprintf(stderr, "nordic-devsim could not write the unpaced stream\n");
            return 1;
        }
        run_ours(zctx, 100000, 2, true, unpaced_sets, 0, &o);
        if (peer) run_peer(zctx, 100000, 2, true, unpaced_sets, 0, &p);
        printf("unpaced, %llu sets x 2 ch: ours %.2f M sets/s at %.0f %% CPU (%s), peer %.2f M "
               "sets/s (%s)\n",
               (unsigned long long)unpaced_sets, o.rate / 1e6, o.cpu_pct,
               o.lossless ? "all sets" : "INCOMPLETE", p.rate / 1e6,
               !peer        ? "not run"
               : p.lossless ? "all sets"
                            : "INCOMPLETE");
    }
    zmq_ctx_term(zctx);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return 0;
}
