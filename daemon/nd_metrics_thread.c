/* The metrics thread: a lossless ring consumer that calibrates every sample
 * set, runs tare and two-point calibration windows, feeds the trial's metrics
 * engine (SPEC 4) and posts rep results and the trial summary on the bus.
 * Between trials an idle engine keeps the live force display going. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nd_daemon_internal.h"
#include "nd_log.h"

typedef struct metrics_ctx {
    nd_daemon *d;
    nd_calibration cal; /* private copy; published to d->cal on change */
    nd_metric_settings settings;
    double fs;
    nd_metrics *idle;  /* live display between trials */
    nd_metrics *trial; /* the recording trial's engine, NULL when idle */
    uint32_t trial_no;
    uint64_t trial_start_pos;
    int pain_rating;
    /* tare / two-point window */
    enum { WIN_NONE, WIN_TARE, WIN_CAL } window;
    nd_raw_mean mean;
    int cal_side;
    bool tare_left, tare_right, tare_force;
    uint32_t cal_generation;
    /* force clearly negative at rest: the zero was taken under load */
    uint64_t rest_bad_since_ns, rest_ok_since_ns;
    bool rest_warned;
    double cal_mass;
    uint64_t idle_since_reset;
    uint64_t newest_host_ns;
} metrics_ctx;

