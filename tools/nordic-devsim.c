/* nordic-devsim: an emulated serial load-cell board for people without
 * hardware and for tests. Streams NFP/1 or a text preset at a chosen rate on
 * stdout, a file, a pty or a TCP port, with seeded fault injection and
 * scripted disconnects. See drivers/SERIAL.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "nd_device.h"
#include "nd_devsim.h"
#include "nd_nfp.h"

typedef enum { OUT_STDOUT, OUT_FILE, OUT_PTY, OUT_TCP } out_kind;

typedef struct options {
    nd_devsim_config dev;
    nd_fault_config faults;
    out_kind out;
    char out_arg[256];
    double duration_s; /* 0 = forever */
    uint64_t count;    /* units; 0 = unlimited */
    bool fast;         /* no pacing: as fast as the sink takes it */
    bool banner;
    double disconnect_every_s, reconnect_after_s;
} options;

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: nordic-devsim [options]\n"
            "  --proto P           nfp | csv | hx711-adc-2x | openscale | loadstar (default nfp);\n"
            "                      loadstar on pty/tcp answers its command set (SERIAL.md)\n"
            "  --rate HZ           sample sets per second (default 1000)\n"
            "  --nch N             channels, nfp/csv (default 2)\n"
            "  --sets-per-frame N  nfp: sets per SAMPLES frame, 1..64 (default 10)\n"
            "  --leg left|right    single-channel presets: which hook (default left)\n"
            "  --out WHERE         stdout | file:PATH | pty | tcp:PORT (default stdout)\n"
            "  --duration S        stop after S seconds of data (default: run until killed)\n"
            "  --count N           stop after N frames/lines\n"
            "  --fast              do not pace to the rate (benchmarks, captures)\n"
            "  --seed N            seed of signal and faults (default 1)\n"
            "faults (probabilities 0..1):\n"
            "  --flip P            per byte: flip one bit\n"
            "  --drop P            per byte: lose it\n"
            "  --truncate P        per frame/line: send only a prefix\n"
            "  --seq-jump P        nfp, per frame: skip 1..50 sample sets\n"
            "  --banner            start with a boot banner (text) or garbage (nfp)\n"
            "  --disconnect-every S  pty/tcp: hang up every S seconds of data\n"
            "  --reconnect-after S   ...and come back after S seconds (sets keep counting)\n");
}

static int parse_prob(const char *name, const char *v, double *out)
{
    char *end;
    double p = strtod(v, &end);
    if (end == v || *end || !(p >= 0 && p <= 1)) {
        fprintf(stderr, "nordic-devsim: --%s %s: expected a probability 0..1\n", name, v);
        return -1;
    }
    *out = p;
    return 0;
}

