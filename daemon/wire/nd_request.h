/* Control requests (daemon/wire/ZMQ_PROTOCOL.md, "Control"): the typed form of
 * each command and its strict parser. Pure: no sockets, no daemon state, so
 * the daemon, tests and fuzzers share one validator. */
#ifndef ND_REQUEST_H
#define ND_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "nd_metrics.h"
#include "nd_sets.h"

#define ND_CONTROL_MAX_REQUEST 65536 /* bytes; larger requests are refused */
#define ND_ATHLETE_ID_MAX      64
#define ND_NOTES_MAX           1024 /* bytes of UTF-8 */
#define ND_MARK_KIND_MAX       32
#define ND_MARK_DETAIL_MAX     199 /* fits nd_bus mark detail[200] */
#define ND_PROTOCOL_MAX        15  /* "SxR", e.g. "3x6" */

typedef enum nd_cmd {
    ND_CMD_STATUS,
    ND_CMD_DEVICES,
    ND_CMD_TARE,
    ND_CMD_CALIBRATE,
    ND_CMD_START,
    ND_CMD_STOP,
    ND_CMD_MARK,
    ND_CMD_CONFIG,
    ND_CMD_SET,
    ND_CMD_NEXT_DAY_PAIN,
    ND_CMD_COUNT
} nd_cmd;

const char *nd_cmd_name(nd_cmd c);

/* tare: {"cmd":"tare"[, "side":"left"|"right"|"both"][, "window_s": [0.05, 60]]
 *        [, "force": true|false]} */
typedef struct nd_tare_request {
    bool left, right; /* which hooks to tare (default both) */
    double window_s;  /* 0 = daemon default (tare_window_s) */
    bool force;       /* accept a zero that looks taken under load */
} nd_tare_request;

/* calibrate: {"cmd":"calibrate","side":"left"|"right","mass_kg":(0, 500]
 *             [, "window_s": [0.05, 60]]} */
typedef struct nd_calibrate_request {
    int side;        /* ND_LEFT or ND_RIGHT */
    double mass_kg;  /* known mass hung on that hook */
    double window_s; /* 0 = daemon default */
} nd_calibrate_request;

/* start: {"cmd":"start","athlete_id":ID[, "body_mass_kg":(0,500]][, "lever_m":(0,1.5]]
 *         [, "injured_side":"left"|"right"|"none"][, "notes":str][, "protocol":"3x6"]
 *         [, "rest_s":[0,3600]][, "set_gap_s":[1,3600]]
 *         [, "target_left_N"/"target_right_N":(0,100000]
 *          | "target_pct":(0,200] with "best_left_N"/"best_right_N":(0,100000]
 *            [, "best_source":str (<= 255 bytes, one line)]]
 *         [, "target_tolerance_pct":[0,100]]
 *         [, "leg":"left"|"right"|"both"][, "leg_on_N":[0,1e5]][, "leg_off_N":[0,1e5]]
 *         [, "test":"nordic"|"isometric"][, "angle_deg":[0,90] (isometric, required)]}
 * rest_s, set_gap_s, the target, leg and test need "protocol". The target zone of a
 * leg is target * (1 -/+ tolerance/100) (default tolerance 10 %). */
typedef struct nd_start_request {
    char athlete_id[ND_ATHLETE_ID_MAX + 1]; /* [A-Za-z0-9._-]{1,64}, not starting with '.' */
    nd_subject subject;                     /* 0 = not given for mass and lever */
    char notes[ND_NOTES_MAX + 1];           /* valid UTF-8, no NUL; "" if absent */
    char protocol[ND_PROTOCOL_MAX + 1];     /* normalised "SxR"; "" if absent */
    int protocol_sets, protocol_reps;       /* 1..20 and 1..50; 0 if absent */
    nd_set_plan plan;                       /* from protocol, rest, gap and target */
} nd_start_request;

/* set: {"cmd":"set","action":"next"[, "leg":"left"|"right"|"both"][, "angle_deg":[0,90]]}
 * ends the current set of the recording trial's protocol; with "leg" the
 * following sets are for that leg (single-leg blocks, METRICS.md 5.7); with
 * "angle_deg" (isometric tests only, checked by the daemon) at that knee
 * angle. */
typedef enum nd_set_action { ND_SET_ACTION_NEXT } nd_set_action;
typedef struct nd_set_request {
    nd_set_action action;
    bool switch_leg; /* "leg": "left"|"right"|"both": the following sets' working leg */
    nd_side leg;
    bool set_angle; /* "angle_deg": [0, 90], the following sets' knee angle (isometric) */
    double angle_deg;
} nd_set_request;

/* next_day_pain: {"cmd":"next_day_pain","trial_id":ID,"value":0..10[, "detail":str]}
 * rates a closed session the day after (METRICS.md 5.6). ID follows the
 * athlete_id rules. */
typedef struct nd_next_day_request {
    char trial_id[ND_ATHLETE_ID_MAX + 1];
    int pain;
    char detail[ND_MARK_DETAIL_MAX + 1];
} nd_next_day_request;

/* mark: {"cmd":"mark","kind":K[, "detail":str][, "value":0..10 (kind "pain" only,
 *        required there)]}. K matches [A-Za-z0-9_-]{1,32}. */
typedef struct nd_mark_request {
    char kind[ND_MARK_KIND_MAX + 1];
    char detail[ND_MARK_DETAIL_MAX + 1];
    int pain; /* 0..10 for kind "pain", else -1 */
} nd_mark_request;

/* config: {"cmd":"config"[, "set": {key: number, ...}]} -- without "set" it
 * only reads. Keys: the metric settings plus live_hz and wave_decimation. */
typedef enum nd_config_key {
    ND_CFG_CUTOFF_HZ,
    ND_CFG_ON_N,
    ND_CFG_OFF_N,
    ND_CFG_HOLD_S,
    ND_CFG_MIN_REP_S,
    ND_CFG_IMPULSE_THRESHOLD_N,
    ND_CFG_WEAK_THRESHOLD_N,
    ND_CFG_IMBALANCE_PCT,
    ND_CFG_TARE_WINDOW_S,
    ND_CFG_LIVE_HZ,         /* [1, 200] */
    ND_CFG_WAVE_DECIMATION, /* integer 1..100000 */
    ND_CFG_COUNT
} nd_config_key;

const char *nd_config_key_name(nd_config_key k);

typedef struct nd_config_request {
    bool has[ND_CFG_COUNT];
    double value[ND_CFG_COUNT];
} nd_config_request;

/* Copies the metric keys present in the request over *s (leaves the others). */
void nd_config_request_apply(const nd_config_request *r, nd_metric_settings *s);

typedef struct nd_request {
    nd_cmd cmd;
    nd_tare_request tare;
    nd_calibrate_request calibrate;
    nd_start_request start;
    nd_mark_request mark;
    nd_config_request config;
    nd_set_request set;
    nd_next_day_request next_day;
} nd_request;

/* Pure validation: parses one request buffer (need not be NUL-terminated).
 * Returns 0 and fills *out, or -1 with a one-line message in err. Never
 * reads beyond len; safe on arbitrary bytes. */
int nd_request_parse(const char *buf, size_t len, nd_request *out, char *err, size_t errlen);

#endif
