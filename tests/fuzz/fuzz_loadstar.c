/* libFuzzer target: the Loadstar start-up dialogue and stream. Byte 0 picks
 * the URI (dialect, tare), byte 1 the read size; the rest is what the device
 * says. The decoder's writes are checked to be whole CR-terminated commands;
 * once the bytes are used up the link reports a drop (a fuzz input has no
 * clock, so no timeout is waited for). After connect the remainder is fed as
 * the stream and a tare command is sent through the same link. */
#include "fuzz_common.h"
#include "nd_transport.h"

static const char *const loadstar_uris[] = {
    "serial:/x?proto=loadstar",
    "serial:/x?proto=loadstar&tare=1&rate=500",
    "serial:/x?proto=loadstar&dialect=iload",
    "serial:/x?proto=loadstar&dialect=iload&tare=1&unit=kg",
    "serial:/x?proto=loadstar&unit=N&scale=1000000",
};

typedef struct fuzz_link {
    const uint8_t *data;
    size_t len, off, chunk;
} fuzz_link;

static ssize_t fl_read(void *ctx, uint8_t *buf, size_t len, int timeout_ms)
{
    (void)timeout_ms;
    fuzz_link *l = ctx;
    if (l->off == l->len) return ND_TR_LOST;
    size_t n = l->chunk < len ? l->chunk : len;
    if (n > l->len - l->off) n = l->len - l->off;
    memcpy(buf, l->data + l->off, n);
    l->off += n;
    return (ssize_t)n;
}

static int fl_write(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    if (len == 0 || buf[len - 1] != '\r') abort(); /* every command ends in CR */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    const char *uri_text = loadstar_uris[data[0] % (sizeof loadstar_uris / sizeof *loadstar_uris)];
    fuzz_link l = {.data = data + 2, .len = size - 2, .chunk = 1 + data[1]};
    nd_uri uri;
    char err[256];
    if (nd_uri_parse(uri_text, &uri, err, sizeof err) < 0) abort();
    const nd_decoder_ops *dec = nd_decoder_find("loadstar");
    if (!dec || !dec->connect) abort();
    nd_device *dev = calloc(1, sizeof *dev);
    dev->sink = (nd_sink){.samples = nd_fuzz_samples, .event = nd_fuzz_event};
    void *state = NULL;
    if (dec->create(&state, dev, &uri, err, sizeof err) < 0) abort();
    nd_decoder_link link = {.ctx = &l, .read = fl_read, .write = fl_write};
    int rc = dec->connect(state, &link, err, sizeof err);
    if (rc == -1 && memchr(err, 0, sizeof err) == NULL) abort(); /* a terminated reason */
    if (rc == 0) {
        size_t half = l.off + (l.len - l.off) / 2;
        while (l.off < l.len) {
            size_t n = l.chunk < l.len - l.off ? l.chunk : l.len - l.off;
            dec->feed(state, l.data + l.off, n, l.off);
            l.off += n;
            if (l.off >= half && l.off - n < half && dec->command) {
                char cerr[256];
                dec->command(state, &link, "tare", cerr, sizeof cerr);
            }
        }
        if (dec->disconnect) dec->disconnect(state, &link);
    }
    dec->reset(state);
    dec->destroy(state);
    nd_uri_free(&uri);
    free(dev);
    return 0;
}
