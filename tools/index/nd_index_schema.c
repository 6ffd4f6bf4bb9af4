/* The index's tables (see nd_index_schema.h). NaN values are stored as NULL
 * (SQLite's rule for binding NaN). */
#include "nd_index_schema.h"

const char nd_index_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS trials ("
    " file_name TEXT PRIMARY KEY," /* relative to the data directory */
    " trial_id TEXT NOT NULL, athlete_id TEXT,"
    " status TEXT NOT NULL CHECK (status IN"
    "  ('recording','complete','interrupted','damaged','foreign')),"
    " error TEXT,"
    " file_size INTEGER NOT NULL, file_mtime_ns INTEGER NOT NULL,"
    " schema_version INTEGER, created_utc TEXT, created_unix_s INTEGER,"
    " closed_utc TEXT, recovered_utc TEXT, software_version TEXT,"
    " device_model TEXT, device_serial TEXT, device_firmware TEXT,"
    " device_counts_per_newton TEXT,"                        /* JSON array */
    " sample_rate_hz REAL, nch INTEGER, channel_names TEXT," /* JSON array */
    " left_channel INTEGER, right_channel INTEGER,"
    " calibration_offset_counts TEXT, calibration_gain_N_per_count TEXT," /* JSON arrays */
    " calibration_device_serial TEXT,"
    " body_mass_kg REAL, lever_m REAL, injured_side TEXT,"
    " filter_cutoff_Hz REAL, rep_on_N REAL, rep_off_N REAL, rep_hold_s REAL,"
    " rep_min_s REAL, impulse_threshold_N REAL, weak_threshold_N REAL,"
    " imbalance_threshold_pct REAL, tare_window_s REAL, flush_interval_s REAL,"
    " protocol TEXT, notes TEXT,"
    " samples INTEGER, rep_count INTEGER, event_count INTEGER,"
    " has_summary INTEGER NOT NULL DEFAULT 0,"
    " s_reps INTEGER, s_discarded_reps INTEGER,"
    " s_max_left_N REAL, s_max_right_N REAL, s_mean_left_N REAL, s_mean_right_N REAL,"
    " s_asymmetry_pct REAL, s_abs_asymmetry_pct REAL, s_weaker_side TEXT, s_lsi_pct REAL,"
    " s_torque_max_left_Nm REAL, s_torque_max_right_Nm REAL,"
    " s_rel_force_max_left_N_per_kg REAL, s_rel_force_max_right_N_per_kg REAL,"
    " s_weak_left INTEGER, s_weak_right INTEGER, s_imbalance INTEGER, s_pain INTEGER,"
    " s_pain_rating INTEGER, s_samples INTEGER, s_nonfinite_skipped INTEGER);"
    /* The list's order (newest first, file name breaks ties) and its filters. */
    "CREATE INDEX IF NOT EXISTS trials_by_created ON trials (created_unix_s, file_name);"
    "CREATE INDEX IF NOT EXISTS trials_by_athlete ON trials (athlete_id, created_unix_s, "
    " file_name);"
    "CREATE INDEX IF NOT EXISTS trials_by_trial_id ON trials (trial_id);"
    "CREATE INDEX IF NOT EXISTS trials_by_mtime ON trials (file_mtime_ns);"
    "CREATE INDEX IF NOT EXISTS trials_by_status ON trials (status, created_unix_s, file_name);"
    "CREATE TABLE IF NOT EXISTS reps ("
    " file_name TEXT NOT NULL REFERENCES trials (file_name) ON DELETE CASCADE,"
    " \"index\" INTEGER NOT NULL, i_open INTEGER, i_end INTEGER, t_open_s REAL, t_end_s REAL,"
    " peak_left_N REAL, peak_right_N REAL, i_peak_left INTEGER, i_peak_right INTEGER,"
    " t_peak_left_s REAL, t_peak_right_s REAL, asymmetry_pct REAL, abs_asymmetry_pct REAL,"
    " weaker_side TEXT, lsi_pct REAL, torque_left_Nm REAL, torque_right_Nm REAL,"
    " rel_force_left_N_per_kg REAL, rel_force_right_N_per_kg REAL,"
    " time_to_peak_left_s REAL, time_to_peak_right_s REAL,"
    " rfd_left_N_per_s REAL, rfd_right_N_per_s REAL,"
    " impulse_left_Ns REAL, impulse_right_Ns REAL,"
    " row INTEGER NOT NULL," /* position in the file's /reps */
    /* Derived: the working leg and test of the rep's set (/sets), both and
     * nordic without one; NULL only in a hub's mirror for rows an older
     * station sent. */
    " leg TEXT CHECK (leg IN ('both','left','right')),"
    " test TEXT CHECK (test IN ('nordic','isometric')),"
    " PRIMARY KEY (file_name, row));"
    "CREATE TABLE IF NOT EXISTS events ("
    " file_name TEXT NOT NULL REFERENCES trials (file_name) ON DELETE CASCADE,"
    " row INTEGER NOT NULL, t_s REAL, kind TEXT NOT NULL, detail TEXT NOT NULL,"
    " PRIMARY KEY (file_name, row));"
    "CREATE INDEX IF NOT EXISTS events_by_kind ON events (kind);"
    "CREATE TABLE IF NOT EXISTS athletes ("
    " id TEXT PRIMARY KEY, display_name TEXT NOT NULL,"
    " body_mass_kg REAL NOT NULL DEFAULT 0, lever_m REAL NOT NULL DEFAULT 0,"
    " injured_side TEXT NOT NULL DEFAULT 'none' CHECK (injured_side IN ('none','left','right')),"
    " notes TEXT NOT NULL DEFAULT '',"
    " created_utc TEXT NOT NULL, updated_utc TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS athletes_by_name ON athletes (display_name);";
