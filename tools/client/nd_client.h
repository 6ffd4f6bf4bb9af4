/* The client side of nordicd's ZeroMQ interface (daemon/wire/ZMQ_PROTOCOL.md):
 * endpoints, CURVE set-up, request builders, request/reply and live
 * subscription with per-topic loss counting. nordctl, nordic-watch and
 * nordic-station link this and nothing else of the daemon for ZeroMQ; it
 * links no HDF5 and no daemon state.
 *
 * Not thread-safe per object: use one nd_ctl_client / nd_live_client from one
 * thread at a time (ZeroMQ sockets are single-threaded). */
#ifndef ND_CLIENT_H
#define ND_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "nd_endpoints.h"

/* Exit statuses the command-line clients share. */
enum { ND_CLIENT_REFUSED = 1, ND_CLIENT_USAGE = 2, ND_CLIENT_NOANSWER = 3 };

typedef struct nd_client_options {
    const char *endpoint;        /* NULL/"": the default for the socket kind */
    const char *server_key_file; /* CURVE: the daemon's public key, or NULL */
    const char *client_key_file; /* CURVE: this client's secret key, or NULL */
    double timeout_s;            /* control requests; 0 = 10 s */
    /* Control: connect even when the ipc:// socket file is not there yet (a
     * long-running client such as the station, started before nordicd).
     * Otherwise a missing file is reported at once. */
    bool wait_for_daemon;
} nd_client_options;

/* ---- control (REQ) ---- */
typedef struct nd_ctl_client nd_ctl_client;

/* Connects (lazily, as ZeroMQ does). For ipc:// endpoints a missing socket
 * file is reported at once ("is nordicd running?"). Returns NULL with a
 * message; *status (if given) says ND_CLIENT_USAGE (bad keys or options) or
 * ND_CLIENT_NOANSWER (nothing to connect to). */
nd_ctl_client *nd_ctl_client_open(void *zctx, const nd_client_options *opt, int *status, char *err,
                                  size_t errlen);
void nd_ctl_client_close(nd_ctl_client *c);
const char *nd_ctl_client_endpoint(const nd_ctl_client *c);

/* Sends one request and waits for its reply (at most the timeout). Returns
 * 0 with *reply the parsed object (caller frees) whose "ok" may be true or
 * false, or ND_CLIENT_NOANSWER with a message in err (timeout, transport
 * error, unreadable reply). After a timeout the client stays usable: a late
 * reply to the old request is discarded, never taken for the next one.
 * raw/rawlen (optional) receive a malloc'd copy of the reply text. */
int nd_ctl_client_call(nd_ctl_client *c, const char *request, size_t len, cJSON **reply, char **raw,
                       size_t *rawlen, char *err, size_t errlen);
/* The same for a request object (not consumed). */
int nd_ctl_client_call_json(nd_ctl_client *c, const cJSON *request, cJSON **reply, char *err,
                            size_t errlen);

/* The same in two steps, for a client that polls other sockets meanwhile
 * (the station): send without waiting (0, or -1 when the socket cannot take
 * it), poll nd_ctl_client_socket for ZMQ_POLLIN, then take the reply text
 * (malloc'd, NUL-terminated; -1 when none is ready). A request whose reply
 * never comes may simply be followed by the next one (see above). */
int nd_ctl_client_send(nd_ctl_client *c, const char *request, size_t len);
void *nd_ctl_client_socket(nd_ctl_client *c);
int nd_ctl_client_recv(nd_ctl_client *c, char **raw, size_t *rawlen);

/* Reading a reply: true for {"ok":true,...}; the refusal text otherwise. */
bool nd_reply_ok(const cJSON *reply);
const char *nd_reply_error(const cJSON *reply);

/* ---- request builders (field names: daemon/wire/ZMQ_PROTOCOL.md) ----
 * Each returns a new object (caller frees) or NULL when out of memory. The
 * daemon validates every field; these only spell the requests. */
cJSON *nd_req_simple(const char *cmd); /* status, devices, stop */
/* side: "left", "right", "both" or NULL (both); window_s <= 0: default. */
cJSON *nd_req_tare(const char *side, double window_s);
cJSON *nd_req_calibrate(const char *side, double mass_kg, double window_s);
typedef struct nd_start_fields {
    const char *athlete_id;
    double body_mass_kg, lever_m; /* <= 0: not sent */
    const char *injured_side;     /* "left", "right", "none" or NULL */
    const char *notes, *protocol; /* NULL: not sent */
} nd_start_fields;
cJSON *nd_req_start(const nd_start_fields *f);
/* pain: 0..10 for kind "pain", else < 0 (not sent). detail may be NULL. */
cJSON *nd_req_mark(const char *kind, const char *detail, int pain);
/* {"cmd":"set","action":"next"}: end the current set of the protocol. */
cJSON *nd_req_set_next(void);
/* {"cmd":"next_day_pain","trial_id":ID,"value":pain[,"detail":detail]} */
cJSON *nd_req_next_day_pain(const char *trial_id, double pain, const char *detail);

/* ---- live (SUB) ---- */
typedef struct nd_live_counts {
    uint64_t received[ND_TOPIC_COUNT];
    uint64_t lost[ND_TOPIC_COUNT]; /* gaps in each topic's "seq" */
} nd_live_counts;

typedef struct nd_live_client nd_live_client;

/* topics: bit (1u << ND_TOPIC_x) per topic wanted; 0 = all. rcvhwm: queue
 * length in messages (0 = 10000). */
nd_live_client *nd_live_client_open(void *zctx, const nd_client_options *opt, unsigned topics,
                                    int rcvhwm, char *err, size_t errlen);
void nd_live_client_close(nd_live_client *l);
/* The SUB socket, for zmq_poll. */
void *nd_live_client_socket(nd_live_client *l);
const char *nd_live_client_endpoint(const nd_live_client *l);
/* Takes one message if one is queued (or waits up to timeout_ms; 0 = do not
 * wait, -1 = forever). Returns its topic (>= 0) with *body the parsed JSON
 * (caller frees) and counts seq gaps; -1 when none arrived in time. Messages
 * of unknown topics or unreadable JSON are skipped. */
int nd_live_client_recv(nd_live_client *l, cJSON **body, int timeout_ms);
/* The same without keeping the parsed JSON: *body is a malloc'd,
 * NUL-terminated copy of the message text (for a relay that forwards it
 * unchanged); seq gaps are still counted. */
int nd_live_client_recv_raw(nd_live_client *l, char **body, size_t *len, int timeout_ms);
const nd_live_counts *nd_live_client_counts(const nd_live_client *l);

/* Largest message either socket accepts; a larger one is dropped by ZeroMQ
 * (a peer that is not nordicd cannot make a client allocate without bound). */
#define ND_CLIENT_MAX_MESSAGE (4 << 20)

#endif
