/* NFP/1: CRC, COBS, frame encoders and the "nfp" decoder's receiver rules
 * (NFP/1, drivers/decoders/PROTOCOL.md, drivers/decoders/PROTOCOL.md), on hand-built frames. */
#include <stdlib.h>
#include <string.h>

#include "nd_cobs.h"
#include "nd_crc16.h"
#include "nd_decoder.h"
#include "nd_nfp.h"
#include "test_util.h"

/* ---- a recording sink and a bare device around the decoder ---- */

typedef struct recorder {
    nd_sample *sets;
    size_t nsets, cap;
    size_t calls; /* samples() calls */
    nd_device_event events[256];
    size_t nevents;
    size_t ninfo;
} recorder;

static void rec_samples(void *ctx, const nd_sample *sets, size_t n)
{
    recorder *r = ctx;
    if (r->nsets + n > r->cap) {
        r->cap = (r->nsets + n) * 2;
        r->sets = realloc(r->sets, r->cap * sizeof *r->sets);
    }
    memcpy(r->sets + r->nsets, sets, n * sizeof *sets);
    r->nsets += n;
    r->calls++;
}

static void rec_event(void *ctx, const nd_device_event *ev)
{
    recorder *r = ctx;
    if (r->nevents < 256) r->events[r->nevents++] = *ev;
}

static void rec_info(void *ctx, const nd_device_info *info)
{
    (void)info;
    ((recorder *)ctx)->ninfo++;
}

typedef struct harness {
    nd_device dev;
    recorder rec;
    const nd_decoder_ops *ops;
    void *state;
} harness;

static void h_init(harness *h)
{
    memset(h, 0, sizeof *h);
    h->dev.sink =
        (nd_sink){.ctx = &h->rec, .samples = rec_samples, .event = rec_event, .info = rec_info};
    snprintf(h->dev.uri_text, sizeof h->dev.uri_text, "test:");
    h->ops = nd_decoder_find("nfp");
    CHECK(h->ops != NULL);
    nd_uri uri;
    char err[128];
    CHECK_EQ_INT(nd_uri_parse("test:", &uri, err, sizeof err), 0);
    CHECK_EQ_INT(h->ops->create(&h->state, &h->dev, &uri, err, sizeof err), 0);
    nd_uri_free(&uri);
}

static void h_free(harness *h)
{
    h->ops->destroy(h->state);
    free(h->rec.sets);
}

static void h_feed(harness *h, const uint8_t *buf, size_t len)
{
    h->ops->feed(h->state, buf, len, 12345);
}

#define CNT(h, field) ((long long)atomic_load(&(h)->dev.counters.field))

/* ---- frame builders ---- */

/* A frame from an explicit body (CRC not added): for bad CRC and lengths. */
static size_t frame_from_body(const uint8_t *body, size_t len, uint8_t *out, size_t cap)
{
    size_t n = nd_cobs_encode(body, len, out, cap - 1);
    out[n] = 0;
    return n + 1;
}

/* A body with a correct CRC appended; returns the frame length. */
static size_t frame_with_crc(uint8_t *body, size_t len, uint8_t *out, size_t cap)
{
    uint16_t crc = nd_crc16(body, len);
    body[len] = (uint8_t)crc;
    body[len + 1] = (uint8_t)(crc >> 8);
    return frame_from_body(body, len + 2, out, cap);
}

static size_t samples_frame(uint8_t *out, uint32_t seq, uint8_t nch, uint8_t nsets, int32_t base)
{
    int32_t raw[NFP_MAX_NSETS * NFP_MAX_NCH];
    for (int i = 0; i < nch * nsets; i++)
        raw[i] = (int32_t)((uint32_t)base + (uint32_t)i * 7u - 3u);
    return nfp_encode_samples(out, NFP_MAX_FRAME(NFP_MAX_BODY), seq, seq * 1000u, nch, nsets, raw);
}

static void feed_samples(harness *h, uint32_t seq, uint8_t nch, uint8_t nsets)
{
    uint8_t f[NFP_MAX_FRAME(NFP_MAX_BODY)];
    size_t n = samples_frame(f, seq, nch, nsets, (int32_t)seq);
    CHECK(n > 0);
    h_feed(h, f, n);
}

static void feed_info(harness *h, const char *json)
{
    uint8_t f[NFP_MAX_FRAME(NFP_MAX_INFO_BODY)];
    size_t n = nfp_encode_info(f, sizeof f, json);
    CHECK(n > 0);
    h_feed(h, f, n);
}

