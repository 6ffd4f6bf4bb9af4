/* Sets of a planned protocol S x R (daemon/metrics/METRICS.md section 5): which rep
 * belongs to which set, when a set ends, the rest between sets, and the
 * per-set results stored in the trial file's /sets table.
 *
 * Pure: the tracker sees only rep results (nd_metrics.h), sample indices and
 * operator inputs (set next, pain), so the daemon's metrics thread and the
 * offline recomputation (nd_sets_recompute) give identical rows when fed the
 * same sequence. Order per sample index i, as both feed it:
 *   operator inputs at i (nd_sets_next, nd_sets_pain), then the sample is
 *   pushed into the metrics engine, then a rep it closed (nd_sets_rep), then
 *   nd_sets_tick(i).
 * A set ends on "set next" or after set_gap_s without a rep; its row is
 * final (pain and rest after it known) when the next set's first rep
 * arrives, the next set ends empty, or the trial stops. */
#ifndef ND_SETS_H
#define ND_SETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_metrics.h"
#include "nd_progression.h"

#define ND_SETS_REST_DEFAULT_S 120.0
#define ND_SETS_GAP_DEFAULT_S  60.0
#define ND_SETS_MAX_SETS       20
#define ND_SETS_MAX_REPS       50
#define ND_ISO_ANGLE_MAX_DEG   90.0

/* What the session tests (METRICS.md 5.7): eccentric Nordic reps, or
 * isometric holds at a knee angle entered by the operator. */
typedef enum nd_set_test {
    ND_TEST_NORDIC = 0,
    ND_TEST_ISOMETRIC = 1,
} nd_set_test;
const char *nd_set_test_name(nd_set_test t);               /* "nordic", "isometric" */
int nd_set_test_parse(const char *text, nd_set_test *out); /* 0 ok, -1 unknown */

#define ND_SETS_BEST_SOURCE_MAX 255 /* bytes of nd_set_plan.best_source */

typedef struct nd_set_plan {
    uint32_t sets, reps; /* planned; sets == 0: no protocol, the tracker stays inactive */
    double rest_s;       /* planned rest between sets, [0, 3600] */
    double set_gap_s;    /* a set ends by itself after this long without a rep, [1, 3600] */
    /* Target zone per leg: a rep is in the zone when every leg with a zone
     * has lo <= peak <= hi. NaN lo and hi: no zone for that leg. */
    double zone_lo_N[2], zone_hi_N[2];
    nd_progression_rules rules; /* for the suggestion at the end (METRICS.md 5.6) */
    /* Single-leg protocol (METRICS.md 5.7): the working leg of the first
     * sets (NONE: both legs) and its rep thresholds on that leg's force. */
    nd_side leg;
    double leg_on_N, leg_off_N; /* defaults 50 and 25 N; 0 <= off <= on <= 1e5 */
    /* Isometric test (5.7): every rep is a hold; angle_deg is the knee angle
     * of the first sets, [0, 90]; NaN for a Nordic session. */
    nd_set_test test;
    double angle_deg;
    /* Where the best a target_pct was taken of came from ("" = not said),
     * stored with the zone; no effect on the metrics. */
    char best_source[ND_SETS_BEST_SOURCE_MAX + 1];
} nd_set_plan;

/* No protocol, default rest and gap, no zone. */
void nd_set_plan_default(nd_set_plan *p);
/* A plan without sets (e.g. a zeroed request) becomes the default plan. */
void nd_set_plan_normalise(nd_set_plan *p);
/* Ranges above; zone bounds finite, 0 <= lo <= hi, or both NaN; an
 * isometric plan has an angle in [0, 90], a Nordic one none (NaN). */
int nd_set_plan_validate(const nd_set_plan *p, char *err, size_t errlen);
bool nd_set_plan_has_zone(const nd_set_plan *p);

typedef enum nd_set_end {
    ND_SET_END_NEXT = 0, /* operator: set next */
    ND_SET_END_GAP = 1,  /* set_gap_s without a rep */
    ND_SET_END_STOP = 2, /* the trial stopped */
} nd_set_end;
const char *nd_set_end_name(nd_set_end e); /* "next", "gap", "stop" */

