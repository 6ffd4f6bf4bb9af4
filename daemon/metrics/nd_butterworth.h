/* Causal 2nd-order Butterworth low-pass of METRICS.md 4.2: coefficients by the
 * bilinear transform with pre-warping, direct form II transposed, double
 * precision, steady-state start (first output == first input). */
#ifndef ND_BUTTERWORTH_H
#define ND_BUTTERWORTH_H

#include <stdbool.h>

/* Above this fraction of fs the filter is off (output = input). */
#define ND_BUTTERWORTH_MAX_FRACTION 0.45

typedef struct nd_butterworth {
    double b0, b1, b2, a1, a2; /* a0 normalised to 1 */
    double z1, z2;             /* DF2T state */
    bool enabled;              /* false: pass-through */
    bool primed;               /* state initialised from the first input */
} nd_butterworth;

/* Designs the filter for cutoff_hz at sample rate fs and clears its state.
 * Returns 0, or -1 when cutoff or fs is not finite and positive. A cutoff
 * >= 0.45 fs yields a pass-through filter (enabled == false). */
int nd_butterworth_design(nd_butterworth *f, double cutoff_hz, double fs);

/* Forgets the state: the next input is treated as the first one. */
static inline void nd_butterworth_reset(nd_butterworth *f)
{
    f->z1 = 0.0;
    f->z2 = 0.0;
    f->primed = false;
}

/* One sample. The caller skips non-finite inputs (so the state holds). */
static inline double nd_butterworth_step(nd_butterworth *f, double x)
{
    if (!f->enabled) return x;
    if (!f->primed) {
        /* Steady state for a constant input x (unity DC gain): y == x. */
        f->z1 = x - f->b0 * x;
        f->z2 = (f->b2 - f->a2) * x;
        f->primed = true;
    }
    double y = f->b0 * x + f->z1;
    f->z1 = f->b1 * x - f->a1 * y + f->z2;
    f->z2 = f->b2 * x - f->a2 * y;
    return y;
}

#endif
