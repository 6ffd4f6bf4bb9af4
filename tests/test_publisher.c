/* Live publisher over a real SUB socket: every topic arrives as two frames
 * with correct JSON, "v", per-topic "seq", "t" and "trial_id"; a late
 * subscriber gets the status description at once; a subscriber that never
 * reads does not block publishing and its losses show up as seq gaps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "nd_publisher.h"
#include "test_util.h"

static void *sub_socket(void *zctx, const char *ep, int rcvhwm)
{
    void *s = zmq_socket(zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (rcvhwm) zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect(s, ep);
    return s;
}

/* Receives one two-frame message within timeout_ms; returns parsed JSON. */
static cJSON *recv_msg(void *s, char *topic, size_t topiclen, int timeout_ms)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) return NULL;
    int n = zmq_recv(s, topic, topiclen - 1, 0);
    if (n < 0) return NULL;
    topic[n] = '\0';
    int more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ml);
    if (!more) return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, s, 0);
    cJSON *j = cJSON_ParseWithLength(zmq_msg_data(&m), zmq_msg_size(&m));
    zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ml);
    CHECK_EQ_INT(more, 0); /* exactly two frames */
    zmq_msg_close(&m);
    return j;
}

/* Receives one two-frame message as raw text (NUL-terminated) within timeout_ms. */
static int recv_text(void *s, char *topic, size_t topiclen, char *text, size_t textlen,
                     int timeout_ms)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) return -1;
    int n = zmq_recv(s, topic, topiclen - 1, 0);
    if (n < 0) return -1;
    topic[n] = '\0';
    n = zmq_recv(s, text, textlen - 1, 0);
    if (n < 0 || (size_t)n >= textlen) return -1;
    text[n] = '\0';
    return n;
}

/* Occurrences of needle in s. */
static int count(const char *s, const char *needle)
{
    int c = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++) c++;
    return c;
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static bool is_null(const cJSON *o, const char *name)
{
    return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, name));
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void fill_status(nd_status_snapshot *st)
{
    memset(st, 0, sizeof *st);
    strcpy(st->state, "recording");
    strcpy(st->trial_id, "T1");
    strcpy(st->athlete_id, "A17");
    strcpy(st->file, "/data/A17.h5");
    strcpy(st->device_uri, "sim:?rate=1000");
    st->device_connected = true;
    st->have_device_info = true;
    strcpy(st->device.model, "nordic-sim");
    strcpy(st->device.serial, "SIM-1");
    st->device.rate_hz = 1000;
    st->device.nch = 2;
    strcpy(st->device.channel_names[0], "left");
    strcpy(st->device.channel_names[1], "right");
    st->device.counts_per_newton[0] = 1000;
    st->right_channel = 1;
    st->calib_gain[0] = st->calib_gain[1] = 0.001;
    st->samples = 12345;
    st->gaps = 2;
    st->gap_sets = 7;
    st->bad_frames = 3;
    st->device_overflows = 1;
}

