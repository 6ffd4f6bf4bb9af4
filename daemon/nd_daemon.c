/* Daemon lifecycle: open the device, create the ring, bus and boards, give
 * each thread its context and start it; shut down in the order that loses
 * nothing (stop acquisition, close the open trial at the last acquired set,
 * drain consumers, join). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_control_handler.h"
#include "nd_daemon_internal.h"
#include "nd_log.h"
#include "nd_watchdog.h"

/* Consumers' wake-up batches (RING.md, "Wake-ups"): the metrics thread takes
 * each read as the acquisition publishes it (reads are batched by time at the
 * source), the file writer whole chunks. */
#define METRICS_BATCH_MS   250 /* a silent device: the pass_done and beat period */
#define METRICS_BATCH_SETS 1   /* every read (the device batches by time, coalesce_ms) */
#define WRITER_BATCH_MS    250
#define WRITER_BATCH_SETS  8192
/* The smallest ring fitted to a rate: 512 KiB (RING.md, "Sizing"). */
#define RING_MIN_SETS 8192

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

/* The calibration the metrics thread starts with: the saved one, else
 * defaults until the device reports counts per newton or a tare is done. */
static bool load_calibration(const nd_config *cfg, const char *path, nd_calibration *cal)
{
    char err[256];
    nd_calibration_default(cal, ND_MAX_CHANNELS, NULL);
    cal->left_channel = cfg->left_channel;
    cal->right_channel = cfg->right_channel;
    if (access(path, F_OK) != 0) {
        nd_info("no saved calibration at %s; using defaults until the device reports "
                "counts per newton or a calibration is done",
                path);
        return false;
    }
    nd_calibration loaded;
    if (nd_calibration_load(&loaded, path, err, sizeof err)) {
        nd_warn("ignoring saved calibration: %s", err);
        return false;
    }
    *cal = loaded;
    cal->left_channel = cfg->left_channel;
    cal->right_channel = cfg->right_channel;
    nd_notice("calibration loaded from %s", path);
    return true;
}

static int start_thread(pthread_t *t, bool *have, void *(*fn)(void *), void *ctx, const char *name,
                        char *err, size_t errlen)
{
    int rc = pthread_create(t, NULL, fn, ctx);
    if (rc) {
        snprintf(err, errlen, "cannot start the %s thread: %s", name, strerror(rc));
        return -1;
    }
    pthread_setname_np(*t, name);
    *have = true;
    return 0;
}

static void status_of(void *ctx, nd_status_snapshot *out)
{
    nd_daemon_status(ctx, out);
}

/* Each thread's context: what it reads and what it owns, nothing else. */
static void wire_threads(nd_daemon *d, const nd_calibration *cal, bool cal_saved)
{
    const nd_config *cfg = &d->cfg;
    int ring_metrics = nd_ring_add_consumer(d->ring, ND_RING_LOSSLESS, "metrics");
    int ring_writer = nd_ring_add_consumer(d->ring, ND_RING_LOSSLESS, "writer");
    int ring_pub = nd_ring_add_consumer(d->ring, ND_RING_LOSSY, "publisher");

    d->acq.device_uri = cfg->device;
    d->acq.ring = d->ring;
    /* A held --record tare reads its window from the ring: room for it too. */
    d->acq.ring_seconds = d->cfg.ring_seconds;
    if (d->acq.ring_seconds > 0 && d->acq.ring_seconds < 2 * d->cfg.metrics.tare_window_s)
        d->acq.ring_seconds = 2 * d->cfg.metrics.tare_window_s;
    d->acq.ring_min = RING_MIN_SETS;
    d->acq.bus = &d->bus;
    d->acq.board = &d->device_board;
    d->acq.errors = &d->errors;

    nd_metrics_thread *m = &d->metrics;
    m->in = (nd_consumer){.ring = d->ring,
                          .ring_reader = ring_metrics,
                          .bus = &d->bus,
                          .bus_reader = nd_bus_add_reader(&d->bus),
                          .held = &d->held,
                          .drain_and_exit = &d->stop_consumers,
                          /* live values follow each read at once */
                          .batch_sets = METRICS_BATCH_SETS,
                          .batch_ms = METRICS_BATCH_MS};
    m->device = &d->device_board;
    m->board = &d->metrics_board;
    m->errors = &d->errors;
    m->initial_cal = *cal;
    m->initial_saved = cal_saved;
    snprintf(m->cal_path, sizeof m->cal_path, "%s", d->cal_path);
    m->settings = cfg->metrics;
    m->tare_max_shift_N = cfg->tare_max_shift_N;
    m->tare_max_offset_N = cfg->tare_max_offset_N;
    m->in.beat_ns = &m->beat_ns;

    nd_writer_thread *w = &d->writer;
    w->in = (nd_consumer){.ring = d->ring,
                          .ring_reader = ring_writer,
                          .bus = &d->bus,
                          .bus_reader = nd_bus_add_reader(&d->bus),
                          .held = &d->held,
                          .drain_and_exit = &d->stop_consumers,
                          /* files need no hurry: whole chunks, few wake-ups */
                          .batch_sets = WRITER_BATCH_SETS,
                          .batch_ms = WRITER_BATCH_MS};
    w->data_dir = cfg->data_dir;
    w->flush_interval_s = cfg->flush_interval_s;
    w->errors = &d->errors;
    w->test_stall_s = nd_watchdog_test_writer_stall_s();
    w->in.beat_ns = &w->beat_ns;

    nd_publisher_thread *p = &d->publisher;
    p->ring = d->ring;
    p->ring_reader = ring_pub;
    p->bus = &d->bus;
    p->bus_reader = nd_bus_add_reader(&d->bus);
    p->device = &d->device_board;
    p->metrics = &d->metrics_board;
    p->live = &d->live_board;
    p->status = status_of;
    p->status_ctx = d;
    p->shutting_down = &d->acq.stop;
    p->exit = &d->stop_consumers;
}

