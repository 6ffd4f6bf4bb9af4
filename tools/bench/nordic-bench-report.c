/* nordic-bench-report: nordic-report on a batch of trial files against the
 * h5py + numpy peer (tools/report/nordic_report_example.py) doing the same work in
 * the same run: open every file, read the calibrated force, recompute reps
 * and headline metrics with the stored settings, write a per-trial CSV.
 *
 *   nordic-bench-report [--files 1000] [--seconds 60] [--rate 1000]
 *                       [--dir DIR] [--keep] [--runs 3]
 *
 * The files (2 channels, simulated reps) are generated first by
 * nordic-report-gen's code and are not part of any timing. Both sides then
 * read them from the page cache (one untimed warm-up pass). Prints wall time,
 * files/s and the ratio, and checks that both found the same reps and maxima. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nd_log.h"
#include "report_gen.h"

#ifndef NORDIC_BINARY_DIR
#define NORDIC_BINARY_DIR "."
#endif
#ifndef NORDIC_SOURCE_DIR
#define NORDIC_SOURCE_DIR "."
#endif

typedef struct gen_job {
    const char *dir;
    long files;
    double seconds, rate;
    atomic_long next;
    atomic_int failed;
} gen_job;

static void *gen_worker(void *arg)
{
    gen_job *j = arg;
    for (;;) {
        long k = atomic_fetch_add(&j->next, 1);
        if (k >= j->files || atomic_load(&j->failed)) break;
        nd_report_gen g;
        nd_report_gen_default(&g);
        char athlete[32], path[4096], err[512];
        snprintf(athlete, sizeof athlete, "bench-%03ld", k % 50); /* 50 athletes, 20 tests each */
        g.athlete_id = athlete;
        g.created_utc_s += (k / 50) * 7 * 86400 + k % 50;
        g.seconds = j->seconds;
        g.rate_hz = j->rate;
        g.reps = 5;
        g.seed = (uint64_t)k + 1;
        g.peak_left_N = 280 + (double)(k % 7) * 20;
        g.peak_right_N = 260 + (double)(k % 5) * 25;
        if (nd_report_gen_write(j->dir, &g, path, sizeof path, err, sizeof err)) {
            fprintf(stderr, "nordic-bench-report: generating: %s\n", err);
            atomic_store(&j->failed, 1);
        }
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds (user + system) of the last timed_run's child. */
static double last_cpu_s;

/* Runs argv with stdout/stderr to /dev/null; returns wall seconds or -1. */
static double timed_run(char *const argv[], int want_rc)
{
    fflush(stdout); /* or the child's exit would print our buffer again */
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) < 0) return -1;
    double dt = now_s() - t0;
    last_cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != want_rc) {
        fprintf(stderr, "nordic-bench-report: %s exited with %d\n", argv[0],
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return -1;
    }
    return dt;
}

/* Per-file (reps, max_left_N) from a CSV with a header; quoted fields allowed. */
typedef struct row {
    char file[512];
    long reps;
    double max_left;
} row;

static size_t split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        char *w = p;
        fields[n++] = w;
        bool quoted = *p == '"';
        if (quoted) p++;
        for (; *p; p++) {
            if (quoted && *p == '"' && p[1] == '"') {
                *w++ = '"';
                p++;
            } else if (quoted && *p == '"') {
                quoted = false;
            } else if (!quoted && (*p == ',' || *p == '\n' || *p == '\r')) {
                break;
            } else {
                *w++ = *p;
            }
        }
        char end = *p;
        *w = '\0';
        if (end != ',') break;
        p++;
    }
    return n;
}

static int cmp_row(const void *a, const void *b)
{
    return strcmp(((const row *)a)->file, ((const row *)b)->file);
}