typedef struct nd_set_result {
    uint32_t index; /* 1-based set number */
    uint32_t reps_done, reps_planned;
    bool completed;          /* reps_done >= reps_planned */
    uint64_t i_start, i_end; /* first rep's i_open, last rep's i_end (empty set: where it ended) */
    double t_start_s, t_end_s;
    double duration_s;                    /* (i_end - i_start) / fs; NaN without reps */
    double rest_after_s;                  /* to the next set's first rep; NaN when none followed */
    double mean_peak_N[2], max_peak_N[2]; /* NaN without reps */
    double mean_asymmetry_pct;            /* mean of the reps' defined asymmetries, else NaN */
    nd_side weaker_side;                  /* from the sign of the mean: > 0 right, < 0 left */
    uint32_t same_weaker_reps;            /* reps whose weaker side is the set's */
    double decline_pct[2]; /* 100 (last - best of first 3) / best of first 3; NaN < 2 reps */
    int32_t zone_reps;     /* reps in the target zone; -1 without a zone */
    int pain;              /* 0..10, -1 none entered (the last entered wins) */
    nd_set_end ended_by;
    nd_side leg; /* working leg (NONE: both); single-leg sets have no asymmetry */
    nd_set_test test;
    double angle_deg; /* isometric: knee angle of the holds; NaN for Nordic sets */
} nd_set_result;

typedef enum nd_set_phase {
    ND_SET_PHASE_NONE = 0, /* no protocol */
    ND_SET_PHASE_WAITING,  /* before the set's first rep (first set, or after an empty set) */
    ND_SET_PHASE_ACTIVE,   /* the set has reps */
    ND_SET_PHASE_REST,     /* a set ended; waiting for the next set's first rep */
    ND_SET_PHASE_DONE,     /* the planned sets ended (extra sets are still counted) */
} nd_set_phase;
const char *nd_set_phase_name(nd_set_phase p); /* "none", "waiting", "set", "rest", "done" */

typedef enum nd_zone_verdict {
    ND_ZONE_NONE = -1, /* no zone, or no rep yet */
    ND_ZONE_BELOW = 0,
    ND_ZONE_IN = 1,
    ND_ZONE_ABOVE = 2,
} nd_zone_verdict;
const char *nd_zone_verdict_name(nd_zone_verdict v); /* "none", "below", "in", "above" */
/* Below when any leg with a zone is below its lo, else above when any is
 * above its hi, else in. */
nd_zone_verdict nd_set_zone_verdict(const nd_set_plan *p, const nd_rep_result *rep);

/* What a live view shows. */
typedef struct nd_set_live {
    nd_set_phase phase;
    uint32_t set, sets_planned; /* the set being done or next (rest: the next one) */
    uint32_t rep, reps_planned; /* reps in that set so far */
    uint32_t sets_ended;
    nd_side leg; /* working leg of the set being done or next */
    nd_set_test test;
    double angle_deg;        /* isometric: knee angle of that set; NaN for Nordic */
    double rest_elapsed_s;   /* since the last set ended (rest phase), else 0 */
    double rest_remaining_s; /* max(0, rest_s - elapsed) in the rest phase, else 0 */
    nd_zone_verdict last_rep_zone;
} nd_set_live;

typedef struct nd_sets {
    nd_set_plan plan;
    double fs;
    uint64_t gap_n; /* set_gap_s in samples, >= 1 */
    uint32_t ended; /* sets ended so far */
    /* The set in progress. */
    uint32_t reps;
    uint64_t i_first_open, i_last_end;
    double sum_peak[2], max_peak[2], best3[2], last_peak[2];
    double sum_asym;
    uint32_t n_asym, weaker_count[3];
    int32_t zone_reps;
    int pain;
    /* The last ended set, until its row is final. */
    bool pending;
    nd_set_result done;
    uint64_t rest_start; /* sample index its rest began at */
    nd_zone_verdict last_zone;
    nd_session_outcome outcome; /* over the rows emitted so far */
    nd_side leg;                /* working leg of the set in progress */
    double angle_deg;           /* isometric: knee angle of the set in progress */
} nd_sets;

/* plan copied; fs > 0. An inactive tracker (plan->sets == 0) ignores input. */
void nd_sets_init(nd_sets *t, const nd_set_plan *plan, double fs);
bool nd_sets_active(const nd_sets *t);
/* Each returns 1 and fills *out when a set row became final, else 0. */
int nd_sets_rep(nd_sets *t, const nd_rep_result *rep, nd_set_result *out);
int nd_sets_tick(nd_sets *t, uint64_t i, bool rep_open, nd_set_result *out);
/* Ends the current set at sample index i (explicit). Returns 1 with *out
 * when a row became final (the previous set, when this one was empty). */
