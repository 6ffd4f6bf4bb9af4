/* nordic-bench-metrics: cost per 2-channel sample set of the live metrics
 * path (calibration + Butterworth filter + rep detection + per-rep metrics)
 * on realistic Nordic rep data, single thread, compared in the same run with
 * a peer: the same pipeline in SciPy/numpy (tools/bench/bench_metrics_peer.py,
 * scipy.signal.lfilter + numpy rep detection, Debian python3-scipy). Prints
 * ns/set for both, the ratio, and whether both found the same reps.
 *
 * Usage: nordic-bench-metrics [--sets N] [--fs HZ] [--runs R] [--python PATH]
 *                             [--peer SCRIPT] */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nd_calibration.h"
#include "nd_metrics.h"

#ifndef NORDIC_SOURCE_DIR
#define NORDIC_SOURCE_DIR "."
#endif

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double uniform(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) * 0x1.0p-53;
}

/* Raw counts of a session of reps (domain figures): rest 1-3 s, rise
 * 1.5-4 s to 220-420 N, drop in 0.3-0.8 s, the right leg 0-30 % off, noise
 * of a few counts, amplifier offsets of thousands of counts. */
static void generate(int32_t *raw, size_t n, double fs, const nd_calibration *cal)
{
    size_t i = 0;
    while (i < n) {
        size_t rest = (size_t)((1 + 2 * uniform()) * fs);
        double peak = 220 + 200 * uniform(), ratio = 0.7 + 0.6 * uniform();
        double rise = 1.5 + 2.5 * uniform(), fall = 0.3 + 0.5 * uniform();
        size_t nr = (size_t)(rise * fs), nf = (size_t)(fall * fs);
        for (size_t k = 0; k < rest + nr + nf && i < n; k++, i++) {
            double f = 0;
            if (k >= rest) {
                double t = (double)(k - rest) / fs;
                f = t < rise ? peak * pow(t / rise, 1.5) : peak * (1 - (t - rise) / fall);
            }
            double fl = f + 2 * uniform(), fr = f * ratio + 2 * uniform();
            raw[2 * i] = (int32_t)lround(fl / cal->gain[0] + cal->offset[0]);
            raw[2 * i + 1] = (int32_t)lround(fr / cal->gain[1] + cal->offset[1]);
        }
    }
}

typedef struct {
    uint64_t i_open, i_end, i_peak[2];
    double peak[2], impulse[2];
} rep_brief;

static long run_ours(const int32_t *raw, size_t n, double fs, const nd_metric_settings *s,
                     const nd_calibration *cal, rep_brief *reps, size_t max)
{
    nd_subject subj = {80, 0.45, ND_SIDE_NONE};
    nd_metrics *m = nd_metrics_create(s, fs, &subj);
    if (!m) return -1;
    nd_rep_result r;
    long found = 0;
    const int lc = cal->left_channel, rc = cal->right_channel;
    for (size_t i = 0; i <= n; i++) {
        int closed = i < n ? nd_metrics_push(m, nd_calibration_apply(cal, lc, raw[2 * i + lc]),
                                             nd_calibration_apply(cal, rc, raw[2 * i + rc]), &r)
                           : nd_metrics_finish(m, &r);
        if (closed) {
            if ((size_t)found < max) {
                rep_brief *b = &reps[found];
                b->i_open = r.i_open;
                b->i_end = r.i_end;
                for (int leg = 0; leg < 2; leg++) {
                    b->i_peak[leg] = r.i_peak[leg];
                    b->peak[leg] = r.peak_N[leg];
                    b->impulse[leg] = r.impulse_Ns[leg];
                }
            }
            found++;
        }
    }
    nd_metrics_destroy(m);
    return found;
}

static char *read_all(FILE *f)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    if (buf) buf[len] = 0;
    return buf;
}

