/* LabJack U6 in stream mode: `labjack-u6:[SERIAL]?channels=0,2&gain=1000&rate=160`.
 *
 * Differential bridge inputs with the U6's own amplifier (x1000 for a bare
 * load cell), scanned by the device clock. At open: ConfigU6 (serial,
 * firmware, U6 or U6-Pro), ReadCal blocks 0-3 (the device's calibration
 * constants; the maker's nominal ones when they cannot be read), StreamStop,
 * StreamConfig. run(): stream transfers on EP3 kept in flight by
 * nd_usb_async, StreamStart, then StreamData packets through the parser
 * (nd_labjack_u6_proto.c) into sample sets.
 *
 * Raw counts are calibrated input volts x 1e8 (1 count = 10 nV at the U6
 * terminals), so they stay comparable across gains and devices;
 * counts_per_newton follows from the load cell's sensitivity (mV/V),
 * excitation (V) and capacity (N) when given. See drivers/USB.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nd_labjack_u6.h"
#include "nd_labjack_u6_proto.h"
#include "nd_log.h"
#include "nd_reconnect.h"
#include "nd_transport.h"
#include "nd_usb_async.h"

#define LJ_CMD_TIMEOUT_MS  1000
#define LJ_BATCH           64
#define LJ_COUNTS_PER_VOLT 1e8
#define LJ_DEFAULT_RATE    160 /* scans/s: the datasheet allows 178 for 2 channels at x1000 */
/* Warn above this share of the datasheet's typical maximum scan rate. */
#define LJ_RATE_WARN_SHARE 0.9

static const char *const lj_keys[] = {
    "channels",   "diff",      "gain",  "rate",      "per_packet",           "resolution",
    "settling",   "transfers", "queue", "rescan_ms", "packets_per_transfer", "sensitivity",
    "excitation", "capacity",  NULL};

typedef struct lj_priv {
    nd_device *dev;
    nd_usb_async *usb;
    lju6_stream_config scfg;
    lju6_calibration cal;
    lju6_device_config devcfg;
    lju6_parser parser;
    double rate;
    double counts_per_newton;
    uint8_t *buf;
    size_t bufcap;
    /* Sequence continuity across StreamStart: seq = base + parser scan index. */
    uint64_t seq_base, next_seq;
    uint64_t last_host_ns, chunk_ns;
    bool have_last;
    uint64_t pending_gap;
    char gap_reason[120];
    nd_sample batch[LJ_BATCH];
    size_t nbatch;
} lj_priv;

static int parse_channels(const char *text, lju6_stream_config *c, bool diff, char *err,
                          size_t errlen)
{
    c->nch = 0;
    const char *s = text;
    while (*s) {
        char *end = NULL;
        long ch = strtol(s, &end, 10);
        if (end == s || ch < 0 || ch > 143 || (*end && *end != ',')) {
            snprintf(err, errlen,
                     "labjack-u6: channels=%s: expected a comma list of AIN numbers 0-143", text);
            return -1;
        }
        if (diff && (ch % 2 != 0 || ch > 12)) {
            snprintf(err, errlen,
                     "labjack-u6: channels=%s: differential inputs are pairs AIN0/1 .. AIN12/13; "
                     "give the even (positive) channel, or diff=0",
                     text);
            return -1;
        }
        if (c->nch == ND_MAX_CHANNELS) {
            snprintf(err, errlen, "labjack-u6: at most %d channels", ND_MAX_CHANNELS);
            return -1;
        }
        c->channel[c->nch++] = (uint8_t)ch;
        s = *end ? end + 1 : end;
    }
    if (c->nch == 0) {
        snprintf(err, errlen, "labjack-u6: channels= is empty");
        return -1;
    }
    return 0;
}

static int gain_index(long gain)
{
    switch (gain) {
    case 1:
        return 0;
    case 10:
        return 1;
    case 100:
        return 2;
    case 1000:
        return 3;
    default:
        return -1;
    }
}

