/* Trial file writer: layout up front, SWMR appends, timed flushes (see
 * nd_trial_file.h and TRIAL_FORMAT.md). */
#include "nd_trial_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nd_log.h"
#include "nd_trial_h5.h"
#include "nd_trial_layout.h"
#include "nd_trial_recover.h"
#include "nd_trial_sets.h"

#define FLUSH_HISTORY 8192

enum { D_RAW, D_FORCE, D_SEQ, D_COUNT };

struct nd_trial_file {
    hid_t file;
    hid_t d[D_COUNT];
    hid_t d_reps, d_events, d_clock, d_sets;
    hid_t rep_type, event_type, clock_type, set_type;
    int nch;
    size_t chunk_rows;
    /* Rows not yet handed to HDF5; they start at dataset row rows_written. */
    int32_t *buf_raw;
    double *buf_force;
    uint64_t *buf_seq;
    size_t buf_rows;
    nd_calibration cal;
    nd_trial_file_stats st;
    uint64_t interval_ns;
    /* Clock pairs: host time of the last row, and the device clock unwrapped
     * (NFP/1 and text devices send 32-bit microseconds that wrap every 71.6 min). */
    uint64_t next_clock_ns;
    /* The previous set, a periodic pair's candidate once the set after it
     * shows that it was the last of its read (its arrival stamp is then the
     * freshest: sets read together share the read's time). */
    nd_trial_clock_row prev;
    bool have_prev, prev_has_row;
    uint32_t last_dev_us;
    int64_t dev_us_epoch;
    bool have_dev_us;
    uint64_t flush_hist[FLUSH_HISTORY];
    int fd; /* our own descriptor: fdatasync and the "in use" lock */
    char path[PATH_MAX];
    char error[PATH_MAX + 512];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t nd_trial_chunk_rows(int nch)
{
    /* The smallest per-row dataset is raw (4*nch bytes) or seq (8 bytes); make
     * its chunk 64 KiB. The largest, force_N at 8 channels, is then
     * 8192 * 64 B = 512 KiB, inside the 64 KiB..1 MiB band. */
    size_t smallest_row = (size_t)(nch < 2 ? 4 * nch : 8);
    if (nch < 1) smallest_row = 4;
    return 65536 / smallest_row;
}

/* Latches the writer into the failed state with a message from the HDF5
 * error stack (or errno text when what_errno != 0). */
static int fail(nd_trial_file *tf, char *err, size_t errlen, const char *what, int sys_errno)
{
    char reason[384];
    if (sys_errno)
        snprintf(reason, sizeof reason, "%s: %s", what, strerror(sys_errno));
    else
        nd_h5_error(reason, sizeof reason, what);
    snprintf(tf->error, sizeof tf->error,
             "trial file %s: %s (file valid up to the last flush: %llu sample sets)", tf->path,
             reason, (unsigned long long)tf->st.rows_flushed);
    if (!tf->st.failed) nd_err("%s", tf->error);
    tf->st.failed = true;
    if (err && errlen) snprintf(err, errlen, "%s", tf->error);
    return -1;
}

static int refuse(nd_trial_file *tf, char *err, size_t errlen)
{
    if (err && errlen) snprintf(err, errlen, "%s", tf->error);
    return -1;
}

static int extend_write(hid_t d, int rank, hsize_t first, hsize_t rows, hsize_t cols,
                        hid_t mem_type, const void *buf)
{
    hsize_t dims[2] = {first + rows, cols};
    hsize_t start[2] = {first, 0}, count[2] = {rows, cols};
    if (H5Dset_extent(d, dims) < 0) return -1;
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(rank, count, NULL);
    int rc = -1;
    if (fs >= 0 && ms >= 0 &&
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
        H5Dwrite(d, mem_type, ms, fs, H5P_DEFAULT, buf) >= 0)
        rc = 0;
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return rc;
}

/* Hands the buffered rows to HDF5 (they become durable at the next flush). */
static int write_buffer(nd_trial_file *tf, char *err, size_t errlen)
{
    if (tf->buf_rows == 0) return 0;
    hsize_t first = tf->st.rows_written, rows = tf->buf_rows, nch = (hsize_t)tf->nch;
    if (extend_write(tf->d[D_RAW], 2, first, rows, nch, H5T_NATIVE_INT32, tf->buf_raw) < 0)
        return fail(tf, err, errlen, "writing /samples/raw", 0);
    if (extend_write(tf->d[D_FORCE], 2, first, rows, nch, H5T_NATIVE_DOUBLE, tf->buf_force) < 0)
        return fail(tf, err, errlen, "writing /samples/force_N", 0);
    if (extend_write(tf->d[D_SEQ], 1, first, rows, 1, H5T_NATIVE_UINT64, tf->buf_seq) < 0)
        return fail(tf, err, errlen, "writing /samples/seq", 0);
    tf->st.rows_written += rows;
    tf->buf_rows = 0;
    return 0;
}

/* Copies up to the next chunk boundary; returns how many rows were taken. */
static size_t buffer_room(const nd_trial_file *tf)
{
    return tf->chunk_rows - (size_t)((tf->st.rows_written + tf->buf_rows) % tf->chunk_rows);
}

static int after_copy(nd_trial_file *tf, char *err, size_t errlen)
{
    if ((tf->st.rows_written + tf->buf_rows) % tf->chunk_rows == 0)
        return write_buffer(tf, err, errlen);
    return 0;
}

static int maybe_clock(nd_trial_file *tf, const nd_sample *s, uint64_t index, char *err,
                       size_t errlen);

int nd_trial_file_append(nd_trial_file *tf, const nd_sample *sets, const double *force_N, size_t n,
                         char *err, size_t errlen)
{
    if (tf->st.failed) {
        tf->st.rejected_rows += n;
        return refuse(tf, err, errlen);
    }
    const int nch = tf->nch;
    size_t done = 0;
    while (done < n) {
        size_t k = buffer_room(tf);
        if (k > n - done) k = n - done;
        int32_t *raw = tf->buf_raw + tf->buf_rows * (size_t)nch;
        double *force = tf->buf_force + tf->buf_rows * (size_t)nch;
        for (size_t i = 0; i < k; i++) {
            const nd_sample *s = &sets[done + i];
            if (maybe_clock(tf, s, tf->st.rows_appended + i, err, errlen) < 0) {
                tf->st.rejected_rows += n - done;
                return -1;
            }
            tf->buf_seq[tf->buf_rows + i] = s->seq;
            for (int ch = 0; ch < nch; ch++) {
                raw[i * (size_t)nch + (size_t)ch] = s->raw[ch];
                force[i * (size_t)nch + (size_t)ch] =
                    force_N ? force_N[(done + i) * (size_t)nch + (size_t)ch]
                            : nd_calibration_apply(&tf->cal, ch, s->raw[ch]);
            }
        }
        tf->buf_rows += k;
        done += k;
        tf->st.rows_appended += k;
        if (after_copy(tf, err, errlen) < 0) {
            tf->st.rejected_rows += n - done;
            return -1;
        }
    }
    return 0;
}

int nd_trial_file_append_columns(nd_trial_file *tf, const int32_t *raw, const double *force_N,
                                 const uint64_t *seq, size_t n, char *err, size_t errlen)
{
    if (tf->st.failed) {
        tf->st.rejected_rows += n;
        return refuse(tf, err, errlen);
    }
    const size_t nch = (size_t)tf->nch;
    size_t done = 0;
    while (done < n) {
        size_t k = buffer_room(tf);
        if (k > n - done) k = n - done;
        memcpy(tf->buf_raw + tf->buf_rows * nch, raw + done * nch, k * nch * sizeof *raw);
        memcpy(tf->buf_force + tf->buf_rows * nch, force_N + done * nch, k * nch * sizeof *force_N);
        memcpy(tf->buf_seq + tf->buf_rows, seq + done, k * sizeof *seq);
        tf->buf_rows += k;
        done += k;
        tf->st.rows_appended += k;
        if (after_copy(tf, err, errlen) < 0) {
            tf->st.rejected_rows += n - done;
            return -1;
        }
    }
    return 0;
}

int nd_trial_file_add_clock(nd_trial_file *tf, const nd_trial_clock_row *row, char *err,
                            size_t errlen)
{
    if (tf->st.failed) return refuse(tf, err, errlen);
    if (extend_write(tf->d_clock, 1, tf->st.clock_rows, 1, 1, tf->clock_type, row) < 0)
        return fail(tf, err, errlen, "writing /clock", 0);
    tf->st.clock_rows++;
    return 0;
}

static int64_t unwrap_device_us(nd_trial_file *tf, const nd_sample *s)
{
    if (s->dev_t_us == 0) return ND_TRIAL_NO_DEVICE_TIME; /* nd_sample: 0 = unknown */
    if (s->flags & ND_SAMPLE_AFTER_RESTART) {
        tf->dev_us_epoch = 0; /* a restarted device counts from its own zero again */
    } else if (tf->have_dev_us && s->dev_t_us < tf->last_dev_us) {
        tf->dev_us_epoch += (int64_t)1 << 32;
    }
    tf->have_dev_us = true;
    tf->last_dev_us = s->dev_t_us;
    return tf->dev_us_epoch + (int64_t)s->dev_t_us;
}

/* Host CLOCK_REALTIME of a CLOCK_MONOTONIC instant: the offset between the
 * two clocks is read now, between two monotonic readings (its error is half
 * their distance, well under a microsecond). */
static int64_t realtime_of(uint64_t mono_ns)
{
    struct timespec m0, rt, m1;
    clock_gettime(CLOCK_MONOTONIC, &m0);
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &m1);
    int64_t mono_mid = ((int64_t)m0.tv_sec * 1000000000 + m0.tv_nsec +
                        (int64_t)m1.tv_sec * 1000000000 + m1.tv_nsec) /
                       2;
    int64_t offset = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec - mono_mid;
    return (int64_t)mono_ns + offset;
}

