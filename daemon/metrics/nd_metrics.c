/* The metrics engine of METRICS.md 4.2-4.8: filter -> rep detector -> per-rep
 * accumulators -> results. One code path serves live pushes and offline
 * recomputation, so both give bit-identical answers. */
#include "nd_metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_butterworth.h"
#include "nd_log.h"
#include "nd_rep_detector.h"

/* Per-leg running values over a span of samples (the rep, or a pending dip
 * whose membership in the rep is not known yet). */
typedef struct span_acc {
    double peak[2];
    uint64_t i_peak[2];
    double force_sum[2]; /* sum of filtered F >= impulse threshold */
} span_acc;

struct nd_metrics {
    nd_metric_settings s;
    nd_subject subj;
    double fs;
    nd_butterworth filter[2];
    nd_rep_detector det;
    uint64_t n;         /* index of the next sample set */
    uint64_t nonfinite; /* sets skipped for NaN/inf */
    double last_N[2];   /* latest filtered force */
    double open_N[2];   /* filtered force at the open sample */
    span_acc rep, dip;
    /* Summary over accepted reps. */
    double max_peak[2], sum_peak[2];
    /* Detection leg (NONE: both) and a switch waiting for the open rep. */
    nd_side det_leg;
    bool leg_pending;
    nd_side next_leg;
    double next_on_N, next_off_N;
};

static void apply_leg(nd_metrics *m)
{
    m->det_leg = m->next_leg;
    m->det.on_N = m->next_leg == ND_SIDE_NONE ? m->s.on_N : m->next_on_N;
    m->det.off_N = m->next_leg == ND_SIDE_NONE ? m->s.off_N : m->next_off_N;
    m->leg_pending = false;
}

int nd_metrics_set_leg(nd_metrics *m, nd_side leg, double on_N, double off_N)
{
    if (leg != ND_SIDE_NONE && !(off_N >= 0 && off_N <= on_N && isfinite(on_N))) return -1;
    m->next_leg = leg;
    m->next_on_N = on_N;
    m->next_off_N = off_N;
    m->leg_pending = true;
    if (!m->det.open) apply_leg(m);
    return 0;
}

static void span_reset(span_acc *a)
{
    for (int leg = 0; leg < 2; leg++) {
        a->peak[leg] = -INFINITY;
        a->i_peak[leg] = 0;
        a->force_sum[leg] = 0.0;
    }
}

static inline void span_add(span_acc *a, uint64_t i, const double f[2], double threshold)
{
    for (int leg = 0; leg < 2; leg++) {
        /* Strictly greater keeps the first occurrence of the maximum. */
        if (f[leg] > a->peak[leg]) {
            a->peak[leg] = f[leg];
            a->i_peak[leg] = i;
        }
        if (f[leg] >= threshold) a->force_sum[leg] += f[leg];
    }
}

/* The dip turned out to be inside the rep; it comes after every rep sample,
 * so a tie keeps the rep's (earlier) peak. */
static void span_merge(span_acc *into, const span_acc *later)
{
    for (int leg = 0; leg < 2; leg++) {
        if (later->peak[leg] > into->peak[leg]) {
            into->peak[leg] = later->peak[leg];
            into->i_peak[leg] = later->i_peak[leg];
        }
        into->force_sum[leg] += later->force_sum[leg];
    }
}

static double asymmetry_pct(double left, double right)
{
    double mx = left > right ? left : right;
    if (!(mx > 0.0)) return NAN;
    return 100.0 * (left - right) / mx;
}

static nd_side weaker_side(double left, double right, double asym)
{
    if (isnan(asym) || left == right) return ND_SIDE_NONE;
    return left < right ? ND_SIDE_LEFT : ND_SIDE_RIGHT;
}

static double lsi_pct(nd_side injured, double left, double right)
{
    double inj, other;
    if (injured == ND_SIDE_LEFT) {
        inj = left;
        other = right;
    } else if (injured == ND_SIDE_RIGHT) {
        inj = right;
        other = left;
    } else {
        return NAN;
    }
    if (!(other > 0.0)) return NAN;
    return 100.0 * inj / other;
}

