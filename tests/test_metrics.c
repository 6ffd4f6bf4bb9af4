/* METRICS.md 4.4-4.8 metrics on signals whose answers are known independently:
 * closed forms with the filter off, and with it on a second implementation
 * in this file (long double difference equation, reps found by scanning the
 * definition directly, metrics by plain loops). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nd_metrics.h"
#include "test_util.h"

#define MAXN 400000
static double L[MAXN], R[MAXN];
static size_t n_samples;

/* ---- signal building ---- */
static void sig_reset(void)
{
    n_samples = 0;
}
static void sig_push(double l, double r)
{
    if (n_samples < MAXN) {
        L[n_samples] = l;
        R[n_samples] = r;
        n_samples++;
    }
}
static void sig_const(size_t count, double l, double r)
{
    for (size_t i = 0; i < count; i++) sig_push(l, r);
}
/* A rep shape in seconds: rise over rise_s to peaks pl/pr, hold, fall. */
static void sig_rep(double fs, double base, double pl, double pr, double rise_s, double hold_s,
                    double fall_s)
{
    size_t nr = (size_t)llround(rise_s * fs), nh = (size_t)llround(hold_s * fs),
           nf = (size_t)llround(fall_s * fs);
    for (size_t k = 0; k < nr; k++) {
        double a = (double)k / (double)nr;
        sig_push(base + (pl - base) * a, base + (pr - base) * a);
    }
    for (size_t k = 0; k < nh; k++) sig_push(pl, pr);
    for (size_t k = 0; k < nf; k++) {
        double a = 1.0 - (double)k / (double)nf;
        sig_push(base + (pl - base) * a, base + (pr - base) * a);
    }
}

/* ---- the independent reference ---- */
typedef struct {
    size_t open, end;
    double peak[2], fopen[2], impulse[2];
    size_t ipeak[2];
} ref_rep;

static double FL[MAXN], FR[MAXN];
static unsigned char VALID[MAXN];

static void ref_filter(double fc, double fs, const double *x, double *y)
{
    if (fc >= 0.45 * fs) {
        for (size_t i = 0; i < n_samples; i++) y[i] = x[i];
        return;
    }
    /* Analog prototype poles at wa e^{+-j3pi/4}, bilinear-mapped. */
    long double pi = acosl(-1.0L), wa = 2.0L * fs * tanl(pi * fc / fs);
    long double sr = wa * cosl(3 * pi / 4), si = wa * sinl(3 * pi / 4), c = 2.0L * fs;
    /* z = (c + s)/(c - s) */
    long double den = (c - sr) * (c - sr) + si * si;
    long double zr = ((c + sr) * (c - sr) - si * si) / den,
                zi = ((c - sr) * si + (c + sr) * si) / den;
    long double a1 = -2 * zr, a2 = zr * zr + zi * zi, k = (1 + a1 + a2) / 4;
    long double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    bool first = true;
    for (size_t i = 0; i < n_samples; i++) {
        if (!VALID[i]) continue;
        if (first) x1 = x2 = y1 = y2 = x[i], first = false;
        long double v = k * x[i] + 2 * k * x1 + k * x2 - a1 * y1 - a2 * y2;
        x2 = x1, x1 = x[i], y2 = y1, y1 = v;
        y[i] = (double)v;
    }
}

static int ref_compute(const nd_metric_settings *s, double fs, ref_rep *out, int max,
                       int *discarded)
{
    for (size_t i = 0; i < n_samples; i++) VALID[i] = isfinite(L[i]) && isfinite(R[i]);
    ref_filter(s->cutoff_hz, fs, L, FL);
    ref_filter(s->cutoff_hz, fs, R, FR);
    size_t hold = (size_t)llround(s->hold_s * fs), min = (size_t)llround(s->min_rep_s * fs);
    if (hold < 1) hold = 1;
    int found = 0;
    *discarded = 0;
    size_t pos = 0;
    while (pos < n_samples) {
        size_t open = pos;
        while (open < n_samples && !(VALID[open] && FL[open] + FR[open] >= s->on_N)) open++;
        if (open >= n_samples) break;
        size_t end = n_samples;
        for (size_t j = open + 1; j < n_samples && end == n_samples; j++) {
            if (!VALID[j] || FL[j] + FR[j] >= s->off_N) continue;
            /* Is j the start of a run of >= hold valid samples below off? */
            size_t count = 0, m = j;
            while (m < n_samples && count < hold) {
                if (VALID[m]) {
                    if (FL[m] + FR[m] >= s->off_N) break;
                    count++;
                }
                m++;
            }
            if (count >= hold) end = j;
        }
        if (end - open < min) {
            (*discarded)++;
        } else if (found < max) {
            ref_rep *r = &out[found];
            const double *f[2] = {FL, FR};
            for (int leg = 0; leg < 2; leg++) {
                long double sum = 0;
                r->peak[leg] = -INFINITY;
                for (size_t i = open; i < end; i++) {
                    if (!VALID[i]) continue;
                    if (f[leg][i] > r->peak[leg]) r->peak[leg] = f[leg][i], r->ipeak[leg] = i;
                    if (f[leg][i] >= s->impulse_threshold_N) sum += f[leg][i];
                }
                r->impulse[leg] = (double)(sum / fs);
                r->fopen[leg] = f[leg][open];
            }
            r->open = open;
            r->end = end;
            found++;
        }
        pos = end;
    }
    return found;
}