static void feed_status(harness *h, uint32_t overflows)
{
    uint8_t f[32];
    size_t n = nfp_encode_status(f, sizeof f, overflows, 0);
    CHECK(n > 0);
    h_feed(h, f, n);
}

/* ---- CRC and COBS ---- */

static void test_crc(void)
{
    const uint8_t check[] = "123456789";
    CHECK_EQ_INT(nd_crc16(check, 9), 0x29B1);
    uint16_t c = nd_crc16_update(ND_CRC16_INIT, check, 4);
    CHECK_EQ_INT(nd_crc16_update(c, check + 4, 5), 0x29B1);
    CHECK_EQ_INT(nd_crc16(check, 0), 0xFFFF);
}

static void cobs_roundtrip(const uint8_t *in, size_t len)
{
    uint8_t enc[2048], dec[2048];
    size_t n = nd_cobs_encode(in, len, enc, sizeof enc);
    CHECK(n >= 1 && n <= ND_COBS_MAX_ENCODED(len));
    CHECK(memchr(enc, 0, n) == NULL);
    long d = nd_cobs_decode(enc, n, dec, sizeof dec);
    CHECK_EQ_INT(d, (long)len);
    CHECK(d == (long)len && memcmp(in, dec, len) == 0);
    /* In place, as the decoder allows. */
    CHECK_EQ_INT(nd_cobs_decode(enc, n, enc, n), (long)len);
    CHECK(memcmp(in, enc, len) == 0);
}

static void test_cobs(void)
{
    const uint8_t v1[] = {0x11, 0x22, 0x00, 0x33};
    const uint8_t e1[] = {0x03, 0x11, 0x22, 0x02, 0x33};
    uint8_t enc[1200], dec[1200];
    CHECK_EQ_INT(nd_cobs_encode(v1, 4, enc, sizeof enc), 5);
    CHECK(memcmp(enc, e1, 5) == 0);
    CHECK_EQ_INT(nd_cobs_encode(NULL, 0, enc, sizeof enc), 1);
    CHECK_EQ_INT(enc[0], 0x01);
    const uint8_t zeros2[] = {0, 0};
    CHECK_EQ_INT(nd_cobs_encode(zeros2, 2, enc, sizeof enc), 3);
    CHECK(enc[0] == 1 && enc[1] == 1 && enc[2] == 1);

    uint8_t buf[1100];
    /* Runs of non-zero bytes around the 254-byte block limit. */
    size_t run_lengths[] = {1, 253, 254, 255, 508, 509, 1000};
    for (size_t k = 0; k < sizeof run_lengths / sizeof run_lengths[0]; k++) {
        for (size_t i = 0; i < run_lengths[k]; i++) buf[i] = (uint8_t)(1 + i % 255);
        cobs_roundtrip(buf, run_lengths[k]);
        buf[run_lengths[k]] = 0; /* and followed by a zero */
        cobs_roundtrip(buf, run_lengths[k] + 1);
    }
    for (size_t i = 0; i < 254; i++) buf[i] = 0xAB;
    CHECK_EQ_INT(nd_cobs_encode(buf, 254, enc, sizeof enc), 255);
    CHECK_EQ_INT(enc[0], 0xFF);
    /* The form with a trailing 0x01 after a full block decodes the same. */
    enc[255] = 0x01;
    CHECK_EQ_INT(nd_cobs_decode(enc, 256, dec, sizeof dec), 254);
    CHECK(memcmp(dec, buf, 254) == 0);

    memset(buf, 0, 300); /* all zeros */
    cobs_roundtrip(buf, 300);
    srand(7);
    for (int trial = 0; trial < 200; trial++) { /* 0x00-rich random blocks */
        size_t len = (size_t)(rand() % 1024);
        for (size_t i = 0; i < len; i++) buf[i] = rand() % 3 ? 0 : (uint8_t)rand();
        cobs_roundtrip(buf, len);
    }

    /* Invalid input. */
    const uint8_t past_end[] = {0x05, 0x11, 0x22};
    CHECK_EQ_INT(nd_cobs_decode(past_end, 3, dec, sizeof dec), -1);
    const uint8_t zero_inside[] = {0x03, 0x11, 0x00};
    CHECK_EQ_INT(nd_cobs_decode(zero_inside, 3, dec, sizeof dec), -1);
    const uint8_t zero_code[] = {0x00};
    CHECK_EQ_INT(nd_cobs_decode(zero_code, 1, dec, sizeof dec), -1);
    CHECK_EQ_INT(nd_cobs_decode(e1, 5, dec, 3), -1); /* does not fit */
    CHECK_EQ_INT(nd_cobs_encode(v1, 4, enc, 4), 0);  /* does not fit */
}

