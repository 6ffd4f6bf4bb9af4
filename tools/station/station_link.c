#include "station_link.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define QUEUE_MAX        32
#define REPLY_TIMEOUT_MS 10000 /* `stop` waits for the trial file to close */
#define MSG_MAX          (4 << 20)

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

static void *open_req(station_link *l)
{
    void *s = zmq_socket(l->zctx, ZMQ_REQ);
    int zero = 0;
    int64_t maxmsg = MSG_MAX;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_connect(s, l->ctl) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
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

/* Receives one complete multipart message; returns its part count (0 on error). */
static int recv_parts(void *s, zmq_msg_t *parts, int max)
{
    int n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < max)
            parts[n++] = m;
        else
            zmq_msg_close(&m);
        if (!more) return n;
    }
    for (int i = 0; i < n; i++) zmq_msg_close(&parts[i]);
    return 0;
}

static void forward_live(station_link *l, void *sub)
{
    for (int burst = 0; burst < 256; burst++) {
        zmq_msg_t parts[2];
        int n = recv_parts(sub, parts, 2);
        if (n == 0) return;
        if (n == 2) {
            char topic[16];
            size_t tl = zmq_msg_size(&parts[0]);
            if (tl < sizeof topic) {
                memcpy(topic, zmq_msg_data(&parts[0]), tl);
                topic[tl] = 0;
                l->cb.on_message(l->cb.user, l->daemon, topic, zmq_msg_data(&parts[1]),
                                 zmq_msg_size(&parts[1]));
            }
        }
        for (int i = 0; i < n; i++) zmq_msg_close(&parts[i]);
    }
}

static void *link_main(void *arg)
{
    station_link *l = arg;
    void *sub = zmq_socket(l->zctx, ZMQ_SUB);
    int zero = 0;
    int64_t maxmsg = MSG_MAX;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect(sub, l->pub);
    void *req = open_req(l);
    pending cur = {0};
    bool waiting = false;
    uint64_t deadline = 0;

    for (;;) {
        pthread_mutex_lock(&l->lock);
        bool stop = l->stop;
        pthread_mutex_unlock(&l->lock);
        if (stop) break;
        if (!waiting && take_pending(l, &cur)) {
            if (!req) req = open_req(l);
            if (!req || zmq_send(req, cur.json, strlen(cur.json), ZMQ_DONTWAIT) < 0) {
                reply_error(l, &cur, "cannot send to nordicd at", "");
                free(cur.json);
            } else {
                waiting = true;
                deadline = now_ms() + REPLY_TIMEOUT_MS;
            }
        }
        zmq_pollitem_t items[3] = {
            {sub, 0, ZMQ_POLLIN, 0}, {NULL, l->wake_fd, ZMQ_POLLIN, 0}, {req, 0, ZMQ_POLLIN, 0}};
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
        if (items[0].revents & ZMQ_POLLIN) forward_live(l, sub);
        if (waiting && (items[2].revents & ZMQ_POLLIN)) {
            zmq_msg_t parts[1];
            int n = recv_parts(req, parts, 1);
            if (n == 1) {
                l->cb.on_reply(l->cb.user, l->daemon, cur.client, cur.id, zmq_msg_data(&parts[0]),
                               zmq_msg_size(&parts[0]));
                zmq_msg_close(&parts[0]);
            } else {
                reply_error(l, &cur, "malformed reply from nordicd at", "");
            }
            free(cur.json);
            waiting = false;
        } else if (waiting && now_ms() >= deadline) {
            /* Lazy pirate: a REQ that lost its reply is unusable; start over. */
            reply_error(l, &cur, "no answer from nordicd at", " within 10 s");
            free(cur.json);
            waiting = false;
            zmq_close(req);
            req = open_req(l);
        }
    }
    if (waiting) free(cur.json);
    pending p;
    while (take_pending(l, &p)) free(p.json);
    if (req) zmq_close(req);
    zmq_close(sub);
    return NULL;
}

station_link *station_link_start(int daemon, const char *ctl, const char *pub,
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
    l->zctx = zmq_ctx_new();
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    void *probe = l->zctx ? zmq_socket(l->zctx, ZMQ_SUB) : NULL;
    /* Check both endpoints once: a typo should stop start-up, not fail silently. */
    bool ok = probe && zmq_connect(probe, pub) == 0;
    if (probe) zmq_close(probe);
    void *probe2 = ok ? zmq_socket(l->zctx, ZMQ_REQ) : NULL;
    ok = ok && probe2 && zmq_connect(probe2, ctl) == 0;
    if (probe2) zmq_close(probe2);
    if (!ok || l->wake_fd < 0 || pthread_create(&l->thread, NULL, link_main, l) != 0) {
        snprintf(err, errlen, "cannot use endpoints %s / %s: %s", ctl, pub,
                 zmq_strerror(zmq_errno()));
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
    close(l->wake_fd);
    zmq_ctx_term(l->zctx);
    pthread_mutex_destroy(&l->lock);
    free(l);
}
