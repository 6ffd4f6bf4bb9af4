/* LabJack U6 low-level protocol; see nd_labjack_u6_proto.h. */
#include "nd_labjack_u6_proto.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The maker's nominal constants for gain index 0 (x1); each higher gain
 * divides the slopes by 10 (LabJackPython u6.py CalibrationInfo, exodriver
 * u6.c U6_CALIBRATION_INFO_DEFAULT). */
#define LJU6_NOMINAL_POS_SLOPE 3.1580578e-4
#define LJU6_NOMINAL_NEG_SLOPE (-3.15805800e-4)
#define LJU6_NOMINAL_CENTER    33523.0

uint8_t lju6_checksum8(const uint8_t *b, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) sum += b[i];
    /* Fold the carries back in twice: a 1's-complement sum. */
    sum = (sum >> 8) + (sum & 0xff);
    sum = (sum >> 8) + (sum & 0xff);
    return (uint8_t)sum;
}

uint16_t lju6_checksum16(const uint8_t *b, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) sum += b[i];
    return (uint16_t)sum;
}

void lju6_seal_extended(uint8_t *pkt, size_t len)
{
    uint16_t c16 = lju6_checksum16(pkt + 6, len - 6);
    pkt[4] = (uint8_t)(c16 & 0xff);
    pkt[5] = (uint8_t)(c16 >> 8);
    pkt[0] = lju6_checksum8(pkt + 1, 5);
}

int lju6_check_extended(const uint8_t *pkt, size_t len, uint8_t ext_cmd)
{
    if (len < 6 || pkt[1] != LJU6_CMD_EXTENDED || pkt[3] != ext_cmd) return -1;
    if ((size_t)pkt[2] * 2 + 6 != len) return -1;
    uint16_t c16 = lju6_checksum16(pkt + 6, len - 6);
    if (pkt[4] != (c16 & 0xff) || pkt[5] != (c16 >> 8)) return -1;
    return pkt[0] == lju6_checksum8(pkt + 1, 5) ? 0 : -1;
}

static size_t build_extended(uint8_t *out, size_t len, uint8_t ext_cmd)
{
    out[1] = LJU6_CMD_EXTENDED;
    out[2] = (uint8_t)((len - 6) / 2);
    out[3] = ext_cmd;
    lju6_seal_extended(out, len);
    return len;
}

size_t lju6_build_configu6(uint8_t *out)
{
    memset(out, 0, LJU6_CONFIGU6_LEN); /* WriteMask 0: read only */
    return build_extended(out, LJU6_CONFIGU6_LEN, LJU6_EXT_CONFIGU6);
}

size_t lju6_build_readcal(uint8_t *out, uint8_t block)
{
    memset(out, 0, LJU6_READCAL_LEN);
    out[7] = block;
    return build_extended(out, LJU6_READCAL_LEN, LJU6_EXT_READCAL);
}

/* Normal commands with no data: checksum8 over byte 1 equals byte 1. */
size_t lju6_build_stream_start(uint8_t *out)
{
    out[0] = out[1] = LJU6_STREAM_START;
    return 2;
}

size_t lju6_build_stream_stop(uint8_t *out)
{
    out[0] = out[1] = LJU6_STREAM_STOP;
    return 2;
}

double lju6_actual_rate(uint8_t scan_config, uint16_t scan_interval)
{
    double clock = (scan_config & 0x08) ? 48e6 : 4e6;
    if (scan_config & 0x02) clock /= 256.0;
    return scan_interval ? clock / scan_interval : 0.0;
}

double lju6_scan_timing(double rate_hz, uint8_t *scan_config, uint16_t *scan_interval)
{
    if (!(rate_hz > 0)) return 0.0;
    /* 4 MHz gives the finest steps at our rates; below ~61 Hz the interval
     * would exceed 16 bits, so the clock is divided by 256. */
    const uint8_t configs[2] = {0x00, 0x02};
    for (int i = 0; i < 2; i++) {
        double clock = lju6_actual_rate(configs[i], 1);
        double ticks = round(clock / rate_hz);
        if (ticks >= 1 && ticks <= 65535) {
            *scan_config = configs[i];
            *scan_interval = (uint16_t)ticks;
            return clock / ticks;
        }
    }
    return 0.0;
}

