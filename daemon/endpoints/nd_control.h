/* Control server of daemon/wire/ZMQ_PROTOCOL.md: a ZeroMQ REP socket on its own thread.
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
 * Field-by-field reference: daemon/wire/ZMQ_PROTOCOL.md. */
#ifndef ND_CONTROL_H
#define ND_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "nd_request.h"
#include "nd_zsec.h"

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
