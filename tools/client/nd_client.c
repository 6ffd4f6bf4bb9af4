/* nordicd's ZeroMQ client side: control requests and live subscription. */
#include "nd_client.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "nd_zsec.h"

struct nd_ctl_client {
    void *sock;
    double timeout_s;
    char endpoint[512];
};

struct nd_live_client {
    void *sock;
    nd_live_counts counts;
    double last_seq[ND_TOPIC_COUNT];
    bool seen[ND_TOPIC_COUNT];
    char endpoint[512];
};

static int apply_curve(void *sock, const nd_client_options *opt, char *err, size_t errlen)
{
    const char *server = opt ? opt->server_key_file : NULL;
    const char *client = opt ? opt->client_key_file : NULL;
    if (!server && !client) return 0;
    if (!server || !client) {
        snprintf(err, errlen, "CURVE needs both --server-key and --client-key");
        return -1;
    }
    return nd_zsec_apply_client(sock, server, client, err, errlen);
}

nd_ctl_client *nd_ctl_client_open(void *zctx, const nd_client_options *opt, int *status, char *err,
                                  size_t errlen)
{
    int dummy;
    if (!status) status = &dummy;
    *status = ND_CLIENT_USAGE;
    nd_ctl_client *c = calloc(1, sizeof *c);
    if (!c) return snprintf(err, errlen, "out of memory"), NULL;
    if (opt && opt->endpoint && *opt->endpoint)
        snprintf(c->endpoint, sizeof c->endpoint, "%s", opt->endpoint);
    else
        nd_default_control_endpoint(c->endpoint, sizeof c->endpoint);
    c->timeout_s = opt && opt->timeout_s > 0 ? opt->timeout_s : 10;
    if (!strncmp(c->endpoint, "ipc://", 6) && !(opt && opt->wait_for_daemon)) {
        struct stat st;
        if (stat(c->endpoint + 6, &st) != 0) {
            snprintf(err, errlen,
                     "no control socket at %s (is nordicd running? set --ctl or NORDIC_CTL)",
                     c->endpoint + 6);
            *status = ND_CLIENT_NOANSWER;
            free(c);
            return NULL;
        }
    }
    c->sock = zmq_socket(zctx, ZMQ_REQ);
    if (!c->sock) {
        snprintf(err, errlen, "cannot create a socket: %s", zmq_strerror(zmq_errno()));
        free(c);
        return NULL;
    }
    /* RELAXED + CORRELATE: after a timeout the next request may be sent,
     * and a late reply to the abandoned one is dropped by libzmq. */
    int ms = (int)(c->timeout_s * 1000), linger = 0, on = 1;
    zmq_setsockopt(c->sock, ZMQ_RCVTIMEO, &ms, sizeof ms);
    zmq_setsockopt(c->sock, ZMQ_SNDTIMEO, &ms, sizeof ms);
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c->sock, ZMQ_REQ_RELAXED, &on, sizeof on);
    zmq_setsockopt(c->sock, ZMQ_REQ_CORRELATE, &on, sizeof on);
    int64_t maxmsg = ND_CLIENT_MAX_MESSAGE;
    zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (apply_curve(c->sock, opt, err, errlen)) goto fail;
    if (zmq_connect(c->sock, c->endpoint) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", c->endpoint, zmq_strerror(zmq_errno()));
        *status = ND_CLIENT_NOANSWER;
        goto fail;
    }
    *status = 0;
    return c;
fail:
    zmq_close(c->sock);
    free(c);
    return NULL;
}

void nd_ctl_client_close(nd_ctl_client *c)
{
    if (!c) return;
    zmq_close(c->sock);
    free(c);
}

const char *nd_ctl_client_endpoint(const nd_ctl_client *c)
{
    return c->endpoint;
}

int nd_ctl_client_call(nd_ctl_client *c, const char *request, size_t len, cJSON **reply, char **raw,
                       size_t *rawlen, char *err, size_t errlen)
{
    *reply = NULL;
    if (raw) *raw = NULL;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    int rc = ND_CLIENT_NOANSWER;
    if (zmq_send(c->sock, request, len, 0) < 0 || zmq_msg_recv(&msg, c->sock, 0) < 0) {
        snprintf(err, errlen, "no answer from nordicd at %s within %g s", c->endpoint,
                 c->timeout_s);
        goto out;
    }
    cJSON *r = cJSON_ParseWithLength(zmq_msg_data(&msg), zmq_msg_size(&msg));
    if (!r || !cJSON_IsObject(r)) {
        snprintf(err, errlen, "unreadable reply from %s", c->endpoint);
        cJSON_Delete(r);
        goto out;
    }
    if (raw) {
        *raw = malloc(zmq_msg_size(&msg) + 1);
        if (*raw) {
            memcpy(*raw, zmq_msg_data(&msg), zmq_msg_size(&msg));
            (*raw)[zmq_msg_size(&msg)] = '\0';
            if (rawlen) *rawlen = zmq_msg_size(&msg);
        }
    }
    *reply = r;
    rc = 0;
out:
    zmq_msg_close(&msg);
    return rc;
}

