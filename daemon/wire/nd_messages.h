/* Payloads of the live topics (daemon/wire/ZMQ_PROTOCOL.md) as plain structs the daemon
 * fills, and pure builders turning them into cJSON objects (the hot `live`
 * and `wave` bodies are written as text instead: nd_messages_text.h). The publisher
 * adds the common header fields ("v", "seq", "t", "trial_id", "uptime_s");
 * the control server can reuse the same bodies (e.g. the `status` reply).
 *
 * Non-finite numbers (NaN = "undefined" in nd_metrics.h) become JSON null.
 * Field reference with units: daemon/wire/ZMQ_PROTOCOL.md. */
#ifndef ND_MESSAGES_H
#define ND_MESSAGES_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "nd_device.h"
#include "nd_metrics.h"
#include "nd_sets.h"

#define ND_MSG_VERSION  1
#define ND_TRIAL_ID_MAX 64

/* Everything `status` reports (1 Hz and on request). Plain arrays so the
 * daemon can copy a snapshot between threads with memcpy. */
typedef struct nd_status_snapshot {
    char state[16];                     /* "idle", "recording", "stopping", "error" */
    char activity[16];                  /* "" or "taring" / "calibrating" */
    char trial_id[ND_TRIAL_ID_MAX + 1]; /* "" when no trial runs */
    char athlete_id[65];
    double trial_t_s; /* trial time of the newest processed set */
    char file[512];   /* current trial file ("" when none) */
    char device_uri[512];
    bool device_connected;
    bool have_device_info;
    nd_device_info device;
    int left_channel, right_channel;       /* device channels of the two hooks */
    double calib_offset[2], calib_gain[2]; /* of the left/right hook channels */
    /* counters since daemon start */
    uint64_t samples;          /* sample sets received from the device */
    uint64_t gaps, gap_sets;   /* seq jumps and sets lost in them */
    uint64_t device_overflows; /* sets the device itself dropped */
    uint64_t bad_frames;       /* NFP frames dropped (COBS, CRC, version, length) */
    uint64_t bad_lines;        /* text lines that did not parse */
    uint64_t unknown_frames;   /* NFP frames of unknown type skipped */
    uint64_t restarts, disconnects, reconnects;
    uint64_t ring_overruns;     /* sets refused because the file/metrics path was full */
    uint64_t live_skipped;      /* sets the live path skipped (lossy consumer lapped) */
    uint64_t live_dropped_msgs; /* publisher sends that failed locally */
    uint64_t file_sets_written; /* sets stored in trial files */
    uint64_t file_sets_lost;    /* trial sets not stored (the file failed: disk full...) */
    uint64_t file_errors;       /* trial-file write/flush/close failures */
    uint64_t channel_errors;    /* sets lacking the configured left/right channels */
    uint64_t trial_samples;     /* sets stored in the current trial */
    uint32_t trial_reps;
    nd_set_live sets;     /* the trial's protocol: set k of n, rep j of m, rest */
    char last_error[240]; /* "" when none */
    char warning[240];    /* standing problem (zero taken under load); "" when none */
} nd_status_snapshot;

/* `live`: newest filtered force and the open rep's running peaks. */
typedef struct nd_live_msg {
    nd_live_state state; /* from nd_metrics_live() */
    uint64_t host_ns;    /* CLOCK_MONOTONIC arrival of the newest set (0 = omit) */
    nd_set_live sets;    /* phase none: no "set" object */
} nd_live_msg;

/* `wave`: a block of decimated force for plotting. */
#define ND_WAVE_MAX_POINTS 256
typedef struct nd_wave_block {
    double t0_s; /* time of the first point (trial time, or uptime when idle) */
    double dt_s; /* spacing of points = decimation / fs */
    unsigned decimation;
    unsigned n; /* points in this block */
    double left_N[ND_WAVE_MAX_POINTS];
    double right_N[ND_WAVE_MAX_POINTS];
    uint64_t host_ns;        /* arrival of the newest set in the block (0 = omit) */
    uint64_t host_ns_oldest; /* arrival of the oldest set in the block (0 = omit) */
} nd_wave_block;

/* Decimator feeding wave blocks: each point is the mean of `decimation`
 * consecutive sets (a box filter against aliasing). */
typedef struct nd_wave_builder {
    unsigned decimation, block_points;
    double fs;
    unsigned acc_n;
    double acc_l, acc_r;
    double acc_t0;
    uint64_t acc_host_ns; /* arrival of the first set of the open point */
    nd_wave_block block;
} nd_wave_builder;
/* decimation >= 1, 1 <= block_points <= ND_WAVE_MAX_POINTS, fs > 0. */
int nd_wave_init(nd_wave_builder *w, unsigned decimation, unsigned block_points, double fs);
/* Adds one set at time t_s. Returns 1 when w->block is full and should be
 * published (then call nd_wave_clear). */
int nd_wave_push(nd_wave_builder *w, double t_s, double left_N, double right_N, uint64_t host_ns);
void nd_wave_clear(nd_wave_builder *w);
/* Drops any partial point/block (e.g. at trial start, time base changes). */
void nd_wave_reset(nd_wave_builder *w);

/* `trial`: start and stop. */
typedef struct nd_trial_msg {
    char trial_id[ND_TRIAL_ID_MAX + 1];
    char athlete_id[65];
    char created_utc[32]; /* ISO 8601, e.g. 2025-01-31T10:00:00Z */
    char file[512];
    nd_subject subject;
    char notes[1025];
    char protocol[16]; /* "3x6" or "" */
    double sample_rate_hz;
    nd_metric_settings settings;
    /* stop only */
    double duration_s;
    uint64_t samples;
    char stop_reason[64]; /* "operator", "shutdown", "error: ..." */
} nd_trial_msg;

cJSON *nd_json_status(const nd_status_snapshot *s);
cJSON *nd_json_device_info(const nd_device_info *d);
cJSON *nd_json_rep(const nd_rep_result *r);
/* The "set" object of `status` (METRICS.md 5; `live` writes the same object
 * as text: nd_messages_text.h). */
cJSON *nd_json_set_live(const nd_set_live *s);
/* A /sets row as the `set` topic body (the /sets field names). */
cJSON *nd_json_set_result(const nd_set_result *r);
/* Adds "zone" (below/in/above) and the zone bounds to a rep body. */
void nd_json_rep_add_zone(cJSON *rep, const nd_set_plan *plan, const nd_rep_result *r);
cJSON *nd_json_summary(const nd_trial_summary *s);
cJSON *nd_json_settings(const nd_metric_settings *s);
cJSON *nd_json_trial_start(const nd_trial_msg *t);
cJSON *nd_json_trial_stop(const nd_trial_msg *t, const nd_trial_summary *summary);

/* Adds a number, or null when not finite. */
cJSON *nd_json_add_number(cJSON *obj, const char *name, double v);

#endif
