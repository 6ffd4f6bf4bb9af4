/* Golden replay of serial byte captures, in the style of gpsd's regression
 * suite: each tests/data/serial/NAME.capture holds a text header (device,
 * settings, the URI to decode it with) ending in "#--\n", then the raw bytes
 * as the port delivered them. NAME.capture.chk is the expected decoded
 * output, written by the independent Python reference decoder
 * (tests/golden/refdecode.py, from PROTOCOL.md and SERIAL.md), never by this
 * program. The stream is fed once in uneven chunks and once byte by byte;
 * both must match the .chk exactly. Format: tests/data/serial/README.md. */
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "nd_decoder.h"
#include "nd_device.h"
#include "test_util.h"

typedef struct out_buf {
    char *text;
    size_t len, cap;
} out_buf;

static void out_printf(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(out_buf *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(o->text + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap = o->cap * 2 + 4096;
        o->text = realloc(o->text, o->cap);
    }
}

static void on_samples(void *ctx, const nd_sample *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out_printf(ctx, "set %llu t=%u flags=%u", (unsigned long long)s[i].seq, s[i].dev_t_us,
                   s[i].flags);
        for (int c = 0; c < s[i].nch; c++) out_printf(ctx, " %d", s[i].raw[c]);
        out_printf(ctx, "\n");
    }
}

static void on_event(void *ctx, const nd_device_event *ev)
{
    out_printf(ctx, "event %d seq=%llu count=%llu\n", (int)ev->kind, (unsigned long long)ev->seq,
               (unsigned long long)ev->count);
}

