/* Fake LabJack U6 from the public documentation; see nd_fake_u6.h. */
#include "nd_fake_u6.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* USB identity and endpoints (U6 datasheet 5.1, exodriver labjackusb.h). */
#define U6_VENDOR  0x0cd5
#define U6_PRODUCT 0x0006
#define EP_CMD     0x01
#define EP_ANSWER  0x82
#define EP_STREAM  0x83

#define BLOCKS      10
#define MAX_SAMPLES 25           /* per StreamData packet */
#define ERR_ANY     1            /* a nonzero errorcode; the tests do not depend on which */
#define FIXED_ONE   4294967296.0 /* 2^32: the fraction scale of a stored constant */

struct nd_fake_u6 {
    nd_fake_usb *usb;
    nd_fake_u6_identity id;
    char serial_text[16];
    double cal[BLOCKS][4];
    nd_fake_u6_cal_fault cal_fault[BLOCKS];
    pthread_mutex_t lock;
    nd_fake_u6_state st;
    uint8_t packet_counter;
    uint16_t pending[MAX_SAMPLES]; /* samples of the packet being filled */
    int npending;
    bool configured;
};

/* ---- byte helpers and checksums (datasheet 5.1) ---- */

static void put_le32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

/* Sum of the bytes, then the carries folded back in twice. */
static uint8_t sum8_folded(const uint8_t *b, size_t n)
{
    unsigned a = 0;
    for (size_t i = 0; i < n; i++) a += b[i];
    a = (a & 0xff) + (a >> 8);
    a = (a & 0xff) + (a >> 8);
    return (uint8_t)a;
}

static unsigned sum16(const uint8_t *b, size_t n)
{
    unsigned a = 0;
    for (size_t i = 0; i < n; i++) a += b[i];
    return a & 0xffff;
}

/* Extended packet: checksum16 of bytes 6.. in 4-5, then checksum8 of 1-5 in 0. */
static void seal_extended(uint8_t *b, size_t len)
{
    unsigned c = sum16(b + 6, len - 6);
    b[4] = (uint8_t)(c & 0xff);
    b[5] = (uint8_t)(c >> 8);
    b[0] = sum8_folded(b + 1, 5);
}

static bool extended_valid(const uint8_t *b, size_t len)
{
    if (len < 6 || b[1] != 0xF8 || len != 6 + 2 * (size_t)b[2]) return false;
    unsigned c = sum16(b + 6, len - 6);
    return b[4] == (c & 0xff) && b[5] == (c >> 8) && b[0] == sum8_folded(b + 1, 5);
}

/* ---- calibration memory ---- */

/* A constant as the device keeps it: 32 integer bits, 32 fraction bits. */
static double on_fixed_grid(double v)
{
    return floor(v * FIXED_ONE + 0.5) / FIXED_ONE;
}

static void store_fixed(double v, uint8_t *b)
{
    double whole = floor(v);
    put_le32(b, (uint32_t)((v - whole) * FIXED_ONE));
    put_le32(b + 4, (uint32_t)(int32_t)whole);
}

/* Realistic, non-nominal constants: the maker's nominal slope 3.1580578e-4
 * V/bit at x1 (tenfold smaller per gain step) and center 33523, each moved a
 * few tenths of a percent or some tens of bits, differently for the
 * positive and the negative side and for the U6-Pro's high-resolution
 * converter (blocks 6-9). */
static void fill_calibration(nd_fake_u6 *u)
{
    static const double pos_dev[2][4] = {{+0.0021, -0.0017, +0.0034, -0.0026},
                                         {-0.0041, +0.0038, -0.0029, +0.0047}};
    static const double neg_dev[2][4] = {{-0.0013, +0.0029, -0.0031, +0.0019},
                                         {+0.0036, -0.0044, +0.0052, -0.0033}};
    static const double center[2][4] = {{33498.371, 33541.62, 33467.233, 33580.517},
                                        {33210.43, 33190.87, 33261.09, 33149.66}};
    for (int conv = 0; conv < 2; conv++) {
        int base = conv ? 6 : 0;
        double scale = 1.0;
        for (int g = 0; g < 4; g++, scale /= 10.0) {
            double pos = 3.1580578e-4 * scale * (1 + pos_dev[conv][g]);
            double neg = -3.158058e-4 * scale * (1 + neg_dev[conv][g]);
            int blk = base + g / 2, at = 2 * (g % 2);
            u->cal[blk][at] = pos;
            u->cal[blk][at + 1] = -pos * center[conv][g]; /* the offset of the positive line */
            u->cal[blk + 2][at] = neg;
            u->cal[blk + 2][at + 1] = center[conv][g];
        }
    }
    /* Block 4: DAC0/DAC1 slope and offset; block 5: current sources (10 uA,
     * 200 uA), temperature slope and offset. Not used by stream mode. */
    const double misc[2][4] = {{13214.6, 11.3, 13187.9, -7.9},
                               {10.043e-6, 199.61e-6, -92.411, 465.207}};
    memcpy(u->cal[4], misc[0], sizeof misc[0]);
    memcpy(u->cal[5], misc[1], sizeof misc[1]);
    for (int b = 0; b < BLOCKS; b++)
        for (int i = 0; i < 4; i++) u->cal[b][i] = on_fixed_grid(u->cal[b][i]);
}