static int parse_num(const char *name, const char *v, double lo, double hi, double *out)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "nordic-devsim: --%s %s: expected a number %g..%g\n", name, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->dev = (nd_devsim_config){.proto = ND_DEVSIM_NFP,
                                .rate_hz = 1000,
                                .nch = 2,
                                .sets_per_frame = 10,
                                .leg = ND_SIM_LEFT,
                                .seed = 1};
    static const struct option longopts[] = {{"proto", 1, 0, 'p'},
                                             {"rate", 1, 0, 'r'},
                                             {"nch", 1, 0, 'n'},
                                             {"sets-per-frame", 1, 0, 'S'},
                                             {"leg", 1, 0, 'L'},
                                             {"out", 1, 0, 'o'},
                                             {"duration", 1, 0, 'd'},
                                             {"count", 1, 0, 'c'},
                                             {"fast", 0, 0, 'F'},
                                             {"seed", 1, 0, 's'},
                                             {"flip", 1, 0, 'f'},
                                             {"drop", 1, 0, 'D'},
                                             {"truncate", 1, 0, 't'},
                                             {"seq-jump", 1, 0, 'j'},
                                             {"banner", 0, 0, 'b'},
                                             {"disconnect-every", 1, 0, 'x'},
                                             {"reconnect-after", 1, 0, 'y'},
                                             {"help", 0, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c;
    double x;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (nd_devsim_proto_parse(optarg, &o->dev.proto) < 0) {
                fprintf(stderr,
                        "nordic-devsim: --proto %s: expected nfp, csv, hx711-adc-2x, "
                        "openscale or loadstar\n",
                        optarg);
                return -1;
            }
            break;
        case 'r':
            if (parse_num("rate", optarg, 1, 100000, &x) < 0) return -1;
            o->dev.rate_hz = (uint32_t)x;
            break;
        case 'n':
            if (parse_num("nch", optarg, 1, ND_MAX_CHANNELS, &x) < 0) return -1;
            o->dev.nch = (int)x;
            break;
        case 'S':
            if (parse_num("sets-per-frame", optarg, 1, NFP_MAX_NSETS, &x) < 0) return -1;
            o->dev.sets_per_frame = (int)x;
            break;
        case 'L':
            if (strcmp(optarg, "left") && strcmp(optarg, "right")) {
                fprintf(stderr, "nordic-devsim: --leg %s: expected left or right\n", optarg);
                return -1;
            }
            o->dev.leg = strcmp(optarg, "left") == 0 ? ND_SIM_LEFT : ND_SIM_RIGHT;
            break;
        case 'o':
            if (strcmp(optarg, "stdout") == 0)
                o->out = OUT_STDOUT;
            else if (strcmp(optarg, "pty") == 0)
                o->out = OUT_PTY;
            else if (strncmp(optarg, "file:", 5) == 0 && optarg[5])
                o->out = OUT_FILE;
            else if (strncmp(optarg, "tcp:", 4) == 0 && atoi(optarg + 4) > 0)
                o->out = OUT_TCP;
            else {
                fprintf(stderr,
                        "nordic-devsim: --out %s: expected stdout, file:PATH, pty or "
                        "tcp:PORT\n",
                        optarg);
                return -1;
            }
            snprintf(o->out_arg, sizeof o->out_arg, "%s", optarg);
            break;
        case 'd':
            if (parse_num("duration", optarg, 0, 1e9, &o->duration_s) < 0) return -1;
            break;
        case 'c':
            if (parse_num("count", optarg, 1, 1e15, &x) < 0) return -1;
            o->count = (uint64_t)x;
            break;
        case 'F':
            o->fast = true;
            break;
        case 's':
            if (parse_num("seed", optarg, 0, 1e15, &x) < 0) return -1;
            o->dev.seed = (uint64_t)x;
            break;
        case 'f':
            if (parse_prob("flip", optarg, &o->faults.flip) < 0) return -1;
            break;
        case 'D':
            if (parse_prob("drop", optarg, &o->faults.drop) < 0) return -1;
            break;
        case 't':
            if (parse_prob("truncate", optarg, &o->faults.truncate) < 0) return -1;
            break;
        case 'j':
            if (parse_prob("seq-jump", optarg, &o->dev.seq_jump) < 0) return -1;
            break;
        case 'b':
            o->banner = true;
            break;
        case 'x':
            if (parse_num("disconnect-every", optarg, 0.01, 1e9, &o->disconnect_every_s) < 0)
                return -1;
            break;
        case 'y':
            if (parse_num("reconnect-after", optarg, 0, 1e9, &o->reconnect_after_s) < 0) return -1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "nordic-devsim: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (o->disconnect_every_s > 0 && o->out != OUT_PTY && o->out != OUT_TCP) {
        fprintf(stderr, "nordic-devsim: --disconnect-every needs --out pty or tcp:PORT\n");
        return -1;
    }
    o->faults.seed = o->dev.seed;
    /* A Loadstar on a two-way link waits for its commands, as the real one. */
    o->dev.interactive =
        o->dev.proto == ND_DEVSIM_LOADSTAR && (o->out == OUT_PTY || o->out == OUT_TCP);
    return 0;
}

