/* What drivers see of a device (the daemon and tools see only nd_device.h):
 * its fields, and the one way out of a driver. Everything a driver delivers
 * goes through the nd_device_emit_* helpers, and every counter it keeps
 * through nd_device_count*, so that counting, reconnect marking and logging
 * are done in one place (nd_device.c, nd_reconnect.c). Include this only from
 * drivers, transports, decoders and their unit tests. */
#ifndef ND_DRIVER_H
#define ND_DRIVER_H

#include <stdarg.h>

#include "nd_device.h"

/* Link state kept by the shared reconnect helper (nd_reconnect.h). */
typedef struct nd_link_state {
    int backoff_ms;         /* wait before the next reopen attempt */
    bool awaiting_data;     /* reconnected, no sample set delivered since */
    uint64_t quiet_ends;    /* connections that ended without data, in a row */
    bool quiet_events_held; /* this lost/back pair is not reported (rate limit) */
} nd_link_state;

struct nd_device {
    const nd_driver *driver;
    char uri_text[512];
    nd_device_info info; /* valid once info_valid */
    _Atomic bool info_valid;
    _Atomic bool connected;
    nd_counters counters;
    nd_sink sink;
    nd_link_state link;
    bool mark_reconnect; /* flag the next delivered set ND_SAMPLE_AFTER_RECONNECT */
    /* Host arrival times are a replay's, not the device's (file:): decoders
     * must not measure the device's rate from them. Set before decoders are
     * created. */
    bool replayed;
    /* The driver calls nd_device_end_read after each read (stream devices);
     * otherwise every emit ends a read. */
    bool batches_reads;
    /* 1 while nobody watches live (nd_device_set_unwatched); a futex word,
     * so that a change wakes a stream device's read pause. */
    _Atomic uint32_t unwatched;
    void *priv;
};

/* Input-quality counters a driver or decoder keeps itself. Delivery counters
 * (sets, gaps, restarts, overflows, disconnects, reconnects) are kept by the
 * emit helpers and the reconnect helper. */
typedef enum nd_counter {
    ND_COUNT_BYTES,
    ND_COUNT_FRAMES_OK,
    ND_COUNT_FRAMES_BAD_COBS,
    ND_COUNT_FRAMES_BAD_CRC,
    ND_COUNT_FRAMES_BAD_VERSION,
    ND_COUNT_FRAMES_BAD_LENGTH,
    ND_COUNT_FRAMES_UNKNOWN_TYPE,
    ND_COUNT_FRAMES_BAD_PAYLOAD,
    ND_COUNT_LINES_OK,
    ND_COUNT_LINES_BAD,
} nd_counter;

/* Add n; returns the new total (for "log the first few" decisions). */
uint64_t nd_device_count(nd_device *dev, nd_counter which, uint64_t n);
/* For drivers whose parser keeps running totals itself (LabJack). */
void nd_device_count_total(nd_device *dev, nd_counter which, uint64_t total);
/* A device built from others (pair): its counters are the sum of theirs,
 * except the delivery counters it keeps itself; connected when all are. */
void nd_device_sum_counters(nd_device *dev, nd_device *const *parts, size_t nparts);

/* n consecutive sample sets (n >= 1): counted in counters.sets; the first
 * after a reconnection is flagged ND_SAMPLE_AFTER_RECONNECT and completes the
 * reconnection (nd_reconnect.h). */
void nd_device_emit_samples(nd_device *dev, const nd_sample *sets, size_t n);
/* The sets emitted since the last call arrived in one read (drivers that set
 * batches_reads): the sink may pass them on now (nd_sink.end_of_read). */
void nd_device_end_read(nd_device *dev);
/* lost sets vanished before seq (a device seq jump or an unpaired set):
 * counts gaps and gap_sets, emits ND_EV_GAP. The caller flags the next set
 * ND_SAMPLE_AFTER_GAP with gap_sets = lost. */
void nd_device_emit_gap(nd_device *dev, uint64_t seq, uint64_t lost, const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The device's seq went back (it restarted): counts restarts, emits ND_EV_RESTART. */
void nd_device_emit_restart(nd_device *dev, uint64_t seq, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The device reported sets it dropped itself: counts device_overflows += dropped
 * and emits ND_EV_OVERFLOW (dropped may be 0 for "overflow began"). */
void nd_device_emit_overflow(nd_device *dev, uint64_t seq, uint64_t dropped, const char *detail_fmt,
                             ...) __attribute__((format(printf, 4, 5)));
/* Any other event (ND_EV_ERROR mostly). Lost/back are the reconnect helper's. */
void nd_device_emit_event(nd_device *dev, nd_device_event_kind kind, uint64_t seq, uint64_t count,
                          const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));
/* The device described itself (or changed): passed on only when different. */
void nd_device_set_info(nd_device *dev, const nd_device_info *info);

#endif
