#include "nd_sim_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Layout of a slot (seconds): the rep starts after a random jitter, each leg
 * after a small extra delay; the rep's phases vary around their nominal
 * values within these bounds, so a slot always ends with >= rest_s of
 * baseline. */
#define JITTER_MAX    0.30
#define LEG_DELAY_MAX 0.06
#define RISE_VAR      0.10 /* +-10 % around rise_s */
#define HOLD_MIN      0.05
#define HOLD_SPAN     0.15 /* hold in [0.05, 0.2] s */
#define DROP_MIN      0.50
#define DROP_SPAN     0.35  /* drop in [0.5, 0.85] s: below 30 % ~0.3-0.55 s into it */
#define EASE_IN_MAX   0.30  /* parabolic start of the rise (at most 20 % of it) */
#define CAP_MAX       0.15  /* parabolic rounding into the peak (at most 10 % of it) */
#define PEAK_SAG      0.03  /* force sags 3 % while the athlete holds the break point */
#define LEG_JITTER    0.015 /* independent +-1.5 % per leg and rep */

#define GOLDEN 0x9E3779B97F4A7C15ull

enum { STREAM_NOISE = 1, STREAM_SPIKE, STREAM_REP, STREAM_OFFSET };

/* splitmix64's output function: a strong 64-bit mixer. Used counter-style
 * (key + n * golden), so any sample can be generated without replaying. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t stream_at(uint64_t key, uint64_t n)
{
    return mix64(key + n * GOLDEN);
}

static inline double unit_uniform(uint64_t h)
{
    return (double)(h >> 11) * 0x1p-53;
}

/* Sum of four 16-bit uniforms, centred and scaled to unit variance: a cheap,
 * bounded (+-3.46) approximation of a standard normal. */
static inline double unit_normal(uint64_t h)
{
    double sum = (double)(h & 0xFFFF) + (double)((h >> 16) & 0xFFFF) +
                 (double)((h >> 32) & 0xFFFF) + (double)(h >> 48);
    /* mean 4 * 32767.5, standard deviation 65536 * sqrt(4/12) (continuous approximation) */
    return (sum - 131070.0) * (1.0 / 37837.22679);
}

/* sin(2 pi p) for p in [0, 1) with only +-* so it is bit-identical everywhere. */
static double sin_2pi(double p)
{
    double sign = 1.0;
    if (p >= 0.5) {
        sign = -1.0;
        p -= 0.5;
    }
    if (p > 0.25) p = 0.5 - p;
    double x = p * 6.283185307179586;
    double x2 = x * x;
    /* Taylor series to x^13: error < 1e-9 on [0, pi/2]. */
    double s = 1.0 / 6227020800.0;
    s = s * x2 - 1.0 / 39916800.0;
    s = s * x2 + 1.0 / 362880.0;
    s = s * x2 - 1.0 / 5040.0;
    s = s * x2 + 1.0 / 120.0;
    s = s * x2 - 1.0 / 6.0;
    s = s * x2 + 1.0;
    return sign * x * s;
}

void nd_sim_settings_default(nd_sim_settings *s)
{
    memset(s, 0, sizeof *s);
    s->rate_hz = 1000;
    s->nch = 2;
    s->reps = 3;
    s->rest_s = 4.0;
    s->unloaded_s = 1.0;
    s->lead_s = 2.0;
    s->peak_n[ND_SIM_LEFT] = 330.0;
    s->peak_n[ND_SIM_RIGHT] = 300.0;
    s->rise_s = 2.5;
    s->rep_cv_pct = 5.0;
    s->baseline_n = 10.0;
    s->noise_pp_n = 0.4;
    s->spike_prob = 0.0;
    s->spike_amp_n = 40.0;
    s->hum_hz = 0;
    s->hum_amp_n = 0.5;
    s->counts_per_newton = 1000.0;
    s->seed = 1;
}

static int range_error(char *err, size_t errlen, const char *what, double v, double lo, double hi)
{
    snprintf(err, errlen, "sim model: %s = %g is out of range [%g, %g]", what, v, lo, hi);
    return -1;
}

