/* Progression rules (daemon/metrics/METRICS.md 5.6), table-tested: each row is a
 * session outcome and next-day pain with the rule that must fire and the
 * protocol it must suggest, written out by hand from the rule table. */
#include <string.h>

#include "nd_progression.h"
#include "test_util.h"

typedef struct row {
    const char *what;
    uint32_t sets, reps, done, incomplete, unrated;
    int max_pain, next_day;
    const char *rule;
    uint32_t next_sets, next_reps;
} row;

static const row table[] = {
    /* progress one step toward 3x10 on the ladder 1x6 1x8 2x8 3x8 3x10 */
    {"all good, next day 0", 1, 6, 1, 0, 0, 2, 0, "progress", 1, 8},
    {"all good at 1x8 adds a set", 1, 8, 1, 0, 0, 3, 3, "progress", 2, 8},
    {"2x8 adds the third set", 2, 8, 2, 0, 0, 0, 1, "progress", 3, 8},
    {"3x8 adds reps", 3, 8, 3, 0, 0, 3, 2, "progress", 3, 10},
    {"2x6 first to 2x8", 2, 6, 2, 0, 0, 1, 0, "progress", 2, 8},
    {"at the goal", 3, 10, 3, 0, 0, 1, 0, "hold_goal", 3, 10},
    {"next day not entered yet", 2, 8, 2, 0, 0, 3, -1, "progress_pending_next_day", 3, 8},
    /* hold at 4-5 */
    {"set pain 4", 2, 8, 2, 0, 0, 4, 0, "hold_pain", 2, 8},
    {"set pain 5", 3, 8, 3, 0, 0, 5, -1, "hold_pain", 3, 8},
    {"next day 4", 2, 8, 2, 0, 0, 2, 4, "hold_next_day", 2, 8},
    {"next day 5", 2, 8, 2, 0, 0, 3, 5, "hold_next_day", 2, 8},
    {"a set incomplete", 3, 8, 3, 1, 0, 2, 0, "hold_incomplete", 3, 8},
    {"a set not started", 3, 8, 2, 0, 0, 2, 0, "hold_incomplete", 3, 8},
    {"a set not rated", 3, 8, 3, 0, 1, 2, 0, "hold_unrated", 3, 8},
    /* step back above 5 */
    {"set pain 6 at 3x10", 3, 10, 3, 0, 0, 6, 0, "step_back", 3, 8},
    {"set pain 7 at 3x8", 3, 8, 3, 0, 0, 7, -1, "step_back", 2, 8},
    {"next day 6 at 2x8", 2, 8, 2, 0, 0, 2, 6, "step_back", 1, 8},
    {"next day 9 at 1x8", 1, 8, 1, 0, 0, 0, 9, "step_back", 1, 6},
    {"pain 8 beats incomplete", 3, 8, 1, 1, 0, 8, -1, "step_back", 2, 8},
    /* pain above acceptable wins over the next day and over completeness */
    {"pain 4 and next day 4 and incomplete", 3, 8, 2, 1, 0, 4, 4, "hold_pain", 3, 8},
    {"no protocol", 0, 0, 0, 0, 0, -1, -1, "none", 0, 0},
};

static void test_table(void)
{
    nd_progression_rules r;
    nd_progression_rules_default(&r);
    char err[256];
    CHECK(nd_progression_rules_validate(&r, err, sizeof err) == 0);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const row *t = &table[i];
        nd_session_outcome o = {.sets_planned = t->sets,
                                .reps_planned = t->reps,
                                .sets_done = t->done,
                                .sets_incomplete = t->incomplete,
                                .sets_unrated = t->unrated,
                                .max_pain = t->max_pain};
        nd_suggestion s;
        nd_progression_suggest(&r, &o, t->next_day, &s);
        int ok = !strcmp(nd_progression_rule_name(s.rule), t->rule) && s.sets == t->next_sets &&
                 s.reps == t->next_reps;
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  row \"%s\": got %s %ux%u (%s), want %s %ux%u\n", t->what,
                    nd_progression_rule_name(s.rule), s.sets, s.reps, s.text, t->rule, t->next_sets,
                    t->next_reps);
        CHECK(strstr(s.text, t->rule) == s.text); /* the text names the rule that fired */
    }
}

/* Configured thresholds change the outcome: acceptable 5 lets pain 4 progress. */
static void test_configured(void)
{
    nd_progression_rules r;
    nd_progression_rules_default(&r);
    r.acceptable_pain = 5;
    r.step_back_above = 7;
    r.baseline_pain = 1;
    nd_session_outcome o = {.sets_planned = 2, .reps_planned = 8, .sets_done = 2, .max_pain = 4};
    nd_suggestion s;
    nd_progression_suggest(&r, &o, 1, &s);
    CHECK(s.rule == ND_RULE_PROGRESS && s.sets == 3 && s.reps == 8);
    nd_progression_suggest(&r, &o, 2, &s); /* next day 2 > baseline 1 */
    CHECK(s.rule == ND_RULE_HOLD_NEXT_DAY);
    o.max_pain = 6; /* above acceptable 5, not above 7 */
    nd_progression_suggest(&r, &o, 0, &s);
    CHECK(s.rule == ND_RULE_HOLD_PAIN);

    char err[256];
    r.acceptable_pain = 8;
    CHECK(nd_progression_rules_validate(&r, err, sizeof err) < 0 && strstr(err, "acceptable_pain"));
    nd_progression_rules_default(&r);
    r.goal_reps = 10.5;
    CHECK(nd_progression_rules_validate(&r, err, sizeof err) < 0 && strstr(err, "goal_reps"));
    nd_progression_rules_default(&r);
    r.rep_step = 0;
    CHECK(nd_progression_rules_validate(&r, err, sizeof err) < 0 && strstr(err, "rep_step"));
}

/* The ladder both ways, by hand. */
static void test_ladder(void)
{
    nd_progression_rules r;
    nd_progression_rules_default(&r);
    const uint32_t up[][2] = {{1, 6}, {1, 8}, {2, 8}, {3, 8}, {3, 10}};
    uint32_t s = 1, n = 6;
    for (size_t i = 1; i < 5; i++) {
        CHECK(nd_progression_step_up(&r, &s, &n));
        CHECK(s == up[i][0] && n == up[i][1]);
    }
    CHECK(!nd_progression_step_up(&r, &s, &n));
    for (size_t i = 4; i > 0; i--) {
        CHECK(nd_progression_step_down(&r, &s, &n));
        CHECK(s == up[i - 1][0] && n == up[i - 1][1]);
    }
    CHECK(nd_progression_step_down(&r, &s, &n) && s == 1 && n == 4);
    CHECK(nd_progression_step_down(&r, &s, &n) && s == 1 && n == 2);
    CHECK(!nd_progression_step_down(&r, &s, &n));
}

int main(void)
{
    test_table();
    test_configured();
    test_ladder();
    return nd_test_finish("test_progression");
}
