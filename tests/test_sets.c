/* Set tracker (daemon/metrics/METRICS.md section 5) on generated sessions: rectangular
 * reps of known per-leg force, known rests, pains, a set left incomplete,
 * explicit and gap ends. Every expected field is computed here from the
 * generator's parameters with the documented formulas; the filter is off
 * (cutoff >= 0.45 fs), so a rep's peak is exactly its generated force, it
 * opens at its first sample and ends at the first sample after it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nd_sets.h"
#include "test_util.h"

#define FS 100.0

typedef struct gen_rep {
    double start_s, len_s, left_N, right_N;
} gen_rep;

typedef struct gen_set {
    int n;
    gen_rep rep[8];
} gen_set;

static uint64_t idx(double t_s)
{
    return (uint64_t)llround(t_s * FS);
}

static void settings(nd_metric_settings *s)
{
    nd_metric_settings_default(s);
    s->cutoff_hz = 0.5 * FS; /* filter off: peaks are the generated values */
}

/* Fills force arrays of n samples with the reps of all sets. */
static void render(const gen_set *sets, int nsets, double *l, double *r, size_t n)
{
    memset(l, 0, n * sizeof *l);
    memset(r, 0, n * sizeof *r);
    for (int k = 0; k < nsets; k++)
        for (int j = 0; j < sets[k].n; j++) {
            const gen_rep *g = &sets[k].rep[j];
            for (uint64_t i = idx(g->start_s); i < idx(g->start_s + g->len_s) && i < n; i++) {
                l[i] = g->left_N;
                r[i] = g->right_N;
            }
        }
}

static double asym(double l, double r)
{
    return 100.0 * (l - r) / (l > r ? l : r);
}

/* The documented per-set formulas, from generator values only. */
static void expect_set(const gen_set *g, nd_set_result *e)
{
    memset(e, 0, sizeof *e);
    e->reps_done = (uint32_t)g->n;
    double sum_a = 0;
    int weaker_l = 0, weaker_r = 0;
    for (int leg = 0; leg < 2; leg++) {
        double sum = 0, mx = -1, best3 = -1;
        for (int j = 0; j < g->n; j++) {
            double p = leg == ND_LEFT ? g->rep[j].left_N : g->rep[j].right_N;
            sum += p;
            if (p > mx) mx = p;
            if (j < 3 && p > best3) best3 = p;
        }
        double last = leg == ND_LEFT ? g->rep[g->n - 1].left_N : g->rep[g->n - 1].right_N;
        e->mean_peak_N[leg] = sum / g->n;
        e->max_peak_N[leg] = mx;
        e->decline_pct[leg] = g->n >= 2 ? 100.0 * (last - best3) / best3 : NAN;
    }
    for (int j = 0; j < g->n; j++) {
        sum_a += asym(g->rep[j].left_N, g->rep[j].right_N);
        weaker_l += g->rep[j].left_N < g->rep[j].right_N;
        weaker_r += g->rep[j].right_N < g->rep[j].left_N;
    }
    e->mean_asymmetry_pct = sum_a / g->n;
    e->weaker_side = e->mean_asymmetry_pct > 0 ? ND_SIDE_RIGHT : ND_SIDE_LEFT;
    e->same_weaker_reps = (uint32_t)(e->weaker_side == ND_SIDE_RIGHT ? weaker_r : weaker_l);
    e->t_start_s = g->rep[0].start_s;
    e->t_end_s = g->rep[g->n - 1].start_s + g->rep[g->n - 1].len_s;
    e->duration_s = e->t_end_s - e->t_start_s;
}

