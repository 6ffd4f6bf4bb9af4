/* Names and defaults every ZeroMQ party agrees on (daemon/wire/ZMQ_PROTOCOL.md):
 * the live topics and the default endpoints. Defined once, here: the
 * daemon's publisher, its config defaults and every client use these. */
#ifndef ND_ENDPOINTS_H
#define ND_ENDPOINTS_H

#include <stddef.h>

typedef enum nd_topic {
    ND_TOPIC_STATUS,
    ND_TOPIC_LIVE,
    ND_TOPIC_REP,
    ND_TOPIC_TRIAL,
    ND_TOPIC_WAVE,
    ND_TOPIC_SET,
    ND_TOPIC_COUNT
} nd_topic;

/* "status", "live", ...; "?" for an unknown value. */
const char *nd_topic_name(nd_topic t);
/* The topic whose name is exactly the first len bytes of name; -1 if none. */
int nd_topic_from_name(const char *name, size_t len);

/* Live publisher default: loopback TCP, so a subscriber needs no path. */
#define ND_DEFAULT_PUB_ENDPOINT "tcp://127.0.0.1:5556"

/* The daemon's runtime directory when none is configured: $RUNTIME_DIRECTORY
 * (systemd), /run/nordicd for root, $XDG_RUNTIME_DIR/nordicd, else
 * /tmp/nordicd-UID. Writes it into out (truncated to outlen). */
void nd_default_runtime_dir(char *out, size_t outlen);
/* The default control endpoint: ipc://<runtime dir>/control. */
void nd_default_control_endpoint(char *out, size_t outlen);

#endif
