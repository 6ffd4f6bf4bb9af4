/* LabJack U6 stream mode end to end: the fake U6 of drivers/testbed
 * (written from the maker's documentation, independently of the driver)
 * on umockdev, driven through the real libusb by the labjack-u6 driver.
 *
 * Conversion: every gain's volts are checked against numbers this file
 * computes from the maker's documented model (center, positive slope above
 * it, negative slope below it; LabJackPython binaryToCalibratedAnalogVoltage)
 * and the constants the fake device stores, on both sides of the center;
 * the fallback to the maker's nominal constants (written out here from the
 * public code) when a calibration block cannot be read; a U6-Pro streaming
 * at ResolutionIndex 0 (stream means 1: the normal constants). Identity:
 * firmware printed major.minor from ConfigU6 bytes 10 and 9. Rates: the
 * datasheet's stream limit (table 3.2.1) refused just above, accepted with
 * a warning at exactly the limit, the default accepted silently. Faults:
 * bad checksum, packet counter jump, auto-recovery 59/60, short packet,
 * stall, unplug with transfers in flight and replug. Run under
 * umockdev-wrapper. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nd_capture.h"
#include "nd_device.h"
#include "nd_fake_u6.h"
#include "nd_labjack_u6_proto.h"
#include "nd_log.h"
#include "test_util.h"

#define NCH        2
#define SPP        8 /* samples per packet: 4 scans */
#define MAX_SETS   4096
#define MAX_EVENTS 128
#define SERIAL     360001234u
#define PRO_SERIAL 360009876u
#define EP_STREAM  0x83

/* The maker's nominal constants (LabJackPython u6.py CalibrationInfo,
 * exodriver u6.c U6_CALIBRATION_INFO_DEFAULT), gain x1; /10 per gain step. */
#define MAKER_POS_SLOPE 3.1580578e-4
#define MAKER_NEG_SLOPE (-3.15805800e-4)
#define MAKER_CENTER    33523.0

static nd_fake_u6 *u6;
static nd_capture cap;

/* ---- the documented model, computed here ---- */

typedef struct model {
    double pos, neg, center;
} model;

/* The fake's stored constants for a gain index: positive slope in blocks
 * 0-1, negative slope and center in blocks 2-3 (6-9 for high resolution). */
static model device_model(nd_fake_u6 *u, int gain_index, bool high_res)
{
    int base = high_res ? 6 : 0, at = 2 * (gain_index % 2);
    model m = {nd_fake_u6_cal_constant(u, base + gain_index / 2, at),
               nd_fake_u6_cal_constant(u, base + 2 + gain_index / 2, at),
               nd_fake_u6_cal_constant(u, base + 2 + gain_index / 2, at + 1)};
    return m;
}

static model nominal_model(int gain_index)
{
    double scale = pow(10.0, -gain_index);
    model m = {MAKER_POS_SLOPE * scale, MAKER_NEG_SLOPE * scale, MAKER_CENTER};
    return m;
}

static double model_volts(model m, uint16_t bits)
{
    double b = bits;
    return b < m.center ? (m.center - b) * m.neg : (b - m.center) * m.pos;
}

/* The driver's documented raw unit: 1 count = 10 nV at the input. */
static long model_counts(model m, uint16_t bits)
{
    return lround(model_volts(m, bits) * 1e8);
}

/* ---- opening with the log captured ---- */

static char open_log[8192];

/* nd_device_open with its stderr (the log) captured into open_log. */
static int open_logged(const char *uri, nd_device **dev, char *err, size_t errlen)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    if (saved < 0 || !tmp) {
        CHECK(!"stderr redirected");
        return -1;
    }
    dup2(fileno(tmp), 2);
    const nd_sink sink = nd_capture_sink(&cap);
    int rc = nd_device_open(uri, &sink, dev, err, errlen);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(open_log, 1, sizeof open_log - 1, tmp);
    open_log[n] = '\0';
    fclose(tmp);
    fputs(open_log, stderr); /* keep it visible in the test output */
    return rc;
}

/* ---- streaming helpers ---- */

typedef struct runner {
    nd_device *dev;
    atomic_bool stop;
    int rc;
    pthread_t th;
} runner;

static void *run_thread(void *arg)
{
    runner *r = arg;
    r->rc = nd_device_run(r->dev, &r->stop);
    return NULL;
}

