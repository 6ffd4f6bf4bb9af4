/* The generic driver behind every transport: pairs a transport (where bytes
 * come from) with a decoder chosen by proto= (how bytes become sample sets),
 * and handles loss and reconnection. The registry makes one nd_driver per
 * transport out of these functions (nd_registry.c). */
#ifndef ND_STREAM_DEVICE_H
#define ND_STREAM_DEVICE_H

#include "nd_device.h"
#include "nd_transport.h"

/* Read timeout per loop: bounds how long a stop request waits. */
#define ND_STREAM_READ_TIMEOUT_MS 100
/* Read coalescing (nd_stream_device.c, coalesce_pause), on by default
 * (coalesce_ms=N in the device URI, 0 = off): after the first
 * ND_STREAM_COALESCE_AFTER reads, each read waits until about half a read
 * buffer (8 KiB) has gathered at the stream's measured byte rate (a full
 * read does not wait: more is waiting),
 * at most N ms (at least ND_STREAM_IDLE_COALESCE_MS while nobody watches
 * live, nd_device_set_unwatched). A board sending a frame a millisecond then
 * wakes the daemon 1000/N times a second instead of 1000 (issue 18); a
 * stream fast enough to fill the buffer sooner waits less, and one that
 * fills it within a millisecond never waits. The sets of one read share its
 * host_ns: the newest is stamped as promptly as without coalescing, the
 * oldest up to the pause late, so the trial file's periodic /clock pairs
 * take the last set of a read (nd_trial_file.c) and keep their accuracy. */
#define ND_STREAM_COALESCE_DEFAULT_MS 25
#define ND_STREAM_IDLE_COALESCE_MS    100
#define ND_STREAM_COALESCE_MAX_MS     100
#define ND_STREAM_COALESCE_AFTER      8

int nd_stream_open(nd_device *dev, const nd_uri *uri, char *err, size_t errlen);
int nd_stream_run(nd_device *dev, const atomic_bool *stop);
void nd_stream_close(nd_device *dev);
int nd_stream_command(nd_device *dev, const char *cmd, char *err, size_t errlen);

/* The stream drivers (nd_registry.c). */
extern const nd_driver nd_driver_sim, nd_driver_tcp, nd_driver_file, nd_driver_serial,
    nd_driver_usb;

#endif