/* Clock rows (TRIAL_FORMAT.md, /clock): for the first set and the first set
 * after a gap, restart or reconnect at once; periodically for the last set of
 * a read, once host time has advanced ND_TRIAL_CLOCK_PERIOD_NS since the
 * previous row. Sets read together (a coalesced read, a multi-set frame)
 * share the read's host_ns, which is late for all but the newest of them. */
static int maybe_clock(nd_trial_file *tf, const nd_sample *s, uint64_t index, char *err,
                       size_t errlen)
{
    if (tf->have_prev && !tf->prev_has_row && s->host_ns != tf->prev.host_monotonic_ns &&
        tf->prev.host_monotonic_ns >= tf->next_clock_ns) {
        nd_trial_clock_row row = tf->prev;
        row.host_realtime_ns = realtime_of(row.host_monotonic_ns);
        row.reason = ND_CLOCK_PERIODIC;
        tf->next_clock_ns = row.host_monotonic_ns + ND_TRIAL_CLOCK_PERIOD_NS;
        if (nd_trial_file_add_clock(tf, &row, err, errlen) < 0) return -1;
    }
    uint8_t reason = 0xff;
    if (tf->st.clock_rows == 0)
        reason = ND_CLOCK_FIRST;
    else if (s->flags & ND_SAMPLE_AFTER_RECONNECT)
        reason = ND_CLOCK_RECONNECT;
    else if (s->flags & ND_SAMPLE_AFTER_RESTART)
        reason = ND_CLOCK_RESTART;
    else if (s->flags & ND_SAMPLE_AFTER_GAP)
        reason = ND_CLOCK_GAP;
    tf->prev = (nd_trial_clock_row){
        .sample_index = index,
        .seq = s->seq,
        .host_monotonic_ns = s->host_ns,
        .device_time_us = unwrap_device_us(tf, s), /* every set: follows each wrap */
    };
    tf->have_prev = true;
    tf->prev_has_row = reason != 0xff;
    if (!tf->prev_has_row) return 0;
    nd_trial_clock_row row = tf->prev;
    row.host_realtime_ns = realtime_of(s->host_ns);
    row.reason = reason;
    tf->next_clock_ns = s->host_ns + ND_TRIAL_CLOCK_PERIOD_NS;
    return nd_trial_file_add_clock(tf, &row, err, errlen);
}

