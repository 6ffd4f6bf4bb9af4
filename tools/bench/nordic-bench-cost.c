/* nordic-bench-cost: what the real nordicd costs a clinic PC at clinic rates.
 *
 * Runs nordicd on the simulator (default 1 kHz x 2 channels, reps running;
 * --source devsim: nordic-devsim over TCP in its own process, so the
 * simulated board's work is not counted) and measures three phases of
 * --seconds each (default 60): idle with no subscriber, idle with one ZeroMQ
 * subscriber on every topic, and recording (a trial started over the control
 * socket) with that subscriber. For each thread of the daemon, from
 * /proc/PID/task/TID: CPU time (schedstat, ns) as % of one core, wake-ups per
 * second (voluntary context switches: the thread slept and was woken),
 * preemptions per second (involuntary ones, shown apart), and the process's
 * RSS (VmRSS) at the end of each phase.
 *
 * Zero loss is checked, not assumed: after the recording phase the daemon's
 * own counters (ring_overruns, gap_sets, file_sets_lost, file_errors) must be
 * 0, the subscriber must have seen no seq gap on any topic, and the trial's
 * `samples` (trial stop message) must equal the sets the daemon stored
 * (file_sets_written).
 *
 * Targets (issue 18.1): recording <= 0.5 % of one core, idle <= 0.2 %,
 * <= 200 wake-ups/s, RSS <= 16 MiB. The program reports; the exit status is 1
 * only if loss was seen or the daemon could not be driven.
 *
 * Usage: nordic-bench-cost [--nordicd PATH] [--seconds S] [--rate HZ] [--nch N]
 *                          [--live-hz HZ]   (default: the daemon's default, 50) */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <cjson/cJSON.h>

#include "bench_proc.h"

#ifndef NORDIC_BINARY_DIR
#define NORDIC_BINARY_DIR "."
#endif

#define MAX_THREADS 64
#define NTOPICS     5

extern char **environ;

static const char *const topics[NTOPICS] = {"status", "live", "rep", "trial", "wave"};

typedef struct thread_sample {
    int tid;
    char name[32];
    uint64_t cpu_ns;
    uint64_t wakeups;     /* voluntary context switches: slept, then woken */
    uint64_t preemptions; /* involuntary ones: another task took the core */
} thread_sample;

typedef struct snapshot {
    thread_sample t[MAX_THREADS];
    int n;
    uint64_t at_ns;
    long rss_kib, anon_kib, file_kib; /* RSS, and its private and file-backed parts */
} snapshot;

static long status_field(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? atol(p + strlen(key)) : -1;
}

static void take_snapshot(pid_t pid, snapshot *s)
{
    char path[128], buf[4096];
    memset(s, 0, sizeof *s);
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && s->n < MAX_THREADS) {
        if (e->d_name[0] == '.') continue;
        thread_sample *t = &s->t[s->n];
        t->tid = atoi(e->d_name);
        snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, t->tid);
        if (!bench_read_text(path, buf, sizeof buf)) continue;
        t->cpu_ns = strtoull(buf, NULL, 10);
        snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)pid, t->tid);
        if (!bench_read_text(path, buf, sizeof buf)) continue;
        buf[strcspn(buf, "\n")] = '\0';
        snprintf(t->name, sizeof t->name, "%s", buf);
        snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, t->tid);
        if (!bench_read_text(path, buf, sizeof buf)) continue;
        t->wakeups = (uint64_t)status_field(buf, "\nvoluntary_ctxt_switches:");
        t->preemptions = (uint64_t)status_field(buf, "\nnonvoluntary_ctxt_switches:");
        s->n++;
    }
    closedir(d);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (bench_read_text(path, buf, sizeof buf)) {
        s->rss_kib = status_field(buf, "\nVmRSS:");
        s->anon_kib = status_field(buf, "\nRssAnon:");
        s->file_kib = status_field(buf, "\nRssFile:");
    }
    s->at_ns = bench_mono_ns();
}

typedef struct phase_result {
    double cpu_pct, wakeups_s, preemptions_s;
    long rss_kib;
    double thread_wakeups_s[MAX_THREADS]; /* per thread, for the floor below */
    int nthreads;
} phase_result;

