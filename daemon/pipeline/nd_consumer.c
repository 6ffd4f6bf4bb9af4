/* The shared lossless-consumer loop (nd_consumer.h). */
#include "nd_consumer.h"

#include "nd_device.h" /* nd_monotonic_ns */

#define DEFAULT_BATCH_MS 20 /* also the period of pass_done on a silent device */
#define HELD_WAIT_MS     2  /* held at the first set: release promptly */

void nd_consumer_run(const nd_consumer *c, const nd_consumer_ops *ops, void *ctx)
{
    int batch_ms = c->batch_ms > 0 ? c->batch_ms : DEFAULT_BATCH_MS;
    /* A lossless reader that waited for most of the ring would make the
     * producer refuse sets before it woke: ask for a quarter at most. */
    uint64_t want_sets = c->batch_sets ? c->batch_sets : 1;
    for (;;) {
        if (c->beat_ns) atomic_store(c->beat_ns, nd_monotonic_ns());
        bool exiting = atomic_load(c->drain_and_exit);
        if (c->held && atomic_load(c->held) && !exiting) {
            nd_ring_wait(c->ring, c->ring_reader, HELD_WAIT_MS);
            continue;
        }
        uint64_t pos;
        /* The ring first, then the bus: see nd_bus.h for why this order
         * cuts start and stop at the same set for every consumer. */
        uint64_t avail = nd_ring_available(c->ring, c->ring_reader, &pos);
        uint64_t done = 0;
        for (;;) {
            nd_msg m;
            uint64_t limit;
            while (nd_bus_next(c->bus, c->bus_reader, pos + done, avail - done, &m, &limit))
                ops->message(ctx, &m);
            if (limit == 0) break;
            ops->sets(ctx, pos + done, limit);
            done += limit;
        }
        if (avail) nd_ring_release(c->ring, c->ring_reader, pos + avail);
        if (ops->pass_done) ops->pass_done(ctx, avail);
        if (avail) continue;
        if (exiting) break;
        /* The capacity may still be fitted to the rate (nd_ring_fit). */
        uint64_t quarter = nd_ring_capacity(c->ring) / 4;
        uint64_t batch_sets = want_sets < quarter ? want_sets : (quarter ? quarter : 1);
        int wait_ms = batch_ms;
        uint64_t deadline = ops->deadline_ns ? ops->deadline_ns(ctx) : 0;
        if (deadline) {
            uint64_t now = nd_monotonic_ns();
            uint64_t left = deadline > now ? (deadline - now + 999999) / 1000000 : 1;
            if (left < (uint64_t)wait_ms) wait_ms = left ? (int)left : 1;
        }
        nd_ring_wait_for(c->ring, c->ring_reader, batch_sets, wait_ms);
    }
}
