/* nordic-bench-latency: how long a sample set takes from its arrival at the
 * driver (nd_sample.host_ns, CLOCK_MONOTONIC) to its delivery at a ZeroMQ SUB
 * client, through the real nordicd (sim device -> ring -> metrics pass ->
 * publisher thread -> `wave` topic). Each wave block carries host_ns of its
 * newest set and host_ns_oldest of its oldest; the SUB, on the same machine,
 * subtracts both from its own clock. Two settings: decimation 1 (a block of
 * 50 sets goes out when full, or with the live message), and the shipped
 * defaults (decimation 10: a point is the mean of 10 sets). Neither includes
 * the time a set waits in the transport before the driver reads it: with the
 * default read coalescing (drivers/DRIVERS.md) up to 25 ms for the oldest set
 * of a read, ~0 for the newest.
 *
 * Peer, in the same run: a bare libzmq PUB -> SUB hop on the same transport
 * with messages of the same size and rate (the transport's own floor). The
 * ratio says what the daemon's pipeline adds on top of ZeroMQ itself.
 *
 * Usage: nordic-bench-latency [--nordicd PATH] [--seconds S]   (target p99 < 5 ms) */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <cjson/cJSON.h>

#include "nd_device.h"

#ifndef NORDIC_BINARY_DIR
#define NORDIC_BINARY_DIR "."
#endif

extern char **environ;

typedef struct lat {
    double *v;
    size_t n, cap;
    size_t bytes;       /* of the last message, to size the peer's */
    struct lat *oldest; /* if set: delays of each block's oldest set */
} lat;

static void lat_add(lat *l, double us)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = us;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(lat *l, double p)
{
    if (!l->n) return NAN;
    qsort(l->v, l->n, sizeof *l->v, cmp_double);
    size_t i = (size_t)ceil(p / 100.0 * (double)l->n);
    return l->v[i ? i - 1 : 0];
}

/* Receives for `seconds`, skipping the first `warm` seconds; the payload's
 * "host_ns" is the send/arrival stamp. */
static void collect(void *sub, double seconds, double warm, lat *out)
{
    uint64_t t0 = nd_monotonic_ns();
    uint64_t end = t0 + (uint64_t)((warm + seconds) * 1e9), from = t0 + (uint64_t)(warm * 1e9);
    char buf[65536];
    while (nd_monotonic_ns() < end) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0) continue;
        char topic[16];
        if (zmq_recv(sub, topic, sizeof topic, 0) < 0) continue;
        int n = zmq_recv(sub, buf, sizeof buf - 1, 0);
        uint64_t now = nd_monotonic_ns();
        if (n <= 0 || n >= (int)sizeof buf) continue;
        buf[n] = '\0';
        cJSON *j = cJSON_Parse(buf);
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "host_ns");
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "host_ns_oldest");
        if (cJSON_IsNumber(h) && now >= from) {
            lat_add(out, ((double)now - h->valuedouble) / 1e3);
            out->bytes = (size_t)n;
            if (out->oldest && cJSON_IsNumber(o))
                lat_add(out->oldest, ((double)now - o->valuedouble) / 1e3);
        }
        cJSON_Delete(j);
    }
}

