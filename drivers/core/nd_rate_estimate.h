/* The real sample-set rate of a device whose stream carries no time base
 * (text lines, Loadstar readings), measured from host arrival times.
 *
 * The sets of the first arrival are only its start (they may be a backlog
 * the OS buffered before the port was opened); the rate is the count of sets
 * that arrived after it divided by the time from it to the last arrival, once
 * that span reaches the window. Read bursts (a USB-serial adapter delivers
 * every few ms) cost at most one burst over the window. */
#ifndef ND_RATE_ESTIMATE_H
#define ND_RATE_ESTIMATE_H

#include <stdbool.h>
#include <stdint.h>

/* How far the measured rate may differ from the nominal one before the
 * device warns (fraction of the nominal rate). */
#define ND_RATE_TOLERANCE 0.05
/* Measurement window, seconds of arrivals after the first. */
#define ND_RATE_WINDOW_S 3.0

typedef struct nd_rate_estimate {
    double window_s;
    bool started, done;
    uint64_t first_ns, last_ns;
    uint64_t sets_after_first;
    double measured_hz; /* valid once done */
} nd_rate_estimate;

void nd_rate_estimate_init(nd_rate_estimate *e, double window_s);
/* n sets arrived at host_ns. Returns true exactly once, when the estimate
 * becomes ready (e->measured_hz). */
bool nd_rate_estimate_add(nd_rate_estimate *e, uint64_t host_ns, uint64_t n);
/* True when measured differs from nominal by more than ND_RATE_TOLERANCE. */
bool nd_rate_differs(double measured_hz, double nominal_hz);

#endif
