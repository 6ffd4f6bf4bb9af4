/* Metric settings, subject parameters and side names (daemon/metrics/METRICS.md): defaults,
 * ranges and validation with clear messages. */
#include "nd_metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FIELD(name) offsetof(nd_metric_settings, name)

/* Upper bounds reject absurd values (typos, unit mix-ups) rather than model
 * physics: a hook load cell reads at most a few kN. */
const nd_metric_setting_info nd_metric_setting_table[] = {
    {"cutoff_hz", "Hz", FIELD(cutoff_hz), 10.0, 0.0, ND_METRICS_MAX_FS, true},
    {"on_N", "N", FIELD(on_N), 100.0, 0.0, 100000.0, true},
    {"off_N", "N", FIELD(off_N), 50.0, 0.0, 100000.0, false},
    {"hold_s", "s", FIELD(hold_s), 0.25, 0.0, 60.0, false},
    {"min_rep_s", "s", FIELD(min_rep_s), 0.5, 0.0, 600.0, false},
    {"impulse_threshold_N", "N", FIELD(impulse_threshold_N), 25.0, 0.0, 100000.0, false},
    {"weak_threshold_N", "N", FIELD(weak_threshold_N), 256.0, 0.0, 100000.0, false},
    {"imbalance_pct", "%", FIELD(imbalance_pct), 15.0, 0.0, 100.0, false},
    {"tare_window_s", "s", FIELD(tare_window_s), 1.0, 0.0, 60.0, true},
};
const size_t nd_metric_setting_count =
    sizeof nd_metric_setting_table / sizeof nd_metric_setting_table[0];

static double *field_ptr(nd_metric_settings *s, const nd_metric_setting_info *info)
{
    return (double *)((char *)s + info->offset);
}

double nd_metric_setting_get(const nd_metric_settings *s, const nd_metric_setting_info *info)
{
    return *(const double *)((const char *)s + info->offset);
}

const nd_metric_setting_info *nd_metric_setting_find(const char *name)
{
    for (size_t i = 0; i < nd_metric_setting_count; i++)
        if (name && strcmp(nd_metric_setting_table[i].name, name) == 0)
            return &nd_metric_setting_table[i];
    return NULL;
}

void nd_metric_settings_default(nd_metric_settings *s)
{
    for (size_t i = 0; i < nd_metric_setting_count; i++)
        *field_ptr(s, &nd_metric_setting_table[i]) = nd_metric_setting_table[i].default_value;
}

static int check_range(const nd_metric_setting_info *info, double v, char *err, size_t errlen)
{
    bool low_ok = info->min_exclusive ? v > info->min : v >= info->min;
    if (isfinite(v) && low_ok && v <= info->max) return 0;
    snprintf(err, errlen, "metric setting %s = %g %s is outside %s%g, %g]", info->name, v,
             info->unit, info->min_exclusive ? "(" : "[", info->min, info->max);
    return -1;
}

int nd_metric_setting_set(nd_metric_settings *s, const char *name, double value, char *err,
                          size_t errlen)
{
    const nd_metric_setting_info *info = nd_metric_setting_find(name);
    if (!info) {
        snprintf(err, errlen, "unknown metric setting '%s'", name ? name : "(null)");
        return -1;
    }
    if (check_range(info, value, err, errlen) < 0) return -1;
    *field_ptr(s, info) = value;
    return 0;
}

int nd_metric_settings_validate(const nd_metric_settings *s, double fs, char *err, size_t errlen)
{
    if (!s) {
        snprintf(err, errlen, "no metric settings given");
        return -1;
    }
    if (!isfinite(fs) || fs <= 0.0 || fs > ND_METRICS_MAX_FS) {
        snprintf(err, errlen, "sample rate %g Hz is outside (0, %g]", fs, ND_METRICS_MAX_FS);
        return -1;
    }
    for (size_t i = 0; i < nd_metric_setting_count; i++) {
        const nd_metric_setting_info *info = &nd_metric_setting_table[i];
        if (check_range(info, nd_metric_setting_get(s, info), err, errlen) < 0) return -1;
    }
    if (s->off_N > s->on_N) {
        snprintf(err, errlen, "metric setting off_N = %g N must not exceed on_N = %g N", s->off_N,
                 s->on_N);
        return -1;
    }
    if (llround(s->tare_window_s * fs) < 1) {
        snprintf(err, errlen, "tare_window_s = %g s holds no sample at %g Hz", s->tare_window_s,
                 fs);
        return -1;
    }
    return 0;
}

int nd_subject_validate(const nd_subject *s, char *err, size_t errlen)
{
    if (!s) {
        snprintf(err, errlen, "no subject given");
        return -1;
    }
    /* 0 means "not given"; anything else must be a plausible human value. */
    if (!(s->body_mass_kg == 0.0 || (s->body_mass_kg > 0.0 && s->body_mass_kg <= 500.0))) {
        snprintf(err, errlen, "body mass %g kg is invalid: give (0, 500] kg, or 0 for unknown",
                 s->body_mass_kg);
        return -1;
    }
    if (!(s->lever_m == 0.0 || (s->lever_m > 0.0 && s->lever_m <= 1.5))) {
        snprintf(err, errlen, "lever %g m is invalid: give (0, 1.5] m, or 0 for unknown",
                 s->lever_m);
        return -1;
    }
    if (s->injured_side != ND_SIDE_NONE && s->injured_side != ND_SIDE_LEFT &&
        s->injured_side != ND_SIDE_RIGHT) {
        snprintf(err, errlen, "injured side %d is invalid: none, left or right",
                 (int)s->injured_side);
        return -1;
    }
    return 0;
}

const char *nd_side_name(nd_side s)
{
    switch (s) {
    case ND_SIDE_LEFT:
        return "left";
    case ND_SIDE_RIGHT:
        return "right";
    case ND_SIDE_NONE:
        return "none";
    }
    return "none";
}

int nd_side_parse(const char *text, nd_side *out)
{
    if (!text) return -1;
    if (strcmp(text, "none") == 0) {
        *out = ND_SIDE_NONE;
    } else if (strcmp(text, "left") == 0) {
        *out = ND_SIDE_LEFT;
    } else if (strcmp(text, "right") == 0) {
        *out = ND_SIDE_RIGHT;
    } else {
        return -1;
    }
    return 0;
}