static void fill_result(nd_metrics *m, nd_rep_result *r)
{
    const double fs = m->fs;
    const nd_rep_detector *d = &m->det;
    memset(r, 0, sizeof *r);
    r->index = d->accepted;
    r->i_open = d->i_open;
    r->i_end = d->i_end;
    r->t_open_s = (double)d->i_open / fs;
    r->t_end_s = (double)d->i_end / fs;
    for (int leg = 0; leg < 2; leg++) {
        double p = m->rep.peak[leg];
        r->peak_N[leg] = p;
        r->i_peak[leg] = m->rep.i_peak[leg];
        r->t_peak_s[leg] = (double)m->rep.i_peak[leg] / fs;
        r->time_to_peak_s[leg] = (double)(m->rep.i_peak[leg] - d->i_open) / fs;
        r->rfd_N_per_s[leg] =
            r->time_to_peak_s[leg] > 0.0 ? (p - m->open_N[leg]) / r->time_to_peak_s[leg] : NAN;
        r->impulse_Ns[leg] = m->rep.force_sum[leg] / fs;
        r->torque_Nm[leg] = m->subj.lever_m > 0.0 ? p * m->subj.lever_m : NAN;
        r->rel_force_N_per_kg[leg] = m->subj.body_mass_kg > 0.0 ? p / m->subj.body_mass_kg : NAN;
    }
    r->asymmetry_pct = asymmetry_pct(r->peak_N[ND_LEFT], r->peak_N[ND_RIGHT]);
    r->abs_asymmetry_pct = fabs(r->asymmetry_pct);
    r->weaker_side = weaker_side(r->peak_N[ND_LEFT], r->peak_N[ND_RIGHT], r->asymmetry_pct);
    r->lsi_pct = lsi_pct(m->subj.injured_side, r->peak_N[ND_LEFT], r->peak_N[ND_RIGHT]);

    for (int leg = 0; leg < 2; leg++) {
        if (d->accepted == 1 || r->peak_N[leg] > m->max_peak[leg])
            m->max_peak[leg] = r->peak_N[leg];
        m->sum_peak[leg] += r->peak_N[leg];
    }
}

nd_metrics *nd_metrics_create_checked(const nd_metric_settings *s, double fs,
                                      const nd_subject *subj, char *err, size_t errlen)
{
    if (nd_metric_settings_validate(s, fs, err, errlen) < 0) return NULL;
    if (nd_subject_validate(subj, err, errlen) < 0) return NULL;
    nd_metrics *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory for the metrics engine");
        return NULL;
    }
    m->s = *s;
    m->subj = *subj;
    m->fs = fs;
    for (int leg = 0; leg < 2; leg++) {
        /* Cannot fail: cutoff and fs were validated above. */
        nd_butterworth_design(&m->filter[leg], s->cutoff_hz, fs);
        m->max_peak[leg] = NAN;
    }
    nd_rep_detector_init(&m->det, s->on_N, s->off_N, (uint64_t)llround(s->hold_s * fs),
                         (uint64_t)llround(s->min_rep_s * fs));
    span_reset(&m->rep);
    span_reset(&m->dip);
    return m;
}

nd_metrics *nd_metrics_create(const nd_metric_settings *s, double fs, const nd_subject *subj)
{
    char err[256];
    nd_metrics *m = nd_metrics_create_checked(s, fs, subj, err, sizeof err);
    if (!m) nd_err("metrics: %s", err);
    return m;
}

void nd_metrics_destroy(nd_metrics *m)
{
    free(m);
}

int nd_metrics_push(nd_metrics *m, double left_N, double right_N, nd_rep_result *rep)
{
    const uint64_t i = m->n++;
    /* A broken device must not poison the filter state: skip the whole set
     * (both legs, since T needs both), keep the index running. */
    if (!isfinite(left_N) || !isfinite(right_N)) {
        m->nonfinite++;
        return 0;
    }
    const double f[2] = {nd_butterworth_step(&m->filter[ND_LEFT], left_N),
                         nd_butterworth_step(&m->filter[ND_RIGHT], right_N)};
    m->last_N[ND_LEFT] = f[ND_LEFT];
    m->last_N[ND_RIGHT] = f[ND_RIGHT];
    const double threshold = m->s.impulse_threshold_N;

    if (m->leg_pending && !m->det.open) apply_leg(m);
    const double detect = m->det_leg == ND_SIDE_LEFT    ? f[ND_LEFT]
                          : m->det_leg == ND_SIDE_RIGHT ? f[ND_RIGHT]
                                                        : f[ND_LEFT] + f[ND_RIGHT];
    switch (nd_rep_detector_step(&m->det, i, detect)) {
    case ND_REP_IDLE:
        return 0;
    case ND_REP_OPENED:
        span_reset(&m->rep);
        span_add(&m->rep, i, f, threshold);
        m->open_N[ND_LEFT] = f[ND_LEFT];
        m->open_N[ND_RIGHT] = f[ND_RIGHT];
        return 0;
    case ND_REP_INSIDE:
        span_add(&m->rep, i, f, threshold);
        return 0;
    case ND_REP_DIP_END:
        span_merge(&m->rep, &m->dip);
        span_add(&m->rep, i, f, threshold);
        return 0;
    case ND_REP_DIP_START:
        span_reset(&m->dip);
        span_add(&m->dip, i, f, threshold);
        return 0;
    case ND_REP_DIP:
        span_add(&m->dip, i, f, threshold);
        return 0;
    case ND_REP_CLOSED: {
        nd_rep_result unused; /* the summary still counts it when rep is NULL */
        fill_result(m, rep ? rep : &unused);
        return 1;
    }
    case ND_REP_DISCARDED:
        return 0;
    }
    return 0;
}

