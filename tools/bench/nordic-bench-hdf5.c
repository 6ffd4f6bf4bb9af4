/* nordic-bench-hdf5: sustained append rate of the trial-file writer for 2 and
 * 8 channels, against two peers in the same run on the same disk:
 *   fwrite: the same bytes (raw, force, seq per batch) to a plain file, with
 *           fflush + fdatasync on the same flush timer;
 *   h5py:   tools/bench/bench_hdf5_peer.py appending the same layout, once per
 *           batch and once buffering whole chunks as nd_trial_file does (same chunks,
 *           libver latest, SWMR, same batch size, same flush timer).
 * Also the p99 and max duration of a flush (write partial chunk + H5Dflush x5
 * + fdatasync). Targets: >= 50 % of fwrite, >= 2x h5py.
 *
 * usage: nordic-bench-hdf5 [--dir DIR] [--sets N] [--batch B] [--no-peer] */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nd_calibration.h"
#include "nd_trial_file.h"

#ifndef NORDIC_SOURCE_DIR
#define NORDIC_SOURCE_DIR "."
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct data {
    int nch;
    size_t n;
    int passes; /* the in-memory data is appended this many times */
    int32_t *raw;
    double *force;
    uint64_t *seq;
} data;

static void make_data(data *d, int nch, size_t n)
{
    d->nch = nch;
    d->n = n;
    d->raw = malloc(n * (size_t)nch * sizeof *d->raw);
    d->force = malloc(n * (size_t)nch * sizeof *d->force);
    d->seq = malloc(n * sizeof *d->seq);
    if (!d->raw || !d->force || !d->seq) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        d->seq[i] = i + 3 * (i / 5000);
        for (int ch = 0; ch < nch; ch++) {
            int32_t r = (int32_t)((i * 7919 + (uint64_t)ch * 104729) % 2000003) - 1000000;
            d->raw[i * (size_t)nch + (size_t)ch] = r;
            d->force[i * (size_t)nch + (size_t)ch] = r * 0.001;
        }
    }
}

static size_t bytes_per_set(int nch)
{
    return (size_t)nch * (sizeof(int32_t) + sizeof(double)) + sizeof(uint64_t);
}

/* flush_every == 0: flush on the wall-clock timer (as the daemon does);
 * otherwise after every flush_every sets (simulated time, for flush cost). */
