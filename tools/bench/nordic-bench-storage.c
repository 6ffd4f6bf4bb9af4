/* nordic-bench-storage: size and write cost of trial files with and without
 * byte shuffle + deflate, on realistic noisy load-cell data (the simulator's
 * force model: reps, Gaussian-like noise, baseline; drivers/sim), written
 * through the daemon's real writer (nd_trial_file_append_columns in the
 * ring's batch sizes, a flush every 0.25 s of stream time as the daemon's
 * timer does, close).
 *
 * For each storage variant it reports the bytes of each sample dataset
 * (raw, force_N, seq) and of the file, and the writer's CPU time per second
 * of recorded stream (CLOCK_PROCESS_CPUTIME_ID, so waiting for the disk is
 * not counted; fdatasync's CPU is). The row "no force_N" is the file minus
 * the force_N dataset's bytes, i.e. what the file would take without it.
 *
 * Usage: nordic-bench-storage [--dir DIR] [--seconds S (60)] [--rate HZ (1000)]
 *                             [--nch N (2)] [--noise N_PP (0.4)] */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nd_calibration.h"
#include "nd_sim_model.h"
#include "nd_trial_file.h"

#define BATCH 64 /* sets per append: what the writer typically gets per pass */

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct stream {
    size_t n;
    int nch;
    double rate;
    int32_t *raw;
    double *force;
    uint64_t *seq;
} stream;

static int make_stream(stream *s, double seconds, int rate, int nch, double noise)
{
    nd_sim_settings set;
    nd_sim_settings_default(&set);
    set.rate_hz = (uint32_t)rate;
    set.nch = nch;
    set.reps = 100000; /* reps all through, with the model's rests */
    set.noise_pp_n = noise;
    nd_sim_model model;
    char err[200];
    if (nd_sim_model_init(&model, &set, err, sizeof err) < 0) {
        fprintf(stderr, "sim model: %s\n", err);
        return -1;
    }
    s->n = (size_t)(seconds * rate);
    s->nch = nch;
    s->rate = rate;
    s->raw = malloc(s->n * (size_t)nch * sizeof *s->raw);
    s->force = malloc(s->n * (size_t)nch * sizeof *s->force);
    s->seq = malloc(s->n * sizeof *s->seq);
    if (!s->raw || !s->force || !s->seq) return -1;
    nd_calibration cal;
    double cpn[ND_MAX_CHANNELS];
    for (int c = 0; c < ND_MAX_CHANNELS; c++) cpn[c] = set.counts_per_newton;
    nd_calibration_default(&cal, nch, cpn);
    for (size_t i = 0; i < s->n; i++) {
        nd_sim_model_sample(&model, i, s->raw + i * (size_t)nch, NULL);
        s->seq[i] = i;
        for (int c = 0; c < nch; c++)
            s->force[i * (size_t)nch + (size_t)c] =
                nd_calibration_apply(&cal, c, s->raw[i * (size_t)nch + (size_t)c]);
    }
    return 0;
}

typedef struct result {
    uint64_t ds[3]; /* raw, force_N, seq */
    off_t file_bytes;
    double cpu_per_stream_s;
} result;