int nd_ctl_client_call_json(nd_ctl_client *c, const cJSON *request, cJSON **reply, char *err,
                            size_t errlen)
{
    char *text = cJSON_PrintUnformatted(request);
    if (!text) {
        *reply = NULL;
        snprintf(err, errlen, "out of memory");
        return ND_CLIENT_NOANSWER;
    }
    int rc = nd_ctl_client_call(c, text, strlen(text), reply, NULL, NULL, err, errlen);
    free(text);
    return rc;
}

int nd_ctl_client_send(nd_ctl_client *c, const char *request, size_t len)
{
    return zmq_send(c->sock, request, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

void *nd_ctl_client_socket(nd_ctl_client *c)
{
    return c->sock;
}

int nd_ctl_client_recv(nd_ctl_client *c, char **raw, size_t *rawlen)
{
    *raw = NULL;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    int rc = -1;
    if (zmq_msg_recv(&msg, c->sock, ZMQ_DONTWAIT) >= 0) {
        size_t n = zmq_msg_size(&msg);
        *raw = malloc(n + 1);
        if (*raw) {
            memcpy(*raw, zmq_msg_data(&msg), n);
            (*raw)[n] = '\0';
            if (rawlen) *rawlen = n;
            rc = 0;
        }
    }
    zmq_msg_close(&msg);
    return rc;
}

bool nd_reply_ok(const cJSON *reply)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"));
}

const char *nd_reply_error(const cJSON *reply)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");
    return cJSON_IsString(e) ? e->valuestring : "(no reason)";
}

cJSON *nd_req_simple(const char *cmd)
{
    cJSON *r = cJSON_CreateObject();
    if (r && !cJSON_AddStringToObject(r, "cmd", cmd)) cJSON_Delete(r), r = NULL;
    return r;
}

cJSON *nd_req_tare(const char *side, double window_s)
{
    cJSON *r = nd_req_simple("tare");
    if (r && side) cJSON_AddStringToObject(r, "side", side);
    if (r && window_s > 0) cJSON_AddNumberToObject(r, "window_s", window_s);
    return r;
}

cJSON *nd_req_calibrate(const char *side, double mass_kg, double window_s)
{
    cJSON *r = nd_req_simple("calibrate");
    if (!r) return NULL;
    cJSON_AddStringToObject(r, "side", side ? side : "");
    cJSON_AddNumberToObject(r, "mass_kg", mass_kg);
    if (window_s > 0) cJSON_AddNumberToObject(r, "window_s", window_s);
    return r;
}

cJSON *nd_req_start(const nd_start_fields *f)
{
    cJSON *r = nd_req_simple("start");
    if (!r) return NULL;
    cJSON_AddStringToObject(r, "athlete_id", f->athlete_id ? f->athlete_id : "");
    if (f->body_mass_kg > 0) cJSON_AddNumberToObject(r, "body_mass_kg", f->body_mass_kg);
    if (f->lever_m > 0) cJSON_AddNumberToObject(r, "lever_m", f->lever_m);
    if (f->injured_side) cJSON_AddStringToObject(r, "injured_side", f->injured_side);
    if (f->notes) cJSON_AddStringToObject(r, "notes", f->notes);
    if (f->protocol) cJSON_AddStringToObject(r, "protocol", f->protocol);
    return r;
}

cJSON *nd_req_mark(const char *kind, const char *detail, int pain)
{
    cJSON *r = nd_req_simple("mark");
    if (!r) return NULL;
    cJSON_AddStringToObject(r, "kind", kind);
    if (detail) cJSON_AddStringToObject(r, "detail", detail);
    if (pain >= 0) cJSON_AddNumberToObject(r, "value", pain);
    return r;
}

cJSON *nd_req_set_next(void)
{
    cJSON *r = nd_req_simple("set");
    if (r) cJSON_AddStringToObject(r, "action", "next");
    return r;
}

cJSON *nd_req_next_day_pain(const char *trial_id, double pain, const char *detail)
{
    cJSON *r = nd_req_simple("next_day_pain");
    if (!r) return NULL;
    cJSON_AddStringToObject(r, "trial_id", trial_id);
    cJSON_AddNumberToObject(r, "value", pain);
    if (detail) cJSON_AddStringToObject(r, "detail", detail);
    return r;
}