typedef struct start_wait {
    nd_fake_u6 *u;
    int starts;
} start_wait;

static bool started_n(nd_fake_usb *f, void *arg)
{
    (void)f;
    const start_wait *w = arg;
    nd_fake_u6_state st;
    nd_fake_u6_state_get(w->u, &st);
    return st.streaming && st.starts >= w->starts;
}

static bool inflight_n(nd_fake_usb *f, void *arg)
{
    return nd_fake_usb_inflight(f, EP_STREAM) >= *(int *)arg;
}

static bool event_seen(nd_fake_usb *f, void *arg)
{
    (void)f;
    return nd_capture_count_events(&cap, *(nd_device_event_kind *)arg) > 0;
}

static void run_start(runner *r, nd_device *dev, nd_fake_u6 *u, int starts)
{
    memset(r, 0, sizeof *r);
    r->dev = dev;
    pthread_create(&r->th, NULL, run_thread, r);
    start_wait w = {u, starts};
    CHECK(nd_fake_usb_wait(nd_fake_u6_usb(u), started_n, &w, 5000));
    int one = 1;
    CHECK(nd_fake_usb_wait(nd_fake_u6_usb(u), inflight_n, &one, 5000));
}

static void run_stop(runner *r)
{
    atomic_store(&r->stop, true);
    pthread_join(r->th, NULL);
    CHECK_EQ_INT(r->rc, 0);
}

/* Values on both sides of every center, the rails and the center's
 * neighbours. Even count: whole scans of two channels. */
static const uint16_t probe_bits[] = {0,     1,     12000, 30000, 33000, 33149, 33150, 33210,
                                      33211, 33467, 33468, 33498, 33499, 33523, 33541, 33542,
                                      33580, 33581, 34000, 45000, 65000, 65535};
#define NPROBE (sizeof probe_bits / sizeof probe_bits[0])

/* Stream the probe values (padded to whole packets) and compare every
 * delivered value with the model. Returns the number of mismatches. */
static int stream_and_check(nd_fake_u6 *u, size_t first_set, model m, const char *what)
{
    uint16_t s[NPROBE + SPP];
    size_t n = 0;
    for (size_t i = 0; i < NPROBE; i++) s[n++] = probe_bits[i];
    while (n % SPP) s[n++] = 33000;
    nd_fake_u6_stream(u, s, n);
    CHECK(nd_capture_wait_sets(&cap, first_set + n / NCH, 5000));
    int bad = 0;
    for (size_t i = 0; i < NPROBE; i++) {
        size_t set = first_set + i / NCH;
        if (set >= nd_capture_nsets(&cap)) {
            bad++;
            continue;
        }
        long got = cap.sets[set].raw[i % NCH], want = model_counts(m, probe_bits[i]);
        if (labs(got - want) > 1) { /* 1 count = 10 nV; one ADC step is >= 316 nV */
            if (bad < 4)
                fprintf(stderr, "%s: bits %u -> %ld counts, the model says %ld\n", what,
                        probe_bits[i], got, want);
            bad++;
        }
    }
    return bad;
}

/* Open uri on the plugged fake u, stream the probe values, check them
 * against model m, close. */
static void check_conversion(nd_fake_u6 *u, const char *uri, model m, const char *log_word,
                             const char *what)
{
    nd_capture_reset(&cap);
    nd_device *dev = NULL;
    char err[512] = "";
    int rc = open_logged(uri, &dev, err, sizeof err);
    if (rc != 0) fprintf(stderr, "%s: open: %s\n", what, err);
    CHECK(rc == 0);
    if (rc != 0) return;
    if (log_word && !strstr(open_log, log_word)) {
        fprintf(stderr, "%s: the log does not say '%s'\n", what, log_word);
        CHECK(!"calibration source logged");
    }
    nd_fake_u6_state before;
    nd_fake_u6_state_get(u, &before);
    runner r;
    run_start(&r, dev, u, before.starts + 1);
    int bad = stream_and_check(u, 0, m, what);
    if (bad) fprintf(stderr, "%s: %d value(s) off the model\n", what, bad);
    CHECK_EQ_INT(bad, 0);
    run_stop(&r);
    nd_device_close(dev);
}

/* ---- tests ---- */

