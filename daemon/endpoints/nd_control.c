/* Control server: REP socket + thread; every request gets exactly one reply. */
#include "nd_control.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "nd_log.h"

/* Messages beyond this are cut off by libzmq (the peer is disconnected, no
 * reply possible); between max_request and this they get an error reply. */
#define ND_CONTROL_HARD_LIMIT (1024 * 1024)

struct nd_control {
    void *sock;
    pthread_t thread;
    atomic_bool stop;
    int stop_fd; /* eventfd: wakes the poll at once on stop (no periodic poll) */
    nd_control_handler handle;
    void *ctx;
    size_t max_request;
    char endpoint[512]; /* as bound, wildcards resolved */
    _Atomic unsigned long long requests, errors;
};

char *nd_control_error_reply(const char *msg)
{
    cJSON *r = cJSON_CreateObject();
    if (!r) return NULL;
    cJSON_AddFalseToObject(r, "ok");
    cJSON_AddStringToObject(r, "error", msg && *msg ? msg : "request refused");
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return text;
}

char *nd_control_process(const char *buf, size_t len, nd_control_handler handle, void *ctx)
{
    nd_request *req = malloc(sizeof *req);
    if (!req) return nd_control_error_reply("out of memory");
    char err[512] = "";
    char *text = NULL;
    if (nd_request_parse(buf, len, req, err, sizeof err)) {
        text = nd_control_error_reply(err);
        goto out;
    }
    if (!handle) {
        text = nd_control_error_reply("the daemon has no command handler");
        goto out;
    }
    cJSON *fields = cJSON_CreateObject();
    if (!fields) {
        text = nd_control_error_reply("out of memory");
        goto out;
    }
    if (handle(ctx, req, fields, err, sizeof err)) {
        cJSON_Delete(fields);
        text = nd_control_error_reply(err[0] ? err : "request refused");
        goto out;
    }
    /* "ok" and "cmd" come first; handler fields follow in their order. */
    cJSON *reply = cJSON_CreateObject();
    if (reply) {
        cJSON_AddTrueToObject(reply, "ok");
        cJSON_AddStringToObject(reply, "cmd", nd_cmd_name(req->cmd));
        cJSON *it = fields->child;
        while (it) {
            cJSON *next = it->next;
            cJSON *detached = cJSON_DetachItemViaPointer(fields, it);
            if (detached->string &&
                (!strcmp(detached->string, "ok") || !strcmp(detached->string, "cmd")))
                cJSON_Delete(detached);
            else
                cJSON_AddItemToObject(reply, detached->string, detached);
            it = next;
        }
        text = cJSON_PrintUnformatted(reply);
        cJSON_Delete(reply);
    }
    cJSON_Delete(fields);
    if (!text) text = nd_control_error_reply("out of memory");
out:
    free(req);
    return text;
}

static void send_reply(nd_control *c, char *text)
{
    static const char fallback[] = "{\"ok\":false,\"error\":\"out of memory\"}";
    const char *t = text ? text : fallback;
    if (t[0] != '{' || strncmp(t, "{\"ok\":true", 10)) atomic_fetch_add(&c->errors, 1);
    atomic_fetch_add(&c->requests, 1);
    /* REP: a reply is always possible after a receive; retry on EINTR only. */
    while (zmq_send(c->sock, t, strlen(t), 0) < 0 && zmq_errno() == EINTR) {
    }
    free(text);
}

/* Receives one whole request (all frames) and answers it exactly once. */
static void serve_one(nd_control *c)
{
    zmq_msg_t first;
    zmq_msg_init(&first);
    if (zmq_msg_recv(&first, c->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&first);
        return;
    }
    size_t frames = 1;
    int more = zmq_msg_more(&first);
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, c->sock, 0) < 0) {
            zmq_msg_close(&extra);
            break;
        }
        frames++;
        more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
    }
    char err[160];
    if (frames > 1) {
        snprintf(err, sizeof err,
                 "request must be one frame holding a JSON object (got %zu frames)", frames);
        send_reply(c, nd_control_error_reply(err));
    } else if (zmq_msg_size(&first) > c->max_request) {
        snprintf(err, sizeof err, "request too large (%zu bytes, at most %zu)",
                 zmq_msg_size(&first), c->max_request);
        send_reply(c, nd_control_error_reply(err));
    } else {
        send_reply(
            c, nd_control_process(zmq_msg_data(&first), zmq_msg_size(&first), c->handle, c->ctx));
    }
    zmq_msg_close(&first);
}