nd_daemon *nd_daemon_start(const nd_config *cfg, bool held, char *err, size_t errlen)
{
    nd_daemon *d = calloc(1, sizeof *d);
    if (!d) return snprintf(err, errlen, "out of memory"), NULL;
    d->cfg = *cfg;
    atomic_store(&d->held, held);
    pthread_mutex_init(&d->cmd.lock, NULL);
    d->cmd.next_trial_no = 1;
    d->cmd.settings = cfg->metrics;
    nd_error_board_init(&d->errors);
    nd_device_board_init(&d->device_board);
    nd_live_board_init(&d->live_board, cfg->live_hz, cfg->wave_decimation);

    if (make_dirs(cfg->state_dir, 0750, err, errlen)) goto fail_early;
    snprintf(d->cal_path, sizeof d->cal_path, "%s/calibration.conf", cfg->state_dir);
    nd_calibration cal;
    bool cal_saved = load_calibration(cfg, d->cal_path, &cal);
    nd_metrics_board_init(&d->metrics_board, &cal, cal_saved);

    d->ring = nd_ring_create(cfg->ring_capacity);
    if (!d->ring) {
        snprintf(err, errlen, "cannot allocate a ring of %lu sample sets", cfg->ring_capacity);
        goto fail_board;
    }
    if (nd_bus_init(&d->bus, d->ring)) {
        snprintf(err, errlen, "out of memory");
        goto fail_ring;
    }
    wire_threads(d, &cal, cal_saved);

    if (nd_writer_prepare(cfg->data_dir, &d->errors, err, errlen)) goto fail_bus;
    if (nd_zmq_open_publisher(&d->zmq, cfg, err, errlen)) goto fail_zmq;
    d->publisher.pub = d->zmq.publisher;

    nd_sink sink;
    nd_acquisition_sink(&d->acq, &sink);
    if (nd_device_open(cfg->device, &sink, &d->dev, err, errlen)) goto fail_zmq;
    d->acq.dev = d->dev;
    d->publisher.dev = d->dev;

    /* Threads inherit a mask with the termination signals blocked, so that
     * only the main thread (sigtimedwait) ever sees them. */
    if (start_thread(&d->t_metrics, &d->have_metrics, nd_metrics_main, &d->metrics, "nd-metrics",
                     err, errlen) ||
        start_thread(&d->t_writer, &d->have_writer, nd_writer_main, &d->writer, "nd-writer", err,
                     errlen) ||
        start_thread(&d->t_publisher, &d->have_publisher, nd_publisher_main, &d->publisher,
                     "nd-publisher", err, errlen) ||
        start_thread(&d->t_acquisition, &d->have_acquisition, nd_acquisition_main, &d->acq,
                     "nd-acquire", err, errlen)) {
        nd_daemon_shutdown(d);
        return NULL;
    }
    if (nd_zmq_open_control(&d->zmq, cfg, nd_control_handle_request, d, err, errlen)) {
        nd_daemon_shutdown(d);
        return NULL;
    }
    return d;

fail_zmq:
    nd_zmq_close(&d->zmq);
fail_bus:
    nd_bus_destroy(&d->bus);
fail_ring:
    nd_ring_destroy(d->ring);
fail_board:
    nd_metrics_board_destroy(&d->metrics_board);
fail_early:
    nd_live_board_destroy(&d->live_board);
    nd_device_board_destroy(&d->device_board);
    nd_error_board_destroy(&d->errors);
    pthread_mutex_destroy(&d->cmd.lock);
    free(d);
    return NULL;
}

void nd_daemon_health_get(nd_daemon *d, nd_daemon_health *out)
{
    out->device_sets = atomic_load(&nd_device_counters(d->dev)->sets);
    out->device_connected = nd_device_connected(d->dev);
    out->acquisition_done = atomic_load(&d->acq.done);
    out->have_metrics = d->have_metrics;
    out->have_writer = d->have_writer;
    out->metrics_beat_ns = atomic_load(&d->metrics.beat_ns);
    out->writer_beat_ns = atomic_load(&d->writer.beat_ns);
}

void nd_daemon_report_error(nd_daemon *d, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nd_error_report(&d->errors, "%s", msg);
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
    return atomic_load(&d->acq.ended);
}
const nd_config *nd_daemon_config(const nd_daemon *d)
{
    return &d->cfg;
}

void nd_daemon_shutdown(nd_daemon *d)
{
    if (!d) return;
    /* No new commands from here on. */
    nd_zmq_close_control(&d->zmq);
    atomic_store(&d->acq.stop, true);
    if (d->have_acquisition) pthread_join(d->t_acquisition, NULL);
    atomic_store(&d->held, false);

    /* Everything acquired is in the ring now: close an open trial right
     * after the last set, so the file holds every sample. */
    if (nd_daemon_recording(d) && d->have_metrics && d->have_writer) {
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
    nd_zmq_close(&d->zmq);
    nd_trial_release(d->cmd.trial);
    nd_bus_destroy(&d->bus);
    nd_ring_destroy(d->ring);
    nd_metrics_board_destroy(&d->metrics_board);
    nd_live_board_destroy(&d->live_board);
    nd_device_board_destroy(&d->device_board);
    nd_error_board_destroy(&d->errors);
    pthread_mutex_destroy(&d->cmd.lock);
    free(d);
}