static bool near_rel(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* Runs the engine live over the signal and compares with the reference. */
static int compare_with_reference(const nd_metric_settings *s, double fs, const char *what)
{
    static nd_rep_result got[512];
    static ref_rep want[512];
    nd_subject subj = {0, 0, ND_SIDE_NONE};
    nd_trial_summary sum;
    long n = nd_metrics_recompute(s, fs, &subj, L, R, n_samples, -1, got, 512, &sum);
    int discarded;
    int m = ref_compute(s, fs, want, 512, &discarded);
    int bad = 0;
    if (n != m || (int)sum.discarded_reps != discarded) {
        fprintf(stderr, "%s: %ld reps (%u discarded), reference %d (%d)\n", what, n,
                sum.discarded_reps, m, discarded);
        bad++;
    }
    for (int i = 0; i < m && i < n; i++) {
        bad += got[i].i_open != want[i].open || got[i].i_end != want[i].end;
        for (int leg = 0; leg < 2; leg++) {
            bad += got[i].i_peak[leg] != want[i].ipeak[leg];
            bad += !near_rel(got[i].peak_N[leg], want[i].peak[leg], 1e-9);
            bad += !near_rel(got[i].impulse_Ns[leg], want[i].impulse[leg], 1e-9);
            double ttp = (double)(want[i].ipeak[leg] - want[i].open) / fs;
            if (ttp > 0)
                bad += !near_rel(got[i].rfd_N_per_s[leg],
                                 (want[i].peak[leg] - want[i].fopen[leg]) / ttp, 1e-9);
        }
        if (bad) {
            fprintf(stderr, "%s: rep %d differs: open %llu/%zu end %llu/%zu peakL %.12g/%.12g\n",
                    what, i, (unsigned long long)got[i].i_open, want[i].open,
                    (unsigned long long)got[i].i_end, want[i].end, got[i].peak_N[0],
                    want[i].peak[0]);
            break;
        }
    }
    CHECK(bad == 0);
    return (int)n;
}

/* ---- tests ---- */
static nd_metric_settings filter_off(void)
{
    nd_metric_settings s;
    nd_metric_settings_default(&s);
    s.cutoff_hz = ND_METRICS_MAX_FS; /* >= 0.45 fs at every rate: filter off */
    return s;
}

static long run(const nd_metric_settings *s, double fs, const nd_subject *subj, nd_rep_result *reps,
                size_t max, int pain, nd_trial_summary *sum)
{
    return nd_metrics_recompute(s, fs, subj, L, R, n_samples, pain, reps, max, sum);
}

static void test_constant_force(void)
{
    nd_metric_settings s = filter_off();
    nd_subject subj = {80, 0.5, ND_SIDE_NONE};
    nd_rep_result r[2];
    nd_trial_summary sum;
    sig_reset();
    sig_const(300, 200, 150);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 2, -1, &sum), 1);
    CHECK_EQ_INT(r[0].i_open, 0);
    CHECK_EQ_INT(r[0].i_end, 300); /* open at stop: closed after the last sample */
    CHECK(r[0].peak_N[ND_LEFT] == 200 && r[0].peak_N[ND_RIGHT] == 150);
    CHECK_EQ_INT(r[0].i_peak[ND_LEFT], 0); /* first occurrence */
    CHECK(r[0].time_to_peak_s[ND_LEFT] == 0);
    CHECK(isnan(r[0].rfd_N_per_s[ND_LEFT])); /* time to peak 0: undefined */
    CHECK_NEAR(r[0].impulse_Ns[ND_LEFT], 600, 1e-9);
    CHECK_NEAR(r[0].impulse_Ns[ND_RIGHT], 450, 1e-9);
    CHECK_NEAR(r[0].asymmetry_pct, 25, 1e-12);
    CHECK_EQ_INT(r[0].weaker_side, ND_SIDE_RIGHT);
    CHECK_NEAR(r[0].torque_Nm[ND_LEFT], 100, 1e-12);
    CHECK_NEAR(r[0].rel_force_N_per_kg[ND_RIGHT], 1.875, 1e-12);
    CHECK(isnan(r[0].lsi_pct));
    CHECK_EQ_INT(sum.samples, 300);

    /* Same with the filter on: steady-state start, so no transient. */
    nd_metric_settings_default(&s);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 2, -1, &sum), 1);
    CHECK_NEAR(r[0].peak_N[ND_LEFT], 200, 1e-9);
    CHECK_NEAR(r[0].impulse_Ns[ND_LEFT], 600, 1e-9);
}