int nd_trial_file_add_rep(nd_trial_file *tf, const nd_rep_result *rep, char *err, size_t errlen)
{
    if (tf->st.failed) return refuse(tf, err, errlen);
    nd_h5_rep_row row;
    nd_h5_rep_to_row(rep, &row);
    if (extend_write(tf->d_reps, 1, tf->st.reps, 1, 1, tf->rep_type, &row) < 0)
        return fail(tf, err, errlen, "writing /reps", 0);
    tf->st.reps++;
    return 0;
}

int nd_trial_file_add_set(nd_trial_file *tf, const nd_set_result *set, char *err, size_t errlen)
{
    if (tf->st.failed) return refuse(tf, err, errlen);
    nd_h5_set_row row;
    nd_h5_set_to_row(set, &row);
    if (extend_write(tf->d_sets, 1, tf->st.sets, 1, 1, tf->set_type, &row) < 0)
        return fail(tf, err, errlen, "writing /sets", 0);
    tf->st.sets++;
    return 0;
}

int nd_trial_file_add_event(nd_trial_file *tf, double t_s, const char *kind, const char *detail,
                            char *err, size_t errlen)
{
    if (tf->st.failed) return refuse(tf, err, errlen);
    nd_h5_event_row row;
    memset(&row, 0, sizeof row);
    row.t_s = t_s;
    nd_utf8_copy(row.kind, kind ? kind : "", ND_TRIAL_EVENT_KIND_MAX);
    nd_utf8_copy(row.detail, detail ? detail : "", ND_TRIAL_EVENT_DETAIL_MAX);
    if (extend_write(tf->d_events, 1, tf->st.events, 1, 1, tf->event_type, &row) < 0)
        return fail(tf, err, errlen, "writing /events", 0);
    tf->st.events++;
    return 0;
}

