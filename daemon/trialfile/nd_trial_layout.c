/* Attribute layout of schema "nordic-trial" v1 (see nd_trial_layout.h). */
#include "nd_trial_layout.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "nd_trial_h5.h"
#include "nd_trial_sets.h"

/* Every metric setting of daemon/metrics/METRICS.md, stored as a float64 root attribute whose
 * name carries the unit. */
static const struct {
    const char *name;
    size_t offset;
} settings_attrs[] = {
    {"filter_cutoff_Hz", offsetof(nd_metric_settings, cutoff_hz)},
    {"rep_on_N", offsetof(nd_metric_settings, on_N)},
    {"rep_off_N", offsetof(nd_metric_settings, off_N)},
    {"rep_hold_s", offsetof(nd_metric_settings, hold_s)},
    {"rep_min_s", offsetof(nd_metric_settings, min_rep_s)},
    {"impulse_threshold_N", offsetof(nd_metric_settings, impulse_threshold_N)},
    {"weak_threshold_N", offsetof(nd_metric_settings, weak_threshold_N)},
    {"imbalance_threshold_pct", offsetof(nd_metric_settings, imbalance_pct)},
    {"tare_window_s", offsetof(nd_metric_settings, tare_window_s)},
};
#define N_SETTINGS (sizeof settings_attrs / sizeof settings_attrs[0])

static const char *side_text(nd_side s)
{
    return s == ND_SIDE_LEFT ? "left" : s == ND_SIDE_RIGHT ? "right" : "none";
}

int nd_trial_write_root_attrs(hid_t f, const nd_trial_meta *m, double flush_interval_s,
                              size_t chunk_rows)
{
    char created[32];
    nd_utc_iso(m->created_utc_s, created, sizeof created);
    const char *names[ND_MAX_CHANNELS];
    double cpn[ND_MAX_CHANNELS];
    for (int ch = 0; ch < m->nch; ch++) {
        names[ch] = m->channel_names[ch];
        cpn[ch] = m->device.counts_per_newton[ch];
    }
    int rc = 0;
    rc |= nd_h5_attr_str(f, "schema", ND_TRIAL_SCHEMA);
    rc |= nd_h5_attr_i32(f, "schema_version", ND_TRIAL_SCHEMA_VERSION);
    rc |= nd_h5_attr_i32(f, "schema_minor_version", ND_TRIAL_SCHEMA_MINOR);
    rc |= nd_h5_attr_str(f, "status", ND_TRIAL_STATUS_RECORDING);
    rc |= nd_h5_attr_str(f, "trial_id", m->trial_id);
    rc |= nd_h5_attr_str(f, "athlete_id", m->athlete_id);
    rc |= nd_h5_attr_str(f, "created_utc", created);
    rc |= nd_h5_attr_i64(f, "created_unix_s", m->created_utc_s);
    rc |= nd_h5_attr_str(f, "software_version", m->software_version);
    rc |= nd_h5_attr_str(f, "device_model", m->device.model);
    rc |= nd_h5_attr_str(f, "device_serial", m->device.serial);
    rc |= nd_h5_attr_str(f, "device_firmware", m->device.fw);
    rc |= nd_h5_attr_f64(f, "sample_rate_hz", m->sample_rate_hz);
    rc |= nd_h5_attr_i32(f, "nch", m->nch);
    rc |= nd_h5_attr_str_array(f, "channel_names", names, (size_t)m->nch);
    rc |= nd_h5_attr_f64_array(f, "device_counts_per_newton", cpn, (size_t)m->nch);
    rc |= nd_h5_attr_f64(f, "body_mass_kg", m->subject.body_mass_kg);
    rc |= nd_h5_attr_f64(f, "lever_m", m->subject.lever_m);
    rc |= nd_h5_attr_str(f, "injured_side", side_text(m->subject.injured_side));
    rc |=
        nd_h5_attr_f64_array(f, "calibration_offset_counts", m->calibration.offset, (size_t)m->nch);
    rc |= nd_h5_attr_f64_array(f, "calibration_gain_N_per_count", m->calibration.gain,
                               (size_t)m->nch);
    rc |= nd_h5_attr_str(f, "calibration_device_serial", m->calibration.device_serial);
    rc |= nd_h5_attr_i32(f, "left_channel", m->calibration.left_channel);
    rc |= nd_h5_attr_i32(f, "right_channel", m->calibration.right_channel);
    rc |= nd_h5_attr_i32(f, "metrics_version", ND_METRICS_VERSION);
    for (size_t i = 0; i < N_SETTINGS; i++) {
        double v;
        memcpy(&v, (const char *)&m->settings + settings_attrs[i].offset, sizeof v);
        rc |= nd_h5_attr_f64(f, settings_attrs[i].name, v);
    }
    rc |= nd_h5_attr_f64(f, "g_m_per_s2", ND_G);
    rc |= nd_h5_attr_str(f, "protocol", m->protocol);
    rc |= nd_h5_attr_str(f, "notes", m->notes);
    rc |= nd_h5_attr_f64(f, "flush_interval_s", flush_interval_s);
    rc |= nd_h5_attr_u64(f, "chunk_rows", chunk_rows);
    return rc ? -1 : 0;
}

