/* The loop of a lossless ring consumer (the metrics thread and the file
 * writer), written once so that the race-free order of ring and bus
 * (nd_bus.h) lives in one place: read how much the ring has BEFORE looking
 * for bus messages, handle every message at its position, then the sets up
 * to the next message, release, repeat.
 *
 * The loop owns nothing but its cursor; what a message or a set means is the
 * consumer's business (its callbacks and its context). */
#ifndef ND_CONSUMER_H
#define ND_CONSUMER_H

#include <stdatomic.h>
#include <stdint.h>

#include "nd_bus.h"
#include "nd_ring.h"

typedef struct nd_consumer_ops {
    /* A bus message whose position has been reached. */
    void (*message)(void *ctx, const nd_msg *m);
    /* Sets [pos, pos + n) are readable (n >= 1); the next message, if any,
     * applies right after them. Use nd_ring_slot / nd_ring_contiguous. */
    void (*sets)(void *ctx, uint64_t pos, uint64_t n);
    /* After each pass, once the sets are released; got = sets this pass
     * (0 when the pass found none). Periodic work: flushes, live values.
     * May be NULL. */
    void (*pass_done)(void *ctx, uint64_t got);
    /* CLOCK_MONOTONIC time by which the next pass must run (e.g. a timed
     * flush), or 0 for none; shortens the batch wait. May be NULL. */
    uint64_t (*deadline_ns)(void *ctx);
} nd_consumer_ops;

typedef struct nd_consumer {
    nd_ring *ring;
    int ring_reader; /* an ND_RING_LOSSLESS consumer id */
    nd_bus *bus;
    int bus_reader;
    /* While set, wait at the stream's first set (a held --record trial). */
    const atomic_bool *held;
    /* Once set, return as soon as everything published is consumed. */
    const atomic_bool *drain_and_exit;
    /* Stored (CLOCK_MONOTONIC ns) on every pass: the watchdog's proof that
     * the loop runs (at least every 20 ms when idle). May be NULL. */
    _Atomic uint64_t *beat_ns;
    /* Wake-up batching: once drained, sleep until batch_sets are waiting or
     * batch_ms passed, whichever comes first (by count at high rates, by
     * time at clinic rates). 0 = 1 set / 20 ms. batch_sets is capped at a
     * quarter of the ring. nd_ring_wake_all (commands) wakes at once. */
    uint64_t batch_sets;
    int batch_ms;
} nd_consumer;

/* Runs until drain_and_exit is set and the ring is drained. Sleeps on the
 * ring (futex) when there is nothing to do, for one batch (see above) at a
 * time, so pass_done's periodic work still runs on a silent device. */
void nd_consumer_run(const nd_consumer *c, const nd_consumer_ops *ops, void *ctx);

#endif
