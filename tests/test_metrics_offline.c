/* METRICS.md 4.9: recomputing from stored calibrated force with stored settings
 * gives the same reps and metrics as the live computation, bit for bit.
 * The trial is generated here (>= 100 reps, varied asymmetry, shapes,
 * noise, occasional spikes, non-finite samples and short false starts). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nd_metrics.h"
#include "test_util.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double uniform(void) /* [0, 1) from a 64-bit LCG's high bits */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) * 0x1.0p-53;
}

typedef struct {
    double *left, *right;
    size_t n, cap;
} trace;

static void push(trace *t, double l, double r)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 65536;
        t->left = realloc(t->left, t->cap * sizeof *t->left);
        t->right = realloc(t->right, t->cap * sizeof *t->right);
        if (!t->left || !t->right) abort();
    }
    t->left[t->n] = l;
    t->right[t->n] = r;
    t->n++;
}

/* One rep: smooth rise (1.5-4 s), rounded peak, fast drop (0.3-0.8 s); the
 * right leg 0-30 % weaker or stronger and peaking slightly off time. */
static void gen_rep(trace *t, double fs, double *asym_sum)
{
    double peak = 220 + 200 * uniform();
    double ratio = 0.7 + 0.6 * uniform(); /* right / left */
    double rise = 1.5 + 2.5 * uniform(), fall = 0.3 + 0.5 * uniform();
    double shift = (uniform() - 0.5) * 0.2; /* right leg's peak offset, s */
    size_t nr = (size_t)(rise * fs), nf = (size_t)(fall * fs);
    *asym_sum += fabs(1 - ratio);
    for (size_t k = 0; k < nr + nf; k++) {
        double ts = (double)k / fs;
        double shape_l = ts < rise ? pow(ts / rise, 1.5) : 1 - (ts - rise) / fall;
        double tr = ts - shift;
        double shape_r = tr < 0      ? 0
                         : tr < rise ? pow(tr / rise, 1.5)
                                     : fmax(0, 1 - (tr - rise) / fall);
        double noise_l = (uniform() - 0.5) * 2, noise_r = (uniform() - 0.5) * 2;
        push(t, peak * shape_l + noise_l, peak * ratio * shape_r + noise_r);
    }
}

static trace make_trial(double fs, int reps, double *mean_asym)
{
    trace t = {0};
    double asym = 0;
    for (int k = 0; k < reps; k++) {
        size_t rest = (size_t)((1.0 + 2.0 * uniform()) * fs);
        for (size_t i = 0; i < rest; i++) push(&t, 3 + uniform(), 2 + uniform());
        if (k % 10 == 3) { /* a false start, shorter than min_rep_s */
            for (size_t i = 0; i < (size_t)(0.2 * fs); i++) push(&t, 120, 110);
            for (size_t i = 0; i < (size_t)fs; i++) push(&t, 3, 2);
        }
        gen_rep(&t, fs, &asym);
    }
    for (size_t i = 0; i < (size_t)fs; i++) push(&t, 3, 2);
    for (size_t i = 0; i < (size_t)(0.8 * fs); i++) push(&t, 150, 140); /* open at stop */
    /* Broken-device samples and spikes scattered through the trial. */
    for (size_t i = 1000; i < t.n; i += 7919) {
        if (i % 3 == 0)
            t.left[i] = NAN;
        else if (i % 3 == 1)
            t.right[i] = INFINITY;
        else
            t.left[i] += 3000;
    }
    *mean_asym = asym / reps;
    return t;
}

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static int compare_reps(const nd_rep_result *a, const nd_rep_result *b)
{
    int bad = 0;
    bad += a->index != b->index || a->i_open != b->i_open || a->i_end != b->i_end;
    bad += !same_double(a->t_open_s, b->t_open_s) || !same_double(a->t_end_s, b->t_end_s);
    for (int leg = 0; leg < 2; leg++) {
        bad += !same_double(a->peak_N[leg], b->peak_N[leg]) || a->i_peak[leg] != b->i_peak[leg];
        bad += !same_double(a->t_peak_s[leg], b->t_peak_s[leg]);
        bad += !same_double(a->torque_Nm[leg], b->torque_Nm[leg]);
        bad += !same_double(a->rel_force_N_per_kg[leg], b->rel_force_N_per_kg[leg]);
        bad += !same_double(a->time_to_peak_s[leg], b->time_to_peak_s[leg]);
        bad += !same_double(a->rfd_N_per_s[leg], b->rfd_N_per_s[leg]);
        bad += !same_double(a->impulse_Ns[leg], b->impulse_Ns[leg]);
    }
    bad += !same_double(a->asymmetry_pct, b->asymmetry_pct);
    bad += !same_double(a->abs_asymmetry_pct, b->abs_asymmetry_pct);
    bad += a->weaker_side != b->weaker_side || !same_double(a->lsi_pct, b->lsi_pct);
    /* And the whole struct, padding included (results are zeroed first). */
    bad += memcmp(a, b, sizeof *a) != 0;
    return bad;
}

static void live_vs_offline(double fs, int reps)
{
    double mean_asym;
    trace t = make_trial(fs, reps, &mean_asym);
    nd_metric_settings s;
    nd_metric_settings_default(&s);
    nd_subject subj = {78.5, 0.43, ND_SIDE_LEFT};

    nd_rep_result *live = calloc((size_t)reps * 2 + 4, sizeof *live);
    nd_rep_result *offline = calloc((size_t)reps * 2 + 4, sizeof *offline);
    nd_metrics *m = nd_metrics_create(&s, fs, &subj);
    CHECK(m != NULL);
    long n_live = 0;
    nd_live_state view;
    for (size_t i = 0; i < t.n; i++) {
        n_live += nd_metrics_push(m, t.left[i], t.right[i], &live[n_live]);
        if (i % 20 == 0) nd_metrics_live(m, &view); /* reading must not disturb */
    }
    n_live += nd_metrics_finish(m, &live[n_live]);
    nd_trial_summary sum_live, sum_off;
    nd_metrics_summary(m, 2, &sum_live);
    nd_metrics_destroy(m);

    long n_off = nd_metrics_recompute(&s, fs, &subj, t.left, t.right, t.n, 2, offline,
                                      (size_t)reps * 2 + 4, &sum_off);
    CHECK(n_live >= reps);
    CHECK_EQ_INT(n_off, n_live);
    CHECK_EQ_INT(sum_live.reps, reps + 1); /* + the rep open at stop */
    CHECK_EQ_INT(sum_live.discarded_reps, (reps + 6) / 10);
    CHECK(sum_live.nonfinite_skipped > 0);
    int bad = 0;
    double asym_seen = 0;
    for (long k = 0; k < n_live && k < n_off; k++) {
        bad += compare_reps(&live[k], &offline[k]);
        if (k < reps) asym_seen += live[k].abs_asymmetry_pct;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(memcmp(&sum_live, &sum_off, sizeof sum_live) == 0);
    /* The asymmetry really varies across reps (not a degenerate trial). */
    CHECK(asym_seen / reps > 5 && mean_asym > 0.05);
    printf("fs %g Hz: %ld reps live == offline, %u discarded, %llu non-finite skipped\n", fs,
           n_live, sum_live.discarded_reps, (unsigned long long)sum_live.nonfinite_skipped);
    free(live);
    free(offline);
    free(t.left);
    free(t.right);
}

int main(void)
{
    live_vs_offline(1000, 120);
    live_vs_offline(80, 100);
    live_vs_offline(10, 100); /* filter off */
    return nd_test_finish("test_metrics_offline");
}