static void test_topics(void *zctx)
{
    char err[256];
    nd_publisher_options po = {.endpoint = "tcp://127.0.0.1:*"};
    nd_publisher *p = nd_publisher_open(zctx, &po, err, sizeof err);
    CHECK(p != NULL);
    if (!p) return;
    char ep[256];
    size_t l = sizeof ep;
    zmq_getsockopt(nd_publisher_socket(p), ZMQ_LAST_ENDPOINT, ep, &l);

    nd_status_snapshot st;
    fill_status(&st);
    CHECK_EQ_INT(nd_publish_status(p, "T1", 1.5, &st), 0); /* nobody listens yet */

    /* A late subscriber receives the last status as soon as it subscribes. */
    void *s = sub_socket(zctx, ep, 0);
    char topic[32];
    cJSON *j = NULL;
    for (int i = 0; i < 300 && !j; i++) {
        nd_publisher_service(p);
        j = recv_msg(s, topic, sizeof topic, 10);
    }
    CHECK(j != NULL);
    if (!j) return;
    CHECK(!strcmp(topic, "status"));
    CHECK_NEAR(num(j, "v"), 1, 0);
    CHECK_NEAR(num(j, "seq"), 1, 0); /* seq 0 went to nobody */
    CHECK_NEAR(num(j, "t"), 1.5, 1e-12);
    CHECK(!strcmp(str(j, "trial_id"), "T1"));
    CHECK(num(j, "uptime_s") >= 0);
    CHECK(!strcmp(str(j, "state"), "recording"));
    CHECK_NEAR(num(j, "rate_hz"), 1000, 0);
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(j, "device");
    CHECK(!strcmp(str(dev, "model"), "nordic-sim"));
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(dev, "channel_names");
    CHECK_EQ_INT(cJSON_GetArraySize(names), 2);
    const cJSON *cpn = cJSON_GetObjectItemCaseSensitive(dev, "counts_per_newton");
    CHECK(cJSON_IsNull(cJSON_GetArrayItem(cpn, 1))); /* unknown = null */
    const cJSON *chans = cJSON_GetObjectItemCaseSensitive(j, "channels");
    CHECK_EQ_INT(cJSON_GetArraySize(chans), 2);
    CHECK(!strcmp(str(cJSON_GetArrayItem(chans, 1), "name"), "right"));
    CHECK(!strcmp(str(cJSON_GetArrayItem(chans, 1), "unit"), "N"));
    const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(j, "counters");
    CHECK_NEAR(num(cnt, "samples"), 12345, 0);
    CHECK_NEAR(num(cnt, "gaps"), 2, 0);
    CHECK_NEAR(num(cnt, "dropped"), 1, 0);
    CHECK_NEAR(num(cnt, "bad_frames"), 3, 0);
    CHECK_NEAR(num(cnt, "live_dropped_msgs"), 0, 0);
    CHECK(is_null(j, "last_error"));
    cJSON_Delete(j);

    /* One of each topic, in order. */
    nd_live_msg live;
    memset(&live, 0, sizeof live);
    live.state.force_N[0] = 120.5, live.state.force_N[1] = 100.25;
    live.state.rep_open = true;
    live.state.running_peak_N[0] = 300;
    live.host_ns = 123456789;
    nd_rep_result rep;
    memset(&rep, 0, sizeof rep);
    rep.index = 1, rep.t_open_s = 2, rep.t_end_s = 5.5;
    rep.peak_N[0] = 310.5, rep.peak_N[1] = 275.25;
    rep.asymmetry_pct = 11.35, rep.abs_asymmetry_pct = 11.35;
    rep.weaker_side = ND_SIDE_RIGHT;
    rep.lsi_pct = NAN, rep.torque_Nm[0] = NAN, rep.torque_Nm[1] = NAN;
    rep.impulse_Ns[0] = 650.5;
    nd_trial_msg ti;
    memset(&ti, 0, sizeof ti);
    strcpy(ti.trial_id, "T1");
    strcpy(ti.athlete_id, "A17");
    strcpy(ti.protocol, "3x6");
    ti.subject.body_mass_kg = 82;
    ti.sample_rate_hz = 1000;
    nd_metric_settings_default(&ti.settings);
    nd_trial_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.reps = 3, sum.max_N[0] = 320, sum.max_N[1] = 240, sum.imbalance = true,
    sum.weak_right = true, sum.pain_rating = 4, sum.pain = true;
    nd_wave_builder wb;
    CHECK_EQ_INT(nd_wave_init(&wb, 2, 4, 100), 0);
    int full = 0;
    for (int i = 0; i < 8; i++) full += nd_wave_push(&wb, i * 0.01, i, -i, 1000 + i);
    CHECK_EQ_INT(full, 1);

    CHECK_EQ_INT(nd_publish_trial_start(p, 0, &ti), 0);
    CHECK_EQ_INT(nd_publish_live(p, "T1", 2.25, &live), 0);
    CHECK_EQ_INT(nd_publish_rep(p, "T1", 5.5, &rep), 0);
    CHECK_EQ_INT(nd_publish_wave(p, "T1", 0.07, &wb.block), 0);
    CHECK_EQ_INT(nd_publish_trial_stop(p, 9, &ti, &sum), 0);
    CHECK_EQ_INT(nd_publish_live(p, NULL, 0, &live), 0); /* after the trial */

    const char *want[] = {"trial", "live", "rep", "wave", "trial", "live"};
    for (int k = 0; k < 6; k++) {
        j = recv_msg(s, topic, sizeof topic, 2000);
        CHECK(j != NULL);
        if (!j) return;
        CHECK(!strcmp(topic, want[k]));
        CHECK_NEAR(num(j, "v"), 1, 0);
        switch (k) {
        case 0:
            CHECK_NEAR(num(j, "seq"), 0, 0);
            CHECK(!strcmp(str(j, "event"), "start"));
            CHECK(!strcmp(str(j, "protocol"), "3x6"));
            CHECK_NEAR(num(j, "body_mass_kg"), 82, 0);
            CHECK(is_null(j, "lever_m"));
            CHECK_NEAR(num(cJSON_GetObjectItemCaseSensitive(j, "settings"), "on_N"), 100, 0);
            break;
        case 1:
            CHECK_NEAR(num(j, "seq"), 0, 0);
            CHECK_NEAR(num(j, "t"), 2.25, 0);
            CHECK_NEAR(num(j, "left_N"), 120.5, 0);
            CHECK_NEAR(num(j, "total_N"), 220.75, 0);
            CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "rep_open")));
            CHECK_NEAR(num(j, "running_peak_left_N"), 300, 0);
            CHECK_NEAR(num(j, "host_ns"), 123456789, 0);
            break;
        case 2:
            CHECK_NEAR(num(j, "seq"), 0, 0);
            CHECK_NEAR(num(j, "index"), 1, 0);
            CHECK_NEAR(num(j, "peak_left_N"), 310.5, 0);
            CHECK_NEAR(num(j, "peak_right_N"), 275.25, 0);
            CHECK_NEAR(num(j, "duration_s"), 3.5, 1e-12);
            CHECK_NEAR(num(j, "impulse_left_Ns"), 650.5, 0);
            CHECK(!strcmp(str(j, "weaker_side"), "right"));
            CHECK(is_null(j, "lsi_pct"));
            CHECK(is_null(j, "torque_left_Nm"));
            break;
        case 3: {
            CHECK_NEAR(num(j, "n"), 4, 0);
            CHECK_NEAR(num(j, "dt"), 0.02, 1e-12);
            CHECK_NEAR(num(j, "t0"), 0, 1e-12);
            const cJSON *lw = cJSON_GetObjectItemCaseSensitive(j, "left_N");
            CHECK_EQ_INT(cJSON_GetArraySize(lw), 4);
            CHECK_NEAR(cJSON_GetArrayItem(lw, 0)->valuedouble, 0.5, 1e-12); /* mean(0,1) */
            CHECK_NEAR(cJSON_GetArrayItem(lw, 3)->valuedouble, 6.5, 1e-12);
            CHECK_NEAR(num(j, "host_ns"), 1007, 0);
            break;
        }
        case 4: {
            CHECK_NEAR(num(j, "seq"), 1, 0);
            CHECK(!strcmp(str(j, "event"), "stop"));
            const cJSON *sm = cJSON_GetObjectItemCaseSensitive(j, "summary");
            CHECK_NEAR(num(sm, "max_left_N"), 320, 0);
            CHECK_NEAR(num(sm, "pain_rating"), 4, 0);
            const cJSON *flags = cJSON_GetObjectItemCaseSensitive(sm, "flags");
            CHECK_EQ_INT(cJSON_GetArraySize(flags), 3); /* weak_right, imbalance, pain */
            break;
        }
        case 5:
            CHECK_NEAR(num(j, "seq"), 1, 0);
            CHECK(is_null(j, "t"));
            CHECK(cJSON_GetObjectItemCaseSensitive(j, "trial_id") == NULL);
            break;
        }
        cJSON_Delete(j);
    }

    /* A message that could not be built is counted and leaves a seq gap. */
    CHECK_EQ_INT(nd_publish_json(p, ND_TOPIC_LIVE, NULL, 0, NULL), -1);
    CHECK_EQ_INT(nd_publish_live(p, NULL, 0, &live), 0);
    j = recv_msg(s, topic, sizeof topic, 2000);
    CHECK(j && num(j, "seq") == 3);
    cJSON_Delete(j);
    nd_publisher_stats ps;
    nd_publisher_get_stats(p, &ps);
    CHECK_EQ_INT(ps.dropped[ND_TOPIC_LIVE], 1);
    CHECK_EQ_INT(ps.seq[ND_TOPIC_LIVE], 4);
    CHECK_EQ_INT(nd_publisher_drops(p), 1);
    CHECK(ps.subscriptions >= 1);
    zmq_close(s);
    nd_publisher_close(p);
}