int nd_trial_file_flush(nd_trial_file *tf, char *err, size_t errlen)
{
    if (tf->st.failed) return refuse(tf, err, errlen);
    uint64_t t0 = now_ns();
    if (write_buffer(tf, err, errlen) < 0) return -1;
    for (int i = 0; i < D_COUNT; i++)
        if (H5Dflush(tf->d[i]) < 0) return fail(tf, err, errlen, "flushing /samples", 0);
    if (H5Dflush(tf->d_reps) < 0 || H5Dflush(tf->d_events) < 0 || H5Dflush(tf->d_clock) < 0 ||
        H5Dflush(tf->d_sets) < 0)
        return fail(tf, err, errlen, "flushing /reps, /events, /clock and /sets", 0);
    /* Survive power loss, not only kill -9: the page cache must reach the disk. */
    if (fdatasync(tf->fd) < 0 && errno != EINVAL) return fail(tf, err, errlen, "fdatasync", errno);
    uint64_t t1 = now_ns();
    tf->st.rows_flushed = tf->st.rows_written;
    tf->flush_hist[tf->st.flushes % FLUSH_HISTORY] = t1 - t0;
    tf->st.flushes++;
    if (t1 - t0 > tf->st.flush_max_ns) tf->st.flush_max_ns = t1 - t0;
    tf->st.last_flush_ns = t1;
    return 0;
}

int nd_trial_file_maybe_flush(nd_trial_file *tf, uint64_t now, char *err, size_t errlen)
{
    if (tf->st.failed) return refuse(tf, err, errlen);
    if (now < nd_trial_file_next_flush_ns(tf)) return 0;
    return nd_trial_file_flush(tf, err, errlen) < 0 ? -1 : 1;
}

