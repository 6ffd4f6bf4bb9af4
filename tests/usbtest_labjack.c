/* LabJack U6 stream mode end to end: a fake U6 (0cd5:0006) on umockdev that
 * answers ConfigU6, ReadCal, StreamConfig, StreamStart and StreamStop on
 * EP1/EP2 and streams StreamData packets on EP3, driven through the real
 * libusb by the labjack-u6 driver. Faults: bad checksum, packet counter
 * jump, auto-recovery 59/60 with a discarded-scan count, a short packet, a
 * stall, unplug with transfers in flight and replug. Also the pure protocol
 * pieces (checksums, fixed point, timing). Run under umockdev-wrapper. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nd_capture.h"
#include "nd_device.h"
#include "nd_labjack_u6_proto.h"
#include "nd_log.h"
#include "test_util.h"
#include "usb_fake.h"

#define NCH        2
#define SPP        8 /* samples per packet: 4 scans */
#define MAX_SETS   4096
#define MAX_EVENTS 128

/* ---- the fake U6 firmware ---- */

typedef struct fake_u6 {
    pthread_mutex_t lock;
    bool streaming;
    int starts, stops, configs;
    lju6_stream_config cfg;
    uint8_t counter;
    uint8_t cal[2][32];
} fake_u6;

static fake_u6 u6 = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Calibration stored in the fake: slightly off nominal, as real units are. */
static const double cal_slope[4] = {3.1601e-4, 3.1592e-5, 3.1598e-6, 3.1589e-7};
static const double cal_offset[4] = {-10.5869, -1.05912, -0.105893, -0.0105881};

static void fake_reply(nd_fake_usb *f, uint8_t *r, size_t len)
{
    nd_fake_usb_push_packet_locked(f, LJU6_EP_RESP_IN, r, len);
}

static void fake_on_out(void *ctx, nd_fake_usb *f, uint8_t ep, const uint8_t *d, size_t len)
{
    (void)ctx;
    (void)ep;
    uint8_t r[64];
    memset(r, 0, sizeof r);
    pthread_mutex_lock(&u6.lock);
    if (len == 2 && d[0] == LJU6_STREAM_START && d[1] == LJU6_STREAM_START) {
        u6.streaming = true;
        u6.starts++;
        u6.counter = 0;
        r[1] = LJU6_STREAM_START + 1;
        r[0] = lju6_checksum8(r + 1, 3);
        fake_reply(f, r, 4);
    } else if (len == 2 && d[0] == LJU6_STREAM_STOP && d[1] == LJU6_STREAM_STOP) {
        r[2] = u6.streaming ? 0 : 52; /* "stream not running" style code */
        u6.streaming = false;
        u6.stops++;
        r[1] = LJU6_STREAM_STOP + 1;
        r[0] = lju6_checksum8(r + 1, 3);
        fake_reply(f, r, 4);
    } else if (lju6_check_extended(d, len, LJU6_EXT_CONFIGU6) == 0) {
        r[1] = 0xF8, r[2] = 0x10, r[3] = 0x08;
        r[9] = 1, r[10] = 43; /* firmware 1.43 */
        uint32_t serial = 360001234u;
        for (int i = 0; i < 4; i++) r[15 + i] = (uint8_t)(serial >> (8 * i));
        r[19] = 6;
        lju6_seal_extended(r, LJU6_CONFIGU6_RESP_LEN);
        fake_reply(f, r, LJU6_CONFIGU6_RESP_LEN);
    } else if (lju6_check_extended(d, len, LJU6_EXT_READCAL) == 0 && d[7] < 2) {
        r[1] = 0xF8, r[2] = 0x11, r[3] = LJU6_EXT_READCAL;
        memcpy(r + 8, u6.cal[d[7]], 32);
        lju6_seal_extended(r, LJU6_READCAL_RESP_LEN);
        fake_reply(f, r, LJU6_READCAL_RESP_LEN);
    } else if (lju6_parse_stream_config(d, len, &u6.cfg) == 0) {
        u6.configs++;
        r[1] = 0xF8, r[2] = 0x01, r[3] = LJU6_EXT_STREAMCONFIG;
        lju6_seal_extended(r, LJU6_STREAMCONFIG_RESP_LEN);
        fake_reply(f, r, LJU6_STREAMCONFIG_RESP_LEN);
    }
    pthread_mutex_unlock(&u6.lock);
}

