/* Metrics of daemon/metrics/METRICS.md (version 1): filter, rep detection, per-leg peaks,
 * asymmetry, torque, N/kg, time to peak, RFD, impulse, trial summary, flags.
 * Pure computation: no I/O, no allocation after nd_metrics_create(). The same
 * code runs live (daemon) and offline (recomputation from a trial file).
 *
 * Indices are sample indices within the trial (0 = the trial's first stored
 * sample set); times are index / fs seconds. */
#ifndef ND_METRICS_H
#define ND_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ND_METRICS_VERSION 1
#define ND_LEFT            0
#define ND_RIGHT           1

typedef enum nd_side { ND_SIDE_NONE = 0, ND_SIDE_LEFT = 1, ND_SIDE_RIGHT = 2 } nd_side;
const char *nd_side_name(nd_side s);               /* "none", "left", "right" */
int nd_side_parse(const char *text, nd_side *out); /* 0 ok, -1 unknown */

typedef struct nd_metric_settings {
    double cutoff_hz;           /* low-pass cut-off (default 10); off when >= 0.45 fs */
    double on_N;                /* rep opens at T >= on_N (default 100) */
    double off_N;               /* rep ends after T < off_N ... (default 50) */
    double hold_s;              /* ... for round(hold_s*fs) samples (default 0.25) */
    double min_rep_s;           /* shorter reps discarded (default 0.5) */
    double impulse_threshold_N; /* impulse counts F >= this (default 25) */
    double weak_threshold_N;    /* flag weak_<side> when max < this (default 256) */
    double imbalance_pct;       /* flag imbalance when |A| >= this (default 15) */
    double tare_window_s;       /* tare averaging window (default 1.0) */
} nd_metric_settings;

void nd_metric_settings_default(nd_metric_settings *s);
/* Checks ranges (e.g. 0 <= off_N <= on_N, hold_s >= 0, finite values) for a
 * given sample rate. Returns 0, or -1 with a clear message. */
int nd_metric_settings_validate(const nd_metric_settings *s, double fs, char *err, size_t errlen);

/* Every setting by name, for config files, the control socket and the trial
 * file's attributes (names are the struct field names). Valid range is
 * [min, max], or (min, max] when min_exclusive; off_N must also be <= on_N. */
typedef struct nd_metric_setting_info {
    const char *name;
    const char *unit;
    size_t offset; /* of the double in nd_metric_settings */
    double default_value, min, max;
    bool min_exclusive;
} nd_metric_setting_info;
extern const nd_metric_setting_info nd_metric_setting_table[];
extern const size_t nd_metric_setting_count;
/* Returns NULL for an unknown name. */
const nd_metric_setting_info *nd_metric_setting_find(const char *name);
double nd_metric_setting_get(const nd_metric_settings *s, const nd_metric_setting_info *info);
/* Sets one value by name; refuses unknown names and values outside the
 * field's range. Cross-field rules are left to nd_metric_settings_validate. */
int nd_metric_setting_set(nd_metric_settings *s, const char *name, double value, char *err,
                          size_t errlen);
/* Sample rates the metrics accept: (0, ND_METRICS_MAX_FS]. */
#define ND_METRICS_MAX_FS 1e6

/* Athlete/trial parameters that metrics depend on. */
typedef struct nd_subject {
    double body_mass_kg; /* (0, 500]; 0 = not given -> N/kg is NaN */
    double lever_m;      /* (0, 1.5]; 0 = not given -> torque is NaN */
    nd_side injured_side;
} nd_subject;
int nd_subject_validate(const nd_subject *s, char *err, size_t errlen);

typedef struct nd_rep_result {
    uint32_t index;         /* 1-based rep number within the trial */
    uint64_t i_open, i_end; /* rep spans i_open <= i < i_end */
    double t_open_s, t_end_s;
    double peak_N[2]; /* per leg, filtered */
    uint64_t i_peak[2];
    double t_peak_s[2];
    double asymmetry_pct;         /* 100 (L-R)/max(L,R); NaN if max <= 0 */
    double abs_asymmetry_pct;     /* NaN if undefined */
    nd_side weaker_side;          /* NONE when equal or undefined */
    double lsi_pct;               /* 100 P_injured/P_other; NaN without injured side */
    double torque_Nm[2];          /* NaN without lever */
    double rel_force_N_per_kg[2]; /* NaN without body mass */
    double time_to_peak_s[2];
    double rfd_N_per_s[2]; /* NaN when time to peak is 0 */
    double impulse_Ns[2];
} nd_rep_result;

/* Isometric test (METRICS.md 5.7): the best hold per leg at one knee angle
 * and the asymmetry of those bests, 100 (L - R)/max(L, R). At most 8
 * distinct angles per session (the daemon refuses a ninth): the summary
 * travels by value on the message bus, so it stays small. */
#define ND_ISO_MAX_ANGLES 8
typedef struct nd_iso_angle_result {
    double angle_deg;
    double best_N[2];     /* NaN when no set at this angle worked that leg */
    double asymmetry_pct; /* NaN unless both legs have a best and max > 0 */
} nd_iso_angle_result;

