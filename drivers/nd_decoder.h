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

#include "nd_device.h"
#include "nd_uri.h"

typedef struct nd_decoder_ops {
    const char *name; /* value of proto= */
    const char *description;
    const char *const *keys; /* URI keys it understands, NULL-terminated */
    int (*create)(void **state, nd_device *dev, const nd_uri *uri, char *err, size_t errlen);
    void (*feed)(void *state, const uint8_t *buf, size_t len, uint64_t host_ns);
    /* The link dropped: forget any partial frame or line. */
    void (*reset)(void *state);
    void (*destroy)(void *state);
} nd_decoder_ops;

extern const nd_decoder_ops *const nd_decoders[]; /* NULL-terminated */
const nd_decoder_ops *nd_decoder_find(const char *name);

#endif