size_t lju6_build_stream_config(uint8_t *out, size_t cap, const lju6_stream_config *c)
{
    size_t len = 14 + 2 * (size_t)c->nch;
    if (c->nch < 1 || c->nch > LJU6_MAX_CHANNELS || cap < len) return 0;
    memset(out, 0, len);
    out[6] = (uint8_t)c->nch;
    out[7] = c->resolution_index;
    out[8] = c->samples_per_packet;
    out[10] = c->settling_factor;
    out[11] = c->scan_config;
    out[12] = (uint8_t)(c->scan_interval & 0xff);
    out[13] = (uint8_t)(c->scan_interval >> 8);
    for (int i = 0; i < c->nch; i++) {
        out[14 + 2 * i] = c->channel[i];
        out[15 + 2 * i] = (uint8_t)((c->differential ? 0x80 : 0) | (c->gain_index & 3) << 4);
    }
    return build_extended(out, len, LJU6_EXT_STREAMCONFIG);
}

int lju6_check_stream_config_resp(const uint8_t *r, size_t len)
{
    if (len != LJU6_STREAMCONFIG_RESP_LEN ||
        lju6_check_extended(r, len, LJU6_EXT_STREAMCONFIG) != 0)
        return -1;
    return r[6];
}

int lju6_check_stream_cmd_resp(const uint8_t *r, size_t len, uint8_t cmd)
{
    if (len != LJU6_STREAM_CMD_RESP_LEN || r[1] != (uint8_t)(cmd + 1) ||
        r[0] != lju6_checksum8(r + 1, 3))
        return -1;
    return r[2];
}

int lju6_parse_configu6_resp(const uint8_t *r, size_t len, lju6_device_config *out)
{
    if (len != LJU6_CONFIGU6_RESP_LEN || lju6_check_extended(r, len, LJU6_EXT_CONFIGU6) != 0)
        return -1;
    if (r[6] != 0) return r[6];
    out->fw_minor = r[9];
    out->fw_major = r[10];
    out->hw_minor = r[13];
    out->hw_major = r[14];
    out->serial =
        (uint32_t)r[15] | (uint32_t)r[16] << 8 | (uint32_t)r[17] << 16 | (uint32_t)r[18] << 24;
    out->product_id = (uint16_t)(r[19] | r[20] << 8);
    out->version_info = r[37];
    out->pro = (r[37] & 0x08) != 0;
    return 0;
}

void lju6_firmware_string(const lju6_device_config *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "%u.%02u", c->fw_major, c->fw_minor);
}

