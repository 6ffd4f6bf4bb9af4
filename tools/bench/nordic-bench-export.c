/* nordic-bench-export: export time and peak memory of `nordic-trial export`
 * for every format on a long trial, against a peer doing the reading part of
 * the same work in the same run: tools/bench/bench_export_peer.py reads the
 * same datasets with h5py in the same slices (the floor any exporter built
 * on HDF5 pays). Peak RSS is the child's ru_maxrss from wait4().
 *
 * The trial is written with the project's trial writer: MINUTES at RATE Hz
 * with NCH channels (default 60 min, 10 kHz, 8 channels: 36 M sample sets,
 * 3.7 GB), a clock pair every 0.25 s, 10 reps, a few events. Each export is
 * deleted after it is measured.
 *
 * usage: nordic-bench-export [--dir DIR] [--minutes M] [--rate HZ] [--nch N]
 *                            [--formats xdf,csv,bids,club-csv] [--keep] */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nd_trial_file.h"

#ifndef NORDIC_SOURCE_DIR
#define NORDIC_SOURCE_DIR "."
#endif
#ifndef NORDIC_BINARY_DIR
#define NORDIC_BINARY_DIR "."
#endif

#define BATCH 65536

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int make_trial(const char *dir, double minutes, double rate, int nch, char *path,
                      size_t pathlen)
{
    nd_trial_meta m;
    nd_trial_meta_init(&m, nch);
    snprintf(m.trial_id, sizeof m.trial_id, "bench%02d%05d", nch, (int)rate);
    snprintf(m.athlete_id, sizeof m.athlete_id, "bench");
    m.created_utc_s = 1714566896; /* 2024-05-01T12:34:56Z */
    m.sample_rate_hz = rate;
    m.nch = nch;
    snprintf(m.device.model, sizeof m.device.model, "bench");
    snprintf(m.device.serial, sizeof m.device.serial, "BENCH-1");
    for (int ch = 0; ch < nch; ch++) {
        snprintf(m.channel_names[ch], sizeof m.channel_names[ch], "ch%d", ch);
        m.calibration.offset[ch] = 1000.0 * ch;
        m.calibration.gain[ch] = 0.001 * (ch + 1);
    }
    m.calibration.left_channel = 0;
    m.calibration.right_channel = 1;
    m.subject.body_mass_kg = 80;
    m.subject.lever_m = 0.45;
    char err[512];
    nd_trial_file *tf = nd_trial_file_create(dir, &m, 0.5, path, pathlen, err, sizeof err);
    if (!tf) {
        fprintf(stderr, "nordic-bench-export: %s\n", err);
        return -1;
    }
    uint64_t total = (uint64_t)llround(minutes * 60 * rate);
    int32_t *raw = malloc(BATCH * (size_t)nch * sizeof *raw);
    double *force = malloc(BATCH * (size_t)nch * sizeof *force);
    uint64_t *seq = malloc(BATCH * sizeof *seq);
    if (!raw || !force || !seq) return -1;
    uint64_t clock_every = (uint64_t)(rate / 4), mono0 = 1000000000000ull;
    int64_t offset_ns = 1714566896000000000ll - (int64_t)mono0;
    int rc = 0;
    for (uint64_t first = 0; first < total && rc == 0; first += BATCH) {
        size_t n = total - first < BATCH ? (size_t)(total - first) : BATCH;
        for (size_t i = 0; i < n; i++) {
            uint64_t row = first + i;
            seq[i] = row;
            double t = (double)row / rate;
            for (int ch = 0; ch < nch; ch++) {
                /* A slow wave plus a per-sample wiggle: realistic digit counts. */
                int32_t v = (int32_t)(200000 * sin(0.3 * t + ch) + (int32_t)(row * 7919 % 97));
                raw[i * (size_t)nch + (size_t)ch] = v;
                force[i * (size_t)nch + (size_t)ch] =
                    ((double)v - m.calibration.offset[ch]) * m.calibration.gain[ch];
            }
            if (row % clock_every == 0) {
                /* Host clock 20 ppm slow against the device, 50 us of jitter. */
                uint64_t mono = mono0 + (uint64_t)llround(t * 1e9 * (1 + 20e-6)) + row % 50000;
                nd_trial_clock_row c = {.sample_index = row,
                                        .seq = row,
                                        .host_monotonic_ns = mono,
                                        .host_realtime_ns = (int64_t)mono + offset_ns,
                                        .device_time_us = (int64_t)llround(t * 1e6),
                                        .reason = row ? ND_CLOCK_PERIODIC : ND_CLOCK_FIRST};
                if (nd_trial_file_add_clock(tf, &c, err, sizeof err) < 0) rc = -1;
            }
        }
        if (rc == 0 && nd_trial_file_append_columns(tf, raw, force, seq, n, err, sizeof err) < 0)
            rc = -1;
    }
    for (int k = 0; k < 10 && rc == 0; k++) {
        nd_rep_result r;
        memset(&r, 0, sizeof r);
        r.index = (uint32_t)k + 1;
        r.i_open = (uint64_t)((double)total * k / 10);
        r.i_end = r.i_open + (uint64_t)(5 * rate);
        r.peak_N[0] = 300 + k;
        r.peak_N[1] = 280 + k;
        if (nd_trial_file_add_rep(tf, &r, err, sizeof err) < 0 ||
            nd_trial_file_add_event(tf, (double)r.i_open / rate, "mark", "bench", err, sizeof err) <
                0)
            rc = -1;
    }
    nd_trial_summary s;
    memset(&s, 0, sizeof s);
    s.reps = 10;
    s.pain_rating = -1;
    if (nd_trial_file_close(tf, rc == 0 ? &s : NULL, err, sizeof err) < 0) rc = -1;
    if (rc < 0) fprintf(stderr, "nordic-bench-export: %s\n", err);
    free(raw);
    free(force);
    free(seq);
    return rc;
}