/* One command/response exchange on EP1 OUT / EP2 IN. Returns response bytes
 * or a negative ND_TR_* code. */
static ssize_t lj_exchange(lj_priv *p, const uint8_t *cmd, size_t len, uint8_t *resp, size_t cap)
{
    ssize_t n = nd_usb_async_bulk_out(p->usb, LJU6_EP_CMD_OUT, cmd, len, LJ_CMD_TIMEOUT_MS);
    if (n < 0) return n;
    if (n != (ssize_t)len) return ND_TR_ERR;
    n = nd_usb_async_bulk_in(p->usb, LJU6_EP_RESP_IN, resp, cap, LJ_CMD_TIMEOUT_MS);
    return n == 0 ? ND_TR_ERR : n;
}

static int lj_stream_stop_cmd(lj_priv *p)
{
    uint8_t cmd[2], resp[64];
    ssize_t n = lj_exchange(p, cmd, lju6_build_stream_stop(cmd), resp, sizeof resp);
    if (n < 0) return (int)n;
    return lju6_check_stream_cmd_resp(resp, (size_t)n, LJU6_STREAM_STOP) < 0 ? ND_TR_ERR : 0;
}

static const char *const gain_names[4] = {"x1", "x10", "x100", "x1000"};

/* ReadCal blocks 0-3. When a block cannot be read (no answer, invalid
 * answer, device errorcode) the maker's nominal constants are used for every
 * gain, and the log says so and why; streaming goes on. Returns ND_TR_LOST
 * when the device went away, else 0. */
static int lj_read_calibration(lj_priv *p)
{
    uint8_t cmd[64], resp[64], blocks[LJU6_CAL_BLOCKS][32];
    for (uint8_t b = 0; b < LJU6_CAL_BLOCKS; b++) {
        ssize_t n = lj_exchange(p, cmd, lju6_build_readcal(cmd, b), resp, sizeof resp);
        if (n == ND_TR_LOST) return ND_TR_LOST;
        int rc = n > 0 ? lju6_parse_readcal_resp(resp, (size_t)n, blocks[b]) : -1;
        if (rc != 0) {
            lju6_calibration_nominal(&p->cal);
            char why[64];
            if (n <= 0)
                snprintf(why, sizeof why, "no answer");
            else if (rc > 0)
                snprintf(why, sizeof why, "errorcode %d", rc);
            else
                snprintf(why, sizeof why, "invalid answer");
            nd_warn("labjack-u6 %u: reading calibration block %u failed (%s): using the maker's "
                    "nominal constants (center %.1f, slopes %+.9g/%+.9g V per bit at %s)",
                    p->devcfg.serial, b, why, p->cal.center[p->scfg.gain_index],
                    p->cal.pos_slope[p->scfg.gain_index], p->cal.neg_slope[p->scfg.gain_index],
                    gain_names[p->scfg.gain_index]);
            return 0;
        }
    }
    unsigned rejected = lju6_calibration_from_blocks(&p->cal, blocks);
    for (int g = 0; g < 4; g++)
        if (rejected & (1u << g))
            nd_warn("labjack-u6 %u: calibration constants for gain %s are implausible: using the "
                    "maker's nominal ones for that gain",
                    p->devcfg.serial, gain_names[g]);
    int g = p->scfg.gain_index;
    nd_notice("labjack-u6 %u: gain %s converts with %s constants: center %.4f, positive slope "
              "%.9g, negative slope %.9g V per bit",
              p->devcfg.serial, gain_names[g],
              p->cal.from_device[g] ? "the device's calibration" : "the maker's nominal",
              p->cal.center[g], p->cal.pos_slope[g], p->cal.neg_slope[g]);
    return 0;
}

