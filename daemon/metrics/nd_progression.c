/* Progression rules of METRICS.md 5.6 (nd_progression.h). */
#include "nd_progression.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void nd_progression_rules_default(nd_progression_rules *r)
{
    r->acceptable_pain = 3;
    r->step_back_above = 5;
    r->baseline_pain = 3;
    r->goal_sets = 3;
    r->goal_reps = 10;
    r->rep_step = 2;
    r->add_set_at_reps = 8;
}

static bool whole_in(double v, double lo, double hi)
{
    return v >= lo && v <= hi && v == floor(v);
}

int nd_progression_rules_validate(const nd_progression_rules *r, char *err, size_t errlen)
{
    const struct {
        const char *name;
        double v, lo, hi;
    } f[] = {{"acceptable_pain", r->acceptable_pain, 0, 10},
             {"step_back_above", r->step_back_above, 0, 10},
             {"baseline_pain", r->baseline_pain, 0, 10},
             {"goal_sets", r->goal_sets, 1, 20},
             {"goal_reps", r->goal_reps, 1, 50},
             {"rep_step", r->rep_step, 1, 10},
             {"add_set_at_reps", r->add_set_at_reps, 1, 50}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!whole_in(f[i].v, f[i].lo, f[i].hi))
            return snprintf(err, errlen, "progression %s must be a whole number %g..%g, got %g",
                            f[i].name, f[i].lo, f[i].hi, f[i].v),
                   -1;
    if (r->acceptable_pain > r->step_back_above)
        return snprintf(err, errlen,
                        "progression acceptable_pain (%g) must not exceed step_back_above (%g)",
                        r->acceptable_pain, r->step_back_above),
               -1;
    return 0;
}

const char *nd_progression_rule_name(nd_progression_rule r)
{
    static const char *const names[] = {"none",
                                        "step_back",
                                        "hold_pain",
                                        "hold_next_day",
                                        "hold_incomplete",
                                        "hold_unrated",
                                        "hold_goal",
                                        "progress_pending_next_day",
                                        "progress"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "none";
}

bool nd_progression_step_up(const nd_progression_rules *r, uint32_t *sets, uint32_t *reps)
{
    const uint32_t gs = (uint32_t)r->goal_sets, gr = (uint32_t)r->goal_reps;
    const uint32_t step = (uint32_t)r->rep_step, at = (uint32_t)r->add_set_at_reps;
    if (*reps < at && *reps < gr) {
        uint32_t want = *reps + step;
        *reps = want > gr ? gr : want;
        return true;
    }
    if (*sets < gs) {
        (*sets)++;
        return true;
    }
    if (*reps < gr) {
        uint32_t want = *reps + step;
        *reps = want > gr ? gr : want;
        return true;
    }
    return false;
}

bool nd_progression_step_down(const nd_progression_rules *r, uint32_t *sets, uint32_t *reps)
{
    const uint32_t step = (uint32_t)r->rep_step, at = (uint32_t)r->add_set_at_reps;
    if (*reps > at) { /* the last reps added, above the add-a-set point */
        *reps = *reps - step < at ? at : *reps - step;
        return true;
    }
    if (*sets > 1) {
        (*sets)--;
        return true;
    }
    if (*reps > step) {
        *reps -= step;
        return true;
    }
    return false;
}

void nd_progression_suggest(const nd_progression_rules *r, const nd_session_outcome *o,
                            int next_day_pain, nd_suggestion *out)
{
    memset(out, 0, sizeof *out);
    if (o->sets_planned == 0) {
        snprintf(out->text, sizeof out->text, "none: no protocol, no suggestion");
        return;
    }
    uint32_t s = o->sets_planned, n = o->reps_planned;
    const bool next_known = next_day_pain >= 0 && next_day_pain <= 10;
    char why[96];
    if (o->max_pain > r->step_back_above || (next_known && next_day_pain > r->step_back_above)) {
        out->rule = ND_RULE_STEP_BACK;
        nd_progression_step_down(r, &s, &n);
        if (o->max_pain > r->step_back_above)
            snprintf(why, sizeof why, "set pain %d/10 above %g", o->max_pain, r->step_back_above);
        else
            snprintf(why, sizeof why, "next-day pain %d/10 above %g", next_day_pain,
                     r->step_back_above);
    } else if (o->max_pain > r->acceptable_pain) {
        out->rule = ND_RULE_HOLD_PAIN;
        snprintf(why, sizeof why, "set pain %d/10 above %g", o->max_pain, r->acceptable_pain);
    } else if (next_known && next_day_pain > r->baseline_pain) {
        out->rule = ND_RULE_HOLD_NEXT_DAY;
        snprintf(why, sizeof why, "next-day pain %d/10 not back to baseline (%g)", next_day_pain,
                 r->baseline_pain);
    } else if (o->sets_done < o->sets_planned || o->sets_incomplete > 0) {
        out->rule = ND_RULE_HOLD_INCOMPLETE;
        snprintf(why, sizeof why, "%u of %u sets done, %u incomplete", o->sets_done,
                 o->sets_planned, o->sets_incomplete);
    } else if (o->sets_unrated > 0) {
        out->rule = ND_RULE_HOLD_UNRATED;
        snprintf(why, sizeof why, "%u set(s) without a pain rating", o->sets_unrated);
    } else if (!nd_progression_step_up(r, &s, &n)) {
        out->rule = ND_RULE_HOLD_GOAL;
        snprintf(why, sizeof why, "at the goal %gx%g", r->goal_sets, r->goal_reps);
    } else if (!next_known) {
        out->rule = ND_RULE_PROGRESS_PENDING;
        snprintf(why, sizeof why, "all sets done with pain <= %g; if next-day pain <= %g",
                 r->acceptable_pain, r->baseline_pain);
    } else {
        out->rule = ND_RULE_PROGRESS;
        snprintf(why, sizeof why, "all sets done with pain <= %g, next day %d/10",
                 r->acceptable_pain, next_day_pain);
    }
    out->sets = s;
    out->reps = n;
    snprintf(out->text, sizeof out->text, "%s: next %ux%u (%s)",
             nd_progression_rule_name(out->rule), s, n, why);
}
