/* Endpoint policy, key files and CURVE with the ZAP allow-list over real
 * sockets on 127.0.0.1: an authorised client gets replies and live data, an
 * unauthorised or plain client gets nothing. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "nd_control.h"
#include "nd_publisher.h"
#include "nd_zsec.h"
#include "test_util.h"

static void test_classify(void)
{
    CHECK_EQ_INT(nd_endpoint_classify("ipc:///run/nordicd/control"), ND_EP_LOCAL);
    CHECK_EQ_INT(nd_endpoint_classify("inproc://x"), ND_EP_LOCAL);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://127.0.0.1:5556"), ND_EP_LOOPBACK);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://127.1.2.3:5556"), ND_EP_LOOPBACK);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://localhost:5556"), ND_EP_LOOPBACK);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://[::1]:5556"), ND_EP_LOOPBACK);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://[::ffff:127.0.0.1]:5556"), ND_EP_LOOPBACK);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://127.0.0.1:*"), ND_EP_LOOPBACK);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://*:5556"), ND_EP_REMOTE);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://0.0.0.0:5556"), ND_EP_REMOTE);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://192.168.1.20:5556"), ND_EP_REMOTE);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://eth0:5556"), ND_EP_REMOTE);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://[::]:5556"), ND_EP_REMOTE);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://128.0.0.1:5556"), ND_EP_REMOTE);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://127.0.0.1;10.0.0.1:5556"), ND_EP_REMOTE);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://127.0.0.1"), ND_EP_INVALID);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://127.0.0.1:99999"), ND_EP_INVALID);
    CHECK_EQ_INT(nd_endpoint_classify("tcp://127.0.0.1:55x"), ND_EP_INVALID);
    CHECK_EQ_INT(nd_endpoint_classify("pgm://eth0;239.0.0.1:5555"), ND_EP_INVALID);
    CHECK_EQ_INT(nd_endpoint_classify("ipc://"), ND_EP_INVALID);
    CHECK_EQ_INT(nd_endpoint_classify(""), ND_EP_INVALID);
    CHECK_EQ_INT(nd_endpoint_classify(NULL), ND_EP_INVALID);

    char err[512];
    CHECK_EQ_INT(nd_zsec_check_bind("tcp://127.0.0.1:5556", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(nd_zsec_check_bind("ipc:///tmp/x", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(nd_zsec_check_bind("tcp://*:5556", NULL, err, sizeof err), -1);
    CHECK(strstr(err, "curve_secret_key") && strstr(err, "nordctl keygen"));
    nd_curve_server empty;
    memset(&empty, 0, sizeof empty);
    strcpy(empty.secret_z85, "x");
    CHECK_EQ_INT(nd_zsec_check_bind("tcp://10.0.0.1:5556", &empty, err, sizeof err), -1);
    CHECK(strstr(err, "allow-list") != NULL);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void *req_client(void *zctx, const char *ep, const char *dir, const char *client, bool curve)
{
    void *s = zmq_socket(zctx, ZMQ_REQ);
    int t = 1500, linger = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof t);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &t, sizeof t);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (curve) {
        char spub[600], csec[600], err[512];
        snprintf(spub, sizeof spub, "%s/server.pub", dir);
        snprintf(csec, sizeof csec, "%s/%s.key", dir, client);
        if (nd_zsec_apply_client(s, spub, csec, err, sizeof err)) fprintf(stderr, "%s\n", err);
    }
    zmq_connect(s, ep);
    return s;
}

static int handler(void *ctx, const nd_request *req, cJSON *reply, char *err, size_t errlen)
{
    (void)ctx, (void)req, (void)err, (void)errlen;
    cJSON_AddStringToObject(reply, "hello", "authorised");
    return 0;
}

/* 1 if a reply arrived within the timeout. */
static int got_reply(void *s)
{
    char buf[512];
    zmq_send(s, "{\"cmd\":\"status\"}", 16, ZMQ_DONTWAIT);
    int n = zmq_recv(s, buf, sizeof buf, 0);
    return n > 0 && strstr(buf, "authorised") ? 1 : 0;
}

static int sub_receives(void *zctx, nd_publisher *pub, const char *ep, const char *dir,
                        const char *client, bool curve)
{
    void *s = zmq_socket(zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (curve) {
        char spub[600], csec[600], err[512];
        snprintf(spub, sizeof spub, "%s/server.pub", dir);
        snprintf(csec, sizeof csec, "%s/%s.key", dir, client);
        nd_zsec_apply_client(s, spub, csec, err, sizeof err);
    }
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect(s, ep);
    int got = 0;
    nd_live_msg m;
    memset(&m, 0, sizeof m);
    /* Publish for ~1.5 s (slow-joiner safe); count what arrives. */
    for (int i = 0; i < 150 && !got; i++) {
        nd_publish_live(pub, NULL, 0, &m);
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10) > 0) got = 1;
    }
    zmq_close(s);
    return got;
}

