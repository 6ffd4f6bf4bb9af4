/* The simulated Nordic board's force model: pure, seeded and deterministic.
 *
 * Sample set i is a function of (settings, i) only, so a test can recompute
 * exactly what the simulator streamed, in any order. Randomness comes from a
 * counter-based splitmix64 hash (no hidden generator state) and the arithmetic
 * uses only IEEE-exact operations (no libm), so results are bit-identical
 * across platforms. See SIMULATOR.md for the shape and its sources.
 *
 * Time line: `unloaded_s` with empty hooks (so a tare at the start finds the
 * true offsets), a 0.5 s step-in to baseline, `lead_s` of baseline, then one
 * slot per rep. A slot holds the
 * rep (start jitter, rise, rounded peak, drop) followed by at least `rest_s`
 * of baseline. Channel 0 = left hook, 1 = right hook, further channels carry
 * only noise. */
#ifndef ND_SIM_MODEL_H
#define ND_SIM_MODEL_H

#include <stdint.h>
#include <stddef.h>

#include "nd_sample.h"

enum { ND_SIM_LEFT = 0, ND_SIM_RIGHT = 1 };

typedef struct nd_sim_settings {
    uint32_t rate_hz;         /* sample sets per second, 10..100000 */
    int nch;                  /* 1..ND_MAX_CHANNELS */
    long reps;                /* 0 = forever */
    double rest_s;            /* minimum baseline between reps */
    double unloaded_s;        /* empty hooks at the start (0 = start at baseline) */
    double lead_s;            /* baseline before the first rep */
    double peak_n[2];         /* intended peak per leg (left, right) */
    double rise_s;            /* nominal rise time (rep varies it by +-10 %) */
    double rep_cv_pct;        /* rep-to-rep peak variation (coefficient of variation) */
    double baseline_n;        /* force on the hooks between reps */
    double noise_pp_n;        /* Gaussian-like noise, peak-to-peak (= 6 sigma) */
    double spike_prob;        /* per channel and sample set */
    double spike_amp_n;       /* size of a spike (sign random) */
    uint32_t hum_hz;          /* 0, 50 or 60 */
    double hum_amp_n;         /* mains hum amplitude */
    double counts_per_newton; /* raw = offset + F * cpn, rounded */
    uint64_t seed;
} nd_sim_settings;

/* Ground truth of one rep, for tests and the docs. Times in seconds from
 * sample set 0. */
typedef struct nd_sim_rep {
    long index;            /* rep number from 0 */
    double start_s;        /* first leg leaves baseline */
    double end_s;          /* last leg back at baseline */
    double rise_s;         /* baseline to peak */
    double ease_in_s;      /* parabolic start of the rise */
    double cap_s;          /* parabolic rounding into the peak */
    double ramp_per_s;     /* slope of the straight part, fraction of (peak - baseline) per s */
    double hold_s;         /* rounded peak: peak to start of drop */
    double drop_s;         /* start of drop to baseline */
    double peak_n[2];      /* intended (noise-free) peak per leg */
    double peak_s[2];      /* time of that peak per leg */
    double below30_s[2];   /* first time after the peak below 30 % of it */
    double course_s;       /* start of the shared time course */
    double leg_delay_s[2]; /* leg l leaves baseline at course_s + leg_delay_s[l] */
} nd_sim_rep;

typedef struct nd_sim_model {
    nd_sim_settings s;
    double inv_rate;
    double slot_s;
    double first_slot_s; /* where rep 0's slot starts */
    double noise_scale;  /* converts a centred Irwin-Hall sum to newtons */
    int32_t offset[ND_MAX_CHANNELS];
    uint64_t key_noise, key_spike, key_rep; /* per-purpose hash streams */
    /* One-entry cache of the current rep: sets are mostly asked in order. */
    long cached_rep;
    nd_sim_rep cache;
} nd_sim_model;

void nd_sim_settings_default(nd_sim_settings *s);

/* Validates the settings; on error returns -1 with one line in err. */
int nd_sim_model_init(nd_sim_model *m, const nd_sim_settings *s, char *err, size_t errlen);

/* Ground truth of rep k; -1 if k is beyond the configured reps. */
int nd_sim_model_rep(const nd_sim_model *m, long k, nd_sim_rep *out);

/* Step-in from empty hooks to baseline after unloaded_s. */
#define ND_SIM_STEP_IN_S 0.5

/* Time (s) at which the last rep is back at baseline; 0 when reps = 0. */
double nd_sim_model_last_rep_end_s(const nd_sim_model *m);

/* Noise-free force of one leg (ND_SIM_LEFT/RIGHT) at sample set i. */
double nd_sim_model_clean_force(nd_sim_model *m, uint64_t i, int leg);

/* Sample set i: raw counts per channel (nch values). force_n, if not NULL,
 * receives the force per channel including noise, spikes and hum (before
 * rounding to counts). */
void nd_sim_model_sample(nd_sim_model *m, uint64_t i, int32_t *raw, double *force_n);

/* Raw offset of channel ch (what a tare with empty hooks would find). */
static inline int32_t nd_sim_model_offset(const nd_sim_model *m, int ch)
{
    return m->offset[ch];
}

#endif
