/* The file writer thread (nd_writer_thread.h). */
#include "nd_writer_thread.h"

#include <errno.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nd_log.h"
#include "nd_trial.h"
#include "nd_trial_file.h"
#include "nd_trial_recover.h"
#include "nd_trial_annotate.h"

#define WRITE_BATCH 4096 /* sets converted to force per append call */

typedef struct writer_ctx {
    nd_writer_thread *t;
    nd_trial *trial; /* the trial whose file is open (held), or NULL */
    nd_trial_file *tf;
    bool recording; /* between START and STOP: samples go to the file */
    bool failed_reported;
    bool file_gone;         /* the open file was removed: what follows is lost */
    bool storage_bad;       /* data directory or file problem reported */
    uint64_t next_check_ns; /* next storage check */
    uint64_t rows_counted;  /* this file's flushed rows added to sets_written */
    double test_stall_s;    /* see nd_writer_thread.h */
    uint32_t trial_no;
    uint64_t start_pos;
    double fs;
    int nch;
    nd_calibration cal;
    double force[WRITE_BATCH * ND_MAX_CHANNELS];
} writer_ctx;

static void record_failure(writer_ctx *w, const char *what, const char *err)
{
    atomic_fetch_add(&w->t->counters.errors, 1);
    if (!w->failed_reported) {
        nd_error_report(w->t->errors, "trial file: %s: %s", what, err);
        nd_msg m = {.kind = ND_MSG_ERROR, .trial_no = w->trial_no};
        snprintf(m.u.text, sizeof m.u.text, "trial file: %s", err);
        nd_bus_post_at_head(w->t->in.bus, &m, NULL);
        w->failed_reported = true;
    }
}

static void meta_from_trial(const nd_trial *t, nd_trial_meta *meta)
{
    int nch = t->device.nch;
    nd_trial_meta_init(meta, nch);
    snprintf(meta->trial_id, sizeof meta->trial_id, "%s", t->trial_id);
    snprintf(meta->athlete_id, sizeof meta->athlete_id, "%s", t->req.athlete_id);
    meta->created_utc_s = t->created_unix;
    meta->device = t->device;
    meta->sample_rate_hz = t->fs;
    meta->nch = nch;
    for (int i = 0; i < nch; i++) {
        if (t->device.channel_names[i][0])
            snprintf(meta->channel_names[i], sizeof meta->channel_names[i], "%s",
                     t->device.channel_names[i]);
        else
            snprintf(meta->channel_names[i], sizeof meta->channel_names[i], "ch%d", i);
    }
    meta->calibration = t->calibration;
    meta->calibration.nch = nch;
    meta->settings = t->settings;
    meta->subject = t->req.subject;
    snprintf(meta->protocol, sizeof meta->protocol, "%s", t->req.protocol);
    snprintf(meta->notes, sizeof meta->notes, "%s", t->req.notes);
    meta->plan = t->req.plan;
    nd_set_plan_normalise(&meta->plan);
}

static void add_event(writer_ctx *w, uint64_t pos, const char *kind, const char *detail)
{
    if (!w->tf || nd_trial_file_failed(w->tf)) return;
    double t = pos > w->start_pos ? (double)(pos - w->start_pos) / w->fs : 0.0;
    char err[256];
    if (nd_trial_file_add_event(w->tf, t, kind, detail, err, sizeof err))
        record_failure(w, "event not stored", err);
}

/* The trial begins here: create its file and answer the start command. */
static void open_trial(writer_ctx *w, nd_trial *t, const nd_msg *m)
{
    nd_trial_meta meta;
    meta_from_trial(t, &meta);
    char err[256] = "";
    nd_trial_file *tf = nd_trial_file_create(w->t->data_dir, &meta, w->t->flush_interval_s, t->path,
                                             sizeof t->path, err, sizeof err);
    if (!tf) {
        nd_reply_finish(t->opened, -1, "%s", err);
        nd_trial_release(t);
        return;
    }
    if (!nd_reply_finish(t->opened, 0, "%s", t->path)) {
        /* The start command timed out (stalled disk) and told the operator
         * so; the trial never began, so its empty file goes. */
        char close_err[256];
        nd_trial_file_close(tf, NULL, close_err, sizeof close_err);
        unlink(t->path);
        nd_warn("trial file %s was created too late for its start command; removed", t->path);
        nd_trial_release(t);
        return;
    }
    w->trial = t;
    w->tf = tf;
    w->file_gone = false;
    w->rows_counted = 0;
    w->trial_no = t->trial_no;
    w->fs = t->fs;
    w->nch = meta.nch;
    w->cal = meta.calibration;
    w->recording = true;
    w->start_pos = m->pos;
    w->failed_reported = false;
    nd_msg opened = {.kind = ND_MSG_TRIAL_OPENED, .pos = m->pos, .trial_no = t->trial_no};
    nd_bus_post(w->t->in.bus, &opened);
    /* The calibration in force, as an event too (daemon/trialfile/TRIAL_FORMAT.md /events). */
    int l = w->cal.left_channel, r = w->cal.right_channel;
    char detail[256];
    snprintf(detail, sizeof detail,
             "left ch%d offset %.3f counts gain %.9g N/count; right ch%d offset %.3f "
             "counts gain %.9g N/count",
             l, w->cal.offset[l], w->cal.gain[l], r, w->cal.offset[r], w->cal.gain[r]);
    add_event(w, m->pos, "calibration", detail);
}

