/* nordic-bench-station: how long a sample set takes from its arrival at the
 * driver (host_ns, CLOCK_MONOTONIC) to a page's WebSocket through the real
 * nordicd (sim device, default settings) and nordic-station, for the oldest
 * and the newest set of each `wave` block (host_ns_oldest, host_ns); and the
 * station's CPU and RSS with 1 and 10 pages connected.
 *
 * Peer, in the same run: a ZeroMQ SUB on the daemon's live endpoint receiving
 * the same blocks without the station. The difference is what the station
 * (SUB, hub, libwebsockets, TCP to the page) adds.
 *
 * Usage: nordic-bench-station [--seconds S] [--nordicd PATH] [--station PATH] [--www DIR]
 * Goal (issue 13): every sample on the page within 50 ms p99 at default settings. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#ifndef NORDIC_BINARY_DIR
#define NORDIC_BINARY_DIR "."
#endif
#ifndef NORDIC_SOURCE_DIR
#define NORDIC_SOURCE_DIR "."
#endif

extern char **environ;

typedef struct lat {
    double *v;
    size_t n, cap;
} lat;

static void lat_add(lat *l, double ms)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        double *v = realloc(l->v, cap * sizeof *v);
        if (!v) return;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = ms;
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

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Delays of one wave message (JSON text) into newest/oldest, in ms. */
static void record(const char *json, size_t len, uint64_t t, lat *newest, lat *oldest)
{
    (void)len;
    const char *a = strstr(json, "\"host_ns\":");
    const char *b = strstr(json, "\"host_ns_oldest\":");
    if (a) lat_add(newest, (double)(int64_t)(t - strtoull(a + 10, NULL, 10)) / 1e6);
    if (b) lat_add(oldest, (double)(int64_t)(t - strtoull(b + 17, NULL, 10)) / 1e6);
}

typedef struct client {
    pthread_t th;
    int port; /* WebSocket to the station; 0 = ZeroMQ SUB peer */
    const char *pub;
    atomic_bool *stop;
    lat newest, oldest;
    bool ok;
} client;

static int read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, (char *)buf + got, n - got, 0);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

static void *ws_client(void *arg)
{
    client *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return NULL;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: nordic-station\r\n\r\n",
                     c->port);
    if (send(fd, req, (size_t)n, 0) != n) goto out;
    char hdr[2048];
    size_t hl = 0;
    while (hl < sizeof hdr - 1 && !strstr(hdr, "\r\n\r\n")) {
        ssize_t r = recv(fd, hdr + hl, 1, 0); /* byte by byte: frames follow at once */
        if (r <= 0) goto out;
        hl += (size_t)r;
        hdr[hl] = 0;
    }
    if (strncmp(hdr, "HTTP/1.1 101", 12)) goto out;
    const char hello[] = "{\"type\":\"hello\",\"daemon\":\"bench\"}";
    unsigned char frame[64] = {0x81, 0x80 | (sizeof hello - 1), 1, 2, 3, 4};
    for (size_t i = 0; i < sizeof hello - 1; i++)
        frame[6 + i] = (unsigned char)hello[i] ^ frame[2 + i % 4];
    if (send(fd, frame, 6 + sizeof hello - 1, 0) < 0) goto out;
    c->ok = true;
    char *buf = NULL;
    size_t cap = 0;
    while (!atomic_load(c->stop)) {
        unsigned char h[2];
        ssize_t r = recv(fd, h, 1, 0);
        if (r <= 0) continue; /* timeout: check stop */
        if (read_full(fd, h + 1, 1)) break;
        uint64_t len = h[1] & 0x7f;
        if (len == 126) {
            unsigned char e[2];
            if (read_full(fd, e, 2)) break;
            len = (uint64_t)e[0] << 8 | e[1];
        } else if (len == 127) {
            unsigned char e[8];
            if (read_full(fd, e, 8)) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | e[i];
        }
        if (len + 1 > cap) {
            cap = len + 1;
            char *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        if (read_full(fd, buf, len)) break;
        uint64_t t = now_ns();
        buf[len] = 0;
        if ((h[0] & 0x0f) == 1 && strstr(buf, "\"topic\":\"wave\""))
            record(buf, len, t, &c->newest, &c->oldest);
    }
    free(buf);
out:
    close(fd);
    return NULL;
}

static void *sub_client(void *arg)
{
    client *c = arg;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_SUB);
    int to = 200;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &to, sizeof to);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "wave", 4);
    zmq_connect(s, c->pub);
    c->ok = true;
    char buf[65536];
    while (!atomic_load(c->stop)) {
        int n = zmq_recv(s, buf, sizeof buf - 1, 0);
        if (n < 0) continue;
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ml);
        if (!more) continue;
        n = zmq_recv(s, buf, sizeof buf - 1, 0);
        uint64_t t = now_ns();
        if (n < 0 || n >= (int)sizeof buf) continue;
        buf[n] = 0;
        record(buf, (size_t)n, t, &c->newest, &c->oldest);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return NULL;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    return ntohs(sa.sin_port);
}

/* CPU seconds (user + system) and RSS (kB) of a process. */
static void proc_usage(pid_t pid, double *cpu_s, long *rss_kb)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    *cpu_s = 0;
    *rss_kb = 0;
    if (f && fgets(line, sizeof line, f)) {
        const char *p = strrchr(line, ')');
        unsigned long ut = 0, st = 0;
        /* fields after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
         * utime stime */
        if (p &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    if (f) fclose(f);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) *rss_kb = atol(line + 6);
    if (f) fclose(f);
}