/* Per-thread rows for one phase; threads are matched by tid. */
static phase_result report_phase(const char *title, const snapshot *a, const snapshot *b)
{
    double secs = (double)(b->at_ns - a->at_ns) / 1e9;
    phase_result r = {.rss_kib = b->rss_kib};
    printf("\n%s (%.1f s)\n%-18s %8s %10s %13s\n", title, secs, "thread", "CPU %", "wakeups/s",
           "preemptions/s");
    for (int i = 0; i < b->n; i++) {
        const thread_sample *tb = &b->t[i], *ta = NULL;
        for (int j = 0; j < a->n; j++)
            if (a->t[j].tid == tb->tid) ta = &a->t[j];
        uint64_t cpu = tb->cpu_ns - (ta ? ta->cpu_ns : 0);
        uint64_t wk = tb->wakeups - (ta ? ta->wakeups : 0);
        uint64_t pre = tb->preemptions - (ta ? ta->preemptions : 0);
        double pct = (double)cpu / (secs * 1e9) * 100.0;
        r.cpu_pct += pct;
        r.wakeups_s += (double)wk / secs;
        r.preemptions_s += (double)pre / secs;
        if (r.nthreads < MAX_THREADS) r.thread_wakeups_s[r.nthreads++] = (double)wk / secs;
        printf("%-18s %8.3f %10.1f %13.1f\n", tb->name, pct, (double)wk / secs, (double)pre / secs);
    }
    printf("%-18s %8.3f %10.1f %13.1f   RSS %.1f MiB (anonymous %.1f, shared libraries and files "
           "%.1f)\n",
           "total", r.cpu_pct, r.wakeups_s, r.preemptions_s, (double)r.rss_kib / 1024.0,
           (double)b->anon_kib / 1024.0, (double)b->file_kib / 1024.0);
    return r;
}

/* --- the floor: what waking alone costs on this machine. One thread per
 * daemon thread, each waking at that thread's measured rate and doing
 * nothing else (absolute clock_nanosleep, as a timer-driven loop would);
 * their own CPU time (CLOCK_THREAD_CPUTIME_ID) is the kernel's and the
 * hypervisor's share of a wake-up, which no amount of work in the daemon
 * can remove. */
typedef struct floor_thread {
    double hz, seconds;
    double cpu_s;
} floor_thread;

static void *floor_main(void *arg)
{
    floor_thread *f = arg;
    uint64_t period = (uint64_t)(1e9 / f->hz), next = bench_mono_ns();
    uint64_t end = next + (uint64_t)(f->seconds * 1e9);
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    while ((next += period) < end) {
        struct timespec ts = {.tv_sec = (time_t)(next / 1000000000u),
                              .tv_nsec = (long)(next % 1000000000u)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    f->cpu_s = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    return NULL;
}

static double wake_floor_pct(const phase_result *r, double seconds, double *wakeups_s)
{
    floor_thread f[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    int n = 0;
    *wakeups_s = 0;
    for (int i = 0; i < r->nthreads; i++) {
        if (r->thread_wakeups_s[i] < 0.5) continue;
        f[n] = (floor_thread){.hz = r->thread_wakeups_s[i], .seconds = seconds};
        *wakeups_s += f[n].hz;
        pthread_create(&th[n], NULL, floor_main, &f[n]);
        n++;
    }
    double cpu = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        cpu += f[i].cpu_s;
    }
    return cpu / seconds * 100.0;
}

/* --- the subscriber: every topic, counts seq gaps and keeps the trial stop */
typedef struct subscriber {
    void *zctx;
    const char *ep;
    atomic_bool stop;
    uint64_t msgs, seq_gaps;
    long long last_seq[NTOPICS];
    long long trial_samples; /* from the trial stop message, -1 until seen */
} subscriber;

static void *subscriber_main(void *arg)
{
    subscriber *s = arg;
    void *sub = zmq_socket(s->zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect(sub, s->ep);
    for (int i = 0; i < NTOPICS; i++) s->last_seq[i] = -1;
    static char buf[1 << 20];
    while (!atomic_load(&s->stop)) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0) continue;
        char topic[16] = "";
        int tn = zmq_recv(sub, topic, sizeof topic - 1, 0);
        int n = zmq_recv(sub, buf, sizeof buf - 1, 0);
        if (tn <= 0 || n <= 0 || n >= (int)sizeof buf) continue;
        topic[tn] = '\0';
        buf[n] = '\0';
        s->msgs++;
        cJSON *j = cJSON_Parse(buf);
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
        for (int i = 0; i < NTOPICS; i++) {
            if (strcmp(topic, topics[i]) || !cJSON_IsNumber(seq)) continue;
            long long v = (long long)seq->valuedouble;
            /* status is re-sent to a new subscriber: a repeat is not a gap */
            if (s->last_seq[i] >= 0 && v > s->last_seq[i] + 1)
                s->seq_gaps += (uint64_t)(v - s->last_seq[i] - 1);
            if (v > s->last_seq[i]) s->last_seq[i] = v;
        }
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "event");
        const cJSON *samples = cJSON_GetObjectItemCaseSensitive(j, "samples");
        if (!strcmp(topic, "trial") && cJSON_IsString(ev) && !strcmp(ev->valuestring, "stop") &&
            cJSON_IsNumber(samples))
            s->trial_samples = (long long)samples->valuedouble;
        cJSON_Delete(j);
    }
    zmq_close(sub);
    return NULL;
}

