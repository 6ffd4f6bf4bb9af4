/* Operator commands: tare, two-point calibration, trial start/stop, marks,
 * settings, status. They run on the control thread (or main, for --record,
 * reload and shutdown), keep the command state under its lock, and reach the
 * threads only through the bus: a request carries a reply the owning thread
 * finishes (nd_reply.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nd_daemon_internal.h"
#include "nd_log.h"
#include "nd_trial_file.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The metrics thread applies device info (counts per newton) to the
 * calibration it owns; a command that reads the calibration first lets it
 * catch up with the newest info, so a trial never starts on a stale one. */
static void wait_calibration_current(nd_daemon *d)
{
    uint64_t want = nd_device_board_generation(&d->device_board);
    for (int i = 0; i < 1000 && !atomic_load(&d->acq.done); i++) {
        if (nd_metrics_board_info_generation(&d->metrics_board) >= want) return;
        sleep_ms(2);
    }
}

static int run_window(nd_daemon *d, nd_msg *m, double window_s, char *detail, size_t detaillen,
                      char *err, size_t errlen)
{
    nd_command_state *c = &d->cmd;
    pthread_mutex_lock(&c->lock);
    if (c->state == ND_TRIAL_RECORDING) {
        pthread_mutex_unlock(&c->lock);
        snprintf(err, errlen,
                 "refused while a trial is recording: stop the trial first, so "
                 "the trial's calibration stays fixed");
        return -1;
    }
    if (nd_device_board_rate(&d->device_board) <= 0) {
        pthread_mutex_unlock(&c->lock);
        snprintf(err, errlen, "the device has not reported yet (rate and channels unknown)");
        return -1;
    }
    if (c->window_active) {
        pthread_mutex_unlock(&c->lock);
        snprintf(err, errlen, "a tare or calibration is already running");
        return -1;
    }
    double window = window_s > 0 ? window_s : c->settings.tare_window_s;
    c->window_active = true;
    snprintf(c->window_kind, sizeof c->window_kind, "%s",
             m->kind == ND_MSG_TARE ? "taring" : "calibrating");
    pthread_mutex_unlock(&c->lock);

    nd_reply *reply = nd_reply_create(2); /* this command and the metrics thread */
    int rc = -1, result = -1;
    char msg[256] = "";
    if (!reply) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    m->u.cal.window_s = window;
    m->u.cal.reply = reply;
    if (nd_bus_post_at_head(&d->bus, m, NULL)) {
        nd_reply_release(reply); /* the metrics thread's reference */
        snprintf(err, errlen, "message bus full");
        goto done;
    }
    /* The window needs `window` seconds of data; allow for a slow device. */
    rc = nd_reply_wait(reply, window + 5.0, &result, msg, sizeof msg);
    if (rc) {
        /* Cancel the window, so that it cannot complete later (on data that
         * comes back loaded, or inside a trial). The metrics thread answers
         * in bus order: the result if the window just completed, else the
         * cancellation. */
        nd_msg cancel = {.kind = ND_MSG_CANCEL_WINDOW};
        nd_bus_post_at_head(&d->bus, &cancel, NULL);
        nd_ring_wake_all(d->ring);
        rc = nd_reply_wait(reply, 2.0, &result, msg, sizeof msg);
    }
    if (rc) {
        snprintf(err, errlen, "no data from the device for %.1f s; tare/calibration abandoned",
                 window + 5.0);
    } else if (result) {
        snprintf(err, errlen, "%s", msg);
        rc = -1;
    } else if (detail) {
        snprintf(detail, detaillen, "%s", msg);
    }
    /* Only a stuck metrics thread leaves the window open past this point;
     * the cancel message still closes it before any later request. */
done:
    nd_reply_release(reply);
    pthread_mutex_lock(&c->lock);
    c->window_active = false;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static int check_window(double window_s, char *err, size_t errlen)
{
    if (window_s != 0 && !(window_s >= 0.05 && window_s <= 60))
        return snprintf(err, errlen, "window must be 0.05 to 60 s, got %g", window_s), -1;
    return 0;
}

int nd_daemon_tare(nd_daemon *d, bool left, bool right, double window_s, bool force, char *detail,
                   size_t detaillen, char *err, size_t errlen)
{
    if (!left && !right) return snprintf(err, errlen, "nothing to tare: no hook chosen"), -1;
    if (check_window(window_s, err, errlen)) return -1;
    nd_msg m = {.kind = ND_MSG_TARE};
    m.u.cal.left = left;
    m.u.cal.right = right;
    m.u.cal.force = force;
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

/* A trial started "now" on a board that is gone would be an empty file. */
static int check_device_present(nd_daemon *d, char *err, size_t errlen)
{
    if (atomic_load(&d->acq.ended))
        return snprintf(err, errlen, "the device stream has ended (%s): no data to record",
                        d->cfg.device),
               -1;
    if (!nd_device_connected(d->dev))
        return snprintf(err, errlen,
                        "the device is disconnected (%s): reconnect the board and start again",
                        d->cfg.device),
               -1;
    return 0;
}

/* A new trial descriptor from the request and what is in force now. The
 * consumers' three references are handed over with the START message. */
static nd_trial *make_trial(nd_daemon *d, const nd_trial_request *req, const nd_device_info *info,
                            const nd_calibration *cal, uint32_t trial_no)
{
    nd_trial *t = nd_trial_create(4); /* this command + metrics, writer, publisher */
    if (!t) return NULL;
    t->trial_no = trial_no;
    nd_trial_id_generate(t->trial_id, sizeof t->trial_id);
    time_t now = time(NULL);
    t->created_unix = (int64_t)now;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(t->created_utc, sizeof t->created_utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
    t->req = *req;
    t->device = *info;
    t->calibration = *cal;
    pthread_mutex_lock(&d->cmd.lock);
    t->settings = d->cmd.settings;
    pthread_mutex_unlock(&d->cmd.lock);
    t->fs = info->rate_hz;
    return t;
}

static void post_abort(nd_daemon *d, uint32_t trial_no)
{
    nd_msg m = {.kind = ND_MSG_TRIAL_ABORT, .trial_no = trial_no};
    nd_bus_post_at_head(&d->bus, &m, NULL);
    nd_ring_wake_all(d->ring);
}

/* at: ring position of the trial's first set, or UINT64_MAX for "now".
 * cal: the calibration for the trial, or NULL for the one in force.
 * release_hold: the consumers were held (--record): let them go once the
 * start is posted, so the writer can reach it and create the file. */
static int start_trial_at(nd_daemon *d, const nd_trial_request *req, uint64_t at,
                          const nd_calibration *cal, bool release_hold, nd_trial_slot *out,
                          char *err, size_t errlen)
{
    if (nd_trial_athlete_id_check(req->athlete_id, err, errlen)) return -1;
    if (nd_subject_validate(&req->subject, err, errlen)) return -1;
    /* A held start (--record) keeps what the ring holds from position 0. */
    if (at == UINT64_MAX && check_device_present(d, err, errlen)) return -1;

    nd_command_state *c = &d->cmd;
    nd_device_info info;
    bool have_info = nd_device_board_get(&d->device_board, &info);
    pthread_mutex_lock(&c->lock);
    if (c->state == ND_TRIAL_RECORDING) {
        snprintf(err, errlen, "trial %s is already recording; stop it first", c->trial->trial_id);
        goto refuse;
    }
    if (!have_info) {
        snprintf(err, errlen, "the device has not reported yet (rate and channels unknown)");
        goto refuse;
    }
    if (c->window_active) {
        snprintf(err, errlen, "a tare or calibration is running; start the trial after it");
        goto refuse;
    }
    if (nd_metric_settings_validate(&c->settings, info.rate_hz, err, errlen)) goto refuse;
    uint32_t trial_no = c->next_trial_no++;
    pthread_mutex_unlock(&c->lock);

    nd_calibration in_force;
    if (!cal) {
        wait_calibration_current(d);
        nd_metrics_board_get_cal(&d->metrics_board, &in_force, NULL);
        cal = &in_force;
    }
    nd_trial *t = make_trial(d, req, &info, cal, trial_no);
    if (!t) return snprintf(err, errlen, "out of memory"), -1;

    nd_msg m = {.kind = ND_MSG_TRIAL_START, .trial_no = trial_no};
    m.u.trial = t;
    uint64_t pos = at;
    int posted;
    if (at == UINT64_MAX) {
        posted = nd_bus_post_at_head(&d->bus, &m, &pos);
    } else {
        m.pos = at;
        posted = nd_bus_post(&d->bus, &m);
    }
    if (release_hold) atomic_store(&d->held, false);
    nd_ring_wake_all(d->ring);
    if (posted) {
        for (int i = 0; i < 4; i++) nd_trial_release(t);
        return snprintf(err, errlen, "message bus full"), -1;
    }

    /* The writer creates the file when it reaches the start (HDF5 is used
     * from that thread only); the trial counts as started only once the
     * file exists, so a bad data directory is an error in this reply. */
    int result = -1;
    char msg[256] = "";
    int waited = nd_reply_wait(t->opened, 15.0, &result, msg, sizeof msg);
    if (waited && !nd_reply_abandon(t->opened)) {
        post_abort(d, trial_no);
        nd_trial_release(t);
        return snprintf(err, errlen, "the file writer did not answer within 15 s (disk stalled?)"),
               -1;
    }
    if (waited) nd_reply_wait(t->opened, 0, &result, msg, sizeof msg);
    if (result) {
        post_abort(d, trial_no);
        nd_trial_release(t);
        return snprintf(err, errlen, "%s", msg), -1;
    }

    /* The status a client asks for right after this reply shows the trial
     * as the metrics thread runs it (sets, reps, time), not the idle view. */
    for (int i = 0; i < 2000 && nd_metrics_board_trial_no(&d->metrics_board) != trial_no; i++)
        sleep_ms(1);

    pthread_mutex_lock(&c->lock);
    nd_trial_release(c->trial); /* the previous trial, kept for last_trial */
    c->trial = t;
    c->start_pos = pos;
    c->state = ND_TRIAL_RECORDING;
    if (out) nd_trial_to_slot(t, pos, out);
    pthread_mutex_unlock(&c->lock);
    nd_notice("trial %s started for athlete %s: %s", t->trial_id, req->athlete_id, t->path);
    return 0;

refuse:
    pthread_mutex_unlock(&c->lock);
    return -1;
}

int nd_daemon_start_trial(nd_daemon *d, const nd_trial_request *req, nd_trial_slot *out, char *err,
                          size_t errlen)
{
    return start_trial_at(d, req, UINT64_MAX, NULL, false, out, err, errlen);
}

/* Settings given during the trial (a reload) take effect with its stop, so
 * the next trial uses them. Caller holds the command lock. */
static void apply_pending_settings(nd_daemon *d)
{
    nd_command_state *c = &d->cmd;
    if (!c->settings_pending) return;
    c->settings = c->pending;
    c->settings_pending = false;
    nd_msg m = {.kind = ND_MSG_SETTINGS};
    m.u.settings = c->settings;
    nd_bus_post_at_head(&d->bus, &m, NULL);
    nd_notice("metric settings given during the trial are in effect from now on");
}

int nd_daemon_stop_trial(nd_daemon *d, nd_trial_slot *slot, nd_trial_summary *summary, char *err,
                         size_t errlen)
{
    nd_command_state *c = &d->cmd;
    pthread_mutex_lock(&c->lock);
    if (c->state != ND_TRIAL_RECORDING) {
        pthread_mutex_unlock(&c->lock);
        snprintf(err, errlen, "no trial is recording");
        return -1;
    }
    nd_trial *t = c->trial;
    nd_trial_retain(t);
    uint64_t start_pos = c->start_pos;
    c->state = ND_TRIAL_IDLE;
    apply_pending_settings(d);
    pthread_mutex_unlock(&c->lock);

    nd_msg m = {.kind = ND_MSG_TRIAL_STOP, .trial_no = t->trial_no};
    nd_bus_post_at_head(&d->bus, &m, NULL);
    nd_ring_wake_all(d->ring);

    /* The writer closes the file once the metrics thread's summary arrives;
     * a deep backlog (slow disk) may take a while to drain. */
    int result = 0;
    char msg[256] = "";
    int rc = 0;
    if (nd_reply_wait(t->closed, 60.0, &result, msg, sizeof msg)) {
        snprintf(err, errlen, "the trial file was not closed within 60 s (disk stalled?)");
        rc = -1;
    } else {
        if (slot) nd_trial_to_slot(t, start_pos, slot);
        if (summary) *summary = t->summary;
        if (result) {
            snprintf(err, errlen, "%s", msg);
            rc = -1;
        }
    }
    nd_trial_release(t);
    return rc;
}

int nd_daemon_mark(nd_daemon *d, const char *kind, const char *detail, int pain, char *err,
                   size_t errlen)
{
    if (pain < -1 || pain > 10) return snprintf(err, errlen, "pain must be 0 to 10"), -1;
    if (!kind || !*kind || strlen(kind) >= 32)
        return snprintf(err, errlen, "mark kind must be 1 to 31 characters"), -1;
    pthread_mutex_lock(&d->cmd.lock);
    bool recording = d->cmd.state == ND_TRIAL_RECORDING;
    uint32_t no = recording ? d->cmd.trial->trial_no : 0;
    pthread_mutex_unlock(&d->cmd.lock);
    if (!recording) return snprintf(err, errlen, "no trial is recording"), -1;
    nd_msg m = {.kind = ND_MSG_MARK, .trial_no = no};
    snprintf(m.u.mark.kind, sizeof m.u.mark.kind, "%s", kind);
    snprintf(m.u.mark.detail, sizeof m.u.mark.detail, "%s", detail ? detail : "");
    m.u.mark.pain = pain;
    return nd_bus_post_at_head(&d->bus, &m, NULL) ? (snprintf(err, errlen, "message bus full"), -1)
                                                  : 0;
}

static int settings_valid(nd_daemon *d, const nd_metric_settings *s, char *err, size_t errlen)
{
    double fs = nd_device_board_rate(&d->device_board);
    return nd_metric_settings_validate(s, fs > 0 ? fs : 1000.0, err, errlen);
}

int nd_daemon_set_metric_settings(nd_daemon *d, const nd_metric_settings *s, char *err,
                                  size_t errlen)
{
    nd_command_state *c = &d->cmd;
    pthread_mutex_lock(&c->lock);
    int rc = -1;
    if (c->state == ND_TRIAL_RECORDING) {
        snprintf(err, errlen, "settings cannot change while a trial is recording");
    } else if (settings_valid(d, s, err, errlen) == 0) {
        c->settings = *s;
        c->settings_pending = false;
        nd_msg m = {.kind = ND_MSG_SETTINGS};
        m.u.settings = *s;
        nd_bus_post_at_head(&d->bus, &m, NULL);
        rc = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int nd_daemon_set_metric_settings_after_trial(nd_daemon *d, const nd_metric_settings *s, char *err,
                                              size_t errlen)
{
    if (settings_valid(d, s, err, errlen)) return -1;
    nd_command_state *c = &d->cmd;
    pthread_mutex_lock(&c->lock);
    bool recording = c->state == ND_TRIAL_RECORDING;
    if (recording) {
        c->pending = *s;
        c->settings_pending = true;
    }
    pthread_mutex_unlock(&c->lock);
    if (recording) return 1;
    return nd_daemon_set_metric_settings(d, s, err, errlen);
}

void nd_daemon_get_options(nd_daemon *d, nd_metric_settings *settings, double *live_hz,
                           int *wave_decimation)
{
    if (settings) {
        pthread_mutex_lock(&d->cmd.lock);
        *settings = d->cmd.settings;
        pthread_mutex_unlock(&d->cmd.lock);
    }
    nd_live_board_get(&d->live_board, live_hz, wave_decimation);
}

void nd_daemon_set_live_options(nd_daemon *d, double live_hz, int wave_decimation)
{
    nd_live_board_set(&d->live_board, live_hz, wave_decimation);
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
    out->live_skipped = rs.skipped[d->publisher.ring_reader];
    out->live_dropped_msgs = atomic_load(&d->publisher.live_dropped_msgs);
    out->file_sets_written = atomic_load(&d->writer.counters.sets_written);
    out->file_sets_lost = atomic_load(&d->writer.counters.sets_lost);
    out->file_errors = atomic_load(&d->writer.counters.errors);
    out->channel_errors = atomic_load(&d->metrics.channel_errors);
    snprintf(out->device_uri, sizeof out->device_uri, "%s", d->cfg.device);
    out->have_device_info = nd_device_board_get(&d->device_board, &out->device);

    nd_calibration cal;
    nd_metrics_board_get_cal(&d->metrics_board, &cal, NULL);
    out->left_channel = cal.left_channel;
    out->right_channel = cal.right_channel;
    out->calib_offset[0] = cal.offset[cal.left_channel];
    out->calib_offset[1] = cal.offset[cal.right_channel];
    out->calib_gain[0] = cal.gain[cal.left_channel];
    out->calib_gain[1] = cal.gain[cal.right_channel];
    nd_error_board_get(&d->errors, out->last_error, sizeof out->last_error);
    nd_metrics_board_get_warning(&d->metrics_board, out->warning, sizeof out->warning);
    nd_live_state live;
    uint32_t live_of_trial;
    nd_metrics_board_get_live(&d->metrics_board, &live, NULL, &live_of_trial);

    pthread_mutex_lock(&d->cmd.lock);
    bool recording = d->cmd.state == ND_TRIAL_RECORDING;
    snprintf(out->state, sizeof out->state, "%s", recording ? "recording" : "idle");
    if (d->cmd.window_active)
        snprintf(out->activity, sizeof out->activity, "%s", d->cmd.window_kind);
    if (recording) {
        const nd_trial *t = d->cmd.trial;
        snprintf(out->trial_id, sizeof out->trial_id, "%s", t->trial_id);
        snprintf(out->athlete_id, sizeof out->athlete_id, "%s", t->req.athlete_id);
        snprintf(out->file, sizeof out->file, "%s", t->path);
        /* The trial's own counts once the metrics thread has begun it;
         * until then (just after the start) it has none yet. */
        bool begun = live_of_trial == t->trial_no;
        out->trial_t_s = begun ? live.t_s : 0;
        out->trial_samples = begun ? live.samples : 0;
        out->trial_reps = begun ? live.reps : 0;
        nd_metrics_board_get_sets(&d->metrics_board, &out->sets);
    }
    pthread_mutex_unlock(&d->cmd.lock);
}

int nd_daemon_record_start(nd_daemon *d, const nd_trial_request *req, bool tare, nd_trial_slot *out,
                           char *err, size_t errlen)
{
    if (!atomic_load(&d->held)) return snprintf(err, errlen, "the daemon was not started held"), -1;
    /* The device reports its rate and channels first. */
    double fs = 0;
    for (int i = 0; i < 200 && fs <= 0; i++) {
        fs = nd_device_board_rate(&d->device_board);
        if (fs <= 0) {
            if (atomic_load(&d->acq.ended)) break;
            sleep_ms(25);
        }
    }
    if (fs <= 0) return snprintf(err, errlen, "the device did not report its rate within 5 s"), -1;

    uint64_t start = 0;
    /* The consumers are held, so the metrics thread has not seen the
     * device's info yet: apply it here the way that thread would. */
    nd_calibration cal;
    bool saved;
    nd_device_info info;
    nd_metrics_board_get_cal(&d->metrics_board, &cal, &saved);
    if (!saved && nd_device_board_get(&d->device_board, &info))
        nd_calibration_from_device(&cal, &info);
    if (tare) {
        nd_metric_settings s;
        nd_daemon_get_options(d, &s, NULL, NULL);
        uint64_t want = (uint64_t)llround(s.tare_window_s * fs);
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
            if (atomic_load(&d->acq.done))
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
            sleep_ms(5);
        }
        nd_raw_mean mean;
        nd_raw_mean_start(&mean, cal.nch, want);
        for (uint64_t i = 0; i < want; i++) nd_raw_mean_add(&mean, nd_ring_slot(d->ring, i));
        /* The same tare guard as the metrics thread's (a loaded zero is refused). */
        nd_tare_guard guard = {.have_zero = saved,
                               .max_shift_N = d->cfg.tare_max_shift_N,
                               .max_offset_N = d->cfg.tare_max_offset_N};
        bool have_info = nd_device_board_get(&d->device_board, &info);
        char why[240];
        for (int side = 0; side < 2; side++) {
            int ch = side ? cal.right_channel : cal.left_channel;
            guard.nominal_known[side] = have_info && info.counts_per_newton[ch] > 0;
        }
        for (int side = 0; side < 2; side++) {
            int ch = side ? cal.right_channel : cal.left_channel;
            if (nd_calibration_tare_check(&cal, &guard, side, ch, nd_raw_mean_value(&mean, ch), why,
                                          sizeof why))
                return snprintf(err, errlen, "tare refused: %s", why), -1;
        }
        if (nd_calibration_tare(&cal, &mean, err, errlen)) return -1;
        /* The metrics thread owns the calibration: it adopts (and saves)
         * this tare before the first set it processes. */
        nd_msg m = {.kind = ND_MSG_SET_CALIBRATION, .pos = 0};
        m.u.calibration = cal;
        nd_bus_post(&d->bus, &m);
        nd_notice("tare over the first %llu sets: offset left %.1f, right %.1f counts",
                  (unsigned long long)want, cal.offset[cal.left_channel],
                  cal.offset[cal.right_channel]);
        start = want;
    }
    int rc = start_trial_at(d, req, start, &cal, true, out, err, errlen);
    atomic_store(&d->held, false);
    nd_ring_wake_all(d->ring);
    return rc;
}

bool nd_daemon_recording(nd_daemon *d)
{
    pthread_mutex_lock(&d->cmd.lock);
    bool recording = d->cmd.state == ND_TRIAL_RECORDING;
    pthread_mutex_unlock(&d->cmd.lock);
    return recording;
}

int nd_daemon_last_trial(nd_daemon *d, nd_trial_slot *slot, nd_trial_summary *summary)
{
    pthread_mutex_lock(&d->cmd.lock);
    nd_trial *t = d->cmd.trial;
    uint64_t start_pos = d->cmd.start_pos;
    if (t) nd_trial_retain(t);
    pthread_mutex_unlock(&d->cmd.lock);
    if (!t) return -1;
    /* Wait briefly for the writer to close a trial that was just stopped. */
    int result = -1;
    int rc = nd_reply_wait(t->closed, 10.0, &result, NULL, 0) == 0 ? 0 : -1;
    if (rc == 0) {
        nd_trial_to_slot(t, start_pos, slot);
        *summary = t->summary;
    }
    nd_trial_release(t);
    return rc;
}
