/* The simulator's force model: shape figures of notes/domain.md, ground truth
 * consistency, determinism (also against a golden checksum, so a platform
 * whose arithmetic differs is caught), noise, spikes, hum, bad settings. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nd_sim_model.h"
#include "test_util.h"

static double measured_force(nd_sim_model *m, uint64_t i, int ch)
{
    int32_t raw[ND_MAX_CHANNELS];
    nd_sim_model_sample(m, i, raw, NULL);
    return (raw[ch] - nd_sim_model_offset(m, ch)) / m->s.counts_per_newton;
}

static uint64_t idx(const nd_sim_model *m, double t)
{
    return (uint64_t)llround(t * m->s.rate_hz);
}

static void test_bad_settings(void)
{
    char err[256];
    nd_sim_model m;
    nd_sim_settings s;
    nd_sim_settings_default(&s);
    s.rate_hz = 5;
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == -1 && strstr(err, "rate"));
    nd_sim_settings_default(&s);
    s.nch = 9;
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == -1 && strstr(err, "nch"));
    nd_sim_settings_default(&s);
    s.peak_n[ND_SIM_RIGHT] = 15;
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == -1 && strstr(err, "peak_right"));
    nd_sim_settings_default(&s);
    s.baseline_n = 50;
    s.peak_n[ND_SIM_LEFT] = 55;
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == -1 && strstr(err, "baseline"));
    nd_sim_settings_default(&s);
    s.hum_hz = 55;
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == -1 && strstr(err, "hum_hz"));
    nd_sim_settings_default(&s);
    s.noise_pp_n = NAN;
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == -1 && strstr(err, "noise"));
    nd_sim_settings_default(&s);
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == 0);
}

static void test_determinism(void)
{
    char err[256];
    nd_sim_settings s;
    nd_sim_settings_default(&s);
    s.seed = 42;
    s.spike_prob = 0.001;
    s.hum_hz = 50;
    nd_sim_model a, b, c;
    CHECK(nd_sim_model_init(&a, &s, err, sizeof err) == 0);
    CHECK(nd_sim_model_init(&b, &s, err, sizeof err) == 0);
    s.seed = 43;
    CHECK(nd_sim_model_init(&c, &s, err, sizeof err) == 0);

    uint64_t fnv = 1469598103934665603ull, mismatches = 0, differs = 0;
    const uint64_t n = 20000;
    for (uint64_t i = 0; i < n; i++) {
        int32_t ra[ND_MAX_CHANNELS], rb[ND_MAX_CHANNELS], rc[ND_MAX_CHANNELS];
        nd_sim_model_sample(&a, i, ra, NULL);
        nd_sim_model_sample(&b, n - 1 - i, rb, NULL); /* other order, same values */
        nd_sim_model_sample(&c, i, rc, NULL);
        for (int ch = 0; ch < 2; ch++) {
            uint32_t v = (uint32_t)ra[ch];
            for (int byte = 0; byte < 4; byte++) {
                fnv ^= (v >> (8 * byte)) & 0xFF;
                fnv *= 1099511628211ull;
            }
            if (ra[ch] != rc[ch]) differs++;
        }
    }
    for (uint64_t i = 0; i < n; i += 7) {
        int32_t ra[ND_MAX_CHANNELS], rb[ND_MAX_CHANNELS];
        nd_sim_model_sample(&a, i, ra, NULL);
        nd_sim_model_sample(&b, i, rb, NULL);
        if (memcmp(ra, rb, 2 * sizeof ra[0]) != 0) mismatches++;
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK(differs > n); /* another seed gives other data */
    /* Golden value: the same on every platform (IEEE-exact arithmetic only). */
    printf("golden checksum: 0x%016llx\n", (unsigned long long)fnv);
    CHECK(fnv == 0x360c05894a29ad85ull);
}