double nd_fake_u6_cal_constant(const nd_fake_u6 *u, int block, int index)
{
    return u->cal[block][index];
}

/* ---- command handling (EP1 OUT -> EP2 IN), on umockdev's thread ---- */

static void answer(nd_fake_usb *f, const uint8_t *r, size_t len)
{
    nd_fake_usb_push_packet_locked(f, EP_ANSWER, r, len);
}

/* StreamStart 0xA8 / StreamStop 0xB0: two bytes, the checksum8 of the
 * single command byte is that byte. Answer: checksum8, command + 1,
 * errorcode, 0. */
static void stream_command(nd_fake_u6 *u, nd_fake_usb *f, uint8_t cmd)
{
    uint8_t r[4] = {0, (uint8_t)(cmd + 1), 0, 0};
    if (cmd == 0xA8) {
        if (!u->configured)
            r[2] = ERR_ANY; /* no StreamConfig since power-up */
        else {
            u->st.streaming = true;
            u->st.starts++;
            u->packet_counter = 0;
            u->npending = 0;
        }
    } else {
        u->st.streaming = false;
        u->st.stops++;
    }
    r[0] = sum8_folded(r + 1, 3);
    answer(f, r, sizeof r);
}

/* ConfigU6 (5.2.2), WriteMask 0 = read only. 38-byte answer. */
static void config_u6(nd_fake_u6 *u, nd_fake_usb *f)
{
    uint8_t r[38] = {0, 0xF8, 0x10, 0x08};
    r[9] = u->id.fw_minor;
    r[10] = u->id.fw_major;
    r[11] = 15, r[12] = 6; /* bootloader 6.15 */
    r[13] = 0, r[14] = 2;  /* hardware 2.00 */
    put_le32(r + 15, u->id.serial);
    r[19] = 6; /* ProductID */
    r[21] = 1; /* LocalID */
    r[37] = u->id.pro ? 12 : 4;
    seal_extended(r, sizeof r);
    answer(f, r, sizeof r);
}

/* ReadCal (5.2.6, extended command 0x2D): byte 7 is the block number; the
 * answer carries the 32 bytes from byte 8. */
static void read_cal(nd_fake_u6 *u, nd_fake_usb *f, const uint8_t *d)
{
    int block = d[7];
    u->st.readcals++;
    nd_fake_u6_cal_fault fault = block < BLOCKS ? u->cal_fault[block] : ND_FAKE_U6_CAL_ERRORCODE;
    if (fault == ND_FAKE_U6_CAL_SILENT) return;
    uint8_t r[40] = {0, 0xF8, 0x11, 0x2D};
    if (fault == ND_FAKE_U6_CAL_ERRORCODE) {
        r[6] = ERR_ANY;
    } else if (fault == ND_FAKE_U6_CAL_ERASED) {
        memset(r + 8, 0xFF, 32);
    } else {
        for (int i = 0; i < 4; i++) store_fixed(u->cal[block][i], r + 8 + 8 * i);
    }
    seal_extended(r, sizeof r);
    if (fault == ND_FAKE_U6_CAL_BAD_CHECKSUM) r[4] ^= 0x5A;
    answer(f, r, sizeof r);
}

/* StreamConfig (5.2.12, extended command 0x11). */
static void stream_config(nd_fake_u6 *u, nd_fake_usb *f, const uint8_t *d, size_t len)
{
    uint8_t r[8] = {0, 0xF8, 0x01, 0x11};
    int nch = d[6];
    if (u->st.streaming || nch < 1 || nch > 25 || len != 14 + 2 * (size_t)nch || d[7] > 8 ||
        d[8] < 1 || d[8] > MAX_SAMPLES) {
        r[6] = ERR_ANY;
    } else {
        u->st.configs++;
        u->configured = true;
        u->st.nch = nch;
        u->st.resolution_index = d[7];
        u->st.samples_per_packet = d[8];
        u->st.settling_factor = d[10];
        u->st.scan_config = d[11];
        u->st.scan_interval = (uint16_t)(d[12] | d[13] << 8);
        for (int i = 0; i < nch; i++) {
            u->st.channel[i] = d[14 + 2 * i];
            u->st.options[i] = d[15 + 2 * i];
        }
    }
    seal_extended(r, sizeof r);
    answer(f, r, sizeof r);
}

static void on_command(void *ctx, nd_fake_usb *f, uint8_t ep, const uint8_t *d, size_t len)
{
    nd_fake_u6 *u = ctx;
    if (ep != EP_CMD) return;
    pthread_mutex_lock(&u->lock);
    if (len == 2 && (d[1] == 0xA8 || d[1] == 0xB0) && d[0] == d[1]) {
        stream_command(u, f, d[1]);
    } else if (extended_valid(d, len)) {
        if (d[3] == 0x08 && len == 26)
            config_u6(u, f);
        else if (d[3] == 0x2D && len == 8)
            read_cal(u, f, d);
        else if (d[3] == 0x11)
            stream_config(u, f, d, len);
    }
    /* Anything else is not a command this fake knows: no answer. */
    pthread_mutex_unlock(&u->lock);
}

