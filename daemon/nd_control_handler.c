/* Control requests (nd_request.h) turned into daemon commands (nd_daemon.h):
 * the handler the control socket calls for each request. Uses only the
 * daemon's public API. */
#include "nd_control_handler.h"

#include <stdio.h>
#include <string.h>

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
    nd_metric_settings s;
    double live_hz;
    int decimation;
    nd_daemon_get_options(d, &s, &live_hz, &decimation);
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
        nd_metric_settings s;
        nd_daemon_get_options(d, &s, NULL, NULL);
        nd_config_request_apply(r, &s);
        if (nd_daemon_set_metric_settings(d, &s, err, errlen)) return -1;
    }
    if (r->has[ND_CFG_LIVE_HZ] || r->has[ND_CFG_WAVE_DECIMATION]) {
        double live_hz;
        int decimation;
        nd_daemon_get_options(d, NULL, &live_hz, &decimation);
        if (r->has[ND_CFG_LIVE_HZ]) live_hz = r->value[ND_CFG_LIVE_HZ];
        if (r->has[ND_CFG_WAVE_DECIMATION]) decimation = (int)r->value[ND_CFG_WAVE_DECIMATION];
        nd_daemon_set_live_options(d, live_hz, decimation);
    }
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
    req.plan = r->plan;
    req.plan.rules = nd_daemon_config(d)->progression; /* stored with the trial */
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

int nd_control_handle_request(void *ctx, const nd_request *req, cJSON *reply, char *err,
                              size_t errlen)
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
    case ND_CMD_SET: {
        const nd_set_next_options o = {req->set.switch_leg, req->set.leg, req->set.set_angle,
                                       req->set.angle_deg};
        return nd_daemon_set_next(d, &o, err, errlen);
    }
    case ND_CMD_NEXT_DAY_PAIN: {
        nd_suggestion_reply s;
        if (nd_daemon_next_day_pain(d, req->next_day.trial_id, req->next_day.pain,
                                    req->next_day.detail, &s, err, errlen))
            return -1;
        cJSON *o = cJSON_AddObjectToObject(reply, "suggestion");
        cJSON_AddStringToObject(o, "rule", s.rule);
        cJSON_AddStringToObject(o, "protocol", s.protocol);
        cJSON_AddStringToObject(o, "text", s.text);
        return 0;
    }
    case ND_CMD_COUNT:
        break;
    }
    snprintf(err, errlen, "unsupported command");
    return -1;
}
