/* nordic-test-trial-writer: writes trial files with known deterministic data
 * for the h5py and crash tests (tests/test_trial_*.py).
 *
 *   nordic-test-trial-writer fixed DIR NCH NSETS
 *       one complete trial: NSETS sample sets, 3 reps, 4 events, a summary.
 *   nordic-test-trial-writer stream DIR NCH INTERVAL_S PROGRESS_FILE
 *       records until killed, logging to PROGRESS_FILE with write(2) (so it
 *       survives kill -9) the producer's own view, not the library's stats:
 *       "A <rows handed over> <CLOCK_MONOTONIC ns>" after every append, and
 *       "F <rows handed over>" after every flush call that reported a flush.
 *
 * Prints the trial file's path on stdout first. Row i holds
 *   seq = i + 3 * (i / 5000)                      (a gap of 3 every 5000 sets)
 *   raw[ch] = ((i * 7919 + ch * 104729) % 2000003) - 1000000
 *   force_N[ch] = (raw - offset[ch]) * gain[ch], offset = 100*ch + 12.5,
 *                 gain = 0.001 * (ch + 1). */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nd_trial_file.h"

static void fill_meta(nd_trial_meta *m, int nch)
{
    nd_trial_meta_init(m, nch);
    snprintf(m->athlete_id, sizeof m->athlete_id, "ath-01.x_Y");
    nd_trial_id_generate(m->trial_id, sizeof m->trial_id);
    snprintf(m->software_version, sizeof m->software_version, "fixture 1");
    snprintf(m->device.model, sizeof m->device.model, "Sim Board Ω");
    snprintf(m->device.serial, sizeof m->device.serial, "SN-0042");
    snprintf(m->device.fw, sizeof m->device.fw, "1.2.3");
    m->sample_rate_hz = 1000.0;
    for (int ch = 0; ch < nch; ch++) {
        m->calibration.offset[ch] = 100.0 * ch + 12.5;
        m->calibration.gain[ch] = 0.001 * (ch + 1);
        m->device.counts_per_newton[ch] = 1000.0 / (ch + 1);
    }
    snprintf(m->calibration.device_serial, sizeof m->calibration.device_serial, "SN-0042");
    m->calibration.left_channel = 0;
    m->calibration.right_channel = nch > 1 ? 1 : 0;
    m->subject.body_mass_kg = 80.5;
    m->subject.lever_m = 0.45;
    m->subject.injured_side = ND_SIDE_RIGHT;
    snprintf(m->protocol, sizeof m->protocol, "1x3 maximal");
    snprintf(m->notes, sizeof m->notes, "fixture trial – ünïcode ok");
}

static void make_rows(const nd_trial_meta *m, uint64_t first, size_t n, int32_t *raw, double *force,
                      uint64_t *seq)
{
    for (size_t k = 0; k < n; k++) {
        uint64_t i = first + k;
        seq[k] = i + 3 * (i / 5000);
        for (int ch = 0; ch < m->nch; ch++) {
            int32_t r = (int32_t)((i * 7919 + (uint64_t)ch * 104729) % 2000003) - 1000000;
            raw[k * (size_t)m->nch + (size_t)ch] = r;
            force[k * (size_t)m->nch + (size_t)ch] =
                ((double)r - m->calibration.offset[ch]) * m->calibration.gain[ch];
        }
    }
}

static void make_rep(uint32_t index, nd_rep_result *r)
{
    memset(r, 0, sizeof *r);
    r->index = index;
    r->i_open = 1000 * index;
    r->i_end = 1000 * index + 700;
    r->t_open_s = r->i_open / 1000.0;
    r->t_end_s = r->i_end / 1000.0;
    r->peak_N[0] = 300.0 + index;
    r->peak_N[1] = 280.0 + 0.5 * index;
    r->i_peak[0] = r->i_open + 400;
    r->i_peak[1] = r->i_open + 410;
    r->t_peak_s[0] = r->i_peak[0] / 1000.0;
    r->t_peak_s[1] = r->i_peak[1] / 1000.0;
    r->asymmetry_pct = 100.0 * (r->peak_N[0] - r->peak_N[1]) / r->peak_N[0];
    r->abs_asymmetry_pct = fabs(r->asymmetry_pct);
    r->weaker_side = ND_SIDE_RIGHT;
    r->lsi_pct = 100.0 * r->peak_N[1] / r->peak_N[0];
    for (int s = 0; s < 2; s++) {
        r->torque_Nm[s] = r->peak_N[s] * 0.45;
        r->rel_force_N_per_kg[s] = r->peak_N[s] / 80.5;
        r->time_to_peak_s[s] = r->t_peak_s[s] - r->t_open_s;
        r->rfd_N_per_s[s] = r->peak_N[s] / r->time_to_peak_s[s];
        r->impulse_Ns[s] = 100.0 + index + s;
    }
    if (index == 3) r->lsi_pct = NAN; /* NaN must survive the round trip */
}

