/* The index's SQLite schema (tools/index/INDEX.md describes every column). */
#ifndef ND_INDEX_SCHEMA_H
#define ND_INDEX_SCHEMA_H

/* Bumped when a table changes; an index of another version is rebuilt from
 * the files (trial rows are derived data; the athletes table is kept). */
#define ND_INDEX_SCHEMA_VERSION 2 /* 2: reps.leg, reps.test */

/* Columns of "trials" in insertion order (nd_index.c binds them in this order). */
#define ND_INDEX_TRIAL_COLUMNS                                                                     \
    "file_name, trial_id, athlete_id, status, error, file_size, file_mtime_ns, schema_version, "   \
    "created_utc, created_unix_s, closed_utc, recovered_utc, software_version, device_model, "     \
    "device_serial, device_firmware, device_counts_per_newton, sample_rate_hz, nch, "              \
    "channel_names, left_channel, right_channel, calibration_offset_counts, "                      \
    "calibration_gain_N_per_count, calibration_device_serial, body_mass_kg, lever_m, "             \
    "injured_side, filter_cutoff_Hz, rep_on_N, rep_off_N, rep_hold_s, rep_min_s, "                 \
    "impulse_threshold_N, weak_threshold_N, imbalance_threshold_pct, tare_window_s, "              \
    "flush_interval_s, protocol, notes, samples, rep_count, event_count, has_summary, s_reps, "    \
    "s_discarded_reps, s_max_left_N, s_max_right_N, s_mean_left_N, s_mean_right_N, "               \
    "s_asymmetry_pct, s_abs_asymmetry_pct, s_weaker_side, s_lsi_pct, s_torque_max_left_Nm, "       \
    "s_torque_max_right_Nm, s_rel_force_max_left_N_per_kg, s_rel_force_max_right_N_per_kg, "       \
    "s_weak_left, s_weak_right, s_imbalance, s_pain, s_pain_rating, s_samples, "                   \
    "s_nonfinite_skipped"
#define ND_INDEX_TRIAL_NCOLS 65

/* Columns of "reps" after (file_name): the /reps field names. */
#define ND_INDEX_REP_COLUMNS                                                                       \
    "\"index\", i_open, i_end, t_open_s, t_end_s, peak_left_N, peak_right_N, i_peak_left, "        \
    "i_peak_right, t_peak_left_s, t_peak_right_s, asymmetry_pct, abs_asymmetry_pct, "              \
    "weaker_side, lsi_pct, torque_left_Nm, torque_right_Nm, rel_force_left_N_per_kg, "             \
    "rel_force_right_N_per_kg, time_to_peak_left_s, time_to_peak_right_s, rfd_left_N_per_s, "      \
    "rfd_right_N_per_s, impulse_left_Ns, impulse_right_Ns"
#define ND_INDEX_REP_NCOLS 25

extern const char nd_index_schema_sql[];

#endif