/* Shape checks on every rep against notes/domain.md. */
static void check_shape(const nd_sim_settings *s, int expect_sign)
{
    char err[256];
    nd_sim_model m;
    CHECK(nd_sim_model_init(&m, s, err, sizeof err) == 0);
    double noise_half = s->noise_pp_n * 0.6; /* bounded noise: |n| <= 3.47 sigma */
    nd_sim_rep prev = {0};
    for (long k = 0; k < s->reps; k++) {
        nd_sim_rep r;
        CHECK(nd_sim_model_rep(&m, k, &r) == 0);
        CHECK(r.rise_s >= 1.5 && r.rise_s <= 4.0);
        for (int leg = 0; leg < 2; leg++) {
            double slope = (r.peak_n[leg] - s->baseline_n) / r.rise_s;
            CHECK(slope >= 100.0 && slope <= 250.0);
            /* Noise-free maximum equals the intended peak, at the stated time. */
            double best = -1, best_t = 0;
            double meas_best = -1, meas_best_t = 0;
            double above95 = 0;
            for (uint64_t i = idx(&m, r.start_s - 0.2); i < idx(&m, r.end_s + 0.2); i++) {
                double f = nd_sim_model_clean_force(&m, i, leg);
                double g = measured_force(&m, i, leg);
                double t = (double)i / s->rate_hz;
                if (f > best) best = f, best_t = t;
                if (g > meas_best) meas_best = g, meas_best_t = t;
                if (f >= 0.95 * r.peak_n[leg]) above95 += 1.0 / s->rate_hz;
            }
            CHECK_NEAR(best, r.peak_n[leg], 0.01);
            CHECK_NEAR(best_t, r.peak_s[leg], 0.002);
            CHECK_NEAR(meas_best, r.peak_n[leg], noise_half);
            CHECK_NEAR(meas_best_t, r.peak_s[leg], 0.1);
            /* Rounded peak lasting 0.1-0.5 s (time within 5 % of the peak). */
            CHECK(above95 >= 0.1 && above95 <= 0.5);
            /* Roughly monotonic rise: the noise-free force never falls while rising. */
            double last = -1;
            int falls = 0;
            for (uint64_t i = idx(&m, r.peak_s[leg] - r.rise_s);
                 (double)i / s->rate_hz <= r.peak_s[leg]; i++) {
                double f = nd_sim_model_clean_force(&m, i, leg);
                if (f < last - 1e-9) falls++;
                last = f;
            }
            CHECK_EQ_INT(falls, 0);
            /* Drop below 30 % of the peak within 0.3-0.8 s, measured on the noisy data. */
            double below_t = -1;
            for (uint64_t i = idx(&m, r.peak_s[leg]); i < idx(&m, r.end_s + 0.1); i++) {
                if (measured_force(&m, i, leg) < 0.3 * r.peak_n[leg]) {
                    below_t = (double)i / s->rate_hz;
                    break;
                }
            }
            CHECK(below_t - r.peak_s[leg] >= 0.3 && below_t - r.peak_s[leg] <= 0.8);
            CHECK_NEAR(below_t, r.below30_s[leg], 0.003);
        }
        double a = 100.0 * (r.peak_n[0] - r.peak_n[1]) / fmax(r.peak_n[0], r.peak_n[1]);
        CHECK(a * expect_sign > 0);
        /* Rest (and the lead-in before rep 0) stays at baseline. */
        double quiet_from = k == 0 ? m.first_slot_s - s->lead_s : prev.end_s;
        double quiet_to = r.start_s;
        if (k > 0) CHECK(quiet_to - quiet_from >= s->rest_s);
        double worst = 0;
        for (uint64_t i = idx(&m, quiet_from) + 1; i + 1 < idx(&m, quiet_to); i++)
            for (int leg = 0; leg < 2; leg++)
                worst = fmax(worst, fabs(measured_force(&m, i, leg) - s->baseline_n));
        CHECK(worst <= noise_half);
        prev = r;
    }
    /* After the last rep: baseline, and no rep k = reps. */
    nd_sim_rep none;
    CHECK(nd_sim_model_rep(&m, s->reps, &none) == -1);
    CHECK_NEAR(nd_sim_model_last_rep_end_s(&m), prev.end_s, 1e-12);
    for (uint64_t i = idx(&m, prev.end_s) + 1; i < idx(&m, prev.end_s + 20.0); i++)
        CHECK_NEAR(nd_sim_model_clean_force(&m, i, 0), s->baseline_n, 1e-12);
}

static void test_shapes(void)
{
    nd_sim_settings s;
    nd_sim_settings_default(&s);
    s.seed = 7;
    s.reps = 5;
    check_shape(&s, +1); /* left 330 N, right 300 N: positive asymmetry */
    s.peak_n[ND_SIM_LEFT] = 260;
    s.peak_n[ND_SIM_RIGHT] = 320;
    s.rise_s = 2.0;
    s.seed = 99;
    check_shape(&s, -1);
    s.peak_n[ND_SIM_LEFT] = 450;
    s.peak_n[ND_SIM_RIGHT] = 400;
    s.rise_s = 3.0;
    s.rate_hz = 400;
    s.noise_pp_n = 0.5;
    check_shape(&s, +1);
}

/* Empty hooks at the start, then a step-in: a tare over the first second finds
 * the true offsets, so tared forces equal the model's. */
static void test_unloaded_start(void)
{
    char err[256];
    nd_sim_settings s;
    nd_sim_settings_default(&s);
    s.unloaded_s = 1.0;
    nd_sim_model m;
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == 0);
    CHECK_NEAR(m.first_slot_s, 1.0 + ND_SIM_STEP_IN_S + s.lead_s, 1e-12);
    for (int ch = 0; ch < 2; ch++) {
        int32_t raw[ND_MAX_CHANNELS];
        double sum = 0;
        for (uint64_t i = 0; i < 1000; i++) {
            nd_sim_model_sample(&m, i, raw, NULL);
            sum += raw[ch];
        }
        CHECK_NEAR(sum / 1000.0, nd_sim_model_offset(&m, ch), 0.01 * s.counts_per_newton);
        CHECK_NEAR(nd_sim_model_clean_force(&m, 1000, ch), 0.0, 1e-12);
        CHECK_NEAR(nd_sim_model_clean_force(&m, 1250, ch), s.baseline_n / 2, 1e-9);
        CHECK_NEAR(nd_sim_model_clean_force(&m, 1500, ch), s.baseline_n, 1e-12);
    }
    /* Without it the stream starts at baseline. */
    s.unloaded_s = 0;
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == 0);
    CHECK_NEAR(nd_sim_model_clean_force(&m, 0, 0), s.baseline_n, 1e-12);
    CHECK_NEAR(m.first_slot_s, s.lead_s, 1e-12);
}