static void test_linear_ramp(void)
{
    /* L = 0.2 i, R = 0.1 i N (200 and 100 N/s at 1 kHz) up to i = 2999,
     * then zero: T = 0.3 i >= 100 first at i = 334; ends at 3000. */
    nd_metric_settings s = filter_off();
    nd_subject subj = {0, 0, ND_SIDE_NONE};
    nd_rep_result r[2];
    nd_trial_summary sum;
    sig_reset();
    for (int i = 0; i < 3000; i++) sig_push(0.2 * i, 0.1 * i);
    sig_const(1000, 0, 0);
    CHECK_EQ_INT(run(&s, 1000, &subj, r, 2, -1, &sum), 1);
    CHECK_EQ_INT(r[0].i_open, 334);
    CHECK_EQ_INT(r[0].i_end, 3000);
    CHECK_NEAR(r[0].t_open_s, 0.334, 1e-15);
    CHECK_NEAR(r[0].peak_N[ND_LEFT], 599.8, 1e-9);
    CHECK_EQ_INT(r[0].i_peak[ND_LEFT], 2999);
    CHECK_NEAR(r[0].time_to_peak_s[ND_LEFT], 2.665, 1e-12);
    CHECK_NEAR(r[0].rfd_N_per_s[ND_LEFT], 200, 1e-9);
    CHECK_NEAR(r[0].rfd_N_per_s[ND_RIGHT], 100, 1e-9);
    /* Impulse: sum over i = 334..2999 of 0.2 i / 1000 (all >= 25 N) and of
     * 0.1 i / 1000 (>= 25 N from i = 250, so all). sum i = (334+2999)*2666/2. */
    double sum_i = (334.0 + 2999.0) * 2666.0 / 2.0;
    CHECK_NEAR(r[0].impulse_Ns[ND_LEFT], 0.2 * sum_i / 1000, 1e-9);
    CHECK_NEAR(r[0].impulse_Ns[ND_RIGHT], 0.1 * sum_i / 1000, 1e-9);
    CHECK(isnan(r[0].torque_Nm[0]) && isnan(r[0].rel_force_N_per_kg[1]));
    /* The impulse threshold applies per leg: at 100 N only R >= 100 counts,
     * i.e. i >= 1000 for R. */
    s.impulse_threshold_N = 100;
    run(&s, 1000, &subj, r, 2, -1, &sum);
    CHECK_NEAR(r[0].impulse_Ns[ND_RIGHT], 0.1 * (1000.0 + 2999.0) * 2000.0 / 2.0 / 1000, 1e-9);
    CHECK_NEAR(r[0].impulse_Ns[ND_LEFT], 0.2 * (500.0 + 2999.0) * 2500.0 / 2.0 / 1000, 1e-9);
}

static void test_triangle(void)
{
    /* fs 100: L = 1.5 k, R = 1.2 k for k = 0..200 (peaks 300/240 at k=200),
     * then L = 300 (1 - j/50), R = 240 (1 - j/50), j = 1..50, then zeros.
     * Opens at k = 38 (T = 2.7 k >= 100), ends at j = 46 (T = 540 (1-j/50) < 50
     * from j = 46, and stays below for > 25 samples). */
    nd_metric_settings s = filter_off();
    nd_subject subj = {75, 0.4, ND_SIDE_RIGHT};
    nd_rep_result r[2];
    nd_trial_summary sum;
    sig_reset();
    for (int k = 0; k <= 200; k++) sig_push(1.5 * k, 1.2 * k);
    for (int j = 1; j <= 50; j++) sig_push(300 * (1 - j / 50.0), 240 * (1 - j / 50.0));
    sig_const(100, 0, 0);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 2, 2, &sum), 1);
    CHECK_EQ_INT(r[0].index, 1);
    CHECK_EQ_INT(r[0].i_open, 38);
    CHECK_EQ_INT(r[0].i_end, 200 + 46);
    CHECK_NEAR(r[0].t_end_s, 2.46, 1e-12);
    CHECK_NEAR(r[0].peak_N[ND_LEFT], 300, 1e-12);
    CHECK_NEAR(r[0].peak_N[ND_RIGHT], 240, 1e-12);
    CHECK_EQ_INT(r[0].i_peak[ND_LEFT], 200);
    CHECK_NEAR(r[0].t_peak_s[ND_RIGHT], 2.0, 1e-12);
    CHECK_NEAR(r[0].time_to_peak_s[ND_LEFT], 1.62, 1e-12);
    CHECK_NEAR(r[0].rfd_N_per_s[ND_LEFT], 150, 1e-9);
    CHECK_NEAR(r[0].rfd_N_per_s[ND_RIGHT], 120, 1e-9);
    /* Hand sums: L 1.5*sum(38..200) + sum_{j=1..45} 300(1-j/50) = 29095.5 + 7290;
     * R 1.2*19397 + sum_{j=1..44} 240(1-j/50) = 23276.4 + 5808 (j=45 is 24 N < 25). */
    CHECK_NEAR(r[0].impulse_Ns[ND_LEFT], 363.855, 1e-9);
    CHECK_NEAR(r[0].impulse_Ns[ND_RIGHT], 290.844, 1e-9);
    CHECK_NEAR(r[0].asymmetry_pct, 20, 1e-12);
    CHECK_NEAR(r[0].abs_asymmetry_pct, 20, 1e-12);
    CHECK_EQ_INT(r[0].weaker_side, ND_SIDE_RIGHT);
    CHECK_NEAR(r[0].lsi_pct, 80, 1e-12);
    CHECK_NEAR(r[0].torque_Nm[ND_LEFT], 120, 1e-12);
    CHECK_NEAR(r[0].rel_force_N_per_kg[ND_LEFT], 4, 1e-12);
    CHECK_EQ_INT(sum.reps, 1);
    CHECK(!sum.pain);
    CHECK_EQ_INT(sum.pain_rating, 2);
}