static void check_row(const nd_set_result *got, const nd_set_result *e, uint32_t index,
                      uint32_t planned, double rest_after, int pain, nd_set_end how, int zone)
{
    CHECK_EQ_INT(got->index, index);
    CHECK_EQ_INT(got->reps_done, e->reps_done);
    CHECK_EQ_INT(got->reps_planned, planned);
    CHECK_EQ_INT(got->completed, e->reps_done >= planned);
    CHECK_NEAR(got->t_start_s, e->t_start_s, 1e-9);
    CHECK_NEAR(got->t_end_s, e->t_end_s, 1e-9);
    CHECK_NEAR(got->duration_s, e->duration_s, 1e-9);
    if (isnan(rest_after))
        CHECK(isnan(got->rest_after_s));
    else
        CHECK_NEAR(got->rest_after_s, rest_after, 1e-9);
    for (int leg = 0; leg < 2; leg++) {
        CHECK_NEAR(got->mean_peak_N[leg], e->mean_peak_N[leg], 1e-9);
        CHECK_NEAR(got->max_peak_N[leg], e->max_peak_N[leg], 1e-9);
        CHECK_NEAR(got->decline_pct[leg], e->decline_pct[leg], 1e-9);
    }
    CHECK_NEAR(got->mean_asymmetry_pct, e->mean_asymmetry_pct, 1e-9);
    CHECK_EQ_INT(got->weaker_side, e->weaker_side);
    CHECK_EQ_INT(got->same_weaker_reps, e->same_weaker_reps);
    CHECK_EQ_INT(got->pain, pain);
    CHECK_EQ_INT(got->ended_by, how);
    CHECK_EQ_INT(got->zone_reps, zone);
}

/* A 3 x 4 session: set 1 complete, ended by "set next", pain 2 entered in
 * the rest after it; set 2 stopped after 3 reps (a failure to complete) and
 * ended by the rest gap, pain 4 in the rest; set 3 complete with pain 5
 * during it, ended by the trial stop. Zone: left 290-320 N, right 280-320 N. */
static void test_session(void)
{
    const gen_set sets[3] = {
        {4,
         {{2.0, 2.0, 300, 290},
          {7.0, 2.0, 320, 330},
          {12.0, 2.5, 310, 300},
          {18.0, 2.0, 280, 250}}},
        {3, {{60.0, 2.0, 260, 300}, {65.0, 2.0, 270, 310}, {70.0, 2.0, 250, 240}}},
        {4,
         {{130.0, 2.0, 305, 295},
          {135.0, 2.0, 300, 301},
          {140.0, 2.0, 315, 290},
          {145.0, 2.0, 318, 300}}},
    };
    const double set_next_s = 25.0, pain1_s = 40.0, pain2_s = 110.0, pain3_s = 141.0;
    const double stop_s = 160.0;
    const size_t n = idx(stop_s);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    render(sets, 3, l, r, n);

    nd_metric_settings s;
    settings(&s);
    nd_subject subj = {0};
    nd_set_plan plan;
    nd_set_plan_default(&plan);
    plan.sets = 3;
    plan.reps = 4;
    plan.rest_s = 30;
    plan.set_gap_s = 20;
    plan.zone_lo_N[ND_LEFT] = 290;
    plan.zone_hi_N[ND_LEFT] = 320;
    plan.zone_lo_N[ND_RIGHT] = 280;
    plan.zone_hi_N[ND_RIGHT] = 320;
    char err[256] = "";
    CHECK(nd_set_plan_validate(&plan, err, sizeof err) == 0);

    const nd_set_input inputs[] = {
        {idx(set_next_s), ND_SET_INPUT_NEXT, -1, false, ND_SIDE_NONE, false, 0},
        {idx(pain1_s), ND_SET_INPUT_PAIN, 2, false, ND_SIDE_NONE, false, 0},
        {idx(pain2_s), ND_SET_INPUT_PAIN, 4, false, ND_SIDE_NONE, false, 0},
        {idx(pain3_s), ND_SET_INPUT_PAIN, 5, false, ND_SIDE_NONE, false, 0},
    };
    nd_set_result rows[8];
    long got =
        nd_sets_recompute(&s, FS, &subj, &plan, l, r, n, inputs, 4, rows, 8, err, sizeof err);
    CHECK_EQ_INT(got, 3);
    if (got != 3) fprintf(stderr, "recompute: %s\n", err);

    /* Zone counts by hand from the table above: set 1 reps 1 (300/290) and
     * 3 (310/300) are inside; rep 2 has right 330 > 320, rep 4 left 280 <
     * 290. Set 2: none (left below 290). Set 3: all four. */
    nd_set_result e;
    double end1 = 18.0 + 2.0, end2 = 70.0 + 2.0;
    expect_set(&sets[0], &e);
    check_row(&rows[0], &e, 1, 4, 60.0 - end1, 2, ND_SET_END_NEXT, 2);
    expect_set(&sets[1], &e);
    check_row(&rows[1], &e, 2, 4, 130.0 - end2, 4, ND_SET_END_GAP, 0);
    expect_set(&sets[2], &e);
    check_row(&rows[2], &e, 3, 4, NAN, 5, ND_SET_END_STOP, 4);
    CHECK(rows[1].weaker_side == ND_SIDE_LEFT); /* mean asymmetry negative: left weaker */
    CHECK(!rows[1].completed);
    free(l);
    free(r);
}

