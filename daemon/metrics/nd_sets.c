/* The set tracker of METRICS.md section 5 (nd_sets.h). */
#include "nd_sets.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nd_set_plan_default(nd_set_plan *p)
{
    memset(p, 0, sizeof *p);
    p->rest_s = ND_SETS_REST_DEFAULT_S;
    p->set_gap_s = ND_SETS_GAP_DEFAULT_S;
    nd_progression_rules_default(&p->rules);
    p->leg = ND_SIDE_NONE;
    p->leg_on_N = 50;
    p->leg_off_N = 25;
    p->test = ND_TEST_NORDIC;
    p->angle_deg = NAN;
    for (int leg = 0; leg < 2; leg++) p->zone_lo_N[leg] = p->zone_hi_N[leg] = NAN;
}

void nd_set_plan_normalise(nd_set_plan *p)
{
    if (p->sets == 0) nd_set_plan_default(p);
}

const char *nd_set_test_name(nd_set_test t)
{
    return t == ND_TEST_ISOMETRIC ? "isometric" : "nordic";
}

int nd_set_test_parse(const char *text, nd_set_test *out)
{
    if (!strcmp(text, "nordic"))
        *out = ND_TEST_NORDIC;
    else if (!strcmp(text, "isometric"))
        *out = ND_TEST_ISOMETRIC;
    else
        return -1;
    return 0;
}

bool nd_set_plan_has_zone(const nd_set_plan *p)
{
    return !isnan(p->zone_lo_N[ND_LEFT]) || !isnan(p->zone_lo_N[ND_RIGHT]);
}

int nd_set_plan_validate(const nd_set_plan *p, char *err, size_t errlen)
{
    if (p->sets > ND_SETS_MAX_SETS || p->reps > ND_SETS_MAX_REPS || (p->sets > 0) != (p->reps > 0))
        return snprintf(err, errlen, "protocol must be 1-%d sets x 1-%d reps, got %ux%u",
                        ND_SETS_MAX_SETS, ND_SETS_MAX_REPS, p->sets, p->reps),
               -1;
    if (!(p->rest_s >= 0 && p->rest_s <= 3600))
        return snprintf(err, errlen, "rest_s must be 0 to 3600 s, got %g", p->rest_s), -1;
    if (!(p->set_gap_s >= 1 && p->set_gap_s <= 3600))
        return snprintf(err, errlen, "set_gap_s must be 1 to 3600 s, got %g", p->set_gap_s), -1;
    if (nd_progression_rules_validate(&p->rules, err, errlen)) return -1;
    if ((unsigned)p->leg > ND_SIDE_RIGHT)
        return snprintf(err, errlen, "leg must be left, right or both"), -1;
    if (!(p->leg_off_N >= 0 && p->leg_off_N <= p->leg_on_N && p->leg_on_N <= 1e5))
        return snprintf(err, errlen,
                        "single-leg thresholds need 0 <= leg_off_N <= leg_on_N <= 1e5, "
                        "got on %g, off %g",
                        p->leg_on_N, p->leg_off_N),
               -1;
    if (p->test != ND_TEST_NORDIC && p->test != ND_TEST_ISOMETRIC)
        return snprintf(err, errlen, "test must be nordic or isometric"), -1;
    if (p->test == ND_TEST_ISOMETRIC &&
        !(p->angle_deg >= 0 && p->angle_deg <= ND_ISO_ANGLE_MAX_DEG))
        return snprintf(err, errlen, "an isometric test needs a knee angle of 0 to %g deg, got %g",
                        ND_ISO_ANGLE_MAX_DEG, p->angle_deg),
               -1;
    if (p->test == ND_TEST_NORDIC && !isnan(p->angle_deg))
        return snprintf(err, errlen, "a knee angle (%g deg) is for isometric tests only",
                        p->angle_deg),
               -1;
    for (int leg = 0; leg < 2; leg++) {
        double lo = p->zone_lo_N[leg], hi = p->zone_hi_N[leg];
        if (isnan(lo) && isnan(hi)) continue;
        if (!isfinite(lo) || !isfinite(hi) || lo < 0 || lo > hi || hi > 1e5)
            return snprintf(err, errlen,
                            "target zone of the %s leg must be 0 <= low <= high <= 100000 N, "
                            "got %g..%g",
                            leg == ND_LEFT ? "left" : "right", lo, hi),
                   -1;
    }
    return 0;
}

