/* The running daemon: one acquisition thread (driver -> ring) and three ring
 * consumers (metrics: lossless, file writer: lossless, live publisher: lossy),
 * tied together by the message bus (nd_bus.h). Commands (from the ZeroMQ
 * control socket or the command line) are the nd_daemon_* functions below;
 * they are safe to call from any one thread at a time. */
#ifndef ND_DAEMON_H
#define ND_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "nd_calibration.h"
#include "nd_config.h"
#include "nd_device.h"
#include "nd_messages.h"
#include "nd_metrics.h"
#include "nd_sets.h"

typedef enum nd_trial_state {
    ND_TRIAL_IDLE,
    ND_TRIAL_RECORDING,
} nd_trial_state;

/* What the operator gives when starting a trial. */
typedef struct nd_trial_request {
    char athlete_id[65];
    nd_subject subject;
    char notes[1025];
    char protocol[16]; /* e.g. "3x6"; empty if none */
    nd_set_plan plan;  /* sets, rest, gap, target zone (plan.sets == 0: no protocol) */
} nd_trial_request;

/* The running (or last) trial, fixed from start to stop. */
typedef struct nd_trial_slot {
    uint32_t trial_no;
    char trial_id[65];
    char created_utc[32];
    int64_t created_unix;
    nd_trial_request req;
    nd_device_info device;
    nd_calibration calibration;
    nd_metric_settings settings;
    double fs;
    uint64_t start_pos; /* ring position of the trial's first sample set */
    char path[1024];    /* HDF5 file */
} nd_trial_slot;

typedef struct nd_daemon nd_daemon;

/* Opens the device and starts every thread. Returns NULL with a clear error.
 * held: the lossless consumers wait at the stream's first set until
 * nd_daemon_record_start() (one trial from the command line that must hold
 * every set from the first, even from an unpaced source). */
nd_daemon *nd_daemon_start(const nd_config *cfg, bool held, char *err, size_t errlen);
/* Request shutdown (signal-safe: only sets a flag). */
void nd_daemon_request_stop(nd_daemon *d);
bool nd_daemon_stop_requested(const nd_daemon *d);
/* True once the device's stream ended (file replay, finite simulation). */
bool nd_daemon_source_ended(const nd_daemon *d);
/* Stops acquisition, closes an open trial cleanly, joins threads, frees. */
void nd_daemon_shutdown(nd_daemon *d);

/* Commands. Each returns 0, or -1 with a clear message in err. */
/* Tare the chosen hooks over window_s seconds (0 = the configured window).
 * A zero that looks taken under load (nd_calibration_tare_check) is refused
 * unless force. */
int nd_daemon_tare(nd_daemon *d, bool left, bool right, double window_s, bool force, char *detail,
                   size_t detaillen, char *err, size_t errlen);
/* Two-point calibration of one hook (ND_LEFT/ND_RIGHT) with a known mass. */
int nd_daemon_calibrate(nd_daemon *d, int side, double mass_kg, double window_s, char *detail,
                        size_t detaillen, char *err, size_t errlen);
int nd_daemon_start_trial(nd_daemon *d, const nd_trial_request *req, nd_trial_slot *out, char *err,
                          size_t errlen);
/* For a daemon started held: optionally tare over the stream's first window
 * (the hooks must be unloaded then), start the trial right after it (or at
 * the very first set), and release the consumers. */
int nd_daemon_record_start(nd_daemon *d, const nd_trial_request *req, bool tare, nd_trial_slot *out,
                           char *err, size_t errlen);
int nd_daemon_stop_trial(nd_daemon *d, nd_trial_slot *slot, nd_trial_summary *summary, char *err,
                         size_t errlen);
/* kind: free text ("note", "pain", ...); pain 0..10 or -1. */
int nd_daemon_mark(nd_daemon *d, const char *kind, const char *detail, int pain, char *err,
                   size_t errlen);
/* The progression suggestion after a next-day pain (METRICS.md 5.6). */
typedef struct nd_suggestion_reply {
    char rule[32], protocol[32], text[160];
} nd_suggestion_reply;
/* Adds a next-day pain (0..10) to the closed trial trial_id in the data
 * directory (stored as an event with its own time, TRIAL_FORMAT.md) and
 * re-evaluates the suggestion. */
int nd_daemon_next_day_pain(nd_daemon *d, const char *trial_id, int pain, const char *detail,
                            nd_suggestion_reply *out, char *err, size_t errlen);
/* What "set next" changes for the following sets (METRICS.md 5.7). */
typedef struct nd_set_next_options {
    bool switch_leg; /* the working leg becomes leg (NONE: both legs again) */
    nd_side leg;
    bool set_angle; /* the knee angle becomes angle_deg (isometric tests only) */
    double angle_deg;
} nd_set_next_options;
/* Ends the current set of the recording trial's protocol (METRICS.md 5);
 * o may be NULL (nothing changes). An angle on a Nordic session is refused. */
int nd_daemon_set_next(nd_daemon *d, const nd_set_next_options *o, char *err, size_t errlen);
void nd_daemon_status(nd_daemon *d, nd_status_snapshot *out);
bool nd_daemon_recording(nd_daemon *d);
/* The last trial whose file was closed and its summary; -1 if none yet. */
int nd_daemon_last_trial(nd_daemon *d, nd_trial_slot *slot, nd_trial_summary *summary);
const nd_config *nd_daemon_config(const nd_daemon *d);
/* Metric settings for the next trial (refused while recording). */
int nd_daemon_set_metric_settings(nd_daemon *d, const nd_metric_settings *s, char *err,
                                  size_t errlen);
/* The same, but while a trial records the settings wait and take effect when
 * it stops (a reload). Returns 1 when deferred, 0 when in effect, -1 with
 * err when invalid. */
int nd_daemon_set_metric_settings_after_trial(nd_daemon *d, const nd_metric_settings *s, char *err,
                                              size_t errlen);
/* Current options (any pointer may be NULL). */
void nd_daemon_get_options(nd_daemon *d, nd_metric_settings *settings, double *live_hz,
                           int *wave_decimation);
/* The live options apply at once. */
void nd_daemon_set_live_options(nd_daemon *d, double live_hz, int wave_decimation);

/* What the watchdog (nd_watchdog.h) judges the threads' health by. */
typedef struct nd_daemon_health {
    uint64_t device_sets;  /* sets received from the device so far */
    bool device_connected; /* false while the driver reconnects */
    bool acquisition_done; /* the stream ended: idle by design */
    bool have_metrics, have_writer;
    uint64_t metrics_beat_ns, writer_beat_ns; /* latest pass of each loop (CLOCK_MONOTONIC) */
} nd_daemon_health;
void nd_daemon_health_get(nd_daemon *d, nd_daemon_health *out);
/* Records an error for `status` and logs it. */
void nd_daemon_report_error(nd_daemon *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
