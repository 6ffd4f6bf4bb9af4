/* Control server over real sockets: a REP server thread in this process and
 * REQ clients. Good requests reach the handler; junk, multi-frame and
 * oversized requests get an error reply; the ipc socket has mode 0660; a
 * running server's socket is never stolen; stale sockets are replaced. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "nd_control.h"
#include "test_util.h"

static atomic_int handler_calls;

static int handler(void *ctx, const nd_request *req, cJSON *reply, char *err, size_t errlen)
{
    (void)ctx;
    atomic_fetch_add(&handler_calls, 1);
    if (req->cmd == ND_CMD_STOP) {
        snprintf(err, errlen, "no trial is running");
        return -1;
    }
    if (req->cmd == ND_CMD_START) cJSON_AddStringToObject(reply, "athlete", req->start.athlete_id);
    cJSON_AddNumberToObject(reply, "answer", 42);
    cJSON_AddBoolToObject(reply, "ok", 0); /* must not override the real "ok" */
    return 0;
}

static void *client(void *zctx, const char *ep)
{
    void *s = zmq_socket(zctx, ZMQ_REQ);
    int t = 5000, linger = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof t);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &t, sizeof t);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(s, ep);
    return s;
}

/* Sends frames (NULL-terminated list of {data,len}), returns the parsed reply. */
static cJSON *ask_frames(void *s, const char *const *frames, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        if (zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0) return NULL;
    static char buf[65536];
    int r = zmq_recv(s, buf, sizeof buf - 1, 0);
    if (r < 0) return NULL;
    buf[r < (int)sizeof buf - 1 ? r : (int)sizeof buf - 1] = '\0';
    return cJSON_Parse(buf);
}

static cJSON *ask(void *s, const char *text, size_t len)
{
    const char *f[1] = {text};
    size_t l[1] = {len};
    return ask_frames(s, f, l, 1);
}

static bool reply_ok(const cJSON *r)
{
    return r && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"));
}

static const char *reply_error(const cJSON *r)
{
    const cJSON *e = r ? cJSON_GetObjectItemCaseSensitive(r, "error") : NULL;
    return cJSON_IsString(e) ? e->valuestring : "";
}

static void expect_refusal(void *s, const char *text, size_t len, const char *want)
{
    cJSON *r = ask(s, text, len);
    CHECK(r != NULL);
    CHECK(r && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r, "ok")));
    CHECK(strstr(reply_error(r), want) != NULL);
    if (!strstr(reply_error(r), want))
        fprintf(stderr, "error \"%s\" lacks \"%s\"\n", reply_error(r), want);
    cJSON_Delete(r);
}

