/* Generic stream driver (nd_stream_device.h). Decoders deliver through the
 * device's emit helpers (nd_driver.h), which count sets and mark the first set
 * after a reconnection; this file counts bytes read (counters.bytes), tells
 * the transport how far the decoded stream got (its pacing input) and runs the
 * shared reconnect policy (nd_reconnect.h). */
#include "nd_stream_device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nd_decoder.h"
#include "nd_log.h"
#include "nd_reconnect.h"

#define STREAM_READ_BUF 16384
#define STREAM_MAX_KEYS 64

typedef struct stream_priv {
    nd_transport tr;
    const nd_decoder_ops *dec;
    void *dec_state;
    nd_device *dev;
    bool pending_lost; /* the decoder's start-up dialogue saw the link drop */
    nd_decoder_link link;
    int coalesce_ms; /* read coalescing (coalesce_ms=, nd_stream_device.h) */
    uint8_t buf[STREAM_READ_BUF];
} stream_priv;

/* The decoder's way back to the device (nd_decoder.h). */
static ssize_t link_read(void *ctx, uint8_t *buf, size_t len, int timeout_ms)
{
    stream_priv *p = ctx;
    ssize_t n = p->tr.ops->read(&p->tr, buf, len, timeout_ms);
    if (n > 0) nd_device_count(p->dev, ND_COUNT_BYTES, (uint64_t)n);
    return n;
}

static int link_write(void *ctx, const uint8_t *buf, size_t len)
{
    stream_priv *p = ctx;
    return p->tr.ops->write ? p->tr.ops->write(&p->tr, buf, len) : -1;
}

static size_t append_keys(const char **all, size_t n, const char *const *keys)
{
    for (size_t i = 0; keys && keys[i] && n + 1 < STREAM_MAX_KEYS; i++) all[n++] = keys[i];
    all[n] = NULL;
    return n;
}

static void list_decoders(char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; nd_decoders[i] && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", nd_decoders[i]->name);
        if (n < 0) break;
        used += (size_t)n;
    }
}

int nd_stream_open(nd_device *dev, const nd_uri *uri, char *err, size_t errlen)
{
    const nd_transport_ops *tops = dev->driver->transport;
    if (!tops) {
        snprintf(err, errlen, "no transport for scheme '%s'", dev->driver->scheme);
        return -1;
    }
    const char *proto = nd_uri_get(uri, "proto");
    if (!proto) proto = tops->default_proto ? tops->default_proto : "nfp";
    const nd_decoder_ops *dec = nd_decoder_find(proto);
    if (!dec) {
        char known[128];
        list_decoders(known, sizeof known);
        snprintf(err, errlen, "%s: unknown proto '%s' (known: %s)", dev->driver->scheme, proto,
                 known);
        return -1;
    }
    const char *allowed[STREAM_MAX_KEYS] = {"proto", "coalesce_ms", NULL};
    size_t nkeys = append_keys(allowed, 2, tops->keys);
    append_keys(allowed, nkeys, dec->keys);
    if (nd_uri_check_keys(uri, allowed, err, errlen) < 0) return -1;

    stream_priv *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->dev = dev;
    p->dec = dec;
    p->tr.ops = tops;
    p->tr.dev = dev;
    dev->replayed = tops->replays;
    dev->batches_reads = true; /* nd_stream_run ends each read */
    dev->priv = p;
    long coalesce_ms;
    if (nd_uri_get_long(uri, "coalesce_ms", ND_STREAM_COALESCE_DEFAULT_MS, 0,
                        ND_STREAM_COALESCE_MAX_MS, &coalesce_ms, err, errlen) < 0)
        goto fail_free;
    p->coalesce_ms = (int)coalesce_ms;
    if (tops->open(&p->tr, uri, err, errlen) < 0) goto fail_free;
    if (dec->create(&p->dec_state, dev, uri, err, errlen) < 0) {
        tops->close(&p->tr);
        goto fail_free;
    }
    p->link = (nd_decoder_link){.ctx = p, .read = link_read, .write = link_write};
    if (dec->connect) {
        if (!tops->write) {
            snprintf(err, errlen, "%s: proto=%s needs a transport that can send commands",
                     dev->driver->scheme, dec->name);
            goto fail_decoder;
        }
        int rc = dec->connect(p->dec_state, &p->link, err, errlen);
        if (rc == ND_TR_LOST) {
            p->pending_lost = true; /* absent (wait=1) or gone at once: run() reconnects */
        } else if (rc < 0) {
            goto fail_decoder;
        }
    }
    atomic_store(&dev->connected, true);
    return 0;
fail_decoder:
    dec->destroy(p->dec_state);
    tops->close(&p->tr);
fail_free:
    dev->priv = NULL;
    free(p);
    return -1;
}

/* One reconnect attempt: the link, then the decoder's start-up dialogue. */
static int reconnect_attempt(void *ctx, char *err, size_t errlen)
{
    stream_priv *p = ctx;
    if (p->tr.ops->reopen(&p->tr) != 0) return ND_TR_LOST;
    if (!p->dec->connect) return 0;
    int rc = p->dec->connect(p->dec_state, &p->link, err, errlen);
    if (rc != 0) p->dec->reset(p->dec_state);
    return rc;
}

/* A slow stream trickles in a frame at a time (1 kHz boards send one frame a
 * millisecond): let the bytes gather in the transport's buffer instead of
 * waking for each frame. The pause lasts until about one read buffer's worth
 * (half of it) has gathered at the stream's byte rate, at most coalesce_ms (at least
 * ND_STREAM_IDLE_COALESCE_MS while nobody watches live), so a fast stream
 * never pauses and no kernel buffer fills. It sleeps on the device's
 * `unwatched` word, so a new watcher ends it at once. */