nd_live_client *nd_live_client_open(void *zctx, const nd_client_options *opt, unsigned topics,
                                    int rcvhwm, char *err, size_t errlen)
{
    nd_live_client *l = calloc(1, sizeof *l);
    if (!l) return snprintf(err, errlen, "out of memory"), NULL;
    snprintf(l->endpoint, sizeof l->endpoint, "%s",
             opt && opt->endpoint && *opt->endpoint ? opt->endpoint : ND_DEFAULT_PUB_ENDPOINT);
    l->sock = zmq_socket(zctx, ZMQ_SUB);
    if (!l->sock) {
        snprintf(err, errlen, "cannot create a socket: %s", zmq_strerror(zmq_errno()));
        free(l);
        return NULL;
    }
    int linger = 0, hwm = rcvhwm > 0 ? rcvhwm : 10000;
    zmq_setsockopt(l->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(l->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    int64_t maxmsg = ND_CLIENT_MAX_MESSAGE;
    zmq_setsockopt(l->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (apply_curve(l->sock, opt, err, errlen)) goto fail;
    for (int t = 0; t < ND_TOPIC_COUNT; t++) {
        if (topics && !(topics & (1u << t))) continue;
        const char *name = nd_topic_name((nd_topic)t);
        zmq_setsockopt(l->sock, ZMQ_SUBSCRIBE, name, strlen(name));
    }
    if (zmq_connect(l->sock, l->endpoint) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", l->endpoint, zmq_strerror(zmq_errno()));
        goto fail;
    }
    return l;
fail:
    zmq_close(l->sock);
    free(l);
    return NULL;
}

void nd_live_client_close(nd_live_client *l)
{
    if (!l) return;
    zmq_close(l->sock);
    free(l);
}

void *nd_live_client_socket(nd_live_client *l)
{
    return l->sock;
}

const char *nd_live_client_endpoint(const nd_live_client *l)
{
    return l->endpoint;
}

const nd_live_counts *nd_live_client_counts(const nd_live_client *l)
{
    return &l->counts;
}

static void count_seq(nd_live_client *l, int t, const cJSON *body)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(body, "seq");
    if (!cJSON_IsNumber(s) || !isfinite(s->valuedouble)) return;
    double seq = s->valuedouble;
    if (l->seen[t] && seq > l->last_seq[t] + 1)
        l->counts.lost[t] += (uint64_t)(seq - l->last_seq[t] - 1);
    l->last_seq[t] = seq;
    l->seen[t] = true;
}

/* One message of a known topic with readable JSON: its topic, parsed body
 * and (optionally) a copy of its text; -1 when none arrived in time. */
static int recv_one(nd_live_client *l, cJSON **json, char **raw, size_t *rawlen, int timeout_ms)
{
    for (;;) {
        if (timeout_ms != 0) {
            zmq_pollitem_t it = {l->sock, 0, ZMQ_POLLIN, 0};
            if (zmq_poll(&it, 1, timeout_ms) <= 0) return -1;
        }
        zmq_msg_t topic, msg;
        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, l->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            return -1;
        }
        zmq_msg_init(&msg);
        int t = -1;
        if (zmq_msg_more(&topic) && zmq_msg_recv(&msg, l->sock, 0) >= 0 && !zmq_msg_more(&msg))
            t = nd_topic_from_name(zmq_msg_data(&topic), zmq_msg_size(&topic));
        cJSON *j = t >= 0 ? cJSON_ParseWithLength(zmq_msg_data(&msg), zmq_msg_size(&msg)) : NULL;
        if (j && raw) {
            size_t n = zmq_msg_size(&msg);
            *raw = malloc(n + 1);
            if (*raw) {
                memcpy(*raw, zmq_msg_data(&msg), n);
                (*raw)[n] = '\0';
                if (rawlen) *rawlen = n;
            } else {
                cJSON_Delete(j);
                j = NULL;
            }
        }
        zmq_msg_close(&topic);
        zmq_msg_close(&msg);
        if (j) {
            count_seq(l, t, j);
            l->counts.received[t]++;
            *json = j;
            return t;
        }
        /* Unknown topic, a third frame, or unreadable body: skip it. */
        timeout_ms = 0;
    }
}

int nd_live_client_recv(nd_live_client *l, cJSON **body, int timeout_ms)
{
    *body = NULL;
    return recv_one(l, body, NULL, NULL, timeout_ms);
}

int nd_live_client_recv_raw(nd_live_client *l, char **body, size_t *len, int timeout_ms)
{
    *body = NULL;
    cJSON *j = NULL;
    int t = recv_one(l, &j, body, len, timeout_ms);
    cJSON_Delete(j);
    return t;
}