static int describe(hid_t d, const char *unit, const char *description)
{
    int rc = 0;
    if (unit) rc |= nd_h5_attr_str(d, "unit", unit);
    rc |= nd_h5_attr_str(d, "description", description);
    return rc;
}

int nd_trial_write_dataset_attrs(hid_t raw, hid_t force, hid_t seq, hid_t reps, hid_t events)
{
    int rc = 0;
    rc |= describe(raw, "counts", "raw ADC counts [set, channel], device channel order");
    rc |=
        describe(force, "N", "calibrated unfiltered force [set, channel] = (raw - offset) * gain");
    rc |= describe(seq, NULL, "device sequence number of each sample set; jumps are gaps");
    rc |= describe(
        reps, NULL,
        "one row per rep (daemon/metrics/METRICS.md); trial summary in this dataset's attributes "
        "once the trial is complete");
    rc |= describe(events, NULL, "t_s (s from the first sample), kind, detail (UTF-8)");
    return rc ? -1 : 0;
}

int nd_trial_write_clock_attrs(hid_t clock)
{
    int rc = describe(clock, NULL,
                      "clock pairs: sample_index (row in /samples), seq, host_monotonic_ns, "
                      "host_realtime_ns (Unix ns UTC), device_time_us (-1 = no device clock), "
                      "reason; at least every 0.25 s and at every gap, restart and reconnect");
    rc |= nd_h5_attr_i64(clock, "no_device_time", ND_TRIAL_NO_DEVICE_TIME);
    rc |= nd_h5_attr_f64(clock, "period_s", ND_TRIAL_CLOCK_PERIOD_NS / 1e9);
    return rc ? -1 : 0;
}

