/* Thread health for the systemd watchdog (nd_watchdog.h). The metrics and
 * writer threads store a heartbeat on every pass of their loops (at least
 * every 20 ms when idle); acquisition counts as alive while sample sets
 * arrive, while the board is disconnected (the driver is reconnecting), or
 * once its stream ended. */
#include "nd_watchdog.h"

#include <stdio.h>
#include <stdlib.h>

#include "nd_log.h"

void nd_watchdog_init(nd_watchdog *w, uint64_t interval_usec, uint64_t now_ns)
{
    *w = (nd_watchdog){.interval_ns = interval_usec * 1000u, .acq_progress_ns = now_ns};
}

static uint64_t age(uint64_t now_ns, uint64_t then_ns)
{
    return now_ns > then_ns ? now_ns - then_ns : 0;
}

/* The thread that has made no progress for the longest, and for how long. */
static const char *oldest(nd_watchdog *w, nd_daemon *d, uint64_t now_ns, uint64_t *stalled_ns)
{
    nd_daemon_health h;
    nd_daemon_health_get(d, &h);
    if (h.device_sets != w->acq_sets || !h.device_connected || h.acquisition_done) {
        w->acq_sets = h.device_sets;
        w->acq_progress_ns = now_ns;
    }
    const char *who = "acquisition (a connected device delivers no data)";
    *stalled_ns = age(now_ns, w->acq_progress_ns);
    uint64_t m = h.have_metrics ? age(now_ns, h.metrics_beat_ns) : 0;
    uint64_t wr = h.have_writer ? age(now_ns, h.writer_beat_ns) : 0;
    if (m > *stalled_ns) *stalled_ns = m, who = "metrics thread";
    if (wr > *stalled_ns) *stalled_ns = wr, who = "file writer thread";
    return who;
}

nd_watchdog_verdict nd_watchdog_check(nd_watchdog *w, nd_daemon *d, uint64_t now_ns, char *why,
                                      size_t whylen)
{
    uint64_t stalled_ns;
    const char *who = oldest(w, d, now_ns, &stalled_ns);
    snprintf(why, whylen, "watchdog: %s made no progress for %.1f s", who, stalled_ns / 1e9);
    if (stalled_ns < w->interval_ns / 2) {
        if (w->late_reported) nd_notice("watchdog: all threads make progress again");
        w->late_reported = w->triggered = false;
        return ND_WATCHDOG_PET;
    }
    if (!w->late_reported) {
        nd_daemon_report_error(d, "%s; not petting the systemd watchdog", why);
        w->late_reported = true;
    }
    if (stalled_ns >= w->interval_ns && !w->triggered) {
        nd_daemon_report_error(d, "%s: stuck, asking systemd to restart the service", why);
        w->triggered = true;
        return ND_WATCHDOG_TRIGGER;
    }
    return ND_WATCHDOG_HOLD;
}

double nd_watchdog_test_writer_stall_s(void)
{
    const char *v = getenv("NORDICD_TEST_STALL_WRITER_S");
    if (!v || !*v) return 0;
    char *end;
    double s = strtod(v, &end);
    return *end == '\0' && s > 0 && s <= 3600 ? s : 0;
}