const char *nd_set_end_name(nd_set_end e)
{
    return e == ND_SET_END_NEXT ? "next" : e == ND_SET_END_GAP ? "gap" : "stop";
}

const char *nd_set_phase_name(nd_set_phase p)
{
    static const char *const names[] = {"none", "waiting", "set", "rest", "done"};
    return (unsigned)p < 5 ? names[p] : "none";
}

const char *nd_zone_verdict_name(nd_zone_verdict v)
{
    switch (v) {
    case ND_ZONE_BELOW:
        return "below";
    case ND_ZONE_IN:
        return "in";
    case ND_ZONE_ABOVE:
        return "above";
    default:
        return "none";
    }
}

nd_zone_verdict nd_set_zone_verdict(const nd_set_plan *p, const nd_rep_result *rep)
{
    if (!nd_set_plan_has_zone(p)) return ND_ZONE_NONE;
    bool above = false;
    for (int leg = 0; leg < 2; leg++) {
        if (isnan(p->zone_lo_N[leg])) continue;
        if (!(rep->peak_N[leg] >= p->zone_lo_N[leg])) return ND_ZONE_BELOW;
        if (rep->peak_N[leg] > p->zone_hi_N[leg]) above = true;
    }
    return above ? ND_ZONE_ABOVE : ND_ZONE_IN;
}

/* The best hold per leg at the row's angle: a bilateral set gives both
 * legs, a single-leg set its working leg only. */
static void iso_add(nd_session_outcome *o, const nd_set_result *r)
{
    uint32_t k = 0;
    while (k < o->iso_angles && o->iso[k].angle_deg != r->angle_deg) k++;
    if (k == o->iso_angles) {
        /* The daemon refuses a ninth angle; angles beyond the summary's
         * room (only in a hand-made file) are not summarised. */
        if (k == ND_ISO_MAX_ANGLES) return;
        o->iso_angles++;
        o->iso[k] = (nd_iso_angle_result){r->angle_deg, {NAN, NAN}, NAN};
    }
    for (int leg = 0; leg < 2; leg++) {
        bool works =
            r->leg == ND_SIDE_NONE || r->leg == (leg == ND_LEFT ? ND_SIDE_LEFT : ND_SIDE_RIGHT);
        double p = r->max_peak_N[leg];
        if (works && (isnan(o->iso[k].best_N[leg]) || p > o->iso[k].best_N[leg]))
            o->iso[k].best_N[leg] = p;
    }
}

static void outcome_add(nd_session_outcome *o, const nd_set_result *r)
{
    if (r->reps_done == 0) return; /* an empty set counts as not done */
    if (r->test == ND_TEST_ISOMETRIC) iso_add(o, r);
    if (r->test == ND_TEST_NORDIC && (r->leg == ND_SIDE_LEFT || r->leg == ND_SIDE_RIGHT)) {
        int w = r->leg == ND_SIDE_LEFT ? ND_LEFT : ND_RIGHT;
        o->block_sum_N[w] += r->mean_peak_N[w] * r->reps_done;
        o->block_reps[w] += r->reps_done;
    }
    o->sets_done++;
    if (!r->completed) o->sets_incomplete++;
    if (r->pain < 0)
        o->sets_unrated++;
    else if (r->pain > o->max_pain)
        o->max_pain = r->pain;
}