static void *control_thread(void *arg)
{
    nd_control *c = arg;
    while (!atomic_load(&c->stop)) {
        zmq_pollitem_t items[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {NULL, c->stop_fd, ZMQ_POLLIN, 0}};
        zmq_pollitem_t *item = &items[0];
        int n = zmq_poll(items, 2, -1);
        if (n < 0) {
            if (zmq_errno() == EINTR) continue;
            if (zmq_errno() == ETERM) break;
            nd_err("control: poll failed: %s", zmq_strerror(zmq_errno()));
            break;
        }
        if (n > 0 && (item->revents & ZMQ_POLLIN)) serve_one(c);
    }
    return NULL;
}

/* ipc: the directory must exist; refuse to steal the socket of a running
 * daemon (libzmq would silently unlink it), replace a stale one. */
static int ipc_prepare(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "ipc path too long (%zu bytes, at most %zu): %s", strlen(path),
                 sizeof sa.sun_path - 1, path);
        return -1;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        struct stat st;
        if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "directory %s for the control socket does not exist", dir);
            return -1;
        }
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket; refusing to replace it", path);
            return -1;
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            memset(&sa, 0, sizeof sa);
            sa.sun_family = AF_UNIX;
            memcpy(sa.sun_path, path, strlen(path) + 1);
            int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
            close(fd);
            if (live) {
                snprintf(err, errlen, "another process (a running nordicd?) is listening on %s",
                         path);
                return -1;
            }
        }
    }
    return 0;
}

nd_control *nd_control_start(void *zctx, const nd_control_options *opt, char *err, size_t errlen)
{
    if (!zctx || !opt || !opt->endpoint || !opt->endpoint[0]) {
        snprintf(err, errlen, "control: no endpoint given");
        return NULL;
    }
    if (nd_zsec_check_bind(opt->endpoint, opt->curve, err, errlen)) return NULL;
    const char *ipc_path = strncmp(opt->endpoint, "ipc://", 6) ? NULL : opt->endpoint + 6;
    if (ipc_path && ipc_prepare(ipc_path, err, errlen)) return NULL;

    nd_control *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->handle = opt->handle;
    c->ctx = opt->ctx;
    c->max_request = opt->max_request ? opt->max_request : ND_CONTROL_MAX_REQUEST;
    if (c->max_request > ND_CONTROL_HARD_LIMIT / 2) c->max_request = ND_CONTROL_HARD_LIMIT / 2;
    snprintf(c->endpoint, sizeof c->endpoint, "%s", opt->endpoint);
    atomic_init(&c->stop, false);
    c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->stop_fd < 0) {
        snprintf(err, errlen, "control: cannot create eventfd: %s", strerror(errno));
        free(c);
        return NULL;
    }

    c->sock = zmq_socket(zctx, ZMQ_REP);
    if (!c->sock) {
        snprintf(err, errlen, "control: cannot create socket: %s", zmq_strerror(zmq_errno()));
        close(c->stop_fd);
        free(c);
        return NULL;
    }
    int64_t hard = ND_CONTROL_HARD_LIMIT;
    int linger = 0;
    zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &hard, sizeof hard);
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (nd_zsec_apply_server(c->sock, opt->curve, err, errlen)) goto fail;
    if (zmq_bind(c->sock, opt->endpoint) != 0) {
        snprintf(err, errlen, "control: cannot bind %s: %s", opt->endpoint,
                 zmq_strerror(zmq_errno()));
        goto fail;
    }
    /* chmod after bind: umask is process-wide, so changing it would race
     * with other threads creating files. Under a 022 umask the brief window
     * before this is narrower (0755: nobody else may connect), not wider. */
    if (ipc_path && chmod(ipc_path, 0660) != 0) {
        snprintf(err, errlen, "control: cannot set mode 0660 on %s: %s", ipc_path, strerror(errno));
        goto fail;
    }
    size_t eplen = sizeof c->endpoint;
    zmq_getsockopt(c->sock, ZMQ_LAST_ENDPOINT, c->endpoint, &eplen);
    if (pthread_create(&c->thread, NULL, control_thread, c) != 0) {
        snprintf(err, errlen, "control: cannot start thread");
        goto fail;
    }
    nd_info("control: listening on %s", c->endpoint);
    return c;
fail:
    zmq_close(c->sock);
    close(c->stop_fd);
    free(c);
    return NULL;
}

const char *nd_control_endpoint(const nd_control *c)
{
    return c->endpoint;
}

void nd_control_stop(nd_control *c)
{
    if (!c) return;
    atomic_store(&c->stop, true);
    uint64_t one = 1;
    if (write(c->stop_fd, &one, sizeof one) != (ssize_t)sizeof one)
        nd_err("control: cannot signal the control thread: %s", strerror(errno));
    pthread_join(c->thread, NULL);
    zmq_close(c->sock);
    close(c->stop_fd);
    free(c);
}

void nd_control_counts(const nd_control *c, unsigned long long *requests,
                       unsigned long long *errors)
{
    nd_control *m = (nd_control *)c;
    if (requests) *requests = atomic_load(&m->requests);
    if (errors) *errors = atomic_load(&m->errors);
}
