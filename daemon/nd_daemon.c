/* Daemon lifecycle: open the device, create the ring and bus, start the
 * threads; shut down in the order that loses nothing (stop acquisition,
 * close the open trial at the last acquired set, drain consumers, join). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_daemon_internal.h"
#include "nd_log.h"

void nd_daemon_set_error(nd_daemon *d, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nd_err("%s", msg);
    pthread_mutex_lock(&d->lock);
    snprintf(d->last_error, sizeof d->last_error, "%s", msg);
    pthread_mutex_unlock(&d->lock);
}

/* mkdir -p for the daemon's own directories. */
static int make_dirs(const char *path, mode_t mode, char *err, size_t errlen)
{
    char buf[ND_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, mode) && errno != EEXIST) goto fail;
        *p = '/';
    }
    if (mkdir(buf, mode) && errno != EEXIST) goto fail;
    return 0;
fail:
    snprintf(err, errlen, "cannot create directory %s: %s", buf, strerror(errno));
    return -1;
}

static void load_calibration(nd_daemon *d)
{
    char err[256];
    snprintf(d->cal_path, sizeof d->cal_path, "%s/calibration.conf", d->cfg.state_dir);
    nd_calibration_default(&d->cal, ND_MAX_CHANNELS, NULL);
    d->cal.left_channel = d->cfg.left_channel;
    d->cal.right_channel = d->cfg.right_channel;
    if (access(d->cal_path, F_OK) != 0) {
        nd_info("no saved calibration at %s; using defaults until the device reports "
                "counts per newton or a calibration is done",
                d->cal_path);
        return;
    }
    nd_calibration loaded;
    if (nd_calibration_load(&loaded, d->cal_path, err, sizeof err)) {
        nd_warn("ignoring saved calibration: %s", err);
        return;
    }
    d->cal = loaded;
    d->cal_saved = true;
    d->cal.left_channel = d->cfg.left_channel;
    d->cal.right_channel = d->cfg.right_channel;
    nd_notice("calibration loaded from %s", d->cal_path);
}

static int start_thread(pthread_t *t, bool *have, void *(*fn)(void *), nd_daemon *d,
                        const char *name, char *err, size_t errlen)
{
    int rc = pthread_create(t, NULL, fn, d);
    if (rc) {
        snprintf(err, errlen, "cannot start the %s thread: %s", name, strerror(rc));
        return -1;
    }
    pthread_setname_np(*t, name);
    *have = true;
    return 0;
}

nd_daemon *nd_daemon_start(const nd_config *cfg, bool held, char *err, size_t errlen)
{
    nd_daemon *d = calloc(1, sizeof *d);
    if (!d) return snprintf(err, errlen, "out of memory"), NULL;
    d->cfg = *cfg;
    d->settings = cfg->metrics;
    d->next_trial_no = 1;
    atomic_store(&d->held, held);
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_t cond_attr;
    pthread_condattr_init(&cond_attr);
    pthread_condattr_setclock(&cond_attr, CLOCK_MONOTONIC); /* command timeouts */
    pthread_cond_init(&d->cond, &cond_attr);
    pthread_condattr_destroy(&cond_attr);

    if (make_dirs(cfg->state_dir, 0750, err, errlen)) goto fail_early;
    load_calibration(d);

    d->ring = nd_ring_create(cfg->ring_capacity);
    if (!d->ring) {
        snprintf(err, errlen, "cannot allocate a ring of %lu sample sets", cfg->ring_capacity);
        goto fail_early;
    }
    d->ring_metrics = nd_ring_add_consumer(d->ring, ND_RING_LOSSLESS, "metrics");
    d->ring_writer = nd_ring_add_consumer(d->ring, ND_RING_LOSSLESS, "writer");
    d->ring_pub = nd_ring_add_consumer(d->ring, ND_RING_LOSSY, "publisher");
    if (nd_bus_init(&d->bus, d->ring)) {
        snprintf(err, errlen, "out of memory");
        goto fail_ring;
    }
    d->bus_metrics = nd_bus_add_reader(&d->bus);
    d->bus_writer = nd_bus_add_reader(&d->bus);
    d->bus_pub = nd_bus_add_reader(&d->bus);

    if (nd_writer_prepare(d, err, errlen)) goto fail_bus;
    if (nd_publisher_prepare(d, err, errlen)) goto fail_pub;

    nd_sink sink;
    nd_acquisition_sink(d, &sink);
    if (nd_device_open(cfg->device, &sink, &d->dev, err, errlen)) goto fail_pub;

    /* Threads inherit a mask with the termination signals blocked, so that
     * only the main thread (sigtimedwait) ever sees them. */
    if (start_thread(&d->t_metrics, &d->have_metrics, nd_metrics_main, d, "nd-metrics", err,
                     errlen) ||
        start_thread(&d->t_writer, &d->have_writer, nd_writer_main, d, "nd-writer", err, errlen) ||
        start_thread(&d->t_publisher, &d->have_publisher, nd_publisher_main, d, "nd-publisher", err,
                     errlen) ||
        start_thread(&d->t_acquisition, &d->have_acquisition, nd_acquisition_main, d, "nd-acquire",
                     err, errlen)) {
        nd_daemon_shutdown(d);
        return NULL;
    }
    if (nd_control_prepare(d, err, errlen)) {
        nd_daemon_shutdown(d);
        return NULL;
    }
    return d;

fail_pub:
    nd_publisher_release(d);
    nd_writer_release(d);
fail_bus:
    nd_bus_destroy(&d->bus);
fail_ring:
    nd_ring_destroy(d->ring);
fail_early:
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    free(d);
    return NULL;
}

void nd_daemon_request_stop(nd_daemon *d)
{
    atomic_store(&d->stop_requested, true);
}
bool nd_daemon_stop_requested(const nd_daemon *d)
{
    return atomic_load(&d->stop_requested);
}
bool nd_daemon_source_ended(const nd_daemon *d)
{
    return atomic_load(&d->source_ended);
}
const nd_config *nd_daemon_config(const nd_daemon *d)
{
    return &d->cfg;
}

void nd_daemon_shutdown(nd_daemon *d)
{
    if (!d) return;
    /* No new commands from here on. */
    nd_control_release(d);
    atomic_store(&d->stop_acquisition, true);
    if (d->have_acquisition) pthread_join(d->t_acquisition, NULL);
    atomic_store(&d->held, false);

    /* Everything acquired is in the ring now: close an open trial right
     * after the last set, so the file holds every sample. */
    pthread_mutex_lock(&d->lock);
    bool recording = d->state == ND_TRIAL_RECORDING;
    pthread_mutex_unlock(&d->lock);
    if (recording && d->have_metrics && d->have_writer) {
        char err[256];
        nd_trial_slot slot;
        nd_trial_summary summary;
        if (nd_daemon_stop_trial(d, &slot, &summary, err, sizeof err))
            nd_err("closing the open trial at shutdown: %s", err);
        else
            nd_notice("trial %s closed at shutdown: %s", slot.trial_id, slot.path);
    }

    atomic_store(&d->stop_consumers, true);
    nd_ring_wake_all(d->ring);
    if (d->have_metrics) pthread_join(d->t_metrics, NULL);
    if (d->have_writer) pthread_join(d->t_writer, NULL);
    if (d->have_publisher) pthread_join(d->t_publisher, NULL);

    nd_device_close(d->dev);
    nd_publisher_release(d);
    nd_writer_release(d);
    nd_bus_destroy(&d->bus);
    nd_ring_destroy(d->ring);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    free(d);
}
