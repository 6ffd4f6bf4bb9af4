/* What one thread publishes for the others to read. Each board has exactly
 * one writer (named below); readers take a consistent copy under the
 * board's own lock. None of these locks is ever held across another, and
 * the sample path never takes one. */
#ifndef ND_BOARDS_H
#define ND_BOARDS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "nd_calibration.h"
#include "nd_device.h"
#include "nd_metrics.h"
#include "nd_sets.h"

/* Writer: the acquisition thread (the driver's info callback). */
typedef struct nd_device_board {
    pthread_mutex_t lock;
    nd_device_info info;
    bool valid;
    uint64_t generation; /* +1 on every change */
} nd_device_board;

/* Writer: the metrics thread, the only owner of the calibration. */
typedef struct nd_metrics_board {
    pthread_mutex_t lock;
    nd_calibration cal; /* in force now (a recording trial's own while it runs) */
    bool cal_saved;     /* from the state file, a tare or a calibration */
    nd_live_state live;
    uint64_t live_host_ns;    /* arrival of the newest set behind `live` */
    uint32_t live_trial_no;   /* the trial whose engine made `live` (0: between trials) */
    nd_set_live sets;         /* the recording trial's set/rep/rest (phase none otherwise) */
    uint32_t trial_no;        /* the trial this thread has begun (0 between trials) */
    uint64_t info_generation; /* device board generation the calibration reflects */
    char warning[240];        /* a standing problem (a zero taken under load); "" = none */
    /* +1 after each pass that brought new live values: the publisher waits
     * on it (futex), so live messages follow the data instead of a timer. */
    _Atomic uint32_t passes;
} nd_metrics_board;

/* Writer: the file writer thread. */
typedef struct nd_file_counters {
    _Atomic uint64_t sets_written, sets_lost, errors;
} nd_file_counters;

/* Writer: the command layer (control requests, SIGHUP reload). */
typedef struct nd_live_board {
    pthread_mutex_t lock;
    double live_hz;      /* rate of the `live` topic */
    int wave_decimation; /* one `wave` point per N sets */
} nd_live_board;

/* Every thread reports here; `status` shows the newest. */
typedef struct nd_error_board {
    pthread_mutex_t lock;
    char last[256];
} nd_error_board;

void nd_device_board_init(nd_device_board *b);
void nd_device_board_destroy(nd_device_board *b);
/* Copies the info; false (and *out untouched) until the device reported. */
bool nd_device_board_get(nd_device_board *b, nd_device_info *out);
/* The device's sample rate, 0 until it reported. */
double nd_device_board_rate(nd_device_board *b);
uint64_t nd_device_board_generation(nd_device_board *b);
/* Stores info; returns true (and bumps the generation) when it differs. */
bool nd_device_board_put(nd_device_board *b, const nd_device_info *info);

void nd_metrics_board_init(nd_metrics_board *b, const nd_calibration *cal, bool saved);
void nd_metrics_board_destroy(nd_metrics_board *b);
void nd_metrics_board_get_cal(nd_metrics_board *b, nd_calibration *cal, bool *saved);
uint64_t nd_metrics_board_info_generation(nd_metrics_board *b);
void nd_metrics_board_get_warning(nd_metrics_board *b, char *out, size_t outlen);
/* host_ns and trial_no may be NULL; trial_no = the trial `live` belongs to. */
void nd_metrics_board_get_live(nd_metrics_board *b, nd_live_state *live, uint64_t *host_ns,
                               uint32_t *trial_no);
void nd_metrics_board_get_sets(nd_metrics_board *b, nd_set_live *sets);
uint32_t nd_metrics_board_trial_no(nd_metrics_board *b);
/* The metrics thread: new live values are on the board (wakes waiters). */
void nd_metrics_board_pass_done(nd_metrics_board *b);
uint32_t nd_metrics_board_passes(nd_metrics_board *b);
/* Sleeps until the pass count differs from `seen` or timeout_ms passed. */
void nd_metrics_board_wait_pass(nd_metrics_board *b, uint32_t seen, int timeout_ms);

void nd_live_board_init(nd_live_board *b, double live_hz, int wave_decimation);
void nd_live_board_destroy(nd_live_board *b);
void nd_live_board_get(nd_live_board *b, double *live_hz, int *wave_decimation);
void nd_live_board_set(nd_live_board *b, double live_hz, int wave_decimation);

void nd_error_board_init(nd_error_board *b);
void nd_error_board_destroy(nd_error_board *b);
/* Logs the error and keeps it for `status`. */
void nd_error_report(nd_error_board *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nd_error_board_get(nd_error_board *b, char *out, size_t outlen);

#endif
