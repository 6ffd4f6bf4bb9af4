/* The file writer thread: a lossless ring consumer that stores every sample
 * set of a trial, with its reps and events, in the trial's HDF5 file
 * (nd_trial_file.h). All HDF5 calls of the daemon happen on this thread.
 * A slow disk delays only this thread (the ring absorbs it); a failed disk
 * stops the file, not acquisition or metrics: the loss is counted and shown
 * on status, and the file stays valid up to its last flush. */
#include <errno.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nd_daemon_internal.h"
#include "nd_log.h"
#include "nd_trial_file.h"
#include "nd_trial_recover.h"
#include "nd_watchdog.h"

#define WRITE_BATCH 4096 /* sets converted to force per append call */

typedef struct writer_ctx {
    nd_daemon *d;
    nd_trial_file *tf;
    bool recording; /* between START and STOP: samples go to the file */
    bool failed_reported;
    bool file_gone;         /* the open file was removed: what follows is lost */
    bool storage_bad;       /* data directory or file problem reported */
    uint64_t next_check_ns; /* next storage check */
    uint64_t rows_counted;  /* this file's flushed rows added to file_sets_written */
    char path[1024];
    uint32_t trial_no;
    uint64_t start_pos;
    double fs;
    int nch;
    nd_calibration cal;
    double test_stall_s; /* NORDICD_TEST_STALL_WRITER_S, see nd_watchdog.h */
    double force[WRITE_BATCH * ND_MAX_CHANNELS];
} writer_ctx;

static void record_failure(writer_ctx *w, const char *what, const char *err)
{
    atomic_fetch_add(&w->d->file_errors, 1);
    if (!w->failed_reported) {
        nd_daemon_set_error(w->d, "trial file: %s: %s", what, err);
        nd_msg m = {.kind = ND_MSG_ERROR, .trial_no = w->trial_no};
        snprintf(m.u.text, sizeof m.u.text, "trial file: %s", err);
        nd_bus_post_at_head(&w->d->bus, &m, NULL);
        w->failed_reported = true;
    }
}

static void create_file(writer_ctx *w)
{
    nd_daemon *d = w->d;
    pthread_mutex_lock(&d->lock);
    nd_trial_slot t = d->trial;
    pthread_mutex_unlock(&d->lock);

    nd_trial_meta meta;
    int nch = t.device.nch;
    nd_trial_meta_init(&meta, nch);
    snprintf(meta.trial_id, sizeof meta.trial_id, "%s", t.trial_id);
    snprintf(meta.athlete_id, sizeof meta.athlete_id, "%s", t.req.athlete_id);
    meta.created_utc_s = t.created_unix;
    meta.device = t.device;
    meta.sample_rate_hz = t.fs;
    meta.nch = nch;
    for (int i = 0; i < nch; i++) {
        if (t.device.channel_names[i][0])
            snprintf(meta.channel_names[i], sizeof meta.channel_names[i], "%s",
                     t.device.channel_names[i]);
        else
            snprintf(meta.channel_names[i], sizeof meta.channel_names[i], "ch%d", i);
    }
    meta.calibration = t.calibration;
    meta.calibration.nch = nch;
    meta.settings = t.settings;
    meta.subject = t.req.subject;
    snprintf(meta.protocol, sizeof meta.protocol, "%s", t.req.protocol);
    snprintf(meta.notes, sizeof meta.notes, "%s", t.req.notes);

    char err[256] = "", path[1024] = "";
    nd_trial_file *tf = nd_trial_file_create(d->cfg.data_dir, &meta, d->cfg.flush_interval_s, path,
                                             sizeof path, err, sizeof err);
    pthread_mutex_lock(&d->lock);
    if (d->writer.create_abandoned) {
        /* The start command timed out (stalled disk) and told the operator
         * so; the trial never began, so its empty file goes. */
        d->writer.create_abandoned = false; /* a newer request, if any, stays pending */
        pthread_mutex_unlock(&d->lock);
        if (tf) {
            char close_err[256];
            nd_trial_file_close(tf, NULL, close_err, sizeof close_err);
            unlink(path);
            nd_warn("trial file %s was created too late for its start command; removed", path);
        }
        return;
    }
    d->writer.create_requested = false;
    d->writer.create_done = true;
    d->writer.create_rc = tf ? 0 : -1;
    snprintf(d->writer.create_err, sizeof d->writer.create_err, "%s", err);
    if (tf) snprintf(d->trial.path, sizeof d->trial.path, "%s", path);
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    if (!tf) return;

    w->tf = tf;
    w->file_gone = false;
    w->rows_counted = 0;
    snprintf(w->path, sizeof w->path, "%s", path);
    w->trial_no = t.trial_no;
    w->fs = t.fs;
    w->nch = nch;
    w->cal = meta.calibration;
    w->recording = false; /* samples start at the START message's position */
    w->failed_reported = false;
}

