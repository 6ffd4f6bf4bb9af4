/* Boards: one writer, many readers (nd_boards.h). */
#include "nd_boards.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "nd_log.h"

void nd_device_board_init(nd_device_board *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
}

void nd_device_board_destroy(nd_device_board *b)
{
    pthread_mutex_destroy(&b->lock);
}

bool nd_device_board_get(nd_device_board *b, nd_device_info *out)
{
    pthread_mutex_lock(&b->lock);
    bool valid = b->valid;
    if (valid) *out = b->info;
    pthread_mutex_unlock(&b->lock);
    return valid;
}

double nd_device_board_rate(nd_device_board *b)
{
    pthread_mutex_lock(&b->lock);
    double fs = b->valid ? b->info.rate_hz : 0;
    pthread_mutex_unlock(&b->lock);
    return fs;
}

uint64_t nd_device_board_generation(nd_device_board *b)
{
    pthread_mutex_lock(&b->lock);
    uint64_t g = b->generation;
    pthread_mutex_unlock(&b->lock);
    return g;
}

bool nd_device_board_put(nd_device_board *b, const nd_device_info *info)
{
    pthread_mutex_lock(&b->lock);
    bool changed = !b->valid || memcmp(&b->info, info, sizeof *info) != 0;
    b->info = *info;
    b->valid = true;
    if (changed) b->generation++;
    pthread_mutex_unlock(&b->lock);
    return changed;
}

void nd_metrics_board_init(nd_metrics_board *b, const nd_calibration *cal, bool saved)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    b->cal = *cal;
    b->cal_saved = saved;
}

void nd_metrics_board_destroy(nd_metrics_board *b)
{
    pthread_mutex_destroy(&b->lock);
}

void nd_metrics_board_pass_done(nd_metrics_board *b)
{
    atomic_fetch_add_explicit(&b->passes, 1, memory_order_release);
    syscall(SYS_futex, &b->passes, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

uint32_t nd_metrics_board_passes(nd_metrics_board *b)
{
    return atomic_load_explicit(&b->passes, memory_order_acquire);
}

void nd_metrics_board_wait_pass(nd_metrics_board *b, uint32_t seen, int timeout_ms)
{
    if (timeout_ms <= 0) return;
    struct timespec rel = {.tv_sec = timeout_ms / 1000,
                           .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
    /* Returns at once if a pass came after `seen` was read (EAGAIN). */
    syscall(SYS_futex, &b->passes, FUTEX_WAIT_PRIVATE, seen, &rel, NULL, 0);
}

void nd_metrics_board_get_cal(nd_metrics_board *b, nd_calibration *cal, bool *saved)
{
    pthread_mutex_lock(&b->lock);
    if (cal) *cal = b->cal;
    if (saved) *saved = b->cal_saved;
    pthread_mutex_unlock(&b->lock);
}

uint64_t nd_metrics_board_info_generation(nd_metrics_board *b)
{
    pthread_mutex_lock(&b->lock);
    uint64_t g = b->info_generation;
    pthread_mutex_unlock(&b->lock);
    return g;
}

void nd_metrics_board_get_warning(nd_metrics_board *b, char *out, size_t outlen)
{
    pthread_mutex_lock(&b->lock);
    snprintf(out, outlen, "%s", b->warning);
    pthread_mutex_unlock(&b->lock);
}

uint32_t nd_metrics_board_trial_no(nd_metrics_board *b)
{
    pthread_mutex_lock(&b->lock);
    uint32_t no = b->trial_no;
    pthread_mutex_unlock(&b->lock);
    return no;
}

void nd_metrics_board_get_live(nd_metrics_board *b, nd_live_state *live, uint64_t *host_ns,
                               uint32_t *trial_no)
{
    pthread_mutex_lock(&b->lock);
    *live = b->live;
    if (host_ns) *host_ns = b->live_host_ns;
    if (trial_no) *trial_no = b->live_trial_no;
    pthread_mutex_unlock(&b->lock);
}

void nd_metrics_board_get_sets(nd_metrics_board *b, nd_set_live *sets)
{
    pthread_mutex_lock(&b->lock);
    *sets = b->sets;
    pthread_mutex_unlock(&b->lock);
}

void nd_live_board_init(nd_live_board *b, double live_hz, int wave_decimation)
{
    pthread_mutex_init(&b->lock, NULL);
    b->live_hz = live_hz;
    b->wave_decimation = wave_decimation;
}

void nd_live_board_destroy(nd_live_board *b)
{
    pthread_mutex_destroy(&b->lock);
}

void nd_live_board_get(nd_live_board *b, double *live_hz, int *wave_decimation)
{
    pthread_mutex_lock(&b->lock);
    if (live_hz) *live_hz = b->live_hz;
    if (wave_decimation) *wave_decimation = b->wave_decimation;
    pthread_mutex_unlock(&b->lock);
}

void nd_live_board_set(nd_live_board *b, double live_hz, int wave_decimation)
{
    pthread_mutex_lock(&b->lock);
    b->live_hz = live_hz;
    b->wave_decimation = wave_decimation;
    pthread_mutex_unlock(&b->lock);
}

void nd_error_board_init(nd_error_board *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
}

void nd_error_board_destroy(nd_error_board *b)
{
    pthread_mutex_destroy(&b->lock);
}

void nd_error_report(nd_error_board *b, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nd_err("%s", msg);
    pthread_mutex_lock(&b->lock);
    snprintf(b->last, sizeof b->last, "%s", msg);
    pthread_mutex_unlock(&b->lock);
}

void nd_error_board_get(nd_error_board *b, char *out, size_t outlen)
{
    pthread_mutex_lock(&b->lock);
    snprintf(out, outlen, "%s", b->last);
    pthread_mutex_unlock(&b->lock);
}
