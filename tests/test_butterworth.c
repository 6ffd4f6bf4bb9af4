/* The Butterworth low-pass checked against independent computations: poles
 * of the analog prototype mapped by the bilinear transform, the -3 dB point
 * at the cut-off, the analytic discrete step response, and a direct
 * difference-equation evaluation in long double. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>

#include "nd_butterworth.h"
#include "test_util.h"

/* Coefficients from the poles: the analog Butterworth poles of order 2 at
 * radius wa (pre-warped), angles 3pi/4 and 5pi/4, mapped with
 * z = (1 + s/2fs) / (1 - s/2fs); both zeros at z = -1; unity DC gain. */
typedef struct {
    long double b0, b1, b2, a1, a2;
    long double complex pole;
} ref_coeffs;

static ref_coeffs reference_design(double fc, double fs)
{
    ref_coeffs r;
    long double wa = 2.0L * fs * tanl(acosl(-1.0L) * fc / fs);
    long double complex s = wa * cexpl(I * 3.0L * acosl(-1.0L) / 4.0L);
    long double complex z = (1.0L + s / (2.0L * fs)) / (1.0L - s / (2.0L * fs));
    r.pole = z;
    r.a1 = -2.0L * creall(z);
    r.a2 = creall(z) * creall(z) + cimagl(z) * cimagl(z);
    long double k = (1.0L + r.a1 + r.a2) / 4.0L; /* numerator k (1 + z^-1)^2 at z=1 is 4k */
    r.b0 = k;
    r.b1 = 2.0L * k;
    r.b2 = k;
    return r;
}

static double dc_tolerance(double fc, double fs)
{
    double k = tan(M_PI * fc / fs);
    return 1e-15 / (k * k);
}

static double magnitude_at(const nd_butterworth *f, double w)
{
    double complex zi = cexp(-I * w);
    double complex num = f->b0 + f->b1 * zi + f->b2 * zi * zi;
    double complex den = 1.0 + f->a1 * zi + f->a2 * zi * zi;
    return cabs(num / den);
}

static void test_coefficients(void)
{
    const double rates[] = {10, 50, 80, 100, 400, 1000, 2000, 20000};
    const double cutoffs[] = {0.5, 2, 10, 20, 40, 100, 1000};
    int enabled_cases = 0;
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        for (size_t j = 0; j < sizeof cutoffs / sizeof cutoffs[0]; j++) {
            double fs = rates[i], fc = cutoffs[j];
            nd_butterworth f;
            CHECK_EQ_INT(nd_butterworth_design(&f, fc, fs), 0);
            if (fc >= 0.45 * fs) {
                CHECK(!f.enabled);
                continue;
            }
            enabled_cases++;
            CHECK(f.enabled);
            ref_coeffs r = reference_design(fc, fs);
            CHECK_NEAR(f.b0, (double)r.b0, 1e-13);
            CHECK_NEAR(f.b1, (double)r.b1, 1e-13);
            CHECK_NEAR(f.b2, (double)r.b2, 1e-13);
            CHECK_NEAR(f.a1, (double)r.a1, 1e-13);
            CHECK_NEAR(f.a2, (double)r.a2, 1e-13);
            /* Pre-warping puts the -3 dB point exactly at the cut-off. */
            CHECK_NEAR(magnitude_at(&f, 2 * M_PI * fc / fs), M_SQRT1_2, 1e-12);
            /* Unity DC gain; double coefficients make 1 + a1 + a2 (about 4 K^2)
             * lose ~1e-16/K^2 relative precision at very low fc/fs. */
            CHECK_NEAR(magnitude_at(&f, 0.0), 1.0, 1e-12 + dc_tolerance(fc, fs));
            /* Zeros at Nyquist. */
            CHECK_NEAR(magnitude_at(&f, M_PI), 0.0, 1e-12);
        }
    }
    CHECK(enabled_cases > 30);
}

/* Zero-state unit step response, closed form by partial fractions:
 * Y(z) = H(z)/(1 - z^-1) = 1/(1 - z^-1) + B/(1 - p z^-1) + conj(B)/(1 - conj(p) z^-1)
 * so s[n] = 1 + 2 Re(B p^n). */
static long double analytic_step(const ref_coeffs *r, int n)
{
    long double complex p = r->pole, w = 1.0L / p;
    long double complex num = r->b0 + r->b1 * w + r->b2 * w * w;
    long double complex B = num / ((1.0L - w) * (1.0L - conjl(p) * w));
    return 1.0L + 2.0L * creall(B * cpowl(p, n));
}