/* ConfigU6, calibration, StreamStop, StreamConfig. */
static int lj_configure(lj_priv *p, char *err, size_t errlen)
{
    uint8_t cmd[64], resp[64];
    ssize_t n = lj_exchange(p, cmd, lju6_build_configu6(cmd), resp, sizeof resp);
    int rc = n < 0 ? -1 : lju6_parse_configu6_resp(resp, (size_t)n, &p->devcfg);
    if (rc != 0) {
        snprintf(err, errlen, "labjack-u6: ConfigU6 %s",
                 n < 0 ? "got no answer" : "answer invalid");
        return n == ND_TR_LOST ? ND_TR_LOST : -1;
    }
    if (lj_read_calibration(p) == ND_TR_LOST) return ND_TR_LOST;
    rc = lj_stream_stop_cmd(p); /* in case a previous run left it streaming */
    if (rc == ND_TR_LOST) return ND_TR_LOST;
    size_t len = lju6_build_stream_config(cmd, sizeof cmd, &p->scfg);
    n = lj_exchange(p, cmd, len, resp, sizeof resp);
    int code = n < 0 ? -1 : lju6_check_stream_config_resp(resp, (size_t)n);
    if (code != 0) {
        if (code > 0)
            snprintf(err, errlen, "labjack-u6: StreamConfig refused with errorcode %d", code);
        else
            snprintf(err, errlen, "labjack-u6: StreamConfig got no valid answer");
        return n == ND_TR_LOST ? ND_TR_LOST : -1;
    }
    return 0;
}

static void lj_publish_info(lj_priv *p)
{
    nd_device_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.model, sizeof info.model, "%s", p->devcfg.pro ? "LabJack U6-Pro" : "LabJack U6");
    snprintf(info.serial, sizeof info.serial, "%u", p->devcfg.serial);
    lju6_firmware_string(&p->devcfg, info.fw, sizeof info.fw);
    info.rate_hz = p->rate;
    info.nch = p->scfg.nch;
    for (int i = 0; i < p->scfg.nch; i++) {
        if (p->scfg.differential)
            snprintf(info.channel_names[i], sizeof info.channel_names[i], "AIN%u-AIN%u",
                     p->scfg.channel[i], p->scfg.channel[i] + 1);
        else
            snprintf(info.channel_names[i], sizeof info.channel_names[i], "AIN%u",
                     p->scfg.channel[i]);
        info.counts_per_newton[i] = p->counts_per_newton;
    }
    nd_device_set_info(p->dev, &info);
}

/* ---- parser callbacks (acquisition thread) ---- */

static void lj_flush(lj_priv *p)
{
    if (p->nbatch == 0) return;
    nd_device_emit_samples(p->dev, p->batch, p->nbatch);
    p->nbatch = 0;
}

static void on_scan(void *ctx, uint64_t scan, const uint16_t *bits, int nch, uint64_t gap)
{
    lj_priv *p = ctx;
    nd_device *dev = p->dev;
    uint64_t seq = p->seq_base + scan;
    gap += p->pending_gap;
    p->pending_gap = 0;
    if (gap > 0) {
        nd_device_emit_gap(dev, seq, gap, "%llu scan(s) lost: %s", (unsigned long long)gap,
                           p->gap_reason[0] ? p->gap_reason : "stream interrupted");
        p->gap_reason[0] = '\0';
    }
    nd_sample *s = &p->batch[p->nbatch++];
    memset(s, 0, sizeof *s);
    s->seq = seq;
    s->host_ns = p->chunk_ns;
    s->dev_t_us = (uint32_t)(uint64_t)llround((double)seq * 1e6 / p->rate);
    s->nch = (uint8_t)nch;
    s->flags = gap ? ND_SAMPLE_AFTER_GAP : 0;
    s->gap_sets = gap;
    int g = p->scfg.gain_index;
    for (int c = 0; c < nch; c++) {
        double counts = lju6_volts(&p->cal, g, bits[c]) * LJ_COUNTS_PER_VOLT;
        if (counts > INT32_MAX) counts = INT32_MAX;
        if (counts < INT32_MIN) counts = INT32_MIN;
        s->raw[c] = (int32_t)lround(counts);
    }
    p->next_seq = seq + 1;
    if (p->nbatch == LJ_BATCH) lj_flush(p);
}

