/* Rep detection (METRICS.md 4.3) on hand-made totals whose answers are counted by
 * hand: open at the first T >= on, end at the first sample of a long enough
 * run below off, dips that must not split, short reps, reps open at stop. */
#include <string.h>

#include "nd_rep_detector.h"
#include "test_util.h"

typedef struct {
    int closed, discarded;
    uint64_t open[16], end[16];
} outcome;

/* Runs the detector over t[0..n) and the finish, recording accepted reps. */
static outcome run(const double *t, int n, double on, double off, uint64_t hold, uint64_t min)
{
    nd_rep_detector d;
    nd_rep_detector_init(&d, on, off, hold, min);
    outcome o;
    memset(&o, 0, sizeof o);
    for (int i = 0; i <= n; i++) {
        nd_rep_event e = i < n ? nd_rep_detector_step(&d, (uint64_t)i, t[i])
                               : nd_rep_detector_finish(&d, (uint64_t)n);
        if (e == ND_REP_CLOSED && o.closed < 16) {
            o.open[o.closed] = d.i_open;
            o.end[o.closed] = d.i_end;
            o.closed++;
        } else if (e == ND_REP_DISCARDED) {
            o.discarded++;
        }
    }
    CHECK_EQ_INT(d.accepted, o.closed);
    CHECK_EQ_INT(d.discarded, o.discarded);
    return o;
}

static void test_open_and_end(void)
{
    /* index:           0  1   2    3    4    5   6   7   8   9  10 */
    const double t[] = {0, 99, 100, 150, 120, 40, 60, 49, 10, 0, 0};
    /* on 100 (>=, so index 2 opens), off 50, hold 3: the run 7,8,9 is the
     * first of >= 3 samples below 50 (5 alone is broken by 6 = 60). */
    outcome o = run(t, 11, 100, 50, 3, 1);
    CHECK_EQ_INT(o.closed, 1);
    CHECK_EQ_INT(o.open[0], 2);
    CHECK_EQ_INT(o.end[0], 7);
    /* With hold 1 the rep ends at the first sample below off. */
    o = run(t, 11, 100, 50, 1, 1);
    CHECK_EQ_INT(o.closed, 1);
    CHECK_EQ_INT(o.end[0], 5);
    /* hold 0 is treated as 1 (a run has at least one sample). */
    o = run(t, 11, 100, 50, 0, 1);
    CHECK_EQ_INT(o.end[0], 5);
    /* T exactly off_N is not below off: 50 does not start a run. */
    const double u[] = {200, 50, 50, 49, 49, 0};
    o = run(u, 6, 100, 50, 2, 1);
    CHECK_EQ_INT(o.closed, 1);
    CHECK_EQ_INT(o.end[0], 3);
}

static void test_dips_do_not_split(void)
{
    double t[40];
    for (int i = 0; i < 40; i++) t[i] = 0;
    /* Rep from 5; dips between on and off (60..99) never end it; a dip below
     * off of 4 samples (< hold 5) does not either; it ends at 30. */
    for (int i = 5; i < 30; i++) t[i] = 200;
    for (int i = 8; i < 12; i++) t[i] = 60;  /* between thresholds */
    for (int i = 15; i < 19; i++) t[i] = 10; /* 4 samples below off */
    t[19] = 99;                              /* back above off (not on): still in the rep */
    outcome o = run(t, 40, 100, 50, 5, 1);
    CHECK_EQ_INT(o.closed, 1);
    CHECK_EQ_INT(o.open[0], 5);
    CHECK_EQ_INT(o.end[0], 30);
    /* Exactly hold samples below off do split it: dip 15..19 of length 5. */
    t[19] = 10;
    o = run(t, 40, 100, 50, 5, 1);
    CHECK_EQ_INT(o.closed, 2);
    CHECK_EQ_INT(o.end[0], 15);
    CHECK_EQ_INT(o.open[1], 20);
    CHECK_EQ_INT(o.end[1], 30);
}

