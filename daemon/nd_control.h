/* Control server of SPEC section 6: a ZeroMQ REP socket on its own thread.
 *
 * Each request is one frame holding a JSON object {"cmd": ..., fields}. It is
 * validated strictly (types, ranges, string lengths, unknown fields refused)
 * into a typed nd_request, handed to the daemon's handler, and answered with
 * exactly one reply: {"ok":true, ...handler fields} or
 * {"ok":false,"error":"<clear message>"}. Oversized, multi-frame and
 * non-JSON requests get an error reply too; REP always answers once.
 *
 * The handler runs on the control thread, so it must take whatever locks the
 * daemon needs. It may block for a tare/calibration window (the client waits).
 * Field-by-field reference: daemon/ZMQ_PROTOCOL.md. */
#ifndef ND_CONTROL_H
#define ND_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "nd_metrics.h"
#include "nd_zsec.h"

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
 *         [, "injured_side":"left"|"right"|"none"][, "notes":str][, "protocol":"3x6"]} */
typedef struct nd_start_request {
    char athlete_id[ND_ATHLETE_ID_MAX + 1]; /* [A-Za-z0-9._-]{1,64}, not starting with '.' */
    nd_subject subject;                     /* 0 = not given for mass and lever */
    char notes[ND_NOTES_MAX + 1];           /* valid UTF-8, no NUL; "" if absent */
    char protocol[ND_PROTOCOL_MAX + 1];     /* normalised "SxR"; "" if absent */
    int protocol_sets, protocol_reps;       /* 1..20 and 1..50; 0 if absent */
} nd_start_request;

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
} nd_request;

/* Pure validation: parses one request buffer (need not be NUL-terminated).
 * Returns 0 and fills *out, or -1 with a one-line message in err. Never
 * reads beyond len; safe on arbitrary bytes. */
int nd_request_parse(const char *buf, size_t len, nd_request *out, char *err, size_t errlen);

/* Daemon-provided command implementation. Add reply fields to reply_fields
 * (an object; "ok" is added for you) and return 0, or return -1 with a clear
 * message in err (a refusal). */
typedef int (*nd_control_handler)(void *ctx, const nd_request *req, cJSON *reply_fields, char *err,
                                  size_t errlen);

/* Builds the complete reply (malloc'd JSON text, never NULL except out of
 * memory) for one request buffer: parse, call handler, wrap. This is what the
 * server thread does for each single-frame request of acceptable size. */
char *nd_control_process(const char *buf, size_t len, nd_control_handler handle, void *ctx);

/* Reply for a refused request: {"ok":false,"error":msg} (malloc'd). */
char *nd_control_error_reply(const char *msg);

typedef struct nd_control_options {
    const char *endpoint; /* ipc://..., tcp://127.0.0.1:5555, ... */
    nd_control_handler handle;
    void *ctx;
    const nd_curve_server *curve; /* NULL: no CURVE (only local endpoints allowed) */
    size_t max_request;           /* 0 = ND_CONTROL_MAX_REQUEST */
} nd_control_options;

typedef struct nd_control nd_control;

/* Checks the endpoint policy (nd_zsec_check_bind), binds the REP socket in
 * zctx and starts the thread. For ipc:// endpoints the socket file gets mode
 * 0660 and its directory must exist (clear error otherwise); a stale socket
 * file left by a dead daemon is replaced, a live one is refused. Returns NULL
 * with a message on failure. */
nd_control *nd_control_start(void *zctx, const nd_control_options *opt, char *err, size_t errlen);
/* The bound endpoint with wildcards resolved (e.g. tcp://127.0.0.1:* ->
 * the actual port). */
const char *nd_control_endpoint(const nd_control *c);
/* Stops the thread and closes the socket (removes the ipc file). */
void nd_control_stop(nd_control *c);
/* Requests answered so far, and how many of those were refusals. */
void nd_control_counts(const nd_control *c, unsigned long long *requests,
                       unsigned long long *errors);

#endif