static void test_trapezoid_and_different_peaks(void)
{
    /* Trapezoid: L rises 2 N/sample to 300, holds 50 samples, falls; the
     * peak is the plateau's first sample. R peaks 30 samples later than L. */
    nd_metric_settings s = filter_off();
    nd_subject subj = {0, 0, ND_SIDE_LEFT};
    nd_rep_result r[2];
    nd_trial_summary sum;
    sig_reset();
    sig_const(50, 0, 0);
    for (int k = 0; k < 150; k++) sig_push(2.0 * k, 1.0 * k);  /* 50..199 */
    for (int k = 0; k < 50; k++) sig_push(300, 150 + 3.0 * k); /* 200..249, R max 297 at 249 */
    for (int k = 0; k < 50; k++) sig_push(300 - 6.0 * k, 297 - 5.94 * k);
    sig_const(100, 0, 0);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 2, -1, &sum), 1);
    CHECK_EQ_INT(r[0].i_peak[ND_LEFT], 200);
    CHECK_EQ_INT(r[0].i_peak[ND_RIGHT], 249);
    CHECK_NEAR(r[0].peak_N[ND_RIGHT], 297, 1e-12);
    CHECK(r[0].time_to_peak_s[ND_RIGHT] > r[0].time_to_peak_s[ND_LEFT]);
    CHECK_NEAR(r[0].time_to_peak_s[ND_RIGHT] - r[0].time_to_peak_s[ND_LEFT], 0.49, 1e-12);
    CHECK_NEAR(r[0].asymmetry_pct, 1, 1e-12);           /* 100 * 3/300 */
    CHECK_NEAR(r[0].lsi_pct, 100 * 300 / 297.0, 1e-12); /* injured left */
    compare_with_reference(&s, 100, "trapezoid");
}

static void test_short_rep_and_open_at_stop(void)
{
    nd_metric_settings s = filter_off();
    nd_subject subj = {0, 0, ND_SIDE_NONE};
    nd_rep_result r[4];
    nd_trial_summary sum;
    /* 0.3 s above threshold at 100 Hz < min 0.5 s: discarded and counted. */
    sig_reset();
    sig_const(50, 0, 0);
    sig_const(30, 200, 200);
    sig_const(100, 0, 0);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 4, -1, &sum), 0);
    CHECK_EQ_INT(sum.discarded_reps, 1);
    CHECK(isnan(sum.max_N[0]) && isnan(sum.mean_N[1]) && isnan(sum.asymmetry_pct));
    CHECK(!sum.weak_left && !sum.weak_right && !sum.imbalance);
    CHECK_EQ_INT(sum.weaker_side, ND_SIDE_NONE);
    /* Exactly 50 samples (0.5 s) is long enough. */
    sig_reset();
    sig_const(50, 0, 0);
    sig_const(50, 200, 200);
    sig_const(100, 0, 0);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 4, -1, &sum), 1);
    CHECK_EQ_INT(sum.discarded_reps, 0);
    /* Open at stop, in a pending dip: closed after the last sample, the dip
     * included (its samples count for the peak). */
    sig_reset();
    sig_const(10, 0, 0);
    sig_const(100, 200, 100);
    sig_const(10, 250, -230); /* T = 20 < off: a dip, shorter than hold */
    CHECK_EQ_INT(run(&s, 100, &subj, r, 4, -1, &sum), 1);
    CHECK_EQ_INT(r[0].i_end, 120);
    CHECK_NEAR(r[0].peak_N[ND_LEFT], 250, 0);
    CHECK_EQ_INT(r[0].i_peak[ND_LEFT], 110);
    /* More reps than room: the count is still complete. */
    sig_reset();
    for (int k = 0; k < 3; k++) {
        sig_const(100, 0, 0);
        sig_const(100, 200, 200);
    }
    sig_const(100, 0, 0);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 1, -1, &sum), 3);
    CHECK_EQ_INT(run(&s, 100, &subj, NULL, 0, -1, &sum), 3);
}