/* The live view the daemon publishes, driven sample by sample the way the
 * metrics thread drives it. */
static void test_live(void)
{
    const gen_set sets[1] = {{2, {{1.0, 1.0, 200, 220}, {4.0, 1.0, 210, 200}}}};
    const size_t n = idx(60.0);
    double *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    render(sets, 1, l, r, n);
    nd_metric_settings s;
    settings(&s);
    nd_subject subj = {0};
    nd_set_plan plan;
    nd_set_plan_default(&plan);
    plan.sets = 2;
    plan.reps = 2;
    plan.rest_s = 30;
    plan.set_gap_s = 10;
    nd_metrics *m = nd_metrics_create(&s, FS, &subj);
    nd_sets t;
    nd_sets_init(&t, &plan, FS);
    nd_set_live live;
    nd_sets_live(&t, 0, &live);
    CHECK_EQ_INT(live.phase, ND_SET_PHASE_WAITING);
    CHECK_EQ_INT(live.set, 1);
    CHECK_EQ_INT(live.sets_planned, 2);
    CHECK_EQ_INT(live.reps_planned, 2);
    CHECK_EQ_INT(live.last_rep_zone, ND_ZONE_NONE);
    nd_rep_result rep;
    nd_live_state ls;
    uint64_t hold_n = (uint64_t)llround(s.hold_s * FS);
    for (uint64_t i = 0; i < n; i++) {
        if (nd_metrics_push(m, l[i], r[i], &rep)) CHECK(nd_sets_rep(&t, &rep, NULL) == 0);
        nd_metrics_live(m, &ls);
        nd_sets_tick(&t, i, ls.rep_open, NULL);
        nd_sets_live(&t, i, &live);
        if (i == idx(3.0)) { /* rep 1 reported (ended at 2.0 s + hold) */
            CHECK_EQ_INT(live.phase, ND_SET_PHASE_ACTIVE);
            CHECK_EQ_INT(live.rep, 1);
        }
        /* The gap ends the set 10 s after the last rep ended (5.0 s). */
        if (i == idx(5.0) + idx(10.0) - 1) CHECK_EQ_INT(live.phase, ND_SET_PHASE_ACTIVE);
        if (i == idx(5.0) + idx(10.0)) {
            CHECK_EQ_INT(live.phase, ND_SET_PHASE_REST);
            CHECK_EQ_INT(live.set, 2);
            CHECK_EQ_INT(live.rep, 0);
            CHECK_NEAR(live.rest_elapsed_s, 10.0, 1e-9);
            CHECK_NEAR(live.rest_remaining_s, 20.0, 1e-9);
        }
        if (i == idx(5.0) + idx(40.0)) CHECK_NEAR(live.rest_remaining_s, 0.0, 0);
    }
    (void)hold_n;
    /* Second set never started: stop gives only set 1's row. */
    nd_set_result rows[2];
    CHECK_EQ_INT(nd_sets_finish(&t, n, rows), 1);
    CHECK_EQ_INT(rows[0].reps_done, 2);
    CHECK_EQ_INT(rows[0].ended_by, ND_SET_END_GAP);
    CHECK(isnan(rows[0].rest_after_s));
    nd_metrics_destroy(m);
    free(l);
    free(r);
}

/* Operator edge cases: set next on an empty set records an empty (failed)
 * set and finalises the one before it; the plan's limits are enforced. */