uint64_t nd_trial_file_next_flush_ns(const nd_trial_file *tf)
{
    return tf->st.last_flush_ns + tf->interval_ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void nd_trial_file_get_stats(const nd_trial_file *tf, nd_trial_file_stats *out)
{
    *out = tf->st;
    size_t n = tf->st.flushes < FLUSH_HISTORY ? (size_t)tf->st.flushes : FLUSH_HISTORY;
    out->flush_p99_ns = 0;
    if (n) {
        uint64_t *copy = malloc(n * sizeof *copy);
        if (copy) {
            memcpy(copy, tf->flush_hist, n * sizeof *copy);
            qsort(copy, n, sizeof *copy, cmp_u64);
            size_t idx = (size_t)ceil(0.99 * (double)n) - 1;
            out->flush_p99_ns = copy[idx];
            free(copy);
        }
    }
}

bool nd_trial_file_failed(const nd_trial_file *tf)
{
    return tf->st.failed;
}

const char *nd_trial_file_error(const nd_trial_file *tf)
{
    return tf->error;
}

const char *nd_trial_file_path(const nd_trial_file *tf)
{
    return tf->path;
}

static void close_handles(nd_trial_file *tf)
{
    for (int i = 0; i < D_COUNT; i++)
        if (tf->d[i] >= 0) H5Dclose(tf->d[i]);
    if (tf->d_reps >= 0) H5Dclose(tf->d_reps);
    if (tf->d_events >= 0) H5Dclose(tf->d_events);
    if (tf->d_clock >= 0) H5Dclose(tf->d_clock);
    if (tf->rep_type >= 0) H5Tclose(tf->rep_type);
    if (tf->event_type >= 0) H5Tclose(tf->event_type);
    if (tf->clock_type >= 0) H5Tclose(tf->clock_type);
    if (tf->d_sets >= 0) H5Dclose(tf->d_sets);
    if (tf->set_type >= 0) H5Tclose(tf->set_type);
    for (int i = 0; i < D_COUNT; i++) tf->d[i] = -1;
    tf->d_reps = tf->d_events = tf->d_clock = tf->d_sets = -1;
    tf->rep_type = tf->event_type = tf->clock_type = tf->set_type = -1;
}

static void free_writer(nd_trial_file *tf)
{
    free(tf->buf_raw);
    free(tf->buf_force);
    free(tf->buf_seq);
    if (tf->fd >= 0) close(tf->fd); /* also drops the "in use" lock */
    free(tf);
}

/* After close: summary attributes on /reps and status "complete". The file is
 * reopened without SWMR because SWMR writers may not create attributes. */
static int write_summary(nd_trial_file *tf, const nd_trial_summary *sum, char *err, size_t errlen)
{
    hid_t fapl = nd_h5_fapl();
    hid_t f = H5Fopen(tf->path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        nd_h5_error(err, errlen, "reopening to write the summary");
        return -1;
    }
    int rc = 0;
    hid_t reps = H5Dopen2(f, "/reps", H5P_DEFAULT);
    rc = reps >= 0 ? nd_trial_write_summary_attrs(reps, sum) : -1;
    if (reps >= 0) H5Dclose(reps);
    char when[32];
    nd_utc_iso((int64_t)time(NULL), when, sizeof when);
    if (rc == 0) rc = nd_h5_attr_str(f, "closed_utc", when);
    if (rc == 0) rc = nd_h5_attr_u64(f, "samples_written", tf->st.rows_written);
    if (rc == 0) /* last: "complete" promises everything above is there */
        rc = nd_h5_attr_str(f, "status", ND_TRIAL_STATUS_COMPLETE);
    if (rc < 0) nd_h5_error(err, errlen, "writing the summary");
    if (H5Fclose(f) < 0 && rc == 0) {
        nd_h5_error(err, errlen, "closing after the summary");
        rc = -1;
    }
    if (rc == 0 && fdatasync(tf->fd) < 0 && errno != EINVAL) {
        snprintf(err, errlen, "fdatasync: %s", strerror(errno));
        rc = -1;
    }
    return rc;
}

int nd_trial_file_close(nd_trial_file *tf, const nd_trial_summary *summary, char *err,
                        size_t errlen)
{
    nd_h5_quiet();
    int rc = 0;
    char why[384] = "";
    if (!tf->st.failed && nd_trial_file_flush(tf, why, sizeof why) < 0) rc = -1;
    bool failed = tf->st.failed;
    if (failed) {
        /* Do not let the close write metadata for rows that never reached the
         * disk: shrink the datasets back to what the last flush made durable. */
        hsize_t dims[2] = {tf->st.rows_flushed, (hsize_t)tf->nch};
        for (int i = 0; i < D_COUNT; i++) H5Dset_extent(tf->d[i], dims);
        H5Eclear2(H5E_DEFAULT);
    }
    close_handles(tf);
    if (H5Fclose(tf->file) < 0 && !failed) {
        nd_h5_error(why, sizeof why, "closing");
        rc = -1;
    }
    H5Eclear2(H5E_DEFAULT);
    /* Without a summary the trial is not complete: the file stays
     * "recording" (closed cleanly) and recovery marks it interrupted. */
    if (!failed && rc == 0 && summary) {
        if (write_summary(tf, summary, why, sizeof why) < 0) rc = -1;
    }
    if (failed) {
        snprintf(err, errlen, "%s", tf->error);
        rc = -1;
    } else if (rc < 0) {
        snprintf(err, errlen, "trial file %s: %s", tf->path, why);
        nd_err("%s", err);
    } else {
        nd_info("trial file %s closed: %llu sample sets, %llu reps, %llu events", tf->path,
                (unsigned long long)tf->st.rows_written, (unsigned long long)tf->st.reps,
                (unsigned long long)tf->st.events);
    }
    if (failed) {
        /* Repair and mark it interrupted now if the disk allows; otherwise
         * the start-up recovery does it. Our lock must go first. */
        close(tf->fd);
        tf->fd = -1;
        char msg[512];
        uint64_t kept = 0;
        if (nd_trial_recover_file(tf->path, &kept, msg, sizeof msg) == ND_RECOVER_RECOVERED)
            nd_warn("trial file %s: %s", tf->path, msg);
        else
            nd_warn("trial file %s left for recovery at the next start: %s", tf->path, msg);
    }
    free_writer(tf);
    return rc;
}

/* ---- creation ---- */

static int check_meta(const nd_trial_meta *m, double interval, char *err, size_t errlen)
{
    if (nd_trial_athlete_id_check(m->athlete_id, err, errlen) < 0 ||
        nd_trial_id_check(m->trial_id, err, errlen) < 0)
        return -1;
    if (m->nch < 1 || m->nch > ND_MAX_CHANNELS) {
        snprintf(err, errlen, "channel count %d out of range 1..%d", m->nch, ND_MAX_CHANNELS);
        return -1;
    }
    if (!(m->sample_rate_hz > 0) || !isfinite(m->sample_rate_hz)) {
        snprintf(err, errlen, "sample rate %g Hz is not a positive number", m->sample_rate_hz);
        return -1;
    }
    if (m->calibration.left_channel < 0 || m->calibration.left_channel >= m->nch ||
        m->calibration.right_channel < 0 || m->calibration.right_channel >= m->nch) {
        snprintf(err, errlen, "channel mapping left=%d right=%d outside 0..%d",
                 m->calibration.left_channel, m->calibration.right_channel, m->nch - 1);
        return -1;
    }
    for (int ch = 0; ch < m->nch; ch++)
        if (!isfinite(m->calibration.offset[ch]) || !isfinite(m->calibration.gain[ch])) {
            snprintf(err, errlen, "calibration of channel %d is not finite", ch);
            return -1;
        }
    if (!(interval > 0 && interval <= ND_TRIAL_FLUSH_MAX_S)) {
        snprintf(err, errlen, "flush interval %g s outside (0, %g]", interval,
                 ND_TRIAL_FLUSH_MAX_S);
        return -1;
    }
    return 0;
}

static int check_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        snprintf(err, errlen, "data directory '%s' %s: %s", dir,
                 errno == ENOENT ? "does not exist" : "is not accessible", strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "data directory '%s' is not a directory", dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        snprintf(err, errlen, "data directory '%s' is not writable: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static hid_t create_samples(hid_t group, const char *name, int rank, int nch, size_t chunk_rows,
                            hid_t file_type, size_t elem_size, int deflate_level)
{
    hsize_t dims[2] = {0, (hsize_t)nch};
    hsize_t maxdims[2] = {H5S_UNLIMITED, (hsize_t)nch};
    hsize_t chunk[2] = {chunk_rows, (hsize_t)nch};
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, chunk);
    /* Never pre-fill: every stored row is written by us. */
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    if (deflate_level > 0) {
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, (unsigned)deflate_level);
    }
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    size_t chunk_bytes = chunk_rows * (rank == 2 ? (size_t)nch : 1) * elem_size;
    H5Pset_chunk_cache(dapl, 521, 2 * chunk_bytes, 1.0);
    hid_t d = H5Dcreate2(group, name, file_type, space, H5P_DEFAULT, dcpl, dapl);
    H5Pclose(dapl);
    H5Pclose(dcpl);
    H5Sclose(space);
    return d;
}

