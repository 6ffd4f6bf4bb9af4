/* The acquisition thread: runs the driver, which delivers sample sets straight
 * into the ring (the hot path: one batched push per frame, no locks) and rare
 * events onto the message bus. */
#include <stdio.h>
#include <string.h>

#include "nd_daemon_internal.h"
#include "nd_log.h"

static void on_samples(void *ctx, const nd_sample *sets, size_t n)
{
    nd_daemon *d = ctx;
    /* A refusal (ring full because the file writer is stuck) is counted by
     * the ring itself and shown on status as ring_overruns. */
    nd_ring_push(d->ring, sets, n);
}

static const char *event_name(nd_device_event_kind k)
{
    switch (k) {
    case ND_EV_GAP:
        return "gap";
    case ND_EV_RESTART:
        return "device restart";
    case ND_EV_DEVICE_LOST:
        return "device lost";
    case ND_EV_DEVICE_BACK:
        return "device back";
    case ND_EV_OVERFLOW:
        return "device overflow";
    case ND_EV_ERROR:
        return "device error";
    }
    return "device event";
}

static void on_event(void *ctx, const nd_device_event *ev)
{
    nd_daemon *d = ctx;
    int level = ev->kind == ND_EV_DEVICE_BACK ? ND_LOG_NOTICE : ND_LOG_WARNING;
    nd_log(level, "%s%s%s (count %llu)", event_name(ev->kind), ev->detail[0] ? ": " : "",
           ev->detail, (unsigned long long)ev->count);
    nd_msg m = {.kind = ND_MSG_DEVICE_EVENT};
    m.u.dev = *ev;
    nd_bus_post_at_head(&d->bus, &m, NULL);
}

static void on_info(void *ctx, const nd_device_info *info)
{
    nd_daemon *d = ctx;
    pthread_mutex_lock(&d->lock);
    bool changed = !d->info_valid || memcmp(&d->info, info, sizeof *info) != 0;
    d->info = *info;
    d->info_valid = true;
    /* Without a saved calibration, the device's own counts per newton give
     * the gains; tare and two-point calibration refine them. Never while a
     * trial records: its calibration is fixed from start to stop. */
    if (changed && !d->cal_saved && d->state != ND_TRIAL_RECORDING) {
        int l = d->cal.left_channel, r = d->cal.right_channel;
        nd_calibration_default(&d->cal, info->nch, info->counts_per_newton);
        d->cal.left_channel = l;
        d->cal.right_channel = r;
        snprintf(d->cal.device_serial, sizeof d->cal.device_serial, "%s", info->serial);
        d->cal_generation++;
    }
    pthread_mutex_unlock(&d->lock);
    if (changed)
        nd_notice("device: model %s, serial %s%s%s, %g Hz, %d channel%s", info->model, info->serial,
                  info->fw[0] ? ", firmware " : "", info->fw, info->rate_hz, info->nch,
                  info->nch == 1 ? "" : "s");
}

void nd_acquisition_sink(nd_daemon *d, nd_sink *out)
{
    out->ctx = d;
    out->samples = on_samples;
    out->event = on_event;
    out->info = on_info;
}

void *nd_acquisition_main(void *arg)
{
    nd_daemon *d = arg;
    int rc = nd_device_run(d->dev, &d->stop_acquisition);
    if (rc == ND_RUN_EOF) {
        nd_notice("device stream ended (%s)", d->cfg.device);
        atomic_store(&d->source_ended, true);
    } else if (rc < 0) {
        nd_daemon_set_error(d, "device %s failed; acquisition stopped", d->cfg.device);
        atomic_store(&d->source_ended, true);
    }
    atomic_store(&d->acquisition_done, true);
    nd_ring_wake_all(d->ring);
    return NULL;
}