static int fixed(const char *dir, int nch, size_t nsets)
{
    nd_trial_meta m;
    fill_meta(&m, nch);
    char path[4096], err[1024];
    nd_trial_file *tf = nd_trial_file_create(dir, &m, 0, path, sizeof path, err, sizeof err);
    if (!tf) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%s\n", path);
    fflush(stdout);
    const size_t batch = 777; /* odd size: crosses chunk boundaries unevenly */
    int32_t *raw = malloc(batch * (size_t)nch * sizeof *raw);
    double *force = malloc(batch * (size_t)nch * sizeof *force);
    uint64_t *seq = malloc(batch * sizeof *seq);
    int rc = 0;
    for (size_t done = 0; done < nsets && rc == 0;) {
        size_t k = nsets - done < batch ? nsets - done : batch;
        make_rows(&m, done, k, raw, force, seq);
        rc = nd_trial_file_append_columns(tf, raw, force, seq, k, err, sizeof err);
        done += k;
        if (done % (batch * 10) == 0 && rc == 0) rc = nd_trial_file_flush(tf, err, sizeof err);
    }
    const char *kinds[] = {"tare", "gap", "mark", "pain"};
    const char *details[] = {"offset set", "count=3", "operator: good rep ✓", "rating=2"};
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = nd_trial_file_add_event(tf, 0.5 * i, kinds[i], details[i], err, sizeof err);
    for (uint32_t i = 1; i <= 3 && rc == 0; i++) {
        nd_rep_result r;
        make_rep(i, &r);
        rc = nd_trial_file_add_rep(tf, &r, err, sizeof err);
    }
    nd_trial_summary s;
    memset(&s, 0, sizeof s);
    s.reps = 3;
    s.discarded_reps = 1;
    s.max_N[0] = 303.0;
    s.max_N[1] = 281.5;
    s.mean_N[0] = 302.0;
    s.mean_N[1] = 281.0;
    s.asymmetry_pct = 100.0 * (303.0 - 281.5) / 303.0;
    s.abs_asymmetry_pct = s.asymmetry_pct;
    s.weaker_side = ND_SIDE_RIGHT;
    s.lsi_pct = 100.0 * 281.5 / 303.0;
    s.torque_max_Nm[0] = 303.0 * 0.45;
    s.torque_max_Nm[1] = 281.5 * 0.45;
    s.rel_force_max_N_per_kg[0] = 303.0 / 80.5;
    s.rel_force_max_N_per_kg[1] = 281.5 / 80.5;
    s.weak_left = false;
    s.weak_right = false;
    s.imbalance = false;
    s.pain = false;
    s.pain_rating = 2;
    s.samples = nsets;
    s.nonfinite_skipped = 0;
    if (rc == 0)
        rc = nd_trial_file_close(tf, &s, err, sizeof err);
    else
        nd_trial_file_close(tf, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    free(raw);
    free(force);
    free(seq);
    return rc ? 1 : 0;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static uint64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int stream(const char *dir, int nch, double interval, const char *progress)
{
    nd_trial_meta m;
    fill_meta(&m, nch);
    char path[4096], err[1024];
    int pfd = open(progress, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (pfd < 0) {
        perror(progress);
        return 1;
    }
    nd_trial_file *tf = nd_trial_file_create(dir, &m, interval, path, sizeof path, err, sizeof err);
    if (!tf) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%s\n", path);
    fflush(stdout);
    enum { BATCH = 64 };
    int32_t raw[BATCH * ND_MAX_CHANNELS];
    double force[BATCH * ND_MAX_CHANNELS];
    uint64_t seq[BATCH];
    uint64_t written = 0;
    for (uint32_t iter = 0;; iter++) {
        make_rows(&m, written, BATCH, raw, force, seq);
        if (nd_trial_file_append_columns(tf, raw, force, seq, BATCH, err, sizeof err) < 0) break;
        written += BATCH;
        char line[64];
        int len = snprintf(line, sizeof line, "A %llu %llu\n", (unsigned long long)written,
                           (unsigned long long)monotonic_ns());
        if (write(pfd, line, (size_t)len) != len) break;
        if (iter % 200 == 7) {
            char detail[64];
            snprintf(detail, sizeof detail, "at row %llu", (unsigned long long)written);
            nd_trial_file_add_event(tf, (double)written / 1000.0, "mark", detail, err, sizeof err);
        }
        int f = nd_trial_file_maybe_flush(tf, monotonic_ns(), err, sizeof err);
        if (f < 0) break;
        if (f == 1) {
            len = snprintf(line, sizeof line, "F %llu\n", (unsigned long long)written);
            if (write(pfd, line, (size_t)len) != len) break;
        }
        sleep_us(500); /* about 128 000 sets/s: fast enough to fill chunks */
    }
    fprintf(stderr, "%s\n", err);
    nd_trial_file_close(tf, NULL, err, sizeof err);
    return 1;
}

int main(int argc, char **argv)
{
    signal(SIGXFSZ, SIG_IGN);
    if (argc == 5 && strcmp(argv[1], "fixed") == 0)
        return fixed(argv[2], atoi(argv[3]), (size_t)strtoull(argv[4], NULL, 10));
    if (argc == 6 && strcmp(argv[1], "stream") == 0)
        return stream(argv[2], atoi(argv[3]), atof(argv[4]), argv[5]);
    fprintf(stderr,
            "usage: %s fixed DIR NCH NSETS\n"
            "       %s stream DIR NCH INTERVAL_S PROGRESS_FILE\n",
            argv[0], argv[0]);
    return 2;
}