static void on_info(void *ctx, const nd_device_info *info)
{
    out_printf(ctx, "info model=%s serial=%s rate=%g nch=%d\n", info->model, info->serial,
               info->rate_hz, info->nch);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

/* The device side of a recorded dialogue: reads serve the capture in the
 * same chunking as the feeds, silence once it is used up (the decoder's own
 * timeout then applies); writes are printed as hex. */
typedef struct replay_link {
    const uint8_t *data;
    size_t len, off, chunk, step;
    out_buf *out;
} replay_link;

static ssize_t replay_read(void *ctx, uint8_t *buf, size_t len, int timeout_ms)
{
    replay_link *r = ctx;
    if (r->off == r->len) {
        usleep((useconds_t)(timeout_ms < 20 ? timeout_ms : 20) * 1000); /* silence, not a spin */
        return 0;
    }
    r->step = r->step * 5 % 509 + 1;
    size_t n = r->chunk ? r->chunk : r->step;
    if (n > len) n = len;
    if (n > r->len - r->off) n = r->len - r->off;
    memcpy(buf, r->data + r->off, n);
    r->off += n;
    return (ssize_t)n;
}

static int replay_write(void *ctx, const uint8_t *buf, size_t len)
{
    replay_link *r = ctx;
    out_printf(r->out, "write ");
    for (size_t i = 0; i < len; i++) out_printf(r->out, "%02x", buf[i]);
    out_printf(r->out, "\n");
    return 0;
}

/* Decode payload with the URI's decoder; chunk = 0 means uneven chunks. */
static int decode(const char *uri_text, const uint8_t *data, size_t len, size_t chunk, out_buf *out)
{
    nd_uri uri;
    char err[256];
    if (nd_uri_parse(uri_text, &uri, err, sizeof err) < 0) {
        fprintf(stderr, "bad uri in capture: %s\n", err);
        return -1;
    }
    const char *proto = nd_uri_get(&uri, "proto");
    const nd_decoder_ops *dec = nd_decoder_find(proto ? proto : "nfp");
    nd_device *dev = calloc(1, sizeof *dev);
    dev->sink = (nd_sink){.ctx = out, .samples = on_samples, .event = on_event, .info = on_info};
    void *state = NULL;
    if (!dec || dec->create(&state, dev, &uri, err, sizeof err) < 0) {
        fprintf(stderr, "decoder: %s\n", dec ? err : "unknown proto");
        nd_uri_free(&uri);
        free(dev);
        return -1;
    }
    size_t off = 0, step = 1;
    if (dec->connect) {
        /* Command protocols (Loadstar): the capture holds what the device
         * said; the host's commands are printed so the dialogue is checked
         * too; a refusal prints "connect failed". What connect() read past the dialogue it feeds
         * itself. */
        replay_link r = {.data = data, .len = len, .chunk = chunk, .out = out};
        nd_decoder_link link = {.ctx = &r, .read = replay_read, .write = replay_write};
        int rc = dec->connect(state, &link, err, sizeof err);
        if (rc != 0) out_printf(out, "connect failed\n");
        off = rc == 0 ? r.off : len;
    }
    while (off < len) {
        size_t n = chunk ? chunk : step;
        if (n > len - off) n = len - off;
        dec->feed(state, data + off, n, 1000 + off);
        off += n;
        step = step * 5 % 509 + 1;
    }
    const nd_counters *c = nd_device_counters(dev);
    out_printf(out,
               "counters frames_ok=%llu bad_cobs=%llu bad_crc=%llu bad_version=%llu "
               "bad_length=%llu unknown_type=%llu bad_payload=%llu lines_ok=%llu lines_bad=%llu "
               "gaps=%llu gap_sets=%llu restarts=%llu overflows=%llu\n",
               (unsigned long long)c->frames_ok, (unsigned long long)c->frames_bad_cobs,
               (unsigned long long)c->frames_bad_crc, (unsigned long long)c->frames_bad_version,
               (unsigned long long)c->frames_bad_length, (unsigned long long)c->frames_unknown_type,
               (unsigned long long)c->frames_bad_payload, (unsigned long long)c->lines_ok,
               (unsigned long long)c->lines_bad, (unsigned long long)c->gaps,
               (unsigned long long)c->gap_sets, (unsigned long long)c->restarts,
               (unsigned long long)c->device_overflows);
    dec->destroy(state);
    nd_uri_free(&uri);
    free(dev);
    return 0;
}

/* Names the first line where the decoder and the .chk part ways. */
static void report_difference(const char *name, const char *expect, size_t elen,
                              const out_buf *have)
{
    size_t i = 0, line_start = 0;
    int line = 1;
    while (i < elen && i < have->len && expect[i] == have->text[i]) {
        if (expect[i] == '\n') {
            line++;
            line_start = i + 1;
        }
        i++;
    }
    const char *e = expect + line_start, *h = have->text + line_start;
    int el = (int)(line_start < elen ? strcspn(e, "\n") : 0);
    int hl = (int)(line_start < have->len ? strcspn(h, "\n") : 0);
    if (line_start + (size_t)el > elen) el = (int)(elen - line_start);
    if (line_start + (size_t)hl > have->len) hl = (int)(have->len - line_start);
    fprintf(stderr, "%s: differs from its .chk at line %d\n  expected: %.*s\n  decoded:  %.*s\n",
            name, line, el, e, hl, h);
}

/* host_ns differs between the two feeds; it is not part of the output. */
static void check_capture(const char *dir, const char *name)
{
    char path[1024], chk[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(chk, sizeof chk, "%s.chk", path);
    size_t len;
    char *cap = read_all(path, &len);
    CHECK(cap != NULL);
    if (!cap) return;
    char *end = memmem(cap, len, "\n#--\n", 5);
    char *uri_line = memmem(cap, len, "\n# uri: ", 8);
    CHECK(end != NULL && uri_line != NULL && uri_line < end);
    if (!end || !uri_line || uri_line > end) {
        fprintf(stderr, "%s: header needs '# uri:' and a '#--' line\n", name);
        free(cap);
        return;
    }
    char uri[512];
    size_t ul = (size_t)(strchr(uri_line + 8, '\n') - (uri_line + 8));
    snprintf(uri, sizeof uri, "%.*s", (int)ul, uri_line + 8);
    const uint8_t *data = (const uint8_t *)end + 5;
    size_t dlen = len - (size_t)((const char *)data - cap);
    out_buf uneven = {0}, bytewise = {0};
    CHECK_EQ_INT(decode(uri, data, dlen, 0, &uneven), 0);
    CHECK_EQ_INT(decode(uri, data, dlen, 1, &bytewise), 0);
    CHECK(uneven.len == bytewise.len && memcmp(uneven.text, bytewise.text, uneven.len) == 0);
    size_t elen;
    char *expect = read_all(chk, &elen);
    CHECK(expect != NULL);
    bool same = expect && elen == uneven.len && memcmp(expect, uneven.text, elen) == 0;
    CHECK(same);
    if (!same) report_difference(name, expect ? expect : "", expect ? elen : 0, &uneven);
    free(expect);
    free(uneven.text);
    free(bytewise.text);
    free(cap);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    snprintf(slash ? slash + 1 : dir, sizeof dir - (size_t)(slash ? slash + 1 - dir : 0),
             "data/serial");
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) return nd_test_finish("serial_golden");
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 8 && strcmp(e->d_name + l - 8, ".capture") == 0) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    CHECK(n >= 40);
    for (int i = 0; i < n; i++) {
        check_capture(dir, names[i]);
        free(names[i]);
    }
    return nd_test_finish("serial_golden");
}