/* ---- encoders: the worked example of PROTOCOL.md, byte for byte ---- */

static void test_worked_example(void)
{
    static const uint8_t expected[] = {0x03, 0x01, 0x01, 0x02, 0x01, 0x01, 0x04, 0x40,
                                       0x42, 0x0f, 0x05, 0x02, 0x02, 0xe8, 0x03, 0x01,
                                       0x07, 0x18, 0xfc, 0xff, 0xff, 0xe9, 0x03, 0x01,
                                       0x07, 0x19, 0xfc, 0xff, 0xff, 0x9c, 0xe7, 0x00};
    const int32_t raw[] = {1000, -1000, 1001, -999};
    uint8_t f[64];
    size_t n = nfp_encode_samples(f, sizeof f, 256, 1000000, 2, 2, raw);
    CHECK_EQ_INT(n, sizeof expected);
    CHECK(n == sizeof expected && memcmp(f, expected, n) == 0);
    CHECK_EQ_INT(nfp_encode_samples(f, 20, 256, 1000000, 2, 2, raw), 0); /* too small */
    CHECK_EQ_INT(nfp_encode_samples(f, sizeof f, 0, 0, 0, 1, raw), 0);   /* nch 0 */
    CHECK_EQ_INT(nfp_encode_samples(f, sizeof f, 0, 0, 9, 1, raw), 0);   /* nch 9 */
    CHECK_EQ_INT(nfp_encode_samples(f, sizeof f, 0, 0, 1, 65, raw), 0);  /* nsets 65 */

    harness h;
    h_init(&h);
    h_feed(&h, expected, sizeof expected);
    CHECK_EQ_INT(h.rec.nsets, 2);
    CHECK_EQ_INT(h.rec.calls, 1);
    CHECK_EQ_INT(h.rec.sets[0].seq, 256);
    CHECK_EQ_INT(h.rec.sets[1].seq, 257);
    CHECK_EQ_INT(h.rec.sets[0].raw[0], 1000);
    CHECK_EQ_INT(h.rec.sets[0].raw[1], -1000);
    CHECK_EQ_INT(h.rec.sets[1].raw[0], 1001);
    CHECK_EQ_INT(h.rec.sets[1].raw[1], -999);
    CHECK_EQ_INT(h.rec.sets[0].nch, 2);
    CHECK_EQ_INT(h.rec.sets[0].host_ns, 12345);
    CHECK_EQ_INT(h.rec.sets[0].dev_t_us, 1000000);
    CHECK_EQ_INT(h.rec.sets[1].dev_t_us, 0); /* rate unknown before INFO */
    CHECK_EQ_INT(h.rec.sets[0].flags, 0);
    CHECK_EQ_INT(CNT(&h, frames_ok), 1);
    h_free(&h);
}

/* ---- malformed frames: each dropped and counted, the next one decoded ---- */