int main(void)
{
    const char *dir = nd_test_tmpdir("ctl");
    char path[600], ep[700];
    snprintf(path, sizeof path, "%s/control", dir);
    snprintf(ep, sizeof ep, "ipc://%s", path);
    void *zctx = zmq_ctx_new();
    char err[512];

    nd_control_options opt = {.endpoint = ep, .handle = handler, .ctx = NULL};
    nd_control *c = nd_control_start(zctx, &opt, err, sizeof err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "start: %s\n", err);
        return nd_test_finish("test_control_server");
    }
    struct stat st;
    CHECK_EQ_INT(stat(path, &st), 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_EQ_INT(st.st_mode & 0777, 0660);

    void *s = client(zctx, ep);
    /* Good request: handler called, its fields in the reply, "ok" untouched. */
    const char *good = "{\"cmd\":\"start\",\"athlete_id\":\"A17\",\"body_mass_kg\":82}";
    cJSON *r = ask(s, good, strlen(good));
    CHECK(reply_ok(r));
    CHECK(r && !strcmp(cJSON_GetObjectItemCaseSensitive(r, "cmd")->valuestring, "start"));
    CHECK(r && !strcmp(cJSON_GetObjectItemCaseSensitive(r, "athlete")->valuestring, "A17"));
    CHECK(r && cJSON_GetObjectItemCaseSensitive(r, "answer")->valuedouble == 42);
    cJSON_Delete(r);
    CHECK_EQ_INT(atomic_load(&handler_calls), 1);

    /* Handler refusal carries its message. */
    expect_refusal(s, "{\"cmd\":\"stop\"}", 14, "no trial is running");
    CHECK_EQ_INT(atomic_load(&handler_calls), 2);

    /* Invalid requests never reach the handler. */
    expect_refusal(s, "not json", 8, "not valid JSON");
    expect_refusal(s, "{\"cmd\":\"start\"}", 15, "needs \"athlete_id\"");
    expect_refusal(s, "", 0, "empty");
    expect_refusal(s, "\x00\x01\x02\xff", 4, "NUL");
    CHECK_EQ_INT(atomic_load(&handler_calls), 2);

    /* Multi-frame: one error reply for the whole request. */
    const char *frames[3] = {"{\"cmd\":\"status\"}", "junk", "more"};
    size_t lens[3] = {16, 4, 4};
    r = ask_frames(s, frames, lens, 3);
    CHECK(r && !reply_ok(r));
    CHECK(strstr(reply_error(r), "got 3 frames") != NULL);
    cJSON_Delete(r);

    /* Oversized (but under the transport cut-off): error reply. */
    size_t big = ND_CONTROL_MAX_REQUEST + 100;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    memcpy(huge, "{\"cmd\":\"status\"}", 16);
    expect_refusal(s, huge, big, "too large");
    free(huge);

    /* Many junk requests in a row: each answered, server keeps going. */
    int answered = 0;
    for (int i = 0; i < 500; i++) {
        char junk[64];
        for (int j = 0; j < 64; j++) junk[j] = (char)(i * 31 + j * 7);
        cJSON *jr = ask(s, junk, (size_t)(i % 64));
        if (jr && !reply_ok(jr) && reply_error(jr)[0]) answered++;
        cJSON_Delete(jr);
    }
    CHECK_EQ_INT(answered, 500);
    r = ask(s, "{\"cmd\":\"status\"}", 16);
    CHECK(reply_ok(r));
    cJSON_Delete(r);
    unsigned long long nreq = 0, nerr = 0;
    nd_control_counts(c, &nreq, &nerr);
    CHECK_EQ_INT(nreq, 509);
    CHECK_EQ_INT(nerr, 507);

    /* A second server on the same path is refused; the first keeps its socket. */
    nd_control *c2 = nd_control_start(zctx, &opt, err, sizeof err);
    CHECK(c2 == NULL);
    CHECK(strstr(err, "listening on") != NULL);
    r = ask(s, "{\"cmd\":\"devices\"}", 17);
    CHECK(reply_ok(r));
    cJSON_Delete(r);
    zmq_close(s);
    nd_control_stop(c);

    /* A stale socket file left by a dead process is replaced. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    unlink(path);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    CHECK_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd); /* file stays, nobody listens */
    c = nd_control_start(zctx, &opt, err, sizeof err);
    CHECK(c != NULL);
    s = client(zctx, ep);
    r = ask(s, "{\"cmd\":\"status\"}", 16);
    CHECK(reply_ok(r));
    cJSON_Delete(r);
    zmq_close(s);
    nd_control_stop(c);

    /* A regular file in the way is not deleted. */
    unlink(path);
    FILE *f = fopen(path, "w");
    fputs("precious", f);
    fclose(f);
    CHECK(nd_control_start(zctx, &opt, err, sizeof err) == NULL);
    CHECK(strstr(err, "not a socket") != NULL);
    CHECK_EQ_INT(access(path, F_OK), 0);

    /* Missing directory and refused endpoints: clear errors. */
    char ep2[800];
    snprintf(ep2, sizeof ep2, "ipc://%s/no/such/dir/control", dir);
    opt.endpoint = ep2;
    CHECK(nd_control_start(zctx, &opt, err, sizeof err) == NULL);
    CHECK(strstr(err, "does not exist") != NULL);
    opt.endpoint = "tcp://0.0.0.0:5555";
    CHECK(nd_control_start(zctx, &opt, err, sizeof err) == NULL);
    CHECK(strstr(err, "CURVE") != NULL);
    opt.endpoint = "udp://127.0.0.1:5555";
    CHECK(nd_control_start(zctx, &opt, err, sizeof err) == NULL);
    CHECK(strstr(err, "unsupported endpoint") != NULL);

    /* Loopback TCP works without keys. */
    opt.endpoint = "tcp://127.0.0.1:*";
    c = nd_control_start(zctx, &opt, err, sizeof err);
    CHECK(c != NULL);
    nd_control_stop(c);

    zmq_ctx_term(zctx);
    return nd_test_finish("test_control_server");
}
