/* The one reconnect policy of every driver (stream devices, LabJack U6).
 *
 * When the link is lost: connected = false, disconnects++, a "device lost"
 * event. Then one reopen attempt after 100 ms, 200 ms, 400 ms ... doubling up
 * to ND_RECONNECT_MAX_WAIT_MS between attempts, interruptible by stop. On
 * success: reconnects++, connected = true, a "device back" event (count =
 * attempts), and the next delivered set is flagged ND_SAMPLE_AFTER_RECONNECT.
 *
 * The back-off starts again at 100 ms only once the device delivered a sample
 * set after coming back. A connection that ends before that (a network bridge
 * that accepts and closes with no board behind it) keeps the back-off growing,
 * so such a peer is tried at most once per ND_RECONNECT_MAX_WAIT_MS once backed
 * off, and its lost/back pairs are reported (events and log lines) only for
 * the 1st, 2nd, 4th, 8th ... such connection in a row; the counters still
 * count every one. */
#ifndef ND_RECONNECT_H
#define ND_RECONNECT_H

#include <stdatomic.h>
#include <stddef.h>

#include "nd_driver.h"

#define ND_RECONNECT_FIRST_WAIT_MS 100
#define ND_RECONNECT_MAX_WAIT_MS   2000

/* One attempt to get the device streaming again (reopen the link, and for
 * devices that must be told to stream, configure and start). Returns 0 when
 * streaming, ND_TR_LOST (from nd_transport.h: link not there) or -1 with one
 * line in err (link up but the device refused: one error event per outage). */
typedef int (*nd_reconnect_attempt_fn)(void *ctx, char *err, size_t errlen);

/* The link is gone. Returns 0 when an attempt succeeded, 1 when *stop was
 * set while waiting. what names the link in the event ("tcp", "labjack-u6").
 * attempt NULL: the link cannot come back; the loss is recorded, an error
 * event says so, and -1 is returned. */
int nd_device_reconnect(nd_device *dev, const atomic_bool *stop, const char *what,
                        nd_reconnect_attempt_fn attempt, void *ctx);

/* Sleep up to ms, waking early when *stop is set. Returns true if stopped. */
bool nd_sleep_unless_stopped(const atomic_bool *stop, int ms);

#endif