static void test_dips(void)
{
    nd_metric_settings s = filter_off();
    nd_subject subj = {0, 0, ND_SIDE_NONE};
    nd_rep_result r[4];
    nd_trial_summary sum;
    sig_reset();
    sig_const(50, 0, 0);
    sig_const(100, 150, 150);
    sig_const(100, 40, 30); /* T = 70: between off and on, still in the rep */
    sig_const(50, 150, 150);
    sig_const(20, 10, 10);   /* 20 samples < hold 25 below off: no split */
    sig_const(1, 120, -100); /* T = 20: still the dip, L's peak is here */
    sig_const(50, 100, 100);
    sig_const(24, 10, 10); /* dip of 24 < 25 */
    sig_const(1, 100, 0);  /* T = 100 ends the dip */
    sig_const(200, 0, 0);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 4, -1, &sum), 1);
    CHECK_EQ_INT(r[0].i_open, 50);
    CHECK_EQ_INT(r[0].i_end, 50 + 100 + 100 + 50 + 21 + 50 + 25);
    CHECK_NEAR(r[0].peak_N[ND_LEFT], 150, 0);
    CHECK_EQ_INT(r[0].i_peak[ND_LEFT], 50);
    /* Raise the dip sample so L peaks inside a dip that is later merged. */
    L[50 + 100 + 100 + 50 + 20] = 400;
    R[50 + 100 + 100 + 50 + 20] = -380;
    CHECK_EQ_INT(run(&s, 100, &subj, r, 4, -1, &sum), 1);
    CHECK_EQ_INT(r[0].i_peak[ND_LEFT], 50 + 100 + 100 + 50 + 20);
    CHECK_NEAR(r[0].peak_N[ND_RIGHT], 150, 0);
    compare_with_reference(&s, 100, "dips");
    /* A leg peak inside the final hold run is outside the rep. */
    sig_reset();
    sig_const(10, 0, 0);
    sig_const(100, 200, 100);
    sig_const(1, 500, -480); /* T = 20: first sample of the closing run */
    sig_const(100, 0, 0);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 4, -1, &sum), 1);
    CHECK_EQ_INT(r[0].i_end, 110);
    CHECK_NEAR(r[0].peak_N[ND_LEFT], 200, 0);
    CHECK_NEAR(r[0].peak_N[ND_RIGHT], 100, 0);
}

static void test_spikes(void)
{
    nd_metric_settings s;
    nd_metric_settings_default(&s);
    nd_subject subj = {0, 0, ND_SIDE_NONE};
    nd_rep_result r[4];
    nd_trial_summary sum;
    /* 1 kHz, 10 Hz cut-off: a one-sample 20 kN spike in the baseline is
     * smoothed to a short bump and whatever it opens is too short. */
    sig_reset();
    sig_const(1000, 2, 1);
    sig_push(20000, 20000);
    sig_const(1000, 2, 1);
    sig_rep(1000, 2, 320, 280, 2.0, 0.2, 0.5);
    L[n_samples - 1200] += 5000; /* a spike inside the rep, on one leg */
    sig_const(1000, 2, 1);
    long n = run(&s, 1000, &subj, r, 4, -1, &sum);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(sum.discarded_reps, 1);
    compare_with_reference(&s, 1000, "spikes 1 kHz");
    /* Filter off (10 Hz rate): the baseline spike opens a 1-sample rep,
     * which is discarded; the rep's spike sets L's peak. */
    sig_reset();
    sig_const(30, 2, 1);
    sig_push(5000, 5000);
    sig_const(30, 2, 1);
    sig_rep(10, 2, 320, 280, 2.0, 0.2, 0.5);
    L[n_samples - 10] = 4000;
    sig_const(30, 2, 1);
    CHECK_EQ_INT(run(&s, 10, &subj, r, 4, -1, &sum), 1);
    CHECK_EQ_INT(sum.discarded_reps, 1);
    CHECK_NEAR(r[0].peak_N[ND_LEFT], 4000, 0);
    compare_with_reference(&s, 10, "spikes 10 Hz");
}

static void test_bad_tare_negative_force(void)
{
    nd_metric_settings s = filter_off();
    nd_subject subj = {80, 0.45, ND_SIDE_LEFT};
    nd_rep_result r[4];
    nd_trial_summary sum;
    /* Offsets taken with load on: baseline -60 N per leg. */
    sig_reset();
    sig_const(100, -60, -60);
    for (int k = 0; k <= 100; k++) sig_push(-60 + 3.0 * k, -60 + 2.0 * k); /* to 240 / 140 */
    sig_const(100, -60, -60);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 4, -1, &sum), 1);
    /* T = -120 + 5k >= 100 from k = 44. */
    CHECK_EQ_INT(r[0].i_open, 144);
    CHECK_NEAR(r[0].peak_N[ND_LEFT], 240, 1e-12);
    CHECK_NEAR(r[0].rfd_N_per_s[ND_LEFT], 300, 1e-9); /* 3 N/sample at 100 Hz */
    CHECK_NEAR(r[0].asymmetry_pct, 100 * 100 / 240.0, 1e-12);
    /* One leg entirely negative: asymmetry is defined (max > 0) and > 100 %. */
    sig_reset();
    sig_const(100, 300, -20);
    sig_const(100, 0, -20);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 4, -1, &sum), 1);
    CHECK_NEAR(r[0].asymmetry_pct, 100 * 320 / 300.0, 1e-12);
    CHECK(isnan(r[0].lsi_pct)); /* injured left vs a right peak <= 0: undefined */
    CHECK_EQ_INT(r[0].weaker_side, ND_SIDE_RIGHT);
    /* Both peaks <= 0: asymmetry undefined, no weaker side; LSI undefined. */
    s.on_N = 1;
    s.off_N = 0;
    sig_reset();
    sig_const(100, -10, 20); /* T = 10 >= 1 */
    CHECK_EQ_INT(run(&s, 100, &subj, r, 4, -1, &sum), 1);
    CHECK_NEAR(r[0].asymmetry_pct, 100 * -30 / 20.0, 1e-12);
    sig_reset();
    sig_const(100, -10, 12); /* peaks -10 and 12 */
    subj.injured_side = ND_SIDE_RIGHT;
    run(&s, 100, &subj, r, 4, -1, &sum);
    CHECK(isnan(r[0].lsi_pct)); /* other (left) side <= 0 */
    /* Far too negative: never opens; summary undefined, no flags. */
    nd_metric_settings_default(&s);
    sig_reset();
    sig_const(200, -500, -500);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 4, 5, &sum), 0);
    CHECK(isnan(sum.max_N[0]) && !sum.weak_left && !sum.imbalance && sum.pain);
}