static void test_bad_frames(void)
{
    harness h;
    h_init(&h);
    uint8_t body[5000], f[6000];
    size_t n;

    /* Bad CRC. */
    n = samples_frame(f, 0, 2, 1, 0);
    uint8_t dec[200];
    long bl = nd_cobs_decode(f, n - 1, dec, sizeof dec);
    dec[bl - 1] ^= 0x01;
    n = frame_from_body(dec, (size_t)bl, f, sizeof f);
    h_feed(&h, f, n);
    CHECK_EQ_INT(CNT(&h, frames_bad_crc), 1);

    /* Bad COBS: a code that runs past the delimiter, and a 0xFF... run cut. */
    const uint8_t bad_cobs[] = {0x05, 0x11, 0x22, 0x00, 0xFF, 0x01, 0x00};
    h_feed(&h, bad_cobs, sizeof bad_cobs);
    CHECK_EQ_INT(CNT(&h, frames_bad_cobs), 2);

    /* Wrong version (CRC right). */
    const uint8_t payload6[6] = {0};
    n = nfp_encode_raw(f, sizeof f, 2, NFP_TYPE_STATUS, payload6, 6);
    h_feed(&h, f, n);
    CHECK_EQ_INT(CNT(&h, frames_bad_version), 1);

    /* Too short for version+type+crc. */
    body[0] = 1;
    body[1] = 1;
    n = frame_from_body(body, 3, f, sizeof f);
    h_feed(&h, f, n);
    CHECK_EQ_INT(CNT(&h, frames_bad_length), 1);

    /* SAMPLES payload shorter than its header. */
    n = nfp_encode_raw(f, sizeof f, 1, NFP_TYPE_SAMPLES, payload6, 6);
    h_feed(&h, f, n);
    CHECK_EQ_INT(CNT(&h, frames_bad_length), 2);

    /* SAMPLES with nch / nsets out of range, or a payload a byte off. */
    struct {
        uint8_t nch, nsets;
        int delta;
    } cases[] = {{0, 1, 0}, {9, 1, 0}, {2, 0, 0}, {2, 65, 0}, {2, 3, -1}, {2, 3, +1}, {8, 64, 4}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t len = 0;
        body[len++] = 1;
        body[len++] = NFP_TYPE_SAMPLES;
        memset(body + len, 0, 8);
        len += 8;
        body[len++] = cases[k].nch;
        body[len++] = cases[k].nsets;
        size_t data = (size_t)cases[k].nch * cases[k].nsets * 4;
        data = (size_t)((long)data + cases[k].delta);
        memset(body + len, 0x55, data);
        len += data;
        n = frame_with_crc(body, len, f, sizeof f);
        h_feed(&h, f, n);
    }
    CHECK_EQ_INT(CNT(&h, frames_bad_length), 9);

    /* STATUS of the wrong size, INFO longer than the limit. */
    n = nfp_encode_raw(f, sizeof f, 1, NFP_TYPE_STATUS, payload6, 5);
    h_feed(&h, f, n);
    CHECK_EQ_INT(CNT(&h, frames_bad_length), 10);
    body[0] = 1;
    body[1] = NFP_TYPE_INFO;
    memset(body + 2, '{', NFP_MAX_INFO_JSON + 1);
    n = frame_with_crc(body, 2 + NFP_MAX_INFO_JSON + 1, f, sizeof f);
    h_feed(&h, f, n);
    CHECK_EQ_INT(CNT(&h, frames_bad_length), 11);

    /* Unknown type with a good CRC. */
    n = nfp_encode_raw(f, sizeof f, 1, 0x7F, payload6, 3);
    h_feed(&h, f, n);
    CHECK_EQ_INT(CNT(&h, frames_unknown_type), 1);

    /* Truncated frame (sender reset mid-frame, then a 0x00 resync) and a
     * truncated frame glued to the next one: dropped; what follows the next
     * delimiter is decoded. */
    n = samples_frame(f, 0, 2, 4, 0);
    h_feed(&h, f, n / 2);
    const uint8_t zero = 0;
    h_feed(&h, &zero, 1);
    CHECK_EQ_INT(CNT(&h, frames_bad_cobs) + CNT(&h, frames_bad_crc) + CNT(&h, frames_bad_length),
                 2 + 1 + 11 + 1);
    CHECK_EQ_INT(h.rec.nsets, 0);
    h_feed(&h, f, n);
    CHECK_EQ_INT(h.rec.nsets, 4);

    /* Empty frames (lone delimiters) are ignored, not counted. */
    const uint8_t zeros[4] = {0};
    long long before = CNT(&h, frames_bad_cobs) + CNT(&h, frames_bad_length);
    h_feed(&h, zeros, sizeof zeros);
    CHECK_EQ_INT(CNT(&h, frames_bad_cobs) + CNT(&h, frames_bad_length), before);

    /* Overlong garbage without a delimiter: counted once, bounded, and the
     * next good frame is decoded. */
    long long bad_len = CNT(&h, frames_bad_length);
    memset(body, 0x5A, sizeof body);
    for (int i = 0; i < 5; i++) h_feed(&h, body, sizeof body);
    CHECK_EQ_INT(CNT(&h, frames_bad_length), bad_len + 1);
    h_feed(&h, &zero, 1);
    CHECK_EQ_INT(CNT(&h, frames_bad_length), bad_len + 1);
    n = samples_frame(f, 4, 2, 1, 0);
    h_feed(&h, f, n);
    CHECK_EQ_INT(h.rec.nsets, 5);
    CHECK_EQ_INT(CNT(&h, frames_ok), 2);
    CHECK_EQ_INT(CNT(&h, gaps), 0);
    CHECK_EQ_INT(h.rec.nevents, 0);
    h_free(&h);
}