static void reset_current(nd_sets *t)
{
    t->reps = 0;
    t->i_first_open = t->i_last_end = 0;
    for (int leg = 0; leg < 2; leg++) {
        t->sum_peak[leg] = 0;
        t->max_peak[leg] = -INFINITY;
        t->best3[leg] = -INFINITY;
        t->last_peak[leg] = NAN;
    }
    t->sum_asym = 0;
    t->n_asym = 0;
    memset(t->weaker_count, 0, sizeof t->weaker_count);
    t->zone_reps = nd_set_plan_has_zone(&t->plan) ? 0 : -1;
    t->pain = -1;
}

void nd_sets_init(nd_sets *t, const nd_set_plan *plan, double fs)
{
    memset(t, 0, sizeof *t);
    t->plan = *plan;
    t->fs = fs;
    long long gap = llround(plan->set_gap_s * fs);
    t->gap_n = gap < 1 ? 1 : (uint64_t)gap;
    t->last_zone = ND_ZONE_NONE;
    t->outcome.sets_planned = plan->sets;
    t->outcome.reps_planned = plan->reps;
    t->outcome.max_pain = -1;
    t->leg = plan->leg;
    t->angle_deg = plan->angle_deg;
    reset_current(t);
}

void nd_sets_outcome(const nd_sets *t, nd_session_outcome *out)
{
    *out = t->outcome;
}

void nd_sets_outcome_from_rows(const nd_set_plan *plan, const nd_set_result *rows, size_t n,
                               nd_session_outcome *out)
{
    memset(out, 0, sizeof *out);
    out->sets_planned = plan->sets;
    out->reps_planned = plan->reps;
    out->max_pain = -1;
    for (size_t k = 0; k < n; k++) outcome_add(out, &rows[k]);
}

void nd_sets_summarise_outcome(const nd_set_plan *plan, const nd_session_outcome *o,
                               int next_day_pain, nd_trial_summary *s)
{
    if (plan->sets == 0) return;
    nd_suggestion sug;
    if (plan->test == ND_TEST_ISOMETRIC) {
        /* A test, not a dose: the progression ladder does not apply. */
        sug = (nd_suggestion){.rule = ND_RULE_NONE, .sets = plan->sets, .reps = plan->reps};
        snprintf(sug.text, sizeof sug.text, "isometric test: no progression rule applies");
    } else {
        nd_progression_suggest(&plan->rules, o, next_day_pain, &sug);
    }
    s->isometric = plan->test == ND_TEST_ISOMETRIC;
    s->iso_angles = o->iso_angles;
    for (uint32_t k = 0; k < o->iso_angles; k++) {
        s->iso[k] = o->iso[k];
        double l = o->iso[k].best_N[ND_LEFT], r = o->iso[k].best_N[ND_RIGHT];
        double mx = l > r ? l : r;
        s->iso[k].asymmetry_pct = !isnan(l) && !isnan(r) && mx > 0 ? 100.0 * (l - r) / mx : NAN;
    }
    s->sets_planned = o->sets_planned;
    s->sets_done = o->sets_done;
    s->max_set_pain = o->max_pain;
    snprintf(s->suggestion_rule, sizeof s->suggestion_rule, "%s",
             nd_progression_rule_name(sug.rule));
    s->block_asymmetry_pct = nd_sets_block_asymmetry(o);
    s->suggestion_sets = sug.sets;
    s->suggestion_reps = sug.reps;
    snprintf(s->suggestion, sizeof s->suggestion, "%s", sug.text);
}

void nd_sets_summarise(const nd_sets *t, int next_day_pain, nd_trial_summary *s)
{
    if (nd_sets_active(t)) nd_sets_summarise_outcome(&t->plan, &t->outcome, next_day_pain, s);
}

bool nd_sets_active(const nd_sets *t)
{
    return t->plan.sets > 0;
}

