/* Rep detection of METRICS.md 4.3 on total force T = F_L + F_R (filtered), as a
 * per-sample state machine with no allocation.
 *
 * A rep opens at the first sample with T >= on_N. It ends at the first
 * sample of a run of samples with T < off_N that is at least hold_n samples
 * long (hold_n = max(1, round(hold_s * fs))); it spans open <= i < end. The
 * run is only known to be long enough hold_n - 1 samples after its start, so
 * the caller sees the run as a "dip" first: the dip's samples belong to the
 * rep if T rises to >= off_N again before hold_n samples (the dip did not
 * split the rep), and lie outside it if the run completes. A rep with
 * end - open < min_n samples (min_n = round(min_rep_s * fs)) is discarded. */
#ifndef ND_REP_DETECTOR_H
#define ND_REP_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

typedef enum nd_rep_event {
    ND_REP_IDLE = 0,  /* no rep open; sample outside any rep */
    ND_REP_OPENED,    /* a rep opened at this sample (it belongs to the rep) */
    ND_REP_INSIDE,    /* sample belongs to the open rep, no dip pending */
    ND_REP_DIP_END,   /* T >= off_N again: the pending dip's samples AND this
                         sample belong to the rep */
    ND_REP_DIP_START, /* first sample with T < off_N: starts a pending dip */
    ND_REP_DIP,       /* further sample of a pending dip */
    ND_REP_CLOSED,    /* the dip reached hold_n samples: the rep ended at
                         the dip's first sample; rep accepted */
    ND_REP_DISCARDED, /* as CLOSED, but the rep was shorter than min_n */
} nd_rep_event;

typedef struct nd_rep_detector {
    double on_N, off_N;
    uint64_t hold_n, min_n;
    bool open;
    uint64_t i_open;
    uint64_t dip_start, dip_len; /* dip_len == 0: no dip pending */
    uint64_t i_end;              /* of the last closed or discarded rep */
    uint32_t accepted, discarded;
} nd_rep_detector;

/* hold_n and min_n in samples (see above for how they derive from seconds). */
void nd_rep_detector_init(nd_rep_detector *d, double on_N, double off_N, uint64_t hold_n,
                          uint64_t min_n);

/* Sample i (strictly increasing; skipped indices are allowed and neither
 * extend nor break a dip) with total force T (finite). */
static inline nd_rep_event nd_rep_detector_step(nd_rep_detector *d, uint64_t i, double total_N)
{
    if (!d->open) {
        if (total_N >= d->on_N) {
            d->open = true;
            d->i_open = i;
            d->dip_len = 0;
            return ND_REP_OPENED;
        }
        return ND_REP_IDLE;
    }
    if (total_N >= d->off_N) {
        if (d->dip_len == 0) return ND_REP_INSIDE;
        d->dip_len = 0;
        return ND_REP_DIP_END;
    }
    if (d->dip_len == 0) d->dip_start = i;
    d->dip_len++;
    if (d->dip_len < d->hold_n) return d->dip_len == 1 ? ND_REP_DIP_START : ND_REP_DIP;
    d->open = false;
    d->dip_len = 0;
    d->i_end = d->dip_start;
    if (d->i_end - d->i_open < d->min_n) {
        d->discarded++;
        return ND_REP_DISCARDED;
    }
    d->accepted++;
    return ND_REP_CLOSED;
}

/* At trial stop, n = index after the last sample. An open rep ends at n (a
 * pending dip belongs to it). Returns ND_REP_CLOSED, ND_REP_DISCARDED, or
 * ND_REP_IDLE when no rep was open. */
nd_rep_event nd_rep_detector_finish(nd_rep_detector *d, uint64_t n);

#endif