/* Documented arithmetic by hand. Checksum8 (datasheet 5.1): the sum with its
 * carries added back twice (5 x 0xFF = 0x4FB: 0xFB + 0x04 = 0xFF; 0x80 + 0x80
 * = 0x100: 0x00 + 0x01). Fixed point: fraction 0x80000000 / 2^32 = 0.5,
 * integer part -2 gives -1.5. */
static void test_documented_arithmetic(void)
{
    CHECK_EQ_INT(lju6_checksum8((const uint8_t *)"\xff\xff\xff\xff\xff", 5), 0xFF);
    CHECK_EQ_INT(lju6_checksum8((const uint8_t *)"\x80\x80", 2), 0x01);
    uint8_t start[2];
    CHECK_EQ_INT(lju6_build_stream_start(start), 2);
    CHECK(start[0] == 0xA8 && start[1] == 0xA8); /* the datasheet's StreamStart bytes */
    const uint8_t b[8] = {0x00, 0x00, 0x00, 0x80, 0xFE, 0xFF, 0xFF, 0xFF};
    CHECK_NEAR(lju6_fixed_to_double(b), -1.5, 0);
    const uint8_t c[8] = {0x00, 0x00, 0x00, 0x40, 0x03, 0x00, 0x00, 0x00};
    CHECK_NEAR(lju6_fixed_to_double(c), 3.25, 0);
}

/* Refusals that need no device: the datasheet's limit just exceeded. */
static void test_rate_refusals(void)
{
    /* Default: 2 differential channels at x1000, resolution 1: 178 scans/s. */
    nd_test_expect_open_error("labjack-u6:?rate=179", "178", "3.2.1");
    nd_test_expect_open_error("labjack-u6:?rate=200", "178", NULL);
    nd_test_expect_open_error("labjack-u6:?rate=178.1", "178", NULL);
    /* 4 channels at x1000: 88; 2 at x100: 444; 8 at x10: 540. */
    nd_test_expect_open_error("labjack-u6:?channels=0,2,4,6&rate=89", "88", NULL);
    nd_test_expect_open_error("labjack-u6:?gain=100&rate=445", "444", NULL);
    nd_test_expect_open_error("labjack-u6:?channels=0,1,2,3,4,5,6,7&diff=0&gain=10&rate=541", "540",
                              NULL);
    /* Resolution 0 is 1 in stream mode: the same limit. */
    nd_test_expect_open_error("labjack-u6:?resolution=0&rate=179", "178", NULL);
}

static void test_bad_options(void)
{
    nd_test_expect_open_error("labjack-u6:?gain=3", "gain", NULL);
    nd_test_expect_open_error("labjack-u6:?channels=1", "pairs", NULL);
    nd_test_expect_open_error("labjack-u6:?channels=0,x", "channels", NULL);
    nd_test_expect_open_error("labjack-u6:?rate=0", "rate", NULL);
    nd_test_expect_open_error("labjack-u6:?per_packet=26", "per_packet", NULL);
    nd_test_expect_open_error("labjack-u6:?gain=1&rate=30000", "50000", NULL);
    nd_test_expect_open_error("labjack-u6:?gains=10", "gains", NULL);
    /* 9-12 are the U6-Pro's high-resolution converter, which cannot stream. */
    nd_test_expect_open_error("labjack-u6:?resolution=9", "resolution", NULL);
    nd_test_expect_open_error("labjack-u6:999", "not found", NULL);
}

/* Every gain on both sides of its center, with the device's constants. */
static void test_each_gain(void)
{
    static const char *const uris[4] = {
        "labjack-u6:360001234?gain=1&rate=100&per_packet=8",
        "labjack-u6:360001234?gain=10&rate=100&per_packet=8",
        "labjack-u6:360001234?gain=100&rate=100&per_packet=8",
        "labjack-u6:360001234?gain=1000&rate=100&per_packet=8",
    };
    static const char *const names[4] = {"gain x1", "gain x10", "gain x100", "gain x1000"};
    for (int g = 0; g < 4; g++)
        check_conversion(u6, uris[g], device_model(u6, g, false), "device's calibration", names[g]);
}