/* ---- sequence numbers ---- */

static void test_seq(void)
{
    harness h;
    h_init(&h);
    feed_samples(&h, 0, 2, 4); /* 0..3 */
    feed_samples(&h, 4, 2, 4); /* 4..7 */
    CHECK_EQ_INT(CNT(&h, gaps), 0);
    CHECK_EQ_INT(h.rec.nevents, 0);
    feed_samples(&h, 10, 2, 4); /* 8 and 9 lost */
    CHECK_EQ_INT(CNT(&h, gaps), 1);
    CHECK_EQ_INT(CNT(&h, gap_sets), 2);
    CHECK_EQ_INT(h.rec.nevents, 1);
    CHECK_EQ_INT(h.rec.events[0].kind, ND_EV_GAP);
    CHECK_EQ_INT(h.rec.events[0].count, 2);
    CHECK_EQ_INT(h.rec.events[0].seq, 8);
    CHECK_EQ_INT(h.rec.sets[8].seq, 10);
    CHECK_EQ_INT(h.rec.sets[8].flags, ND_SAMPLE_AFTER_GAP);
    CHECK_EQ_INT(h.rec.sets[8].gap_sets, 2);
    CHECK_EQ_INT(h.rec.sets[9].flags, 0);
    CHECK_EQ_INT(h.rec.sets[9].gap_sets, 0);
    feed_samples(&h, 14, 2, 1);
    feed_samples(&h, 115, 2, 1); /* 100 lost */
    CHECK_EQ_INT(CNT(&h, gaps), 2);
    CHECK_EQ_INT(CNT(&h, gap_sets), 102);
    CHECK_EQ_INT(h.rec.events[1].count, 100);

    /* Backwards: a restart. */
    feed_samples(&h, 3, 2, 2);
    CHECK_EQ_INT(CNT(&h, restarts), 1);
    CHECK_EQ_INT(h.rec.events[2].kind, ND_EV_RESTART);
    size_t last = h.rec.nsets - 2;
    CHECK_EQ_INT(h.rec.sets[last].seq, 3);
    CHECK_EQ_INT(h.rec.sets[last].flags, ND_SAMPLE_AFTER_RESTART);
    feed_samples(&h, 5, 2, 1); /* continues in order after the restart */
    CHECK_EQ_INT(h.rec.nevents, 3);
    CHECK_EQ_INT(CNT(&h, gaps), 2);

    /* The u32 wraps: in order across the wrap, then a gap across it. */
    harness w;
    h_init(&w);
    feed_samples(&w, 0xFFFFFFFCu, 1, 4);
    feed_samples(&w, 0, 1, 2);
    CHECK_EQ_INT(w.rec.nevents, 0);
    CHECK(w.rec.sets[4].seq == ((uint64_t)1 << 32));
    CHECK(w.rec.sets[5].seq == ((uint64_t)1 << 32) + 1);
    harness g;
    h_init(&g);
    feed_samples(&g, 0xFFFFFFFEu, 1, 1); /* next expected 0xFFFFFFFF */
    feed_samples(&g, 3, 1, 1);           /* 0xFFFFFFFF, 0, 1, 2 lost */
    CHECK_EQ_INT(g.rec.nevents, 1);
    CHECK_EQ_INT(g.rec.events[0].kind, ND_EV_GAP);
    CHECK_EQ_INT(g.rec.events[0].count, 4);
    CHECK(g.rec.sets[1].seq == ((uint64_t)1 << 32) + 3);
    CHECK_EQ_INT(CNT(&g, restarts), 0);
    /* Exactly 2^31 back is still a restart; more than that is a wrap. */
    feed_samples(&g, 0x80000004u, 1, 1);
    CHECK_EQ_INT(g.rec.nevents, 2);
    CHECK_EQ_INT(g.rec.events[1].kind, ND_EV_GAP); /* forward: a gap */
    feed_samples(&g, 5, 1, 1);                     /* 2^31 back */
    CHECK_EQ_INT(g.rec.events[2].kind, ND_EV_RESTART);
    h_free(&h);
    h_free(&w);
    h_free(&g);
}