static void fake_init_cal(void)
{
    for (int g = 0; g < 4; g++) {
        uint8_t *b = g < 2 ? u6.cal[0] + 16 * g : u6.cal[1] + 16 * (g - 2);
        lju6_double_to_fixed(cal_slope[g], b);
        lju6_double_to_fixed(cal_offset[g], b + 8);
    }
}

/* Raw bits of scan s, channel c: a slow ramp around mid-scale. */
static uint16_t bits_of(uint64_t s, int c)
{
    return (uint16_t)(32768 + (int)(s % 1000) * 3 + c * 500);
}

/* Expected counts use the constants as stored (32.32 fixed point), which is
 * what a real U6 hands out. */
static int32_t counts_of(uint16_t bits)
{
    double slope = lju6_fixed_to_double(u6.cal[1] + 16);
    double offset = lju6_fixed_to_double(u6.cal[1] + 24);
    return (int32_t)lround((slope * bits + offset) * 1e8);
}

/* Send packets carrying scans [first, first + 4*npackets). Counter, error,
 * timestamp per packet as given by the caller through a hook. */
static void send_packets(nd_fake_usb *f, uint64_t first_scan, int npackets, uint8_t errorcode)
{
    for (int k = 0; k < npackets; k++) {
        uint16_t s[SPP];
        for (int i = 0; i < SPP; i++) {
            uint64_t idx = (first_scan * NCH) + (uint64_t)k * SPP + (uint64_t)i;
            s[i] = bits_of(idx / NCH, (int)(idx % NCH));
        }
        uint8_t pkt[64];
        pthread_mutex_lock(&u6.lock);
        uint8_t counter = u6.counter++;
        pthread_mutex_unlock(&u6.lock);
        size_t n = lju6_build_stream_data(pkt, SPP, counter, errorcode, 0, s, 3);
        nd_fake_usb_push_packet(f, LJU6_EP_STREAM_IN, pkt, n);
    }
}

/* ---- capture: what the device delivered; set up in main() ---- */

static nd_capture cap;

static bool streaming_is(nd_fake_usb *f, void *arg)
{
    (void)f;
    pthread_mutex_lock(&u6.lock);
    bool s = u6.streaming && u6.starts >= *(int *)arg;
    pthread_mutex_unlock(&u6.lock);
    return s;
}

static bool inflight_n(nd_fake_usb *f, void *arg)
{
    return nd_fake_usb_inflight(f, LJU6_EP_STREAM_IN) == *(int *)arg;
}

static bool event_seen(nd_fake_usb *f, void *arg)
{
    (void)f;
    return nd_capture_count_events(&cap, *(nd_device_event_kind *)arg) > 0;
}

/* Captured sets [from, from+count) are scans first.. with exact counts. */
static int check_scans(size_t from, size_t count, uint64_t first_seq, uint64_t first_scan)
{
    int bad = 0;
    pthread_mutex_lock(&cap.lock);
    for (size_t i = 0; i < count; i++) {
        if (from + i >= cap.nsets) {
            bad++;
            continue;
        }
        const nd_sample *s = &cap.sets[from + i];
        uint64_t scan = first_scan + i;
        if (s->seq != first_seq + i || s->nch != NCH || s->raw[0] != counts_of(bits_of(scan, 0)) ||
            s->raw[1] != counts_of(bits_of(scan, 1))) {
            if (bad++ < 3)
                fprintf(stderr, "set %zu: seq %llu (want %llu) raw %d %d (want %d %d)\n", from + i,
                        (unsigned long long)s->seq, (unsigned long long)(first_seq + i), s->raw[0],
                        s->raw[1], counts_of(bits_of(scan, 0)), counts_of(bits_of(scan, 1)));
        }
    }
    pthread_mutex_unlock(&cap.lock);
    return bad;
}

/* ---- protocol unit checks ---- */

