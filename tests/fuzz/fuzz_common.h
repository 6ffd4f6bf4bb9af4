/* Shared libFuzzer driver for stream decoders: byte 0 picks a decoder URI
 * from the target's table, byte 1 the chunk size, the rest is the stream.
 * Also checks the decoder's output invariants on every sample set. */
#ifndef ND_FUZZ_COMMON_H
#define ND_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nd_decoder.h"
#include "nd_device.h"
#include "nd_log.h"

static void nd_fuzz_samples(void *ctx, const nd_sample *s, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        if (s[i].nch < 1 || s[i].nch > ND_MAX_CHANNELS) abort(); /* never a malformed set */
}

static void nd_fuzz_event(void *ctx, const nd_device_event *ev)
{
    (void)ctx;
    if (memchr(ev->detail, 0, sizeof ev->detail) == NULL) abort(); /* detail terminated */
}

static inline int nd_fuzz_run(const char *const *uris, size_t nuris, const uint8_t *data,
                              size_t size)
{
    if (size < 2) return 0;
    const char *uri_text = uris[data[0] % nuris];
    size_t chunk = 1 + data[1];
    data += 2;
    size -= 2;
    nd_uri uri;
    char err[256];
    if (nd_uri_parse(uri_text, &uri, err, sizeof err) < 0) abort();
    const nd_decoder_ops *dec = nd_decoder_find(nd_uri_get(&uri, "proto"));
    if (!dec) abort();
    nd_device *dev = calloc(1, sizeof *dev);
    dev->sink = (nd_sink){.samples = nd_fuzz_samples, .event = nd_fuzz_event};
    void *state = NULL;
    if (dec->create(&state, dev, &uri, err, sizeof err) < 0) abort();
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        dec->feed(state, data + off, n, off);
        if (off > size / 2 && off - chunk <= size / 2) dec->reset(state); /* link drop midway */
    }
    dec->destroy(state);
    nd_uri_free(&uri);
    free(dev);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    nd_log_set_level(ND_LOG_ERR); /* bad input is expected: keep the run quiet */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