static void on_packets_lost(void *ctx, uint64_t scan, unsigned packets)
{
    lj_priv *p = ctx;
    (void)scan;
    snprintf(p->gap_reason, sizeof p->gap_reason,
             "%u StreamData packet(s) missing (packet counter jump)", packets);
}

static void on_overflow(void *ctx, uint64_t scan, uint64_t scans, bool ended)
{
    lj_priv *p = ctx;
    uint64_t seq = p->seq_base + scan;
    if (!ended) {
        nd_device_emit_overflow(p->dev, seq, 0,
                                "labjack-u6: stream buffer full (errorcode 59), auto-recovery: "
                                "new scans are being discarded");
        return;
    }
    nd_device_emit_overflow(p->dev, seq, scans,
                            "labjack-u6: auto-recovery ended (errorcode 60), %llu scan(s) "
                            "discarded by the device",
                            (unsigned long long)scans);
    snprintf(p->gap_reason, sizeof p->gap_reason, "device buffer overflow, %llu scan(s) discarded",
             (unsigned long long)scans);
}

static void on_device_error(void *ctx, uint64_t scan, int code)
{
    lj_priv *p = ctx;
    nd_device_emit_event(p->dev, ND_EV_ERROR, p->seq_base + scan, (uint64_t)code,
                         "labjack-u6: StreamData errorcode %d; packet skipped", code);
    snprintf(p->gap_reason, sizeof p->gap_reason, "StreamData errorcode %d", code);
}

static void lj_sync_counters(lj_priv *p)
{
    nd_device_count_total(p->dev, ND_COUNT_FRAMES_OK, p->parser.packets_ok);
    nd_device_count_total(p->dev, ND_COUNT_FRAMES_BAD_CRC, p->parser.bad_checksum);
    nd_device_count_total(p->dev, ND_COUNT_FRAMES_BAD_LENGTH, p->parser.bad_length);
    nd_device_count_total(p->dev, ND_COUNT_FRAMES_UNKNOWN_TYPE, p->parser.bad_header);
}

/* The scan rate the clock gives against the datasheet's stream table:
 * above the typical maximum the U6 overflows continuously (auto-recovery
 * discards scans), so it is refused; within 10 % of it a busy host may still
 * make it overflow, so it is allowed with a warning. May lengthen the scan
 * interval by one clock tick (see below). */
static int lj_check_rate(lj_priv *p, double requested, long gain, char *err, size_t errlen)
{
    const lju6_stream_config *c = &p->scfg;
    int res = c->resolution_index ? c->resolution_index : 1; /* stream: 0 means 1 */
    double max = lju6_stream_max_scan_rate(res, c->gain_index, c->nch);
    if (max <= 0) {
        nd_warn("labjack-u6: resolution=%d: nordicd has no datasheet stream limit for this "
                "resolution index; %.3f scans/s of %d channel(s) at gain x%ld are not checked "
                "(the device reports overflows if it cannot keep up)",
                res, p->rate, c->nch, gain);
        return 0;
    }
    if (p->rate > max && requested <= max && p->scfg.scan_interval < 65535) {
        /* The nearest clock tick lands a hair above a limit asked for
         * exactly: one tick more stays within it. */
        p->scfg.scan_interval++;
        p->rate = lju6_actual_rate(c->scan_config, c->scan_interval);
    }
    if (p->rate > max) {
        snprintf(err, errlen,
                 "labjack-u6: rate=%.3f scans/s with %d channel(s) at gain x%ld, resolution %d "
                 "exceeds the U6's stream limit of %.6g scans/s (datasheet table 3.2.1, see "
                 "drivers/USB.md); lower rate, gain or channels",
                 p->rate, c->nch, gain, res, max);
        return -1;
    }
    if (p->rate > LJ_RATE_WARN_SHARE * max)
        nd_warn("labjack-u6: rate=%.3f scans/s with %d channel(s) at gain x%ld, resolution %d is "
                "within 10 %% of the U6's typical stream limit of %.6g scans/s (datasheet table "
                "3.2.1); a busy host may see auto-recovery overflows",
                p->rate, c->nch, gain, res, max);
    return 0;
}