int nd_metrics_finish(nd_metrics *m, nd_rep_result *rep)
{
    /* A dip still pending at stop belongs to the rep (it is closed after the
     * last sample); merge before the detector forgets it. */
    if (m->det.open && m->det.dip_len > 0) span_merge(&m->rep, &m->dip);
    if (nd_rep_detector_finish(&m->det, m->n) != ND_REP_CLOSED) return 0;
    nd_rep_result unused;
    fill_result(m, rep ? rep : &unused);
    return 1;
}

uint64_t nd_metrics_samples(const nd_metrics *m)
{
    return m->n;
}

bool nd_metrics_rep_open(const nd_metrics *m)
{
    return m->det.open;
}

void nd_metrics_live(const nd_metrics *m, nd_live_state *out)
{
    out->samples = m->n;
    out->t_s = m->n > 0 ? (double)(m->n - 1) / m->fs : 0.0;
    out->force_N[ND_LEFT] = m->last_N[ND_LEFT];
    out->force_N[ND_RIGHT] = m->last_N[ND_RIGHT];
    out->rep_open = m->det.open;
    for (int leg = 0; leg < 2; leg++) {
        double p = 0.0;
        if (m->det.open) {
            p = m->rep.peak[leg];
            if (m->det.dip_len > 0 && m->dip.peak[leg] > p) p = m->dip.peak[leg];
        }
        out->running_peak_N[leg] = p;
    }
    out->reps = m->det.accepted;
    out->nonfinite_skipped = m->nonfinite;
}

void nd_metrics_summary(const nd_metrics *m, int pain_rating, nd_trial_summary *out)
{
    memset(out, 0, sizeof *out);
    const uint32_t reps = m->det.accepted;
    out->reps = reps;
    out->discarded_reps = m->det.discarded;
    for (int leg = 0; leg < 2; leg++) {
        out->max_N[leg] = reps ? m->max_peak[leg] : NAN;
        out->mean_N[leg] = reps ? m->sum_peak[leg] / reps : NAN;
        out->torque_max_Nm[leg] = m->subj.lever_m > 0.0 ? out->max_N[leg] * m->subj.lever_m : NAN;
        out->rel_force_max_N_per_kg[leg] =
            m->subj.body_mass_kg > 0.0 ? out->max_N[leg] / m->subj.body_mass_kg : NAN;
    }
    const double l = out->max_N[ND_LEFT], r = out->max_N[ND_RIGHT];
    out->asymmetry_pct = asymmetry_pct(l, r);
    out->abs_asymmetry_pct = fabs(out->asymmetry_pct);
    out->weaker_side = weaker_side(l, r, out->asymmetry_pct);
    out->lsi_pct = lsi_pct(m->subj.injured_side, l, r);
    /* Without reps there is no maximum to judge: no weak/imbalance flag. */
    out->weak_left = reps > 0 && l < m->s.weak_threshold_N;
    out->weak_right = reps > 0 && r < m->s.weak_threshold_N;
    out->imbalance = !isnan(out->abs_asymmetry_pct) && out->abs_asymmetry_pct >= m->s.imbalance_pct;
    out->pain_rating = pain_rating >= 0 && pain_rating <= 10 ? pain_rating : -1;
    out->pain = out->pain_rating > 3;
    out->samples = m->n;
    out->nonfinite_skipped = m->nonfinite;
    out->max_set_pain = -1;
    out->block_asymmetry_pct = NAN;
}

long nd_metrics_recompute(const nd_metric_settings *s, double fs, const nd_subject *subj,
                          const double *left_N, const double *right_N, size_t n, int pain_rating,
                          nd_rep_result *reps, size_t max_reps, nd_trial_summary *summary)
{
    char err[256];
    if ((n > 0 && (!left_N || !right_N)) || (max_reps > 0 && !reps) || pain_rating < -1 ||
        pain_rating > 10) {
        nd_err("metrics recompute: invalid arguments (missing arrays or pain rating %d)",
               pain_rating);
        return -1;
    }
    nd_metrics *m = nd_metrics_create_checked(s, fs, subj, err, sizeof err);
    if (!m) {
        nd_err("metrics recompute: %s", err);
        return -1;
    }
    long found = 0;
    nd_rep_result r;
    for (size_t i = 0; i < n; i++) {
        if (nd_metrics_push(m, left_N[i], right_N[i], &r)) {
            if ((size_t)found < max_reps) reps[found] = r;
            found++;
        }
    }
    if (nd_metrics_finish(m, &r)) {
        if ((size_t)found < max_reps) reps[found] = r;
        found++;
    }
    if (summary) nd_metrics_summary(m, pain_rating, summary);
    nd_metrics_destroy(m);
    return found;
}
