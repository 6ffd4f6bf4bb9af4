/* The metrics thread: a lossless ring consumer that owns the calibration
 * (tare and two-point windows, the device's counts per newton, a tare taken
 * for --record), calibrates every sample set, feeds the trial's metrics
 * engine (daemon/metrics/METRICS.md) and posts rep results and the trial summary on
 * the bus. Between trials an idle engine keeps the live force display going.
 * Everything it publishes for others is on its board (nd_boards.h). */
#ifndef ND_METRICS_THREAD_H
#define ND_METRICS_THREAD_H

#include <stdatomic.h>

#include "nd_boards.h"
#include "nd_consumer.h"

typedef struct nd_metrics_thread {
    /* inputs */
    nd_consumer in;          /* ring and bus readers, hold and drain flags */
    nd_device_board *device; /* read: rate, channels, counts per newton */
    nd_metrics_board *board; /* written by this thread only */
    nd_error_board *errors;
    nd_calibration initial_cal; /* loaded from the state file, or defaults */
    bool initial_saved;
    char cal_path[600];          /* where calibrations are saved */
    nd_metric_settings settings; /* for the live display between trials */
    /* output */
    _Atomic uint64_t channel_errors; /* sets lacking the configured channels */
} nd_metrics_thread;

void *nd_metrics_main(void *arg);

#endif