int nd_trial_write_summary_attrs(hid_t r, const nd_trial_summary *s)
{
    int rc = 0;
    rc |= nd_h5_attr_u64(r, "reps", s->reps);
    rc |= nd_h5_attr_u64(r, "discarded_reps", s->discarded_reps);
    rc |= nd_h5_attr_f64(r, "max_left_N", s->max_N[ND_LEFT]);
    rc |= nd_h5_attr_f64(r, "max_right_N", s->max_N[ND_RIGHT]);
    rc |= nd_h5_attr_f64(r, "mean_left_N", s->mean_N[ND_LEFT]);
    rc |= nd_h5_attr_f64(r, "mean_right_N", s->mean_N[ND_RIGHT]);
    rc |= nd_h5_attr_f64(r, "asymmetry_pct", s->asymmetry_pct);
    rc |= nd_h5_attr_f64(r, "abs_asymmetry_pct", s->abs_asymmetry_pct);
    rc |= nd_h5_attr_str(r, "weaker_side", side_text(s->weaker_side));
    rc |= nd_h5_attr_f64(r, "lsi_pct", s->lsi_pct);
    rc |= nd_h5_attr_f64(r, "torque_max_left_Nm", s->torque_max_Nm[ND_LEFT]);
    rc |= nd_h5_attr_f64(r, "torque_max_right_Nm", s->torque_max_Nm[ND_RIGHT]);
    rc |= nd_h5_attr_f64(r, "rel_force_max_left_N_per_kg", s->rel_force_max_N_per_kg[ND_LEFT]);
    rc |= nd_h5_attr_f64(r, "rel_force_max_right_N_per_kg", s->rel_force_max_N_per_kg[ND_RIGHT]);
    rc |= nd_h5_attr_bool(r, "weak_left", s->weak_left);
    rc |= nd_h5_attr_bool(r, "weak_right", s->weak_right);
    rc |= nd_h5_attr_bool(r, "imbalance", s->imbalance);
    rc |= nd_h5_attr_bool(r, "pain", s->pain);
    rc |= nd_h5_attr_i32(r, "pain_rating", s->pain_rating);
    rc |= nd_h5_attr_u64(r, "samples", s->samples);
    rc |= nd_h5_attr_u64(r, "nonfinite_skipped", s->nonfinite_skipped);
    if (s->sets_planned > 0) { /* schema 1.1: a session with a protocol (METRICS.md 5) */
        char protocol[32];
        snprintf(protocol, sizeof protocol, "%ux%u", s->suggestion_sets, s->suggestion_reps);
        rc |= nd_h5_attr_u64(r, "sets_planned", s->sets_planned);
        rc |= nd_h5_attr_u64(r, "sets_done", s->sets_done);
        rc |= nd_h5_attr_i32(r, "max_set_pain", s->max_set_pain);
        rc |= nd_h5_attr_str(r, "suggestion_rule", s->suggestion_rule);
        rc |= nd_h5_attr_str(r, "suggestion_protocol", protocol);
        rc |= nd_h5_attr_str(r, "suggestion", s->suggestion);
        rc |= nd_h5_attr_f64(r, "block_asymmetry_pct", s->block_asymmetry_pct);
    }
    /* schema 1.2: per knee angle of an isometric test (METRICS.md 5.7) */
    if (s->sets_planned > 0 && s->isometric && s->iso_angles > 0) {
        double v[4][ND_ISO_MAX_ANGLES];
        size_t n = s->iso_angles < ND_ISO_MAX_ANGLES ? s->iso_angles : ND_ISO_MAX_ANGLES;
        for (size_t k = 0; k < n; k++) {
            v[0][k] = s->iso[k].angle_deg;
            v[1][k] = s->iso[k].best_N[ND_LEFT];
            v[2][k] = s->iso[k].best_N[ND_RIGHT];
            v[3][k] = s->iso[k].asymmetry_pct;
        }
        rc |= nd_h5_attr_f64_array(r, "iso_angle_deg", v[0], n);
        rc |= nd_h5_attr_f64_array(r, "iso_best_left_N", v[1], n);
        rc |= nd_h5_attr_f64_array(r, "iso_best_right_N", v[2], n);
        rc |= nd_h5_attr_f64_array(r, "iso_asymmetry_pct", v[3], n);
    }
    return rc ? -1 : 0;
}

static nd_side side_from_text(const char *t)
{
    if (strcmp(t, "left") == 0) return ND_SIDE_LEFT;
    if (strcmp(t, "right") == 0) return ND_SIDE_RIGHT;
    return ND_SIDE_NONE;
}

