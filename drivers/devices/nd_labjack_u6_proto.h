/* LabJack U6 low-level protocol, written from the maker's public datasheet
 * (section 5: general protocol, ConfigU6, ReadMem/ReadCal, StreamConfig,
 * StreamStart, StreamStop, StreamData; section 5.4 calibration constants).
 * Pure functions on byte buffers: command builders, response checkers, the
 * calibration decoder and the StreamData parser. No I/O here; the driver is
 * nd_labjack_u6.c. The fake U6 the tests use (drivers/testbed/nd_fake_u6.c)
 * is written separately from the datasheet and shares nothing with this. */
#ifndef ND_LABJACK_U6_PROTO_H
#define ND_LABJACK_U6_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_sample.h"

#define LJU6_VID          0x0cd5
#define LJU6_PID          0x0006
#define LJU6_EP_CMD_OUT   0x01
#define LJU6_EP_RESP_IN   0x82
#define LJU6_EP_STREAM_IN 0x83

#define LJU6_CMD_EXTENDED     0xF8
#define LJU6_EXT_CONFIGU6     0x08
#define LJU6_EXT_READCAL      0x2D
#define LJU6_EXT_STREAMCONFIG 0x11
#define LJU6_STREAM_START     0xA8
#define LJU6_STREAM_STOP      0xB0
#define LJU6_STREAMDATA_CMD   0xF9
#define LJU6_STREAMDATA_EXT   0xC0

#define LJU6_ERR_AUTORECOVERY_ACTIVE 59
#define LJU6_ERR_AUTORECOVERY_END    60

#define LJU6_MAX_SPP               25 /* samples per StreamData packet */
#define LJU6_MAX_CHANNELS          25
#define LJU6_CONFIGU6_LEN          26
#define LJU6_CONFIGU6_RESP_LEN     38
#define LJU6_READCAL_LEN           8
#define LJU6_READCAL_RESP_LEN      40
#define LJU6_STREAMCONFIG_RESP_LEN 8
#define LJU6_STREAM_CMD_LEN        2
#define LJU6_STREAM_CMD_RESP_LEN   4

/* Bytes of one StreamData packet with spp samples. */
static inline size_t lju6_stream_packet_len(int spp)
{
    return 14 + 2 * (size_t)spp;
}

/* Checksums (datasheet 5.1): 1's-complement style byte sums. */
uint8_t lju6_checksum8(const uint8_t *b, size_t n);
uint16_t lju6_checksum16(const uint8_t *b, size_t n);
/* Fill bytes 0 and 4-5 of an extended packet of length len (>= 6). */
void lju6_seal_extended(uint8_t *pkt, size_t len);
/* 0 if the extended packet's checksums and command bytes are right. */
int lju6_check_extended(const uint8_t *pkt, size_t len, uint8_t ext_cmd);

/* Command builders; return the length written. */
size_t lju6_build_configu6(uint8_t *out);
size_t lju6_build_readcal(uint8_t *out, uint8_t block);
size_t lju6_build_stream_start(uint8_t *out);
size_t lju6_build_stream_stop(uint8_t *out);

typedef struct lju6_stream_config {
    int nch;
    uint8_t channel[LJU6_MAX_CHANNELS]; /* positive channel number */
    bool differential;                  /* negative = channel + 1 */
    uint8_t gain_index;                 /* 0:x1 1:x10 2:x100 3:x1000 */
    uint8_t resolution_index;           /* 0..8 */
    uint8_t settling_factor;            /* x10 us, 0 = auto */
    uint8_t samples_per_packet;         /* 1..25 */
    uint8_t scan_config;                /* clock bits */
    uint16_t scan_interval;             /* clock ticks between scans */
} lju6_stream_config;

/* Choose clock and interval for a scan rate; returns the actual rate, or 0
 * if the rate cannot be reached (0.24 Hz .. 4 MHz/1). */
double lju6_scan_timing(double rate_hz, uint8_t *scan_config, uint16_t *scan_interval);
double lju6_actual_rate(uint8_t scan_config, uint16_t scan_interval);
size_t lju6_build_stream_config(uint8_t *out, size_t cap, const lju6_stream_config *c);

/* Response checks: return the device error code (0 = fine) or -1 when the
 * response is malformed (length, command bytes, checksums). */
int lju6_check_stream_config_resp(const uint8_t *r, size_t len);
int lju6_check_stream_cmd_resp(const uint8_t *r, size_t len, uint8_t cmd);

/* ConfigU6 response (datasheet 5.2.2): firmware in bytes 9 (minor) and 10
 * (major), printed major.minor as the maker's own tools do; byte 37
 * VersionInfo has bit 3 set on a U6-Pro (12 there, 4 on a U6). */
typedef struct lju6_device_config {
    uint32_t serial;
    uint8_t fw_major, fw_minor;
    uint8_t hw_major, hw_minor;
    uint16_t product_id;
    uint8_t version_info;
    bool pro;
} lju6_device_config;
int lju6_parse_configu6_resp(const uint8_t *r, size_t len, lju6_device_config *out);
/* "1.43": byte 10, a dot, byte 9 with two digits. */
void lju6_firmware_string(const lju6_device_config *c, char *out, size_t outlen);