/* A subscriber that never reads: publishing 200k messages completes (never
 * blocks), and when it finally reads it sees seq gaps (its losses). */
static void test_stalled_subscriber(void *zctx)
{
    char err[256];
    nd_publisher_options po = {.endpoint = "tcp://127.0.0.1:*", .sndhwm = 100};
    nd_publisher *p = nd_publisher_open(zctx, &po, err, sizeof err);
    CHECK(p != NULL);
    if (!p) return;
    char ep[256];
    size_t l = sizeof ep;
    zmq_getsockopt(nd_publisher_socket(p), ZMQ_LAST_ENDPOINT, ep, &l);
    void *stalled = sub_socket(zctx, ep, 100);
    /* Wait until the subscription is in place. */
    nd_live_msg live;
    memset(&live, 0, sizeof live);
    char topic[32];
    cJSON *j = NULL;
    for (int i = 0; i < 300 && !j; i++) {
        nd_publish_live(p, NULL, 0, &live);
        j = recv_msg(stalled, topic, sizeof topic, 10);
    }
    CHECK(j != NULL);
    double first_seq = j ? num(j, "seq") : 0;
    cJSON_Delete(j);

    enum { N = 200000 };
    int ok = 0;
    for (int i = 0; i < N; i++) ok += nd_publish_live(p, NULL, 0, &live) == 0;
    CHECK_EQ_INT(ok, N); /* every call returned; none blocked */

    long received = 0, gaps = 0;
    double prev = first_seq;
    bool increasing = true;
    while ((j = recv_msg(stalled, topic, sizeof topic, 200)) != NULL) {
        double seq = num(j, "seq");
        if (!(seq > prev)) increasing = false;
        if (seq != prev + 1) gaps++;
        prev = seq;
        received++;
        cJSON_Delete(j);
    }
    /* Once it has read its queue, the next message gets through and its seq
     * reveals the loss (even when only the tail of the burst was dropped). */
    j = NULL;
    for (int i = 0; i < 300 && !j; i++) {
        nd_publish_live(p, NULL, 0, &live);
        j = recv_msg(stalled, topic, sizeof topic, 10);
    }
    CHECK(j != NULL);
    if (j) {
        double seq = num(j, "seq");
        if (seq != prev + 1) gaps++;
        received++;
        cJSON_Delete(j);
    }
    printf("stalled subscriber: %d published, %ld received, %ld seq gaps\n", N, received, gaps);
    CHECK(increasing);
    CHECK(received < N);
    CHECK(gaps >= 1);
    zmq_close(stalled);
    nd_publisher_close(p);
}

