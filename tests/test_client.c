/* The ZeroMQ client library (tools/client/nd_client.h) against peers written
 * here with bare libzmq from daemon/wire/ZMQ_PROTOCOL.md (a REP that answers
 * JSON, a PUB sending topic + JSON frames), not the daemon's own endpoints:
 * requests and replies, refusals, a timeout after which the client is still
 * usable and never takes the late reply for the next request, the two-step
 * send/recv, per-topic seq-gap counts, unknown topics and broken frames
 * skipped, the raw relay form, topic filtering and a missing ipc socket. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "nd_client.h"
#include "test_util.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A REP peer: answers each request with {"ok":true,"echo":<cmd>} after
 * delay_ms (the first `slow` requests only), or refuses cmd "bad". */
typedef struct rep_peer {
    void *sock;
    int slow;
    long delay_ms;
    int served;
} rep_peer;

static void *rep_main(void *arg)
{
    rep_peer *p = arg;
    for (;;) {
        char buf[512];
        int n = zmq_recv(p->sock, buf, sizeof buf - 1, 0);
        if (n < 0) break;
        buf[n < (int)sizeof buf - 1 ? n : (int)sizeof buf - 1] = '\0';
        if (p->served < p->slow) sleep_ms(p->delay_ms);
        p->served++;
        cJSON *req = cJSON_Parse(buf);
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
        char reply[600];
        if (cJSON_IsString(cmd) && !strcmp(cmd->valuestring, "bad"))
            snprintf(reply, sizeof reply, "{\"ok\":false,\"error\":\"unknown command 'bad'\"}");
        else if (cJSON_IsString(cmd) && !strcmp(cmd->valuestring, "quit"))
            snprintf(reply, sizeof reply, "{\"ok\":true}");
        else
            snprintf(reply, sizeof reply, "{\"ok\":true,\"echo\":\"%s\",\"n\":%d}",
                     cJSON_IsString(cmd) ? cmd->valuestring : "?", p->served);
        bool quit = cJSON_IsString(cmd) && !strcmp(cmd->valuestring, "quit");
        cJSON_Delete(req);
        zmq_send(p->sock, reply, strlen(reply), 0);
        if (quit) break;
    }
    return NULL;
}

static const char *echo_of(const cJSON *r)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "echo");
    return cJSON_IsString(e) ? e->valuestring : "";
}

static void test_control(void *zctx, const char *dir)
{
    char ep[300];
    snprintf(ep, sizeof ep, "ipc://%s/ctl", dir);
    rep_peer peer = {.sock = zmq_socket(zctx, ZMQ_REP), .slow = 1, .delay_ms = 1500};
    CHECK(zmq_bind(peer.sock, ep) == 0);
    pthread_t t;
    pthread_create(&t, NULL, rep_main, &peer);

    char err[600];
    int status = -1;
    nd_client_options opt = {.endpoint = ep, .timeout_s = 0.5};
    nd_ctl_client *c = nd_ctl_client_open(zctx, &opt, &status, err, sizeof err);
    CHECK(c != NULL && status == 0);

    /* The first request is answered after the timeout: no answer... */
    cJSON *req = nd_req_simple("status"), *reply = NULL;
    CHECK(nd_ctl_client_call_json(c, req, &reply, err, sizeof err) == ND_CLIENT_NOANSWER);
    CHECK(reply == NULL && strstr(err, "no answer") != NULL);
    cJSON_Delete(req);
    /* ...and the late reply to it is never taken for the next request. */
    sleep_ms(1600);
    req = nd_req_tare("left", 0.5);
    CHECK(nd_ctl_client_call_json(c, req, &reply, err, sizeof err) == 0);
    CHECK(reply && nd_reply_ok(reply) && !strcmp(echo_of(reply), "tare"));
    cJSON_Delete(reply);
    cJSON_Delete(req);

    /* A refusal is a reply whose error the client reads. */
    req = nd_req_simple("bad");
    CHECK(nd_ctl_client_call_json(c, req, &reply, err, sizeof err) == 0);
    CHECK(reply && !nd_reply_ok(reply) && !strcmp(nd_reply_error(reply), "unknown command 'bad'"));
    cJSON_Delete(reply);
    cJSON_Delete(req);

    /* Two steps: send, poll the socket, take the text. */
    const char *text = "{\"cmd\":\"devices\"}";
    CHECK(nd_ctl_client_send(c, text, strlen(text)) == 0);
    zmq_pollitem_t it = {nd_ctl_client_socket(c), 0, ZMQ_POLLIN, 0};
    CHECK(zmq_poll(&it, 1, 2000) == 1);
    char *raw = NULL;
    size_t rawlen = 0;
    CHECK(nd_ctl_client_recv(c, &raw, &rawlen) == 0);
    CHECK(raw && rawlen == strlen(raw) && strstr(raw, "\"echo\":\"devices\"") != NULL);
    free(raw);
    CHECK(nd_ctl_client_recv(c, &raw, &rawlen) == -1 && raw == NULL);

    /* The builders spell the documented fields. */
    nd_start_fields f = {.athlete_id = "A17", .body_mass_kg = 82, .injured_side = "left"};
    req = nd_req_start(&f);
    char *s = cJSON_PrintUnformatted(req);
    CHECK(!strcmp(s, "{\"cmd\":\"start\",\"athlete_id\":\"A17\",\"body_mass_kg\":82,"
                     "\"injured_side\":\"left\"}"));
    free(s);
    cJSON_Delete(req);
    req = nd_req_mark("pain", NULL, 2);
    s = cJSON_PrintUnformatted(req);
    CHECK(!strcmp(s, "{\"cmd\":\"mark\",\"kind\":\"pain\",\"value\":2}"));
    free(s);
    cJSON_Delete(req);

    req = nd_req_simple("quit");
    CHECK(nd_ctl_client_call_json(c, req, &reply, err, sizeof err) == 0);
    cJSON_Delete(reply);
    cJSON_Delete(req);
    pthread_join(t, NULL);
    nd_ctl_client_close(c);
    zmq_close(peer.sock);

    /* No socket file: said at once, as "no answer" (nordctl exit 3). */
    char missing[300];
    snprintf(missing, sizeof missing, "ipc://%s/nothing-here", dir);
    nd_client_options gone = {.endpoint = missing};
    CHECK(nd_ctl_client_open(zctx, &gone, &status, err, sizeof err) == NULL);
    CHECK(status == ND_CLIENT_NOANSWER && strstr(err, "is nordicd running") != NULL);
    /* Half a CURVE configuration is a usage error. */
    nd_client_options half = {.endpoint = ep, .server_key_file = "/nonexistent.pub"};
    CHECK(nd_ctl_client_open(zctx, &half, &status, err, sizeof err) == NULL);
    CHECK(status == ND_CLIENT_USAGE);
}