static void test_protocol(void)
{
    /* StreamStart's checksum8 equals its command byte (datasheet example). */
    uint8_t b[64];
    CHECK_EQ_INT(lju6_build_stream_start(b), 2);
    CHECK_EQ_INT(b[0], 0xA8);
    CHECK_EQ_INT(lju6_checksum8((const uint8_t *)"\xff\xff\xff\xff\xff", 5), 0xFF);
    CHECK_EQ_INT(lju6_checksum8((const uint8_t *)"\x80\x80", 2), 0x01);
    /* Fixed point round trip, negative values included. */
    double vals[3] = {-10.5869, 3.1589e-7, 1.0};
    for (int i = 0; i < 3; i++) {
        lju6_double_to_fixed(vals[i], b);
        CHECK_NEAR(lju6_fixed_to_double(b), vals[i], 1e-9);
    }
    /* Scan timing: 200 Hz at 4 MHz, 10 Hz needs the /256 clock. */
    uint8_t sc;
    uint16_t si;
    CHECK_NEAR(lju6_scan_timing(200, &sc, &si), 200.0, 1e-9);
    CHECK_EQ_INT(sc, 0);
    CHECK_EQ_INT(si, 20000);
    CHECK_NEAR(lju6_scan_timing(10, &sc, &si), 10.0, 0.01);
    CHECK_EQ_INT(sc, 2);
    /* StreamConfig builds and parses back. */
    lju6_stream_config c = {.nch = 2,
                            .channel = {0, 2},
                            .differential = true,
                            .gain_index = 3,
                            .resolution_index = 1,
                            .samples_per_packet = 8,
                            .scan_interval = 20000};
    size_t n = lju6_build_stream_config(b, sizeof b, &c);
    CHECK_EQ_INT(n, 18);
    CHECK_EQ_INT(b[2], 6);     /* NumChannels + 4 */
    CHECK_EQ_INT(b[15], 0xB0); /* differential, gain index 3 */
    lju6_stream_config back;
    CHECK(lju6_parse_stream_config(b, n, &back) == 0 && back.nch == 2 && back.channel[1] == 2);
    b[20 - 6] ^= 1; /* corrupt: checksum16 fails */
    CHECK(lju6_parse_stream_config(b, n, &back) < 0);
    /* Implausible calibration falls back to nominal and says so. */
    uint8_t blk0[32], blk1[32];
    memset(blk0, 0xff, 32);
    memset(blk1, 0xff, 32);
    lju6_calibration cal;
    CHECK(lju6_calibration_from_blocks(&cal, blk0, blk1) < 0);
    CHECK_NEAR(cal.slope[3], 0.0207 / 65536.0, 1e-12);
}

static void test_bad_options(void)
{
    nd_test_expect_open_error("labjack-u6:?gain=3", "gain", NULL);
    nd_test_expect_open_error("labjack-u6:?channels=1", "pairs", NULL);
    nd_test_expect_open_error("labjack-u6:?channels=0,x", "channels", NULL);
    nd_test_expect_open_error("labjack-u6:?rate=0", "rate", NULL);
    nd_test_expect_open_error("labjack-u6:?per_packet=26", "per_packet", NULL);
    nd_test_expect_open_error("labjack-u6:?rate=30000", "50000", NULL);
    nd_test_expect_open_error("labjack-u6:?gains=10", "gains", NULL);
    nd_test_expect_open_error("labjack-u6:999", "not found", NULL);
}

typedef struct runner {
    nd_device *dev;
    atomic_bool stop;
    int rc;
} runner;

static void *run_thread(void *arg)
{
    runner *r = arg;
    r->rc = nd_device_run(r->dev, &r->stop);
    return NULL;
}

