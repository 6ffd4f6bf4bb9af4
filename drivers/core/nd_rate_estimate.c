/* Rate measured from arrival times (nd_rate_estimate.h). */
#include "nd_rate_estimate.h"

#include <math.h>
#include <string.h>

void nd_rate_estimate_init(nd_rate_estimate *e, double window_s)
{
    memset(e, 0, sizeof *e);
    e->window_s = window_s;
}

bool nd_rate_estimate_add(nd_rate_estimate *e, uint64_t host_ns, uint64_t n)
{
    if (e->done || n == 0) return false;
    if (!e->started) {
        e->started = true;
        e->first_ns = e->last_ns = host_ns;
        return false;
    }
    if (host_ns < e->last_ns) return false; /* not monotonic: ignore */
    e->sets_after_first += n;
    e->last_ns = host_ns;
    double span_s = (double)(e->last_ns - e->first_ns) * 1e-9;
    if (span_s < e->window_s) return false;
    e->measured_hz = (double)e->sets_after_first / span_s;
    e->done = true;
    return true;
}

bool nd_rate_differs(double measured_hz, double nominal_hz)
{
    if (!(nominal_hz > 0)) return true;
    return fabs(measured_hz / nominal_hz - 1.0) > ND_RATE_TOLERANCE;
}