/* One request on the control socket; returns the parsed reply or NULL. */
static cJSON *control(void *zctx, const char *ep, const char *req)
{
    void *s = zmq_socket(zctx, ZMQ_REQ);
    int linger = 0, tmo = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_connect(s, ep);
    cJSON *reply = NULL;
    char buf[65536];
    if (zmq_send(s, req, strlen(req), 0) >= 0) {
        int n = zmq_recv(s, buf, sizeof buf - 1, 0);
        if (n > 0 && n < (int)sizeof buf) {
            buf[n] = '\0';
            reply = cJSON_Parse(buf);
            if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
                fprintf(stderr, "control %s: %s\n", req, buf);
                cJSON_Delete(reply);
                reply = NULL;
            }
        }
    }
    zmq_close(s);
    return reply;
}

static double counter(const cJSON *status_reply, const char *name)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(status_reply, "status");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(st, "counters");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, name);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

int main(int argc, char **argv)
{
    const char *nordicd = NORDIC_BINARY_DIR "/daemon/nordicd";
    double seconds = 60;
    int rate = 1000, nch = 2, coalesce_ms = -1; /* -1: the driver's default */
    double live_hz = 0;                         /* 0 = the daemon's default */
    bool devsim = false;                        /* --source devsim: the board in its own process */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--nordicd") && i + 1 < argc)
            nordicd = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--nch") && i + 1 < argc)
            nch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--live-hz") && i + 1 < argc)
            live_hz = atof(argv[++i]);
        else if (!strcmp(argv[i], "--coalesce-ms") && i + 1 < argc)
            coalesce_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--source") && i + 1 < argc && !strcmp(argv[i + 1], "sim"))
            devsim = false, i++;
        else if (!strcmp(argv[i], "--source") && i + 1 < argc && !strcmp(argv[i + 1], "devsim"))
            devsim = true, i++;
        else {
            fprintf(stderr, "usage: nordic-bench-cost [--nordicd PATH] [--seconds S (default 60)] "
                            "[--rate HZ (1000)] [--nch N (2)] [--live-hz HZ (daemon default)]\n"
                            "                         [--coalesce-ms MS (default: the driver's, "
                            "0: off)]\n"
                            "                         [--source sim|devsim (default sim)]\n");
            return 2;
        }
    }
    if (seconds <= 0 || rate < 10 || nch < 2) {
        fprintf(stderr, "nordic-bench-cost: need --seconds > 0, --rate >= 10, --nch >= 2\n");
        return 2;
    }
    if (access(nordicd, X_OK) != 0) {
        fprintf(stderr, "nordic-bench-cost: %s not found (build nordicd or pass --nordicd)\n",
                nordicd);
        return 2;
    }
    char dir[] = "/tmp/nordic-bench-cost.XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char conf[600], dev[160], data[600], ctl[700], pub[700];
    snprintf(conf, sizeof conf, "%s/bench.ini", dir);
    FILE *f = fopen(conf, "w");
    if (!f) return 2;
    fprintf(f, "# nordicd defaults\n"); /* the cost of the shipped configuration */
    if (live_hz > 0) fprintf(f, "[live]\nlive_hz = %g\n", live_hz);
    fclose(f);
    /* coalesce_ms: the stream device's read coalescing (drivers/DRIVERS.md);
     * not given = the shipped default. */
    /* devsim: nordic-devsim sends NFP/1 over TCP from its own process, one
     * set per frame (a frame a millisecond at 1 kHz, like a USB full-speed
     * board), so the simulated board's own work is not counted here. */
    int port = 21000 + (int)(getpid() % 20000);
    pid_t src = 0;
    if (devsim) {
        char r[32], c[32], out[32], exe[600];
        snprintf(r, sizeof r, "%d", rate);
        snprintf(c, sizeof c, "%d", nch);
        snprintf(out, sizeof out, "tcp:%d", port);
        snprintf(exe, sizeof exe, "%s/tools/nordic-devsim", NORDIC_BINARY_DIR);
        char *sargv[] = {exe, "--proto", "nfp", "--rate",           r,   "--nch",
                         c,   "--out",   out,   "--sets-per-frame", "1", NULL};
        if (posix_spawn(&src, exe, NULL, NULL, sargv, environ) != 0) {
            fprintf(stderr, "cannot run %s\n", exe);
            return 2;
        }
        bench_sleep_s(0.5);
    }
    int dn = devsim
                 ? snprintf(dev, sizeof dev, "tcp:127.0.0.1:%d?proto=nfp", port)
                 : snprintf(dev, sizeof dev, "sim:?rate=%d&nch=%d&reps=100000&rest=3", rate, nch);
    if (coalesce_ms >= 0)
        snprintf(dev + dn, sizeof dev - (size_t)dn, "&coalesce_ms=%d", coalesce_ms);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(ctl, sizeof ctl, "ipc://%s/ctl", dir);
    snprintf(pub, sizeof pub, "ipc://%s/pub", dir);
    char *args[] = {
        (char *)nordicd, "--config", conf,    "--device", dev,     "--data-dir", data,
        "--state-dir",   data,       "--ctl", ctl,        "--pub", pub,          "--log-level",
        "warning",       NULL};
    pid_t pid;
    if (posix_spawn(&pid, nordicd, NULL, NULL, args, environ) != 0) {
        fprintf(stderr, "cannot run %s\n", nordicd);
        return 2;
    }
    if (live_hz > 0)
        printf("nordicd on %s, live_hz %g\n", dev, live_hz);
    else
        printf("nordicd on %s, default configuration\n", dev);

    void *zctx = zmq_ctx_new();
    subscriber sub = {.zctx = zctx, .ep = pub, .trial_samples = -1};
    atomic_init(&sub.stop, false);
    pthread_t th;
    bool have_sub = false;
    int rc = 0;

    cJSON *st = NULL;
    for (int i = 0; i < 100 && !st; i++) { /* up to 10 s for the daemon to come up */
        bench_sleep_s(0.1);
        st = control(zctx, ctl, "{\"cmd\":\"status\"}");
    }
    if (!st) {
        fprintf(stderr, "nordicd did not answer on %s\n", ctl);
        rc = 1;
        goto out;
    }
    cJSON_Delete(st);
    bench_sleep_s(2.0); /* settle: the first second of a daemon is its start-up */

    /* A station PC between sessions with nothing watching, then with the
     * station (one subscriber on every topic), then recording. */
    snapshot a, b;
    take_snapshot(pid, &a);
    bench_sleep_s(seconds);
    take_snapshot(pid, &b);
    phase_result unwatched = report_phase("idle, no trial, no subscriber", &a, &b);

    pthread_create(&th, NULL, subscriber_main, &sub);
    have_sub = true;
    bench_sleep_s(1.0);
    take_snapshot(pid, &a);
    bench_sleep_s(seconds);
    take_snapshot(pid, &b);
    phase_result idle = report_phase("idle, no trial, one subscriber on every topic", &a, &b);

    cJSON *started = control(zctx, ctl, "{\"cmd\":\"start\",\"athlete_id\":\"BENCH\"}");
    if (!started) {
        rc = 1;
        goto out;
    }
    cJSON_Delete(started);
    bench_sleep_s(1.0); /* the file is created in this second: it is not steady state */
    take_snapshot(pid, &a);
    bench_sleep_s(seconds);
    take_snapshot(pid, &b);
    phase_result rec = report_phase("recording, one trial, one subscriber on every topic", &a, &b);
    cJSON *stopped = control(zctx, ctl, "{\"cmd\":\"stop\"}");
    cJSON_Delete(stopped);
    bench_sleep_s(1.5); /* the stop message and the final counters */

    st = control(zctx, ctl, "{\"cmd\":\"status\"}");
    double overruns = counter(st, "ring_overruns"), gap_sets = counter(st, "gap_sets");
    double lost = counter(st, "file_sets_lost"), ferr = counter(st, "file_errors");
    double written = counter(st, "file_sets_written");
    cJSON_Delete(st);
    bool lossless = stopped && overruns == 0 && gap_sets == 0 && lost == 0 && ferr == 0 &&
                    sub.seq_gaps == 0 && sub.trial_samples > 0 &&
                    (double)sub.trial_samples == written;
    printf("\nloss: ring_overruns %.0f, gap_sets %.0f, file_sets_lost %.0f, file_errors %.0f, "
           "subscriber seq gaps %llu (%llu messages); trial samples %lld, stored %.0f: %s\n",
           overruns, gap_sets, lost, ferr, (unsigned long long)sub.seq_gaps,
           (unsigned long long)sub.msgs, sub.trial_samples, written,
           lossless ? "zero loss" : "LOSS OR MISMATCH");
    if (!lossless) rc = 1;

    printf("\n%-30s %12s %10s %10s %8s\n", "target", "idle, unwatched", "idle", "recording", "met");
    printf("%-30s %12.3f %10.3f %10s %8s\n", "CPU % of one core (idle<=0.2)", unwatched.cpu_pct,
           idle.cpu_pct, "", unwatched.cpu_pct <= 0.2 && idle.cpu_pct <= 0.2 ? "yes" : "NO");
    printf("%-30s %12s %10s %10.3f %8s\n", "CPU % of one core (rec<=0.5)", "", "", rec.cpu_pct,
           rec.cpu_pct <= 0.5 ? "yes" : "NO");
    printf("%-30s %12.1f %10.1f %10.1f %8s\n", "wake-ups/s (<=200)", unwatched.wakeups_s,
           idle.wakeups_s, rec.wakeups_s,
           unwatched.wakeups_s <= 200 && idle.wakeups_s <= 200 && rec.wakeups_s <= 200 ? "yes"
                                                                                       : "NO");
    printf("%-30s %12.1f %10.1f %10.1f %8s\n", "RSS MiB (<=16)", unwatched.rss_kib / 1024.0,
           idle.rss_kib / 1024.0, rec.rss_kib / 1024.0,
           idle.rss_kib <= 16384 && rec.rss_kib <= 16384 ? "yes" : "NO");

    /* The floor, with the daemon gone so that it measures only waking. */
    kill(pid, SIGTERM);
    int st_floor;
    waitpid(pid, &st_floor, 0);
    pid = 0;
    double floor_s = seconds < 20 ? seconds : 20, floor_wk;
    double floor_idle = wake_floor_pct(&idle, floor_s, &floor_wk);
    printf("\nfloor: threads that only wake, at each daemon thread's rate (%.0f s)\n", floor_s);
    printf("  idle with a subscriber: %.1f wake-ups/s cost %.3f %% of one core (daemon %.3f %%)\n",
           floor_wk, floor_idle, idle.cpu_pct);
    double floor_rec = wake_floor_pct(&rec, floor_s, &floor_wk);
    printf("  recording:              %.1f wake-ups/s cost %.3f %% of one core (daemon %.3f %%)\n",
           floor_wk, floor_rec, rec.cpu_pct);

out:;
    int wst;
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, &wst, 0);
    }
    if (src > 0) {
        kill(src, SIGTERM);
        waitpid(src, &wst, 0);
    }
    atomic_store(&sub.stop, true);
    if (have_sub) pthread_join(th, NULL);
    zmq_ctx_term(zctx);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