#define CHECK_RANGE(name, v, lo, hi)                                                               \
    do {                                                                                           \
        if (!((v) >= (lo) && (v) <= (hi))) return range_error(err, errlen, name, v, lo, hi);       \
    } while (0)

int nd_sim_model_init(nd_sim_model *m, const nd_sim_settings *s, char *err, size_t errlen)
{
    CHECK_RANGE("rate", (double)s->rate_hz, 10, 100000);
    CHECK_RANGE("nch", (double)s->nch, 1, ND_MAX_CHANNELS);
    CHECK_RANGE("reps", (double)s->reps, 0, 1e9);
    CHECK_RANGE("rest", s->rest_s, 0, 600);
    CHECK_RANGE("lead", s->lead_s, 0, 600);
    CHECK_RANGE("unloaded", s->unloaded_s, 0, 600);
    CHECK_RANGE("peak_left", s->peak_n[0], 20, 3000);
    CHECK_RANGE("peak_right", s->peak_n[1], 20, 3000);
    CHECK_RANGE("rise", s->rise_s, 0.5, 10);
    CHECK_RANGE("var", s->rep_cv_pct, 0, 20);
    CHECK_RANGE("baseline", s->baseline_n, 0, 100);
    CHECK_RANGE("noise", s->noise_pp_n, 0, 100);
    CHECK_RANGE("spike_prob", s->spike_prob, 0, 1);
    CHECK_RANGE("spike_amp", s->spike_amp_n, 0, 3000);
    CHECK_RANGE("hum_amp", s->hum_amp_n, 0, 100);
    CHECK_RANGE("cpn", s->counts_per_newton, 0.001, 100000);
    if (s->hum_hz != 0 && s->hum_hz != 50 && s->hum_hz != 60) {
        snprintf(err, errlen, "sim model: hum_hz = %u must be 0, 50 or 60", s->hum_hz);
        return -1;
    }
    for (int leg = 0; leg < 2; leg++) {
        if (s->peak_n[leg] < s->baseline_n + 10.0) {
            snprintf(err, errlen,
                     "sim model: peak_%s = %g N must exceed baseline (%g N) by at least 10 N",
                     leg == 0 ? "left" : "right", s->peak_n[leg], s->baseline_n);
            return -1;
        }
    }

    memset(m, 0, sizeof *m);
    m->s = *s;
    m->inv_rate = 1.0 / (double)s->rate_hz;
    m->slot_s = JITTER_MAX + LEG_DELAY_MAX + s->rise_s * (1.0 + RISE_VAR) + HOLD_MIN + HOLD_SPAN +
                DROP_MIN + DROP_SPAN + s->rest_s;
    m->first_slot_s = s->unloaded_s + (s->unloaded_s > 0 ? ND_SIM_STEP_IN_S : 0.0) + s->lead_s;
    m->noise_scale = s->noise_pp_n / 6.0;
    m->key_noise = mix64(s->seed + STREAM_NOISE * GOLDEN);
    m->key_spike = mix64(s->seed + STREAM_SPIKE * GOLDEN);
    m->key_rep = mix64(s->seed + STREAM_REP * GOLDEN);
    uint64_t key_offset = mix64(s->seed + STREAM_OFFSET * GOLDEN);
    /* Unloaded amplifier offsets, like an HX711 with a bridge slightly out of balance. */
    for (int ch = 0; ch < ND_MAX_CHANNELS; ch++)
        m->offset[ch] = (int32_t)(stream_at(key_offset, (uint64_t)ch) % 300001u) - 150000;
    m->cached_rep = -1;
    return 0;
}

/* Force of one leg, t seconds after that leg left baseline. The rise is a
 * parabolic ease-in, a straight ramp (the torso lowering at a steady pace) and
 * a parabolic cap that rounds the peak; then a slight sag while the athlete
 * holds the break point, then a smoothstep fall onto the hands. */