/* The hot topics (written as text, not through cJSON) as a JSON reader sees
 * them: every documented field once, with its JSON type; u64 counters exact
 * beyond 2^53; undefined numbers null; the `set` object of a session; a
 * trial id that needs escaping; and the longest possible wave block whole. */
static void test_hot_messages(void *zctx)
{
    char err[256];
    nd_publisher_options po = {.endpoint = "tcp://127.0.0.1:*"};
    nd_publisher *p = nd_publisher_open(zctx, &po, err, sizeof err);
    CHECK(p != NULL);
    if (!p) return;
    char ep[256];
    size_t l = sizeof ep;
    zmq_getsockopt(nd_publisher_socket(p), ZMQ_LAST_ENDPOINT, ep, &l);
    void *s = sub_socket(zctx, ep, 0);
    nd_live_msg live;
    memset(&live, 0, sizeof live);
    live.state.force_N[0] = NAN; /* undefined: null, and so is the total */
    live.state.force_N[1] = 0.1;
    live.state.running_peak_N[1] = 1.0 / 3;
    live.state.reps = 4;
    live.state.samples = (1ull << 53) + 1;
    live.host_ns = UINT64_MAX;
    live.sets.phase = ND_SET_PHASE_REST;
    live.sets.set = 2, live.sets.sets_planned = 3, live.sets.rep = 6, live.sets.reps_planned = 6;
    live.sets.sets_ended = 1, live.sets.rest_elapsed_s = 12.5, live.sets.rest_remaining_s = 47.5;
    live.sets.last_rep_zone = ND_ZONE_IN;
    live.sets.leg = ND_SIDE_LEFT;
    live.sets.test = ND_TEST_ISOMETRIC;
    live.sets.angle_deg = 30;
    char topic[32];
    static char text[32768];
    int n = -1;
    for (int i = 0; i < 300 && n < 0; i++) { /* until the subscription is in place */
        nd_publish_live(p, "T\"2\\", 2.5, &live);
        n = recv_text(s, topic, sizeof topic, text, sizeof text, 10);
    }
    CHECK(n > 0 && !strcmp(topic, "live"));
    /* Header first, in the order of every other topic. */
    CHECK(!strncmp(text, "{\"v\":1,\"seq\":", 13));
    CHECK(strstr(text, "\"t\":2.5,\"trial_id\":\"T\\\"2\\\\\",\"uptime_s\":") != NULL);
    CHECK(strstr(text, "\"host_ns\":18446744073709551615") != NULL);
    CHECK(strstr(text, "\"samples\":9007199254740993") != NULL);
    const char *live_keys[] = {"v",
                               "seq",
                               "t",
                               "trial_id",
                               "uptime_s",
                               "left_N",
                               "right_N",
                               "total_N",
                               "rep_open",
                               "running_peak_left_N",
                               "running_peak_right_N",
                               "reps",
                               "samples",
                               "host_ns",
                               "set"};
    for (size_t k = 0; k < sizeof live_keys / sizeof live_keys[0]; k++) {
        char key[64];
        snprintf(key, sizeof key, "\"%s\":", live_keys[k]);
        CHECK(count(text, key) == (strcmp(live_keys[k], "set") ? 1 : 2)); /* "set":{"set":2 */
    }
    cJSON *j = cJSON_Parse(text);
    CHECK(j != NULL);
    CHECK_EQ_INT(cJSON_GetArraySize(j), 15);
    CHECK(!strcmp(str(j, "trial_id"), "T\"2\\"));
    CHECK(is_null(j, "left_N") && is_null(j, "total_N"));
    CHECK(num(j, "right_N") == 0.1);
    CHECK(num(j, "running_peak_right_N") == 1.0 / 3); /* exact round trip */
    CHECK(num(j, "running_peak_left_N") == 0);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "rep_open")));
    CHECK(num(j, "reps") == 4);
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(j, "set");
    CHECK(cJSON_IsObject(set) && cJSON_GetArraySize(set) == 12);
    CHECK(!strcmp(str(set, "test"), "isometric") && num(set, "angle_deg") == 30);
    CHECK(!strcmp(str(set, "phase"), "rest") && !strcmp(str(set, "last_rep_zone"), "in"));
    CHECK(!strcmp(str(set, "leg"), "left"));
    CHECK(num(set, "set") == 2 && num(set, "sets_planned") == 3 && num(set, "rep") == 6);
    CHECK(num(set, "reps_planned") == 6 && num(set, "sets_ended") == 1);
    CHECK(num(set, "rest_elapsed_s") == 12.5 && num(set, "rest_remaining_s") == 47.5);
    cJSON_Delete(j);

    /* The longest wave text: every point a 17-digit double beyond the fixed-point range. */
    static nd_wave_block b;
    memset(&b, 0, sizeof b);
    b.n = ND_WAVE_MAX_POINTS, b.decimation = 7, b.t0_s = 0.07, b.dt_s = 0.007;
    b.host_ns = 5000000000ull, b.host_ns_oldest = 4990000000ull;
    for (int i = 0; i < ND_WAVE_MAX_POINTS; i++) {
        b.left_N[i] = -1.2345678901234567e299 * (1 + i * 1e-15);
        b.right_N[i] = i % 3 ? 9.8765432109876543e298 * (1 - i * 1e-15) : INFINITY;
    }
    CHECK_EQ_INT(nd_publish_wave(p, NULL, 0, &b), 0);
    n = recv_text(s, topic, sizeof topic, text, sizeof text, 2000);
    CHECK(n > 10000 && !strcmp(topic, "wave"));
    j = cJSON_Parse(text);
    CHECK(j != NULL);
    CHECK(is_null(j, "t") && cJSON_GetObjectItemCaseSensitive(j, "trial_id") == NULL);
    CHECK(num(j, "t0") == 0.07 && num(j, "dt") == 0.007 && num(j, "decimation") == 7);
    CHECK(num(j, "n") == ND_WAVE_MAX_POINTS);
    CHECK(num(j, "host_ns") == 5000000000.0 && num(j, "host_ns_oldest") == 4990000000.0);
    const cJSON *lw = cJSON_GetObjectItemCaseSensitive(j, "left_N");
    const cJSON *rw = cJSON_GetObjectItemCaseSensitive(j, "right_N");
    CHECK(cJSON_GetArraySize(lw) == ND_WAVE_MAX_POINTS);
    CHECK(cJSON_GetArraySize(rw) == ND_WAVE_MAX_POINTS);
    int wrong = 0;
    for (int i = 0; i < ND_WAVE_MAX_POINTS && lw && rw; i++) {
        const cJSON *a = cJSON_GetArrayItem(lw, i), *c = cJSON_GetArrayItem(rw, i);
        /* ZMQ_PROTOCOL.md: 0.01 N resolution, i.e. round(v * 100) / 100. */
        if (!cJSON_IsNumber(a) || a->valuedouble != round(b.left_N[i] * 100) / 100) wrong++;
        if (i % 3 == 0 ? !cJSON_IsNull(c)
                       : !cJSON_IsNumber(c) || c->valuedouble != round(b.right_N[i] * 100) / 100)
            wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    cJSON_Delete(j);
    nd_publisher_stats ps;
    nd_publisher_get_stats(p, &ps);
    CHECK_EQ_INT(ps.dropped[ND_TOPIC_WAVE] + ps.dropped[ND_TOPIC_LIVE], 0);
    zmq_close(s);
    nd_publisher_close(p);
}

