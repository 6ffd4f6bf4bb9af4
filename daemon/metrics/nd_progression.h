/* Progression aid for eccentric loading sessions (daemon/metrics/METRICS.md 5.6): from
 * a session's sets and pain ratings, and the next-day pain when entered, a
 * suggestion for the next session's protocol and the rule that fired. An aid
 * for the clinician, never a diagnosis: the rules and their thresholds come
 * from the configuration ([progression]) and are stored with each trial.
 * Pure: no I/O. */
#ifndef ND_PROGRESSION_H
#define ND_PROGRESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_metrics.h"

typedef struct nd_progression_rules {
    double acceptable_pain;      /* every set at or below it may progress (default 3) */
    double step_back_above;      /* a set or the next day above it steps back (default 5) */
    double baseline_pain;        /* next-day pain "back to baseline" when <= this (default 3) */
    double goal_sets, goal_reps; /* the target protocol (default 3 x 10) */
    double rep_step;             /* reps added or removed per step (default 2) */
    double add_set_at_reps;      /* a set is added once the reps reach this (default 8) */
} nd_progression_rules;

void nd_progression_rules_default(nd_progression_rules *r);
/* Pains 0..10 with acceptable <= step_back_above, goal 1..20 x 1..50, step
 * 1..10, add_set_at 1..50; integers where counts are meant. */
int nd_progression_rules_validate(const nd_progression_rules *r, char *err, size_t errlen);

/* What a session did (from its /sets rows). */
typedef struct nd_session_outcome {
    uint32_t sets_planned, reps_planned;
    uint32_t sets_done;       /* sets with at least one rep */
    uint32_t sets_incomplete; /* of those, fewer reps than planned */
    uint32_t sets_unrated;    /* of those, without a pain rating */
    int max_pain;             /* highest set pain, -1 when none rated */
    /* Single-leg blocks (METRICS.md 5.7): working-leg peaks summed over the
     * reps of the left-leg and right-leg sets. */
    double block_sum_N[2];
    uint32_t block_reps[2];
    /* Isometric tests (METRICS.md 5.7): best hold per leg per knee angle,
     * in order of first appearance (asymmetry_pct filled by the summary). */
    uint32_t iso_angles;
    nd_iso_angle_result iso[ND_ISO_MAX_ANGLES];
} nd_session_outcome;

typedef enum nd_progression_rule {
    ND_RULE_NONE = 0,         /* no protocol: no suggestion */
    ND_RULE_STEP_BACK,        /* a set or the next day above step_back_above */
    ND_RULE_HOLD_PAIN,        /* a set above acceptable_pain */
    ND_RULE_HOLD_NEXT_DAY,    /* next-day pain above baseline_pain */
    ND_RULE_HOLD_INCOMPLETE,  /* fewer sets or reps than planned */
    ND_RULE_HOLD_UNRATED,     /* a set without a pain rating */
    ND_RULE_HOLD_GOAL,        /* at the goal already */
    ND_RULE_PROGRESS_PENDING, /* all good so far; next-day pain not yet entered */
    ND_RULE_PROGRESS,         /* all good, next day back to baseline */
} nd_progression_rule;
/* "none", "step_back", "hold_pain", "hold_next_day", "hold_incomplete",
 * "hold_unrated", "hold_goal", "progress_pending_next_day", "progress" */
const char *nd_progression_rule_name(nd_progression_rule r);

typedef struct nd_suggestion {
    nd_progression_rule rule;
    uint32_t sets, reps; /* suggested next protocol (0 x 0 with rule none) */
    char text[160];      /* one line for people, naming the rule's reason */
} nd_suggestion;

/* One step up the ladder toward goal: below add_set_at_reps add rep_step
 * reps; then add a set up to goal_sets; then add reps up to goal_reps. A
 * step down is the reverse. Both return false when no step is possible. */
bool nd_progression_step_up(const nd_progression_rules *r, uint32_t *sets, uint32_t *reps);
bool nd_progression_step_down(const nd_progression_rules *r, uint32_t *sets, uint32_t *reps);

/* next_day_pain: 0..10, or -1 when not (yet) entered. */
void nd_progression_suggest(const nd_progression_rules *r, const nd_session_outcome *o,
                            int next_day_pain, nd_suggestion *out);

#endif