/* Runs argv, returns wall seconds, the child's CPU seconds (user + system:
 * the figure that holds on a shared machine) and its peak RSS in MiB. */
static int measure(char *const argv[], double *secs, double *cpu, double *rss_mib)
{
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        /* The tool prints the paths it wrote; keep the table readable. */
        if (!freopen("/dev/null", "w", stdout)) _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) return -1;
    *secs = now_s() - t0;
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    *rss_mib = (double)ru.ru_maxrss / 1024.0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static double tree_bytes;
static int add_size(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)p;
    (void)ftw;
    if (flag == FTW_F) tree_bytes += (double)st->st_size;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *formats = "xdf,csv,bids,club-csv";
    double minutes = 60, rate = 10000;
    int nch = 8, keep = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--minutes") == 0 && i + 1 < argc)
            minutes = atof(argv[++i]);
        else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc)
            rate = atof(argv[++i]);
        else if (strcmp(argv[i], "--nch") == 0 && i + 1 < argc)
            nch = atoi(argv[++i]);
        else if (strcmp(argv[i], "--formats") == 0 && i + 1 < argc)
            formats = argv[++i];
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else {
            fprintf(stderr, "usage: nordic-bench-export [--dir DIR] [--minutes M] [--rate HZ] "
                            "[--nch N] [--formats xdf,csv,bids,club-csv] [--keep]\n");
            return 2;
        }
    }
    if (!(minutes > 0) || !(rate > 0) || nch < 2 || nch > ND_MAX_CHANNELS) {
        fprintf(stderr, "nordic-bench-export: bad --minutes, --rate or --nch\n");
        return 2;
    }
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/nordic-bench-export-XXXXXX", dir ? dir : NORDIC_BINARY_DIR);
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "nordic-bench-export: cannot create a folder in %s: %s\n",
                dir ? dir : NORDIC_BINARY_DIR, strerror(errno));
        return 1;
    }
    char trial[PATH_MAX];
    double t0 = now_s();
    if (make_trial(tmpl, minutes, rate, nch, trial, sizeof trial) < 0) return 1;
    struct stat st;
    stat(trial, &st);
    uint64_t sets = (uint64_t)llround(minutes * 60 * rate);
    printf("trial: %.4g min x %.0f Hz x %d channels = %llu sample sets, %.2f GB HDF5 (written in "
           "%.1f s)\n",
           minutes, rate, nch, (unsigned long long)sets, (double)st.st_size / 1e9, now_s() - t0);
    printf("%-22s %9s %8s %12s %12s %12s\n", "", "wall (s)", "CPU (s)", "sets/CPU-s", "output (GB)",
           "peak RSS");
    fflush(stdout);

    char out[PATH_MAX + 8];
    snprintf(out, sizeof out, "%s/out", tmpl);
    int rc = 0;
    char list[128];
    snprintf(list, sizeof list, "%s", formats);
    for (char *save = NULL, *fmt = strtok_r(list, ",", &save); fmt;
         fmt = strtok_r(NULL, ",", &save)) {
        mkdir(out, 0755);
        char tool[PATH_MAX];
        snprintf(tool, sizeof tool, "%s/tools/nordic-trial", NORDIC_BINARY_DIR);
        char *args[] = {tool, "export", trial, "--format", fmt, "--out", out, NULL};
        double secs = 0, cpu = 0, rss = 0;
        if (measure(args, &secs, &cpu, &rss) < 0) {
            fprintf(stderr, "nordic-bench-export: export --format %s failed\n", fmt);
            rc = 1;
        }
        tree_bytes = 0;
        nftw(out, add_size, 16, FTW_PHYS);
        char label[64];
        snprintf(label, sizeof label, "export --format %s", fmt);
        printf("%-22s %9.1f %8.1f %12.3g %12.2f %8.1f MiB\n", label, secs, cpu, (double)sets / cpu,
               tree_bytes / 1e9, rss);
        fflush(stdout);
        if (!keep) nftw(out, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    char peer[PATH_MAX];
    snprintf(peer, sizeof peer, "%s/tools/bench/bench_export_peer.py", NORDIC_SOURCE_DIR);
    char *pargs[] = {"/usr/bin/python3", peer, trial, NULL};
    double secs = 0, cpu = 0, rss = 0;
    if (measure(pargs, &secs, &cpu, &rss) < 0) {
        fprintf(stderr, "nordic-bench-export: peer %s failed\n", peer);
        rc = 1;
    } else {
        printf("%-22s %9.1f %8.1f %12.3g %12s %8.1f MiB\n", "peer: h5py slice read", secs, cpu,
               (double)sets / cpu, "-", rss);
    }
    if (!keep) nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
