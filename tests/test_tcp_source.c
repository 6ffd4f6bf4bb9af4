/* tcp: source end to end: a peer thread on 127.0.0.1 (ephemeral port) sends
 * NFP/1 frames, goes away (connection and listener closed), comes back later
 * on the same port, and the device reconnects by itself. Checks events,
 * counters, reconnect/gap flags, that every set sent while connected arrives,
 * device commands, stop during streaming and during back-off, and errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nd_capture.h"
#include "nd_device.h"
#include "nd_nfp.h"
#include "test_util.h"

#define NSETS      4
#define N1_FRAMES  250
#define N2_FRAMES  300
#define SKIP_SETS  37 /* sets the device "produced" while the link was down */
#define TOTAL_SETS ((N1_FRAMES + N2_FRAMES) * NSETS)

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- what the device delivered ---- */

/* Room for every set the peer sends, and a few events. */
static void capture_init(nd_capture *col)
{
    if (nd_capture_init(col, TOTAL_SETS + 64, 32) != 0) {
        fprintf(stderr, "no memory for the capture\n");
        abort();
    }
}

/* ---- the device runs on its own thread ---- */

typedef struct runner {
    pthread_t thread;
    nd_device *dev;
    atomic_bool stop;
    atomic_bool returned;
    int rc;
    uint64_t returned_ns;
} runner;

static void *run_thread(void *arg)
{
    runner *r = arg;
    r->rc = nd_device_run(r->dev, &r->stop);
    r->returned_ns = nd_monotonic_ns();
    atomic_store(&r->returned, true);
    return NULL;
}

/* Request stop and return how long run() took to return, in ms. */
static double stop_and_join(runner *r)
{
    uint64_t t0 = nd_monotonic_ns();
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    return (double)(r->returned_ns - t0) / 1e6;
}

/* ---- the peer ---- */

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4) < 0) {
        perror("bind/listen");
        close(fd);
        return -1;
    }
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

static void send_all(int fd, const uint8_t *b, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k <= 0) {
            perror("send");
            return;
        }
        b += k;
        n -= (size_t)k;
    }
}

typedef struct peer {
    pthread_t thread;
    int listen_fd;
    int port;
    uint64_t bytes_sent;
    char command[64]; /* what the device sent us */
    atomic_bool go_away, finish;
} peer;

static void send_session(peer *p, int fd, uint32_t seq0, int frames)
{
    uint8_t f[NFP_MAX_FRAME(NFP_MAX_INFO_BODY)];
    size_t n = nfp_encode_info(f, sizeof f,
                               "{\"model\":\"TCP-T\",\"serial\":\"1\",\"rate_hz\":1000,\"nch\":2}");
    send_all(fd, f, n);
    p->bytes_sent += n;
    for (int i = 0; i < frames; i++) {
        int32_t raw[NSETS * 2];
        uint32_t seq = seq0 + (uint32_t)i * NSETS;
        for (int k = 0; k < NSETS * 2; k++) raw[k] = (int32_t)(seq * 2 + (uint32_t)k);
        n = nfp_encode_samples(f, sizeof f, seq, seq * 1000u, 2, NSETS, raw);
        send_all(fd, f, n);
        p->bytes_sent += n;
    }
}