int nd_sets_next(nd_sets *t, uint64_t i, nd_set_result *out);
/* The working leg from the coming set on (single-leg blocks, 5.7); call
 * right after nd_sets_next. The caller switches the engine's detection
 * (nd_metrics_set_leg) with the plan's leg thresholds. */
void nd_sets_switch_leg(nd_sets *t, nd_side leg);
/* The knee angle from the coming set on (isometric tests, 5.7); call right
 * after nd_sets_next. Ignored for a Nordic session. */
void nd_sets_set_angle(nd_sets *t, double angle_deg);
/* Block asymmetry 100 (L - R)/max(L, R) of the mean working-leg peaks of
 * the left and right Nordic blocks; NaN unless both blocks have reps. */
double nd_sets_block_asymmetry(const nd_session_outcome *o);
/* A pain rating 0..10: to the set with reps in progress, else the last
 * ended set still open for it, else the coming set. */
void nd_sets_pain(nd_sets *t, int pain);
/* Trial stop at n (index after the last sample): ends the set in progress
 * (when it has reps or a pain rating). Writes up to 2 rows, returns how many. */
int nd_sets_finish(nd_sets *t, uint64_t n, nd_set_result out[2]);
/* The session so far (rows emitted), for the progression rules. */
void nd_sets_outcome(const nd_sets *t, nd_session_outcome *out);
/* Fills the session fields of a trial summary: sets, the highest set pain and
 * the suggestion with next_day_pain (-1 when not entered). No-op when
 * inactive. */
void nd_sets_summarise(const nd_sets *t, int next_day_pain, nd_trial_summary *s);
/* The same from stored rows (a closed trial, the next-day pain mark). */
void nd_sets_outcome_from_rows(const nd_set_plan *plan, const nd_set_result *rows, size_t n,
                               nd_session_outcome *out);
void nd_sets_summarise_outcome(const nd_set_plan *plan, const nd_session_outcome *o,
                               int next_day_pain, nd_trial_summary *s);
/* Live view at sample index i (the newest processed). */
void nd_sets_live(const nd_sets *t, uint64_t i, nd_set_live *out);

/* An operator input stored in the trial's /events, replayed offline. */
typedef enum nd_set_input_kind { ND_SET_INPUT_NEXT, ND_SET_INPUT_PAIN } nd_set_input_kind;
typedef struct nd_set_input {
    uint64_t i; /* sample index it applies at (before that sample) */
    nd_set_input_kind kind;
    int pain;
    bool switch_leg; /* NEXT: the following sets are for leg */
    nd_side leg;
    bool set_angle; /* NEXT: the following sets are at angle_deg (isometric) */
    double angle_deg;
} nd_set_input;

/* Offline: replays the metrics engine and the tracker over stored force and
 * inputs (sorted by i, in stored order). Writes up to max_rows rows, returns
 * how many sets there were, or -1 with err. */
long nd_sets_recompute(const nd_metric_settings *s, double fs, const nd_subject *subj,
                       const nd_set_plan *plan, const double *left_N, const double *right_N,
                       size_t n, const nd_set_input *inputs, size_t n_inputs, nd_set_result *rows,
                       size_t max_rows, char *err, size_t errlen);

/* The whole session replayed as the daemon ran it: besides the set rows,
 * the reps (up to max_reps; *n_reps = how many there were) and the summary
 * with pain_rating (-1..10) and the session fields (no next-day pain). With
 * single-leg blocks only this reproduces the daemon's reps. Any output may
 * be NULL. */
typedef struct nd_session_replay {
    nd_set_result *rows;
    size_t max_rows;
    long n_rows;
    nd_rep_result *reps;
    size_t max_reps;
    long n_reps;
    nd_trial_summary *summary;
    int pain_rating;
} nd_session_replay;
int nd_session_recompute(const nd_metric_settings *s, double fs, const nd_subject *subj,
                         const nd_set_plan *plan, const double *left_N, const double *right_N,
                         size_t n, const nd_set_input *inputs, size_t n_inputs,
                         nd_session_replay *out, char *err, size_t errlen);

#endif