int nd_trial_read_root_attrs(hid_t f, nd_trial_meta *m, char *err, size_t errlen)
{
    int64_t i64;
    const char *missing = NULL;
#define REQ(expr, name)                                                                            \
    do {                                                                                           \
        if (!missing && (expr) < 0) missing = name;                                                \
    } while (0)
    REQ(nd_h5_read_str(f, "trial_id", m->trial_id, sizeof m->trial_id), "trial_id");
    REQ(nd_h5_read_str(f, "athlete_id", m->athlete_id, sizeof m->athlete_id), "athlete_id");
    REQ(nd_h5_read_f64(f, "sample_rate_hz", &m->sample_rate_hz), "sample_rate_hz");
    REQ(nd_h5_read_i64(f, "nch", &i64), "nch");
    if (!missing) {
        if (i64 < 1 || i64 > ND_MAX_CHANNELS) {
            snprintf(err, errlen, "attribute nch = %lld out of range 1..%d", (long long)i64,
                     ND_MAX_CHANNELS);
            return -1;
        }
        m->nch = (int)i64;
    }
    if (missing) {
        snprintf(err, errlen, "required root attribute '%s' is missing or has the wrong type",
                 missing);
        return -1;
    }
#undef REQ
    if (nd_h5_read_i64(f, "created_unix_s", &i64) == 0) m->created_utc_s = i64;
    nd_h5_read_str(f, "software_version", m->software_version, sizeof m->software_version);
    nd_h5_read_str(f, "device_model", m->device.model, sizeof m->device.model);
    nd_h5_read_str(f, "device_serial", m->device.serial, sizeof m->device.serial);
    nd_h5_read_str(f, "device_firmware", m->device.fw, sizeof m->device.fw);
    m->device.nch = m->nch;
    m->device.rate_hz = m->sample_rate_hz;
    size_t n = 0;
    if (nd_h5_read_str_array(f, "channel_names", m->channel_names, ND_MAX_CHANNELS, &n) == 0)
        for (size_t i = 0; i < n; i++) memcpy(m->device.channel_names[i], m->channel_names[i], 32);
    nd_h5_read_f64_array(f, "device_counts_per_newton", m->device.counts_per_newton,
                         ND_MAX_CHANNELS, &n);
    nd_h5_read_f64(f, "body_mass_kg", &m->subject.body_mass_kg);
    nd_h5_read_f64(f, "lever_m", &m->subject.lever_m);
    char side[16] = "";
    if (nd_h5_read_str(f, "injured_side", side, sizeof side) == 0)
        m->subject.injured_side = side_from_text(side);
    m->calibration.nch = m->nch;
    nd_h5_read_f64_array(f, "calibration_offset_counts", m->calibration.offset, ND_MAX_CHANNELS,
                         &n);
    nd_h5_read_f64_array(f, "calibration_gain_N_per_count", m->calibration.gain, ND_MAX_CHANNELS,
                         &n);
    nd_h5_read_str(f, "calibration_device_serial", m->calibration.device_serial,
                   sizeof m->calibration.device_serial);
    if (nd_h5_read_i64(f, "left_channel", &i64) == 0) m->calibration.left_channel = (int)i64;
    if (nd_h5_read_i64(f, "right_channel", &i64) == 0) m->calibration.right_channel = (int)i64;
    for (size_t i = 0; i < N_SETTINGS; i++) {
        double v;
        if (nd_h5_read_f64(f, settings_attrs[i].name, &v) == 0)
            memcpy((char *)&m->settings + settings_attrs[i].offset, &v, sizeof v);
    }
    nd_h5_read_str(f, "protocol", m->protocol, sizeof m->protocol);
    nd_h5_read_str(f, "notes", m->notes, sizeof m->notes);
    return 0;
}

/* The iso_* arrays of an isometric test (schema 1.2), all of one length. */
static void read_iso_summary(hid_t r, nd_trial_summary *s)
{
    double v[4][ND_ISO_MAX_ANGLES];
    static const char *const names[4] = {"iso_angle_deg", "iso_best_left_N", "iso_best_right_N",
                                         "iso_asymmetry_pct"};
    size_t n[4];
    for (int j = 0; j < 4; j++)
        if (nd_h5_read_f64_array(r, names[j], v[j], ND_ISO_MAX_ANGLES, &n[j]) || n[j] != n[0])
            return;
    s->isometric = true;
    s->iso_angles = (uint32_t)n[0];
    for (size_t k = 0; k < n[0]; k++)
        s->iso[k] = (nd_iso_angle_result){v[0][k], {v[1][k], v[2][k]}, v[3][k]};
}

