/* The daemon's ZeroMQ context, CURVE policy and sockets (nd_zmq_endpoints.h). */
#include "nd_zmq_endpoints.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "nd_log.h"

int nd_zmq_open_publisher(nd_zmq_endpoints *z, const nd_config *cfg, char *err, size_t errlen)
{
    z->zctx = zmq_ctx_new();
    if (!z->zctx)
        return snprintf(err, errlen, "cannot create a ZeroMQ context: %s", zmq_strerror(errno)), -1;
    if (cfg->curve_secret_key[0] || cfg->curve_allowed_clients[0]) {
        if (!cfg->curve_secret_key[0] || !cfg->curve_allowed_clients[0]) {
            snprintf(err, errlen, "CURVE needs both curve_secret_key and curve_allowed_clients");
            return -1;
        }
        z->curve = calloc(1, sizeof *z->curve);
        if (!z->curve) return snprintf(err, errlen, "out of memory"), -1;
        if (nd_curve_server_load(z->curve, cfg->curve_secret_key, cfg->curve_allowed_clients, err,
                                 errlen))
            return -1;
        z->zap = nd_zap_start(z->zctx, z->curve, err, errlen);
        if (!z->zap) return -1;
    }
    nd_publisher_options po = {.endpoint = cfg->pub, .curve = z->curve};
    z->publisher = nd_publisher_open(z->zctx, &po, err, errlen);
    return z->publisher ? 0 : -1;
}

/* mkdir -p of the ipc socket's directory (the runtime directory). */
static int ensure_ipc_dir(const char *endpoint, char *err, size_t errlen)
{
    if (strncmp(endpoint, "ipc://", 6) != 0) return 0;
    char dir[ND_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", endpoint + 6);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(dir, 0755);
        *p = '/';
    }
    if (mkdir(dir, 0750) && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the control socket directory %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int nd_zmq_open_control(nd_zmq_endpoints *z, const nd_config *cfg, nd_control_handler handle,
                        void *ctx, char *err, size_t errlen)
{
    if (ensure_ipc_dir(cfg->ctl, err, errlen)) return -1;
    nd_control_options co = {.endpoint = cfg->ctl, .handle = handle, .ctx = ctx, .curve = z->curve};
    z->control = nd_control_start(z->zctx, &co, err, errlen);
    if (!z->control) return -1;
    nd_notice("control on %s, live metrics on %s", cfg->ctl, cfg->pub);
    return 0;
}

void nd_zmq_close_control(nd_zmq_endpoints *z)
{
    if (z->control) nd_control_stop(z->control);
    z->control = NULL;
}

void nd_zmq_close(nd_zmq_endpoints *z)
{
    nd_zmq_close_control(z);
    if (z->publisher) nd_publisher_close(z->publisher);
    z->publisher = NULL;
    if (z->zap) nd_zap_stop(z->zap);
    z->zap = NULL;
    if (z->zctx) zmq_ctx_term(z->zctx);
    z->zctx = NULL;
    if (z->curve) {
        nd_curve_server_free(z->curve);
        free(z->curve);
    }
    z->curve = NULL;
}