static void *sub_socket(void *zctx, const char *ep, const char *topic)
{
    void *s = zmq_socket(zctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
    zmq_connect(s, ep);
    return s;
}

/* --- the daemon run */
static int run_daemon(const char *nordicd, const char *dir, int rate, const char *pub,
                      bool defaults, double seconds, lat *out)
{
    char conf[600], dev[128], data[600], ctl[700];
    snprintf(conf, sizeof conf, "%s/bench.ini", dir);
    FILE *f = fopen(conf, "w");
    if (!f) return -1;
    fprintf(f, defaults ? "# the shipped defaults\n" : "[live]\nwave_decimation = 1\n");
    fclose(f);
    snprintf(dev, sizeof dev, "sim:?rate=%d&reps=100000&rest=1", rate);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(ctl, sizeof ctl, "ipc://%s/ctl", dir);
    char *argv[] = {
        (char *)nordicd, "--config", conf,    "--device", dev,     "--data-dir", data,
        "--state-dir",   data,       "--ctl", ctl,        "--pub", (char *)pub,  "--log-level",
        "warning",       NULL};
    pid_t pid;
    if (posix_spawn(&pid, nordicd, NULL, NULL, argv, environ) != 0) {
        fprintf(stderr, "cannot run %s\n", nordicd);
        return -1;
    }
    void *zctx = zmq_ctx_new();
    void *sub = sub_socket(zctx, pub, "wave");
    collect(sub, seconds, 1.0, out);
    zmq_close(sub);
    zmq_ctx_term(zctx);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    return 0;
}

/* --- the peer: bare PUB -> SUB with the same size and message rate */
typedef struct peer_args {
    void *pub;
    double msg_hz, seconds;
    size_t bytes;
    atomic_bool stop;
} peer_args;

static void *peer_publisher(void *arg)
{
    peer_args *a = arg;
    char *buf = malloc(a->bytes + 64);
    uint64_t period = (uint64_t)(1e9 / a->msg_hz), next = nd_monotonic_ns();
    while (!atomic_load(&a->stop)) {
        uint64_t now;
        while ((now = nd_monotonic_ns()) < next) {
            struct timespec ts = {0, (long)(next - now)};
            nanosleep(&ts, NULL);
        }
        next += period;
        int n = snprintf(buf, a->bytes + 64, "{\"host_ns\":%llu,\"pad\":\"",
                         (unsigned long long)nd_monotonic_ns());
        while ((size_t)n < a->bytes - 2) buf[n++] = 'x';
        buf[n++] = '"', buf[n++] = '}';
        zmq_send(a->pub, "wave", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(a->pub, buf, (size_t)n, ZMQ_DONTWAIT);
    }
    free(buf);
    return NULL;
}

static void run_peer(const char *ep, double msg_hz, size_t bytes, double seconds, lat *out)
{
    void *zctx = zmq_ctx_new();
    void *pub = zmq_socket(zctx, ZMQ_PUB);
    int linger = 0;
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_bind(pub, ep);
    void *sub = sub_socket(zctx, ep, "wave");
    peer_args a = {
        .pub = pub, .msg_hz = msg_hz, .seconds = seconds, .bytes = bytes < 64 ? 64 : bytes};
    atomic_init(&a.stop, false);
    pthread_t th;
    pthread_create(&th, NULL, peer_publisher, &a);
    collect(sub, seconds, 0.5, out);
    atomic_store(&a.stop, true);
    pthread_join(th, NULL);
    zmq_close(sub);
    zmq_close(pub);
    zmq_ctx_term(zctx);
}

int main(int argc, char **argv)
{
    const char *nordicd = NORDIC_BINARY_DIR "/daemon/nordicd";
    double seconds = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--nordicd") && i + 1 < argc)
            nordicd = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: nordic-bench-latency [--nordicd PATH] [--seconds S]\n");
            return 2;
        }
    }
    if (access(nordicd, X_OK) != 0) {
        fprintf(stderr, "nordic-bench-latency: %s not found (build nordicd or pass --nordicd)\n",
                nordicd);
        return 2;
    }
    char dir[] = "/tmp/nordic-bench-latency.XXXXXX";
    if (!mkdtemp(dir)) return 2;

    printf("sample arrival at the driver -> delivery at a SUB (wave topic): the newest and the "
           "oldest set of each block\npeer: bare libzmq PUB->SUB, same transport, message size "
           "and rate\n\n");
    printf("%-6s %-5s %-6s | %6s %9s %9s %9s | %9s %9s | %9s %9s | %8s | %s\n", "rate", "via",
           "wave", "msgs", "p50 us", "p99 us", "max us", "old p50", "old p99", "peer p50",
           "peer p99", "p99 x", "p99 < 5 ms");
    int rates[] = {1000, 10000};
    const char *vias[] = {"ipc", "tcp"};
    int port = 20000 + (int)(getpid() % 20000);
    int all_ok = 1;
    for (int mode = 0; mode < 2; mode++) {
        bool defaults = mode == 1;
        for (int r = 0; r < 2; r++) {
            for (int v = 0; v < 2; v++) {
                char ep[700], peer_ep[700];
                if (v == 0) {
                    snprintf(ep, sizeof ep, "ipc://%s/pub", dir);
                    snprintf(peer_ep, sizeof peer_ep, "ipc://%s/peer", dir);
                } else {
                    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port++);
                    snprintf(peer_ep, sizeof peer_ep, "tcp://127.0.0.1:%d", port++);
                }
                lat old = {0}, d = {.oldest = &old}, p = {0};
                if (run_daemon(nordicd, dir, rates[r], ep, defaults, seconds, &d) || d.n == 0) {
                    fprintf(stderr, "no wave messages from nordicd at %d Hz via %s\n", rates[r],
                            vias[v]);
                    all_ok = 0;
                    continue;
                }
                double msg_hz = d.n / seconds;
                run_peer(peer_ep, msg_hz, d.bytes, seconds, &p);
                double d50 = pct(&d, 50), d99 = pct(&d, 99), dmax = pct(&d, 100);
                double o50 = pct(&old, 50), o99 = pct(&old, 99);
                double p50 = pct(&p, 50), p99 = pct(&p, 99);
                bool ok = d99 < 5000;
                all_ok &= ok;
                printf("%-6d %-5s %-6s | %6zu %9.1f %9.1f %9.1f | %9.1f %9.1f | %9.1f %9.1f | "
                       "%8.2f | %s\n",
                       rates[r], vias[v], defaults ? "dec10" : "dec1", d.n, d50, d99, dmax, o50,
                       o99, p50, p99, d99 / p99, ok ? "yes" : "NO");
                free(d.v);
                free(old.v);
                free(p.v);
            }
        }
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    /* A benchmark reports; it does not fail the `bench` chain on a missed
     * target (the table says which rows met it). */
    printf("newest set p99 < 5 ms (issue 18): %s\n",
           all_ok ? "met in every row" : "missed in some rows");
    return 0;
}