/* Ends the set in progress at index i_end_empty when it has no reps. */
static void end_current(nd_sets *t, uint64_t i_end_empty, nd_set_end how)
{
    nd_set_result *r = &t->done;
    memset(r, 0, sizeof *r);
    const double fs = t->fs;
    r->index = ++t->ended;
    r->reps_done = t->reps;
    r->reps_planned = t->plan.reps;
    r->completed = t->reps >= t->plan.reps;
    r->i_start = t->reps ? t->i_first_open : i_end_empty;
    r->i_end = t->reps ? t->i_last_end : i_end_empty;
    r->t_start_s = (double)r->i_start / fs;
    r->t_end_s = (double)r->i_end / fs;
    r->duration_s = t->reps ? (double)(r->i_end - r->i_start) / fs : NAN;
    r->rest_after_s = NAN;
    for (int leg = 0; leg < 2; leg++) {
        r->mean_peak_N[leg] = t->reps ? t->sum_peak[leg] / t->reps : NAN;
        r->max_peak_N[leg] = t->reps ? t->max_peak[leg] : NAN;
        r->decline_pct[leg] = t->reps >= 2 && t->best3[leg] > 0
                                  ? 100.0 * (t->last_peak[leg] - t->best3[leg]) / t->best3[leg]
                                  : NAN;
    }
    r->mean_asymmetry_pct = t->n_asym && t->leg == ND_SIDE_NONE ? t->sum_asym / t->n_asym : NAN;
    r->leg = t->leg;
    r->test = t->plan.test;
    r->angle_deg = t->angle_deg;
    /* A = 100 (L - R) / max: positive means the right leg is the weaker one. */
    r->weaker_side = isnan(r->mean_asymmetry_pct) || r->mean_asymmetry_pct == 0 ? ND_SIDE_NONE
                     : r->mean_asymmetry_pct > 0                                ? ND_SIDE_RIGHT
                                                                                : ND_SIDE_LEFT;
    r->same_weaker_reps = r->weaker_side == ND_SIDE_NONE ? 0 : t->weaker_count[r->weaker_side];
    r->zone_reps = t->zone_reps;
    r->pain = t->pain;
    r->ended_by = how;
    t->pending = true;
    t->rest_start = r->i_end;
    reset_current(t);
}

static int emit_pending(nd_sets *t, nd_set_result *out)
{
    if (!t->pending) return 0;
    t->pending = false;
    outcome_add(&t->outcome, &t->done);
    if (out) *out = t->done;
    return 1;
}

int nd_sets_rep(nd_sets *t, const nd_rep_result *rep, nd_set_result *out)
{
    if (!nd_sets_active(t)) return 0;
    int emitted = 0;
    if (t->reps == 0) {
        /* The first rep of a set: the rest after the previous set is over. */
        if (t->pending) {
            t->done.rest_after_s = (double)(rep->i_open - t->rest_start) / t->fs;
            emitted = emit_pending(t, out);
        }
        t->i_first_open = rep->i_open;
    }
    t->reps++;
    t->i_last_end = rep->i_end;
    for (int leg = 0; leg < 2; leg++) {
        double p = rep->peak_N[leg];
        t->sum_peak[leg] += p;
        if (p > t->max_peak[leg]) t->max_peak[leg] = p;
        if (t->reps <= 3 && p > t->best3[leg]) t->best3[leg] = p;
        t->last_peak[leg] = p;
    }
    if (!isnan(rep->asymmetry_pct)) {
        t->sum_asym += rep->asymmetry_pct;
        t->n_asym++;
    }
    if ((unsigned)rep->weaker_side < 3) t->weaker_count[rep->weaker_side]++;
    t->last_zone = nd_set_zone_verdict(&t->plan, rep);
    if (t->last_zone == ND_ZONE_IN) t->zone_reps++;
    return emitted;
}

int nd_sets_tick(nd_sets *t, uint64_t i, bool rep_open, nd_set_result *out)
{
    (void)out; /* ending a set with reps never finalises a row: its rest is unknown */
    if (!nd_sets_active(t) || t->reps == 0 || rep_open) return 0;
    if (i >= t->i_last_end + t->gap_n) end_current(t, i, ND_SET_END_GAP);
    return 0;
}