static void test_step_response(void)
{
    const double cases[][2] = {{10, 100}, {10, 1000}, {5, 50}, {1, 20000}, {40, 100}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double fc = cases[c][0], fs = cases[c][1];
        nd_butterworth f;
        nd_butterworth_design(&f, fc, fs);
        ref_coeffs r = reference_design(fc, fs);
        /* First input 0 -> steady state is the zero state; then a unit step. */
        CHECK(nd_butterworth_step(&f, 0.0) == 0.0);
        double worst = 0.0;
        for (int n = 0; n < 3000; n++) {
            double y = nd_butterworth_step(&f, 1.0);
            double e = fabs(y - (double)analytic_step(&r, n));
            if (e > worst) worst = e;
        }
        CHECK(worst < 1e-12 + dc_tolerance(fc, fs));
    }
    /* A known value: fc/fs = 0.1, n=0 output is b0. */
    nd_butterworth f;
    nd_butterworth_design(&f, 10, 100);
    nd_butterworth_step(&f, 0.0);
    CHECK_NEAR(nd_butterworth_step(&f, 1.0), f.b0, 0);
}

static void test_steady_state_start(void)
{
    nd_butterworth f;
    nd_butterworth_design(&f, 10, 1000);
    CHECK(nd_butterworth_step(&f, 123.456) == 123.456);
    /* Constant input stays put. */
    double worst = 0;
    for (int i = 0; i < 10000; i++)
        worst = fmax(worst, fabs(nd_butterworth_step(&f, 123.456) - 123.456));
    CHECK(worst < 1e-10);
    /* Reset: the next input is a new first input. */
    nd_butterworth_reset(&f);
    CHECK(nd_butterworth_step(&f, -7.5) == -7.5);
}

/* y[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2] - a1 y[n-1] - a2 y[n-2] with the
 * history set to the first input (the steady state), in long double. */
static void test_difference_equation(void)
{
    const double rates[] = {10, 80, 1000, 20000};
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        double fs = rates[k], fc = fs < 25 ? 2.0 : 10.0;
        nd_butterworth f;
        nd_butterworth_design(&f, fc, fs);
        ref_coeffs r = reference_design(fc, fs);
        srand(42 + (unsigned)k);
        long double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
        double worst = 0, scale = 0;
        for (int n = 0; n < 20000; n++) {
            double x = 300.0 * sin(n * 0.01) + (rand() % 2001 - 1000) * 0.05;
            if (n == 0) x1 = x2 = y1 = y2 = x;
            long double y = r.b0 * x + r.b1 * x1 + r.b2 * x2 - r.a1 * y1 - r.a2 * y2;
            x2 = x1;
            x1 = x;
            y2 = y1;
            y1 = y;
            double got = nd_butterworth_step(&f, x);
            worst = fmax(worst, fabs(got - (double)y));
            scale = fmax(scale, fabs((double)y));
        }
        CHECK(worst <= 1e-9 * scale);
    }
}

/* A ramp settles to the input delayed by the DC group delay
 * tau = (b1 + 2 b2)/(b0 + b1 + b2) - (a1 + 2 a2)/(1 + a1 + a2) samples,
 * taken from the reference coefficients. */
static void test_ramp_lag(void)
{
    const double fs = 1000, fc = 10, slope = 0.2; /* N per sample = 200 N/s */
    nd_butterworth f;
    nd_butterworth_design(&f, fc, fs);
    ref_coeffs r = reference_design(fc, fs);
    long double tau =
        (r.b1 + 2 * r.b2) / (r.b0 + r.b1 + r.b2) - (r.a1 + 2 * r.a2) / (1 + r.a1 + r.a2);
    CHECK(tau > 10 && tau < 40); /* about sqrt(2)/(2 pi fc) s = 22.5 samples */
    double y = 0;
    for (int n = 0; n < 2000; n++) y = nd_butterworth_step(&f, slope * n);
    CHECK_NEAR(y, slope * (1999 - (double)tau), 1e-6);
}

static void test_disabled_and_bad_input(void)
{
    nd_butterworth f;
    /* 10 Hz rate with the default 10 Hz cut-off: off, output == input. */
    CHECK_EQ_INT(nd_butterworth_design(&f, 10, 10), 0);
    CHECK(!f.enabled);
    CHECK(nd_butterworth_step(&f, 5.0) == 5.0);
    CHECK(nd_butterworth_step(&f, -1e6) == -1e6);
    /* The boundary: exactly 0.45 fs is off, just below is on. */
    CHECK_EQ_INT(nd_butterworth_design(&f, 45, 100), 0);
    CHECK(!f.enabled);
    CHECK_EQ_INT(nd_butterworth_design(&f, 44.999, 100), 0);
    CHECK(f.enabled);
    CHECK_EQ_INT(nd_butterworth_design(&f, 0, 100), -1);
    CHECK_EQ_INT(nd_butterworth_design(&f, -1, 100), -1);
    CHECK_EQ_INT(nd_butterworth_design(&f, NAN, 100), -1);
    CHECK_EQ_INT(nd_butterworth_design(&f, 10, 0), -1);
    CHECK_EQ_INT(nd_butterworth_design(&f, 10, INFINITY), -1);
}

int main(void)
{
    test_coefficients();
    test_step_response();
    test_steady_state_start();
    test_difference_equation();
    test_ramp_lag();
    test_disabled_and_bad_input();
    return nd_test_finish("test_butterworth");
}
