/* Transports: where bytes come from (serial port, USB bulk endpoint, TCP
 * socket, capture file, the built-in simulator). They know nothing about the
 * protocol; nd_stream_device.c pairs one with a decoder (nd_decoder.h). Each
 * becomes a driver of the registry (nd_registry.c), which gives it its scheme,
 * description and usage line. */
#ifndef ND_TRANSPORT_H
#define ND_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nd_driver.h"
#include "nd_uri.h"

/* Return codes of read(), besides a byte count (> 0) or 0 for "nothing yet". */
#define ND_TR_EOF  (-1) /* the source ended for good (end of a capture file) */
#define ND_TR_LOST (-2) /* the device or peer went away; call reopen() later */
#define ND_TR_ERR  (-3) /* fatal; details logged */

typedef struct nd_transport nd_transport;

typedef struct nd_transport_ops {
    /* URI keys this transport understands (NULL-terminated); the stream
     * device adds its own ("proto", decoder keys) before checking. */
    const char *const *keys;
    /* Default decoder when the URI has no proto= ("nfp" for most). */
    const char *default_proto;
    /* Bytes come from a recording (file:): their arrival times are the
     * replay's, so nothing may be measured from them (nd_driver.h). */
    bool replays;
    int (*open)(nd_transport *t, const nd_uri *uri, char *err, size_t errlen);
    /* Wait at most timeout_ms for bytes. */
    ssize_t (*read)(nd_transport *t, uint8_t *buf, size_t len, int timeout_ms);
    /* Optional: bytes to the device (commands). Returns 0 or -1. */
    int (*write)(nd_transport *t, const uint8_t *buf, size_t len);
    /* After ND_TR_LOST: try once to get the device back. 0 = back, -1 = not yet. */
    int (*reopen)(nd_transport *t);
    void (*close)(nd_transport *t);
    /* Optional, for transports that replay at a device's pace (file:): the
     * stream device reports after each read how many sample sets the bytes
     * read so far have made (sets) and the device's nominal rate (0 while
     * unknown). The transport never looks into the bytes itself. */
    void (*progress)(nd_transport *t, uint64_t sets, double rate_hz);
} nd_transport_ops;

struct nd_transport {
    const nd_transport_ops *ops;
    nd_device *dev; /* owning device: for error events (usb stalls) */
    void *priv;
};

/* The transports (one definition each in its nd_tr_*.c). */
extern const nd_transport_ops nd_transport_sim;
extern const nd_transport_ops nd_transport_tcp;
extern const nd_transport_ops nd_transport_file;
extern const nd_transport_ops nd_transport_serial;
extern const nd_transport_ops nd_transport_usb;

#endif
