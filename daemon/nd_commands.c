/* Operator commands: tare, two-point calibration, trial start/stop, marks,
 * status. They run on the control thread (or main, for --record) and talk to
 * the consumer threads through the bus and the daemon lock. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nd_daemon_internal.h"
#include "nd_log.h"
#include "nd_trial_file.h"

/* A deadline on d->cond's clock (CLOCK_MONOTONIC: immune to clock jumps). */
static struct timespec deadline_after(double seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    double whole = floor(seconds);
    deadline.tv_sec += (time_t)whole;
    deadline.tv_nsec += (long)((seconds - whole) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
    return deadline;
}

/* Waits on d->cond until *flag or the deadline; caller holds d->lock. */
static int wait_flag(nd_daemon *d, const bool *flag, double seconds)
{
    struct timespec deadline = deadline_after(seconds);
    while (!*flag) {
        if (pthread_cond_timedwait(&d->cond, &d->lock, &deadline) == ETIMEDOUT)
            return *flag ? 0 : -1;
    }
    return 0;
}

static int run_window(nd_daemon *d, nd_msg *m, double window_s, char *detail, size_t detaillen,
                      char *err, size_t errlen)
{
    pthread_mutex_lock(&d->lock);
    if (d->state == ND_TRIAL_RECORDING) {
        pthread_mutex_unlock(&d->lock);
        snprintf(err, errlen,
                 "refused while a trial is recording: stop the trial first, so "
                 "the trial's calibration stays fixed");
        return -1;
    }
    if (!d->info_valid) {
        pthread_mutex_unlock(&d->lock);
        snprintf(err, errlen, "the device has not reported yet (rate and channels unknown)");
        return -1;
    }
    if (d->op.active) {
        pthread_mutex_unlock(&d->lock);
        snprintf(err, errlen, "a tare or calibration is already running");
        return -1;
    }
    double window = window_s > 0 ? window_s : d->settings.tare_window_s;
    m->u.cal.require_unloaded = d->cal_saved || m->kind == ND_MSG_CALIBRATE;
    m->u.cal.window_s = window;
    d->op = (nd_pending_op){.active = true};
    snprintf(d->op_kind, sizeof d->op_kind, "%s",
             m->kind == ND_MSG_TARE ? "taring" : "calibrating");
    pthread_mutex_unlock(&d->lock);

    nd_bus_post_at_head(&d->bus, m, NULL);

    pthread_mutex_lock(&d->lock);
    /* The window needs `window` seconds of data; allow for a slow device. */
    int rc = wait_flag(d, &d->op.done, window + 5.0);
    if (rc) {
        /* Cancel the window, so that it cannot complete later (on data that
         * comes back loaded, or inside a trial). The metrics thread answers
         * in bus order: the result if the window just completed, else the
         * cancellation. */
        pthread_mutex_unlock(&d->lock);
        nd_msg cancel = {.kind = ND_MSG_CANCEL_WINDOW};
        nd_bus_post_at_head(&d->bus, &cancel, NULL);
        nd_ring_wake_all(d->ring);
        pthread_mutex_lock(&d->lock);
        rc = wait_flag(d, &d->op.done, 2.0);
    }
    if (rc) {
        snprintf(err, errlen, "no data from the device for %.1f s; tare/calibration abandoned",
                 window + 5.0);
    } else if (d->op.rc) {
        snprintf(err, errlen, "%s", d->op.msg);
        rc = -1;
    } else if (detail) {
        snprintf(detail, detaillen, "%s", d->op.msg);
    }
    /* Only a stuck metrics thread leaves the window open past this point;
     * the cancel message still closes it before any later request. */
    d->op.active = false;
    pthread_mutex_unlock(&d->lock);
    return rc;
}

static int check_window(double window_s, char *err, size_t errlen)
{
    if (window_s != 0 && !(window_s >= 0.05 && window_s <= 60))
        return snprintf(err, errlen, "window must be 0.05 to 60 s, got %g", window_s), -1;
    return 0;
}

int nd_daemon_tare(nd_daemon *d, bool left, bool right, double window_s, char *detail,
                   size_t detaillen, char *err, size_t errlen)
{
    if (!left && !right) return snprintf(err, errlen, "nothing to tare: no hook chosen"), -1;
    if (check_window(window_s, err, errlen)) return -1;
    nd_msg m = {.kind = ND_MSG_TARE};
    m.u.cal.left = left;
    m.u.cal.right = right;
    return run_window(d, &m, window_s, detail, detaillen, err, errlen);
}

int nd_daemon_calibrate(nd_daemon *d, int side, double mass_kg, double window_s, char *detail,
                        size_t detaillen, char *err, size_t errlen)
{
    if (side != ND_LEFT && side != ND_RIGHT)
        return snprintf(err, errlen, "side must be left or right"), -1;
    if (!(mass_kg > 0) || mass_kg > 500)
        return snprintf(err, errlen, "known mass must be in (0, 500] kg, got %g", mass_kg), -1;
    if (check_window(window_s, err, errlen)) return -1;
    nd_msg m = {.kind = ND_MSG_CALIBRATE};
    m.u.cal.side = side;
    m.u.cal.mass_kg = mass_kg;
    return run_window(d, &m, window_s, detail, detaillen, err, errlen);
}

/* at: ring position of the trial's first set, or UINT64_MAX for "now". */
static int start_trial_at(nd_daemon *d, const nd_trial_request *req, uint64_t at,
                          nd_trial_slot *out, char *err, size_t errlen)
{
    if (nd_trial_athlete_id_check(req->athlete_id, err, errlen)) return -1;
    if (nd_subject_validate(&req->subject, err, errlen)) return -1;

    pthread_mutex_lock(&d->lock);
    if (d->state == ND_TRIAL_RECORDING) {
        snprintf(err, errlen, "trial %s is already recording; stop it first", d->trial.trial_id);
        goto refuse;
    }
    if (!d->info_valid) {
        snprintf(err, errlen, "the device has not reported yet (rate and channels unknown)");
        goto refuse;
    }
    if (d->op.active) {
        snprintf(err, errlen, "a tare or calibration is running; start the trial after it");
        goto refuse;
    }
    if (nd_metric_settings_validate(&d->settings, d->info.rate_hz, err, errlen)) goto refuse;

    nd_trial_slot *t = &d->trial;
    memset(t, 0, sizeof *t);
    t->trial_no = d->next_trial_no++;
    nd_trial_id_generate(t->trial_id, sizeof t->trial_id);
    time_t now = time(NULL);
    t->created_unix = (int64_t)now;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(t->created_utc, sizeof t->created_utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
    t->req = *req;
    t->device = d->info;
    t->calibration = d->cal;
    t->settings = d->settings;
    t->fs = d->info.rate_hz;

    /* The writer creates the file (HDF5 is used from that thread only); the
     * trial begins only once the file exists, so a bad data directory is an
     * error in this reply rather than a trial without a file. */
    d->writer.create_requested = true;
    d->writer.create_done = false;
    pthread_mutex_unlock(&d->lock);
    nd_ring_wake_all(d->ring);
    pthread_mutex_lock(&d->lock);
    if (wait_flag(d, &d->writer.create_done, 15.0)) {
        d->writer.create_requested = false;
        d->writer.create_abandoned = true;
        snprintf(err, errlen, "the file writer did not answer within 15 s (disk stalled?)");
        goto refuse;
    }
    if (d->writer.create_rc) {
        snprintf(err, errlen, "%s", d->writer.create_err);
        goto refuse;
    }
    d->state = ND_TRIAL_RECORDING;
    nd_msg m = {.kind = ND_MSG_TRIAL_START, .trial_no = t->trial_no};
    pthread_mutex_unlock(&d->lock);

    uint64_t pos = at;
    if (at == UINT64_MAX) {
        nd_bus_post_at_head(&d->bus, &m, &pos);
    } else {
        m.pos = at;
        nd_bus_post(&d->bus, &m);
    }
    pthread_mutex_lock(&d->lock);
    d->trial.start_pos = pos;
    if (out) *out = d->trial;
    nd_notice("trial %s started for athlete %s: %s", d->trial.trial_id, req->athlete_id,
              d->trial.path);
    pthread_mutex_unlock(&d->lock);
    return 0;

refuse:
    pthread_mutex_unlock(&d->lock);
    return -1;
}

int nd_daemon_start_trial(nd_daemon *d, const nd_trial_request *req, nd_trial_slot *out, char *err,
                          size_t errlen)
{
    return start_trial_at(d, req, UINT64_MAX, out, err, errlen);
}

int nd_daemon_stop_trial(nd_daemon *d, nd_trial_slot *slot, nd_trial_summary *summary, char *err,
                         size_t errlen)
{
    pthread_mutex_lock(&d->lock);
    if (d->state != ND_TRIAL_RECORDING) {
        pthread_mutex_unlock(&d->lock);
        snprintf(err, errlen, "no trial is recording");
        return -1;
    }
    uint32_t no = d->trial.trial_no;
    d->state = ND_TRIAL_IDLE;
    pthread_mutex_unlock(&d->lock);

    nd_msg m = {.kind = ND_MSG_TRIAL_STOP, .trial_no = no};
    nd_bus_post_at_head(&d->bus, &m, NULL);
    nd_ring_wake_all(d->ring);

    /* The writer closes the file once the metrics thread's summary arrives;
     * a deep backlog (slow disk) may take a while to drain. */
    pthread_mutex_lock(&d->lock);
    struct timespec deadline = deadline_after(60.0);
    while (d->writer.closed_trial_no != no)
        if (pthread_cond_timedwait(&d->cond, &d->lock, &deadline) == ETIMEDOUT) break;
    bool closed = d->writer.closed_trial_no == no;
    int rc = 0;
    if (!closed) {
        snprintf(err, errlen, "the trial file was not closed within 60 s (disk stalled?)");
        rc = -1;
    } else {
        if (slot) *slot = d->trial;
        if (summary) *summary = d->writer.closed_summary;
        if (d->writer.closed_err[0]) {
            snprintf(err, errlen, "%s", d->writer.closed_err);
            rc = -1;
        }
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int nd_daemon_mark(nd_daemon *d, const char *kind, const char *detail, int pain, char *err,
                   size_t errlen)
{
    if (pain < -1 || pain > 10) return snprintf(err, errlen, "pain must be 0 to 10"), -1;
    if (!kind || !*kind || strlen(kind) >= 32)
        return snprintf(err, errlen, "mark kind must be 1 to 31 characters"), -1;
    pthread_mutex_lock(&d->lock);
    bool recording = d->state == ND_TRIAL_RECORDING;
    uint32_t no = d->trial.trial_no;
    pthread_mutex_unlock(&d->lock);
    if (!recording) return snprintf(err, errlen, "no trial is recording"), -1;
    nd_msg m = {.kind = ND_MSG_MARK, .trial_no = no};
    snprintf(m.u.mark.kind, sizeof m.u.mark.kind, "%s", kind);
    snprintf(m.u.mark.detail, sizeof m.u.mark.detail, "%s", detail ? detail : "");
    m.u.mark.pain = pain;
    return nd_bus_post_at_head(&d->bus, &m, NULL) ? (snprintf(err, errlen, "message bus full"), -1)
                                                  : 0;
}

int nd_daemon_set_metric_settings(nd_daemon *d, const nd_metric_settings *s, char *err,
                                  size_t errlen)
{
    pthread_mutex_lock(&d->lock);
    int rc = -1;
    if (d->state == ND_TRIAL_RECORDING)
        snprintf(err, errlen, "settings cannot change while a trial is recording");
    else if (nd_metric_settings_validate(s, d->info_valid ? d->info.rate_hz : 1000.0, err,
                                         errlen) == 0) {
        d->settings = *s;
        rc = 0;
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

void nd_daemon_status(nd_daemon *d, nd_status_snapshot *out)
{
    memset(out, 0, sizeof *out);
    const nd_counters *c = nd_device_counters(d->dev);
    out->samples = atomic_load(&c->sets);
    out->gaps = atomic_load(&c->gaps);
    out->gap_sets = atomic_load(&c->gap_sets);
    out->bad_frames = atomic_load(&c->frames_bad_cobs) + atomic_load(&c->frames_bad_crc) +
                      atomic_load(&c->frames_bad_version) + atomic_load(&c->frames_bad_length) +
                      atomic_load(&c->frames_bad_payload);
    out->unknown_frames = atomic_load(&c->frames_unknown_type);
    out->bad_lines = atomic_load(&c->lines_bad);
    out->restarts = atomic_load(&c->restarts);
    out->device_overflows = atomic_load(&c->device_overflows);
    out->disconnects = atomic_load(&c->disconnects);
    out->reconnects = atomic_load(&c->reconnects);
    out->device_connected = nd_device_connected(d->dev);
    nd_ring_stats rs;
    nd_ring_get_stats(d->ring, &rs);
    out->ring_overruns = rs.overrun_sets;
    out->live_skipped = rs.skipped[d->ring_pub];
    out->file_sets_written = atomic_load(&d->file_samples_written);
    out->file_sets_lost = atomic_load(&d->file_samples_lost);
    out->file_errors = atomic_load(&d->file_errors);
    out->channel_errors = atomic_load(&d->metrics_channel_errors);
    snprintf(out->device_uri, sizeof out->device_uri, "%s", d->cfg.device);

    pthread_mutex_lock(&d->lock);
    bool recording = d->state == ND_TRIAL_RECORDING;
    snprintf(out->state, sizeof out->state, "%s", recording ? "recording" : "idle");
    if (d->op.active) snprintf(out->activity, sizeof out->activity, "%s", d->op_kind);
    out->have_device_info = d->info_valid;
    out->device = d->info;
    out->left_channel = d->cal.left_channel;
    out->right_channel = d->cal.right_channel;
    out->calib_offset[0] = d->cal.offset[d->cal.left_channel];
    out->calib_offset[1] = d->cal.offset[d->cal.right_channel];
    out->calib_gain[0] = d->cal.gain[d->cal.left_channel];
    out->calib_gain[1] = d->cal.gain[d->cal.right_channel];
    snprintf(out->last_error, sizeof out->last_error, "%s", d->last_error);
    if (recording) {
        snprintf(out->trial_id, sizeof out->trial_id, "%s", d->trial.trial_id);
        snprintf(out->athlete_id, sizeof out->athlete_id, "%s", d->trial.req.athlete_id);
        snprintf(out->file, sizeof out->file, "%s", d->trial.path);
        out->trial_t_s = d->live.t_s;
        out->trial_samples = d->live.samples;
        out->trial_reps = d->live.reps;
    }
    pthread_mutex_unlock(&d->lock);
}

void nd_daemon_live(nd_daemon *d, nd_live_msg *out, char *trial_id, size_t idlen)
{
    pthread_mutex_lock(&d->lock);
    out->state = d->live;
    out->host_ns = d->live_host_ns;
    snprintf(trial_id, idlen, "%s", d->state == ND_TRIAL_RECORDING ? d->trial.trial_id : "");
    pthread_mutex_unlock(&d->lock);
}

int nd_daemon_record_start(nd_daemon *d, const nd_trial_request *req, bool tare, nd_trial_slot *out,
                           char *err, size_t errlen)
{
    if (!atomic_load(&d->held)) return snprintf(err, errlen, "the daemon was not started held"), -1;
    /* The device reports its rate and channels first. */
    double fs = 0;
    for (int i = 0; i < 200 && fs <= 0; i++) {
        pthread_mutex_lock(&d->lock);
        fs = d->info_valid ? d->info.rate_hz : 0;
        pthread_mutex_unlock(&d->lock);
        if (fs <= 0) {
            if (atomic_load(&d->source_ended)) break;
            struct timespec ts = {0, 25 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (fs <= 0) return snprintf(err, errlen, "the device did not report its rate within 5 s"), -1;

    uint64_t start = 0;
    if (tare) {
        pthread_mutex_lock(&d->lock);
        nd_calibration cal = d->cal;
        uint64_t want = (uint64_t)llround(d->settings.tare_window_s * fs);
        pthread_mutex_unlock(&d->lock);
        if (want < 1) want = 1;
        /* The consumers are held at position 0, so slots [0, want) stay
         * valid while this thread reads them; the ring must hold them all. */
        if (want > nd_ring_capacity(d->ring))
            return snprintf(err, errlen,
                            "the tare window (%llu sets) is longer than the ring "
                            "(ring_capacity %zu sets): raise ring_capacity or shorten "
                            "tare_window_s",
                            (unsigned long long)want, nd_ring_capacity(d->ring)),
                   -1;
        /* Like a tare over the control socket: allow for a slow device, but
         * never wait forever (signals are only taken once this returns). */
        double limit_s = (double)want / fs + 5.0;
        uint64_t deadline = nd_monotonic_ns() + (uint64_t)(limit_s * 1e9);
        while (nd_ring_published(d->ring) < want) {
            if (atomic_load(&d->acquisition_done))
                return snprintf(err, errlen,
                                "the stream ended before the %llu-set tare window filled",
                                (unsigned long long)want),
                       -1;
            if (nd_monotonic_ns() > deadline)
                return snprintf(err, errlen,
                                "no data from the device for %.1f s: the %llu-set tare window "
                                "did not fill (%llu sets arrived)",
                                limit_s, (unsigned long long)want,
                                (unsigned long long)nd_ring_published(d->ring)),
                       -1;
            struct timespec ts = {0, 5 * 1000000L};
            nanosleep(&ts, NULL);
        }
        nd_raw_mean mean;
        nd_raw_mean_start(&mean, cal.nch, want);
        for (uint64_t i = 0; i < want; i++) nd_raw_mean_add(&mean, nd_ring_slot(d->ring, i));
        if (nd_calibration_tare(&cal, &mean, err, errlen)) return -1;
        pthread_mutex_lock(&d->lock);
        d->cal = cal;
        d->cal_saved = true;
        d->cal_generation++;
        pthread_mutex_unlock(&d->lock);
        char save_err[256];
        if (nd_calibration_save(&cal, d->cal_path, save_err, sizeof save_err))
            nd_daemon_set_error(d, "calibration not saved: %s", save_err);
        nd_notice("tare over the first %llu sets: offset left %.1f, right %.1f counts",
                  (unsigned long long)want, cal.offset[cal.left_channel],
                  cal.offset[cal.right_channel]);
        start = want;
    }
    int rc = start_trial_at(d, req, start, out, err, errlen);
    atomic_store(&d->held, false);
    nd_ring_wake_all(d->ring);
    return rc;
}

bool nd_daemon_recording(nd_daemon *d)
{
    pthread_mutex_lock(&d->lock);
    bool recording = d->state == ND_TRIAL_RECORDING;
    pthread_mutex_unlock(&d->lock);
    return recording;
}

int nd_daemon_last_trial(nd_daemon *d, nd_trial_slot *slot, nd_trial_summary *summary)
{
    pthread_mutex_lock(&d->lock);
    /* Wait briefly for the writer to close a trial that was just stopped. */
    struct timespec deadline = deadline_after(10.0);
    while (d->writer.closed_trial_no != d->trial.trial_no && d->trial.trial_no)
        if (pthread_cond_timedwait(&d->cond, &d->lock, &deadline) == ETIMEDOUT) break;
    int rc = d->trial.trial_no && d->writer.closed_trial_no == d->trial.trial_no ? 0 : -1;
    if (rc == 0) {
        *slot = d->trial;
        *summary = d->writer.closed_summary;
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}