static double leg_force(const nd_sim_rep *r, double base, int leg, double t)
{
    if (t <= 0.0) return base;
    double amp = r->peak_n[leg] - base;
    if (t < r->rise_s) {
        double g;
        if (t < r->ease_in_s)
            g = r->ramp_per_s * t * t / (2.0 * r->ease_in_s);
        else if (t < r->rise_s - r->cap_s)
            g = r->ramp_per_s * (t - 0.5 * r->ease_in_s);
        else {
            double w = r->rise_s - t;
            g = 1.0 - r->ramp_per_s * w * w / (2.0 * r->cap_s);
        }
        return base + amp * g;
    }
    t -= r->rise_s;
    if (t < r->hold_s) {
        double v = t / r->hold_s;
        return base + amp * (1.0 - PEAK_SAG * v * v);
    }
    t -= r->hold_s;
    if (t < r->drop_s) {
        double v = t / r->drop_s;
        return base + amp * (1.0 - PEAK_SAG) * (1.0 - v * v * (3.0 - 2.0 * v));
    }
    return base;
}

/* Fraction v of the drop at which the leg first falls below 30 % of its peak. */
static double drop_fraction_below30(double peak, double base)
{
    double target = 0.3 * peak;
    double amp = (peak - base) * (1.0 - PEAK_SAG);
    if (target <= base) return -1.0;           /* never: baseline is already above 30 % */
    double need = 1.0 - (target - base) / amp; /* smoothstep value to reach */
    double lo = 0.0, hi = 1.0;
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid * mid * (3.0 - 2.0 * mid) > need)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

int nd_sim_model_rep(const nd_sim_model *m, long k, nd_sim_rep *r)
{
    const nd_sim_settings *s = &m->s;
    if (k < 0 || (s->reps > 0 && k >= s->reps)) return -1;
    uint64_t base_ctr = (uint64_t)k * 16u;
    memset(r, 0, sizeof *r);
    r->index = k;
    double jitter = JITTER_MAX * unit_uniform(stream_at(m->key_rep, base_ctr + 0));
    r->course_s = m->first_slot_s + (double)k * m->slot_s + jitter;
    r->rise_s = s->rise_s *
                (1.0 + RISE_VAR * (2.0 * unit_uniform(stream_at(m->key_rep, base_ctr + 1)) - 1.0));
    r->ease_in_s = r->rise_s * 0.2 < EASE_IN_MAX ? r->rise_s * 0.2 : EASE_IN_MAX;
    r->cap_s = r->rise_s * 0.1 < CAP_MAX ? r->rise_s * 0.1 : CAP_MAX;
    /* Ramp slope (fraction of the amplitude per second) that makes the three
     * pieces meet with continuous value and slope and end exactly at 1. */
    r->ramp_per_s = 1.0 / (r->rise_s - 0.5 * r->ease_in_s - 0.5 * r->cap_s);
    r->hold_s = HOLD_MIN + HOLD_SPAN * unit_uniform(stream_at(m->key_rep, base_ctr + 2));
    r->drop_s = DROP_MIN + DROP_SPAN * unit_uniform(stream_at(m->key_rep, base_ctr + 3));
    double z = unit_normal(stream_at(m->key_rep, base_ctr + 4));
    if (z > 2.0) z = 2.0;
    if (z < -2.0) z = -2.0;
    double rep_factor = 1.0 + s->rep_cv_pct / 100.0 * z;
    double min_delay = LEG_DELAY_MAX, max_delay = 0.0;
    for (int leg = 0; leg < 2; leg++) {
        double leg_factor =
            1.0 +
            LEG_JITTER * (2.0 * unit_uniform(stream_at(m->key_rep, base_ctr + 5 + leg)) - 1.0);
        double peak = s->peak_n[leg] * rep_factor * leg_factor;
        if (peak < s->baseline_n + 5.0) peak = s->baseline_n + 5.0;
        r->peak_n[leg] = peak;
        r->leg_delay_s[leg] =
            LEG_DELAY_MAX * unit_uniform(stream_at(m->key_rep, base_ctr + 7 + leg));
        if (r->leg_delay_s[leg] < min_delay) min_delay = r->leg_delay_s[leg];
        if (r->leg_delay_s[leg] > max_delay) max_delay = r->leg_delay_s[leg];
        double leg_start = r->course_s + r->leg_delay_s[leg];
        r->peak_s[leg] = leg_start + r->rise_s;
        double v = drop_fraction_below30(peak, s->baseline_n);
        r->below30_s[leg] = v < 0 ? -1.0 : r->peak_s[leg] + r->hold_s + v * r->drop_s;
    }
    r->start_s = r->course_s + min_delay;
    r->end_s = r->course_s + max_delay + r->rise_s + r->hold_s + r->drop_s;
    return 0;
}

