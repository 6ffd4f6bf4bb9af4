/* ZeroMQ side of the daemon: the context, optional CURVE security, the live
 * PUB socket and the control REP socket, and the handler that turns control
 * requests (nd_control.h) into daemon commands (nd_daemon.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "nd_control.h"
#include "nd_daemon_internal.h"
#include "nd_log.h"
#include "nd_publisher.h"
#include "nd_zsec.h"

int nd_publisher_prepare(nd_daemon *d, char *err, size_t errlen)
{
    d->zctx = zmq_ctx_new();
    if (!d->zctx)
        return snprintf(err, errlen, "cannot create a ZeroMQ context: %s", zmq_strerror(errno)), -1;
    if (d->cfg.curve_secret_key[0] || d->cfg.curve_allowed_clients[0]) {
        if (!d->cfg.curve_secret_key[0] || !d->cfg.curve_allowed_clients[0]) {
            snprintf(err, errlen, "CURVE needs both curve_secret_key and curve_allowed_clients");
            return -1;
        }
        d->curve = calloc(1, sizeof *d->curve);
        if (!d->curve) return snprintf(err, errlen, "out of memory"), -1;
        if (nd_curve_server_load(d->curve, d->cfg.curve_secret_key, d->cfg.curve_allowed_clients,
                                 err, errlen))
            return -1;
        d->zap = nd_zap_start(d->zctx, d->curve, err, errlen);
        if (!d->zap) return -1;
    }
    nd_publisher_options po = {.endpoint = d->cfg.pub, .curve = d->curve};
    d->publisher = nd_publisher_open(d->zctx, &po, err, errlen);
    return d->publisher ? 0 : -1;
}

void nd_publisher_release(nd_daemon *d)
{
    nd_control_release(d);
    if (d->publisher) nd_publisher_close(d->publisher);
    d->publisher = NULL;
    if (d->zap) nd_zap_stop(d->zap);
    d->zap = NULL;
    if (d->zctx) zmq_ctx_term(d->zctx);
    d->zctx = NULL;
    if (d->curve) {
        nd_curve_server_free(d->curve);
        free(d->curve);
    }
    d->curve = NULL;
}

/* --- control requests -> daemon commands --- */

static int handle_status(nd_daemon *d, cJSON *reply)
{
    nd_status_snapshot st;
    nd_daemon_status(d, &st);
    cJSON *body = nd_json_status(&st);
    cJSON_AddItemToObject(reply, "status", body);
    return 0;
}

static int handle_devices(nd_daemon *d, cJSON *reply)
{
    cJSON *drivers = cJSON_AddArrayToObject(reply, "drivers");
    for (size_t i = 0; nd_drivers[i]; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "scheme", nd_drivers[i]->scheme);
        cJSON_AddStringToObject(o, "description",
                                nd_drivers[i]->description ? nd_drivers[i]->description : "");
        cJSON_AddItemToArray(drivers, o);
    }
    nd_status_snapshot st;
    nd_daemon_status(d, &st);
    cJSON *cur = cJSON_AddObjectToObject(reply, "current");
    cJSON_AddStringToObject(cur, "uri", st.device_uri);
    cJSON_AddBoolToObject(cur, "connected", st.device_connected);
    if (st.have_device_info) cJSON_AddItemToObject(cur, "info", nd_json_device_info(&st.device));
    return 0;
}

static void add_config(nd_daemon *d, cJSON *reply)
{
    pthread_mutex_lock(&d->lock);
    nd_metric_settings s = d->settings;
    double live_hz = d->cfg.live_hz;
    int decimation = d->cfg.wave_decimation;
    pthread_mutex_unlock(&d->lock);
    cJSON *cfg = nd_json_settings(&s);
    cJSON_AddNumberToObject(cfg, "live_hz", live_hz);
    cJSON_AddNumberToObject(cfg, "wave_decimation", decimation);
    cJSON_AddItemToObject(reply, "config", cfg);
}

static int handle_config(nd_daemon *d, const nd_config_request *r, cJSON *reply, char *err,
                         size_t errlen)
{
    /* Metric settings wait for the trial to end (they are fixed per trial);
     * the live keys apply at any time; no keys only reads. */
    bool metric_keys = false;
    for (int k = 0; k < ND_CFG_LIVE_HZ; k++) metric_keys |= r->has[k];
    if (metric_keys) {
        pthread_mutex_lock(&d->lock);
        nd_metric_settings s = d->settings;
        pthread_mutex_unlock(&d->lock);
        nd_config_request_apply(r, &s);
        if (nd_daemon_set_metric_settings(d, &s, err, errlen)) return -1;
    }
    pthread_mutex_lock(&d->lock);
    if (r->has[ND_CFG_LIVE_HZ]) d->cfg.live_hz = r->value[ND_CFG_LIVE_HZ];
    if (r->has[ND_CFG_WAVE_DECIMATION])
        d->cfg.wave_decimation = (int)r->value[ND_CFG_WAVE_DECIMATION];
    pthread_mutex_unlock(&d->lock);
    add_config(d, reply);
    return 0;
}

