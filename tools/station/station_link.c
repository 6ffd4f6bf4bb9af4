/* One daemon's link (station_link.h): a thread that relays the live topics
 * to the pages and forwards the pages' commands one at a time, through the
 * project's client library. */
#include "station_link.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "nd_client.h"

#define QUEUE_MAX        32
#define REPLY_TIMEOUT_MS 10000 /* `stop` waits for the trial file to close */

typedef struct pending {
    uint64_t client;
    long id;
    char *json;
} pending;

struct station_link {
    int daemon;
    char ctl[256], pub[256];
    station_link_callbacks cb;
    void *zctx;
    nd_ctl_client *ctl_client;
    nd_live_client *live;
    int wake_fd;
    pthread_t thread;
    pthread_mutex_t lock;
    pending queue[QUEUE_MAX];
    int qhead, qlen;
    bool stop;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* what + the control endpoint; endpoints hold no quote or backslash (checked
 * at start-up), so the text is valid inside a JSON string. */
static void reply_error(station_link *l, const pending *p, const char *what, const char *suffix)
{
    char json[640];
    int n =
        snprintf(json, sizeof json, "{\"ok\":false,\"error\":\"%s %s%s\"}", what, l->ctl, suffix);
    l->cb.on_reply(l->cb.user, l->daemon, p->client, p->id, json, (size_t)n);
}

static bool take_pending(station_link *l, pending *out)
{
    pthread_mutex_lock(&l->lock);
    bool have = l->qlen > 0;
    if (have) {
        *out = l->queue[l->qhead];
        l->qhead = (l->qhead + 1) % QUEUE_MAX;
        l->qlen--;
    }
    pthread_mutex_unlock(&l->lock);
    return have;
}

/* Relays what is queued (a bounded burst, so commands are not starved). */
static void forward_live(station_link *l)
{
    for (int burst = 0; burst < 256; burst++) {
        char *body;
        size_t len;
        int topic = nd_live_client_recv_raw(l->live, &body, &len, 0);
        if (topic < 0) return;
        l->cb.on_message(l->cb.user, l->daemon, nd_topic_name((nd_topic)topic), body, len);
        free(body);
    }
}

static void *link_main(void *arg)
{
    station_link *l = arg;
    pending cur = {0};
    bool waiting = false;
    uint64_t deadline = 0;

    for (;;) {
        pthread_mutex_lock(&l->lock);
        bool stop = l->stop;
        pthread_mutex_unlock(&l->lock);
        if (stop) break;
        if (!waiting && take_pending(l, &cur)) {
            if (nd_ctl_client_send(l->ctl_client, cur.json, strlen(cur.json)) != 0) {
                reply_error(l, &cur, "cannot send to nordicd at", "");
                free(cur.json);
            } else {
                waiting = true;
                deadline = now_ms() + REPLY_TIMEOUT_MS;
            }
        }
        zmq_pollitem_t items[3] = {{nd_live_client_socket(l->live), 0, ZMQ_POLLIN, 0},
                                   {NULL, l->wake_fd, ZMQ_POLLIN, 0},
                                   {nd_ctl_client_socket(l->ctl_client), 0, ZMQ_POLLIN, 0}};
        int nitems = waiting ? 3 : 2;
        long timeout = 200;
        if (waiting) {
            uint64_t now = now_ms();
            timeout = deadline > now ? (long)(deadline - now) : 0;
            if (timeout > 200) timeout = 200;
        }
        if (zmq_poll(items, nitems, timeout) < 0 && errno != EINTR) break;
        if (items[1].revents & ZMQ_POLLIN) {
            uint64_t v;
            if (read(l->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN) break;
        }
        if (items[0].revents & ZMQ_POLLIN) forward_live(l);
        if (waiting && (items[2].revents & ZMQ_POLLIN)) {
            char *raw;
            size_t len;
            if (nd_ctl_client_recv(l->ctl_client, &raw, &len) == 0) {
                l->cb.on_reply(l->cb.user, l->daemon, cur.client, cur.id, raw, len);
                free(raw);
            } else {
                reply_error(l, &cur, "malformed reply from nordicd at", "");
            }
            free(cur.json);
            waiting = false;
        } else if (waiting && now_ms() >= deadline) {
            /* The client library discards the late reply, if any comes. */
            reply_error(l, &cur, "no answer from nordicd at", " within 10 s");
            free(cur.json);
            waiting = false;
        }
    }
    if (waiting) free(cur.json);
    pending p;
    while (take_pending(l, &p)) free(p.json);
    return NULL;
}

station_link *station_link_start(int daemon, const char *ctl, const char *pub,
                                 const char *server_key, const char *client_key,
                                 const station_link_callbacks *cb, char *err, size_t errlen)
{
    station_link *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->daemon = daemon;
    snprintf(l->ctl, sizeof l->ctl, "%s", ctl);
    snprintf(l->pub, sizeof l->pub, "%s", pub);
    l->cb = *cb;
    pthread_mutex_init(&l->lock, NULL);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->zctx = zmq_ctx_new();
    nd_client_options opt = {.endpoint = pub,
                             .server_key_file = server_key,
                             .client_key_file = client_key,
                             .timeout_s = REPLY_TIMEOUT_MS / 1000.0,
                             .wait_for_daemon = true};
    char why[600] = "";
    /* A typo in an endpoint or a bad key stops start-up; a daemon that is not
     * up yet is fine (ZeroMQ connects when it comes). */
    if (l->zctx && l->wake_fd >= 0)
        l->live = nd_live_client_open(l->zctx, &opt, 0, 0, why, sizeof why);
    if (l->live) {
        opt.endpoint = ctl;
        l->ctl_client = nd_ctl_client_open(l->zctx, &opt, NULL, why, sizeof why);
    }
    if (!l->live || !l->ctl_client || pthread_create(&l->thread, NULL, link_main, l) != 0) {
        snprintf(err, errlen, "cannot use endpoints %s / %s: %s", ctl, pub,
                 why[0] ? why : "cannot start the link thread");
        nd_ctl_client_close(l->ctl_client);
        nd_live_client_close(l->live);
        if (l->wake_fd >= 0) close(l->wake_fd);
        if (l->zctx) zmq_ctx_term(l->zctx);
        pthread_mutex_destroy(&l->lock);
        free(l);
        return NULL;
    }
    return l;
}

int station_link_submit(station_link *l, uint64_t client, long id, const char *json)
{
    char *copy = strdup(json);
    if (!copy) return -1;
    pthread_mutex_lock(&l->lock);
    int rc = -1;
    if (l->qlen < QUEUE_MAX) {
        l->queue[(l->qhead + l->qlen) % QUEUE_MAX] = (pending){client, id, copy};
        l->qlen++;
        rc = 0;
    }
    pthread_mutex_unlock(&l->lock);
    if (rc != 0) {
        free(copy);
        return -1;
    }
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof one) < 0) { /* counter saturated: already awake */
    }
    return 0;
}

void station_link_stop(station_link *l)
{
    if (!l) return;
    pthread_mutex_lock(&l->lock);
    l->stop = true;
    pthread_mutex_unlock(&l->lock);
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof one) < 0) {
    }
    pthread_join(l->thread, NULL);
    nd_ctl_client_close(l->ctl_client);
    nd_live_client_close(l->live);
    close(l->wake_fd);
    zmq_ctx_term(l->zctx);
    pthread_mutex_destroy(&l->lock);
    free(l);
}