double nd_sim_model_last_rep_end_s(const nd_sim_model *m)
{
    nd_sim_rep r;
    if (m->s.reps <= 0 || nd_sim_model_rep(m, m->s.reps - 1, &r) != 0) return 0.0;
    return r.end_s;
}

/* The rep whose slot contains time t, or NULL when t is before the first
 * slot or after the last rep. */
static const nd_sim_rep *rep_at(nd_sim_model *m, double t)
{
    if (t < m->first_slot_s) return NULL;
    long k = (long)((t - m->first_slot_s) / m->slot_s);
    if (m->s.reps > 0 && k >= m->s.reps) return NULL;
    if (k != m->cached_rep) {
        if (nd_sim_model_rep(m, k, &m->cache) != 0) return NULL;
        m->cached_rep = k;
    }
    return &m->cache;
}

/* Force on a hook outside reps: empty, stepping in, or baseline. */
static double rest_force(const nd_sim_model *m, double t)
{
    if (m->s.unloaded_s <= 0.0 || t >= m->s.unloaded_s + ND_SIM_STEP_IN_S) return m->s.baseline_n;
    if (t < m->s.unloaded_s) return 0.0;
    double v = (t - m->s.unloaded_s) / ND_SIM_STEP_IN_S;
    return m->s.baseline_n * v * v * (3.0 - 2.0 * v);
}

double nd_sim_model_clean_force(nd_sim_model *m, uint64_t i, int leg)
{
    double t = (double)i * m->inv_rate;
    const nd_sim_rep *r = rep_at(m, t);
    if (!r) return rest_force(m, t);
    return leg_force(r, m->s.baseline_n, leg, t - r->course_s - r->leg_delay_s[leg]);
}

void nd_sim_model_sample(nd_sim_model *m, uint64_t i, int32_t *raw, double *force_n)
{
    const nd_sim_settings *s = &m->s;
    double t = (double)i * m->inv_rate;
    const nd_sim_rep *r = rep_at(m, t);
    double hum = 0.0;
    if (s->hum_hz) {
        /* Exact phase from integers: (i * f / rate) mod 1. */
        uint64_t num = ((i % s->rate_hz) * s->hum_hz) % s->rate_hz;
        hum = s->hum_amp_n * sin_2pi((double)num / (double)s->rate_hz);
    }
    for (int ch = 0; ch < s->nch; ch++) {
        double f = 0.0;
        if (ch < 2) {
            f = r ? leg_force(r, s->baseline_n, ch, t - r->course_s - r->leg_delay_s[ch])
                  : rest_force(m, t);
        }
        uint64_t ctr = i * ND_MAX_CHANNELS + (uint64_t)ch;
        f += m->noise_scale * unit_normal(stream_at(m->key_noise, ctr));
        if (s->spike_prob > 0.0) {
            uint64_t h = stream_at(m->key_spike, ctr);
            if (unit_uniform(h) < s->spike_prob) f += (h & 1) ? s->spike_amp_n : -s->spike_amp_n;
        }
        f += hum;
        if (force_n) force_n[ch] = f;
        double counts = floor((double)m->offset[ch] + f * s->counts_per_newton + 0.5);
        if (counts > 2147483647.0) counts = 2147483647.0;
        if (counts < -2147483648.0) counts = -2147483648.0;
        raw[ch] = (int32_t)counts;
    }
}