static void test_curve(void)
{
    const char *dir = nd_test_tmpdir("zsec");
    char prefix[600], path[700], path2[700], err[512];
    void *zctx = zmq_ctx_new();

    /* keygen: two files with the right modes; never overwrites. */
    const char *names[] = {"server", "alice", "mallory"};
    for (int i = 0; i < 3; i++) {
        snprintf(prefix, sizeof prefix, "%s/%s", dir, names[i]);
        CHECK_EQ_INT(nd_zsec_keygen(prefix, err, sizeof err), 0);
    }
    struct stat st;
    snprintf(path, sizeof path, "%s/server.key", dir);
    CHECK_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/server.pub", dir);
    CHECK_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0644);
    snprintf(prefix, sizeof prefix, "%s/server", dir);
    CHECK_EQ_INT(nd_zsec_keygen(prefix, err, sizeof err), -1);
    CHECK(strstr(err, "refusing to overwrite") != NULL);

    /* Allowed clients as a directory of .pub files: only alice. */
    char allowed_dir[700];
    snprintf(allowed_dir, sizeof allowed_dir, "%s/clients", dir);
    mkdir(allowed_dir, 0755);
    char key[ND_Z85_KEY_LEN + 1];
    snprintf(path, sizeof path, "%s/alice.pub", dir);
    CHECK_EQ_INT(nd_zsec_read_key_file(path, key, err, sizeof err), 0);
    char text[200];
    snprintf(text, sizeof text, "%s\n", key);
    snprintf(path2, sizeof path2, "%s/alice.pub", allowed_dir);
    write_text(path2, text, 0644);
    snprintf(path2, sizeof path2, "%s/README", allowed_dir);
    write_text(path2, "not a key, ignored (no .pub suffix)\n", 0644);

    nd_curve_server cs;
    snprintf(path, sizeof path, "%s/server.key", dir);
    CHECK_EQ_INT(nd_curve_server_load(&cs, path, allowed_dir, err, sizeof err), 0);
    CHECK_EQ_INT(cs.n_allowed, 1);
    char spub[ND_Z85_KEY_LEN + 1];
    snprintf(path2, sizeof path2, "%s/server.pub", dir);
    nd_zsec_read_key_file(path2, spub, err, sizeof err);
    CHECK(!strcmp(spub, cs.public_z85));

    /* Bad key material: clear errors naming file and line. */
    nd_curve_server bad;
    snprintf(path2, sizeof path2, "%s/list.txt", dir);
    write_text(path2, "# allowed\n\nnot-a-key\n", 0644);
    CHECK_EQ_INT(nd_curve_server_load(&bad, path, path2, err, sizeof err), -1);
    CHECK(strstr(err, "list.txt:3") != NULL);
    write_text(path2, "# nobody yet\n", 0644);
    CHECK_EQ_INT(nd_curve_server_load(&bad, path, path2, err, sizeof err), -1);
    CHECK(strstr(err, "no client public keys") != NULL);
    chmod(path, 0644);
    CHECK_EQ_INT(nd_curve_server_load(&bad, path, allowed_dir, err, sizeof err), -1);
    CHECK(strstr(err, "group or others") != NULL);
    chmod(path, 0600);
    CHECK_EQ_INT(nd_curve_server_load(&bad, "/nonexistent/k.key", allowed_dir, err, sizeof err),
                 -1);
    CHECK(strstr(err, "/nonexistent/k.key") != NULL);

    /* ZAP + control server on loopback with CURVE. */
    nd_zap *zap = nd_zap_start(zctx, &cs, err, sizeof err);
    CHECK(zap != NULL);
    CHECK(nd_zap_start(zctx, &cs, err, sizeof err) == NULL); /* one per context */
    nd_control_options co = {
        .endpoint = "tcp://127.0.0.1:*", .handle = handler, .ctx = NULL, .curve = &cs};
    nd_control *ctl = nd_control_start(zctx, &co, err, sizeof err);
    CHECK(ctl != NULL);
    if (!ctl) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    const char *ep = nd_control_endpoint(ctl);

    void *alice = req_client(zctx, ep, dir, "alice", true);
    CHECK_EQ_INT(got_reply(alice), 1);
    CHECK_EQ_INT(got_reply(alice), 1);
    void *mallory = req_client(zctx, ep, dir, "mallory", true);
    CHECK_EQ_INT(got_reply(mallory), 0);
    void *plain = req_client(zctx, ep, dir, NULL, false);
    CHECK_EQ_INT(got_reply(plain), 0);
    zmq_close(alice), zmq_close(mallory), zmq_close(plain);

    /* The same for the live publisher, here on a "remote" wildcard address,
     * allowed because CURVE is configured. */
    nd_publisher_options po = {.endpoint = "tcp://*:*", .curve = &cs};
    nd_publisher *pub = nd_publisher_open(zctx, &po, err, sizeof err);
    CHECK(pub != NULL);
    if (pub) {
        char pep[256];
        size_t l = sizeof pep;
        zmq_getsockopt(nd_publisher_socket(pub), ZMQ_LAST_ENDPOINT, pep, &l);
        char cep[300];
        snprintf(cep, sizeof cep, "tcp://127.0.0.1:%s", strrchr(pep, ':') + 1);
        CHECK_EQ_INT(sub_receives(zctx, pub, cep, dir, "alice", true), 1);
        CHECK_EQ_INT(sub_receives(zctx, pub, cep, dir, "mallory", true), 0);
        CHECK_EQ_INT(sub_receives(zctx, pub, cep, dir, NULL, false), 0);
        nd_publisher_close(pub);
    }
    /* Without keys the wildcard bind is refused. */
    po.curve = NULL;
    CHECK(nd_publisher_open(zctx, &po, err, sizeof err) == NULL);
    CHECK(strstr(err, "not a loopback address") != NULL);

    unsigned long long acc = 0, ref = 0;
    nd_zap_counts(zap, &acc, &ref);
    CHECK(acc >= 2);
    CHECK(ref >= 2);
    nd_control_stop(ctl);
    nd_zap_stop(zap);
    nd_curve_server_free(&cs);
    zmq_ctx_term(zctx);
}

int main(void)
{
    test_classify();
    test_curve();
    return nd_test_finish("test_zsec");
}