static void finish_op(nd_daemon *d, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish_op(nd_daemon *d, int rc, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&d->lock);
    va_start(ap, fmt);
    vsnprintf(d->op.msg, sizeof d->op.msg, fmt, ap);
    va_end(ap);
    d->op.rc = rc;
    d->op.done = true;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static bool refresh_rate(metrics_ctx *mc)
{
    nd_daemon *d = mc->d;
    pthread_mutex_lock(&d->lock);
    double fs = d->info_valid ? d->info.rate_hz : 0;
    mc->settings = d->settings;
    pthread_mutex_unlock(&d->lock);
    if (fs <= 0) return false;
    if (fs != mc->fs || !mc->idle) {
        nd_subject none = {0};
        nd_metrics_destroy(mc->idle);
        mc->idle = nd_metrics_create(&mc->settings, fs, &none);
        mc->fs = fs;
        mc->idle_since_reset = 0;
    }
    return mc->idle != NULL;
}

static void publish_calibration(metrics_ctx *mc, const char *what)
{
    nd_daemon *d = mc->d;
    char err[256];
    pthread_mutex_lock(&d->lock);
    d->cal = mc->cal;
    d->cal_saved = true;
    mc->cal_generation = ++d->cal_generation;
    pthread_mutex_unlock(&d->lock);
    if (nd_calibration_save(&mc->cal, d->cal_path, err, sizeof err))
        nd_daemon_set_error(d, "calibration not saved: %s", err);
    nd_msg m = {.kind = ND_MSG_CALIBRATION};
    snprintf(m.u.text, sizeof m.u.text, "%s", what);
    nd_bus_post_at_head(&d->bus, &m, NULL);
}

static void set_warning(nd_daemon *d, const char *text)
{
    pthread_mutex_lock(&d->lock);
    snprintf(d->warning, sizeof d->warning, "%s", text);
    pthread_mutex_unlock(&d->lock);
}

/* The tare guard (nd_calibration_tare_check) on the hooks being tared. */
static int tare_guard(metrics_ctx *mc, char *why, size_t whylen)
{
    nd_daemon *d = mc->d;
    int l = mc->cal.left_channel, r = mc->cal.right_channel;
    nd_tare_guard g = {.max_shift_N = d->cfg.tare_max_shift_N,
                       .max_offset_N = d->cfg.tare_max_offset_N};
    pthread_mutex_lock(&d->lock);
    g.have_zero = d->cal_saved;
    g.nominal_known[0] = d->info_valid && d->info.counts_per_newton[l] > 0;
    g.nominal_known[1] = d->info_valid && d->info.counts_per_newton[r] > 0;
    pthread_mutex_unlock(&d->lock);
    if (mc->tare_left &&
        nd_calibration_tare_check(&mc->cal, &g, 0, l, nd_raw_mean_value(&mc->mean, l), why, whylen))
        return -1;
    if (mc->tare_right &&
        nd_calibration_tare_check(&mc->cal, &g, 1, r, nd_raw_mean_value(&mc->mean, r), why, whylen))
        return -1;
    return 0;
}

static void window_done(metrics_ctx *mc)
{
    nd_daemon *d = mc->d;
    int l = mc->cal.left_channel, r = mc->cal.right_channel;
    if (mc->window == WIN_TARE) {
        char why[240] = "", text[240];
        bool loaded = tare_guard(mc, why, sizeof why) != 0;
        if (loaded && !mc->tare_force) {
            nd_warn("tare refused: %s", why);
            finish_op(d, -1, "tare refused: %s", why);
            mc->window = WIN_NONE;
            return;
        }
        snprintf(text, sizeof text, "tare forced: %s", why);
        set_warning(d, loaded ? text : "");
        mc->rest_warned = false;
        if (mc->tare_left) mc->cal.offset[l] = nd_raw_mean_value(&mc->mean, l);
        if (mc->tare_right) mc->cal.offset[r] = nd_raw_mean_value(&mc->mean, r);
        char what[200];
        snprintf(what, sizeof what, "tare: offset left %.1f, right %.1f counts over %llu sets",
                 mc->cal.offset[l], mc->cal.offset[r], (unsigned long long)mc->mean.n);
        publish_calibration(mc, what);
        nd_notice("%s", what);
        finish_op(d, 0, "%s", what);
    } else {
        int ch = mc->cal_side == ND_LEFT ? l : r;
        char err[256];
        double mean = nd_raw_mean_value(&mc->mean, ch);
        if (nd_calibration_set_gain_from_mass(&mc->cal, ch, mc->cal_mass, mean, err, sizeof err)) {
            finish_op(d, -1, "%s", err);
        } else {
            char what[200];
            snprintf(what, sizeof what, "calibration: %s gain %.9g N/count from %.3f kg",
                     mc->cal_side == ND_LEFT ? "left" : "right", mc->cal.gain[ch], mc->cal_mass);
            publish_calibration(mc, what);
            nd_notice("%s", what);
            finish_op(d, 0, "%s", what);
        }
    }
    mc->window = WIN_NONE;
}

static void start_window(metrics_ctx *mc, const nd_msg *m)
{
    nd_daemon *d = mc->d;
    if (mc->fs <= 0 && !refresh_rate(mc)) {
        finish_op(d, -1, "the device has not reported its sample rate yet");
        return;
    }
    if (mc->window != WIN_NONE) {
        finish_op(d, -1, "a tare or calibration is already running");
        return;
    }
    nd_live_state live;
    nd_metrics_live(mc->trial ? mc->trial : mc->idle, &live);
    /* Before the first tare the zero is unknown and raw offsets can look
     * like load, so the "no rep in progress" rule applies once tared. */
    if (m->u.cal.require_unloaded && live.rep_open) {
        finish_op(d, -1, "refused: load on the hooks (a rep is in progress); unload and retry");
        return;
    }
    uint64_t want = (uint64_t)llround(m->u.cal.window_s * mc->fs);
    if (want < 1) want = 1;
    nd_raw_mean_start(&mc->mean, mc->cal.nch, want);
    mc->window = m->kind == ND_MSG_TARE ? WIN_TARE : WIN_CAL;
    mc->cal_side = m->u.cal.side;
    mc->tare_left = m->u.cal.left;
    mc->tare_right = m->u.cal.right;
    mc->tare_force = m->u.cal.force;
    mc->cal_mass = m->u.cal.mass_kg;
}

static void begin_trial(metrics_ctx *mc, const nd_msg *m)
{
    nd_daemon *d = mc->d;
    pthread_mutex_lock(&d->lock);
    nd_trial_slot t = d->trial;
    pthread_mutex_unlock(&d->lock);
    nd_metrics_destroy(mc->trial);
    mc->trial = nd_metrics_create(&t.settings, t.fs, &t.req.subject);
    mc->cal = t.calibration;
    mc->trial_no = m->trial_no;
    mc->trial_start_pos = m->pos;
    mc->pain_rating = -1;
    if (!mc->trial)
        nd_daemon_set_error(d, "cannot create the metrics engine for trial %s", t.trial_id);
}

static void post_rep(metrics_ctx *mc, const nd_rep_result *rep, uint64_t pos)
{
    nd_msg m = {.kind = ND_MSG_REP, .pos = pos, .trial_no = mc->trial_no};
    m.u.rep = *rep;
    nd_notice("rep %u: peak left %.1f N, right %.1f N, asymmetry %.1f %% (%s weaker)", rep->index,
              rep->peak_N[ND_LEFT], rep->peak_N[ND_RIGHT], rep->asymmetry_pct,
              nd_side_name(rep->weaker_side));
    nd_bus_post(&mc->d->bus, &m);
}

static void end_trial(metrics_ctx *mc, const nd_msg *m)
{
    if (!mc->trial_no) return;
    nd_msg s = {.kind = ND_MSG_SUMMARY, .pos = m->pos, .trial_no = mc->trial_no};
    if (mc->trial) {
        nd_rep_result rep;
        if (nd_metrics_finish(mc->trial, &rep)) post_rep(mc, &rep, m->pos);
        nd_metrics_summary(mc->trial, mc->pain_rating, &s.u.summary);
    } else {
        /* No engine (creation failed): the writer still needs a summary to
         * close the file, so send one that says "no metrics". */
        nd_trial_summary *sum = &s.u.summary;
        memset(sum, 0, sizeof *sum);
        for (int leg = 0; leg < 2; leg++)
            sum->max_N[leg] = sum->mean_N[leg] = sum->torque_max_Nm[leg] =
                sum->rel_force_max_N_per_kg[leg] = NAN;
        sum->asymmetry_pct = sum->abs_asymmetry_pct = sum->lsi_pct = NAN;
        sum->pain_rating = mc->pain_rating;
    }
    nd_bus_post(&mc->d->bus, &s);
    nd_metrics_destroy(mc->trial);
    mc->trial = NULL;
    mc->trial_no = 0;
}

static void handle_msg(metrics_ctx *mc, const nd_msg *m)
{
    switch (m->kind) {
    case ND_MSG_TRIAL_START:
        begin_trial(mc, m);
        break;
    case ND_MSG_TRIAL_STOP:
        end_trial(mc, m);
        break;
    case ND_MSG_TARE:
    case ND_MSG_CALIBRATE:
        start_window(mc, m);
        break;
    case ND_MSG_CANCEL_WINDOW:
        /* Its request gave up: the window must not complete later, on data
         * that may come back loaded or inside a trial. */
        if (mc->window != WIN_NONE) {
            finish_op(mc->d, -1,
                      "no data from the device: %llu of %llu sets in the window; "
                      "tare/calibration abandoned",
                      (unsigned long long)mc->mean.n, (unsigned long long)mc->mean.want);
            mc->window = WIN_NONE;
        }
        break;
    case ND_MSG_MARK:
        if (m->u.mark.pain >= 0 && mc->trial) mc->pain_rating = m->u.mark.pain;
        break;
    default:
        break;
    }
}

static void process(metrics_ctx *mc, uint64_t pos, uint64_t n)
{
    nd_daemon *d = mc->d;
    int l = mc->cal.left_channel, r = mc->cal.right_channel;
    nd_metrics *engine = mc->trial ? mc->trial : mc->idle;
    for (uint64_t i = 0; i < n; i++) {
        const nd_sample *s = nd_ring_slot(d->ring, pos + i);
        if (s->nch <= l || s->nch <= r) {
            atomic_fetch_add(&d->metrics_channel_errors, 1);
            continue;
        }
        if (mc->window != WIN_NONE && nd_raw_mean_add(&mc->mean, s)) window_done(mc);
        double fl = nd_calibration_apply(&mc->cal, l, s->raw[l]);
        double fr = nd_calibration_apply(&mc->cal, r, s->raw[r]);
        nd_rep_result rep;
        if (engine && nd_metrics_push(engine, fl, fr, &rep) && engine == mc->trial)
            post_rep(mc, &rep, pos + i + 1);
        mc->newest_host_ns = s->host_ns;
    }
    if (!mc->trial && mc->idle) {
        /* The idle engine only serves the live display; restart it now and
         * then so its counters never grow without bound. */
        mc->idle_since_reset += n;
        nd_live_state live;
        nd_metrics_live(mc->idle, &live);
        if (mc->idle_since_reset > (1u << 24) && !live.rep_open) {
            nd_subject none = {0};
            nd_metrics_destroy(mc->idle);
            mc->idle = nd_metrics_create(&mc->settings, mc->fs, &none);
            mc->idle_since_reset = 0;
        }
    }
}

/* A hook clearly negative at rest for a second means its zero was taken
 * with load on it: warn on status until it reads about zero again (or a
 * tare succeeds). Pulling opens a rep, so only rest is judged. */
static void check_rest_force(metrics_ctx *mc, const nd_live_state *live)
{
    double limit = mc->d->cfg.tare_max_shift_N;
    uint64_t now = mc->newest_host_ns;
    if (limit <= 0 || live->rep_open || mc->window != WIN_NONE) {
        mc->rest_bad_since_ns = mc->rest_ok_since_ns = 0;
        return;
    }
    int worst = live->force_N[ND_LEFT] <= live->force_N[ND_RIGHT] ? ND_LEFT : ND_RIGHT;
    double f = live->force_N[worst];
    if (f < -limit) {
        mc->rest_ok_since_ns = 0;
        if (!mc->rest_bad_since_ns) mc->rest_bad_since_ns = now;
        if (!mc->rest_warned && now - mc->rest_bad_since_ns >= 1000000000u) {
            pthread_mutex_lock(&mc->d->lock);
            bool tared = mc->d->cal_saved;
            pthread_mutex_unlock(&mc->d->lock);
            char text[240];
            snprintf(text, sizeof text, "%s hook reads %.1f N at rest: %s",
                     nd_side_name(worst == ND_LEFT ? ND_SIDE_LEFT : ND_SIDE_RIGHT), f,
                     tared ? "its zero was taken with load on the hook; unload the hooks and "
                             "tare again (nordctl tare --force)"
                           : "the hooks have not been tared; tare them unloaded");
            nd_warn("%s", text);
            set_warning(mc->d, text);
            mc->rest_warned = true;
        }
    } else if (f > -limit / 2) {
        mc->rest_bad_since_ns = 0;
        if (!mc->rest_ok_since_ns) mc->rest_ok_since_ns = now;
        if (mc->rest_warned && now - mc->rest_ok_since_ns >= 1000000000u) {
            nd_notice("both hooks read about zero at rest again");
            set_warning(mc->d, "");
            mc->rest_warned = false;
        }
    }
}

/* Publishes live values and picks up a calibration changed elsewhere (the
 * device's counts_per_newton arriving) while no trial or window runs. */
static void publish_live(metrics_ctx *mc)
{
    nd_metrics *engine = mc->trial ? mc->trial : mc->idle;
    nd_live_state live;
    if (engine) nd_metrics_live(engine, &live);
    if (engine) check_rest_force(mc, &live);
    pthread_mutex_lock(&mc->d->lock);
    if (engine) {
        mc->d->live = live;
        mc->d->live_host_ns = mc->newest_host_ns;
    }
    if (mc->cal_generation != mc->d->cal_generation && !mc->trial && mc->window == WIN_NONE) {
        mc->cal = mc->d->cal;
        mc->cal_generation = mc->d->cal_generation;
    }
    pthread_mutex_unlock(&mc->d->lock);
}

void *nd_metrics_main(void *arg)
{
    metrics_ctx mc = {.d = arg, .pain_rating = -1};
    nd_daemon *d = mc.d;
    pthread_mutex_lock(&d->lock);
    mc.cal = d->cal;
    mc.cal_generation = d->cal_generation;
    pthread_mutex_unlock(&d->lock);

    for (;;) {
        atomic_store(&d->metrics_beat_ns, nd_monotonic_ns());
        if (atomic_load(&d->held) && !nd_consumers_should_exit(d)) {
            nd_ring_wait(d->ring, d->ring_metrics, 2);
            continue;
        }
        uint64_t pos;
        /* Read the ring before the bus (see nd_bus.h for why). */
        uint64_t avail = nd_ring_available(d->ring, d->ring_metrics, &pos);
        uint64_t done = 0;
        for (;;) {
            nd_msg m;
            uint64_t limit;
            while (nd_bus_next(&d->bus, d->bus_metrics, pos + done, avail - done, &m, &limit))
                handle_msg(&mc, &m);
            if (limit == 0) break;
            if (!mc.idle) refresh_rate(&mc);
            process(&mc, pos + done, limit);
            done += limit;
        }
        if (avail) {
            nd_ring_release(d->ring, d->ring_metrics, pos + avail);
            publish_live(&mc);
            continue;
        }
        if (nd_consumers_should_exit(d)) break;
        nd_ring_wait(d->ring, d->ring_metrics, 20);
    }
    if (mc.trial_no) {
        nd_msg stop = {
            .kind = ND_MSG_TRIAL_STOP, .pos = nd_ring_published(d->ring), .trial_no = mc.trial_no};
        end_trial(&mc, &stop);
    }
    if (mc.window != WIN_NONE) finish_op(d, -1, "daemon shutting down");
    nd_metrics_destroy(mc.idle);
    return NULL;
}