/* A block that cannot be read: the maker's nominal constants, logged. */
static void test_calibration_fallback(void)
{
    static const struct {
        int block;
        nd_fake_u6_cal_fault fault;
        const char *why;
    } cases[] = {{2, ND_FAKE_U6_CAL_ERRORCODE, "errorcode"},
                 {3, ND_FAKE_U6_CAL_BAD_CHECKSUM, "invalid answer"},
                 {0, ND_FAKE_U6_CAL_SILENT, "no answer"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nd_fake_u6_set_cal_fault(u6, cases[i].block, cases[i].fault);
        char what[64];
        snprintf(what, sizeof what, "fallback (block %d, %s)", cases[i].block, cases[i].why);
        check_conversion(u6, "labjack-u6:360001234?gain=1000&rate=100&per_packet=8",
                         nominal_model(3), "nominal", what);
        CHECK(strstr(open_log, cases[i].why) != NULL);
        nd_fake_u6_set_cal_fault(u6, cases[i].block, ND_FAKE_U6_CAL_OK);
    }
}

/* Block 3 erased (all 0xFF: each constant reads as -2^-32, so the negative
 * slopes and centers of x100 and x1000 are nonsense): those gains fall back
 * to the nominal constants with a warning naming them; x10 keeps the
 * device's. */
static void test_erased_block(void)
{
    nd_fake_u6_set_cal_fault(u6, 3, ND_FAKE_U6_CAL_ERASED);
    check_conversion(u6, "labjack-u6:360001234?gain=1000&rate=100&per_packet=8", nominal_model(3),
                     "maker's nominal", "erased block 3, x1000");
    CHECK(strstr(open_log, "gain x1000 are implausible") != NULL);
    CHECK(strstr(open_log, "gain x100 are implausible") != NULL);
    CHECK(strstr(open_log, "gain x10 are implausible") == NULL);
    check_conversion(u6, "labjack-u6:360001234?gain=10&rate=100&per_packet=8",
                     device_model(u6, 1, false), "device's calibration", "erased block 3, x10");
    nd_fake_u6_set_cal_fault(u6, 3, ND_FAKE_U6_CAL_OK);
}

/* A U6-Pro at stream ResolutionIndex 0: stream mode means index 1 and has
 * no high-resolution converter, so blocks 0-3 convert, not 6-9. */
static void test_pro_stream_uses_normal_constants(nd_fake_u6 *pro)
{
    check_conversion(pro, "labjack-u6:360009876?gain=100&resolution=0&rate=100&per_packet=8",
                     device_model(pro, 2, false), "device's calibration", "U6-Pro resolution 0");
    nd_device_info info;
    CHECK(nd_capture_info(&cap, &info) && strcmp(info.model, "LabJack U6-Pro") == 0);
    CHECK(strcmp(info.fw, "1.50") == 0);
}

/* Exactly at the datasheet limit: accepted, with a warning. */
static void test_rate_at_limit(void)
{
    static const struct {
        const char *uri;
        uint16_t interval; /* 4 MHz / interval <= the limit */
        const char *limit;
    } cases[] = {{"labjack-u6:360001234?rate=178", 22472, "178"},
                 {"labjack-u6:360001234?channels=0,2,4,6&rate=88", 45455, "88"},
                 /* 4 MHz / 9009 would be 444.0004: one tick more keeps it within */
                 {"labjack-u6:360001234?gain=100&rate=444", 9010, "444"},
                 /* The clock meets these limits exactly: 4 MHz / 160, / 80. */
                 {"labjack-u6:360001234?gain=1&rate=25000", 160, "25000"},
                 {"labjack-u6:360001234?channels=0&rate=50000", 80, "50000"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nd_capture_reset(&cap);
        nd_device *dev = NULL;
        char err[512] = "";
        int rc = open_logged(cases[i].uri, &dev, err, sizeof err);
        if (rc != 0) fprintf(stderr, "%s: %s\n", cases[i].uri, err);
        CHECK(rc == 0);
        if (rc != 0) continue;
        nd_fake_u6_state st;
        nd_fake_u6_state_get(u6, &st);
        CHECK_EQ_INT(st.scan_interval, cases[i].interval);
        CHECK(strstr(open_log, "within 10 %") && strstr(open_log, cases[i].limit));
        nd_device_close(dev);
    }
    /* Just below 90 % of the limit: no warning (160 of 178 is the default). */
    nd_device *dev = NULL;
    char err[512] = "";
    CHECK(open_logged("labjack-u6:360001234?rate=160", &dev, err, sizeof err) == 0);
    CHECK(strstr(open_log, "warning: ") == NULL);
    if (dev) nd_device_close(dev);
    /* 10 scans/s needs the 4 MHz / 256 clock (ScanConfig bit 1): 15625 / 1563. */
    dev = NULL;
    nd_capture_reset(&cap);
    CHECK(open_logged("labjack-u6:360001234?rate=10", &dev, err, sizeof err) == 0);
    nd_fake_u6_state st;
    nd_fake_u6_state_get(u6, &st);
    CHECK_EQ_INT(st.scan_config, 0x02);
    CHECK_EQ_INT(st.scan_interval, 1563);
    nd_device_info info;
    CHECK(nd_capture_info(&cap, &info));
    CHECK_NEAR(info.rate_hz, 15625.0 / 1563, 1e-9);
    if (dev) nd_device_close(dev);
    /* Resolution 2-8: the table nordicd has read gives no limit; it says so
     * instead of claiming a check. */
    dev = NULL;
    CHECK(open_logged("labjack-u6:360001234?resolution=3&rate=100", &dev, err, sizeof err) == 0);
    CHECK(strstr(open_log, "no datasheet stream limit") != NULL);
    if (dev) nd_device_close(dev);
}

/* ---- the long run: default rate, then stream faults ---- */

static uint16_t bits_of(uint64_t s, int c)
{
    /* A ramp crossing the x1000 center both ways. */
    return (uint16_t)(33000 + (int)(s % 400) * 3 + c * 500);
}

static long counts_of(uint16_t bits)
{
    return model_counts(device_model(u6, 3, false), bits);
}

static void send_scans(uint64_t first_scan, int npackets)
{
    uint16_t s[SPP];
    for (int k = 0; k < npackets; k++) {
        for (int i = 0; i < SPP; i++) {
            uint64_t idx = first_scan * NCH + (uint64_t)k * SPP + (uint64_t)i;
            s[i] = bits_of(idx / NCH, (int)(idx % NCH));
        }
        nd_fake_u6_stream(u6, s, SPP);
    }
}

static void send_packet(uint64_t first_scan, uint8_t errorcode, uint32_t timestamp, unsigned flags)
{
    uint16_t s[SPP];
    for (int i = 0; i < SPP; i++) {
        uint64_t idx = first_scan * NCH + (uint64_t)i;
        s[i] = bits_of(idx / NCH, (int)(idx % NCH));
    }
    nd_fake_u6_stream_packet(u6, s, errorcode, timestamp, flags);
}

static int check_scans(size_t from, size_t count, uint64_t first_seq, uint64_t first_scan)
{
    int bad = 0;
    nd_capture_lock(&cap);
    for (size_t i = 0; i < count; i++) {
        if (from + i >= cap.nsets) {
            bad++;
            continue;
        }
        const nd_sample *s = &cap.sets[from + i];
        uint64_t scan = first_scan + i;
        long w0 = counts_of(bits_of(scan, 0)), w1 = counts_of(bits_of(scan, 1));
        if (s->seq != first_seq + i || s->nch != NCH || labs(s->raw[0] - w0) > 1 ||
            labs(s->raw[1] - w1) > 1) {
            if (bad++ < 3)
                fprintf(stderr, "set %zu: seq %llu (want %llu) raw %d %d (want %ld %ld)\n",
                        from + i, (unsigned long long)s->seq, (unsigned long long)(first_seq + i),
                        s->raw[0], s->raw[1], w0, w1);
        }
    }
    nd_capture_unlock(&cap);
    return bad;
}

static void test_default_and_faults(void)
{
    nd_capture_reset(&cap);
    nd_fake_usb *f = nd_fake_u6_usb(u6);
    nd_device *dev = NULL;
    char err[512] = "";
    /* No rate given: the default must be within the datasheet's limit and
     * draw no warning. */
    int rc = open_logged("labjack-u6:360001234?per_packet=8&transfers=3&sensitivity=2&"
                         "excitation=5&capacity=2000&rescan_ms=50",
                         &dev, err, sizeof err);
    if (rc != 0) fprintf(stderr, "open: %s\n", err);
    CHECK(rc == 0);
    if (rc != 0) return;
    CHECK(strstr(open_log, "warning: ") == NULL && strstr(open_log, "<4>") == NULL);
    nd_fake_u6_state st;
    nd_fake_u6_state_get(u6, &st);
    CHECK_EQ_INT(st.nch, 2);
    CHECK_EQ_INT(st.options[0], 0xB0); /* differential, gain index 3 */
    CHECK_EQ_INT(st.channel[1], 2);
    CHECK_EQ_INT(st.samples_per_packet, SPP);
    CHECK(st.resolution_index <= 1);
    double scan_hz =
        (st.scan_config & 0x08 ? 48e6 : 4e6) / (st.scan_config & 0x02 ? 256 : 1) / st.scan_interval;
    CHECK(scan_hz <= 178.0); /* datasheet table 3.2.1 */
    nd_device_info info;
    CHECK(nd_capture_info(&cap, &info));
    CHECK(strcmp(info.serial, "360001234") == 0);
    CHECK(strcmp(info.fw, "1.43") == 0); /* ConfigU6 byte 10 = 1, byte 9 = 43 */
    CHECK(strcmp(info.model, "LabJack U6") == 0);
    CHECK(strcmp(info.channel_names[1], "AIN2-AIN3") == 0);
    CHECK_NEAR(info.rate_hz, scan_hz, 1e-9);
    CHECK_NEAR(info.counts_per_newton[0], 2e-3 * 5 * 1e8 / 2000, 1e-9); /* 500 */

    runner r;
    run_start(&r, dev, u6, st.starts + 1);
    int three = 3;
    CHECK(nd_fake_usb_wait(f, inflight_n, &three, 3000));

    /* 1. 25 packets = 100 scans. */
    send_scans(0, 25);
    CHECK(nd_capture_wait_sets(&cap, 100, 5000));
    CHECK_EQ_INT(check_scans(0, 100, 0, 0), 0);

    /* 2. A bad checksum drops one packet (4 scans): the counter shows the gap. */
    send_packet(100, 0, 0, ND_FAKE_U6_PKT_BAD_CHECKSUM);
    send_scans(104, 5);
    CHECK(nd_capture_wait_sets(&cap, 120, 5000));
    CHECK_EQ_INT(check_scans(100, 20, 104, 104), 0);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->frames_bad_crc), 1);
    CHECK(cap.sets[100].flags & ND_SAMPLE_AFTER_GAP);
    CHECK_EQ_INT(cap.sets[100].gap_sets, 4);

    /* 3. Packet counter jump: 3 packets never sent (12 scans). */
    nd_fake_u6_skip_packets(u6, 3);
    send_scans(136, 5);
    CHECK(nd_capture_wait_sets(&cap, 140, 5000));
    CHECK_EQ_INT(check_scans(120, 20, 136, 136), 0);
    CHECK_EQ_INT(cap.sets[120].gap_sets, 12);

    /* 4. A truncated packet is counted; the next counter shows its loss. */
    send_packet(156, 0, 0, ND_FAKE_U6_PKT_TRUNCATE);
    send_scans(160, 5);
    CHECK(nd_capture_wait_sets(&cap, 160, 5000));
    CHECK_EQ_INT(check_scans(140, 20, 160, 160), 0);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->frames_bad_length), 1);
    CHECK_EQ_INT(cap.sets[140].gap_sets, 4);

    /* 5. Auto-recovery: two packets with errorcode 59 (valid buffered data),
     * then errorcode 60 whose first scan is the 0xFFFF dummy and whose
     * TimeStamp field gives the scans discarded (37, dummy included). */
    send_packet(180, 59, 0, 0);
    send_packet(184, 59, 0, 0);
    {
        uint16_t s[SPP];
        s[0] = s[1] = 0xFFFF;
        for (int i = 2; i < SPP; i++) {
            uint64_t idx = (188 + 37) * NCH + (uint64_t)(i - 2);
            s[i] = bits_of(idx / NCH, (int)(idx % NCH));
        }
        nd_fake_u6_stream_packet(u6, s, 60, 37, 0);
    }
    send_scans(228, 3);
    CHECK(nd_capture_wait_sets(&cap, 183, 5000));
    CHECK_EQ_INT(check_scans(160, 8, 180, 180), 0);
    CHECK_EQ_INT(check_scans(168, 15, 225, 225), 0);
    CHECK_EQ_INT(cap.sets[168].gap_sets, 37);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->device_overflows), 37);
    CHECK_EQ_INT(nd_capture_count_events(&cap, ND_EV_OVERFLOW), 2);

    /* 6. A stall on the stream endpoint is cleared; nothing is lost. */
    unsigned halts = nd_fake_usb_clear_halts(f);
    nd_fake_usb_stall(f, EP_STREAM);
    send_scans(240, 5);
    CHECK(nd_capture_wait_sets(&cap, 203, 5000));
    CHECK_EQ_INT(check_scans(183, 20, 240, 240), 0);
    CHECK(nd_fake_usb_clear_halts(f) > halts);

    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->gap_sets), 4 + 12 + 4 + 37);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->sets), 203);

    /* 7. Unplug with transfers in flight; replug: reconfigured, restarted,
     * calibration read again. */
    CHECK(nd_fake_usb_wait(f, inflight_n, &three, 3000));
    nd_fake_usb_unplug(f);
    nd_device_event_kind lost = ND_EV_DEVICE_LOST, back = ND_EV_DEVICE_BACK;
    CHECK(nd_fake_usb_wait(f, event_seen, &lost, 5000));
    nd_fake_u6_power_cycle(u6);
    nd_fake_u6_state_get(u6, &st);
    CHECK(nd_fake_usb_plug(f) == 0);
    start_wait next = {u6, st.starts + 1};
    CHECK(nd_fake_usb_wait(f, started_n, &next, 10000));
    CHECK(nd_fake_usb_wait(f, event_seen, &back, 5000));
    nd_fake_u6_state after;
    nd_fake_u6_state_get(u6, &after);
    CHECK(after.configs > st.configs);
    CHECK(after.readcals >= st.readcals + 4); /* blocks 0-3 again */
    send_scans(0, 5);                         /* the device counts scans from 0 again */
    CHECK(nd_capture_wait_sets(&cap, 223, 5000));
    nd_capture_lock(&cap);
    const nd_sample *first = &cap.sets[203];
    CHECK(first->flags & ND_SAMPLE_AFTER_RECONNECT);
    CHECK(first->seq >= 260);
    CHECK_EQ_INT(first->seq - 260, first->gap_sets);
    uint64_t base = first->seq;
    nd_capture_unlock(&cap);
    CHECK_EQ_INT(check_scans(203, 20, base, 0), 0);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->disconnects), 1);
    CHECK_EQ_INT(atomic_load(&nd_device_counters(dev)->reconnects), 1);

    run_stop(&r);
    nd_fake_u6_state_get(u6, &st);
    CHECK(!st.streaming); /* StreamStop sent at the end */
    nd_device_close(dev);
}