static void test_edges(void)
{
    nd_set_plan plan;
    nd_set_plan_default(&plan);
    plan.sets = 2;
    plan.reps = 6;
    nd_sets t;
    nd_sets_init(&t, &plan, FS);
    nd_rep_result rep = {0};
    rep.i_open = 100;
    rep.i_end = 300;
    rep.peak_N[0] = 250;
    rep.peak_N[1] = 250;
    rep.asymmetry_pct = 0;
    nd_set_result out;
    CHECK(nd_sets_rep(&t, &rep, &out) == 0);
    CHECK(nd_sets_next(&t, 500, &out) == 0); /* set 1 ends; row pending for its rest */
    CHECK(nd_sets_next(&t, 700, &out) == 1); /* empty set 2 ends: set 1 is final */
    CHECK_EQ_INT(out.index, 1);
    CHECK_EQ_INT(out.reps_done, 1);
    CHECK_EQ_INT(out.weaker_side, ND_SIDE_NONE); /* equal legs */
    CHECK_EQ_INT(out.same_weaker_reps, 0);
    CHECK(isnan(out.rest_after_s));
    CHECK(isnan(out.decline_pct[0])); /* one rep: no decline */
    nd_set_result rows[2];
    CHECK_EQ_INT(nd_sets_finish(&t, 900, rows), 1);
    CHECK_EQ_INT(rows[0].index, 2);
    CHECK_EQ_INT(rows[0].reps_done, 0);
    CHECK(!rows[0].completed);
    CHECK(isnan(rows[0].mean_peak_N[0]));
    CHECK_NEAR(rows[0].t_end_s, 7.0, 1e-12);

    char err[256];
    plan.sets = 21;
    CHECK(nd_set_plan_validate(&plan, err, sizeof err) < 0 && strstr(err, "1-20 sets"));
    plan.sets = 3;
    plan.set_gap_s = 0.5;
    CHECK(nd_set_plan_validate(&plan, err, sizeof err) < 0 && strstr(err, "set_gap_s"));
    plan.set_gap_s = 60;
    plan.zone_lo_N[0] = 300;
    plan.zone_hi_N[0] = 200;
    CHECK(nd_set_plan_validate(&plan, err, sizeof err) < 0 && strstr(err, "left"));

    /* Inactive without a protocol: nothing tracked, nothing written. */
    nd_set_plan none;
    nd_set_plan_default(&none);
    nd_sets_init(&t, &none, FS);
    CHECK(nd_sets_rep(&t, &rep, &out) == 0);
    CHECK_EQ_INT(nd_sets_finish(&t, 900, rows), 0);
}

/* Single-leg blocks (METRICS.md 5.7): a 2 x 3 session, left leg first,
 * then "set next" with leg right. The resting leg lies on its hook with a
 * constant 80 N, so T = F_L + F_R never drops below the bilateral off_N
 * (50 N): only detection on the working leg's own force (thresholds 50/25 N)
 * separates the reps. Expected values from the generator's forces. */
static void test_single_leg(void)
{
    const double rest_N = 80;
    const double left_peaks[3] = {150, 170, 160}, right_peaks[3] = {140, 130, 120};
    const double switch_s = 20.0, stop_s = 40.0;
    const size_t n = idx(stop_s);
    double *l = calloc(n, sizeof *l), *r = calloc(n, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        if (i < idx(switch_s))
            r[i] = rest_N;
        else
            l[i] = rest_N;
    }
    for (int k = 0; k < 3; k++) {
        for (uint64_t i = idx(2.0 + 5.0 * k); i < idx(4.0 + 5.0 * k); i++) l[i] = left_peaks[k];
        for (uint64_t i = idx(22.0 + 5.0 * k); i < idx(24.0 + 5.0 * k); i++) r[i] = right_peaks[k];
    }
    nd_metric_settings s;
    settings(&s);
    nd_subject subj = {0};
    nd_set_plan plan;
    nd_set_plan_default(&plan);
    plan.sets = 2;
    plan.reps = 3;
    plan.leg = ND_SIDE_LEFT;
    plan.leg_on_N = 50;
    plan.leg_off_N = 25;
    nd_set_input in[] = {{idx(switch_s), ND_SET_INPUT_NEXT, -1, true, ND_SIDE_RIGHT, false, 0}};
    nd_set_result rows[4];
    char err[256] = "";
    long got = nd_sets_recompute(&s, FS, &subj, &plan, l, r, n, in, 1, rows, 4, err, sizeof err);
    CHECK_EQ_INT(got, 2);
    if (got == 2) {
        double ml = (150 + 170 + 160) / 3.0, mr = (140 + 130 + 120) / 3.0;
        CHECK_EQ_INT(rows[0].leg, ND_SIDE_LEFT);
        CHECK_EQ_INT(rows[1].leg, ND_SIDE_RIGHT);
        CHECK_EQ_INT(rows[0].reps_done, 3);
        CHECK_EQ_INT(rows[1].reps_done, 3);
        CHECK_NEAR(rows[0].mean_peak_N[ND_LEFT], ml, 1e-9);
        CHECK_NEAR(rows[0].max_peak_N[ND_LEFT], 170, 1e-9);
        CHECK_NEAR(rows[0].mean_peak_N[ND_RIGHT], rest_N, 1e-9); /* the resting leg */
        CHECK_NEAR(rows[1].mean_peak_N[ND_RIGHT], mr, 1e-9);
        CHECK_NEAR(rows[1].decline_pct[ND_RIGHT], 100.0 * (120 - 140) / 140, 1e-9);
        CHECK(isnan(rows[0].mean_asymmetry_pct) && rows[0].weaker_side == ND_SIDE_NONE);
        CHECK_NEAR(rows[0].t_start_s, 2.0, 1e-9);
        CHECK_NEAR(rows[1].t_start_s, 22.0, 1e-9);
        nd_session_outcome o;
        nd_sets_outcome_from_rows(&plan, rows, 2, &o);
        CHECK_NEAR(nd_sets_block_asymmetry(&o), 100.0 * (ml - mr) / ml, 1e-9);
    }
    /* The same data detected bilaterally cannot separate the reps. */
    plan.leg = ND_SIDE_NONE;
    in[0].switch_leg = false;
    got = nd_sets_recompute(&s, FS, &subj, &plan, l, r, n, in, 1, rows, 4, err, sizeof err);
    CHECK(got < 2 || rows[0].reps_done != 3 || rows[1].reps_done != 3);
    free(l);
    free(r);
}