double lju6_fixed_to_double(const uint8_t *b)
{
    uint32_t frac =
        (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    uint32_t whole_u =
        (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
    int32_t whole = (int32_t)whole_u;
    return (double)whole + (double)frac / 4294967296.0;
}

void lju6_calibration_nominal(lju6_calibration *cal)
{
    double scale = 1.0;
    for (int g = 0; g < 4; g++, scale /= 10.0) {
        cal->pos_slope[g] = LJU6_NOMINAL_POS_SLOPE * scale;
        cal->neg_slope[g] = LJU6_NOMINAL_NEG_SLOPE * scale;
        cal->center[g] = LJU6_NOMINAL_CENTER;
        cal->from_device[g] = false;
    }
}

static bool slope_plausible(double v, double nominal)
{
    return isfinite(v) && fabs(v / nominal - 1.0) <= 0.05; /* also rejects a sign flip */
}

unsigned lju6_calibration_from_blocks(lju6_calibration *cal,
                                      const uint8_t blocks[LJU6_CAL_BLOCKS][32])
{
    lju6_calibration nominal;
    lju6_calibration_nominal(&nominal);
    *cal = nominal;
    unsigned rejected = 0;
    for (int g = 0; g < 4; g++) {
        /* Two gains per block, 16 bytes each: x1/x10 in blocks 0 and 2,
         * x100/x1000 in blocks 1 and 3. */
        const uint8_t *pos = blocks[g / 2] + 16 * (g % 2);
        const uint8_t *neg = blocks[2 + g / 2] + 16 * (g % 2);
        double pos_slope = lju6_fixed_to_double(pos);
        double neg_slope = lju6_fixed_to_double(neg);
        double center = lju6_fixed_to_double(neg + 8);
        if (slope_plausible(pos_slope, nominal.pos_slope[g]) &&
            slope_plausible(neg_slope, nominal.neg_slope[g]) &&
            fabs(center - nominal.center[g]) <= 0.05 * 65536.0) {
            cal->pos_slope[g] = pos_slope;
            cal->neg_slope[g] = neg_slope;
            cal->center[g] = center;
            cal->from_device[g] = true;
        } else {
            rejected |= 1u << g;
        }
    }
    return rejected;
}

int lju6_parse_readcal_resp(const uint8_t *r, size_t len, uint8_t data[32])
{
    if (len != LJU6_READCAL_RESP_LEN || lju6_check_extended(r, len, LJU6_EXT_READCAL) != 0)
        return -1;
    if (r[6] != 0) return r[6];
    memcpy(data, r + 8, 32);
    return 0;
}

/* Datasheet table 3.2.1, ResolutionIndex 1, scans/s for 1, 2, 4 and 8
 * channels by gain index. */
static const double stream_table_res1[4][4] = {
    {50000, 25000, 12500, 6300}, /* x1    (+-10 V) */
    {50000, 2200, 1100, 540},    /* x10   (+-1 V) */
    {50000, 444, 222, 110},      /* x100  (+-0.1 V) */
    {50000, 178, 88, 44},        /* x1000 (+-0.01 V) */
};

double lju6_stream_max_scan_rate(int resolution_index, int gain_index, int nch)
{
    if (resolution_index > 1 || resolution_index < 0 || gain_index < 0 || gain_index > 3 || nch < 1)
        return 0.0;
    static const int counts[4] = {1, 2, 4, 8};
    int col = 0;
    while (col < 3 && counts[col] < nch) col++;
    /* That column's samples/s shared by nch channels (exact for 1, 2, 4, 8). */
    return stream_table_res1[gain_index][col] * counts[col] / nch;
}

/* ---- StreamData parser ---- */

void lju6_parser_init(lju6_parser *p, int nch, int spp, const lju6_parser_out *out)
{
    memset(p, 0, sizeof *p);
    p->nch = nch;
    p->spp = spp;
    p->out = *out;
}

void lju6_parser_restart(lju6_parser *p)
{
    p->have_counter = false;
    p->in_recovery = false;
    p->sample_index = 0;
    p->npartial = 0;
    p->skip = 0;
    p->pending_gap = 0;
}

/* Samples [from, to) of the stream are missing: drop the scan in progress,
 * skip to the next scan boundary and remember how many scans were hit. */
static void lose_samples(lju6_parser *p, uint64_t missing)
{
    uint64_t nch = (uint64_t)p->nch;
    uint64_t first_scan = (p->sample_index - (uint64_t)p->npartial) / nch;
    if (p->skip > 0) /* already inside a damaged scan: it was counted */
        first_scan = p->sample_index / nch + 1;
    p->sample_index += missing;
    uint64_t next_full = (p->sample_index + nch - 1) / nch;
    p->skip = (int)(next_full * nch - p->sample_index);
    p->npartial = 0;
    if (next_full > first_scan) p->pending_gap += next_full - first_scan;
}

static void take_sample(lju6_parser *p, uint16_t bits)
{
    p->sample_index++;
    if (p->skip > 0) {
        p->skip--;
        return;
    }
    p->partial[p->npartial++] = bits;
    if (p->npartial == p->nch) {
        uint64_t seq = p->sample_index / (uint64_t)p->nch - 1;
        uint64_t gap = p->pending_gap;
        p->pending_gap = 0;
        p->npartial = 0;
        if (p->out.scan) p->out.scan(p->out.ctx, seq, p->partial, p->nch, gap);
    }
}

static bool packet_ok(lju6_parser *p, const uint8_t *b, size_t len)
{
    if (b[1] != LJU6_STREAMDATA_CMD || b[3] != LJU6_STREAMDATA_EXT || b[2] != 4 + p->spp) {
        p->bad_header++;
        return false;
    }
    uint16_t c16 = lju6_checksum16(b + 6, len - 6);
    if (b[4] != (c16 & 0xff) || b[5] != (c16 >> 8) || b[0] != lju6_checksum8(b + 1, 5)) {
        p->bad_checksum++;
        return false;
    }
    return true;
}

static void process_packet(lju6_parser *p, const uint8_t *b)
{
    uint64_t spp = (uint64_t)p->spp;
    uint8_t counter = b[10];
    if (p->have_counter && counter != p->next_counter) {
        unsigned lost = (uint8_t)(counter - p->next_counter);
        p->lost_packets += lost;
        uint64_t seq = p->sample_index / (uint64_t)p->nch;
        lose_samples(p, lost * spp);
        if (p->out.packets_lost) p->out.packets_lost(p->out.ctx, seq, lost);
    }
    p->have_counter = true;
    p->next_counter = (uint8_t)(counter + 1);
    p->packets_ok++;
    p->last_backlog = b[12 + 2 * p->spp];
    if (p->last_backlog > p->max_backlog) p->max_backlog = p->last_backlog;

    int err = b[11];
    if (err == LJU6_ERR_AUTORECOVERY_ACTIVE) {
        /* Buffer overflowed: these samples are valid old data, new scans are
         * being discarded until code 60. */
        if (!p->in_recovery && p->out.overflow)
            p->out.overflow(p->out.ctx, p->sample_index / (uint64_t)p->nch, 0, false);
        p->in_recovery = true;
    } else if (err != 0 && err != LJU6_ERR_AUTORECOVERY_END) {
        p->device_errors++;
        uint64_t seq = p->sample_index / (uint64_t)p->nch;
        lose_samples(p, spp);
        if (p->out.device_error) p->out.device_error(p->out.ctx, seq, err);
        return;
    }
    bool dummy_pending = err == LJU6_ERR_AUTORECOVERY_END;
    for (int i = 0; i < p->spp; i++) {
        const uint8_t *s = b + 12 + 2 * i;
        uint16_t bits = (uint16_t)(s[0] | s[1] << 8);
        /* Code 60: one dummy scan of 0xFFFF separates old from new data;
         * the timestamp holds the scans discarded, the dummy included. */
        if (dummy_pending && p->npartial == 0 && p->skip == 0 && i + p->nch <= p->spp) {
            bool all_ff = true;
            for (int c = 0; c < p->nch && all_ff; c++)
                all_ff = b[12 + 2 * (i + c)] == 0xff && b[13 + 2 * (i + c)] == 0xff;
            if (all_ff) {
                uint32_t discarded = (uint32_t)b[6] | (uint32_t)b[7] << 8 | (uint32_t)b[8] << 16 |
                                     (uint32_t)b[9] << 24;
                if (discarded == 0) discarded = 1; /* the dummy itself */
                uint64_t seq = p->sample_index / (uint64_t)p->nch;
                p->dummy_scans++;
                p->overflow_scans += discarded;
                /* The dummy's samples in this packet plus the discarded
                 * scans' samples that never existed. */
                p->sample_index += (uint64_t)discarded * (uint64_t)p->nch;
                p->pending_gap += discarded;
                p->in_recovery = false;
                dummy_pending = false;
                if (p->out.overflow) p->out.overflow(p->out.ctx, seq, discarded, true);
                i += p->nch - 1;
                continue;
            }
        }
        take_sample(p, bits);
    }
    if (dummy_pending) p->in_recovery = false; /* code 60 without a dummy we could place */
}

void lju6_parser_feed(lju6_parser *p, const uint8_t *buf, size_t len)
{
    size_t plen = lju6_stream_packet_len(p->spp);
    size_t off = 0;
    while (off < len) {
        if (len - off < plen) {
            p->bad_length++; /* a short packet ended the transfer */
            return;
        }
        if (packet_ok(p, buf + off, plen)) process_packet(p, buf + off);
        /* A corrupt packet is skipped whole; the packet counter of the next
         * good one accounts for its samples. */
        off += plen;
    }
}