static void add_event(writer_ctx *w, uint64_t pos, const char *kind, const char *detail)
{
    if (!w->tf || nd_trial_file_failed(w->tf)) return;
    double t = pos > w->start_pos ? (double)(pos - w->start_pos) / w->fs : 0.0;
    char err[256];
    if (nd_trial_file_add_event(w->tf, t, kind, detail, err, sizeof err))
        record_failure(w, "event not stored", err);
}

/* file_sets_written counts only rows flushed into the file (durable), so a
 * write failure never leaves it above what the file holds. */
static void count_flushed(writer_ctx *w, uint64_t rows_flushed)
{
    if (rows_flushed <= w->rows_counted) return;
    atomic_fetch_add(&w->d->file_samples_written, rows_flushed - w->rows_counted);
    w->rows_counted = rows_flushed;
}

static void close_file(writer_ctx *w, const nd_trial_summary *summary)
{
    nd_daemon *d = w->d;
    char err[256] = "";
    if (w->tf) {
        nd_trial_file_stats st;
        nd_trial_file_get_stats(w->tf, &st);
        int rc = nd_trial_file_close(w->tf, summary, err, sizeof err);
        if (w->file_gone) { /* closing it fails on reopening: say why */
            rc = -1;
            snprintf(err, sizeof err, "the file %s was removed while recording", w->path);
        }
        /* A clean close flushed every row; after a failure the rows accepted
         * but never flushed are lost with the file. */
        if (!w->file_gone) count_flushed(w, rc == 0 ? st.rows_appended : st.rows_flushed);
        atomic_fetch_add(&d->file_samples_lost, st.rows_appended - w->rows_counted);
        if (rc)
            record_failure(w, "closing", err);
        else
            nd_notice("trial file complete: %llu sample sets, %llu reps, flush p99 %.2f ms",
                      (unsigned long long)st.rows_appended, (unsigned long long)st.reps,
                      st.flush_p99_ns / 1e6);
    }
    w->tf = NULL;
    w->recording = false;
    pthread_mutex_lock(&d->lock);
    d->writer.closed_trial_no = w->trial_no;
    if (summary) d->writer.closed_summary = *summary;
    snprintf(d->writer.closed_err, sizeof d->writer.closed_err, "%s", err);
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

/* The /events kinds of TRIAL_FORMAT.md (tests/test_event_kinds.py checks them). */
static const char *device_event_kind(nd_device_event_kind k)
{
    switch (k) {
    case ND_EV_GAP:
        return "gap";
    case ND_EV_RESTART:
        return "restart";
    case ND_EV_DEVICE_LOST:
        return "device_lost";
    case ND_EV_DEVICE_BACK:
        return "device_back";
    case ND_EV_OVERFLOW:
        return "overflow";
    case ND_EV_ERROR:
        return "error";
    }
    return "device";
}

static void handle_msg(writer_ctx *w, const nd_msg *m)
{
    char detail[256];
    switch (m->kind) {
    case ND_MSG_TRIAL_START:
        if (w->tf && m->trial_no == w->trial_no) {
            w->recording = true;
            w->start_pos = m->pos;
            /* The calibration in force, as an event too (SPEC 5 /events). */
            int l = w->cal.left_channel, r = w->cal.right_channel;
            snprintf(detail, sizeof detail,
                     "left ch%d offset %.3f counts gain %.9g N/count; right ch%d offset %.3f "
                     "counts gain %.9g N/count",
                     l, w->cal.offset[l], w->cal.gain[l], r, w->cal.offset[r], w->cal.gain[r]);
            add_event(w, m->pos, "calibration", detail);
        }
        break;
    case ND_MSG_TRIAL_STOP:
        /* No more samples; the file closes when the summary arrives. */
        if (m->trial_no == w->trial_no) w->recording = false;
        break;
    case ND_MSG_SUMMARY:
        if (m->trial_no == w->trial_no) close_file(w, &m->u.summary);
        break;
    case ND_MSG_REP:
        if (w->tf && m->trial_no == w->trial_no && !nd_trial_file_failed(w->tf)) {
            char err[256];
            if (nd_trial_file_add_rep(w->tf, &m->u.rep, err, sizeof err))
                record_failure(w, "rep not stored", err);
        }
        break;
    case ND_MSG_DEVICE_EVENT:
        if (!w->recording) break;
        snprintf(detail, sizeof detail, "%s%scount=%llu seq=%llu", m->u.dev.detail,
                 m->u.dev.detail[0] ? "; " : "", (unsigned long long)m->u.dev.count,
                 (unsigned long long)m->u.dev.seq);
        add_event(w, m->pos, device_event_kind(m->u.dev.kind), detail);
        break;
    case ND_MSG_MARK:
        if (!w->recording || m->trial_no != w->trial_no) break;
        if (m->u.mark.pain >= 0) {
            snprintf(detail, sizeof detail, "%d/10%s%s", m->u.mark.pain,
                     m->u.mark.detail[0] ? "; " : "", m->u.mark.detail);
            add_event(w, m->pos, "pain", detail);
        } else {
            add_event(w, m->pos, m->u.mark.kind, m->u.mark.detail);
        }
        break;
    case ND_MSG_ERROR:
        if (w->recording) add_event(w, m->pos, "error", m->u.text);
        break;
    default:
        break;
    }
}

static void store(writer_ctx *w, uint64_t pos, uint64_t n)
{
    nd_daemon *d = w->d;
    if (!w->recording) return;
    if (!w->tf || nd_trial_file_failed(w->tf) || w->file_gone) {
        atomic_fetch_add(&d->file_samples_lost, n);
        return;
    }
    if (w->test_stall_s > 0) { /* test-only: a disk that hangs */
        nd_warn("test hook: file writer stalls for %.1f s", w->test_stall_s);
        struct timespec ts = {(time_t)w->test_stall_s,
                              (long)((w->test_stall_s - (double)(time_t)w->test_stall_s) * 1e9)};
        nanosleep(&ts, NULL);
        w->test_stall_s = 0;
    }
    while (n > 0) {
        /* Contiguous run inside the ring buffer, capped by the batch. */
        uint64_t cap = nd_ring_capacity(d->ring);
        uint64_t run = cap - (pos & (cap - 1));
        if (run > n) run = n;
        if (run > WRITE_BATCH) run = WRITE_BATCH;
        const nd_sample *sets = nd_ring_slot(d->ring, pos);
        for (uint64_t i = 0; i < run; i++)
            for (int ch = 0; ch < w->nch; ch++)
                w->force[i * w->nch + ch] =
                    ch < sets[i].nch ? nd_calibration_apply(&w->cal, ch, sets[i].raw[ch]) : 0.0;
        char err[256];
        if (nd_trial_file_append(w->tf, sets, w->force, run, err, sizeof err)) {
            record_failure(w, "samples not stored", err);
            atomic_fetch_add(&d->file_samples_lost, n);
            return;
        }
        atomic_store(&d->writer_beat_ns, nd_monotonic_ns()); /* a long backlog is progress */
        pos += run;
        n -= run;
    }
}

static void maybe_flush(writer_ctx *w)
{
    if (!w->tf || nd_trial_file_failed(w->tf) || w->file_gone) return;
    char err[256];
    if (nd_trial_file_maybe_flush(w->tf, nd_monotonic_ns(), err, sizeof err) < 0)
        record_failure(w, "flush failed", err);
    nd_trial_file_stats st;
    nd_trial_file_get_stats(w->tf, &st);
    count_flushed(w, st.rows_flushed);
}

/* Once a second: is the data directory usable, and is the open trial file
 * still there? A directory removed while recording is reported at once (not
 * when the stop fails to reopen the file), and an idle problem reaches
 * status.last_error before anyone tries to start a trial. */
static void check_storage(writer_ctx *w)
{
    uint64_t now = nd_monotonic_ns();
    if (now < w->next_check_ns) return;
    w->next_check_ns = now + 1000000000u;
    const char *dir = w->d->cfg.data_dir;
    char why[600] = "";
    struct stat st;
    if (stat(dir, &st))
        snprintf(why, sizeof why, "data directory %s: %s", dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        snprintf(why, sizeof why, "data directory %s is not a directory", dir);
    else if (access(dir, W_OK | X_OK))
        snprintf(why, sizeof why, "data directory %s is not writable: %s", dir, strerror(errno));
    else if (w->tf && stat(w->path, &st))
        snprintf(why, sizeof why, "trial file %s: %s", w->path, strerror(errno));
    if (why[0] && !w->storage_bad) {
        w->storage_bad = true;
        if (w->tf && stat(w->path, &st)) {
            w->file_gone = true; /* rows written from now on go to a deleted file */
            record_failure(w, "removed while recording", why);
        } else {
            nd_daemon_set_error(w->d, "%s: no trial can be recorded", why);
        }
    } else if (!why[0] && w->storage_bad) {
        w->storage_bad = false;
        nd_notice("data directory %s is usable again", dir);
    }
}

void *nd_writer_main(void *arg)
{
    static writer_ctx w; /* one writer thread; the force buffer is large */
    memset(&w, 0, sizeof w);
    w.d = arg;
    w.test_stall_s = nd_watchdog_test_writer_stall_s();
    nd_daemon *d = w.d;

    for (;;) {
        atomic_store(&d->writer_beat_ns, nd_monotonic_ns());
        pthread_mutex_lock(&d->lock);
        bool create = d->writer.create_requested && !d->writer.create_done;
        pthread_mutex_unlock(&d->lock);
        if (create) create_file(&w);
        if (atomic_load(&d->held) && !nd_consumers_should_exit(d)) {
            nd_ring_wait(d->ring, d->ring_writer, 2);
            continue;
        }

        uint64_t pos;
        uint64_t avail = nd_ring_available(d->ring, d->ring_writer, &pos);
        uint64_t done = 0;
        for (;;) {
            nd_msg m;
            uint64_t limit;
            while (nd_bus_next(&d->bus, d->bus_writer, pos + done, avail - done, &m, &limit))
                handle_msg(&w, &m);
            if (limit == 0) break;
            store(&w, pos + done, limit);
            done += limit;
        }
        if (avail) nd_ring_release(d->ring, d->ring_writer, pos + avail);
        maybe_flush(&w);
        check_storage(&w);
        if (avail) continue;
        if (nd_consumers_should_exit(d)) break;
        nd_ring_wait(d->ring, d->ring_writer, 20);
    }
    if (w.tf) close_file(&w, NULL); /* no summary arrived: file stays "recording" -> recovery */
    return NULL;
}

/* Trials left open by a crash are repaired and marked interrupted before
 * anything new is recorded, and reported in the log. */
static void recover_crashed_trials(nd_daemon *d)
{
    nd_recover_report rep;
    char err[256];
    if (nd_trial_recover_dir(d->cfg.data_dir, &rep, err, sizeof err)) {
        nd_daemon_set_error(d, "crash recovery: %s", err);
        return;
    }
    for (size_t i = 0; i < rep.n_items; i++) {
        const nd_recover_item *it = &rep.items[i];
        int level = it->outcome == ND_RECOVER_FAILED ? ND_LOG_ERR : ND_LOG_NOTICE;
        nd_log(level, "crash recovery: %s: %s, %llu sample sets%s%s", it->name,
               nd_recover_outcome_name(it->outcome), (unsigned long long)it->samples,
               it->message[0] ? ": " : "", it->message);
    }
    if (rep.recovered || rep.failed)
        nd_notice("crash recovery: %zu trial(s) recovered and marked interrupted, %zu failed",
                  rep.recovered, rep.failed);
    if (rep.failed)
        nd_daemon_set_error(d, "crash recovery failed for %zu trial file(s)", rep.failed);
    nd_trial_recover_report_free(&rep);
}

int nd_writer_prepare(nd_daemon *d, char *err, size_t errlen)
{
    /* A full disk must become an error, not SIGXFSZ killing the daemon. */
    signal(SIGXFSZ, SIG_IGN);
    /* HDF5 1.10 keeps a file whose close failed (disk full) half open, and its
     * exit-time clean-up then crashes on it; the kernel frees all at exit. */
    H5dont_atexit();
    const char *dir = d->cfg.data_dir;
    if (mkdir(dir, 0750) && errno != EEXIST) {
        snprintf(err, errlen, "data directory %s cannot be created: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "data directory %s is not a directory", dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK)) {
        snprintf(err, errlen, "data directory %s is not writable: %s", dir, strerror(errno));
        return -1;
    }
    recover_crashed_trials(d);
    return 0;
}

void nd_writer_release(nd_daemon *d)
{
    (void)d;
}