/* Isometric test (METRICS.md 5.7): holds at knee angles 0, 30 and 60 deg,
 * single-leg (a left and a right block per angle, the resting leg on its
 * hook) and then bilateral. "set next" carries the next angle and leg, as
 * the operator enters them. Expected rows and the per-angle summary come
 * from the generator's hold forces. */
typedef struct iso_block {
    double angle;
    nd_side leg;
    double hold_N[2][2]; /* [hold][leg] */
} iso_block;

static void test_isometric(void)
{
    const double rest_N = 200, block_s = 12.0; /* above the right best at 0 deg */
    const iso_block blocks[] = {
        {0, ND_SIDE_LEFT, {{210, rest_N}, {230, rest_N}}},
        {0, ND_SIDE_RIGHT, {{rest_N, 190}, {rest_N, 185}}},
        {30, ND_SIDE_LEFT, {{260, rest_N}, {255, rest_N}}},
        {30, ND_SIDE_RIGHT, {{rest_N, 275}, {rest_N, 280}}},
        {60, ND_SIDE_LEFT, {{300, rest_N}, {310, rest_N}}},
        {60, ND_SIDE_RIGHT, {{rest_N, 240}, {rest_N, 250}}},
        {60, ND_SIDE_NONE, {{320, 330}, {335, 300}}},
    };
    const int nb = (int)(sizeof blocks / sizeof blocks[0]);
    const size_t n = idx(block_s * nb + 2);
    double *l = calloc(n, sizeof *l), *r = calloc(n, sizeof *r);
    nd_set_input in[8];
    for (int b = 0; b < nb; b++) {
        double t0 = block_s * b;
        for (uint64_t i = idx(t0); i < idx(t0 + block_s); i++) {
            l[i] = blocks[b].leg == ND_SIDE_RIGHT ? rest_N : 0;
            r[i] = blocks[b].leg == ND_SIDE_LEFT ? rest_N : 0;
        }
        for (int h = 0; h < 2; h++) /* 3 s holds at t0 + 1 and t0 + 6 */
            for (uint64_t i = idx(t0 + 1 + 5.0 * h); i < idx(t0 + 4 + 5.0 * h); i++) {
                l[i] = blocks[b].hold_N[h][ND_LEFT];
                r[i] = blocks[b].hold_N[h][ND_RIGHT];
            }
        if (b > 0)
            in[b - 1] = (nd_set_input){.i = idx(t0),
                                       .kind = ND_SET_INPUT_NEXT,
                                       .pain = -1,
                                       .switch_leg = true,
                                       .leg = blocks[b].leg,
                                       .set_angle = true,
                                       .angle_deg = blocks[b].angle};
    }
    nd_metric_settings s;
    settings(&s);
    nd_subject subj = {0};
    nd_set_plan plan;
    nd_set_plan_default(&plan);
    plan.sets = (uint32_t)nb;
    plan.reps = 2;
    plan.test = ND_TEST_ISOMETRIC;
    plan.angle_deg = blocks[0].angle;
    plan.leg = blocks[0].leg;
    char err[256] = "";
    CHECK(nd_set_plan_validate(&plan, err, sizeof err) == 0);
    nd_set_result rows[10];
    nd_trial_summary sum;
    nd_session_replay out = {.rows = rows, .max_rows = 10, .summary = &sum, .pain_rating = -1};
    CHECK(nd_session_recompute(&s, FS, &subj, &plan, l, r, n, in, (size_t)nb - 1, &out, err,
                               sizeof err) == 0);
    CHECK_EQ_INT(out.n_rows, nb);
    for (int b = 0; b < nb && b < out.n_rows; b++) {
        const iso_block *g = &blocks[b];
        CHECK_EQ_INT(rows[b].test, ND_TEST_ISOMETRIC);
        CHECK_EQ_INT(rows[b].leg, g->leg);
        CHECK(rows[b].angle_deg == g->angle);
        CHECK_EQ_INT(rows[b].reps_done, 2);
        CHECK_NEAR(rows[b].t_start_s, block_s * b + 1, 1e-9);
        for (int leg = 0; leg < 2; leg++) {
            double a = g->hold_N[0][leg], c = g->hold_N[1][leg];
            CHECK_NEAR(rows[b].max_peak_N[leg], a > c ? a : c, 1e-9);
            CHECK_NEAR(rows[b].mean_peak_N[leg], (a + c) / 2, 1e-9);
        }
        if (g->leg != ND_SIDE_NONE) CHECK(isnan(rows[b].mean_asymmetry_pct));
    }
    /* Best hold per leg per angle: single-leg blocks give their working leg,
     * the bilateral block both; asymmetry of the two bests. */
    const double angles[3] = {0, 30, 60};
    const double best_l[3] = {230, 260, 335}, best_r[3] = {190, 280, 330};
    CHECK(sum.isometric);
    CHECK_EQ_INT(sum.iso_angles, 3);
    for (int k = 0; k < 3 && k < (int)sum.iso_angles; k++) {
        CHECK(sum.iso[k].angle_deg == angles[k]);
        CHECK_NEAR(sum.iso[k].best_N[ND_LEFT], best_l[k], 1e-9);
        CHECK_NEAR(sum.iso[k].best_N[ND_RIGHT], best_r[k], 1e-9);
        CHECK_NEAR(sum.iso[k].asymmetry_pct, asym(best_l[k], best_r[k]), 1e-9);
    }
    /* Nordic block asymmetry does not mix knee angles; no progression rule. */
    CHECK(isnan(sum.block_asymmetry_pct));
    CHECK(!strcmp(sum.suggestion_rule, "none"));

    /* A left block only: the right best is undefined, and so the asymmetry. */
    nd_session_outcome o;
    nd_sets_outcome_from_rows(&plan, rows, 1, &o);
    nd_trial_summary one = {0};
    nd_sets_summarise_outcome(&plan, &o, -1, &one);
    CHECK_EQ_INT(one.iso_angles, 1);
    CHECK(isnan(one.iso[0].best_N[ND_RIGHT]) && isnan(one.iso[0].asymmetry_pct));

    /* Bad plans: angle out of range or missing, an angle on a Nordic plan. */
    plan.angle_deg = 90.5;
    CHECK(nd_set_plan_validate(&plan, err, sizeof err) < 0 && strstr(err, "angle"));
    plan.angle_deg = -1;
    CHECK(nd_set_plan_validate(&plan, err, sizeof err) < 0 && strstr(err, "0 to 90"));
    plan.angle_deg = NAN;
    CHECK(nd_set_plan_validate(&plan, err, sizeof err) < 0 && strstr(err, "isometric"));
    plan.test = ND_TEST_NORDIC;
    plan.angle_deg = 30;
    CHECK(nd_set_plan_validate(&plan, err, sizeof err) < 0 && strstr(err, "isometric tests only"));
    /* An angle sent to a Nordic session is ignored by the tracker. */
    plan.angle_deg = NAN;
    nd_sets t;
    nd_sets_init(&t, &plan, FS);
    nd_sets_set_angle(&t, 30);
    nd_set_live live;
    nd_sets_live(&t, 0, &live);
    CHECK(isnan(live.angle_deg) && live.test == ND_TEST_NORDIC);
    free(l);
    free(r);
}

int main(void)
{
    test_isometric();
    test_single_leg();
    test_session();
    test_live();
    test_edges();
    return nd_test_finish("test_sets");
}
