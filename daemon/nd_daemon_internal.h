/* Shared state of the daemon's threads; private to daemon/nd_daemon*.c and
 * the thread files. Everything under `lock` is low-rate (commands, per-batch
 * live values); the sample path itself never takes it. */
#ifndef ND_DAEMON_INTERNAL_H
#define ND_DAEMON_INTERNAL_H

#include "nd_daemon.h"

typedef struct nd_writer_handshake {
    bool create_requested, create_done;
    bool create_abandoned; /* the command gave up waiting: discard the file */
    int create_rc;
    char create_err[256];
    uint32_t closed_trial_no; /* last trial whose file was closed */
    nd_trial_summary closed_summary;
    char closed_err[256];
} nd_writer_handshake;

typedef struct nd_pending_op {
    bool active, done;
    int rc;
    char msg[256];
} nd_pending_op;

struct nd_daemon {
    nd_config cfg;
    nd_device *dev;
    nd_ring *ring;
    nd_bus bus;
    int ring_metrics, ring_writer, ring_pub;
    int bus_metrics, bus_writer, bus_pub;

    atomic_bool stop_acquisition; /* driver run loop watches this */
    atomic_bool stop_requested;   /* SIGTERM / SIGINT */
    atomic_bool source_ended;
    atomic_bool acquisition_done; /* acquisition thread has returned */
    atomic_bool stop_consumers;   /* consumers exit once drained */
    atomic_bool held;             /* lossless consumers wait at position 0 */

    /* ZeroMQ (nd_zmq_glue.c) */
    void *zctx;
    struct nd_publisher *publisher;
    struct nd_control *control;
    struct nd_zap *zap;
    struct nd_curve_server *curve;

    pthread_t t_acquisition, t_metrics, t_writer, t_publisher;
    bool have_acquisition, have_metrics, have_writer, have_publisher;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    nd_trial_state state;
    uint32_t next_trial_no;
    nd_trial_slot trial;
    nd_device_info info;
    bool info_valid;
    nd_calibration cal;
    bool cal_saved; /* cal came from the state file or a tare/calibration */
    char cal_path[ND_PATH_MAX + 32];
    nd_metric_settings settings;
    nd_metric_settings deferred_settings; /* a reload's, applied when the trial stops */
    bool settings_deferred;
    nd_live_state live;
    uint64_t live_host_ns; /* arrival time of the newest set behind `live` */
    char last_error[256];
    char warning[240];       /* a standing problem, e.g. a zero taken under load; "" = none */
    nd_pending_op op;        /* tare / calibrate in progress */
    char op_kind[16];        /* "taring" / "calibrating" while op.active */
    uint32_t cal_generation; /* bumped when d->cal changes outside the metrics thread */
    nd_writer_handshake writer;

    _Atomic uint64_t file_samples_written, file_samples_lost, file_errors;
    _Atomic uint64_t live_dropped;
    _Atomic uint64_t metrics_channel_errors; /* sets lacking the configured channels */
    /* Monotonic time of each consumer loop's latest pass (nd_watchdog.c). */
    _Atomic uint64_t metrics_beat_ns, writer_beat_ns;
};

/* Thread entry points (one file each). */
void *nd_acquisition_main(void *arg);
void *nd_metrics_main(void *arg);
void *nd_writer_main(void *arg);
void *nd_publisher_main(void *arg);

/* Resources set up before the threads start (so that an unwritable data
 * directory or an unusable endpoint stops the daemon with a clear error) and
 * released after they are joined. */
int nd_writer_prepare(nd_daemon *d, char *err, size_t errlen);
void nd_writer_release(nd_daemon *d);
int nd_publisher_prepare(nd_daemon *d, char *err, size_t errlen);
void nd_publisher_release(nd_daemon *d);
/* The control socket starts last, once every thread runs. */
int nd_control_prepare(nd_daemon *d, char *err, size_t errlen);
void nd_control_release(nd_daemon *d);

/* The sink the driver delivers into (nd_acquisition.c). */
void nd_acquisition_sink(nd_daemon *d, nd_sink *out);

/* Records an error for `status` and logs it. */
void nd_daemon_set_error(nd_daemon *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Consumers: true once acquisition is over and a drain was requested. */
static inline bool nd_consumers_should_exit(nd_daemon *d)
{
    return atomic_load(&d->stop_consumers);
}

#endif