static double run_ours(const data *d, const char *dir, size_t batch, size_t flush_every,
                       nd_trial_file_stats *st)
{
    nd_trial_meta m;
    nd_trial_meta_init(&m, d->nch);
    snprintf(m.athlete_id, sizeof m.athlete_id, "bench");
    nd_trial_id_generate(m.trial_id, sizeof m.trial_id);
    m.sample_rate_hz = 1000;
    char path[PATH_MAX], err[4400];
    double t0 = now_s();
    nd_trial_file *tf = nd_trial_file_create(dir, &m, 0, path, sizeof path, err, sizeof err);
    if (!tf) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    for (int pass = 0; pass < d->passes; pass++)
        for (size_t i = 0; i < d->n; i += batch) {
            size_t k = d->n - i < batch ? d->n - i : batch;
            if (nd_trial_file_append_columns(tf, d->raw + i * (size_t)d->nch,
                                             d->force + i * (size_t)d->nch, d->seq + i, k, err,
                                             sizeof err) < 0 ||
                (flush_every == 0 &&
                 nd_trial_file_maybe_flush(tf, now_ns(), err, sizeof err) < 0) ||
                (flush_every && (i + k) % flush_every < k &&
                 nd_trial_file_flush(tf, err, sizeof err) < 0)) {
                fprintf(stderr, "%s\n", err);
                exit(1);
            }
        }
    nd_trial_file_get_stats(tf, st);
    if (nd_trial_file_close(tf, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    double t = now_s() - t0;
    unlink(path);
    return t;
}

/* The daemon's writer path (nd_writer_thread.c, on_sets): 64-byte sample
 * sets as they sit in the ring, force computed per batch with the
 * calibration, nd_trial_file_append; the flush on the wall-clock timer. */
static double run_daemon_path(const data *d, const char *dir, size_t batch)
{
    nd_trial_meta m;
    nd_trial_meta_init(&m, d->nch);
    snprintf(m.athlete_id, sizeof m.athlete_id, "bench");
    nd_trial_id_generate(m.trial_id, sizeof m.trial_id);
    m.sample_rate_hz = 1000;
    for (int ch = 0; ch < d->nch; ch++) m.calibration.gain[ch] = 0.001;
    nd_sample *sets = calloc(d->n, sizeof *sets);
    double *force = malloc(batch * (size_t)d->nch * sizeof *force);
    if (!sets || !force) exit(1);
    for (size_t i = 0; i < d->n; i++) {
        sets[i].seq = d->seq[i];
        sets[i].nch = (uint8_t)d->nch;
        for (int ch = 0; ch < d->nch; ch++) sets[i].raw[ch] = d->raw[i * (size_t)d->nch + ch];
    }
    char path[PATH_MAX], err[4400];
    double t0 = now_s();
    nd_trial_file *tf = nd_trial_file_create(dir, &m, 0, path, sizeof path, err, sizeof err);
    if (!tf) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    for (int pass = 0; pass < d->passes; pass++)
        for (size_t i = 0; i < d->n; i += batch) {
            size_t k = d->n - i < batch ? d->n - i : batch;
            for (size_t j = 0; j < k; j++)
                for (int ch = 0; ch < d->nch; ch++)
                    force[j * (size_t)d->nch + ch] =
                        nd_calibration_apply(&m.calibration, ch, sets[i + j].raw[ch]);
            if (nd_trial_file_append(tf, sets + i, force, k, err, sizeof err) < 0 ||
                nd_trial_file_maybe_flush(tf, now_ns(), err, sizeof err) < 0) {
                fprintf(stderr, "%s\n", err);
                exit(1);
            }
        }
    if (nd_trial_file_close(tf, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    double t = now_s() - t0;
    unlink(path);
    free(sets);
    free(force);
    return t;
}

static double run_fwrite(const data *d, const char *dir, size_t batch)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/bench-fwrite.bin", dir);
    double t0 = now_s();
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20); /* a strong peer: large stdio buffer */
    uint64_t last = now_ns(), interval = (uint64_t)(ND_TRIAL_FLUSH_DEFAULT_S * 1e9);
    const size_t nch = (size_t)d->nch;
    for (int pass = 0; pass < d->passes; pass++)
        for (size_t i = 0; i < d->n; i += batch) {
            size_t k = d->n - i < batch ? d->n - i : batch;
            fwrite(d->raw + i * nch, sizeof *d->raw, k * nch, f);
            fwrite(d->force + i * nch, sizeof *d->force, k * nch, f);
            fwrite(d->seq + i, sizeof *d->seq, k, f);
            uint64_t t = now_ns();
            if (t - last >= interval) {
                fflush(f);
                fdatasync(fileno(f));
                last = t;
            }
        }
    fflush(f);
    fdatasync(fileno(f));
    fclose(f);
    double t = now_s() - t0;
    unlink(path);
    return t;
}

/* Returns seconds, or -1 when the peer could not run. */
static double run_h5py(int nch, size_t n, const char *dir, size_t batch, const char *mode)
{
    char cmd[PATH_MAX * 3], path[PATH_MAX];
    snprintf(path, sizeof path, "%s/bench-h5py.h5", dir);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/tools/bench/bench_hdf5_peer.py '%s' %d %zu %zu %zu %g %s",
             NORDIC_SOURCE_DIR, path, nch, n, batch, nd_trial_chunk_rows(nch),
             ND_TRIAL_FLUSH_DEFAULT_S, mode);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    double secs = -1;
    size_t sets = 0;
    if (fscanf(p, "%lf %zu", &secs, &sets) != 2 || sets != n) secs = -1;
    if (pclose(p) != 0) secs = -1;
    unlink(path);
    return secs;
}

int main(int argc, char **argv)
{
    signal(SIGXFSZ, SIG_IGN);
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    size_t sets = 4000000, batch = 256;
    int peer = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--sets") == 0 && i + 1 < argc)
            sets = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--no-peer") == 0)
            peer = 0;
        else {
            fprintf(stderr, "usage: %s [--dir DIR] [--sets N] [--batch B] [--no-peer]\n", argv[0]);
            return 2;
        }
    }
    if (sets == 0 || batch == 0) {
        fprintf(stderr, "--sets and --batch must be positive\n");
        return 2;
    }
    printf("nordic-bench-hdf5: %zu sample sets per run, batches of %zu, flush every %g s "
           "(fdatasync), dir %s\n",
           sets, batch, ND_TRIAL_FLUSH_DEFAULT_S, dir);
    int status = 0;
    const int channels[] = {2, 8};
    for (size_t c = 0; c < 2; c++) {
        int nch = channels[c];
        size_t n = nch == 8 ? sets / 2 : sets;
        data d;
        make_data(&d, nch, n);
        d.passes = 4;
        const size_t total = n * (size_t)d.passes;
        double mb = (double)(total * bytes_per_set(nch)) / 1e6;
        double mb_py = (double)(n * bytes_per_set(nch)) / 1e6;
        nd_trial_file_stats st;
        /* Interleave and keep the best of 2 to damp noise from the shared machine. */
        double ours = 1e30, fw = 1e30, py = 1e30, pyc = 1e30, dp = 1e30;
        for (int rep = 0; rep < 2; rep++) {
            double t = run_ours(&d, dir, batch, 0, &st);
            if (t < ours) ours = t;
            t = run_daemon_path(&d, dir, batch);
            if (t < dp) dp = t;
            t = run_fwrite(&d, dir, batch);
            if (t < fw) fw = t;
        }
        /* Flush cost: a 20 kHz device flushed every 0.25 s = 5000 sets per flush. */
        nd_trial_file_stats fst;
        run_ours(&d, dir, batch, 5000, &fst);
        if (peer) {
            double t = run_h5py(nch, n, dir, batch, "batch");
            py = t > 0 ? t : -1;
            t = run_h5py(nch, n, dir, batch, "chunked");
            pyc = t > 0 ? t : -1;
        }
        printf("\n%d channels, %zu sets (%.1f MB) per run; h5py: %zu sets:\n", nch, total, mb, n);
        double r_ours = (double)total / ours, r_fw = (double)total / fw, r_py = (double)n / py;
        double r_dp = (double)total / dp, r_pyc = (double)n / pyc;
        printf("  nd_trial_file (columns)    : %10.0f sets/s %8.1f MB/s\n", r_ours, mb / ours);
        printf("  daemon path (ring sets)    : %10.0f sets/s %8.1f MB/s\n", r_dp, mb / dp);
        printf("  fwrite                     : %10.0f sets/s %8.1f MB/s\n", r_fw, mb / fw);
        if (py > 0)
            printf("  h5py, each batch           : %10.0f sets/s %8.1f MB/s\n", r_py, mb_py / py);
        else if (peer)
            printf("  h5py          : peer failed (needs Debian python3-h5py)\n");
        if (pyc > 0)
            printf("  h5py, whole chunks (fair)  : %10.0f sets/s %8.1f MB/s\n", r_pyc, mb_py / pyc);
        printf("  ratio vs fwrite: %.2f (target >= 0.50)\n", r_ours / r_fw);
        if (py > 0) printf("  ratio vs h5py  : %.2f (target >= 2.00)\n", r_ours / r_py);
        if (pyc > 0)
            printf("  daemon path vs h5py with the same chunk buffering: %.2f\n", r_dp / r_pyc);
        printf("  flush on the 0.25 s timer during the rate run: %llu flushes, p99 %.2f ms, "
               "max %.2f ms\n",
               (unsigned long long)st.flushes, st.flush_p99_ns / 1e6, st.flush_max_ns / 1e6);
        printf("  flush every 5000 sets (20 kHz device, 0.25 s): %llu flushes, p99 %.2f ms, "
               "max %.2f ms\n",
               (unsigned long long)fst.flushes, fst.flush_p99_ns / 1e6, fst.flush_max_ns / 1e6);
        if (r_ours / r_fw < 0.5 || (py > 0 && r_ours / r_py < 2.0)) status = 1;
        free(d.raw);
        free(d.force);
        free(d.seq);
    }
    return status;
}
