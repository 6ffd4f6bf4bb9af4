/* The "nfp" decoder: NFP/1 byte stream -> sample sets, info and events
 * (NFP/1, drivers/decoders/PROTOCOL.md, conventions in PROTOCOL.md).
 *
 * Bytes are collected until a 0x00 delimiter, then the block is COBS-decoded
 * and checked (length, CRC, version) before the payload is parsed. Anything
 * malformed is counted (nd_device_count) and dropped; the next 0x00 always
 * starts a fresh frame, so one bad byte costs at most the frames it touched.
 *
 * Sequence numbers: the device's u32 seq is extended to u64. Compared with the
 * next expected value, a numerically larger seq is a gap; a smaller one is a
 * device restart unless it lies more than 2^31 below (then the u32 wrapped and
 * it is a gap or in order in the next epoch). After a restart the u64 seq
 * starts again from the device's value (it is the device's count since its
 * start). The link dropping (reset) keeps the seq state so that sets lost
 * during a disconnect show up as a gap. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_cobs.h"
#include "nd_crc16.h"
#include "nd_decoder.h"
#include "nd_log.h"
#include "nd_nfp.h"
#include "nd_nfp_decoder.h"

/* Longest COBS block (without delimiter) a valid frame can produce. */
#define NFP_MAX_ENCODED (NFP_MAX_FRAME(NFP_MAX_INFO_BODY) - 1)

typedef struct nfp_state {
    nd_device *dev;
    size_t len;      /* bytes collected in frame[] */
    bool discarding; /* overlong garbage: skip to the next 0x00 */
    bool have_seq;
    uint64_t next_seq; /* u64 seq expected in the next SAMPLES frame */
    uint32_t last_overflows;
    uint16_t last_status_flags;
    uint8_t frame[NFP_MAX_ENCODED];
    uint8_t body[NFP_MAX_ENCODED]; /* decoding never grows, so this always fits */
    nd_sample out[NFP_MAX_NSETS];
} nfp_state;

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void count(nd_device *dev, nd_counter which)
{
    nd_device_count(dev, which, 1);
}

/* Where the frame's first set sits on the u64 axis, and what that means. */
typedef enum { SEQ_FIRST, SEQ_IN_ORDER, SEQ_GAP, SEQ_RESTART } seq_kind;

static seq_kind unwrap_seq(const nfp_state *st, uint32_t seq, uint64_t *seq64, uint64_t *gap)
{
    *gap = 0;
    if (!st->have_seq) {
        *seq64 = seq;
        return SEQ_FIRST;
    }
    uint32_t expected = (uint32_t)st->next_seq;
    uint64_t epoch = st->next_seq - expected;
    if (seq == expected) {
        *seq64 = st->next_seq;
        return SEQ_IN_ORDER;
    }
    if (seq > expected) {
        *gap = (uint64_t)(seq - expected);
        *seq64 = epoch + seq;
        return SEQ_GAP;
    }
    uint32_t back = expected - seq;
    if (back > 0x80000000u) {
        /* The u32 wrapped and sets were lost across it (a frame that just
         * continues across the wrap has seq == expected). */
        *seq64 = epoch + ((uint64_t)1 << 32) + seq;
        *gap = *seq64 - st->next_seq;
        return SEQ_GAP;
    }
    *seq64 = seq;
    return SEQ_RESTART;
}

static void handle_samples(nfp_state *st, const uint8_t *p, size_t len, uint64_t host_ns)
{
    nd_device *dev = st->dev;
    if (len < NFP_SAMPLES_HEADER) {
        count(dev, ND_COUNT_FRAMES_BAD_LENGTH);
        return;
    }
    uint32_t seq = get_u32(p);
    uint32_t t_us = get_u32(p + 4);
    unsigned nch = p[8], nsets = p[9];
    if (nch < 1 || nch > NFP_MAX_NCH || nsets < 1 || nsets > NFP_MAX_NSETS ||
        len != NFP_SAMPLES_HEADER + (size_t)nch * nsets * 4) {
        count(dev, ND_COUNT_FRAMES_BAD_LENGTH);
        return;
    }
    bool info_valid = atomic_load(&dev->info_valid);
    if (info_valid && (int)nch != dev->info.nch) {
        nd_debug("nfp: SAMPLES frame with %u channels, device INFO says %d; dropped", nch,
                 dev->info.nch);
        count(dev, ND_COUNT_FRAMES_BAD_LENGTH);
        return;
    }
    count(dev, ND_COUNT_FRAMES_OK);

    uint64_t seq64, gap;
    seq_kind kind = unwrap_seq(st, seq, &seq64, &gap);
    uint8_t first_flags = 0;
    if (kind == SEQ_GAP) {
        nd_device_emit_gap(
            dev, st->next_seq, gap, "%llu sample sets lost (seq %llu expected, %llu received)",
            (unsigned long long)gap, (unsigned long long)st->next_seq, (unsigned long long)seq64);
        first_flags = ND_SAMPLE_AFTER_GAP;
    } else if (kind == SEQ_RESTART) {
        nd_device_emit_restart(dev, seq64, "device restarted: seq went back from %llu to %llu",
                               (unsigned long long)st->next_seq, (unsigned long long)seq64);
        first_flags = ND_SAMPLE_AFTER_RESTART;
        st->last_overflows = 0; /* the device's running counter restarted too */
    }
    st->have_seq = true;
    st->next_seq = seq64 + nsets;

    /* Device time of set i: with a known rate, extrapolate from the frame's
     * t_us; without one only the first set's time is known. */
    double rate = info_valid ? dev->info.rate_hz : 0.0;
    const uint8_t *raw = p + NFP_SAMPLES_HEADER;
    for (unsigned i = 0; i < nsets; i++) {
        nd_sample *s = &st->out[i];
        memset(s, 0, sizeof *s);
        s->seq = seq64 + i;
        s->host_ns = host_ns;
        if (i == 0)
            s->dev_t_us = t_us;
        else if (rate > 0)
            s->dev_t_us = t_us + (uint32_t)llround(i * 1e6 / rate);
        s->nch = (uint8_t)nch;
        for (unsigned c = 0; c < nch; c++) s->raw[c] = (int32_t)get_u32(raw + 4 * (i * nch + c));
    }
    st->out[0].flags = first_flags;
    if (first_flags & ND_SAMPLE_AFTER_GAP) st->out[0].gap_sets = gap;
    nd_device_emit_samples(dev, st->out, nsets);
}