static void coalesce_pause(stream_priv *p, uint64_t read_ns, double bytes_per_s)
{
    uint32_t unwatched = atomic_load(&p->dev->unwatched);
    int cap_ms = p->coalesce_ms;
    if (unwatched && cap_ms < ND_STREAM_IDLE_COALESCE_MS) cap_ms = ND_STREAM_IDLE_COALESCE_MS;
    /* Half a buffer: a read always takes more than a pause brings, so a
     * backlog never builds up behind the pauses. */
    double fill_ns = bytes_per_s > 0 ? (double)STREAM_READ_BUF / 2 / bytes_per_s * 1e9 : 1e18;
    double pause_ns = (double)cap_ms * 1e6;
    if (fill_ns < pause_ns) pause_ns = fill_ns;
    if (pause_ns < 1e6) return; /* under a millisecond: not worth a sleep */
    uint64_t until = read_ns + (uint64_t)pause_ns;
    struct timespec ts = {.tv_sec = (time_t)(until / 1000000000u),
                          .tv_nsec = (long)(until % 1000000000u)};
    /* Returns at the deadline, on a change of `unwatched`, or on a signal. */
    syscall(SYS_futex, &p->dev->unwatched, FUTEX_WAIT_BITSET_PRIVATE, unwatched, &ts, NULL,
            FUTEX_BITSET_MATCH_ANY);
}

/* The transport reported the device gone. Returns 0 when back, 1 when
 * stopped, -1 if the transport cannot reconnect at all. */
static int reconnect(stream_priv *p, const atomic_bool *stop)
{
    nd_device *dev = p->dev;
    p->dec->reset(p->dec_state);
    return nd_device_reconnect(dev, stop, dev->driver->scheme,
                               p->tr.ops->reopen ? reconnect_attempt : NULL, p);
}

/* The transport's pacing input: sets decoded so far at the device's rate. */
static void report_progress(stream_priv *p)
{
    if (!p->tr.ops->progress) return;
    nd_device *dev = p->dev;
    double rate = atomic_load(&dev->info_valid) ? dev->info.rate_hz : 0.0;
    p->tr.ops->progress(&p->tr, atomic_load(&dev->counters.sets), rate);
}

int nd_stream_run(nd_device *dev, const atomic_bool *stop)
{
    stream_priv *p = dev->priv;
    if (p->pending_lost) {
        p->pending_lost = false;
        int rc = reconnect(p, stop);
        if (rc < 0) return -1;
        if (rc > 0) return 0;
    }
    unsigned reads = 0;
    uint64_t prev_ns = 0;
    double bytes_per_s = 0; /* smoothed over reads */
    while (!atomic_load(stop)) {
        ssize_t n = p->tr.ops->read(&p->tr, p->buf, sizeof p->buf, ND_STREAM_READ_TIMEOUT_MS);
        if (n > 0) {
            uint64_t now = nd_monotonic_ns();
            nd_device_count(dev, ND_COUNT_BYTES, (uint64_t)n);
            p->dec->feed(p->dec_state, p->buf, (size_t)n, now);
            nd_device_end_read(dev);
            report_progress(p);
            if (prev_ns && now > prev_ns) {
                double r = (double)n * 1e9 / (double)(now - prev_ns);
                bytes_per_s = reads > 1 ? 0.75 * bytes_per_s + 0.25 * r : r;
            }
            prev_ns = now;
            reads++;
            /* A replay paces itself set by set (nd_tr_file.c): never pause it. */
            /* A full buffer means more is waiting: read on at once. */
            if (p->coalesce_ms && reads > ND_STREAM_COALESCE_AFTER && !dev->replayed &&
                (size_t)n < sizeof p->buf)
                coalesce_pause(p, now, bytes_per_s);
        } else if (n == 0) {
            continue;
        } else if (n == ND_TR_EOF) {
            return ND_RUN_EOF;
        } else if (n == ND_TR_LOST) {
            int rc = reconnect(p, stop);
            if (rc < 0) return -1;
            if (rc > 0) return 0;
        } else {
            nd_err("device %s: %s transport failed", dev->uri_text, dev->driver->scheme);
            return -1;
        }
    }
    return 0;
}

void nd_stream_close(nd_device *dev)
{
    stream_priv *p = dev->priv;
    if (!p) return;
    if (p->dec->disconnect && atomic_load(&dev->connected))
        p->dec->disconnect(p->dec_state, &p->link);
    p->dec->destroy(p->dec_state);
    p->tr.ops->close(&p->tr);
    dev->priv = NULL;
    free(p);
}

int nd_stream_command(nd_device *dev, const char *cmd, char *err, size_t errlen)
{
    stream_priv *p = dev->priv;
    if (!p->tr.ops->write) {
        snprintf(err, errlen, "%s devices do not accept commands", dev->driver->scheme);
        return -1;
    }
    if (p->dec->command) return p->dec->command(p->dec_state, &p->link, cmd, err, errlen);
    /* Device commands are text lines (e.g. "t" = tare on DIY HX711 firmware). */
    size_t len = strlen(cmd);
    char *line = malloc(len + 2);
    if (!line) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(line, cmd, len);
    line[len] = '\n';
    int rc = p->tr.ops->write(&p->tr, (const uint8_t *)line, len + 1);
    free(line);
    if (rc < 0) {
        snprintf(err, errlen, "%s: could not send command '%s' to the device", dev->driver->scheme,
                 cmd);
        return -1;
    }
    return 0;
}