/* sets_written counts only rows flushed into the file (durable), so a write
 * failure never leaves it above what the file holds. */
static void count_flushed(writer_ctx *w, uint64_t rows_flushed)
{
    if (rows_flushed <= w->rows_counted) return;
    atomic_fetch_add(&w->t->counters.sets_written, rows_flushed - w->rows_counted);
    w->rows_counted = rows_flushed;
}

/* summary NULL: no summary arrived (shutdown without metrics): the file
 * stays "recording", for recovery to mark interrupted. */
static void close_trial(writer_ctx *w, const nd_trial_summary *summary)
{
    char err[256] = "";
    if (w->tf) {
        nd_trial_file_stats st;
        nd_trial_file_get_stats(w->tf, &st);
        int rc = nd_trial_file_close(w->tf, summary, err, sizeof err);
        if (w->file_gone) { /* closing it fails on reopening: say why */
            rc = -1;
            snprintf(err, sizeof err, "the file %s was removed while recording", w->trial->path);
        }
        /* A clean close flushed every row; after a failure the rows accepted
         * but never flushed are lost with the file. */
        if (!w->file_gone) count_flushed(w, rc == 0 ? st.rows_appended : st.rows_flushed);
        atomic_fetch_add(&w->t->counters.sets_lost, st.rows_appended - w->rows_counted);
        if (rc)
            record_failure(w, "closing", err);
        else
            nd_notice("trial file complete: %llu sample sets, %llu reps, flush p99 %.2f ms",
                      (unsigned long long)st.rows_appended, (unsigned long long)st.reps,
                      st.flush_p99_ns / 1e6);
    }
    if (w->trial) {
        if (summary) w->trial->summary = *summary;
        if (!summary && !err[0]) snprintf(err, sizeof err, "the trial ended without a summary");
        nd_reply_finish(w->trial->closed, err[0] ? -1 : 0, "%s", err);
        nd_trial_release(w->trial);
    }
    w->trial = NULL;
    w->tf = NULL;
    w->recording = false;
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

static void on_message(void *ctx, const nd_msg *m)
{
    writer_ctx *w = ctx;
    char detail[256];
    switch (m->kind) {
    case ND_MSG_TRIAL_START:
        if (w->trial) close_trial(w, NULL); /* never happens: stop precedes a new start */
        open_trial(w, m->u.trial, m);
        break;
    case ND_MSG_TRIAL_STOP:
        /* No more samples; the file closes when the summary arrives. */
        if (m->trial_no == w->trial_no) w->recording = false;
        break;
    case ND_MSG_SUMMARY:
        if (w->trial && m->trial_no == w->trial_no) close_trial(w, &m->u.summary);
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
    case ND_MSG_NEXT_DAY_PAIN: {
        /* HDF5 is used from this thread only: the closed file is reopened here. */
        nd_trial_summary s;
        char err[256];
        char path[1024];
        nd_reply *reply = m->u.next_day.reply;
        if (nd_trial_find_by_id(w->t->data_dir, m->u.next_day.trial_id, path, sizeof path, err,
                                sizeof err) ||
            nd_trial_add_next_day_pain(path, m->u.next_day.now_unix, m->u.next_day.pain,
                                       m->u.next_day.detail, &s, err, sizeof err))
            nd_reply_finish(reply, -1, "%s", err);
        else
            nd_reply_finish(reply, 0, "%s\t%ux%u\t%s", s.suggestion_rule, s.suggestion_sets,
                            s.suggestion_reps, s.suggestion);
        nd_reply_release(reply);
        break;
    }
    case ND_MSG_SET_NEXT:
        /* Replayed by offline recomputation at this sample (METRICS.md 5). */
        if (w->recording && m->trial_no == w->trial_no) {
            /* "angle=<deg>" (17 significant digits: read back bit-exact) and
             * "leg=<side>", last, when the following sets change them. */
            char angle[48] = "";
            if (m->u.set_next.set_angle)
                snprintf(angle, sizeof angle, "; angle=%.17g", m->u.set_next.angle_deg);
            snprintf(
                detail, sizeof detail, "operator ended the set%s%s%s", angle,
                m->u.set_next.switch_leg ? "; leg=" : "",
                m->u.set_next.switch_leg
                    ? (m->u.set_next.leg == ND_SIDE_NONE ? "both" : nd_side_name(m->u.set_next.leg))
                    : "");
            add_event(w, m->pos, "set_next", detail);
        }
        break;
    case ND_MSG_SET_RESULT:
        if (w->tf && m->trial_no == w->trial_no && !nd_trial_file_failed(w->tf)) {
            char err[256];
            if (nd_trial_file_add_set(w->tf, &m->u.set, err, sizeof err))
                record_failure(w, "set not stored", err);
        }
        break;
    default:
        break;
    }
}

static void on_sets(void *ctx, uint64_t pos, uint64_t n)
{
    writer_ctx *w = ctx;
    nd_file_counters *c = &w->t->counters;
    if (!w->recording) return;
    if (!w->tf || nd_trial_file_failed(w->tf) || w->file_gone) {
        atomic_fetch_add(&c->sets_lost, n);
        return;
    }
    if (w->test_stall_s > 0) { /* test-only: a disk that hangs */
        nd_warn("test hook: file writer stalls for %.1f s", w->test_stall_s);
        struct timespec ts = {(time_t)w->test_stall_s,
                              (long)((w->test_stall_s - (double)(time_t)w->test_stall_s) * 1e9)};
        nanosleep(&ts, NULL);
        w->test_stall_s = 0;
    }
    nd_ring *ring = w->t->in.ring;
    while (n > 0) {
        uint64_t run = nd_ring_contiguous(ring, pos, n < WRITE_BATCH ? n : WRITE_BATCH);
        const nd_sample *sets = nd_ring_slot(ring, pos);
        for (uint64_t i = 0; i < run; i++)
            for (int ch = 0; ch < w->nch; ch++)
                w->force[i * w->nch + ch] =
                    ch < sets[i].nch ? nd_calibration_apply(&w->cal, ch, sets[i].raw[ch]) : 0.0;
        char err[256];
        if (nd_trial_file_append(w->tf, sets, w->force, run, err, sizeof err)) {
            record_failure(w, "samples not stored", err);
            atomic_fetch_add(&c->sets_lost, n);
            return;
        }
        atomic_store(&w->t->beat_ns, nd_monotonic_ns()); /* a long backlog is progress */
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
    const char *dir = w->t->data_dir;
    char why[1200] = "";
    struct stat st;
    if (stat(dir, &st))
        snprintf(why, sizeof why, "data directory %s: %s", dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        snprintf(why, sizeof why, "data directory %s is not a directory", dir);
    else if (access(dir, W_OK | X_OK))
        snprintf(why, sizeof why, "data directory %s is not writable: %s", dir, strerror(errno));
    else if (w->tf && stat(w->trial->path, &st))
        snprintf(why, sizeof why, "trial file %s: %s", w->trial->path, strerror(errno));
    if (why[0] && !w->storage_bad) {
        w->storage_bad = true;
        if (w->tf && stat(w->trial->path, &st)) {
            w->file_gone = true; /* rows written from now on go to a deleted file */
            record_failure(w, "removed while recording", why);
        } else {
            nd_error_report(w->t->errors, "%s: no trial can be recorded", why);
        }
    } else if (!why[0] && w->storage_bad) {
        w->storage_bad = false;
        nd_notice("data directory %s is usable again", dir);
    }
}

static void on_pass_done(void *ctx, uint64_t got)
{
    writer_ctx *w = ctx;
    (void)got;
    maybe_flush(w);
    check_storage(w);
}

/* Wake for the flush on time: samples older than the flush interval must be
 * on disk (TRIAL_FORMAT.md), whatever the consumer's wake-up batch. */
static uint64_t next_deadline(void *ctx)
{
    writer_ctx *w = ctx;
    if (!w->tf || nd_trial_file_failed(w->tf)) return 0;
    return nd_trial_file_next_flush_ns(w->tf);
}

void *nd_writer_main(void *arg)
{
    static writer_ctx w; /* one writer thread; the force buffer is large */
    memset(&w, 0, sizeof w);
    w.t = arg;
    w.test_stall_s = w.t->test_stall_s;
    static const nd_consumer_ops ops = {.message = on_message,
                                        .sets = on_sets,
                                        .pass_done = on_pass_done,
                                        .deadline_ns = next_deadline};
    nd_consumer_run(&w.t->in, &ops, &w);
    if (w.trial) close_trial(&w, NULL);
    return NULL;
}

/* Trials left open by a crash are repaired and marked interrupted before
 * anything new is recorded, and reported in the log. */
static void recover_crashed_trials(const char *data_dir, nd_error_board *errors)
{
    nd_recover_report rep;
    char err[256];
    if (nd_trial_recover_dir(data_dir, &rep, err, sizeof err)) {
        nd_error_report(errors, "crash recovery: %s", err);
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
        nd_error_report(errors, "crash recovery failed for %zu trial file(s)", rep.failed);
    nd_trial_recover_report_free(&rep);
}

int nd_writer_prepare(const char *dir, nd_error_board *errors, char *err, size_t errlen)
{
    /* A full disk must become an error, not SIGXFSZ killing the daemon. */
    signal(SIGXFSZ, SIG_IGN);
    /* HDF5 1.10 keeps a file whose close failed (disk full) half open, and its
     * exit-time clean-up then crashes on it; the kernel frees all at exit. */
    H5dont_atexit();
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
    recover_crashed_trials(dir, errors);
    return 0;
}
