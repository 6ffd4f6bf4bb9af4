/* Live publisher: XPUB (so it sees subscriptions), never blocking. */
#include "nd_publisher.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "nd_log.h"

struct nd_publisher {
    void *sock;
    uint64_t start_ns;
    nd_publisher_stats stats;
    /* Last status, re-sent to each new status subscriber. */
    bool have_status;
    nd_status_snapshot last_status;
    char last_status_trial[ND_TRIAL_ID_MAX + 1];
    double last_status_t;
    /* The prefixes subscribed now (XPUB reports each subscription, and an
     * unsubscription once the last subscriber of a prefix left or went
     * away), so that topics nobody wants cost nothing. */
    char subs[ND_PUB_MAX_PREFIXES][ND_PUB_PREFIX_MAX + 1];
    size_t sub_len[ND_PUB_MAX_PREFIXES];
    int nsubs;
    bool subs_overflow; /* more distinct prefixes than tracked: assume all wanted */
};

nd_publisher *nd_publisher_open(void *zctx, const nd_publisher_options *opt, char *err,
                                size_t errlen)
{
    const char *ep =
        opt && opt->endpoint && opt->endpoint[0] ? opt->endpoint : ND_DEFAULT_PUB_ENDPOINT;
    if (!zctx) return snprintf(err, errlen, "publisher: no ZeroMQ context"), NULL;
    if (nd_zsec_check_bind(ep, opt ? opt->curve : NULL, err, errlen)) return NULL;
    nd_publisher *p = calloc(1, sizeof *p);
    if (!p) return snprintf(err, errlen, "out of memory"), NULL;
    p->start_ns = nd_monotonic_ns();
    p->sock = zmq_socket(zctx, ZMQ_XPUB);
    if (!p->sock) {
        snprintf(err, errlen, "publisher: cannot create socket: %s", zmq_strerror(zmq_errno()));
        free(p);
        return NULL;
    }
    int hwm = opt && opt->sndhwm > 0 ? opt->sndhwm : 1000;
    int linger = 0, verbose = 1, nodrop = 0;
    zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(p->sock, ZMQ_XPUB_VERBOSE, &verbose, sizeof verbose);
    zmq_setsockopt(p->sock, ZMQ_XPUB_NODROP, &nodrop, sizeof nodrop);
    if (nd_zsec_apply_server(p->sock, opt ? opt->curve : NULL, err, errlen)) goto fail;
    if (zmq_bind(p->sock, ep) != 0) {
        snprintf(err, errlen, "publisher: cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
        goto fail;
    }
    char bound[256];
    size_t blen = sizeof bound;
    if (zmq_getsockopt(p->sock, ZMQ_LAST_ENDPOINT, bound, &blen))
        snprintf(bound, sizeof bound, "%s", ep);
    nd_info("live: publishing on %s", bound);
    return p;
fail:
    zmq_close(p->sock);
    free(p);
    return NULL;
}

void nd_publisher_close(nd_publisher *p)
{
    if (!p) return;
    zmq_close(p->sock);
    free(p);
}

void *nd_publisher_socket(nd_publisher *p)
{
    return p->sock;
}

static int send_body(nd_publisher *p, nd_topic topic, const char *trial_id, double t_s, cJSON *body)
{
    uint64_t seq = p->stats.seq[topic]++;
    int rc = -1;
    cJSON *msg = cJSON_CreateObject();
    if (!msg || !body) goto done;
    cJSON_AddNumberToObject(msg, "v", ND_MSG_VERSION);
    cJSON_AddNumberToObject(msg, "seq", (double)seq);
    bool in_trial = trial_id && trial_id[0];
    if (in_trial) {
        nd_json_add_number(msg, "t", t_s);
        cJSON_AddStringToObject(msg, "trial_id", trial_id);
    } else {
        cJSON_AddNullToObject(msg, "t");
    }
    cJSON_AddNumberToObject(msg, "uptime_s", (double)(nd_monotonic_ns() - p->start_ns) * 1e-9);
    /* Body fields follow the header; the header wins on a name clash. */
    for (cJSON *it = body->child; it;) {
        cJSON *next = it->next;
        cJSON *item = cJSON_DetachItemViaPointer(body, it);
        if (cJSON_GetObjectItemCaseSensitive(msg, item->string))
            cJSON_Delete(item);
        else
            cJSON_AddItemToObject(msg, item->string, item);
        it = next;
    }
    char *text = cJSON_PrintUnformatted(msg);
    if (!text) goto done;
    const char *name = nd_topic_name(topic);
    if (zmq_send(p->sock, name, strlen(name), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
        zmq_send(p->sock, text, strlen(text), ZMQ_DONTWAIT) >= 0)
        rc = 0;
    free(text);
done:
    cJSON_Delete(msg);
    cJSON_Delete(body);
    if (rc == 0)
        p->stats.sent[topic]++;
    else
        p->stats.dropped[topic]++;
    return rc;
}

static cJSON *status_body(nd_publisher *p, const nd_status_snapshot *s)
{
    nd_status_snapshot now = *s; /* the publisher's own count is the freshest */
    now.live_dropped_msgs = nd_publisher_drops(p);
    return nd_json_status(&now);
}

static int find_prefix(const nd_publisher *p, const char *prefix, size_t len)
{
    for (int i = 0; i < p->nsubs; i++)
        if (p->sub_len[i] == len && !memcmp(p->subs[i], prefix, len)) return i;
    return -1;
}

/* A (un)subscription: only prefixes no longer than a topic name can match. */
static void track_subscription(nd_publisher *p, bool subscribe, const char *prefix, size_t len)
{
    if (len > ND_PUB_PREFIX_MAX) return;
    int i = find_prefix(p, prefix, len);
    if (subscribe && i < 0) {
        if (p->nsubs == ND_PUB_MAX_PREFIXES) {
            p->subs_overflow = true;
            return;
        }
        memcpy(p->subs[p->nsubs], prefix, len);
        p->sub_len[p->nsubs++] = len;
    } else if (!subscribe && i >= 0) {
        p->nsubs--;
        memcpy(p->subs[i], p->subs[p->nsubs], p->sub_len[p->nsubs]);
        p->sub_len[i] = p->sub_len[p->nsubs];
    }
}

bool nd_publisher_wanted(const nd_publisher *p, nd_topic topic)
{
    if (p->subs_overflow) return true;
    const char *name = nd_topic_name(topic);
    size_t n = strlen(name);
    for (int i = 0; i < p->nsubs; i++)
        if (p->sub_len[i] <= n && !memcmp(p->subs[i], name, p->sub_len[i])) return true;
    return false;
}

bool nd_publisher_has_subscribers(const nd_publisher *p)
{
    return p->subs_overflow || p->nsubs > 0;
}

void nd_publisher_service(nd_publisher *p)
{
    char buf[64];
    bool resend = false;
    for (;;) {
        int n = zmq_recv(p->sock, buf, sizeof buf, ZMQ_DONTWAIT);
        if (n < 0) break;
        if (n < 1 || (buf[0] != 0 && buf[0] != 1)) continue;
        size_t len = (size_t)n - 1 > sizeof buf - 1 ? sizeof buf - 1 : (size_t)n - 1;
        track_subscription(p, buf[0] == 1, buf + 1, len);
        if (buf[0] == 1) {
            p->stats.subscriptions++;
            /* Prefix match, as ZeroMQ does: "" and "s".."status" get status. */
            if (len <= 6 && !memcmp(buf + 1, "status", len)) resend = true;
        }
    }
    if (resend && p->have_status)
        send_body(p, ND_TOPIC_STATUS, p->last_status_trial, p->last_status_t,
                  status_body(p, &p->last_status));
}

int nd_publish_json(nd_publisher *p, nd_topic topic, const char *trial_id, double t_s, cJSON *body)
{
    if ((unsigned)topic >= ND_TOPIC_COUNT) {
        cJSON_Delete(body);
        return -1;
    }
    nd_publisher_service(p);
    return send_body(p, topic, trial_id, t_s, body);
}

int nd_publish_status(nd_publisher *p, const char *trial_id, double t_s,
                      const nd_status_snapshot *s)
{
    p->last_status = *s;
    snprintf(p->last_status_trial, sizeof p->last_status_trial, "%s", trial_id ? trial_id : "");
    p->last_status_t = t_s;
    p->have_status = true;
    nd_publisher_service(p);
    return send_body(p, ND_TOPIC_STATUS, trial_id, t_s, status_body(p, s));
}

int nd_publish_live(nd_publisher *p, const char *trial_id, double t_s, const nd_live_msg *m)
{
    return nd_publish_json(p, ND_TOPIC_LIVE, trial_id, t_s, nd_json_live(m));
}

int nd_publish_rep(nd_publisher *p, const char *trial_id, double t_s, const nd_rep_result *r)
{
    return nd_publish_json(p, ND_TOPIC_REP, trial_id, t_s, nd_json_rep(r));
}

int nd_publish_trial_start(nd_publisher *p, double t_s, const nd_trial_msg *t)
{
    return nd_publish_json(p, ND_TOPIC_TRIAL, t->trial_id, t_s, nd_json_trial_start(t));
}

int nd_publish_trial_stop(nd_publisher *p, double t_s, const nd_trial_msg *t,
                          const nd_trial_summary *summary)
{
    return nd_publish_json(p, ND_TOPIC_TRIAL, t->trial_id, t_s, nd_json_trial_stop(t, summary));
}

int nd_publish_wave(nd_publisher *p, const char *trial_id, double t_s, const nd_wave_block *b)
{
    return nd_publish_json(p, ND_TOPIC_WAVE, trial_id, t_s, nd_json_wave(b));
}

void nd_publisher_get_stats(const nd_publisher *p, nd_publisher_stats *out)
{
    *out = p->stats;
}

uint64_t nd_publisher_drops(const nd_publisher *p)
{
    uint64_t sum = 0;
    for (int i = 0; i < ND_TOPIC_COUNT; i++) sum += p->stats.dropped[i];
    return sum;
}
