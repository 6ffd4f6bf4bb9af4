/* A capture sink for tests: records every sample set, device event and
 * device description an nd_device delivers, so a test thread can wait for
 * them and check them.
 *
 * Storage is allocated once at init and never moves, so a test may read
 * c->sets[i] for any i below a count it has already observed (through
 * nd_capture_nsets() or a wait) without the lock, even while the device
 * keeps running. Anything still being written (nsets, events, info while the
 * device runs) is read through the accessors or between lock/unlock.
 * Deliveries beyond the capacity are counted in *_dropped, never stored. */
#ifndef ND_CAPTURE_H
#define ND_CAPTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_device.h"

#define ND_CAPTURE_EVENT_KINDS (ND_EV_ERROR + 1)

typedef struct nd_capture {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* broadcast on every delivery */
    nd_sample *sets;
    size_t nsets, max_sets, sets_dropped;
    size_t sample_calls; /* samples() callbacks received */
    nd_device_event *events;
    size_t nevents, max_events, events_dropped;
    /* Per kind, counted even when the event list is full. */
    size_t kind_events[ND_CAPTURE_EVENT_KINDS];
    uint64_t kind_count_sum[ND_CAPTURE_EVENT_KINDS]; /* sum of ev->count */
    nd_device_info info;                             /* the last one delivered */
    size_t ninfo;
    /* Optional: set *stop_flag once stop_at sets have been stored. */
    atomic_bool *stop_flag;
    size_t stop_at;
} nd_capture;

/* Room for max_sets sample sets and max_events events. 0 on success, -1 when
 * memory is short (nothing to free then). */
int nd_capture_init(nd_capture *c, size_t max_sets, size_t max_events);
void nd_capture_free(nd_capture *c);
/* Forget everything captured so far; capacity and storage stay. */
void nd_capture_reset(nd_capture *c);

/* The sink callbacks; ctx is the nd_capture. */
void nd_capture_on_samples(void *ctx, const nd_sample *sets, size_t n);
void nd_capture_on_event(void *ctx, const nd_device_event *ev);
void nd_capture_on_info(void *ctx, const nd_device_info *info);
/* A sink with all three callbacks bound to c. */
nd_sink nd_capture_sink(nd_capture *c);

/* Ask the capture to set *stop once `at` sets are stored (file replay loops). */
void nd_capture_stop_after(nd_capture *c, atomic_bool *stop, size_t at);

/* Thread-safe snapshots. */
size_t nd_capture_nsets(nd_capture *c);
size_t nd_capture_nevents(nd_capture *c);
size_t nd_capture_count_events(nd_capture *c, nd_device_event_kind kind);
uint64_t nd_capture_event_count_sum(nd_capture *c, nd_device_event_kind kind);
size_t nd_capture_ninfo(nd_capture *c);
/* Copy the last info into *out; false when none arrived yet. */
bool nd_capture_info(nd_capture *c, nd_device_info *out);

/* For reading several fields consistently. */
void nd_capture_lock(nd_capture *c);
void nd_capture_unlock(nd_capture *c);

/* Wait until at least n sets (or n events of kind) are stored, or timeout_ms
 * of CLOCK_MONOTONIC time pass. True when the count was reached. */
bool nd_capture_wait_sets(nd_capture *c, size_t n, int timeout_ms);
bool nd_capture_wait_events(nd_capture *c, nd_device_event_kind kind, size_t n, int timeout_ms);

#endif