static long read_rows(const char *path, row **out)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[8192], *fields[64];
    int c_file = -1, c_reps = -1, c_max = -1;
    long n = 0, cap = 0;
    row *rows = NULL;
    if (fgets(line, sizeof line, f)) {
        size_t k = split(line, fields, 64);
        for (size_t i = 0; i < k; i++) {
            if (!strcmp(fields[i], "file")) c_file = (int)i;
            if (!strcmp(fields[i], "reps")) c_reps = (int)i;
            if (!strcmp(fields[i], "max_left_N")) c_max = (int)i;
        }
    }
    while (c_file >= 0 && c_reps >= 0 && c_max >= 0 && fgets(line, sizeof line, f)) {
        size_t k = split(line, fields, 64);
        if (k <= (size_t)c_max || k <= (size_t)c_reps) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            row *r = realloc(rows, (size_t)cap * sizeof *r);
            if (!r) break;
            rows = r;
        }
        snprintf(rows[n].file, sizeof rows[n].file, "%s", fields[c_file]);
        rows[n].reps = strtol(fields[c_reps], NULL, 10);
        rows[n].max_left = strtod(fields[c_max], NULL);
        n++;
    }
    fclose(f);
    if (rows) qsort(rows, (size_t)n, sizeof *rows, cmp_row);
    *out = rows;
    return n;
}

