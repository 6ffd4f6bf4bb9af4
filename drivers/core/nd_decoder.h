/* Decoders: how bytes become sample sets. A decoder is fed whatever the
 * transport read (any split, any size) and emits complete sample sets, info
 * and events through the device (nd_device.h). Framing is kept apart from
 * payload parsing (e.g. nd_cobs.c + nd_nfp.c). Malformed input is counted in
 * dev->counters and skipped, never fatal. The stream device (nd_stream_device.c)
 * counts counters.bytes and counters.sets itself: decoders must not. */
#ifndef ND_DECODER_H
#define ND_DECODER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nd_driver.h"
#include "nd_uri.h"

/* The way back to the device, for decoders of command protocols (Loadstar):
 * the stream device's transport, with its read() semantics (bytes, 0,
 * ND_TR_LOST, ND_TR_EOF, ND_TR_ERR; bytes read here are counted in
 * counters.bytes) and write() (0 or -1). */
typedef struct nd_decoder_link {
    void *ctx;
    ssize_t (*read)(void *ctx, uint8_t *buf, size_t len, int timeout_ms);
    int (*write)(void *ctx, const uint8_t *buf, size_t len);
} nd_decoder_link;

typedef struct nd_decoder_ops {
    const char *name; /* value of proto= */
    const char *description;
    const char *const *keys; /* URI keys it understands, NULL-terminated */
    int (*create)(void **state, nd_device *dev, const nd_uri *uri, char *err, size_t errlen);
    void (*feed)(void *state, const uint8_t *buf, size_t len, uint64_t host_ns);
    /* The link dropped: forget any partial frame or line. */
    void (*reset)(void *state);
    void (*destroy)(void *state);
    /* Optional, for devices that must be told to stream (all NULL for
     * passive decoders). connect: after open and after every reconnection,
     * before any feed; talks to the device synchronously through link and
     * feeds any stream bytes it read past the dialogue itself. Returns 0
     * (streaming), ND_TR_LOST (link dropped: the stream device reconnects)
     * or -1 with one line in err (device refused or did not answer: open
     * fails, or after a reconnection an error event and another attempt). */
    int (*connect)(void *state, const nd_decoder_link *link, char *err, size_t errlen);
    /* Before the transport closes while connected: e.g. stop the stream. */
    void (*disconnect)(void *state, const nd_decoder_link *link);
    /* Device command (nd_driver.command) in the device's own dialect; when
     * NULL the stream device sends the text + "\n". May run on any thread. */
    int (*command)(void *state, const nd_decoder_link *link, const char *cmd, char *err,
                   size_t errlen);
} nd_decoder_ops;

extern const nd_decoder_ops *const nd_decoders[]; /* NULL-terminated */
const nd_decoder_ops *nd_decoder_find(const char *name);

#endif