static int write_trial(const stream *s, const char *dir, int level, bool periodic_flush, result *r)
{
    nd_trial_meta m;
    nd_trial_meta_init(&m, s->nch);
    snprintf(m.athlete_id, sizeof m.athlete_id, "bench");
    nd_trial_id_generate(m.trial_id, sizeof m.trial_id);
    m.sample_rate_hz = s->rate;
    nd_trial_storage st = {.deflate_level = level};
    char path[PATH_MAX], err[4400];
    double c0 = cpu_s();
    nd_trial_file *tf =
        nd_trial_file_create_with(dir, &m, 0, &st, path, sizeof path, err, sizeof err);
    if (!tf) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    /* A flush every ND_TRIAL_FLUSH_DEFAULT_S of stream time, as the daemon's
     * timer does in real time (the writer's own clock cannot be simulated). */
    size_t flush_every = (size_t)(s->rate * ND_TRIAL_FLUSH_DEFAULT_S);
    if (flush_every < 1) flush_every = 1;
    size_t next_flush = flush_every;
    for (size_t i = 0; i < s->n; i += BATCH) {
        size_t k = s->n - i < BATCH ? s->n - i : BATCH;
        bool flush = periodic_flush && i + k >= next_flush;
        if (flush) next_flush += flush_every;
        if (nd_trial_file_append_columns(tf, s->raw + i * (size_t)s->nch,
                                         s->force + i * (size_t)s->nch, s->seq + i, k, err,
                                         sizeof err) < 0 ||
            (flush && nd_trial_file_flush(tf, err, sizeof err) < 0)) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    }
    if (nd_trial_file_flush(tf, err, sizeof err) < 0 || nd_trial_file_storage_sizes(tf, r->ds) < 0)
        return -1;
    if (nd_trial_file_close(tf, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    r->cpu_per_stream_s = (cpu_s() - c0) / ((double)s->n / s->rate);
    struct stat sb;
    r->file_bytes = stat(path, &sb) == 0 ? sb.st_size : -1;
    unlink(path);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    double seconds = 60, noise = 0.4;
    int rate = 1000, nch = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--nch") && i + 1 < argc)
            nch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--noise") && i + 1 < argc)
            noise = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: nordic-bench-storage [--dir DIR] [--seconds S] [--rate HZ] "
                            "[--nch N] [--noise N_PP]\n");
            return 2;
        }
    }
    if (seconds <= 0 || rate < 10 || rate > 100000 || nch < 1 || nch > ND_MAX_CHANNELS) {
        fprintf(stderr, "nordic-bench-storage: bad --seconds, --rate or --nch\n");
        return 2;
    }
    char tmpdir[] = "/tmp/nordic-bench-storage.XXXXXX";
    if (!dir) {
        if (!mkdtemp(tmpdir)) return 2;
        dir = tmpdir;
    }
    stream s;
    if (make_stream(&s, seconds, rate, nch, noise) < 0) return 1;
    printf("%g s at %d Hz x %d ch, simulator force model, noise %g N peak-to-peak, "
           "through nd_trial_file (flush every 0.25 s of stream time)\n\n",
           seconds, rate, nch, noise);
    printf("%-28s %10s %10s %8s %11s %8s %13s %12s\n", "storage", "raw B", "force_N B", "seq B",
           "file B", "B/set", "writer CPU %", "no force_N B");
    /* The last two rows flush only at close: what compressing a finished
     * file (h5repack, or a rewrite at close) would give. */
    const int levels[] = {0, 1, 4, 6, 0, 1};
    const bool periodic[] = {true, true, true, true, false, false};
    for (size_t k = 0; k < sizeof levels / sizeof *levels; k++) {
        result r;
        if (write_trial(&s, dir, levels[k], periodic[k], &r) < 0) return 1;
        char name[40];
        if (levels[k])
            snprintf(name, sizeof name, "shuffle+deflate %d%s", levels[k],
                     periodic[k] ? "" : ", at close");
        else
            snprintf(name, sizeof name, "uncompressed%s", periodic[k] ? " (today)" : ", at close");
        printf("%-28s %10llu %10llu %8llu %11lld %8.2f %13.4f %12lld\n", name,
               (unsigned long long)r.ds[0], (unsigned long long)r.ds[1],
               (unsigned long long)r.ds[2], (long long)r.file_bytes,
               (double)r.file_bytes / (double)s.n, r.cpu_per_stream_s * 100.0,
               (long long)r.file_bytes - (long long)r.ds[1]);
    }
    printf("\nwriter CPU %% = the writer's CPU time per second of stream, in %% of one core\n");
    if (dir == tmpdir) rmdir(tmpdir);
    free(s.raw);
    free(s.force);
    free(s.seq);
    return 0;
}
