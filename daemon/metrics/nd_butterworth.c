#include "nd_butterworth.h"

#include <math.h>

int nd_butterworth_design(nd_butterworth *f, double cutoff_hz, double fs)
{
    if (!isfinite(cutoff_hz) || !isfinite(fs) || cutoff_hz <= 0.0 || fs <= 0.0) return -1;
    f->b0 = 1.0;
    f->b1 = f->b2 = f->a1 = f->a2 = 0.0;
    f->enabled = cutoff_hz < ND_BUTTERWORTH_MAX_FRACTION * fs;
    nd_butterworth_reset(f);
    if (!f->enabled) return 0;

    /* Pre-warped analog cut-off, K = tan(pi fc / fs); the analog prototype
     * H(s) = 1 / (s^2 + sqrt(2) s + 1) mapped with s = (1 - z^-1) / (K (1 + z^-1)). */
    const double k = tan(M_PI * cutoff_hz / fs);
    const double k2 = k * k;
    const double norm = 1.0 / (1.0 + M_SQRT2 * k + k2);
    f->b0 = k2 * norm;
    f->b1 = 2.0 * f->b0;
    f->b2 = f->b0;
    f->a1 = 2.0 * (k2 - 1.0) * norm;
    f->a2 = (1.0 - M_SQRT2 * k + k2) * norm;
    return 0;
}