/* Copy a JSON string member into dst; false if absent (when required), not a
 * string, or too long for the field. */
static bool get_string(const cJSON *obj, const char *name, bool required, char *dst, size_t cap)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!item) return !required;
    if (!cJSON_IsString(item) || strlen(item->valuestring) >= cap) return false;
    strcpy(dst, item->valuestring);
    return true;
}

/* Parse an INFO payload; on failure *why names the problem. */
static bool parse_info(const uint8_t *p, size_t len, nd_device_info *info, const char **why)
{
    memset(info, 0, sizeof *info);
    if (memchr(p, 0, len)) {
        *why = "NUL byte in JSON";
        return false;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)p, len, &end, false);
    if (!root) {
        *why = "not valid JSON";
        return false;
    }
    bool ok = false;
    *why = "not a JSON object";
    if (!cJSON_IsObject(root)) goto done;
    while (end && end < (const char *)p + len && strchr(" \t\r\n", *end)) end++;
    *why = "trailing bytes after the JSON object";
    if (end != (const char *)p + len) goto done;
    *why = "model/serial/fw missing, not strings or too long";
    if (!get_string(root, "model", true, info->model, sizeof info->model) ||
        !get_string(root, "serial", true, info->serial, sizeof info->serial) ||
        !get_string(root, "fw", false, info->fw, sizeof info->fw))
        goto done;
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(root, "rate_hz");
    *why = "rate_hz missing or not a positive number";
    if (!cJSON_IsNumber(rate) || !(rate->valuedouble > 0) || !isfinite(rate->valuedouble))
        goto done;
    info->rate_hz = rate->valuedouble;
    const cJSON *nch = cJSON_GetObjectItemCaseSensitive(root, "nch");
    *why = "nch missing or not an integer 1..8";
    if (!cJSON_IsNumber(nch) || nch->valuedouble != floor(nch->valuedouble) ||
        nch->valuedouble < 1 || nch->valuedouble > ND_MAX_CHANNELS)
        goto done;
    info->nch = (int)nch->valuedouble;

    const cJSON *names = cJSON_GetObjectItemCaseSensitive(root, "channels");
    if (names) {
        *why = "channels is not an array of at most nch strings (each < 32 bytes)";
        if (!cJSON_IsArray(names) || cJSON_GetArraySize(names) > info->nch) goto done;
        int i = 0;
        const cJSON *n;
        cJSON_ArrayForEach(n, names)
        {
            if (!cJSON_IsString(n) || strlen(n->valuestring) >= sizeof info->channel_names[0])
                goto done;
            strcpy(info->channel_names[i++], n->valuestring);
        }
    }
    const cJSON *cpn = cJSON_GetObjectItemCaseSensitive(root, "counts_per_newton");
    if (cpn) {
        *why = "counts_per_newton is not an array of at most nch numbers >= 0";
        if (!cJSON_IsArray(cpn) || cJSON_GetArraySize(cpn) > info->nch) goto done;
        int i = 0;
        const cJSON *n;
        cJSON_ArrayForEach(n, cpn)
        {
            if (!cJSON_IsNumber(n) || !(n->valuedouble >= 0) || !isfinite(n->valuedouble))
                goto done;
            info->counts_per_newton[i++] = n->valuedouble;
        }
    }
    ok = true;
done:
    cJSON_Delete(root);
    return ok;
}

