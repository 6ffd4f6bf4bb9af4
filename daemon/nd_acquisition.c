/* The acquisition thread (nd_acquisition.h). */
#include "nd_acquisition.h"

#include <stdio.h>
#include <string.h>

#include "nd_log.h"

/* How long a read waits for room in a full ring before its sets are
 * refused (RING.md, "Wake-ups"). */
#define RING_FULL_WAIT_MS 100

/* Fit the ring to the device's rate (RING.md, "Sizing") once the stream has
 * shown for a second that it really runs at that rate: a replayed file or an
 * unpaced simulator declares a rate but delivers as fast as it can, and then
 * keeps the configured maximum. Called before each push until decided. */
static void fit_ring(nd_acquisition *a, size_t incoming)
{
    uint64_t now = nd_monotonic_ns();
    uint64_t published = nd_ring_published(a->ring);
    if (!a->ring_probe_ns) a->ring_probe_ns = now;
    double rate = nd_device_board_rate(a->board);
    size_t max = nd_ring_capacity(a->ring);
    size_t cap = nd_ring_capacity_for(rate, a->ring_seconds, a->ring_min, max);
    if (a->ring_seconds <= 0 || cap >= max || published + incoming > cap) {
        a->ring_fitted = true; /* nothing to gain, or too late: keep the maximum */
        return;
    }
    double elapsed = (double)(now - a->ring_probe_ns) / 1e9;
    if (elapsed < 1.0) return;
    a->ring_fitted = true;
    if ((double)published > 2.0 * rate * elapsed) {
        nd_info("ring: %zu sets kept: the source delivers faster than its %g Hz", max, rate);
        return;
    }
    if (nd_ring_fit(a->ring, cap) == 0)
        nd_info("ring: %zu sets (%.1f s at %g Hz, %.1f MiB)", cap, (double)cap / rate, rate,
                (double)cap * sizeof(nd_sample) / 1048576.0);
}

static void on_samples(void *ctx, const nd_sample *sets, size_t n)
{
    nd_acquisition *a = ctx;
    if (!a->ring_fitted) fit_ring(a, n);
    /* Held back until the read ends (on_end_of_read): consumers then wake
     * once per read, not once per frame. A full ring is waited on briefly
     * (a burst, or a source faster than the consumers: the transport's
     * buffer holds the rest meanwhile); a refusal after that (the file
     * writer is stuck) is counted by the ring itself and shown on status as
     * ring_overruns. */
    nd_ring_stage(a->ring, sets, n, RING_FULL_WAIT_MS);
}

static void on_end_of_read(void *ctx)
{
    nd_acquisition *a = ctx;
    nd_ring_commit(a->ring);
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
    nd_acquisition *a = ctx;
    nd_ring_commit(a->ring); /* the event's position follows the sets before it */
    int level = ev->kind == ND_EV_DEVICE_BACK ? ND_LOG_NOTICE : ND_LOG_WARNING;
    nd_log(level, "%s%s%s (count %llu)", event_name(ev->kind), ev->detail[0] ? ": " : "",
           ev->detail, (unsigned long long)ev->count);
    nd_msg m = {.kind = ND_MSG_DEVICE_EVENT};
    m.u.dev = *ev;
    nd_bus_post_at_head(a->bus, &m, NULL);
}

static void on_info(void *ctx, const nd_device_info *info)
{
    nd_acquisition *a = ctx;
    nd_ring_commit(a->ring);
    if (!nd_device_board_put(a->board, info)) return;
    nd_notice("device: model %s, serial %s%s%s, %g Hz, %d channel%s", info->model, info->serial,
              info->fw[0] ? ", firmware " : "", info->fw, info->rate_hz, info->nch,
              info->nch == 1 ? "" : "s");
    /* The metrics thread owns the calibration: it decides whether the
     * device's counts per newton apply (no saved calibration, no trial). */
    nd_msg m = {.kind = ND_MSG_DEVICE_INFO};
    nd_bus_post_at_head(a->bus, &m, NULL);
}

void nd_acquisition_sink(nd_acquisition *a, nd_sink *out)
{
    out->ctx = a;
    out->samples = on_samples;
    out->event = on_event;
    out->info = on_info;
    out->end_of_read = on_end_of_read;
}

void *nd_acquisition_main(void *arg)
{
    nd_acquisition *a = arg;
    int rc = nd_device_run(a->dev, &a->stop);
    nd_ring_commit(a->ring); /* what the last read staged */
    if (rc == ND_RUN_EOF) {
        nd_notice("device stream ended (%s)", a->device_uri);
        atomic_store(&a->ended, true);
    } else if (rc < 0) {
        nd_error_report(a->errors, "device %s failed; acquisition stopped", a->device_uri);
        atomic_store(&a->ended, true);
    }
    atomic_store(&a->done, true);
    nd_ring_wake_all(a->ring);
    return NULL;
}
