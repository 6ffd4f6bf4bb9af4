/* The acquisition thread: runs the device driver, which delivers sample sets
 * straight into the ring (the hot path: one batched push per frame, no
 * locks), device info onto the device board, and rare events onto the bus. */
#ifndef ND_ACQUISITION_H
#define ND_ACQUISITION_H

#include <stdatomic.h>

#include "nd_boards.h"
#include "nd_bus.h"
#include "nd_device.h"
#include "nd_ring.h"

typedef struct nd_acquisition {
    /* inputs */
    nd_device *dev; /* opened with the sink below; run by this thread only */
    const char *device_uri;
    nd_ring *ring;
    nd_bus *bus;
    nd_device_board *board; /* this thread is its writer */
    nd_error_board *errors;
    atomic_bool stop; /* set by the lifecycle; the driver's run loop watches it */
    /* Ring sizing (RING.md, "Sizing"): hold ring_seconds of the device's
     * rate, at least ring_min sets (the ring's created capacity is the most),
     * decided in the stream's first second. */
    double ring_seconds;
    size_t ring_min;
    bool ring_fitted;
    uint64_t ring_probe_ns;
    /* outputs */
    atomic_bool ended; /* the stream ended (file replay, finite simulation, failure) */
    atomic_bool done;  /* the thread has returned */
} nd_acquisition;

/* The sink to open the device with. */
void nd_acquisition_sink(nd_acquisition *a, nd_sink *out);
void *nd_acquisition_main(void *arg);

#endif