static hid_t create_table(hid_t file, const char *name, hid_t mem_type, hsize_t chunk_rows)
{
    hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {chunk_rows};
    hid_t space = H5Screate_simple(1, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    hid_t ftype = nd_h5_packed(mem_type);
    hid_t d = H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Tclose(ftype);
    H5Pclose(dcpl);
    H5Sclose(space);
    return d;
}

static int build_layout(nd_trial_file *tf, const nd_trial_meta *m, double interval, int level)
{
    if (nd_trial_write_root_attrs(tf->file, m, interval, tf->chunk_rows) < 0) return -1;
    hid_t g = H5Gcreate2(tf->file, "/samples", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return -1;
    tf->d[D_RAW] =
        create_samples(g, "raw", 2, m->nch, tf->chunk_rows, H5T_STD_I32LE, sizeof(int32_t), level);
    tf->d[D_FORCE] = create_samples(g, "force_N", 2, m->nch, tf->chunk_rows, H5T_IEEE_F64LE,
                                    sizeof(double), level);
    tf->d[D_SEQ] =
        create_samples(g, "seq", 1, m->nch, tf->chunk_rows, H5T_STD_U64LE, sizeof(uint64_t), level);
    H5Gclose(g);
    tf->rep_type = nd_h5_rep_mem_type();
    tf->event_type = nd_h5_event_mem_type();
    tf->d_reps = create_table(tf->file, "/reps", tf->rep_type, 64);
    tf->d_events = create_table(tf->file, "/events", tf->event_type, 64);
    /* 4 rows/s: one 256-row chunk per minute. */
    tf->clock_type = nd_h5_clock_mem_type();
    tf->d_clock = create_table(tf->file, "/clock", tf->clock_type, 256);
    /* Schema 1.1: /sets (created now: SWMR writers cannot create datasets). */
    tf->set_type = nd_h5_set_mem_type();
    tf->d_sets = nd_trial_sets_create(tf->file, &m->plan);
    for (int i = 0; i < D_COUNT; i++)
        if (tf->d[i] < 0) return -1;
    if (tf->d_reps < 0 || tf->d_events < 0 || tf->d_clock < 0 || tf->d_sets < 0) return -1;
    if (nd_trial_write_clock_attrs(tf->d_clock) < 0) return -1;
    return nd_trial_write_dataset_attrs(tf->d[D_RAW], tf->d[D_FORCE], tf->d[D_SEQ], tf->d_reps,
                                        tf->d_events);
}

static void sync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

nd_trial_file *nd_trial_file_create(const char *data_dir, const nd_trial_meta *meta,
                                    double flush_interval_s, char *path_out, size_t path_len,
                                    char *err, size_t errlen)
{
    nd_trial_storage storage = {.deflate_level = ND_TRIAL_DEFLATE_DEFAULT};
    return nd_trial_file_create_with(data_dir, meta, flush_interval_s, &storage, path_out, path_len,
                                     err, errlen);
}

int nd_trial_file_storage_sizes(nd_trial_file *tf, uint64_t out[3])
{
    for (int i = 0; i < D_COUNT; i++) {
        if (tf->d[i] < 0) return -1;
        out[i] = H5Dget_storage_size(tf->d[i]);
    }
    return 0;
}

nd_trial_file *nd_trial_file_create_with(const char *data_dir, const nd_trial_meta *meta,
                                         double flush_interval_s, const nd_trial_storage *storage,
                                         char *path_out, size_t path_len, char *err, size_t errlen)
{
    nd_h5_quiet();
    if (storage && (storage->deflate_level < 0 || storage->deflate_level > 9)) {
        snprintf(err, errlen, "deflate level %d is not in 0..9", storage->deflate_level);
        return NULL;
    }
    if (flush_interval_s == 0) flush_interval_s = ND_TRIAL_FLUSH_DEFAULT_S;
    if (check_meta(meta, flush_interval_s, err, errlen) < 0 || check_dir(data_dir, err, errlen) < 0)
        return NULL;
    char name[256], tmp[PATH_MAX];
    if (nd_trial_file_name(meta, name, sizeof name, err, errlen) < 0) return NULL;
    nd_trial_file *tf = calloc(1, sizeof *tf);
    if (!tf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    tf->file = -1;
    tf->fd = -1;
    close_handles(tf);
    tf->nch = meta->nch;
    tf->chunk_rows = nd_trial_chunk_rows(meta->nch);
    tf->st.chunk_rows = tf->chunk_rows;
    tf->cal = meta->calibration;
    tf->interval_ns = (uint64_t)(flush_interval_s * 1e9);
    if (snprintf(tf->path, sizeof tf->path, "%s/%s", data_dir, name) >= (int)sizeof tf->path ||
        snprintf(tmp, sizeof tmp, "%s/.%s.partial", data_dir, name) >= (int)sizeof tmp) {
        snprintf(err, errlen, "data directory path too long");
        free(tf);
        return NULL;
    }
    if (access(tf->path, F_OK) == 0) {
        snprintf(err, errlen, "trial file %s already exists (refusing to overwrite)", tf->path);
        free(tf);
        return NULL;
    }
    tf->buf_raw = malloc(tf->chunk_rows * (size_t)tf->nch * sizeof *tf->buf_raw);
    tf->buf_force = malloc(tf->chunk_rows * (size_t)tf->nch * sizeof *tf->buf_force);
    tf->buf_seq = malloc(tf->chunk_rows * sizeof *tf->buf_seq);
    if (!tf->buf_raw || !tf->buf_force || !tf->buf_seq) {
        snprintf(err, errlen, "out of memory");
        free_writer(tf);
        return NULL;
    }
    /* Create it ourselves so the mode is exactly 0640 whatever the umask. */
    tf->fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (tf->fd < 0) {
        snprintf(err, errlen, "cannot create trial file in '%s': %s", data_dir, strerror(errno));
        free_writer(tf);
        return NULL;
    }
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fchmod(tf->fd, 0640) < 0 || fcntl(tf->fd, F_OFD_SETLK, &lk) < 0) {
        snprintf(err, errlen, "cannot prepare trial file %s: %s", tmp, strerror(errno));
        unlink(tmp);
        free_writer(tf);
        return NULL;
    }
    hid_t fapl = nd_h5_fapl();
    tf->file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    const char *step = "creating the HDF5 file";
    int ok = tf->file >= 0;
    if (ok) {
        step = "creating the layout";
        ok = build_layout(tf, meta, flush_interval_s, storage ? storage->deflate_level : 0) == 0;
    }
    if (ok) {
        step = "starting SWMR write mode";
        ok = H5Fstart_swmr_write(tf->file) >= 0;
    }
    if (ok && renameat2(AT_FDCWD, tmp, AT_FDCWD, tf->path, RENAME_NOREPLACE) < 0) {
        snprintf(err, errlen, "cannot rename %s to its final name: %s", tmp, strerror(errno));
        ok = 0;
        step = NULL;
    }
    if (ok != 1) {
        if (step) {
            char what[PATH_MAX + 64];
            snprintf(what, sizeof what, "trial file %s: %s", tf->path, step);
            nd_h5_error(err, errlen, what);
        }
        close_handles(tf);
        if (tf->file >= 0) H5Fclose(tf->file);
        H5Eclear2(H5E_DEFAULT);
        unlink(tmp);
        free_writer(tf);
        return NULL;
    }
    sync_dir(data_dir);
    tf->st.last_flush_ns = now_ns();
    if (path_out && path_len) snprintf(path_out, path_len, "%s", tf->path);
    nd_info("trial file %s created (%d channels, %zu rows per chunk, flush every %.3f s)", tf->path,
            tf->nch, tf->chunk_rows, flush_interval_s);
    return tf;
}