static void test_nonfinite(void)
{
    nd_metric_settings s;
    nd_metric_settings_default(&s);
    nd_subject subj = {0, 0, ND_SIDE_NONE};
    nd_metrics *m = nd_metrics_create(&s, 1000, &subj);
    CHECK(m != NULL);
    nd_rep_result r;
    nd_live_state live;
    sig_reset();
    sig_const(500, 3, 2);
    sig_rep(1000, 3, 300, 250, 1.5, 0.2, 0.5);
    sig_const(1000, 3, 2);
    /* Broken-device values in the baseline, at the opening, mid-rep (a
     * burst), and inside the closing run. */
    const size_t bad[] = {10, 11, 600, 1200, 1201, 1202, 1203, 1204, 2300};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        if (k % 3 == 0) L[bad[k]] = NAN;
        if (k % 3 == 1) R[bad[k]] = INFINITY;
        if (k % 3 == 2) L[bad[k]] = -INFINITY, R[bad[k]] = NAN;
    }
    int closed = 0;
    for (size_t i = 0; i < n_samples; i++) {
        closed += nd_metrics_push(m, L[i], R[i], &r);
        nd_metrics_live(m, &live);
        CHECK(isfinite(live.force_N[0]) || i < 1); /* never poisoned */
    }
    closed += nd_metrics_finish(m, &r);
    CHECK_EQ_INT(closed, 1);
    nd_trial_summary sum;
    nd_metrics_summary(m, -1, &sum);
    CHECK_EQ_INT(sum.nonfinite_skipped, 9);
    CHECK_EQ_INT(live.nonfinite_skipped, 9);
    CHECK_EQ_INT(sum.samples, n_samples); /* the index kept running */
    CHECK(isfinite(r.peak_N[0]) && isfinite(r.impulse_Ns[1]) && isfinite(r.rfd_N_per_s[0]));
    CHECK_NEAR(r.peak_N[ND_LEFT], 300, 3.0);
    nd_metrics_destroy(m);
    compare_with_reference(&s, 1000, "non-finite");
    /* A trial that starts with NaN: the filter starts at the first finite set. */
    sig_reset();
    sig_const(5, NAN, NAN);
    sig_const(1000, 200, 100);
    CHECK_EQ_INT(compare_with_reference(&s, 1000, "leading NaN"), 1);
}

static void test_rates(void)
{
    const double rates[] = {10, 20, 50, 80, 125, 400, 1000, 5000, 20000};
    nd_metric_settings s;
    nd_metric_settings_default(&s);
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        double fs = rates[k];
        sig_reset();
        for (int rep = 0; rep < 3; rep++) {
            sig_const((size_t)fs, 5, 4);
            sig_rep(fs, 5, 300 + 20 * rep, 260, 2.5, 0.3, 0.6);
        }
        sig_const((size_t)fs, 5, 4);
        char what[64];
        snprintf(what, sizeof what, "rate %g Hz", fs);
        CHECK_EQ_INT(compare_with_reference(&s, fs, what), 3);
    }
}

static void test_summary_and_flags(void)
{
    nd_metric_settings s = filter_off();
    nd_subject subj = {80, 0.5, ND_SIDE_RIGHT};
    nd_rep_result r[4];
    nd_trial_summary sum;
    sig_reset();
    const double pl[] = {300, 320, 280}, pr[] = {250, 260, 240};
    for (int k = 0; k < 3; k++) {
        sig_const(100, 0, 0);
        sig_const(100, pl[k], pr[k]);
    }
    sig_const(100, 0, 0);
    CHECK_EQ_INT(run(&s, 100, &subj, r, 4, 4, &sum), 3);
    CHECK_EQ_INT(r[2].index, 3);
    CHECK_NEAR(sum.max_N[ND_LEFT], 320, 0);
    CHECK_NEAR(sum.mean_N[ND_LEFT], 300, 1e-12);
    CHECK_NEAR(sum.max_N[ND_RIGHT], 260, 0);
    CHECK_NEAR(sum.mean_N[ND_RIGHT], 250, 1e-12);
    CHECK_NEAR(sum.asymmetry_pct, 18.75, 1e-12);
    CHECK_EQ_INT(sum.weaker_side, ND_SIDE_RIGHT);
    CHECK_NEAR(sum.lsi_pct, 81.25, 1e-12);
    CHECK_NEAR(sum.torque_max_Nm[ND_LEFT], 160, 1e-12);
    CHECK_NEAR(sum.rel_force_max_N_per_kg[ND_RIGHT], 3.25, 1e-12);
    CHECK(sum.imbalance);
    CHECK(!sum.weak_left && !sum.weak_right);
    CHECK(sum.pain && sum.pain_rating == 4);
    run(&s, 100, &subj, r, 4, 3, &sum);
    CHECK(!sum.pain); /* 3/10 is acceptable */
    s.weak_threshold_N = 261;
    s.imbalance_pct = 18.76;
    run(&s, 100, &subj, r, 4, -1, &sum);
    CHECK(sum.weak_right && !sum.weak_left && !sum.imbalance && !sum.pain);
    CHECK_EQ_INT(sum.pain_rating, -1);
    s.imbalance_pct = 18.75; /* |A| >= threshold */
    run(&s, 100, &subj, r, 4, -1, &sum);
    CHECK(sum.imbalance);
    /* Equal legs: no weaker side, A = 0. */
    sig_reset();
    sig_const(100, 200, 200);
    run(&s, 100, &subj, r, 4, -1, &sum);
    CHECK_EQ_INT(r[0].weaker_side, ND_SIDE_NONE);
    CHECK(r[0].asymmetry_pct == 0);
    /* The summary's pain rating outside 0..10 is "not entered". */
    nd_metrics *m = nd_metrics_create(&s, 100, &subj);
    nd_metrics_summary(m, 11, &sum);
    CHECK_EQ_INT(sum.pain_rating, -1);
    CHECK(!sum.pain);
    nd_metrics_destroy(m);
}