static int handle_start(nd_daemon *d, const nd_start_request *r, cJSON *reply, char *err,
                        size_t errlen)
{
    nd_trial_request req = {0};
    snprintf(req.athlete_id, sizeof req.athlete_id, "%s", r->athlete_id);
    req.subject = r->subject;
    snprintf(req.notes, sizeof req.notes, "%s", r->notes);
    snprintf(req.protocol, sizeof req.protocol, "%s", r->protocol);
    nd_trial_slot slot;
    if (nd_daemon_start_trial(d, &req, &slot, err, errlen)) return -1;
    cJSON_AddStringToObject(reply, "trial_id", slot.trial_id);
    cJSON_AddStringToObject(reply, "file", slot.path);
    cJSON_AddStringToObject(reply, "created_utc", slot.created_utc);
    return 0;
}

static int handle_stop(nd_daemon *d, cJSON *reply, char *err, size_t errlen)
{
    /* Only filled in once a trial was stopped: a refusal leaves it empty. */
    nd_trial_slot slot = {0};
    nd_trial_summary summary;
    char stop_err[256] = "";
    int rc = nd_daemon_stop_trial(d, &slot, &summary, stop_err, sizeof stop_err);
    if (rc && !slot.trial_id[0]) {
        snprintf(err, errlen, "%s", stop_err);
        return -1;
    }
    if (rc) {
        /* Stopped, but the file had trouble: a refusal that still says what happened. */
        snprintf(err, errlen, "trial %s stopped, but its file is incomplete: %s", slot.trial_id,
                 stop_err);
        return -1;
    }
    cJSON_AddStringToObject(reply, "trial_id", slot.trial_id);
    cJSON_AddStringToObject(reply, "file", slot.path);
    cJSON_AddItemToObject(reply, "summary", nd_json_summary(&summary));
    return 0;
}

static int handle_request(void *ctx, const nd_request *req, cJSON *reply, char *err, size_t errlen)
{
    nd_daemon *d = ctx;
    char detail[256] = "";
    switch (req->cmd) {
    case ND_CMD_STATUS:
        return handle_status(d, reply);
    case ND_CMD_DEVICES:
        return handle_devices(d, reply);
    case ND_CMD_TARE:
        if (nd_daemon_tare(d, req->tare.left, req->tare.right, req->tare.window_s, req->tare.force,
                           detail, sizeof detail, err, errlen))
            return -1;
        cJSON_AddStringToObject(reply, "detail", detail);
        return 0;
    case ND_CMD_CALIBRATE:
        if (nd_daemon_calibrate(d, req->calibrate.side, req->calibrate.mass_kg,
                                req->calibrate.window_s, detail, sizeof detail, err, errlen))
            return -1;
        cJSON_AddStringToObject(reply, "detail", detail);
        return 0;
    case ND_CMD_START:
        return handle_start(d, &req->start, reply, err, errlen);
    case ND_CMD_STOP:
        return handle_stop(d, reply, err, errlen);
    case ND_CMD_MARK:
        return nd_daemon_mark(d, req->mark.kind, req->mark.detail, req->mark.pain, err, errlen);
    case ND_CMD_CONFIG:
        return handle_config(d, &req->config, reply, err, errlen);
    case ND_CMD_COUNT:
        break;
    }
    snprintf(err, errlen, "unsupported command");
    return -1;
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

int nd_control_prepare(nd_daemon *d, char *err, size_t errlen)
{
    if (ensure_ipc_dir(d->cfg.ctl, err, errlen)) return -1;
    nd_control_options co = {
        .endpoint = d->cfg.ctl, .handle = handle_request, .ctx = d, .curve = d->curve};
    d->control = nd_control_start(d->zctx, &co, err, errlen);
    if (!d->control) return -1;
    nd_notice("control on %s, live metrics on %s", d->cfg.ctl, d->cfg.pub);
    return 0;
}

void nd_control_release(nd_daemon *d)
{
    if (d->control) nd_control_stop(d->control);
    d->control = NULL;
}