static void *peer_thread(void *arg)
{
    peer *p = arg;
    int c = accept(p->listen_fd, NULL, NULL);
    send_session(p, c, 0, N1_FRAMES);
    /* Read the command line the test sends through the device. */
    size_t got = 0;
    struct timeval tv = {5, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (got < sizeof p->command - 1 && !memchr(p->command, '\n', got)) {
        ssize_t k = recv(c, p->command + got, sizeof p->command - 1 - got, 0);
        if (k <= 0) break;
        got += (size_t)k;
    }
    while (!atomic_load(&p->go_away)) sleep_ms(5);
    /* Gone: connection and listener closed, so reconnects are refused. */
    close(c);
    close(p->listen_fd);
    sleep_ms(400);
    p->listen_fd = listen_on(p->port);
    c = accept(p->listen_fd, NULL, NULL);
    send_session(p, c, N1_FRAMES * NSETS + SKIP_SETS, N2_FRAMES);
    while (!atomic_load(&p->finish)) sleep_ms(5);
    close(c);
    close(p->listen_fd);
    return NULL;
}

static void test_reconnect(void)
{
    static nd_capture col;
    capture_init(&col);
    static peer p;
    p.listen_fd = listen_on(0);
    p.port = port_of(p.listen_fd);
    pthread_create(&p.thread, NULL, peer_thread, &p);

    char uri[128], err[256];
    snprintf(uri, sizeof uri, "tcp:127.0.0.1:%d?proto=nfp&connect_timeout_ms=500", p.port);
    nd_sink sink = nd_capture_sink(&col);
    static runner r;
    CHECK_EQ_INT(nd_device_open(uri, &sink, &r.dev, err, sizeof err), 0);
    if (!r.dev) {
        fprintf(stderr, "open: %s\n", err);
        nd_capture_free(&col);
        return;
    }
    CHECK(nd_device_connected(r.dev));
    pthread_create(&r.thread, NULL, run_thread, &r);

    CHECK(nd_capture_wait_sets(&col, N1_FRAMES * NSETS, 10000));
    CHECK_EQ_INT(nd_device_command(r.dev, "tare", err, sizeof err), 0);
    atomic_store(&p.go_away, true);
    CHECK(nd_capture_wait_sets(&col, TOTAL_SETS, 10000));
    CHECK(nd_device_connected(r.dev));
    double stop_ms = stop_and_join(&r);
    printf("stop while streaming took %.1f ms\n", stop_ms);
    CHECK(stop_ms < 1000); /* read timeout is 100 ms */
    CHECK_EQ_INT(r.rc, 0);
    atomic_store(&p.finish, true);
    pthread_join(p.thread, NULL);

    CHECK(strcmp(p.command, "tare\n") == 0);
    /* Every set sent while connected arrived, in order, with the right values. */
    CHECK_EQ_INT(col.nsets, TOTAL_SETS);
    bool in_order = true;
    for (size_t i = 0; i < col.nsets; i++) {
        uint64_t want = i < N1_FRAMES * NSETS ? i : i + SKIP_SETS;
        /* The peer sends raw = 2*seq, 2*seq+1 for every set. */
        in_order = in_order && col.sets[i].seq == want &&
                   col.sets[i].raw[0] == (int32_t)(want * 2) &&
                   col.sets[i].raw[1] == (int32_t)(want * 2 + 1);
    }
    CHECK(in_order);
    size_t first_back = N1_FRAMES * NSETS;
    CHECK_EQ_INT(col.sets[first_back].flags, ND_SAMPLE_AFTER_GAP | ND_SAMPLE_AFTER_RECONNECT);
    CHECK_EQ_INT(col.sets[first_back].gap_sets, SKIP_SETS);
    CHECK_EQ_INT(col.sets[first_back - 1].flags, 0);
    CHECK_EQ_INT(col.sets[first_back + 1].flags, 0);
    /* Events in order: lost, back, then the gap the outage caused. */
    CHECK_EQ_INT(col.nevents, 3);
    CHECK_EQ_INT(col.events[0].kind, ND_EV_DEVICE_LOST);
    CHECK_EQ_INT(col.events[1].kind, ND_EV_DEVICE_BACK);
    CHECK_EQ_INT(col.events[2].kind, ND_EV_GAP);
    CHECK_EQ_INT(col.events[2].count, SKIP_SETS);
    CHECK_EQ_INT(col.events[2].seq, N1_FRAMES * NSETS);
    const nd_counters *k = nd_device_counters(r.dev);
    CHECK_EQ_INT(atomic_load(&k->disconnects), 1);
    CHECK_EQ_INT(atomic_load(&k->reconnects), 1);
    CHECK_EQ_INT(atomic_load(&k->sets), TOTAL_SETS);
    CHECK_EQ_INT(atomic_load(&k->gaps), 1);
    CHECK_EQ_INT(atomic_load(&k->gap_sets), SKIP_SETS);
    CHECK_EQ_INT(atomic_load(&k->bytes), p.bytes_sent);
    CHECK_EQ_INT(atomic_load(&k->frames_ok), N1_FRAMES + N2_FRAMES + 2);
    nd_device_info info;
    CHECK(nd_device_get_info(r.dev, &info) && strcmp(info.model, "TCP-T") == 0);
    nd_device_close(r.dev);
    nd_capture_free(&col);
}

/* The peer vanishes for good: the device keeps retrying with back-off and a
 * stop request still ends run() promptly. */
static void *vanish_thread(void *arg)
{
    int *fds = arg;
    int c = accept(fds[0], NULL, NULL);
    close(c);
    close(fds[0]);
    return NULL;
}

static void test_stop_during_backoff(void)
{
    static nd_capture col;
    capture_init(&col);
    int fds[1] = {listen_on(0)};
    int port = port_of(fds[0]);
    pthread_t t;
    pthread_create(&t, NULL, vanish_thread, fds);
    char uri[96], err[256];
    snprintf(uri, sizeof uri, "tcp:localhost:%d", port);
    nd_sink sink = nd_capture_sink(&col);
    static runner r;
    CHECK_EQ_INT(nd_device_open(uri, &sink, &r.dev, err, sizeof err), 0);
    if (!r.dev) {
        nd_capture_free(&col);
        return;
    }
    pthread_create(&r.thread, NULL, run_thread, &r);
    pthread_join(t, NULL);
    CHECK(nd_capture_wait_events(&col, ND_EV_DEVICE_LOST, 1, 10000));
    sleep_ms(900); /* several refused attempts: 100, 200, 400 ms waits */
    CHECK(!nd_device_connected(r.dev));
    CHECK(!atomic_load(&r.returned));
    double stop_ms = stop_and_join(&r);
    printf("stop during back-off took %.1f ms\n", stop_ms);
    CHECK(stop_ms < 1000);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(r.dev)->disconnects), 1);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(r.dev)->reconnects), 0);
    CHECK_EQ_INT(nd_capture_count_events(&col, ND_EV_DEVICE_BACK), 0);
    nd_device_close(r.dev);
    nd_capture_free(&col);
}

