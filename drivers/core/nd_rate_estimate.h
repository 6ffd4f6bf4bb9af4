/* The real sample-set rate of a device whose stream carries no time base
 * (text lines, Loadstar readings), measured from host arrival times.
 *
 * A set can arrive late (USB-serial latency, a read that waited, a busy
 * host) but never before the device made it. So the arrivals (k, t) of set
 * number k lie on or above the device's line t = a + k / rate, and the sets
 * that arrived without delay lie on it. The estimate is the line that stays
 * below every arrival and is highest at the mean index (the lower convex
 * hull's edge there): late arrivals, however bunched, do not bias it, and
 * its error is about the jitter of the least-delayed arrivals divided by
 * the window. The measurement ends once the arrivals span the window. */
#ifndef ND_RATE_ESTIMATE_H
#define ND_RATE_ESTIMATE_H

#include <stdbool.h>
#include <stdint.h>

/* How far the measured rate may differ from the nominal one before the
 * device warns (fraction of the nominal rate). */
#define ND_RATE_TOLERANCE 0.05
/* Measurement window, seconds of arrivals after the first. */
#define ND_RATE_WINDOW_S 3.0
/* Arrivals kept (sets read together count once); a device fast enough to
 * fill it before the window ends is measured over what it filled. */
#define ND_RATE_MAX_POINTS 2048

typedef struct nd_rate_estimate {
    double window_s;
    bool done;
    uint64_t sets; /* sets seen so far */
    uint32_t npoints;
    uint64_t t_ns[ND_RATE_MAX_POINTS]; /* arrival time of ... */
    uint64_t k[ND_RATE_MAX_POINTS];    /* ... the last set read by then (0-based) */
    double measured_hz;                /* valid once done */
} nd_rate_estimate;

void nd_rate_estimate_init(nd_rate_estimate *e, double window_s);
/* n sets arrived at host_ns. Returns true exactly once, when the estimate
 * becomes ready (e->measured_hz). */
bool nd_rate_estimate_add(nd_rate_estimate *e, uint64_t host_ns, uint64_t n);
/* True when measured differs from nominal by more than ND_RATE_TOLERANCE. */
bool nd_rate_differs(double measured_hz, double nominal_hz);

#endif