static void handle_info(nfp_state *st, const uint8_t *p, size_t len)
{
    nd_device_info info;
    const char *why = "";
    if (len > NFP_MAX_INFO_JSON) {
        count(st->dev, ND_COUNT_FRAMES_BAD_LENGTH);
        return;
    }
    if (!parse_info(p, len, &info, &why)) {
        nd_debug("nfp: INFO frame dropped: %s", why);
        count(st->dev, ND_COUNT_FRAMES_BAD_PAYLOAD);
        return;
    }
    count(st->dev, ND_COUNT_FRAMES_OK);
    nd_device_set_info(st->dev, &info); /* no-op when unchanged */
}

static void handle_status(nfp_state *st, const uint8_t *p, size_t len)
{
    nd_device *dev = st->dev;
    if (len != NFP_STATUS_PAYLOAD) {
        count(dev, ND_COUNT_FRAMES_BAD_LENGTH);
        return;
    }
    count(dev, ND_COUNT_FRAMES_OK);
    uint32_t overflows = get_u32(p);
    uint16_t flags = get_u16(p + 4);
    /* A running counter since device start; if it went down the device
     * restarted, so all of the new value is new drops. */
    uint32_t increase =
        overflows >= st->last_overflows ? overflows - st->last_overflows : overflows;
    st->last_overflows = overflows;
    if (increase) {
        nd_device_emit_overflow(dev, st->next_seq, increase,
                                "device dropped %u sample sets (its total: %u)", increase,
                                overflows);
    }
    if (flags != st->last_status_flags) {
        nd_debug("nfp: device status flags 0x%04x", flags);
        st->last_status_flags = flags;
    }
}

static void handle_block(nfp_state *st, uint64_t host_ns)
{
    nd_device *dev = st->dev;
    if (st->len == 0) return; /* lone 0x00: senders may use it to force resync */
    long n = nd_cobs_decode(st->frame, st->len, st->body, sizeof st->body);
    if (n < 0) {
        count(dev, ND_COUNT_FRAMES_BAD_COBS);
        return;
    }
    if (n < 4 || n > NFP_MAX_INFO_BODY) { /* version, type, crc; nothing longer exists */
        count(dev, ND_COUNT_FRAMES_BAD_LENGTH);
        return;
    }
    size_t len = (size_t)n;
    if (nd_crc16(st->body, len - 2) != get_u16(st->body + len - 2)) {
        count(dev, ND_COUNT_FRAMES_BAD_CRC);
        return;
    }
    if (st->body[0] != NFP_VERSION) {
        count(dev, ND_COUNT_FRAMES_BAD_VERSION);
        return;
    }
    const uint8_t *payload = st->body + 2;
    size_t plen = len - 4;
    switch (st->body[1]) {
    case NFP_TYPE_SAMPLES:
        handle_samples(st, payload, plen, host_ns);
        break;
    case NFP_TYPE_INFO:
        handle_info(st, payload, plen);
        break;
    case NFP_TYPE_STATUS:
        handle_status(st, payload, plen);
        break;
    default:
        count(dev, ND_COUNT_FRAMES_UNKNOWN_TYPE);
        break;
    }
}

static void nfp_feed(void *state, const uint8_t *buf, size_t len, uint64_t host_ns)
{
    nfp_state *st = state;
    while (len > 0) {
        const uint8_t *zero = memchr(buf, 0, len);
        size_t chunk = zero ? (size_t)(zero - buf) : len;
        if (!st->discarding) {
            if (chunk > sizeof st->frame - st->len) {
                /* No valid frame is this long: drop it once, then skip to
                 * the next delimiter. */
                count(st->dev, ND_COUNT_FRAMES_BAD_LENGTH);
                st->discarding = true;
                st->len = 0;
            } else {
                memcpy(st->frame + st->len, buf, chunk);
                st->len += chunk;
            }
        }
        if (!zero) return;
        if (!st->discarding) handle_block(st, host_ns);
        st->discarding = false;
        st->len = 0;
        buf += chunk + 1;
        len -= chunk + 1;
    }
}

static void nfp_reset(void *state)
{
    nfp_state *st = state;
    st->len = 0;
    st->discarding = false;
}

static int nfp_create(void **state, nd_device *dev, const nd_uri *uri, char *err, size_t errlen)
{
    (void)uri;
    nfp_state *st = calloc(1, sizeof *st);
    if (!st) {
        if (err && errlen) snprintf(err, errlen, "nfp: out of memory");
        return -1;
    }
    st->dev = dev;
    *state = st;
    return 0;
}

static void nfp_destroy(void *state)
{
    free(state);
}

static const char *const nfp_keys[] = {NULL};

const nd_decoder_ops nd_decoder_nfp = {
    .name = "nfp",
    .description = "NFP/1 binary frames (COBS, CRC-16; see drivers/decoders/PROTOCOL.md)",
    .keys = nfp_keys,
    .create = nfp_create,
    .feed = nfp_feed,
    .reset = nfp_reset,
    .destroy = nfp_destroy,
};