void nd_sets_switch_leg(nd_sets *t, nd_side leg)
{
    if (nd_sets_active(t)) t->leg = leg;
}

void nd_sets_set_angle(nd_sets *t, double angle_deg)
{
    if (nd_sets_active(t) && t->plan.test == ND_TEST_ISOMETRIC) t->angle_deg = angle_deg;
}

double nd_sets_block_asymmetry(const nd_session_outcome *o)
{
    if (!o->block_reps[ND_LEFT] || !o->block_reps[ND_RIGHT]) return NAN;
    double l = o->block_sum_N[ND_LEFT] / o->block_reps[ND_LEFT];
    double r = o->block_sum_N[ND_RIGHT] / o->block_reps[ND_RIGHT];
    double mx = l > r ? l : r;
    return mx > 0 ? 100.0 * (l - r) / mx : NAN;
}

int nd_sets_next(nd_sets *t, uint64_t i, nd_set_result *out)
{
    if (!nd_sets_active(t)) return 0;
    int emitted = t->reps == 0 ? emit_pending(t, out) : 0;
    end_current(t, i, ND_SET_END_NEXT);
    return emitted;
}

void nd_sets_pain(nd_sets *t, int pain)
{
    if (!nd_sets_active(t) || pain < 0 || pain > 10) return;
    if (t->reps == 0 && t->pending)
        t->done.pain = pain;
    else
        t->pain = pain;
}

int nd_sets_finish(nd_sets *t, uint64_t n, nd_set_result out[2])
{
    if (!nd_sets_active(t)) return 0;
    int k = 0;
    if (t->reps > 0 || t->pain >= 0) {
        /* The set in progress ends at the stop; a set still pending
         * before an empty one gets no rest figure. (With reps, its first
         * rep already finalised the pending row.) */
        if (t->reps == 0) k += emit_pending(t, &out[k]);
        end_current(t, n, ND_SET_END_STOP);
    }
    k += emit_pending(t, &out[k]);
    return k;
}

void nd_sets_live(const nd_sets *t, uint64_t i, nd_set_live *out)
{
    memset(out, 0, sizeof *out);
    out->last_rep_zone = t->last_zone;
    out->angle_deg = NAN;
    if (!nd_sets_active(t)) return;
    out->sets_planned = t->plan.sets;
    out->reps_planned = t->plan.reps;
    out->sets_ended = t->ended;
    out->set = t->ended + 1;
    out->rep = t->reps;
    out->leg = t->leg;
    out->test = t->plan.test;
    out->angle_deg = t->angle_deg;
    if (t->reps > 0) {
        out->phase = ND_SET_PHASE_ACTIVE;
    } else if (t->pending) {
        out->phase = t->ended >= t->plan.sets ? ND_SET_PHASE_DONE : ND_SET_PHASE_REST;
        if (out->phase == ND_SET_PHASE_DONE) out->set = t->ended;
        out->rest_elapsed_s = i > t->rest_start ? (double)(i - t->rest_start) / t->fs : 0;
        out->rest_remaining_s = t->plan.rest_s - out->rest_elapsed_s;
        if (out->rest_remaining_s < 0 || out->phase == ND_SET_PHASE_DONE) out->rest_remaining_s = 0;
    } else {
        out->phase = t->ended >= t->plan.sets ? ND_SET_PHASE_DONE : ND_SET_PHASE_WAITING;
    }
}

long nd_sets_recompute(const nd_metric_settings *s, double fs, const nd_subject *subj,
                       const nd_set_plan *plan, const double *left_N, const double *right_N,
                       size_t n, const nd_set_input *inputs, size_t n_inputs, nd_set_result *rows,
                       size_t max_rows, char *err, size_t errlen)
{
    nd_session_replay out = {.rows = rows, .max_rows = max_rows, .pain_rating = -1};
    if (nd_session_recompute(s, fs, subj, plan, left_N, right_N, n, inputs, n_inputs, &out, err,
                             errlen))
        return -1;
    return out.n_rows;
}

