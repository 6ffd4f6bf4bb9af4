/* Per-channel calibration of METRICS.md 4.1: F = (raw - offset) * gain.
 * Tare sets offset from the mean raw over a window; two-point calibration
 * sets gain from a known mass. Persisted in the state directory. */
#ifndef ND_CALIBRATION_H
#define ND_CALIBRATION_H

#include <stddef.h>
#include <stdint.h>

#include "nd_device.h"
#include "nd_sample.h"

typedef struct nd_calibration {
    int nch;
    double offset[ND_MAX_CHANNELS]; /* raw counts */
    double gain[ND_MAX_CHANNELS];   /* N per count */
    /* Channel mapping: which device channel is the left / right hook. */
    int left_channel, right_channel;
    char device_serial[64]; /* the device this calibration belongs to */
} nd_calibration;

/* Defaults: offset 0, gain 1/counts_per_newton (or 1 when unknown), L=0 R=1. */
void nd_calibration_default(nd_calibration *c, int nch, const double *counts_per_newton);
/* The device's own counts per newton (INFO) as the calibration, keeping the
 * channel mapping: what applies while no calibration was saved. */
void nd_calibration_from_device(nd_calibration *c, const nd_device_info *info);
static inline double nd_calibration_apply(const nd_calibration *c, int ch, int32_t raw)
{
    return ((double)raw - c->offset[ch]) * c->gain[ch];
}

/* Accumulates raw means over a window (tare and two-point). */
typedef struct nd_raw_mean {
    int nch;
    uint64_t n, want;
    double sum[ND_MAX_CHANNELS];
} nd_raw_mean;
void nd_raw_mean_start(nd_raw_mean *a, int nch, uint64_t want_sets);
/* Returns 1 once `want` sets have been accumulated. */
int nd_raw_mean_add(nd_raw_mean *a, const nd_sample *s);
double nd_raw_mean_value(const nd_raw_mean *a, int ch);

/* Tare: offset[ch] = mean raw of the window for every channel. Refuses an
 * empty window or a channel count that does not match. The caller (daemon)
 * must refuse a tare while a rep is open (nd_live_state.rep_open). */
int nd_calibration_tare(nd_calibration *c, const nd_raw_mean *a, char *err, size_t errlen);

/* Two-point: gain = m*g / (mean_raw - offset). Refuses mass <= 0 or a load
 * change too small to resolve. */
int nd_calibration_set_gain_from_mass(nd_calibration *c, int ch, double mass_kg, double mean_raw,
                                      char *err, size_t errlen);

/* Persistence: a small text file (key = value), written atomically. */
int nd_calibration_save(const nd_calibration *c, const char *path, char *err, size_t errlen);
/* Load validates everything (format line, version, numbers, ranges, no
 * unknown or duplicate keys) and leaves *c untouched on error. */
int nd_calibration_load(nd_calibration *c, const char *path, char *err, size_t errlen);
/* The smallest load change (|mean_raw - offset|, counts) a two-point
 * calibration accepts. */
#define ND_CALIBRATION_MIN_DELTA_COUNTS 1.0
/* Largest mass accepted for a two-point calibration (kg). */
#define ND_CALIBRATION_MAX_MASS_KG 1000.0

#define ND_G 9.80665

#endif
