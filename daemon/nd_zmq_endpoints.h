/* The daemon's ZeroMQ side: one context, optional CURVE security (keys and
 * the ZAP allow-list), the live PUB socket and the control REP socket. */
#ifndef ND_ZMQ_ENDPOINTS_H
#define ND_ZMQ_ENDPOINTS_H

#include <stddef.h>

#include "nd_config.h"
#include "nd_control.h"
#include "nd_publisher.h"
#include "nd_zsec.h"

typedef struct nd_zmq_endpoints {
    void *zctx;
    nd_curve_server *curve;
    struct nd_zap *zap;
    nd_publisher *publisher;
    nd_control *control;
} nd_zmq_endpoints;

/* Context, CURVE (when configured) and the PUB socket on cfg->pub. */
int nd_zmq_open_publisher(nd_zmq_endpoints *z, const nd_config *cfg, char *err, size_t errlen);
/* The control socket on cfg->ctl (its ipc directory created), answering
 * with handle(ctx, ...). Opened last, once every thread runs. */
int nd_zmq_open_control(nd_zmq_endpoints *z, const nd_config *cfg, nd_control_handler handle,
                        void *ctx, char *err, size_t errlen);
void nd_zmq_close_control(nd_zmq_endpoints *z);
/* Closes the PUB socket, ZAP and the context (after the control socket). */
void nd_zmq_close(nd_zmq_endpoints *z);

#endif