static pid_t spawn(char **argv)
{
    pid_t pid;
    return posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) == 0 ? pid : -1;
}

static void stop_process(pid_t pid)
{
    int st;
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
}

static void run(const char *nordicd, const char *station, const char *www, const char *dir,
                int rate, double seconds)
{
    char dev[128], data[600], ctl[700], pub[64], spec[800], listen[64];
    snprintf(dev, sizeof dev, "sim:?rate=%d&reps=100000&rest=1&unloaded=0", rate);
    snprintf(data, sizeof data, "%s/data-%d", dir, rate);
    snprintf(ctl, sizeof ctl, "ipc://%s/ctl-%d", dir, rate);
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%d", free_port());
    char *dargv[] = {
        (char *)nordicd, "--device", dev,     "--data-dir", data,          "--state-dir", data,
        "--ctl",         ctl,        "--pub", pub,          "--log-level", "warning",     NULL};
    pid_t dpid = spawn(dargv);
    int port = free_port();
    snprintf(spec, sizeof spec, "bench=%s,%s", ctl, pub);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    char *sargv[] = {(char *)station, "--daemon", spec,        "--listen",
                     listen,          "--www",    (char *)www, NULL};
    sleep(1); /* the daemon's sockets first */
    pid_t spid = spawn(sargv);
    if (dpid < 0 || spid < 0) {
        fprintf(stderr, "cannot start %s or %s\n", nordicd, station);
        exit(1);
    }
    sleep(2);
    static const int nclients[] = {1, 10};
    for (size_t k = 0; k < 2; k++) {
        int n = nclients[k];
        atomic_bool stop = false;
        client *cs = calloc((size_t)n + 1, sizeof *cs);
        for (int i = 0; i <= n; i++) {
            cs[i].port = i < n ? port : 0;
            cs[i].pub = pub;
            cs[i].stop = &stop;
            pthread_create(&cs[i].th, NULL, i < n ? ws_client : sub_client, &cs[i]);
        }
        sleep(1); /* connected, snapshot sent */
        double cpu0, cpu1;
        long rss;
        proc_usage(spid, &cpu0, &rss);
        uint64_t t0 = now_ns();
        for (int i = 0; i <= n; i++) cs[i].newest.n = cs[i].oldest.n = 0;
        usleep((useconds_t)(seconds * 1e6));
        proc_usage(spid, &cpu1, &rss);
        double wall = (double)(now_ns() - t0) / 1e9;
        atomic_store(&stop, true);
        lat wn = {0}, wo = {0};
        int connected = 0;
        for (int i = 0; i <= n; i++) {
            pthread_join(cs[i].th, NULL);
            if (i == n) continue;
            connected += cs[i].ok;
            for (size_t j = 0; j < cs[i].newest.n; j++) lat_add(&wn, cs[i].newest.v[j]);
            for (size_t j = 0; j < cs[i].oldest.n; j++) lat_add(&wo, cs[i].oldest.v[j]);
        }
        client *peer = &cs[n];
        printf("%6d Hz %3d page(s) %3d ok | page newest p50 %6.2f p99 %6.2f  oldest p50 %6.2f "
               "p99 %6.2f ms | SUB peer newest p50 %6.2f p99 %6.2f  oldest p50 %6.2f p99 %6.2f ms "
               "| station CPU %5.1f %%  RSS %5.1f MB | %zu blocks/page\n",
               rate, n, connected, pct(&wn, 50), pct(&wn, 99), pct(&wo, 50), pct(&wo, 99),
               pct(&peer->newest, 50), pct(&peer->newest, 99), pct(&peer->oldest, 50),
               pct(&peer->oldest, 99), 100 * (cpu1 - cpu0) / wall, rss / 1024.0,
               n ? wn.n / (size_t)n : 0);
        fflush(stdout);
        for (int i = 0; i <= n; i++) free(cs[i].newest.v), free(cs[i].oldest.v);
        free(wn.v);
        free(wo.v);
        free(cs);
    }
    stop_process(spid);
    stop_process(dpid);
}

int main(int argc, char **argv)
{
    const char *nordicd = NORDIC_BINARY_DIR "/daemon/nordicd";
    const char *station = NORDIC_BINARY_DIR "/tools/station/nordic-station";
    const char *www = NORDIC_SOURCE_DIR "/tools/station/www";
    double seconds = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--nordicd") && i + 1 < argc)
            nordicd = argv[++i];
        else if (!strcmp(argv[i], "--station") && i + 1 < argc)
            station = argv[++i];
        else if (!strcmp(argv[i], "--www") && i + 1 < argc)
            www = argv[++i];
        else {
            fprintf(stderr, "usage: nordic-bench-station [--seconds S] [--nordicd PATH] "
                            "[--station PATH] [--www DIR]\n");
            return 2;
        }
    }
    if (!(seconds > 0)) seconds = 10;
    char dir[] = "/tmp/nordic-bench-station-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    printf("nordic-bench-station: sample arrival -> page WebSocket (through nordic-station) vs "
           "a ZeroMQ SUB on the daemon (peer), same run, default settings (wave_decimation 10),"
           " %.0f s per row\n",
           seconds);
    run(nordicd, station, www, dir, 1000, seconds);
    run(nordicd, station, www, dir, 10000, seconds);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