typedef struct nd_trial_summary {
    uint32_t reps;
    uint32_t discarded_reps; /* shorter than min_rep_s */
    double max_N[2];         /* max of rep peaks (NaN without reps) */
    double mean_N[2];        /* mean of rep peaks */
    double asymmetry_pct;    /* of the two maxima */
    double abs_asymmetry_pct;
    nd_side weaker_side;
    double lsi_pct;
    double torque_max_Nm[2];
    double rel_force_max_N_per_kg[2];
    bool weak_left, weak_right, imbalance, pain;
    int pain_rating;            /* 0..10, -1 = not entered (last rating entered wins) */
    uint64_t samples;           /* sample sets processed */
    uint64_t nonfinite_skipped; /* NaN/inf inputs skipped */
    /* A session with a protocol (METRICS.md 5): filled from the set tracker
     * and the progression rules; all zero / "" without a protocol. */
    uint32_t sets_planned, sets_done;
    int max_set_pain;         /* -1 none rated */
    char suggestion_rule[32]; /* nd_progression_rule_name(); "" without a protocol */
    uint32_t suggestion_sets, suggestion_reps;
    char suggestion[160];       /* one line naming the rule and its reason */
    double block_asymmetry_pct; /* single-leg blocks (METRICS.md 5.7), NaN without both */
    bool isometric;             /* an isometric test session (METRICS.md 5.7) */
    uint32_t iso_angles;        /* entries of iso, in order of first appearance */
    nd_iso_angle_result iso[ND_ISO_MAX_ANGLES];
} nd_trial_summary;

/* What a live view needs, cheap to read often. */
typedef struct nd_live_state {
    uint64_t samples;
    double t_s;
    double force_N[2]; /* latest filtered */
    bool rep_open;
    double running_peak_N[2]; /* of the open rep (0 when none) */
    uint32_t reps;
    uint64_t nonfinite_skipped; /* NaN/inf sample sets skipped so far */
} nd_live_state;

typedef struct nd_metrics nd_metrics;

/* Returns NULL (and logs the reason) on invalid settings, rate or subject. */
nd_metrics *nd_metrics_create(const nd_metric_settings *s, double fs, const nd_subject *subj);
/* Same, with the reason in err instead of the log. */
nd_metrics *nd_metrics_create_checked(const nd_metric_settings *s, double fs,
                                      const nd_subject *subj, char *err, size_t errlen);
void nd_metrics_destroy(nd_metrics *m);
/* One sample set of calibrated (unfiltered) force. Returns 1 and fills *rep
 * (may be NULL) when a rep closed at this sample, else 0. A rep is known to
 * have ended only when its closing run below off_N reaches the hold time, so
 * it is reported round(hold_s*fs) - 1 samples after its i_end. A set with a
 * non-finite value on either leg is skipped and counted (the filter holds
 * its state, the detector ignores it) but still takes its sample index, so
 * times stay aligned with the file. One engine per trial. */
int nd_metrics_push(nd_metrics *m, double left_N, double right_N, nd_rep_result *rep);
/* At trial stop: closes a rep still open after the last sample (returns 1,
 * *rep may be NULL); a rep shorter than min_rep_s is discarded (returns 0).
 * Call once, after the last push. */
int nd_metrics_finish(nd_metrics *m, nd_rep_result *rep);
/* Rep detection on one leg (single-leg protocols, METRICS.md 5.7): leg
 * ND_SIDE_LEFT/RIGHT detects on that leg's filtered force with its own
 * on/off thresholds; ND_SIDE_NONE goes back to T = F_L + F_R with the
 * settings' thresholds (on_N, off_N ignored). Takes effect at once when no
 * rep is open, else when the open rep has closed. Thresholds must satisfy
 * 0 <= off_N <= on_N (returns -1 otherwise). */
int nd_metrics_set_leg(nd_metrics *m, nd_side leg, double on_N, double off_N);
/* Sample sets pushed so far (the index of the next one). */
uint64_t nd_metrics_samples(const nd_metrics *m);
/* Whether a rep is open (a cheap nd_metrics_live().rep_open). */
bool nd_metrics_rep_open(const nd_metrics *m);
/* rep_open is the daemon's tare rule: refuse a tare while it is true. */
void nd_metrics_live(const nd_metrics *m, nd_live_state *out);
/* pain_rating: 0..10, or -1 if none entered (other values count as -1). */
void nd_metrics_summary(const nd_metrics *m, int pain_rating, nd_trial_summary *out);

/* Offline: recompute from stored calibrated force (n sets, left/right
 * arrays) with stored settings. Writes up to max_reps into reps, returns the
 * total number of reps found (may exceed max_reps), or -1 on bad input. */
long nd_metrics_recompute(const nd_metric_settings *s, double fs, const nd_subject *subj,
                          const double *left_N, const double *right_N, size_t n, int pain_rating,
                          nd_rep_result *reps, size_t max_reps, nd_trial_summary *summary);

#endif
