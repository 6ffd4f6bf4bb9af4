/* The control socket's request handler (daemon/wire/ZMQ_PROTOCOL.md, "Control"). */
#ifndef ND_CONTROL_HANDLER_H
#define ND_CONTROL_HANDLER_H

#include "nd_control.h"
#include "nd_daemon.h"

/* An nd_control_handler; ctx is the nd_daemon. */
int nd_control_handle_request(void *ctx, const nd_request *req, cJSON *reply, char *err,
                              size_t errlen);

#endif