/* ---- driver entry points ---- */

static int lj_open(nd_device *dev, const nd_uri *uri, char *err, size_t errlen)
{
    if (nd_uri_check_keys(uri, lj_keys, err, errlen) < 0) return -1;
    lj_priv *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->dev = dev;
    int diff;
    long gain, per_packet, resolution, settling, transfers, queue, rescan, ppt;
    double rate, sens, excit, capacity;
    if (nd_uri_get_bool(uri, "diff", 1, &diff, err, errlen) < 0 ||
        nd_uri_get_long(uri, "gain", 1000, 1, 1000, &gain, err, errlen) < 0 ||
        nd_uri_get_double(uri, "rate", LJ_DEFAULT_RATE, 0.25, 50000, &rate, err, errlen) < 0 ||
        nd_uri_get_long(uri, "per_packet", 0, 0, LJU6_MAX_SPP, &per_packet, err, errlen) < 0 ||
        nd_uri_get_long(uri, "resolution", 1, 0, 8, &resolution, err, errlen) < 0 ||
        nd_uri_get_long(uri, "settling", 0, 0, 255, &settling, err, errlen) < 0 ||
        nd_uri_get_long(uri, "transfers", 4, 1, 64, &transfers, err, errlen) < 0 ||
        nd_uri_get_long(uri, "queue", 0, 0, 4096, &queue, err, errlen) < 0 ||
        nd_uri_get_long(uri, "rescan_ms", 500, 10, 60000, &rescan, err, errlen) < 0 ||
        nd_uri_get_long(uri, "packets_per_transfer", 0, 0, 64, &ppt, err, errlen) < 0 ||
        nd_uri_get_double(uri, "sensitivity", 0, 0, 1000, &sens, err, errlen) < 0 ||
        nd_uri_get_double(uri, "excitation", 5, 0.1, 100, &excit, err, errlen) < 0 ||
        nd_uri_get_double(uri, "capacity", 0, 0, 1e7, &capacity, err, errlen) < 0)
        goto fail;
    int gi = gain_index(gain);
    if (gi < 0) {
        snprintf(err, errlen, "labjack-u6: gain=%ld: the U6 offers 1, 10, 100 or 1000", gain);
        goto fail;
    }
    const char *channels = nd_uri_get(uri, "channels");
    if (parse_channels(channels ? channels : "0,2", &p->scfg, diff != 0, err, errlen) < 0)
        goto fail;
    p->scfg.differential = diff != 0;
    p->scfg.gain_index = (uint8_t)gi;
    p->scfg.resolution_index = (uint8_t)resolution;
    p->scfg.settling_factor = (uint8_t)settling;
    if (rate * p->scfg.nch > 50000) {
        snprintf(err, errlen, "labjack-u6: rate=%g x %d channels exceeds the U6's 50000 samples/s",
                 rate, p->scfg.nch);
        goto fail;
    }
    p->rate = lju6_scan_timing(rate, &p->scfg.scan_config, &p->scfg.scan_interval);
    if (lj_check_rate(p, rate, gain, err, errlen) < 0) goto fail;
    if (per_packet == 0) {
        /* About 50 packets a second keeps latency near 20 ms. */
        double spp = ceil(rate * p->scfg.nch / 50.0);
        per_packet = spp < 1 ? 1 : spp > LJU6_MAX_SPP ? LJU6_MAX_SPP : (long)spp;
    }
    p->scfg.samples_per_packet = (uint8_t)per_packet;
    if (sens > 0 && capacity > 0)
        p->counts_per_newton = sens * 1e-3 * excit * LJ_COUNTS_PER_VOLT / capacity;

    size_t plen = lju6_stream_packet_len((int)per_packet);
    if (ppt == 0) {
        /* Short packets (spp < 25) end each transfer anyway; with full
         * 64-byte packets a transfer waits until filled, so keep it to about
         * 20 ms of data. */
        double per_s = rate * p->scfg.nch / (double)per_packet;
        ppt = per_packet < LJU6_MAX_SPP ? 1 : (long)fmax(1, floor(per_s / 50.0));
    }
    nd_usb_async_config cfg;
    nd_usb_async_config_default(&cfg);
    if (nd_usb_id_parse("", LJU6_VID, LJU6_PID, &cfg.id, err, errlen) < 0) goto fail;
    if (uri->path[0]) {
        if (strlen(uri->path) >= sizeof cfg.id.serial) {
            snprintf(err, errlen, "labjack-u6: serial '%s' is too long", uri->path);
            goto fail;
        }
        snprintf(cfg.id.serial, sizeof cfg.id.serial, "%s", uri->path);
    }
    cfg.ep_in = LJU6_EP_STREAM_IN;
    cfg.transfers = (int)transfers;
    cfg.transfer_size = plen * (size_t)ppt;
    if (cfg.transfer_size < 64) cfg.transfer_size = 64; /* a whole max-size USB packet must fit */
    cfg.queue_chunks = queue ? (int)queue : (int)transfers * 8;
    cfg.rescan_ms = (int)rescan;
    if (cfg.queue_chunks < cfg.transfers) {
        snprintf(err, errlen, "labjack-u6: queue=%ld must be at least transfers=%ld", queue,
                 transfers);
        goto fail;
    }
    p->bufcap = cfg.transfer_size;
    p->buf = malloc(p->bufcap);
    if (!p->buf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (nd_usb_async_open(&cfg, &p->usb, err, errlen) < 0) goto fail;
    if (lj_configure(p, err, errlen) != 0) {
        nd_usb_async_close(p->usb);
        goto fail;
    }
    const lju6_parser_out out = {.ctx = p,
                                 .scan = on_scan,
                                 .packets_lost = on_packets_lost,
                                 .overflow = on_overflow,
                                 .device_error = on_device_error};
    lju6_parser_init(&p->parser, p->scfg.nch, (int)per_packet, &out);
    dev->priv = p;
    atomic_store(&dev->connected, true);
    lj_publish_info(p);
    char fw[16];
    lju6_firmware_string(&p->devcfg, fw, sizeof fw);
    nd_info("labjack-u6 %u (%s, firmware %s): %d channel(s) at %.3f Hz, gain x%ld, %ld "
            "samples/packet, %s calibration",
            p->devcfg.serial, p->devcfg.pro ? "U6-Pro" : "U6", fw, p->scfg.nch, p->rate, gain,
            per_packet, p->cal.from_device[gi] ? "device" : "nominal");
    return 0;
fail:
    free(p->buf);
    free(p);
    return -1;
}

/* Submit the stream transfers first so the device has reads pending when
 * it starts sending, then StreamStart. */
static int lj_start(lj_priv *p)
{
    if (nd_usb_async_start(p->usb) < 0) return nd_usb_async_is_lost(p->usb) ? ND_TR_LOST : -1;
    uint8_t cmd[2], resp[64];
    ssize_t n = lj_exchange(p, cmd, lju6_build_stream_start(cmd), resp, sizeof resp);
    if (n < 0) return (int)n;
    int code = lju6_check_stream_cmd_resp(resp, (size_t)n, LJU6_STREAM_START);
    if (code != 0) {
        nd_device_emit_event(p->dev, ND_EV_ERROR, p->next_seq, 0,
                             "labjack-u6: StreamStart %s (errorcode %d)",
                             code < 0 ? "answer invalid" : "refused", code);
        return -1;
    }
    lju6_parser_restart(&p->parser);
    p->seq_base = p->next_seq;
    return 0;
}

/* One attempt of the shared reconnect policy: reopen, configure, start. */
static int lj_reconnect_attempt(void *ctx, char *err, size_t errlen)
{
    lj_priv *p = ctx;
    if (nd_usb_async_reopen(p->usb) != 0) return ND_TR_LOST;
    int rc = lj_configure(p, err, errlen);
    if (rc == 0) rc = lj_start(p);
    if (rc != 0 && rc != ND_TR_LOST && !err[0])
        snprintf(err, errlen, "labjack-u6: restarting the stream failed; retrying");
    return rc;
}

/* The device went away: record it, get it back, configure and restart.
 * Returns 0 when streaming again, 1 when stopped. */
static int lj_reconnect(lj_priv *p, const atomic_bool *stop)
{
    lj_flush(p);
    if (nd_device_reconnect(p->dev, stop, "labjack-u6", lj_reconnect_attempt, p) != 0) return 1;
    /* The device restarted its scan count: estimate the scans missed from
     * host time so seq stays a time axis (marked as a gap). */
    uint64_t now = nd_monotonic_ns();
    if (p->have_last) {
        double missed = floor((double)(now - p->last_host_ns) * 1e-9 * p->rate);
        if (missed > 0) {
            p->pending_gap = (uint64_t)missed;
            p->seq_base += (uint64_t)missed;
            snprintf(p->gap_reason, sizeof p->gap_reason,
                     "device unplugged (scans missed estimated from host time)");
        }
    }
    lj_publish_info(p);
    return 0;
}

static int lj_run(nd_device *dev, const atomic_bool *stop)
{
    lj_priv *p = dev->priv;
    int rc = lj_start(p);
    if (rc == ND_TR_LOST) {
        if (lj_reconnect(p, stop) != 0) return 0;
    } else if (rc != 0) {
        nd_err("labjack-u6: cannot start streaming");
        return -1;
    }
    while (!atomic_load(stop)) {
        bool chunk_end;
        ssize_t n = nd_usb_async_read(p->usb, p->buf, p->bufcap, 100, &p->chunk_ns, &chunk_end);
        if (n > 0) {
            nd_device_count(dev, ND_COUNT_BYTES, (uint64_t)n);
            lju6_parser_feed(&p->parser, p->buf, (size_t)n);
            lj_flush(p);
            lj_sync_counters(p);
            p->last_host_ns = p->chunk_ns;
            p->have_last = true;
        } else if (n == ND_TR_LOST) {
            if (lj_reconnect(p, stop) != 0) break;
        } else if (n < 0) {
            nd_err("labjack-u6: stream read failed");
            return -1;
        }
    }
    lj_flush(p);
    if (!nd_usb_async_is_lost(p->usb)) lj_stream_stop_cmd(p);
    nd_usb_async_stop(p->usb);
    return 0;
}

static void lj_close(nd_device *dev)
{
    lj_priv *p = dev->priv;
    if (!p) return;
    nd_usb_async_close(p->usb);
    free(p->buf);
    free(p);
    dev->priv = NULL;
}

const nd_driver nd_driver_labjack_u6 = {
    .scheme = "labjack-u6",
    .description = "LabJack U6 (USB 0cd5:0006) in stream mode: differential bridge inputs with "
                   "gain, the device's calibration applied as the maker does",
    .usage = "labjack-u6:[SERIAL]?channels=0,2&diff=1&gain=1000&rate=160&per_packet=0&"
             "resolution=1&settling=0&sensitivity=<mV/V>&excitation=5&capacity=<N>&"
             "transfers=4&packets_per_transfer=0&queue=0&rescan_ms=500",
    .open = lj_open,
    .run = lj_run,
    .close = lj_close,
    .command = NULL,
};