static void test_wave_builder(void)
{
    nd_wave_builder w;
    CHECK_EQ_INT(nd_wave_init(&w, 0, 10, 100), -1);
    CHECK_EQ_INT(nd_wave_init(&w, 1, ND_WAVE_MAX_POINTS + 1, 100), -1);
    CHECK_EQ_INT(nd_wave_init(&w, 1, 10, 0), -1);
    CHECK_EQ_INT(nd_wave_init(&w, 3, 2, 300), 0);
    CHECK_EQ_INT(nd_wave_push(&w, 1.0, 3, 30, 1), 0);
    nd_wave_reset(&w); /* the partial point is dropped */
    int full = 0;
    for (int i = 0; i < 6; i++) full = nd_wave_push(&w, 2.0 + i / 300.0, i, 10 * i, 0);
    CHECK_EQ_INT(full, 1);
    CHECK_EQ_INT(w.block.n, 2);
    CHECK_NEAR(w.block.t0_s, 2.0, 1e-12);
    CHECK_NEAR(w.block.dt_s, 0.01, 1e-12);
    CHECK_NEAR(w.block.left_N[0], 1, 1e-12);
    CHECK_NEAR(w.block.right_N[1], 40, 1e-12);
    nd_wave_clear(&w);
    CHECK_EQ_INT(w.block.n, 0);
    /* The block spans the arrival of its oldest set to its newest. */
    for (int i = 0; i < 4; i++) nd_wave_push(&w, 3.0 + i / 300.0, i, i, 500 + (uint64_t)i);
    CHECK_EQ_INT(w.block.n, 1);
    CHECK(w.block.host_ns_oldest == 500 && w.block.host_ns == 502);
    nd_wave_clear(&w);
    CHECK(w.block.host_ns_oldest == 0 && w.block.host_ns == 0);
}

int main(void)
{
    void *zctx = zmq_ctx_new();
    test_wave_builder();
    test_topics(zctx);
    test_hot_messages(zctx);
    test_stalled_subscriber(zctx);
    CHECK(!strcmp(nd_topic_name(ND_TOPIC_WAVE), "wave"));
    zmq_ctx_term(zctx);
    return nd_test_finish("test_publisher");
}