static void test_live_state(void)
{
    nd_metric_settings s = filter_off();
    nd_subject subj = {0, 0, ND_SIDE_NONE};
    nd_metrics *m = nd_metrics_create(&s, 100, &subj);
    nd_live_state live;
    nd_rep_result r;
    nd_metrics_live(m, &live);
    CHECK(!live.rep_open && live.samples == 0 && live.running_peak_N[0] == 0);
    for (int i = 0; i < 10; i++) nd_metrics_push(m, 10, 10, &r);
    nd_metrics_live(m, &live);
    CHECK(!live.rep_open); /* the daemon may tare now */
    nd_metrics_push(m, 120, 80, &r);
    nd_metrics_push(m, 150, 60, &r);
    nd_metrics_push(m, 20, 10, &r); /* dip */
    nd_metrics_live(m, &live);
    CHECK(live.rep_open); /* the daemon must refuse a tare now */
    CHECK_NEAR(live.running_peak_N[0], 150, 0);
    CHECK_NEAR(live.running_peak_N[1], 80, 0);
    CHECK_NEAR(live.force_N[0], 20, 0);
    CHECK_EQ_INT(live.samples, 13);
    CHECK_NEAR(live.t_s, 0.12, 1e-12);
    int closed = 0;
    for (int i = 0; i < 60; i++) closed += nd_metrics_push(m, 0, 0, &r);
    CHECK_EQ_INT(closed, 0); /* 3 samples < min 0.5 s: discarded */
    nd_metrics_live(m, &live);
    CHECK(!live.rep_open && live.reps == 0 && live.running_peak_N[0] == 0);
    /* A caller that does not want the rep may pass NULL; it is still counted. */
    for (int i = 0; i < 60; i++) nd_metrics_push(m, 200, 200, NULL);
    for (int i = 0; i < 30; i++) closed += nd_metrics_push(m, 0, 0, NULL);
    CHECK_EQ_INT(closed, 1);
    for (int i = 0; i < 60; i++) nd_metrics_push(m, 200, 200, NULL);
    CHECK_EQ_INT(nd_metrics_finish(m, NULL), 1);
    nd_trial_summary sum;
    nd_metrics_summary(m, -1, &sum);
    CHECK_EQ_INT(sum.reps, 2);
    CHECK_NEAR(sum.max_N[0], 200, 0);
    nd_metrics_destroy(m);
}