/* --- outputs --- */

typedef struct sink {
    out_kind kind;
    int fd;        /* where bytes go; -1 while disconnected */
    int listen_fd; /* tcp */
} sink;

static int open_pty(void)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
        fprintf(stderr, "nordic-devsim: cannot create a pty: %s\n", strerror(errno));
        return -1;
    }
    /* Keep the slave open ourselves so nothing is lost before a reader opens
     * it; raw mode so bytes pass unchanged. */
    int s = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s >= 0) {
        struct termios t;
        if (tcgetattr(s, &t) == 0) {
            cfmakeraw(&t);
            tcsetattr(s, TCSANOW, &t);
        }
        close(s);
    }
    fprintf(stderr, "nordic-devsim: pty %s\n", ptsname(m));
    return m;
}

static int sink_open(sink *k, const options *o)
{
    k->kind = o->out;
    k->fd = -1;
    k->listen_fd = -1;
    switch (o->out) {
    case OUT_STDOUT:
        k->fd = STDOUT_FILENO;
        return 0;
    case OUT_FILE:
        k->fd = open(o->out_arg + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (k->fd < 0) {
            fprintf(stderr, "nordic-devsim: %s: %s\n", o->out_arg + 5, strerror(errno));
            return -1;
        }
        return 0;
    case OUT_PTY:
        k->fd = open_pty();
        return k->fd < 0 ? -1 : 0;
    case OUT_TCP: {
        k->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(k->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)atoi(o->out_arg + 4)),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (bind(k->listen_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
            listen(k->listen_fd, 1) < 0) {
            fprintf(stderr, "nordic-devsim: %s: %s\n", o->out_arg, strerror(errno));
            return -1;
        }
        fprintf(stderr, "nordic-devsim: listening on 127.0.0.1:%s\n", o->out_arg + 4);
        return 0;
    }
    }
    return -1;
}

/* TCP: take a waiting client, if any, without blocking the clock. */
static void sink_poll_accept(sink *k, int timeout_ms)
{
    if (k->kind != OUT_TCP || k->fd >= 0) return;
    struct pollfd p = {.fd = k->listen_fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) == 1) k->fd = accept4(k->listen_fd, NULL, NULL, SOCK_CLOEXEC);
}

static void sink_hangup(sink *k)
{
    if (k->fd >= 0 && k->kind != OUT_STDOUT) close(k->fd);
    k->fd = -1;
}

static void sink_reconnect(sink *k)
{
    if (k->kind == OUT_PTY) k->fd = open_pty(); /* a new pty: a replugged board */
}

/* Returns false when the reader went away for good (stdout/file). */
static bool sink_write(sink *k, const uint8_t *buf, size_t len)
{
    while (len > 0 && k->fd >= 0) {
        ssize_t w = write(k->fd, buf, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (k->kind == OUT_TCP) { /* client left: wait for the next */
                sink_hangup(k);
                return true;
            }
            return false;
        }
        buf += w;
        len -= (size_t)w;
    }
    return true;
}

/* Loadstar: answer whatever the host sent, waiting up to timeout_ms for it.
 * Returns false when the reader went away for good. */
static bool serve_commands(sink *k, nd_devsim *dev, int timeout_ms)
{
    if (k->fd < 0) return true;
    struct pollfd p = {.fd = k->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1) return true;
    if (!(p.revents & POLLIN)) { /* pty without a reader: POLLHUP at once, do not spin */
        struct timespec ts = {0, (long)timeout_ms * 1000000L};
        nanosleep(&ts, NULL);
        return true;
    }
    uint8_t in[256], out[4096];
    ssize_t n = read(k->fd, in, sizeof in);
    if (n <= 0) {
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
        /* TCP client gone: wait for the next; pty: nobody has it open (EIO) */
        if (k->kind == OUT_TCP) sink_hangup(k);
        return true;
    }
    size_t m = nd_devsim_input(dev, in, (size_t)n, out, sizeof out);
    return m == 0 || sink_write(k, out, m);
}