/* ---- INFO and STATUS ---- */

static void test_info_status(void)
{
    harness h;
    h_init(&h);
    feed_samples(&h, 0, 3, 2); /* before INFO: any nch is accepted */
    CHECK_EQ_INT(h.rec.nsets, 2);
    feed_info(&h, "{\"model\":\"NB-1\",\"serial\":\"A17\",\"rate_hz\":1000,\"nch\":2,"
                  "\"fw\":\"1.2.3\",\"channels\":[\"left\",\"right\"],"
                  "\"counts_per_newton\":[105.5,98.25]}\r\n");
    CHECK_EQ_INT(h.rec.ninfo, 1);
    CHECK(atomic_load(&h.dev.info_valid));
    CHECK(strcmp(h.dev.info.model, "NB-1") == 0 && strcmp(h.dev.info.serial, "A17") == 0);
    CHECK(strcmp(h.dev.info.fw, "1.2.3") == 0);
    CHECK_NEAR(h.dev.info.rate_hz, 1000, 0);
    CHECK_EQ_INT(h.dev.info.nch, 2);
    CHECK(strcmp(h.dev.info.channel_names[1], "right") == 0);
    CHECK_NEAR(h.dev.info.counts_per_newton[0], 105.5, 0);
    CHECK_NEAR(h.dev.info.counts_per_newton[1], 98.25, 0);
    CHECK_EQ_INT(CNT(&h, frames_ok), 2);
    /* Same INFO again (sent about once a second): no new callback. */
    feed_info(&h, "{\"model\":\"NB-1\",\"serial\":\"A17\",\"rate_hz\":1000,\"nch\":2,"
                  "\"fw\":\"1.2.3\",\"channels\":[\"left\",\"right\"],"
                  "\"counts_per_newton\":[105.5,98.25]}");
    CHECK_EQ_INT(h.rec.ninfo, 1);

    /* Now nch must match INFO; device times follow the rate. */
    feed_samples(&h, 2, 3, 2);
    CHECK_EQ_INT(h.rec.nsets, 2);
    CHECK_EQ_INT(CNT(&h, frames_bad_length), 1);
    feed_samples(&h, 2, 2, 3);
    CHECK_EQ_INT(h.rec.nsets, 5);
    CHECK_EQ_INT(h.rec.sets[2].dev_t_us, 2000);
    CHECK_EQ_INT(h.rec.sets[3].dev_t_us, 3000);
    CHECK_EQ_INT(h.rec.sets[4].dev_t_us, 4000);

    /* Invalid INFO: each counted, info unchanged. */
    const char *bad[] = {
        "not json",
        "[1,2]",
        "{\"model\":\"M\",\"serial\":\"S\",\"rate_hz\":100}",         /* no nch */
        "{\"model\":\"M\",\"rate_hz\":100,\"nch\":2}",                /* no serial */
        "{\"model\":\"M\",\"serial\":\"S\",\"rate_hz\":0,\"nch\":2}", /* rate 0 */
        "{\"model\":\"M\",\"serial\":\"S\",\"rate_hz\":\"1\",\"nch\":2}",
        "{\"model\":\"M\",\"serial\":\"S\",\"rate_hz\":100,\"nch\":9}",
        "{\"model\":\"M\",\"serial\":\"S\",\"rate_hz\":100,\"nch\":1.5}",
        "{\"model\":7,\"serial\":\"S\",\"rate_hz\":100,\"nch\":2}",
        "{\"model\":\"M\",\"serial\":\"S\",\"rate_hz\":100,\"nch\":1,\"channels\":[\"a\",\"b\"]}",
        "{\"model\":\"M\",\"serial\":\"S\",\"rate_hz\":100,\"nch\":2,\"counts_per_newton\":[-1]}",
        "{\"model\":\"M\",\"serial\":\"S\",\"rate_hz\":100,\"nch\":2} trailing",
        "{\"model\":\"0123456789012345678901234567890123456789012345678901234567890123456789\","
        "\"serial\":\"S\",\"rate_hz\":100,\"nch\":2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) feed_info(&h, bad[i]);
    CHECK_EQ_INT(CNT(&h, frames_bad_payload), (long long)(sizeof bad / sizeof bad[0]));
    CHECK_EQ_INT(h.rec.ninfo, 1);
    CHECK(strcmp(h.dev.info.model, "NB-1") == 0);
    /* A changed INFO is passed on. */
    feed_info(&h, "{\"model\":\"NB-1\",\"serial\":\"A17\",\"rate_hz\":500,\"nch\":2}");
    CHECK_EQ_INT(h.rec.ninfo, 2);
    CHECK_NEAR(h.dev.info.rate_hz, 500, 0);
    CHECK(h.dev.info.fw[0] == '\0');

    /* STATUS: overflows is a running device counter; events carry the increase. */
    size_t ev0 = h.rec.nevents;
    feed_status(&h, 0);
    feed_status(&h, 5);
    feed_status(&h, 5);
    feed_status(&h, 8);
    CHECK_EQ_INT(h.rec.nevents, ev0 + 2);
    CHECK_EQ_INT(h.rec.events[ev0].kind, ND_EV_OVERFLOW);
    CHECK_EQ_INT(h.rec.events[ev0].count, 5);
    CHECK_EQ_INT(h.rec.events[ev0 + 1].count, 3);
    CHECK_EQ_INT(CNT(&h, device_overflows), 8);
    /* After a device restart its counter starts again from 0. */
    feed_samples(&h, 0, 2, 1);
    feed_status(&h, 2);
    CHECK_EQ_INT(CNT(&h, device_overflows), 10);
    CHECK_EQ_INT(h.rec.events[h.rec.nevents - 1].count, 2);
    h_free(&h);
}

/* ---- any byte split gives identical results; corruption recovery ---- */

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

typedef struct frame_pos {
    size_t start, len;
    uint32_t seq; /* SAMPLES frames only */
    uint8_t nsets;
    int32_t base; /* raw values of the frame: see samples_frame() */
    bool samples;
    bool received;
} frame_pos;

/* A stream of INFO, STATUS, SAMPLES (with gaps) and some malformed frames. */
static size_t build_stream(uint8_t *s, size_t cap, frame_pos *frames, size_t *nframes)
{
    size_t len = 0, nf = 0;
    uint32_t seq = 0;
    uint8_t f[NFP_MAX_FRAME(NFP_MAX_INFO_BODY)];
    while (len + sizeof f < cap && nf < 4000) {
        size_t n;
        frame_pos fp = {.start = len};
        uint32_t r = rng() % 100;
        if (r < 2) {
            n = nfp_encode_info(f, sizeof f,
                                "{\"model\":\"M\",\"serial\":\"S\",\"rate_hz\":200,\"nch\":2}");
        } else if (r < 4) {
            n = nfp_encode_status(f, sizeof f, seq / 50, 0);
        } else if (r < 6) {
            n = nfp_encode_raw(f, sizeof f, 1, 0x42, (const uint8_t *)"xyz", 3);
        } else if (r < 8) {
            n = samples_frame(f, seq, 2, 3, 1);
            f[n / 2] ^= 0x10; /* bad CRC or COBS */
            if (f[n / 2] == 0) f[n / 2] = 0x77;
            seq += 3;
        } else {
            uint8_t nsets = (uint8_t)(1 + rng() % 16);
            if (rng() % 20 == 0) seq += rng() % 50; /* a gap */
            fp.base = (int32_t)rng();
            n = samples_frame(f, seq, 2, nsets, fp.base);
            fp.samples = true;
            fp.seq = seq;
            fp.nsets = nsets;
            seq += nsets;
        }
        memcpy(s + len, f, n);
        fp.len = n;
        len += n;
        frames[nf++] = fp;
    }
    *nframes = nf;
    return len;
}

static void run_split(const uint8_t *s, size_t len, int mode, harness *h)
{
    h_init(h);
    size_t i = 0;
    while (i < len) {
        size_t chunk = mode == 0 ? len : mode == 1 ? 1 : 1 + rng() % 700;
        if (chunk > len - i) chunk = len - i;
        h_feed(h, s + i, chunk);
        i += chunk;
    }
}

static bool same_results(const harness *a, const harness *b)
{
    if (a->rec.nsets != b->rec.nsets || a->rec.nevents != b->rec.nevents) return false;
    if (memcmp(a->rec.sets, b->rec.sets, a->rec.nsets * sizeof(nd_sample)) != 0) return false;
    for (size_t i = 0; i < a->rec.nevents; i++) {
        const nd_device_event *x = &a->rec.events[i], *y = &b->rec.events[i];
        if (x->kind != y->kind || x->seq != y->seq || x->count != y->count ||
            strcmp(x->detail, y->detail) != 0)
            return false;
    }
    return CNT(a, frames_ok) == CNT(b, frames_ok) &&
           CNT(a, frames_bad_cobs) == CNT(b, frames_bad_cobs) &&
           CNT(a, frames_bad_crc) == CNT(b, frames_bad_crc) &&
           CNT(a, frames_bad_length) == CNT(b, frames_bad_length) &&
           CNT(a, frames_unknown_type) == CNT(b, frames_unknown_type) &&
           CNT(a, gap_sets) == CNT(b, gap_sets) && a->rec.ninfo == b->rec.ninfo;
}

static void test_splits_and_corruption(void)
{
    size_t cap = 400000, nframes = 0;
    uint8_t *s = malloc(cap);
    frame_pos *frames = malloc(4000 * sizeof *frames);
    size_t len = build_stream(s, cap, frames, &nframes);
    CHECK(nframes > 1000);

    harness whole, bytewise, chunks;
    run_split(s, len, 0, &whole);
    run_split(s, len, 1, &bytewise);
    run_split(s, len, 2, &chunks);
    CHECK(whole.rec.nsets > 5000);
    CHECK(CNT(&whole, gaps) > 0 && CNT(&whole, frames_bad_crc) + CNT(&whole, frames_bad_cobs) > 0);
    CHECK(CNT(&whole, frames_unknown_type) > 0 && whole.rec.ninfo == 1);
    CHECK(same_results(&whole, &bytewise));
    CHECK(same_results(&whole, &chunks));

    /* Every intact SAMPLES frame is decoded. */
    size_t expected_sets = 0;
    for (size_t i = 0; i < nframes; i++) expected_sets += frames[i].samples ? frames[i].nsets : 0;
    CHECK_EQ_INT(whole.rec.nsets, expected_sets);
    h_free(&whole);
    h_free(&bytewise);
    h_free(&chunks);

    /* Random corruption (any byte, any value, delimiters included): every
     * frame whose bytes and preceding delimiter are untouched still arrives,
     * and nothing arrives that was not sent. */
    bool *touched = calloc(len, 1);
    for (int k = 0; k < 400; k++) {
        size_t at = rng() % len;
        s[at] = (uint8_t)rng();
        touched[at] = true;
    }
    harness c;
    run_split(s, len, 2, &c);
    /* Received sets come in stream order: match each to the frame it came
     * from and check its values. */
    size_t j = 0;
    bool genuine = true;
    for (size_t r = 0; r < c.rec.nsets && genuine; r++) {
        uint32_t seq = (uint32_t)c.rec.sets[r].seq;
        while (j < nframes && !(frames[j].samples && seq >= frames[j].seq &&
                                seq < frames[j].seq + frames[j].nsets))
            j++;
        if (j == nframes) {
            genuine = false;
            break;
        }
        uint32_t idx = (seq - frames[j].seq) * 2;
        genuine = c.rec.sets[r].raw[0] == (int32_t)((uint32_t)frames[j].base + idx * 7u - 3u) &&
                  c.rec.sets[r].raw[1] == (int32_t)((uint32_t)frames[j].base + idx * 7u + 4u);
        frames[j].received = true;
    }
    CHECK(genuine);
    size_t intact = 0, found = 0;
    for (size_t i = 0; i < nframes; i++) {
        if (!frames[i].samples) continue;
        bool ok = !(frames[i].start > 0 && touched[frames[i].start - 1]);
        for (size_t b = 0; b < frames[i].len && ok; b++) ok = !touched[frames[i].start + b];
        if (!ok) continue;
        intact++;
        found += frames[i].received;
    }
    printf("corruption: %zu intact SAMPLES frames, %zu received, %zu sets\n", intact, found,
           c.rec.nsets);
    CHECK(intact > 500);
    CHECK_EQ_INT(found, intact);
    CHECK(CNT(&c, frames_bad_crc) + CNT(&c, frames_bad_cobs) + CNT(&c, frames_bad_length) > 0);
    h_free(&c);
    free(touched);
    free(frames);
    free(s);
}

int main(void)
{
    test_crc();
    test_cobs();
    test_worked_example();
    test_bad_frames();
    test_seq();
    test_info_status();
    test_splits_and_corruption();
    return nd_test_finish("test_nfp");
}