static void publish(void *pub, const char *topic, const char *body)
{
    zmq_send(pub, topic, strlen(topic), ZMQ_SNDMORE);
    zmq_send(pub, body, strlen(body), 0);
}

static void test_live(void *zctx, const char *dir)
{
    char ep[300];
    snprintf(ep, sizeof ep, "ipc://%s/pub", dir);
    void *pub = zmq_socket(zctx, ZMQ_PUB);
    CHECK(zmq_bind(pub, ep) == 0);
    char err[600];
    nd_client_options opt = {.endpoint = ep};
    unsigned topics = (1u << ND_TOPIC_REP) | (1u << ND_TOPIC_STATUS);
    nd_live_client *l = nd_live_client_open(zctx, &opt, topics, 0, err, sizeof err);
    CHECK(l != NULL);
    /* Slow joiner: publish probes until one arrives. */
    cJSON *body = NULL;
    int topic = -1;
    for (int i = 0; i < 200 && topic < 0; i++) {
        publish(pub, "status", "{\"v\":1,\"seq\":0}");
        topic = nd_live_client_recv(l, &body, 20);
    }
    CHECK(topic == ND_TOPIC_STATUS);
    cJSON_Delete(body);
    while (nd_live_client_recv(l, &body, 100) >= 0) cJSON_Delete(body); /* drain the probes */
    const nd_live_counts *c0 = nd_live_client_counts(l);
    uint64_t status_before = c0->received[ND_TOPIC_STATUS];

    /* rep seq 0, 1, then 5: three messages lost. */
    publish(pub, "rep", "{\"v\":1,\"seq\":0,\"index\":1}");
    publish(pub, "rep", "{\"v\":1,\"seq\":1,\"index\":2}");
    publish(pub, "wave", "{\"v\":1,\"seq\":0}");  /* not subscribed */
    publish(pub, "bogus", "{\"v\":1,\"seq\":0}"); /* unknown topic */
    publish(pub, "rep", "not json");              /* unreadable body */
    zmq_send(pub, "rep", 3, ZMQ_SNDMORE);         /* a third frame */
    zmq_send(pub, "{\"seq\":3}", 9, ZMQ_SNDMORE);
    zmq_send(pub, "x", 1, 0);
    publish(pub, "rep", "{\"v\":1,\"seq\":5,\"index\":3}");
    int got = 0;
    double last_index = 0;
    for (int i = 0; i < 3; i++) {
        topic = nd_live_client_recv(l, &body, 2000);
        CHECK(topic == ND_TOPIC_REP);
        if (topic != ND_TOPIC_REP) break;
        last_index = cJSON_GetObjectItemCaseSensitive(body, "index")->valuedouble;
        cJSON_Delete(body);
        got++;
    }
    CHECK_EQ_INT(got, 3);
    CHECK_EQ_INT((long long)last_index, 3);
    CHECK(nd_live_client_recv(l, &body, 200) == -1 && body == NULL);
    const nd_live_counts *c = nd_live_client_counts(l);
    CHECK_EQ_INT(c->received[ND_TOPIC_REP], 3);
    CHECK_EQ_INT(c->lost[ND_TOPIC_REP], 3);
    CHECK_EQ_INT(c->received[ND_TOPIC_WAVE], 0);
    CHECK_EQ_INT(c->received[ND_TOPIC_STATUS], status_before);

    /* The raw form hands over the text unchanged and still counts. */
    publish(pub, "status", "{\"v\":1,\"seq\":7,\"state\":\"idle\"}");
    char *raw = NULL;
    size_t len = 0;
    CHECK(nd_live_client_recv_raw(l, &raw, &len, 2000) == ND_TOPIC_STATUS);
    CHECK(raw && !strcmp(raw, "{\"v\":1,\"seq\":7,\"state\":\"idle\"}") && len == strlen(raw));
    free(raw);
    CHECK(nd_live_client_counts(l)->lost[ND_TOPIC_STATUS] > 0); /* seq 0 -> 7 */
    nd_live_client_close(l);
    zmq_close(pub);
}

int main(void)
{
    char dir[] = "/tmp/nd-client-XXXXXX";
    const char *base = getenv("NORDIC_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/nd-client-XXXXXX", base && *base ? base : "/tmp");
    char *made = mkdtemp(path);
    if (!made) made = mkdtemp(dir);
    CHECK(made != NULL);
    if (!made) return nd_test_finish("test_client");
    void *zctx = zmq_ctx_new();
    test_control(zctx, made);
    test_live(zctx, made);
    zmq_ctx_term(zctx);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", made);
    if (system(cmd) != 0) fprintf(stderr, "test_client: could not remove %s\n", made);
    return nd_test_finish("test_client");
}