int main(void)
{
    nd_log_set_level(ND_LOG_NOTICE);
    test_documented_arithmetic();
    test_rate_refusals();
    const nd_fake_u6_identity id = {.serial = SERIAL, .fw_major = 1, .fw_minor = 43};
    const nd_fake_u6_identity pro_id = {
        .serial = PRO_SERIAL, .fw_major = 1, .fw_minor = 50, .pro = true};
    u6 = nd_fake_u6_new(&id);
    nd_fake_u6 *pro = u6 ? nd_fake_u6_new(&pro_id) : NULL;
    CHECK(u6 != NULL && pro != NULL);
    if (!u6 || !pro || nd_capture_init(&cap, MAX_SETS, MAX_EVENTS) != 0) {
        CHECK(!"fake U6 and capture set up");
        nd_fake_u6_free(pro);
        nd_fake_u6_free(u6);
        return nd_test_finish("usbtest_labjack");
    }
    CHECK(nd_fake_usb_plug(nd_fake_u6_usb(u6)) == 0);
    test_bad_options();
    test_each_gain();
    test_calibration_fallback();
    test_erased_block();
    test_rate_at_limit();
    CHECK(nd_fake_usb_plug(nd_fake_u6_usb(pro)) == 0);
    test_pro_stream_uses_normal_constants(pro);
    nd_fake_usb_unplug(nd_fake_u6_usb(pro));
    test_default_and_faults();
    nd_capture_free(&cap);
    nd_fake_u6_free(pro);
    nd_fake_u6_free(u6);
    return nd_test_finish("usbtest_labjack");
}
