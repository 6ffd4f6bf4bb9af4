/* Capture-file transport: file:PATH?pace=1&loop=0 replays recorded bytes.
 *
 * pace=0 reads as fast as the decoder takes it. pace=P > 0 replays at P times
 * real time. The transport does not know the protocol: its pacing input is
 * the stream device's progress report (nd_transport_ops.progress), how many
 * sample sets the bytes read so far made and the device's nominal rate R
 * (from the capture's INFO frame). Once R is known, set k (counted from when
 * pacing began) is due at t0 + k / (R * P); bytes are only read once the next set is due, in small
 * chunks, so the replay runs at most about one frame ahead. Pacing on sets
 * rather than bytes keeps time right whatever the frame size, and it restarts
 * (new t0) when the rate changes. Before the rate is known (no INFO yet, or a
 * text capture without one) bytes are read without waiting.
 * loop=1 starts again at the beginning at end of file (the device seq then
 * goes back: a restart event per loop); otherwise end of file is ND_TR_EOF. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nd_log.h"
#include "nd_transport.h"

/* Read size while pacing: about one SAMPLES frame of two channels. */
#define FILE_PACE_CHUNK 64

typedef struct file_priv {
    int fd;
    char path[512];
    double pace;
    int loop;
    uint64_t bytes_this_pass; /* to stop looping an empty file */
    bool pacing;              /* t0 set for the current rate */
    double pace_rate;
    uint64_t t0_ns;
    uint64_t t0_sets;
    bool warned_no_rate;
    uint64_t sets;  /* pacing input: sets made so far (progress) */
    double rate_hz; /* pacing input: the device's rate, 0 = unknown */
} file_priv;

static int file_open(nd_transport *t, const nd_uri *uri, char *err, size_t errlen)
{
    if (!uri->path[0]) {
        snprintf(err, errlen, "file: no path given (expected file:PATH)");
        return -1;
    }
    file_priv *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (nd_uri_get_double(uri, "pace", 1.0, 0.0, 1000.0, &p->pace, err, errlen) < 0 ||
        nd_uri_get_bool(uri, "loop", 0, &p->loop, err, errlen) < 0) {
        free(p);
        return -1;
    }
    snprintf(p->path, sizeof p->path, "%s", uri->path);
    p->fd = open(uri->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (p->fd < 0 || fstat(p->fd, &st) < 0) {
        snprintf(err, errlen, "file: cannot open '%s': %s", uri->path, strerror(errno));
        if (p->fd >= 0) close(p->fd);
        free(p);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        /* A FIFO or device would block read() past the timeout and stop. */
        snprintf(err, errlen, "file: '%s' is %s, not a regular capture file", uri->path,
                 S_ISDIR(st.st_mode) ? "a directory" : "a special file");
        close(p->fd);
        free(p);
        return -1;
    }
    t->priv = p;
    return 0;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                          .tv_nsec = (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

/* With pacing on: 0 if the next set is due (read now), 1 if not yet. */
static int wait_until_due(file_priv *p, int timeout_ms)
{
    double rate = p->rate_hz;
    if (rate <= 0) {
        if (!p->warned_no_rate && p->bytes_this_pass > 0) {
            nd_debug("file: %s: device rate not known yet, reading without pacing", p->path);
            p->warned_no_rate = true;
        }
        return 0;
    }
    uint64_t sets = p->sets;
    uint64_t now = nd_monotonic_ns();
    if (!p->pacing || rate != p->pace_rate) {
        p->pacing = true;
        p->pace_rate = rate;
        p->t0_ns = now;
        p->t0_sets = sets;
    }
    double due_s = (double)(sets - p->t0_sets) / (rate * p->pace);
    uint64_t due = p->t0_ns + (uint64_t)(due_s * 1e9);
    if (now >= due) return 0;
    uint64_t wait = due - now, cap = (uint64_t)timeout_ms * 1000000u;
    sleep_ns(wait < cap ? wait : cap);
    return nd_monotonic_ns() >= due ? 0 : 1;
}

static ssize_t file_read(nd_transport *t, uint8_t *buf, size_t len, int timeout_ms)
{
    file_priv *p = t->priv;
    if (p->pace > 0) {
        if (wait_until_due(p, timeout_ms)) return 0;
        if (len > FILE_PACE_CHUNK) len = FILE_PACE_CHUNK;
    }
    for (;;) {
        ssize_t n = read(p->fd, buf, len);
        if (n > 0) {
            p->bytes_this_pass += (uint64_t)n;
            return n;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            nd_err("file: reading '%s' failed: %s", p->path, strerror(errno));
            return ND_TR_ERR;
        }
        if (!p->loop || p->bytes_this_pass == 0) return ND_TR_EOF;
        if (lseek(p->fd, 0, SEEK_SET) < 0) {
            nd_err("file: cannot rewind '%s' for loop=1: %s", p->path, strerror(errno));
            return ND_TR_ERR;
        }
        p->bytes_this_pass = 0;
    }
}

static void file_progress(nd_transport *t, uint64_t sets, double rate_hz)
{
    file_priv *p = t->priv;
    p->sets = sets;
    p->rate_hz = rate_hz;
}

static void file_close(nd_transport *t)
{
    file_priv *p = t->priv;
    if (!p) return;
    close(p->fd);
    free(p);
    t->priv = NULL;
}

static const char *const file_keys[] = {"pace", "loop", NULL};

const nd_transport_ops nd_transport_file = {
    .keys = file_keys,
    .default_proto = "nfp",
    .replays = true,
    .open = file_open,
    .read = file_read,
    .write = NULL,
    .reopen = NULL,
    .close = file_close,
    .progress = file_progress,
};
