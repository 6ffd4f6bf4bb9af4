/* The live publisher thread: a lossy ring consumer (it may fall behind and
 * skip; acquisition never waits for it) that turns calibrated force into
 * decimated `wave` blocks, samples the metrics board's live state at
 * live_hz, sends `status` at 1 Hz, and relays reps and trial start/stop from
 * the bus. All ZeroMQ sends are non-blocking (nd_publisher.h). */
#ifndef ND_PUBLISHER_THREAD_H
#define ND_PUBLISHER_THREAD_H

#include <stdatomic.h>

#include "nd_boards.h"
#include "nd_bus.h"
#include "nd_messages.h"
#include "nd_publisher.h"
#include "nd_ring.h"

typedef struct nd_publisher_thread {
    /* inputs */
    nd_ring *ring;
    int ring_reader; /* an ND_RING_LOSSY consumer */
    nd_bus *bus;
    int bus_reader;
    nd_publisher *pub; /* used by this thread only */
    nd_device_board *device;
    /* Only to say whether anyone watches live (nd_device_set_unwatched):
     * the acquisition thread owns the device. */
    nd_device *dev;
    nd_metrics_board *metrics;
    nd_live_board *live;
    /* The daemon's status snapshot (nd_daemon_status). */
    void (*status)(void *ctx, nd_status_snapshot *out);
    void *status_ctx;
    const atomic_bool *shutting_down; /* a trial stopped now stops for "shutdown" */
    const atomic_bool *exit;          /* leave after relaying what is on the bus */
    /* output */
    _Atomic uint64_t live_dropped_msgs; /* sends ZeroMQ refused (for the control status) */
} nd_publisher_thread;

void *nd_publisher_main(void *arg);

#endif