static void test_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1) < 0) {
        nd_test_prerequisite_missing("IPv6 loopback unavailable: [::1] case");
        if (fd >= 0) close(fd);
        return;
    }
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    static nd_capture col;
    capture_init(&col);
    char uri[96], err[256];
    snprintf(uri, sizeof uri, "tcp:[::1]:%d", ntohs(a.sin6_port));
    nd_sink sink = nd_capture_sink(&col);
    nd_device *dev = NULL;
    CHECK_EQ_INT(nd_device_open(uri, &sink, &dev, err, sizeof err), 0);
    int c = accept(fd, NULL, NULL);
    uint8_t f[64];
    const int32_t raw[2] = {11, -22};
    size_t n = nfp_encode_samples(f, sizeof f, 9, 0, 2, 1, raw);
    send_all(c, f, n);
    close(c); /* then the device sees the peer leave */
    static runner r;
    r.dev = dev;
    if (!dev) {
        nd_capture_free(&col);
        return;
    }
    pthread_create(&r.thread, NULL, run_thread, &r);
    CHECK(nd_capture_wait_events(&col, ND_EV_DEVICE_LOST, 1, 10000));
    stop_and_join(&r);
    CHECK_EQ_INT(col.nsets, 1);
    CHECK_EQ_INT(col.sets[0].seq, 9);
    CHECK_EQ_INT(col.sets[0].raw[1], -22);
    nd_device_close(dev);
    nd_capture_free(&col);
    close(fd);
}

static void test_open_errors(void)
{
    int fd = listen_on(0);
    int port = port_of(fd);
    close(fd); /* nobody listens there now */
    char uri[96], err[256] = "";
    nd_device *dev = NULL;
    snprintf(uri, sizeof uri, "tcp:127.0.0.1:%d", port);
    CHECK_EQ_INT(nd_device_open(uri, NULL, &dev, err, sizeof err), -1);
    CHECK(dev == NULL);
    CHECK(strstr(err, "cannot connect to 127.0.0.1 port") && strstr(err, "refused"));
    CHECK_EQ_INT(nd_device_open("tcp:no-such-host.invalid:7000", NULL, &dev, err, sizeof err), -1);
    CHECK(strstr(err, "cannot resolve 'no-such-host.invalid'"));
    CHECK_EQ_INT(nd_device_open("tcp::7000", NULL, &dev, err, sizeof err), -1);
    CHECK(strstr(err, "empty"));
    CHECK_EQ_INT(
        nd_device_open("tcp:127.0.0.1:80?connect_timeout_ms=0", NULL, &dev, err, sizeof err), -1);
    CHECK(strstr(err, "connect_timeout_ms=0") && strstr(err, "1..60000"));
}

int main(void)
{
    test_open_errors();
    test_reconnect();
    test_stop_during_backoff();
    test_ipv6();
    return nd_test_finish("test_tcp_source");
}