/* Calibration, the maker's model (LabJackPython u6.py getCalibrationData /
 * binaryToCalibratedAnalogVoltage, exodriver u6.c getAinVoltCalibrated).
 * Each 32-byte block holds four 8-byte fixed-point numbers (little-endian:
 * 4 bytes unsigned fraction / 2^32, then 4 bytes signed integer part).
 *   block 0: x1 positive slope, offset, x10 positive slope, offset
 *   block 1: x100 and x1000 positive slope, offset
 *   block 2: x1 negative slope, center, x10 negative slope, center
 *   block 3: x100 and x1000 negative slope, center
 * A 16-bit stream value b converts as
 *   b <  center: volts = (center - b) * negative slope   (the slope is < 0)
 *   b >= center: volts = (b - center) * positive slope
 * The block 0-1 offsets take no part. Stream mode always uses these
 * constants: its ResolutionIndex 0 means 1 and the U6-Pro's high-resolution
 * converter (resolution 9-12, constants in blocks 6-9) cannot stream. */
#define LJU6_CAL_BLOCKS 4
typedef struct lju6_calibration {
    double pos_slope[4], neg_slope[4], center[4]; /* by gain index */
    bool from_device[4];                          /* false: the maker's nominal value */
} lju6_calibration;
double lju6_fixed_to_double(const uint8_t *b);
/* The maker's nominal constants (used when the device's cannot be read). */
void lju6_calibration_nominal(lju6_calibration *cal);
/* Takes the constants of each gain from blocks 0-3; a gain whose constants
 * are implausible (slope more than 5 % off nominal or of the wrong sign,
 * center more than 5 % of full scale from nominal) keeps the nominal ones.
 * Returns a bit mask of those gains (0 = all from the device). */
unsigned lju6_calibration_from_blocks(lju6_calibration *cal,
                                      const uint8_t blocks[LJU6_CAL_BLOCKS][32]);
int lju6_parse_readcal_resp(const uint8_t *r, size_t len, uint8_t data[32]);
static inline double lju6_volts(const lju6_calibration *cal, int gain, uint16_t bits)
{
    double b = bits, center = cal->center[gain];
    return b < center ? (center - b) * cal->neg_slope[gain] : (b - center) * cal->pos_slope[gain];
}

/* Maximum scan rate in stream mode from the U6 datasheet, section 3.2, table
 * 3.2.1 (typical results; the rows for ResolutionIndex 1, which stream
 * index 0 also means). nch between tabulated counts takes the next larger
 * count's per-sample rate; beyond 8 the 8-channel per-sample rate. Returns 0
 * when the table has no row for the resolution index (2-8). */
double lju6_stream_max_scan_rate(int resolution_index, int gain_index, int nch);

/* StreamData parser: checksums, packet counter, auto-recovery (errorcodes
 * 59/60 with the discarded-scan count) and the reassembly of scans that
 * straddle packets. Sequence numbers are scan indexes since StreamStart. */
typedef struct lju6_parser_out {
    void *ctx;
    /* One complete scan. gap = scans lost right before it (0 normally). */
    void (*scan)(void *ctx, uint64_t seq, const uint16_t *bits, int nch, uint64_t gap);
    /* Packets missing by the packet counter (lost or dropped as corrupt). */
    void (*packets_lost)(void *ctx, uint64_t seq, unsigned packets);
    /* Auto-recovery: started (scans = 0) or ended with scans discarded. */
    void (*overflow)(void *ctx, uint64_t seq, uint64_t scans, bool ended);
    /* A packet whose errorcode is neither 0 nor 59/60; its data is skipped. */
    void (*device_error)(void *ctx, uint64_t seq, int code);
} lju6_parser_out;

typedef struct lju6_parser {
    int nch, spp;
    lju6_parser_out out;
    bool have_counter;
    uint8_t next_counter;
    bool in_recovery;
    uint64_t sample_index; /* of the next sample in the stream */
    int npartial, skip;    /* samples of the current scan; samples to discard */
    uint16_t partial[LJU6_MAX_CHANNELS];
    uint64_t pending_gap; /* scans lost before the next delivered scan */
    /* Counters. */
    uint64_t packets_ok, bad_checksum, bad_header, bad_length, lost_packets, overflow_scans,
        device_errors, dummy_scans;
    uint8_t last_backlog, max_backlog;
} lju6_parser;

void lju6_parser_init(lju6_parser *p, int nch, int spp, const lju6_parser_out *out);
/* Restart after StreamStop/StreamStart: counters kept, counter and scan
 * index reset. */
void lju6_parser_restart(lju6_parser *p);
/* Feed one USB transfer (whole packets; a trailing partial packet is a short
 * packet and is counted as bad_length). */
void lju6_parser_feed(lju6_parser *p, const uint8_t *buf, size_t len);

#endif
