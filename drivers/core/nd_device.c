/* Device lifecycle (nd_device.h) and the helpers every driver shares. */
#include "nd_device.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

void nd_device_emit_event(nd_device *dev, nd_device_event_kind kind, uint64_t seq, uint64_t count,
                          const char *detail_fmt, ...)
{
    nd_device_event ev = {.kind = kind, .host_ns = nd_monotonic_ns(), .seq = seq, .count = count};
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(ev.detail, sizeof ev.detail, detail_fmt, ap);
    va_end(ap);
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

int nd_device_run(nd_device *dev, const atomic_bool *stop)
{
    return dev->driver->run(dev, stop);
}

void nd_device_close(nd_device *dev)
{
    if (!dev) return;
    if (dev->driver->close) dev->driver->close(dev);
    free(dev);
}
