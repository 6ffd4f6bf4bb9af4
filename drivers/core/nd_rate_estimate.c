/* Rate measured from arrival times (nd_rate_estimate.h). */
#include "nd_rate_estimate.h"

#include <math.h>
#include <string.h>

void nd_rate_estimate_init(nd_rate_estimate *e, double window_s)
{
    e->window_s = window_s;
    e->done = false;
    e->sets = 0;
    e->npoints = 0;
    e->measured_hz = 0;
}

/* Cross product sign of (o->a) x (o->b) with t as y and k as x: > 0 when b
 * lies left of (above) the line o->a. */
static double cross(const nd_rate_estimate *e, uint32_t o, uint32_t a, uint32_t b)
{
    double ax = (double)(e->k[a] - e->k[o]), ay = (double)e->t_ns[a] - (double)e->t_ns[o];
    double bx = (double)(e->k[b] - e->k[o]), by = (double)e->t_ns[b] - (double)e->t_ns[o];
    return ax * by - ay * bx;
}

/* Seconds per set of the lower hull's edge spanning the mean index. */
static double hull_period_s(const nd_rate_estimate *e)
{
    uint32_t hull[ND_RATE_MAX_POINTS];
    uint32_t h = 0;
    double mean_k = 0;
    for (uint32_t i = 0; i < e->npoints; i++) {
        mean_k += (double)e->k[i] / e->npoints;
        while (h >= 2 && cross(e, hull[h - 2], hull[h - 1], i) <= 0) h--;
        hull[h++] = i;
    }
    for (uint32_t j = 1; j < h; j++) {
        uint32_t a = hull[j - 1], b = hull[j];
        if ((double)e->k[b] >= mean_k || j == h - 1)
            return ((double)(e->t_ns[b] - e->t_ns[a]) * 1e-9) / (double)(e->k[b] - e->k[a]);
    }
    return 0;
}

bool nd_rate_estimate_add(nd_rate_estimate *e, uint64_t host_ns, uint64_t n)
{
    if (e->done || n == 0) return false;
    e->sets += n;
    uint64_t last_k = e->sets - 1;
    if (e->npoints && host_ns <= e->t_ns[e->npoints - 1]) {
        /* Read together (or a clock step back): the latest set counts. */
        e->k[e->npoints - 1] = last_k;
        return false;
    }
    e->t_ns[e->npoints] = host_ns;
    e->k[e->npoints] = last_k;
    e->npoints++;
    double span_s = (double)(host_ns - e->t_ns[0]) * 1e-9;
    if (span_s < e->window_s && e->npoints < ND_RATE_MAX_POINTS) return false;
    if (e->npoints < 3) return false;
    double period = hull_period_s(e);
    if (!(period > 0)) return false;
    e->measured_hz = 1.0 / period;
    e->done = true;
    return true;
}

bool nd_rate_differs(double measured_hz, double nominal_hz)
{
    if (!(nominal_hz > 0)) return true;
    return fabs(measured_hz / nominal_hz - 1.0) > ND_RATE_TOLERANCE;
}
