#include "nd_rep_detector.h"

void nd_rep_detector_init(nd_rep_detector *d, double on_N, double off_N, uint64_t hold_n,
                          uint64_t min_n)
{
    d->on_N = on_N;
    d->off_N = off_N;
    /* A run must have at least one sample, so hold 0 behaves as hold 1. */
    d->hold_n = hold_n < 1 ? 1 : hold_n;
    d->min_n = min_n;
    d->open = false;
    d->i_open = 0;
    d->dip_start = 0;
    d->dip_len = 0;
    d->i_end = 0;
    d->accepted = 0;
    d->discarded = 0;
}

nd_rep_event nd_rep_detector_finish(nd_rep_detector *d, uint64_t n)
{
    if (!d->open) return ND_REP_IDLE;
    d->open = false;
    d->dip_len = 0;
    d->i_end = n;
    if (d->i_end - d->i_open < d->min_n) {
        d->discarded++;
        return ND_REP_DISCARDED;
    }
    d->accepted++;
    return ND_REP_CLOSED;
}