int main(void)
{
    nd_log_set_level(ND_LOG_NOTICE);
    test_protocol();
    fake_init_cal();
    const nd_fake_usb_desc desc = {.vid = LJU6_VID,
                                   .pid = LJU6_PID,
                                   .manufacturer = "LabJack",
                                   .product = "LabJack U6",
                                   .serial = "360001234",
                                   .max_packet = 64,
                                   .ep_in = {LJU6_EP_RESP_IN, LJU6_EP_STREAM_IN},
                                   .ep_out = LJU6_EP_CMD_OUT};
    nd_fake_usb *f = nd_fake_usb_new(&desc, fake_on_out, NULL);
    CHECK(f != NULL);
    if (!f) return nd_test_finish("usbtest_labjack");
    CHECK(nd_fake_usb_plug(f) == 0);
    test_bad_options();

    if (nd_capture_init(&cap, MAX_SETS, MAX_EVENTS) != 0) {
        CHECK(!"capture allocated");
        nd_fake_usb_free(f);
        return nd_test_finish("usbtest_labjack");
    }
    const nd_sink sink = nd_capture_sink(&cap);
    nd_device *dev = NULL;
    char err[512] = "";
    int rc = nd_device_open("labjack-u6:360001234?channels=0,2&gain=1000&rate=200&per_packet=8&"
                            "transfers=3&sensitivity=2&excitation=5&capacity=2000&rescan_ms=50",
                            &sink, &dev, err, sizeof err);
    if (rc != 0) fprintf(stderr, "open: %s\n", err);
    CHECK(rc == 0);
    if (rc != 0) {
        nd_capture_free(&cap);
        nd_fake_usb_free(f);
        return nd_test_finish("usbtest_labjack");
    }
    /* Configuration reached the device exactly. */
    CHECK_EQ_INT(u6.cfg.nch, 2);
    CHECK(u6.cfg.differential && u6.cfg.gain_index == 3);
    CHECK_EQ_INT(u6.cfg.samples_per_packet, SPP);
    CHECK_EQ_INT(u6.cfg.scan_interval, 20000);
    CHECK(strcmp(cap.info.serial, "360001234") == 0);
    CHECK(strcmp(cap.info.fw, "1.43") == 0);
    CHECK(strcmp(cap.info.channel_names[1], "AIN2-AIN3") == 0);
    CHECK_NEAR(cap.info.rate_hz, 200.0, 1e-9);
    CHECK_NEAR(cap.info.counts_per_newton[0], 2e-3 * 5 * 1e8 / 2000, 1e-9); /* 500 */

    runner r = {.dev = dev};
    pthread_t th;
    pthread_create(&th, NULL, run_thread, &r);
    int one = 1, three = 3;
    CHECK(nd_fake_usb_wait(f, streaming_is, &one, 3000));
    CHECK(nd_fake_usb_wait(f, inflight_n, &three, 3000));

    /* 1. 25 packets = 100 scans, exact counts through the device calibration. */
    send_packets(f, 0, 25, 0);
    CHECK(nd_capture_wait_sets(&cap, 100, 5000));
    CHECK_EQ_INT(check_scans(0, 100, 0, 0), 0);

    /* 2. A bad checksum drops one packet (4 scans): the counter shows the gap. */
    {
        uint16_t s[SPP] = {0};
        uint8_t pkt[64];
        pthread_mutex_lock(&u6.lock);
        uint8_t counter = u6.counter++;
        pthread_mutex_unlock(&u6.lock);
        size_t n = lju6_build_stream_data(pkt, SPP, counter, 0, 0, s, 0);
        pkt[20] ^= 0x40;
        nd_fake_usb_push_packet(f, LJU6_EP_STREAM_IN, pkt, n);
    }
    send_packets(f, 104, 5, 0);
    CHECK(nd_capture_wait_sets(&cap, 120, 5000));
    CHECK_EQ_INT(check_scans(100, 20, 104, 104), 0);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->frames_bad_crc), 1);
    CHECK(cap.sets[100].flags & ND_SAMPLE_AFTER_GAP);
    CHECK_EQ_INT(cap.sets[100].gap_sets, 4);

    /* 3. Packet counter jump: 3 packets never sent (12 scans). */
    pthread_mutex_lock(&u6.lock);
    u6.counter += 3;
    pthread_mutex_unlock(&u6.lock);
    send_packets(f, 136, 5, 0);
    CHECK(nd_capture_wait_sets(&cap, 140, 5000));
    CHECK_EQ_INT(check_scans(120, 20, 136, 136), 0);
    CHECK_EQ_INT(cap.sets[120].gap_sets, 12);

    /* 4. A short packet (truncated) is counted; the next packet's counter
     * says its scans are lost. */
    {
        uint16_t s[SPP] = {0};
        uint8_t pkt[64];
        pthread_mutex_lock(&u6.lock);
        uint8_t counter = u6.counter++;
        pthread_mutex_unlock(&u6.lock);
        lju6_build_stream_data(pkt, SPP, counter, 0, 0, s, 0);
        nd_fake_usb_push_packet(f, LJU6_EP_STREAM_IN, pkt, 11);
    }
    send_packets(f, 160, 5, 0);
    CHECK(nd_capture_wait_sets(&cap, 160, 5000));
    CHECK_EQ_INT(check_scans(140, 20, 160, 160), 0);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->frames_bad_length), 1);
    CHECK_EQ_INT(cap.sets[140].gap_sets, 4);

    /* 5. Auto-recovery: two packets with code 59 (valid old data), then code
     * 60 with the dummy scan and 37 scans discarded (dummy included). */
    send_packets(f, 180, 2, LJU6_ERR_AUTORECOVERY_ACTIVE);
    {
        uint16_t s[SPP];
        s[0] = s[1] = 0xFFFF; /* dummy scan */
        for (int i = 2; i < SPP; i++) {
            uint64_t idx = (188 + 37) * NCH + (uint64_t)(i - 2);
            s[i] = bits_of(idx / NCH, (int)(idx % NCH));
        }
        uint8_t pkt[64];
        pthread_mutex_lock(&u6.lock);
        uint8_t counter = u6.counter++;
        pthread_mutex_unlock(&u6.lock);
        size_t n = lju6_build_stream_data(pkt, SPP, counter, LJU6_ERR_AUTORECOVERY_END, 37, s, 0);
        nd_fake_usb_push_packet(f, LJU6_EP_STREAM_IN, pkt, n);
    }
    send_packets(f, 228, 3, 0);
    CHECK(nd_capture_wait_sets(&cap, 183, 5000));
    CHECK_EQ_INT(check_scans(160, 8, 180, 180), 0);  /* the 59 packets' data */
    CHECK_EQ_INT(check_scans(168, 15, 225, 225), 0); /* after the dummy + 37 */
    CHECK_EQ_INT(cap.sets[168].gap_sets, 37);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->device_overflows), 37);
    CHECK_EQ_INT(nd_capture_count_events(&cap, ND_EV_OVERFLOW), 2);

    /* 6. A stall on the stream endpoint is cleared; nothing is lost. */
    unsigned halts = nd_fake_usb_clear_halts(f);
    nd_fake_usb_stall(f, LJU6_EP_STREAM_IN);
    send_packets(f, 240, 5, 0);
    CHECK(nd_capture_wait_sets(&cap, 203, 5000));
    CHECK_EQ_INT(check_scans(183, 20, 240, 240), 0);
    CHECK(nd_fake_usb_clear_halts(f) > halts);

    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->gap_sets), 4 + 12 + 4 + 37);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->sets), 203);

    /* 7. Unplug with transfers in flight; replug: reconfigured, restarted. */
    CHECK(nd_fake_usb_wait(f, inflight_n, &three, 3000));
    nd_fake_usb_unplug(f);
    nd_device_event_kind lost = ND_EV_DEVICE_LOST, back = ND_EV_DEVICE_BACK;
    CHECK(nd_fake_usb_wait(f, event_seen, &lost, 5000));
    pthread_mutex_lock(&u6.lock);
    u6.streaming = false;
    int configs = u6.configs;
    pthread_mutex_unlock(&u6.lock);
    CHECK(nd_fake_usb_plug(f) == 0);
    int two = 2;
    CHECK(nd_fake_usb_wait(f, streaming_is, &two, 10000));
    CHECK(nd_fake_usb_wait(f, event_seen, &back, 5000));
    CHECK(u6.configs > configs);
    send_packets(f, 0, 5, 0); /* the device counts scans from 0 again */
    CHECK(nd_capture_wait_sets(&cap, 223, 5000));
    pthread_mutex_lock(&cap.lock);
    const nd_sample *first = &cap.sets[203];
    CHECK(first->flags & ND_SAMPLE_AFTER_RECONNECT);
    CHECK(first->seq >= 260);                        /* seq keeps rising */
    CHECK_EQ_INT(first->seq - 260, first->gap_sets); /* the jump is the gap */
    CHECK_EQ_INT(first->raw[0], counts_of(bits_of(0, 0)));
    uint64_t base = first->seq;
    pthread_mutex_unlock(&cap.lock);
    CHECK_EQ_INT(check_scans(203, 20, base, 0), 0);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->disconnects), 1);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->reconnects), 1);

    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(!u6.streaming); /* StreamStop sent at the end */
    nd_device_close(dev);
    nd_capture_free(&cap);
    nd_fake_usb_free(f);
    return nd_test_finish("usbtest_labjack");
}