static bool read_flag(hid_t r, const char *name)
{
    int64_t v = 0;
    return nd_h5_read_i64(r, name, &v) == 0 && v != 0;
}

int nd_trial_read_summary_attrs(hid_t r, nd_trial_summary *s)
{
    memset(s, 0, sizeof *s);
    s->pain_rating = -1;
    uint64_t u;
    if (nd_h5_read_u64(r, "reps", &u) < 0) return 0;
    s->reps = (uint32_t)u;
    if (nd_h5_read_u64(r, "discarded_reps", &u) == 0) s->discarded_reps = (uint32_t)u;
    nd_h5_read_f64(r, "max_left_N", &s->max_N[ND_LEFT]);
    nd_h5_read_f64(r, "max_right_N", &s->max_N[ND_RIGHT]);
    nd_h5_read_f64(r, "mean_left_N", &s->mean_N[ND_LEFT]);
    nd_h5_read_f64(r, "mean_right_N", &s->mean_N[ND_RIGHT]);
    nd_h5_read_f64(r, "asymmetry_pct", &s->asymmetry_pct);
    nd_h5_read_f64(r, "abs_asymmetry_pct", &s->abs_asymmetry_pct);
    char side[16] = "";
    if (nd_h5_read_str(r, "weaker_side", side, sizeof side) == 0)
        s->weaker_side = side_from_text(side);
    nd_h5_read_f64(r, "lsi_pct", &s->lsi_pct);
    nd_h5_read_f64(r, "torque_max_left_Nm", &s->torque_max_Nm[ND_LEFT]);
    nd_h5_read_f64(r, "torque_max_right_Nm", &s->torque_max_Nm[ND_RIGHT]);
    nd_h5_read_f64(r, "rel_force_max_left_N_per_kg", &s->rel_force_max_N_per_kg[ND_LEFT]);
    nd_h5_read_f64(r, "rel_force_max_right_N_per_kg", &s->rel_force_max_N_per_kg[ND_RIGHT]);
    s->weak_left = read_flag(r, "weak_left");
    s->weak_right = read_flag(r, "weak_right");
    s->imbalance = read_flag(r, "imbalance");
    s->pain = read_flag(r, "pain");
    int64_t pain = -1;
    if (nd_h5_read_i64(r, "pain_rating", &pain) == 0) s->pain_rating = (int)pain;
    nd_h5_read_u64(r, "samples", &s->samples);
    nd_h5_read_u64(r, "nonfinite_skipped", &s->nonfinite_skipped);
    s->max_set_pain = -1;
    s->block_asymmetry_pct = NAN;
    if (nd_h5_read_u64(r, "sets_planned", &u) == 0) {
        nd_h5_read_f64(r, "block_asymmetry_pct", &s->block_asymmetry_pct);
        s->sets_planned = (uint32_t)u;
        if (nd_h5_read_u64(r, "sets_done", &u) == 0) s->sets_done = (uint32_t)u;
        if (nd_h5_read_i64(r, "max_set_pain", &pain) == 0) s->max_set_pain = (int)pain;
        nd_h5_read_str(r, "suggestion_rule", s->suggestion_rule, sizeof s->suggestion_rule);
        nd_h5_read_str(r, "suggestion", s->suggestion, sizeof s->suggestion);
        char protocol[32] = "";
        unsigned ss = 0, rr = 0;
        if (nd_h5_read_str(r, "suggestion_protocol", protocol, sizeof protocol) == 0 &&
            sscanf(protocol, "%ux%u", &ss, &rr) == 2) {
            s->suggestion_sets = ss;
            s->suggestion_reps = rr;
        }
        read_iso_summary(r, s);
    }
    return 1;
}