static double now_s(void)
{
    return (double)nd_monotonic_ns() * 1e-9;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o) < 0) return 2;
    char err[256];
    nd_devsim *dev = nd_devsim_new(&o.dev, err, sizeof err);
    if (!dev) {
        fprintf(stderr, "nordic-devsim: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    sink k;
    if (sink_open(&k, &o) < 0) return 1;
    nd_faults faults;
    nd_faults_init(&faults, &o.faults);
    uint8_t unit[NFP_MAX_FRAME(NFP_MAX_INFO_BODY)], dirty[sizeof unit];
    bool need_banner = o.banner;
    double t0 = now_s(), down_until = -1, next_disconnect = o.disconnect_every_s;
    uint64_t units = 0;
    while (!stop_flag && (o.count == 0 || units < o.count)) {
        const nd_devsim_stats *st = nd_devsim_stats_get(dev);
        double data_s = (double)(st->sets + st->sets_skipped) / o.dev.rate_hz;
        if (o.duration_s > 0 && data_s >= o.duration_s) break;
        if (!o.fast) {
            double ahead = data_s - (now_s() - t0);
            if (ahead > 0.0005) {
                if (o.dev.interactive && k.fd >= 0) {
                    if (!serve_commands(&k, dev, (int)(ahead * 1000) + 1)) break;
                } else if (k.kind == OUT_TCP && k.fd < 0)
                    sink_poll_accept(&k, (int)(ahead * 1000) + 1);
                else {
                    struct timespec ts = {0, (long)(ahead * 1e9)};
                    nanosleep(&ts, NULL);
                }
                continue;
            }
        }
        sink_poll_accept(&k, 0);
        if (o.dev.interactive && !serve_commands(&k, dev, 0)) break;
        if (o.disconnect_every_s > 0 && down_until < 0 && data_s >= next_disconnect) {
            fprintf(stderr, "nordic-devsim: disconnect at %.2f s of data\n", data_s);
            sink_hangup(&k);
            down_until = data_s + o.reconnect_after_s;
            next_disconnect = down_until + o.disconnect_every_s;
        }
        if (down_until >= 0 && data_s >= down_until) {
            sink_reconnect(&k);
            down_until = -1;
            need_banner = o.banner;
        }
        size_t n;
        if (need_banner && k.fd >= 0) {
            n = nd_devsim_banner(dev, unit, sizeof unit);
            need_banner = false;
        } else {
            n = nd_devsim_next(dev, unit, sizeof unit);
            if (!nd_devsim_streaming(dev)) { /* idle Loadstar: the clock runs, nothing is sent */
                if (o.fast && !serve_commands(&k, dev, 1)) break;
                continue;
            }
            units++;
        }
        if (n == 0) {
            fprintf(stderr, "nordic-devsim: internal error: unit too large\n");
            return 1;
        }
        /* While disconnected (or no TCP client) the board keeps sampling:
         * those sets are lost, and NFP/1 seq shows the gap. */
        if (k.fd < 0) continue;
        size_t m = nd_faults_active(&o.faults) ? nd_faults_apply(&faults, unit, n, dirty) : n;
        if (!sink_write(&k, nd_faults_active(&o.faults) ? dirty : unit, m)) break;
    }
    const nd_devsim_stats *st = nd_devsim_stats_get(dev);
    fprintf(stderr,
            "nordic-devsim: %llu units, %llu sets, %llu skipped; faults: %llu bits flipped, "
            "%llu bytes dropped, %llu truncated\n",
            (unsigned long long)st->units, (unsigned long long)st->sets,
            (unsigned long long)st->sets_skipped, (unsigned long long)faults.flipped,
            (unsigned long long)faults.dropped, (unsigned long long)faults.truncated);
    sink_hangup(&k);
    nd_devsim_free(dev);
    return 0;
}
