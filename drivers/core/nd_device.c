/* Device lifecycle (nd_device.h) and the helpers every driver shares. */
#include "nd_device.h"

#include "nd_driver.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <limits.h>

#include "nd_log.h"

uint64_t nd_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whole-struct comparison so that fields added later count too; callers
 * build infos zeroed (memset), so unused bytes compare equal, and a stray
 * difference only costs one redundant info callback. */
static bool info_equal(const nd_device_info *a, const nd_device_info *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

void nd_device_set_info(nd_device *dev, const nd_device_info *info)
{
    if (atomic_load(&dev->info_valid) && info_equal(&dev->info, info)) return;
    memcpy(&dev->info, info, sizeof dev->info); /* padding too, for info_equal */
    atomic_store(&dev->info_valid, true);
    nd_info("device %s: %s serial %s fw %s, %g Hz, %d channels", dev->uri_text, info->model,
            info->serial, info->fw[0] ? info->fw : "?", info->rate_hz, info->nch);
    if (dev->sink.info) dev->sink.info(dev->sink.ctx, &dev->info);
}

static void emit_event_v(nd_device *dev, nd_device_event_kind kind, uint64_t seq, uint64_t count,
                         const char *detail_fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void emit_event_v(nd_device *dev, nd_device_event_kind kind, uint64_t seq, uint64_t count,
                         const char *detail_fmt, va_list ap)
{
    nd_device_event ev = {.kind = kind, .host_ns = nd_monotonic_ns(), .seq = seq, .count = count};
    vsnprintf(ev.detail, sizeof ev.detail, detail_fmt, ap);
    /* Gaps and overflows can be frequent on a bad link: the daemon records
     * them; the log only gets the rare state changes. */
    switch (kind) {
    case ND_EV_DEVICE_LOST:
    case ND_EV_RESTART:
        nd_warn("device %s: %s", dev->uri_text, ev.detail);
        break;
    case ND_EV_DEVICE_BACK:
        nd_notice("device %s: %s", dev->uri_text, ev.detail);
        break;
    case ND_EV_ERROR:
        nd_err("device %s: %s", dev->uri_text, ev.detail);
        break;
    default:
        nd_debug("device %s: %s", dev->uri_text, ev.detail);
        break;
    }
    if (dev->sink.event) dev->sink.event(dev->sink.ctx, &ev);
}

void nd_device_emit_event(nd_device *dev, nd_device_event_kind kind, uint64_t seq, uint64_t count,
                          const char *detail_fmt, ...)
{
    va_list ap;
    va_start(ap, detail_fmt);
    emit_event_v(dev, kind, seq, count, detail_fmt, ap);
    va_end(ap);
}

void nd_device_emit_gap(nd_device *dev, uint64_t seq, uint64_t lost, const char *detail_fmt, ...)
{
    atomic_fetch_add(&dev->counters.gaps, 1);
    atomic_fetch_add(&dev->counters.gap_sets, lost);
    va_list ap;
    va_start(ap, detail_fmt);
    emit_event_v(dev, ND_EV_GAP, seq, lost, detail_fmt, ap);
    va_end(ap);
}

void nd_device_emit_restart(nd_device *dev, uint64_t seq, const char *detail_fmt, ...)
{
    atomic_fetch_add(&dev->counters.restarts, 1);
    va_list ap;
    va_start(ap, detail_fmt);
    emit_event_v(dev, ND_EV_RESTART, seq, 0, detail_fmt, ap);
    va_end(ap);
}

void nd_device_emit_overflow(nd_device *dev, uint64_t seq, uint64_t dropped, const char *detail_fmt,
                             ...)
{
    atomic_fetch_add(&dev->counters.device_overflows, dropped);
    va_list ap;
    va_start(ap, detail_fmt);
    emit_event_v(dev, ND_EV_OVERFLOW, seq, dropped, detail_fmt, ap);
    va_end(ap);
}

void nd_device_emit_samples(nd_device *dev, const nd_sample *sets, size_t n)
{
    if (n == 0) return;
    atomic_fetch_add(&dev->counters.sets, n);
    if (dev->mark_reconnect) {
        dev->mark_reconnect = false;
        dev->link.awaiting_data = false; /* data flows: the back-off starts over */
        nd_sample first = sets[0];
        first.flags |= ND_SAMPLE_AFTER_RECONNECT;
        if (dev->sink.samples) {
            dev->sink.samples(dev->sink.ctx, &first, 1);
            if (n > 1) dev->sink.samples(dev->sink.ctx, sets + 1, n - 1);
        }
    } else if (dev->sink.samples) {
        dev->sink.samples(dev->sink.ctx, sets, n);
    }
    if (!dev->batches_reads) nd_device_end_read(dev);
}

void nd_device_end_read(nd_device *dev)
{
    if (dev->sink.end_of_read) dev->sink.end_of_read(dev->sink.ctx);
}

static _Atomic uint64_t *counter_of(nd_device *dev, nd_counter which)
{
    nd_counters *c = &dev->counters;
    switch (which) {
    case ND_COUNT_BYTES:
        return &c->bytes;
    case ND_COUNT_FRAMES_OK:
        return &c->frames_ok;
    case ND_COUNT_FRAMES_BAD_COBS:
        return &c->frames_bad_cobs;
    case ND_COUNT_FRAMES_BAD_CRC:
        return &c->frames_bad_crc;
    case ND_COUNT_FRAMES_BAD_VERSION:
        return &c->frames_bad_version;
    case ND_COUNT_FRAMES_BAD_LENGTH:
        return &c->frames_bad_length;
    case ND_COUNT_FRAMES_UNKNOWN_TYPE:
        return &c->frames_unknown_type;
    case ND_COUNT_FRAMES_BAD_PAYLOAD:
        return &c->frames_bad_payload;
    case ND_COUNT_LINES_OK:
        return &c->lines_ok;
    case ND_COUNT_LINES_BAD:
        return &c->lines_bad;
    }
    return &c->frames_bad_payload; /* not reached: every enumerator is listed */
}

uint64_t nd_device_count(nd_device *dev, nd_counter which, uint64_t n)
{
    return atomic_fetch_add(counter_of(dev, which), n) + n;
}

void nd_device_count_total(nd_device *dev, nd_counter which, uint64_t total)
{
    atomic_store(counter_of(dev, which), total);
}

void nd_device_sum_counters(nd_device *dev, nd_device *const *parts, size_t nparts)
{
    nd_counters *c = &dev->counters;
    bool all_connected = true;
#define SUM(f)                                                                                     \
    do {                                                                                           \
        uint64_t sum = 0;                                                                          \
        for (size_t i = 0; i < nparts; i++) sum += atomic_load(&parts[i]->counters.f);             \
        atomic_store(&c->f, sum);                                                                  \
    } while (0)
    SUM(bytes);
    SUM(frames_ok);
    SUM(frames_bad_cobs);
    SUM(frames_bad_crc);
    SUM(frames_bad_version);
    SUM(frames_bad_length);
    SUM(frames_unknown_type);
    SUM(frames_bad_payload);
    SUM(lines_ok);
    SUM(lines_bad);
    SUM(restarts);
    SUM(device_overflows);
    SUM(disconnects);
    SUM(reconnects);
#undef SUM
    for (size_t i = 0; i < nparts; i++) all_connected &= atomic_load(&parts[i]->connected);
    atomic_store(&dev->connected, all_connected);
}

int nd_device_run(nd_device *dev, const atomic_bool *stop)
{
    return dev->driver->run(dev, stop);
}

const nd_counters *nd_device_counters(const nd_device *dev)
{
    return &dev->counters;
}

void nd_device_set_unwatched(nd_device *dev, bool unwatched)
{
    uint32_t v = unwatched ? 1 : 0;
    if (atomic_exchange(&dev->unwatched, v) != v)
        syscall(SYS_futex, &dev->unwatched, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

bool nd_device_connected(const nd_device *dev)
{
    return atomic_load(&dev->connected);
}

const char *nd_device_uri(const nd_device *dev)
{
    return dev->uri_text;
}

bool nd_device_get_info(const nd_device *dev, nd_device_info *out)
{
    if (!atomic_load(&dev->info_valid)) return false;
    *out = dev->info;
    return true;
}

int nd_device_command(nd_device *dev, const char *cmd, char *err, size_t errlen)
{
    if (!dev->driver->command) {
        snprintf(err, errlen, "%s devices do not accept commands", dev->driver->scheme);
        return -1;
    }
    return dev->driver->command(dev, cmd, err, errlen);
}

void nd_device_close(nd_device *dev)
{
    if (!dev) return;
    if (dev->driver->close) dev->driver->close(dev);
    free(dev);
}