static void test_validation(void)
{
    char err[256];
    nd_metric_settings s;
    nd_metric_settings_default(&s);
    CHECK_EQ_INT(nd_metric_settings_validate(&s, 100, err, sizeof err), 0);
    CHECK(s.cutoff_hz == 10 && s.on_N == 100 && s.off_N == 50 && s.hold_s == 0.25 &&
          s.min_rep_s == 0.5 && s.impulse_threshold_N == 25 && s.weak_threshold_N == 256 &&
          s.imbalance_pct == 15 && s.tare_window_s == 1.0);
    struct {
        const char *name;
        double value;
    } bad[] = {{"cutoff_hz", 0},
               {"cutoff_hz", NAN},
               {"on_N", 0},
               {"on_N", -5},
               {"off_N", -1},
               {"hold_s", -0.1},
               {"hold_s", INFINITY},
               {"min_rep_s", -1},
               {"impulse_threshold_N", -1},
               {"weak_threshold_N", NAN},
               {"imbalance_pct", 101},
               {"tare_window_s", 0},
               {"on_N", 1e9}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        nd_metric_settings t = s;
        const nd_metric_setting_info *info = nd_metric_setting_find(bad[k].name);
        CHECK(info != NULL);
        *(double *)((char *)&t + info->offset) = bad[k].value;
        err[0] = 0;
        CHECK_EQ_INT(nd_metric_settings_validate(&t, 100, err, sizeof err), -1);
        CHECK(strstr(err, bad[k].name) != NULL);
        CHECK_EQ_INT(nd_metric_setting_set(&t, bad[k].name, bad[k].value, err, sizeof err), -1);
        nd_subject subj = {0, 0, ND_SIDE_NONE};
        CHECK(nd_metrics_create_checked(&t, 100, &subj, err, sizeof err) == NULL);
    }
    nd_metric_settings t = s;
    t.off_N = 120; /* above on_N */
    CHECK_EQ_INT(nd_metric_settings_validate(&t, 100, err, sizeof err), -1);
    CHECK(strstr(err, "off_N") && strstr(err, "on_N"));
    t = s;
    t.tare_window_s = 0.01; /* no sample at 10 Hz */
    CHECK_EQ_INT(nd_metric_settings_validate(&t, 10, err, sizeof err), -1);
    CHECK(strstr(err, "tare_window_s") != NULL);
    CHECK_EQ_INT(nd_metric_settings_validate(&s, 0, err, sizeof err), -1);
    CHECK_EQ_INT(nd_metric_settings_validate(&s, NAN, err, sizeof err), -1);
    CHECK_EQ_INT(nd_metric_settings_validate(&s, 2e6, err, sizeof err), -1);
    CHECK(strstr(err, "sample rate") != NULL);
    /* Setting by name. */
    CHECK_EQ_INT(nd_metric_setting_set(&t, "on_N", 150, err, sizeof err), 0);
    CHECK(t.on_N == 150);
    CHECK_EQ_INT(nd_metric_setting_set(&t, "bogus", 1, err, sizeof err), -1);
    CHECK(strstr(err, "unknown") != NULL);
    CHECK(nd_metric_setting_count == 9);

    /* Subjects. */
    const nd_subject good[] = {
        {0, 0, ND_SIDE_NONE}, {500, 1.5, ND_SIDE_LEFT}, {0.1, 0.01, ND_SIDE_RIGHT}};
    for (size_t k = 0; k < 3; k++) CHECK_EQ_INT(nd_subject_validate(&good[k], err, sizeof err), 0);
    const nd_subject badsub[] = {{-1, 0.4, ND_SIDE_NONE},  {500.1, 0.4, ND_SIDE_NONE},
                                 {NAN, 0.4, ND_SIDE_NONE}, {80, -0.1, ND_SIDE_NONE},
                                 {80, 1.51, ND_SIDE_NONE}, {80, INFINITY, ND_SIDE_NONE},
                                 {80, 0.4, (nd_side)7}};
    for (size_t k = 0; k < sizeof badsub / sizeof badsub[0]; k++) {
        err[0] = 0;
        CHECK_EQ_INT(nd_subject_validate(&badsub[k], err, sizeof err), -1);
        CHECK(strlen(err) > 10);
        CHECK(nd_metrics_create_checked(&s, 100, &badsub[k], err, sizeof err) == NULL);
    }
    CHECK(strstr(err, "injured side") != NULL);
    nd_subject heavy = {501, 0.4, ND_SIDE_NONE};
    nd_subject_validate(&heavy, err, sizeof err);
    CHECK(strstr(err, "body mass") != NULL);
    /* Sides. */
    nd_side side;
    CHECK(nd_side_parse("left", &side) == 0 && side == ND_SIDE_LEFT);
    CHECK(nd_side_parse("right", &side) == 0 && side == ND_SIDE_RIGHT);
    CHECK(nd_side_parse("none", &side) == 0 && side == ND_SIDE_NONE);
    CHECK_EQ_INT(nd_side_parse("Left ", &side), -1);
    CHECK_EQ_INT(nd_side_parse(NULL, &side), -1);
    CHECK(strcmp(nd_side_name(ND_SIDE_RIGHT), "right") == 0);
    CHECK(strcmp(nd_side_name(ND_SIDE_NONE), "none") == 0);
    /* Offline entry point refuses bad input. */
    nd_subject subj = {0, 0, ND_SIDE_NONE};
    double x[2] = {0, 0};
    nd_rep_result r;
    CHECK_EQ_INT(nd_metrics_recompute(&s, 100, &subj, NULL, x, 2, -1, &r, 1, NULL), -1);
    CHECK_EQ_INT(nd_metrics_recompute(&s, 100, &subj, x, x, 2, 11, &r, 1, NULL), -1);
    CHECK_EQ_INT(nd_metrics_recompute(&s, 100, &subj, x, x, 2, -1, NULL, 1, NULL), -1);
    CHECK_EQ_INT(nd_metrics_recompute(&t, -1, &subj, x, x, 2, -1, &r, 1, NULL), -1);
    CHECK_EQ_INT(nd_metrics_recompute(&s, 100, &subj, x, x, 2, -1, &r, 1, NULL), 0);
    CHECK_EQ_INT(nd_metrics_recompute(&s, 100, &subj, NULL, NULL, 0, -1, NULL, 0, NULL), 0);
}

int main(void)
{
    test_constant_force();
    test_linear_ramp();
    test_triangle();
    test_trapezoid_and_different_peaks();
    test_short_rep_and_open_at_stop();
    test_dips();
    test_spikes();
    test_bad_tare_negative_force();
    test_nonfinite();
    test_rates();
    test_summary_and_flags();
    test_live_state();
    test_validation();
    return nd_test_finish("test_metrics");
}
