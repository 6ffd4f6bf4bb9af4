/* Lock-free single-producer, multi-consumer ring of sample sets (Disruptor-
 * style fan-out). The acquisition thread is the only producer; each consumer
 * (metrics, file writer, live publisher) has its own cursor on its own cache
 * line and reads every slot itself, so consumers never contend with one
 * another.
 *
 * Positions are free-running 64-bit counts of sample sets ever published;
 * slot = position & (capacity - 1). Capacity is a power of two.
 *
 * Policies:
 *  - ND_RING_LOSSLESS: the producer never overwrites a slot this consumer has
 *    not released. If the ring is full, the producer refuses the new sets and
 *    counts them in overrun_sets (visible in status), never silently.
 *  - ND_RING_LOSSY: the producer ignores this consumer. If the producer laps
 *    it, the consumer skips ahead to the oldest still-valid data and counts
 *    what it skipped.
 *
 * Producer:   n = nd_ring_reserve(r, want, &pos); write nd_ring_slot(r, pos+i)
 *             for i < n; nd_ring_publish(r, pos + n).
 * Lossless consumer: n = nd_ring_available(r, c, &pos); read slots
 *             pos..pos+n-1; nd_ring_release(r, c, pos + n).
 * Lossy consumer: n = nd_ring_copy_lossy(r, c, buf, max) copies and validates.
 * Waiting: nd_ring_wait(r, c, timeout_ms) sleeps until data or timeout;
 * nd_ring_wait_for also waits for a minimum count. A publish costs the
 * producer no syscall unless a sleeping consumer's threshold is reached. */
#ifndef ND_RING_H
#define ND_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_sample.h"

#define ND_RING_MAX_CONSUMERS 8

typedef enum nd_ring_policy { ND_RING_LOSSLESS, ND_RING_LOSSY } nd_ring_policy;

typedef struct nd_ring nd_ring;

/* capacity must be a power of two >= 2; returns NULL on bad args / no memory. */
nd_ring *nd_ring_create(size_t capacity);
void nd_ring_destroy(nd_ring *r);
size_t nd_ring_capacity(const nd_ring *r);
/* Lower the capacity once the stream's rate is known (RING.md, "Sizing"):
 * only by the producer, while no position at or above the new capacity has
 * been reserved (the sets so far keep their slots); a power of two no larger
 * than the current capacity. The slots beyond are unmapped. 0 or -1. */
int nd_ring_fit(nd_ring *r, size_t capacity);
/* The power of two holding `seconds` of a stream at rate_hz, within
 * [min_capacity, max_capacity] (max_capacity when the rate is unknown). */
size_t nd_ring_capacity_for(double rate_hz, double seconds, size_t min_capacity,
                            size_t max_capacity);

/* Register a consumer before the producer starts. Returns its id (>= 0) or -1.
 * The consumer starts at the current publish position. */
int nd_ring_add_consumer(nd_ring *r, nd_ring_policy policy, const char *name);

/* --- producer (one thread) --- */
/* How many of `want` slots may be written now, starting at *pos. */
size_t nd_ring_reserve(nd_ring *r, size_t want, uint64_t *pos);
static inline nd_sample *nd_ring_slot(nd_ring *r, uint64_t pos);
/* Make everything below end visible to consumers (release ordering). */
void nd_ring_publish(nd_ring *r, uint64_t end);
/* Convenience: reserve+copy+publish; sets it could not place are counted as
 * overrun. Returns how many were placed. */
size_t nd_ring_push(nd_ring *r, const nd_sample *sets, size_t n);
/* Batching by read: stage copies sets in without making them visible;
 * commit publishes all staged sets at once, so consumers wake once per
 * device read, not once per frame (RING.md, "Wake-ups"). A stage that finds
 * the ring full commits what waits and gives the lossless consumers up to
 * wait_ms to make room (a source faster than the consumers is then slowed
 * to their pace instead of losing sets); what still finds no room is
 * refused and counted as overrun, like push. push commits first, so order
 * is kept. */
size_t nd_ring_stage(nd_ring *r, const nd_sample *sets, size_t n, int wait_ms);
void nd_ring_commit(nd_ring *r);
uint64_t nd_ring_published(const nd_ring *r);

/* --- lossless consumer --- */
size_t nd_ring_available(nd_ring *r, int consumer, uint64_t *pos);
void nd_ring_release(nd_ring *r, int consumer, uint64_t end);

/* --- lossy consumer --- */
/* Copies up to max sets into out; *pos_out (may be NULL) gets the ring
 * position of out[0]. Sets lapped by the producer are skipped and counted. */
size_t nd_ring_copy_lossy(nd_ring *r, int consumer, nd_sample *out, size_t max, uint64_t *pos_out);
/* Moves the cursor to the newest published set without reading: the sets
 * passed over are not counted as skipped (nobody wanted them, e.g. no live
 * subscriber). Returns how many were passed over. */
uint64_t nd_ring_pass_over(nd_ring *r, int consumer);

/* --- both --- */
/* Block until the consumer has data, timeout_ms passes, or nd_ring_wake_all. */
void nd_ring_wait(nd_ring *r, int consumer, int timeout_ms);
/* The same, but sleep until at least min_sets (1..capacity) are waiting:
 * batching by count and by time (the timeout) at once. The producer wakes a
 * sleeper only when its threshold is published, so a consumer of a 1 kHz
 * stream that asks for 20 sets or 20 ms wakes 50 times a second. */
void nd_ring_wait_for(nd_ring *r, int consumer, uint64_t min_sets, int timeout_ms);
void nd_ring_wake_all(nd_ring *r);
uint64_t nd_ring_consumer_position(const nd_ring *r, int consumer);

typedef struct nd_ring_stats {
    uint64_t published;
    uint64_t overrun_sets;                   /* refused because a lossless consumer was full */
    uint64_t skipped[ND_RING_MAX_CONSUMERS]; /* lossy consumers: sets skipped */
    uint64_t lag[ND_RING_MAX_CONSUMERS];     /* published - consumer position */
} nd_ring_stats;
void nd_ring_get_stats(const nd_ring *r, nd_ring_stats *out);

/* Implementation detail exposed for the inline slot accessor. */
struct nd_ring_base {
    nd_sample *slots;
    /* Lowered at most once, by nd_ring_fit, while no position at or above
     * the new capacity exists: every readable position maps to the same slot
     * under either mask, so a relaxed load is enough. */
    _Atomic uint64_t mask;
};
static inline nd_sample *nd_ring_slot(nd_ring *r, uint64_t pos)
{
    struct nd_ring_base *b = (struct nd_ring_base *)r;
    return &b->slots[pos & atomic_load_explicit(&b->mask, memory_order_relaxed)];
}

/* How many of the n sets from pos lie contiguously in memory (a consumer
 * handing runs to a bulk API, such as the file writer, stops at the wrap). */
static inline uint64_t nd_ring_contiguous(const nd_ring *r, uint64_t pos, uint64_t n)
{
    struct nd_ring_base *b = (struct nd_ring_base *)r;
    uint64_t mask = atomic_load_explicit(&b->mask, memory_order_relaxed);
    uint64_t run = mask + 1 - (pos & mask);
    return run < n ? run : n;
}

#endif