static void test_min_duration(void)
{
    double t[30];
    for (int i = 0; i < 30; i++) t[i] = 0;
    for (int i = 2; i < 7; i++) t[i] = 300; /* end - open = 5 */
    outcome o = run(t, 30, 100, 50, 3, 5);
    CHECK_EQ_INT(o.closed, 1); /* exactly min_n long: kept */
    o = run(t, 30, 100, 50, 3, 6);
    CHECK_EQ_INT(o.closed, 0); /* one short: discarded and counted */
    CHECK_EQ_INT(o.discarded, 1);
}

static void test_open_at_stop(void)
{
    double t[20];
    for (int i = 0; i < 20; i++) t[i] = i >= 10 ? 500 : 0;
    outcome o = run(t, 20, 100, 50, 3, 1);
    CHECK_EQ_INT(o.closed, 1);
    CHECK_EQ_INT(o.open[0], 10);
    CHECK_EQ_INT(o.end[0], 20); /* closed after the last sample */
    /* A pending dip at stop belongs to the rep. */
    t[18] = t[19] = 0;
    o = run(t, 20, 100, 50, 3, 1);
    CHECK_EQ_INT(o.end[0], 20);
    /* Too short at stop: discarded. */
    o = run(t, 20, 100, 50, 3, 11);
    CHECK_EQ_INT(o.closed, 0);
    CHECK_EQ_INT(o.discarded, 1);
    /* Nothing open: finish reports nothing. */
    nd_rep_detector d;
    nd_rep_detector_init(&d, 100, 50, 3, 1);
    CHECK_EQ_INT(nd_rep_detector_finish(&d, 0), ND_REP_IDLE);
}

static void test_back_to_back(void)
{
    /* Below off for exactly hold samples then straight above on: the next rep
     * opens right after the run, at or after the previous end. */
    const double t[] = {0, 200, 200, 0, 0, 200, 200, 0, 0, 0};
    outcome o = run(t, 10, 100, 50, 2, 1);
    CHECK_EQ_INT(o.closed, 2);
    CHECK_EQ_INT(o.open[0], 1);
    CHECK_EQ_INT(o.end[0], 3);
    CHECK_EQ_INT(o.open[1], 5);
    CHECK_EQ_INT(o.end[1], 7);
}

static void test_events_and_skipped_indices(void)
{
    nd_rep_detector d;
    nd_rep_detector_init(&d, 100, 50, 3, 1);
    CHECK_EQ_INT(nd_rep_detector_step(&d, 0, 0), ND_REP_IDLE);
    CHECK_EQ_INT(nd_rep_detector_step(&d, 1, 150), ND_REP_OPENED);
    CHECK_EQ_INT(nd_rep_detector_step(&d, 2, 80), ND_REP_INSIDE);
    CHECK_EQ_INT(nd_rep_detector_step(&d, 3, 10), ND_REP_DIP_START);
    CHECK_EQ_INT(nd_rep_detector_step(&d, 4, 10), ND_REP_DIP);
    CHECK_EQ_INT(nd_rep_detector_step(&d, 5, 60), ND_REP_DIP_END);
    /* Indices 7 and 9 were skipped (non-finite input): they neither extend
     * nor break the run, which starts at 6 and reaches 3 samples at 10. */
    CHECK_EQ_INT(nd_rep_detector_step(&d, 6, 0), ND_REP_DIP_START);
    CHECK_EQ_INT(nd_rep_detector_step(&d, 8, 0), ND_REP_DIP);
    CHECK_EQ_INT(nd_rep_detector_step(&d, 10, 0), ND_REP_CLOSED);
    CHECK_EQ_INT(d.i_open, 1);
    CHECK_EQ_INT(d.i_end, 6);
    CHECK(!d.open);
}

int main(void)
{
    test_open_and_end();
    test_dips_do_not_split();
    test_min_duration();
    test_open_at_stop();
    test_back_to_back();
    test_events_and_skipped_indices();
    return nd_test_finish("test_rep_detector");
}
