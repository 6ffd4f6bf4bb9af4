/* A fake LabJack U6 / U6-Pro on the umockdev fake USB device (usb_fake.h),
 * written from the maker's public documentation only: the U6 datasheet's
 * low-level function reference (section 5.2: ConfigU6, ReadMem/ReadCal,
 * StreamConfig, StreamStart, StreamStop, StreamData, the checksums of 5.1)
 * and the calibration layout LabJack's own libraries read (LabJackPython
 * u6.py getCalibrationData, exodriver u6.c getCalibrationInfo). It shares no
 * code or constants with the driver (drivers/nd_labjack_u6*.c), so a
 * misreading of the documentation in one is not repeated in the other.
 *
 * Endpoints as on the device: commands arrive on EP1 OUT, answers leave on
 * EP2 IN, StreamData packets on EP3 IN. Calibration memory holds blocks 0-9
 * with constants a few tenths of a percent off the maker's nominal values
 * (centers off 33523, and different high-resolution constants in blocks
 * 6-9), so a driver converting with the wrong constants or the wrong model
 * gives visibly wrong volts. Tests read the constants back through
 * nd_fake_u6_cal_constant() to compute expected values themselves. */
#ifndef ND_FAKE_U6_H
#define ND_FAKE_U6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usb_fake.h"

typedef struct nd_fake_u6 nd_fake_u6;

typedef struct nd_fake_u6_identity {
    uint32_t serial;            /* ConfigU6 SerialNumber, also the USB serial string */
    uint8_t fw_major, fw_minor; /* ConfigU6 bytes 10 and 9 */
    bool pro;                   /* VersionInfo 12 (U6-Pro) instead of 4 (U6) */
} nd_fake_u6_identity;

/* NULL when not running under umockdev. The device is not plugged yet. */
nd_fake_u6 *nd_fake_u6_new(const nd_fake_u6_identity *id);
void nd_fake_u6_free(nd_fake_u6 *u);
nd_fake_usb *nd_fake_u6_usb(nd_fake_u6 *u);

/* Calibration constant `index` (0-3) of memory block `block` (0-9), exactly
 * as the device stores it (already on the 2^-32 fixed-point grid). */
double nd_fake_u6_cal_constant(const nd_fake_u6 *u, int block, int index);

/* How the device answers ReadCal of one block from now on. */
typedef enum nd_fake_u6_cal_fault {
    ND_FAKE_U6_CAL_OK,
    ND_FAKE_U6_CAL_ERRORCODE,    /* answer with a nonzero errorcode, no data */
    ND_FAKE_U6_CAL_BAD_CHECKSUM, /* answer with a corrupted checksum16 */
    ND_FAKE_U6_CAL_SILENT,       /* no answer at all */
    ND_FAKE_U6_CAL_ERASED,       /* a valid answer whose data is all 0xFF (erased flash) */
} nd_fake_u6_cal_fault;
void nd_fake_u6_set_cal_fault(nd_fake_u6 *u, int block, nd_fake_u6_cal_fault fault);

/* What the device was last told by StreamConfig, and command counts. */
typedef struct nd_fake_u6_state {
    bool streaming;
    int starts, stops, configs, readcals;
    int nch, resolution_index, samples_per_packet, settling_factor;
    uint8_t scan_config;
    uint16_t scan_interval;
    uint8_t channel[25], options[25]; /* ChannelNumber, ChannelOptions */
} nd_fake_u6_state;
void nd_fake_u6_state_get(nd_fake_u6 *u, nd_fake_u6_state *out);
/* Forget the streaming state (a replugged device powers up idle). */
void nd_fake_u6_power_cycle(nd_fake_u6 *u);

/* Stream samples (16-bit as the ADC delivers them, channels interleaved in
 * scan order). They fill StreamData packets of SamplesPerPacket samples with
 * errorcode 0; a partly filled packet waits for the next call, as on the
 * device. Only while streaming. */
void nd_fake_u6_stream(nd_fake_u6 *u, const uint16_t *samples, size_t n);

/* One StreamData packet of exactly SamplesPerPacket samples with the given
 * errorcode and TimeStamp field (auto-recovery reports use them), for fault
 * tests. flags: */
#define ND_FAKE_U6_PKT_BAD_CHECKSUM 1u /* flip a data bit after sealing */
#define ND_FAKE_U6_PKT_TRUNCATE     2u /* send only the first 11 bytes */
void nd_fake_u6_stream_packet(nd_fake_u6 *u, const uint16_t *samples, uint8_t errorcode,
                              uint32_t timestamp, unsigned flags);
/* Advance the packet counter as if n packets had been lost on the way. */
void nd_fake_u6_skip_packets(nd_fake_u6 *u, unsigned n);

#endif