int nd_session_recompute(const nd_metric_settings *s, double fs, const nd_subject *subj,
                         const nd_set_plan *plan, const double *left_N, const double *right_N,
                         size_t n, const nd_set_input *inputs, size_t n_inputs,
                         nd_session_replay *out, char *err, size_t errlen)
{
    if (nd_set_plan_validate(plan, err, errlen)) return -1;
    if ((n > 0 && (!left_N || !right_N)) || (n_inputs > 0 && !inputs) ||
        (out->max_rows > 0 && !out->rows) || (out->max_reps > 0 && !out->reps) ||
        out->pain_rating < -1 || out->pain_rating > 10)
        return snprintf(err, errlen, "sets recompute: missing arrays or bad pain rating"), -1;
    for (size_t k = 1; k < n_inputs; k++)
        if (inputs[k].i < inputs[k - 1].i)
            return snprintf(err, errlen, "sets recompute: inputs not in time order"), -1;
    nd_metrics *m = nd_metrics_create_checked(s, fs, subj, err, errlen);
    if (!m) return -1;
    nd_sets t;
    nd_sets_init(&t, plan, fs);
    if (plan->sets && plan->leg != ND_SIDE_NONE)
        nd_metrics_set_leg(m, plan->leg, plan->leg_on_N, plan->leg_off_N);
    out->n_rows = out->n_reps = 0;
    nd_set_result r[2];
    nd_rep_result rep;
    size_t next_input = 0;
#define EMIT(row)                                                                                  \
    do {                                                                                           \
        if ((size_t)out->n_rows < out->max_rows) out->rows[out->n_rows] = (row);                   \
        out->n_rows++;                                                                             \
    } while (0)
#define REP(x)                                                                                     \
    do {                                                                                           \
        if ((size_t)out->n_reps < out->max_reps) out->reps[out->n_reps] = (x);                     \
        out->n_reps++;                                                                             \
    } while (0)
    for (size_t i = 0; i <= n; i++) {
        /* Inputs at or after the last sample apply before the stop. */
        for (; next_input < n_inputs && (inputs[next_input].i <= i || i == n); next_input++) {
            const nd_set_input *in = &inputs[next_input];
            if (in->kind == ND_SET_INPUT_NEXT) {
                if (nd_sets_next(&t, in->i < n ? in->i : n, &r[0])) EMIT(r[0]);
                if (in->switch_leg && plan->sets) {
                    nd_sets_switch_leg(&t, in->leg);
                    nd_metrics_set_leg(m, in->leg, plan->leg_on_N, plan->leg_off_N);
                }
                if (in->set_angle) nd_sets_set_angle(&t, in->angle_deg);
            } else {
                nd_sets_pain(&t, in->pain);
            }
        }
        if (i == n) break;
        if (nd_metrics_push(m, left_N[i], right_N[i], &rep)) {
            REP(rep);
            if (nd_sets_rep(&t, &rep, &r[0])) EMIT(r[0]);
        }
        nd_sets_tick(&t, i, nd_metrics_rep_open(m), NULL);
    }
    if (nd_metrics_finish(m, &rep)) {
        REP(rep);
        if (nd_sets_rep(&t, &rep, &r[0])) EMIT(r[0]);
    }
    int k = nd_sets_finish(&t, n, r);
    for (int j = 0; j < k; j++) EMIT(r[j]);
#undef EMIT
#undef REP
    if (out->summary) {
        nd_metrics_summary(m, out->pain_rating, out->summary);
        nd_sets_summarise(&t, -1, out->summary);
    }
    nd_metrics_destroy(m);
    return 0;
}