/* ---- StreamData (5.2.14) on EP3 IN ---- */

/* 14 + 2 x SamplesPerPacket bytes: checksum8, 0xF9, 4 + SamplesPerPacket,
 * 0xC0, checksum16, TimeStamp (4), PacketNumber, Errorcode, samples,
 * Backlog, 0. Call with the lock held; returns the length. */
static size_t build_packet(nd_fake_u6 *u, uint8_t *b, const uint16_t *s, uint8_t errorcode,
                           uint32_t timestamp)
{
    int spp = u->st.samples_per_packet;
    size_t len = 14 + 2 * (size_t)spp;
    memset(b, 0, len);
    b[1] = 0xF9;
    b[2] = (uint8_t)(4 + spp);
    b[3] = 0xC0;
    put_le32(b + 6, timestamp);
    b[10] = u->packet_counter++;
    b[11] = errorcode;
    for (int i = 0; i < spp; i++) {
        b[12 + 2 * i] = (uint8_t)(s[i] & 0xff);
        b[13 + 2 * i] = (uint8_t)(s[i] >> 8);
    }
    b[12 + 2 * spp] = 0; /* Backlog: the host keeps up */
    seal_extended(b, len);
    return len;
}

void nd_fake_u6_stream(nd_fake_u6 *u, const uint16_t *samples, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t pkt[64];
        size_t len = 0;
        pthread_mutex_lock(&u->lock);
        if (u->st.streaming) {
            u->pending[u->npending++] = samples[i];
            if (u->npending == u->st.samples_per_packet) {
                len = build_packet(u, pkt, u->pending, 0, 0);
                u->npending = 0;
            }
        }
        pthread_mutex_unlock(&u->lock);
        if (len) nd_fake_usb_push_packet(u->usb, EP_STREAM, pkt, len);
    }
}

void nd_fake_u6_stream_packet(nd_fake_u6 *u, const uint16_t *samples, uint8_t errorcode,
                              uint32_t timestamp, unsigned flags)
{
    uint8_t pkt[64];
    pthread_mutex_lock(&u->lock);
    size_t len = build_packet(u, pkt, samples, errorcode, timestamp);
    pthread_mutex_unlock(&u->lock);
    if (flags & ND_FAKE_U6_PKT_BAD_CHECKSUM) pkt[14] ^= 0x40;
    if (flags & ND_FAKE_U6_PKT_TRUNCATE) len = 11;
    nd_fake_usb_push_packet(u->usb, EP_STREAM, pkt, len);
}

void nd_fake_u6_skip_packets(nd_fake_u6 *u, unsigned n)
{
    pthread_mutex_lock(&u->lock);
    u->packet_counter = (uint8_t)(u->packet_counter + n);
    pthread_mutex_unlock(&u->lock);
}

/* ---- life cycle and state ---- */

nd_fake_u6 *nd_fake_u6_new(const nd_fake_u6_identity *id)
{
    nd_fake_u6 *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->id = *id;
    snprintf(u->serial_text, sizeof u->serial_text, "%u", id->serial);
    pthread_mutex_init(&u->lock, NULL);
    fill_calibration(u);
    const nd_fake_usb_desc desc = {.vid = U6_VENDOR,
                                   .pid = U6_PRODUCT,
                                   .manufacturer = "LabJack",
                                   .product = "LabJack U6",
                                   .serial = u->serial_text,
                                   .max_packet = 64,
                                   .ep_in = {EP_ANSWER, EP_STREAM},
                                   .ep_out = EP_CMD};
    u->usb = nd_fake_usb_new(&desc, on_command, u);
    if (!u->usb) {
        pthread_mutex_destroy(&u->lock);
        free(u);
        return NULL;
    }
    return u;
}

void nd_fake_u6_free(nd_fake_u6 *u)
{
    if (!u) return;
    nd_fake_usb_free(u->usb);
    pthread_mutex_destroy(&u->lock);
    free(u);
}

nd_fake_usb *nd_fake_u6_usb(nd_fake_u6 *u)
{
    return u->usb;
}

void nd_fake_u6_set_cal_fault(nd_fake_u6 *u, int block, nd_fake_u6_cal_fault fault)
{
    pthread_mutex_lock(&u->lock);
    if (block >= 0 && block < BLOCKS) u->cal_fault[block] = fault;
    pthread_mutex_unlock(&u->lock);
}

void nd_fake_u6_state_get(nd_fake_u6 *u, nd_fake_u6_state *out)
{
    pthread_mutex_lock(&u->lock);
    *out = u->st;
    pthread_mutex_unlock(&u->lock);
}

void nd_fake_u6_power_cycle(nd_fake_u6 *u)
{
    pthread_mutex_lock(&u->lock);
    u->st.streaming = false;
    u->configured = false;
    u->npending = 0;
    u->packet_counter = 0;
    pthread_mutex_unlock(&u->lock);
}
