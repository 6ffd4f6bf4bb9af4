/* /clock rows written by nd_trial_file_append (TRIAL_FORMAT.md "Clock
 * pairs"): one at the first set, one at every set flagged gap, restart or
 * reconnect, and one at the last set of a read (sets read together share
 * host_ns) once host_ns advanced ND_TRIAL_CLOCK_PERIOD_NS; the
 * device clock unwrapped across its 32-bit wrap and restarted at a device
 * restart; -1 for sets without a device time; realtime = monotonic + the
 * host's offset. Expected rows are derived here from those rules and the
 * synthetic stream, then read back through the reader. Also: a file written
 * with nd_trial_file_add_clock() stores the rows as given. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nd_trial_file.h"
#include "nd_trial_reader.h"
#include "test_util.h"

#define RATE  1000.0
#define NSETS 20000

static char err[4400];

static int64_t realtime_offset_now(void)
{
    struct timespec m, r;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &r);
    return ((int64_t)r.tv_sec - (int64_t)m.tv_sec) * 1000000000 + (r.tv_nsec - m.tv_nsec);
}

int main(void)
{
    const char *dir = nd_test_tmpdir("clock");
    nd_trial_meta m;
    nd_trial_meta_init(&m, 2);
    snprintf(m.athlete_id, sizeof m.athlete_id, "clock");
    nd_trial_id_generate(m.trial_id, sizeof m.trial_id);
    m.sample_rate_hz = RATE;
    char path[1024];
    nd_trial_file *tf = nd_trial_file_create(dir, &m, 0, path, sizeof path, err, sizeof err);
    CHECK(tf != NULL);
    if (!tf) {
        fprintf(stderr, "%s\n", err);
        return nd_test_finish("test_trial_clock");
    }

    /* 20 s at 1 kHz. Host time: 1 ms per set, one set per read up to set
     * 10000, then reads of 25 sets stamped with the read's time (a coalesced
     * read: the newest set's arrival), plus 3 s of silence before set 12000
     * (a reconnect). Device time in us starts 6 s before its
     * 32-bit wrap, so it wraps at set 6000; the device restarts at set 15000
     * (seq and device clock start again). Sets 8000..8999 carry no device
     * time (0 = unknown). A gap of 5 sets before set 5000. */
    static nd_sample s[NSETS];
    const uint64_t host0 = 5000000000ull;
    const uint64_t dev0 = (1ull << 32) - 6000000ull;
    for (uint64_t i = 0; i < NSETS; i++) {
        nd_sample *x = &s[i];
        memset(x, 0, sizeof *x);
        x->nch = 2;
        x->raw[0] = (int32_t)i;
        x->raw[1] = -(int32_t)i;
        uint64_t dev_us;
        if (i < 15000) {
            x->seq = i < 5000 ? i : i + 5;
            dev_us = dev0 + x->seq * 1000;
        } else {
            x->seq = i - 15000;
            dev_us = 1000 + x->seq * 1000;
        }
        x->dev_t_us = (i >= 8000 && i < 9000) ? 0 : (uint32_t)dev_us;
        uint64_t read_end = i < 10000 ? i : i / 25 * 25 + 24;
        x->host_ns = host0 + read_end * 1000000ull + (i >= 12000 ? 3000000000ull : 0);
        if (i == 5000) {
            x->flags = ND_SAMPLE_AFTER_GAP;
            x->gap_sets = 5;
        }
        if (i == 12000) x->flags = ND_SAMPLE_AFTER_RECONNECT;
        if (i == 15000) x->flags = ND_SAMPLE_AFTER_RESTART;
    }
    int64_t off_before = realtime_offset_now();
    /* Odd batch sizes: rows must not depend on how the ring hands sets over. */
    for (size_t done = 0; done < NSETS;) {
        size_t n = NSETS - done < 777 ? NSETS - done : 777;
        CHECK_EQ_INT(nd_trial_file_append(tf, s + done, NULL, n, err, sizeof err), 0);
        done += n;
    }
    int64_t off_after = realtime_offset_now();
    nd_trial_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.pain_rating = -1;
    CHECK_EQ_INT(nd_trial_file_close(tf, &sum, err, sizeof err), 0);

    /* Expected rows from the rules. */
    typedef struct {
        uint64_t i;
        uint8_t reason;
    } want_row;
    static want_row want[NSETS];
    size_t nw = 0;
    uint64_t next = 0;
    for (uint64_t i = 0; i < NSETS; i++) {
        uint8_t reason = 255;
        if (i == 0)
            reason = ND_CLOCK_FIRST;
        else if (s[i].flags & ND_SAMPLE_AFTER_RECONNECT)
            reason = ND_CLOCK_RECONNECT;
        else if (s[i].flags & ND_SAMPLE_AFTER_RESTART)
            reason = ND_CLOCK_RESTART;
        else if (s[i].flags & ND_SAMPLE_AFTER_GAP)
            reason = ND_CLOCK_GAP;
        else if (i + 1 < NSETS && s[i + 1].host_ns != s[i].host_ns && s[i].host_ns >= next)
            reason = ND_CLOCK_PERIODIC; /* the last set of its read */
        if (reason == 255) continue;
        want[nw].i = i;
        want[nw++].reason = reason;
        next = s[i].host_ns + ND_TRIAL_CLOCK_PERIOD_NS;
    }

    nd_trial_reader *r = nd_trial_reader_open(path, err, sizeof err);
    CHECK(r != NULL);
    if (!r) return nd_test_finish("test_trial_clock");
    const nd_trial_info *in = nd_trial_reader_info(r);
    CHECK(in->has_clock);
    CHECK_EQ_INT(in->schema_minor, ND_TRIAL_SCHEMA_MINOR);
    CHECK_EQ_INT(in->clock_rows, nw);
    nd_trial_clock_row *rows = calloc(nw, sizeof *rows);
    CHECK_EQ_INT(nd_trial_reader_read_clock(r, 0, nw, rows, err, sizeof err), 0);
    int bad_index = 0, bad_reason = 0, bad_dev = 0, bad_rt = 0, bad_mono = 0;
    for (size_t k = 0; k < nw && k < in->clock_rows; k++) {
        uint64_t i = want[k].i;
        bad_index += rows[k].sample_index != i || rows[k].seq != s[i].seq;
        bad_reason += rows[k].reason != want[k].reason;
        bad_mono += rows[k].host_monotonic_ns != s[i].host_ns;
        int64_t dev;
        if (i >= 8000 && i < 9000)
            dev = -1;
        else if (i < 15000)
            dev = (int64_t)dev0 + (int64_t)s[i].seq * 1000; /* unwrapped past 2^32 */
        else
            dev = 1000 + (int64_t)s[i].seq * 1000;
        bad_dev += rows[k].device_time_us != dev;
        int64_t off = rows[k].host_realtime_ns - (int64_t)rows[k].host_monotonic_ns;
        bad_rt += off < off_before - 1000000 || off > off_after + 1000000;
    }
    CHECK_EQ_INT(bad_index, 0);
    CHECK_EQ_INT(bad_reason, 0);
    CHECK_EQ_INT(bad_mono, 0);
    CHECK_EQ_INT(bad_dev, 0);
    CHECK_EQ_INT(bad_rt, 0);
    /* 20 s of sets at 4 rows per second, plus the gap, reconnect and restart rows. */
    CHECK(nw >= 4 * 20 && nw <= 4 * 20 + 4);
    free(rows);
    nd_trial_reader_close(r);

    /* nd_trial_file_add_clock() stores rows verbatim. */
    nd_trial_id_generate(m.trial_id, sizeof m.trial_id);
    tf = nd_trial_file_create(dir, &m, 0, path, sizeof path, err, sizeof err);
    CHECK(tf != NULL);
    if (tf) {
        nd_trial_clock_row c = {.sample_index = 7,
                                .seq = 9,
                                .host_monotonic_ns = 11,
                                .host_realtime_ns = -13,
                                .device_time_us = ND_TRIAL_NO_DEVICE_TIME,
                                .reason = ND_CLOCK_RECONNECT};
        CHECK_EQ_INT(nd_trial_file_add_clock(tf, &c, err, sizeof err), 0);
        CHECK_EQ_INT(nd_trial_file_close(tf, &sum, err, sizeof err), 0);
        r = nd_trial_reader_open(path, err, sizeof err);
        CHECK(r != NULL);
        if (r) {
            nd_trial_clock_row back;
            CHECK_EQ_INT(nd_trial_reader_info(r)->clock_rows, 1);
            CHECK_EQ_INT(nd_trial_reader_read_clock(r, 0, 1, &back, err, sizeof err), 0);
            CHECK(back.sample_index == 7 && back.seq == 9 && back.host_monotonic_ns == 11 &&
                  back.host_realtime_ns == -13 && back.device_time_us == -1 &&
                  back.reason == ND_CLOCK_RECONNECT);
            nd_trial_reader_close(r);
        }
    }
    return nd_test_finish("test_trial_clock");
}