static int agree(const char *c_csv, const char *py_csv, long files)
{
    row *a = NULL, *b = NULL;
    long na = read_rows(c_csv, &a), nb = read_rows(py_csv, &b);
    int ok = na == files && nb == files;
    long reps = 0;
    double worst = 0;
    for (long i = 0; ok && i < na; i++) {
        double d = fabs(a[i].max_left - b[i].max_left);
        if (strcmp(a[i].file, b[i].file) || a[i].reps != b[i].reps || !(d <= 1e-6)) ok = 0;
        if (d > worst) worst = d;
        reps += a[i].reps;
    }
    printf("agreement: %ld / %ld trials, %ld reps, max |diff| of max_left_N %.3g N: %s\n", na, nb,
           reps, worst, ok ? "same" : "DIFFERENT");
    free(a);
    free(b);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    signal(SIGXFSZ, SIG_IGN);
    nd_log_set_level(ND_LOG_WARNING);
    long files = 1000;
    double seconds = 60, rate = 1000;
    int runs = 3, keep = 0;
    const char *dir_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--keep")) {
            keep = 1;
        } else if (i + 1 < argc && !strcmp(o, "--files")) {
            files = atol(argv[++i]);
        } else if (i + 1 < argc && !strcmp(o, "--seconds")) {
            seconds = atof(argv[++i]);
        } else if (i + 1 < argc && !strcmp(o, "--rate")) {
            rate = atof(argv[++i]);
        } else if (i + 1 < argc && !strcmp(o, "--runs")) {
            runs = atoi(argv[++i]);
        } else if (i + 1 < argc && !strcmp(o, "--dir")) {
            dir_arg = argv[++i];
        } else {
            fprintf(stderr, "usage: nordic-bench-report [--files N] [--seconds S] [--rate HZ] "
                            "[--runs N] [--dir DIR] [--keep]\n");
            return 2;
        }
    }
    if (files < 1 || !(seconds > 0) || !(rate >= 10) || runs < 1) {
        fprintf(stderr, "nordic-bench-report: --files >= 1, --seconds > 0, --rate >= 10, "
                        "--runs >= 1\n");
        return 2;
    }
    char base[4096];
    if (dir_arg) {
        snprintf(base, sizeof base, "%s", dir_arg);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(base, sizeof base, "%s/nordic-bench-report.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(base)) {
            perror("mkdtemp");
            return 1;
        }
    }
    char data[4200], out_c[4200], py_csv[4200];
    snprintf(data, sizeof data, "%s/trials", base);
    snprintf(out_c, sizeof out_c, "%s/report", base);
    snprintf(py_csv, sizeof py_csv, "%s/peer.csv", base);
    if (mkdir(data, 0755) < 0 && errno != EEXIST) {
        perror(data);
        return 1;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    printf("nordic-bench-report: %ld files x %g s x 2 channels at %g Hz (%.1f M sample sets), "
           "%ld cores\n",
           files, seconds, rate, (double)files * seconds * rate / 1e6, cores);
    fflush(stdout);
    double t0 = now_s();
    gen_job job = {.dir = data, .files = files, .seconds = seconds, .rate = rate};
    atomic_init(&job.next, 0);
    atomic_init(&job.failed, 0);
    pthread_t th[64];
    long nth = cores < 64 ? cores : 64;
    for (long i = 0; i < nth; i++) pthread_create(&th[i], NULL, gen_worker, &job);
    for (long i = 0; i < nth; i++) pthread_join(th[i], NULL);
    if (atomic_load(&job.failed)) return 1;
    printf("generated in %.1f s (not timed below)\n", now_s() - t0);

    char tool[4200], jobs_all[32], python[] = "/usr/bin/python3";
    snprintf(tool, sizeof tool, "%s/tools/nordic-report", NORDIC_BINARY_DIR);
    char script[4200];
    snprintf(script, sizeof script, "%s/tools/report/nordic_report_example.py", NORDIC_SOURCE_DIR);
    snprintf(jobs_all, sizeof jobs_all, "%ld", cores);
    char *c_all[] = {tool, "--recompute", "--no-progress", "-j", jobs_all, "-o", out_c, data, NULL};
    char *c_one[] = {tool, "--recompute", "--no-progress", "-j", "1", "-o", out_c, data, NULL};
    char *peer[] = {python, script, "--csv", py_csv, data, NULL};

    if (timed_run(c_all, 0) < 0) return 1; /* warm-up: page cache, dynamic loader */
    double best_all = INFINITY, best_one = INFINITY, best_py = INFINITY;
    double cpu_all = INFINITY, cpu_one = INFINITY, cpu_py = INFINITY;
    for (int r = 0; r < runs; r++) {
        double a = timed_run(c_all, 0);
        double ca = last_cpu_s;
        double b = timed_run(c_one, 0);
        if (a < 0 || b < 0) return 1;
        best_all = fmin(best_all, a);
        best_one = fmin(best_one, b);
        cpu_all = fmin(cpu_all, ca);
        cpu_one = fmin(cpu_one, last_cpu_s);
    }
    int py_runs = runs > 1 ? 2 : 1; /* the peer is slow: fewer repetitions */
    for (int r = 0; r < py_runs; r++) {
        double p = timed_run(peer, 0);
        if (p < 0) return 1;
        best_py = fmin(best_py, p);
        cpu_py = fmin(cpu_py, last_cpu_s);
    }
    char c_csv[4300];
    snprintf(c_csv, sizeof c_csv, "%s/trials.csv", out_c);
    int same = agree(c_csv, py_csv, files);
    printf("%-34s %8s %13s %9s %14s\n", "", "wall", "", "CPU", "files/CPU-s");
    printf("%-34s %8.2f s %9.1f files/s %7.2f s %9.1f\n", "nordic-report --recompute -j 1",
           best_one, files / best_one, cpu_one, files / cpu_one);
    printf("%-34s %8.2f s %9.1f files/s %7.2f s %9.1f\n", "h5py + numpy peer (1 process)", best_py,
           files / best_py, cpu_py, files / cpu_py);
    char all_name[64];
    snprintf(all_name, sizeof all_name, "nordic-report --recompute -j %ld", cores);
    printf("%-34s %8.2f s %9.1f files/s %7.2f s %9.1f\n", all_name, best_all, files / best_all,
           cpu_all, files / cpu_all);
    /* Per core is the like-for-like figure: one process each. The -j N row
     * uses N cores against the peer's one, so it is shown beside, not as the
     * ratio. */
    printf("ratio per core (-j 1 vs the one-process peer): %.1fx wall, %.1fx CPU (target >= 5x)\n",
           best_py / best_one, cpu_py / cpu_one);
    printf("beside it: -j %ld vs the one-process peer: %.1fx wall (%ld cores against 1)\n", cores,
           best_py / best_all, cores);
    if (!keep && !dir_arg) {
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", base);
    } else {
        printf("files kept in %s\n", base);
    }
    return same == 0 ? 0 : 1;
}