int main(int argc, char **argv)
{
    size_t n = 4000000;
    double fs = 1000;
    int runs = 5;
    const char *python = "/usr/bin/python3";
    const char *peer = NORDIC_SOURCE_DIR "/tools/bench/bench_metrics_peer.py";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sets") == 0 && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--fs") == 0 && i + 1 < argc)
            fs = atof(argv[++i]);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--python") == 0 && i + 1 < argc)
            python = argv[++i];
        else if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc)
            peer = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--sets N] [--fs HZ] [--runs R] [--python PATH] [--peer SCRIPT]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n < 1000 || !(fs >= 10 && fs <= 100000) || runs < 1) {
        fprintf(stderr,
                "nordic-bench-metrics: need --sets >= 1000, 10 <= --fs <= 1e5, --runs >= 1\n");
        return 2;
    }
    nd_metric_settings s;
    nd_metric_settings_default(&s);
    nd_calibration cal;
    const double cpn[2] = {213.7, 198.2};
    nd_calibration_default(&cal, 2, cpn);
    cal.offset[0] = 8123.0;
    cal.offset[1] = -4411.0;

    int32_t *raw = malloc(n * 2 * sizeof *raw);
    size_t max_reps = n / (size_t)fs + 16;
    rep_brief *ours = calloc(max_reps, sizeof *ours);
    if (!raw || !ours) {
        fprintf(stderr, "nordic-bench-metrics: out of memory\n");
        return 1;
    }
    generate(raw, n, fs, &cal);

    /* Ours: best of `runs` full passes (first pass warms caches and pages). */
    uint64_t best = UINT64_MAX;
    long reps = 0;
    for (int r = 0; r < runs; r++) {
        uint64_t t0 = now_ns();
        reps = run_ours(raw, n, fs, &s, &cal, ours, max_reps);
        uint64_t dt = now_ns() - t0;
        if (dt < best) best = dt;
    }
    double ours_ns = (double)best / (double)n;
    printf("nordic-bench-metrics: %zu sets of 2 channels at %g Hz, %ld reps, best of %d\n", n, fs,
           reps, runs);
    printf("  nordicd  calibration+filter+reps+metrics: %7.2f ns/set (%.1f M sets/s)\n", ours_ns,
           1e3 / ours_ns);

    /* Peer on the same raw data. */
    char path[] = "/tmp/nordic-bench-metrics.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, raw, n * 2 * sizeof *raw) != (ssize_t)(n * 2 * sizeof *raw)) {
        fprintf(stderr, "nordic-bench-metrics: cannot write the peer's input %s\n", path);
        return 1;
    }
    close(fd);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 '%s' '%s' --fs %.17g --cutoff %.17g "
             "--on %.17g --off %.17g --hold %.17g --min-rep %.17g --impulse-threshold %.17g "
             "--offset-left %.17g --gain-left %.17g --offset-right %.17g --gain-right %.17g "
             "--runs %d '%s'",
             python, peer, fs, s.cutoff_hz, s.on_N, s.off_N, s.hold_s, s.min_rep_s,
             s.impulse_threshold_N, cal.offset[0], cal.gain[0], cal.offset[1], cal.gain[1], runs,
             path);
    FILE *p = popen(cmd, "r");
    char *out = p ? read_all(p) : NULL;
    int status = p ? pclose(p) : -1;
    unlink(path);
    cJSON *j = out && status == 0 ? cJSON_Parse(out) : NULL;
    cJSON *jns = cJSON_GetObjectItem(j, "ns_per_set"), *jreps = cJSON_GetObjectItem(j, "reps");
    cJSON *jname = cJSON_GetObjectItem(j, "peer");
    if (!cJSON_IsNumber(jns) || !cJSON_IsArray(jreps) || !cJSON_IsString(jname)) {
        fprintf(stderr,
                "nordic-bench-metrics: the peer (%s %s) failed (status %d); is python3-scipy "
                "installed?\n",
                python, peer, status);
        return 1;
    }
    double peer_ns = jns->valuedouble;
    printf("  peer     %s: %7.2f ns/set\n", jname->valuestring, peer_ns);
    printf("  ratio    peer/nordicd = %.1fx\n", peer_ns / ours_ns);

    /* Same answers? Boundaries and peak indices exact, values to 1e-9. */
    int peer_reps = cJSON_GetArraySize(jreps), mismatches = 0;
    double worst = 0;
    for (int k = 0; k < peer_reps && k < reps && (size_t)k < max_reps; k++) {
        cJSON *row = cJSON_GetArrayItem(jreps, k);
        double v[8];
        for (int c = 0; c < 8; c++) v[c] = cJSON_GetArrayItem(row, c)->valuedouble;
        const rep_brief *b = &ours[k];
        bool same = (uint64_t)v[0] == b->i_open && (uint64_t)v[1] == b->i_end &&
                    (uint64_t)v[3] == b->i_peak[0] && (uint64_t)v[6] == b->i_peak[1];
        double d[4] = {v[2] - b->peak[0], v[4] - b->impulse[0], v[5] - b->peak[1],
                       v[7] - b->impulse[1]};
        for (int c = 0; c < 4; c++) worst = fmax(worst, fabs(d[c]));
        mismatches += !same;
    }
    printf("  agreement: reps %ld vs %d, %d with different boundaries or peak index, "
           "max |value difference| %.3g\n",
           reps, peer_reps, mismatches, worst);
    printf("  target <= 50 ns/set: %s\n", ours_ns <= 50 ? "met" : "NOT met");
    cJSON_Delete(j);
    free(out);
    free(raw);
    free(ours);
    return reps == peer_reps && mismatches == 0 && worst < 1e-6 ? 0 : 1;
}