static void test_rep_variation(void)
{
    char err[256];
    nd_sim_settings s;
    nd_sim_settings_default(&s);
    s.reps = 0; /* forever: any rep number exists */
    nd_sim_model m;
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == 0);
    double sum = 0, sum2 = 0;
    const int n = 400;
    for (int k = 0; k < n; k++) {
        nd_sim_rep r;
        CHECK(nd_sim_model_rep(&m, k, &r) == 0);
        sum += r.peak_n[0];
        sum2 += r.peak_n[0] * r.peak_n[0];
    }
    double mean = sum / n, sd = sqrt((sum2 - n * mean * mean) / (n - 1));
    double cv = 100.0 * sd / mean;
    printf("rep-to-rep CV %.2f %%, mean %.1f N\n", cv, mean);
    CHECK(cv >= 3.0 && cv <= 8.0);
    CHECK_NEAR(mean, 330.0, 5.0);
    /* Rep 300 of an endless run really happens in the data. */
    nd_sim_rep r;
    CHECK(nd_sim_model_rep(&m, 300, &r) == 0);
    CHECK_NEAR(nd_sim_model_clean_force(&m, idx(&m, r.peak_s[0]), 0), r.peak_n[0], 0.01);
}

static void test_noise_spikes_hum_channels(void)
{
    char err[256];
    nd_sim_settings s;
    nd_sim_settings_default(&s);
    s.nch = 4;
    s.unloaded_s = 0;
    s.lead_s = 120.0; /* long quiet stretch at baseline */
    nd_sim_model m;
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == 0);
    for (int ch = 0; ch < 4; ch++) {
        double lo = 1e9, hi = -1e9, sum = 0;
        for (uint64_t i = 0; i < 2000; i++) {
            double f = measured_force(&m, i, ch);
            lo = fmin(lo, f), hi = fmax(hi, f), sum += f;
        }
        double expect = ch < 2 ? s.baseline_n : 0.0;
        printf("ch%d noise p-p over 2 s: %.3f N\n", ch, hi - lo);
        CHECK(hi - lo >= 0.3 && hi - lo <= 0.47);
        CHECK_NEAR(sum / 2000, expect, 0.01);
    }
    /* raw = round(offset + F * cpn), and offsets differ per channel. */
    int32_t raw[ND_MAX_CHANNELS];
    double f[ND_MAX_CHANNELS];
    nd_sim_model_sample(&m, 1234, raw, f);
    for (int ch = 0; ch < 4; ch++)
        CHECK_EQ_INT(raw[ch], (int32_t)floor(nd_sim_model_offset(&m, ch) + f[ch] * 1000.0 + 0.5));
    CHECK(nd_sim_model_offset(&m, 0) != nd_sim_model_offset(&m, 1));

    /* Spikes: about spike_prob of the sets, each exactly +-spike_amp. */
    s.spike_prob = 0.01;
    s.nch = 2;
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == 0);
    long spikes = 0, up = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        double d = measured_force(&m, i, 1) - s.baseline_n;
        if (fabs(d) > s.spike_amp_n / 2) {
            spikes++;
            if (d > 0) up++;
            CHECK_NEAR(fabs(d), s.spike_amp_n, 0.3);
        }
    }
    printf("spikes: %ld of 100000 (%ld up)\n", spikes, up);
    CHECK(spikes >= 850 && spikes <= 1150);
    CHECK(up > spikes / 4 && up < 3 * spikes / 4);

    /* Hum: exact 50 Hz sine on every channel. */
    s.spike_prob = 0;
    s.noise_pp_n = 0;
    s.hum_hz = 50;
    s.hum_amp_n = 1.5;
    CHECK(nd_sim_model_init(&m, &s, err, sizeof err) == 0);
    double worst = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        nd_sim_model_sample(&m, i, raw, f);
        double expect = s.baseline_n + 1.5 * sin(2 * M_PI * 50.0 * (double)i / 1000.0);
        worst = fmax(worst, fmax(fabs(f[0] - expect), fabs(f[1] - expect)));
    }
    CHECK(worst < 1e-8);
}

int main(void)
{
    test_bad_settings();
    test_determinism();
    test_shapes();
    test_unloaded_start();
    test_rep_variation();
    test_noise_spikes_hum_channels();
    return nd_test_finish("test_sim_model");
}
