/* Shared reconnect and back-off (nd_reconnect.h). */
#include "nd_reconnect.h"

#include <stdio.h>
#include <time.h>

#include "nd_log.h"
#include "nd_transport.h"

bool nd_sleep_unless_stopped(const atomic_bool *stop, int ms)
{
    uint64_t end = nd_monotonic_ns() + (uint64_t)ms * 1000000u;
    while (!atomic_load(stop)) {
        uint64_t now = nd_monotonic_ns();
        if (now >= end) return false;
        uint64_t left = end - now;
        if (left > 20000000u) left = 20000000u; /* re-check stop every 20 ms */
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left};
        nanosleep(&ts, NULL);
    }
    return true;
}

static int next_wait(int ms)
{
    return ms * 2 > ND_RECONNECT_MAX_WAIT_MS ? ND_RECONNECT_MAX_WAIT_MS : ms * 2;
}

static bool power_of_two(uint64_t n)
{
    return n && (n & (n - 1)) == 0;
}

int nd_device_reconnect(nd_device *dev, const atomic_bool *stop, const char *what,
                        nd_reconnect_attempt_fn attempt, void *ctx)
{
    nd_link_state *l = &dev->link;
    atomic_store(&dev->connected, false);
    atomic_fetch_add(&dev->counters.disconnects, 1);
    dev->mark_reconnect = false;
    if (l->awaiting_data) {
        /* Came back but ended before delivering a set: the back-off goes on. */
        l->quiet_ends++;
        l->quiet_events_held = !power_of_two(l->quiet_ends);
    } else {
        l->backoff_ms = ND_RECONNECT_FIRST_WAIT_MS;
        l->quiet_ends = 0;
        l->quiet_events_held = false;
    }
    if (l->quiet_events_held)
        nd_debug("device %s: %s ended again without data (%llu in a row)", dev->uri_text, what,
                 (unsigned long long)l->quiet_ends);
    else if (l->quiet_ends)
        nd_device_emit_event(dev, ND_EV_DEVICE_LOST, 0, l->quiet_ends,
                             "device lost (%s): connection ended without data, %llu in a row; "
                             "retrying at most every %d ms, reported at powers of two",
                             what, (unsigned long long)l->quiet_ends, ND_RECONNECT_MAX_WAIT_MS);
    else
        nd_device_emit_event(dev, ND_EV_DEVICE_LOST, 0, 0, "device lost (%s)", what);

    if (!attempt) {
        nd_device_emit_event(dev, ND_EV_ERROR, 0, 0, "%s cannot reconnect", what);
        return -1;
    }
    uint64_t attempts = 0;
    bool error_reported = false;
    for (;;) {
        if (nd_sleep_unless_stopped(stop, l->backoff_ms)) return 1;
        attempts++;
        l->backoff_ms = next_wait(l->backoff_ms);
        char err[200] = "";
        int rc = attempt(ctx, err, sizeof err);
        if (rc == 0) break;
        /* Link up but the device refused: once per outage as an event. */
        if (rc != ND_TR_LOST && err[0]) {
            if (!error_reported && !l->quiet_events_held)
                nd_device_emit_event(dev, ND_EV_ERROR, 0, 0, "%s", err);
            else
                nd_debug("device %s: %s", dev->uri_text, err);
            error_reported = true;
        }
    }
    atomic_fetch_add(&dev->counters.reconnects, 1);
    atomic_store(&dev->connected, true);
    dev->mark_reconnect = true;
    l->awaiting_data = true;
    if (l->quiet_events_held)
        nd_debug("device %s: %s back after %llu attempt%s", dev->uri_text, what,
                 (unsigned long long)attempts, attempts == 1 ? "" : "s");
    else
        nd_device_emit_event(dev, ND_EV_DEVICE_BACK, 0, attempts,
                             "device back after %llu attempt%s", (unsigned long long)attempts,
                             attempts == 1 ? "" : "s");
    return 0;
}
