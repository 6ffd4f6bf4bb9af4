/* The metrics thread (nd_metrics_thread.h). */
#include "nd_metrics_thread.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nd_log.h"
#include "nd_reply.h"
#include "nd_trial.h"

typedef struct metrics_ctx {
    nd_metrics_thread *t;
    nd_calibration cal; /* the calibration this thread owns */
    bool cal_saved;
    nd_calibration trial_cal; /* the recording trial's (fixed from start to stop) */
    nd_metric_settings settings;
    double fs;
    nd_metrics *idle;  /* live display between trials */
    nd_metrics *trial; /* the recording trial's engine, NULL when idle */
    nd_trial *desc;    /* the recording trial, held while it records */
    uint32_t trial_no;
    int pain_rating;
    nd_sets sets; /* the recording trial's protocol (inactive without one) */
    /* tare / two-point window */
    enum { WIN_NONE, WIN_TARE, WIN_CAL } window;
    nd_reply *window_reply;
    nd_raw_mean mean;
    int cal_side;
    bool tare_left, tare_right, tare_force;
    double cal_mass;
    /* force clearly negative at rest: the zero was taken under load */
    uint64_t rest_bad_since_ns, rest_ok_since_ns;
    bool rest_warned;
    uint64_t idle_since_reset;
    uint64_t newest_host_ns;
} metrics_ctx;

static const nd_calibration *cal_in_force(const metrics_ctx *mc)
{
    return mc->trial_no ? &mc->trial_cal : &mc->cal;
}

/* The board shows the calibration in force and the device-info generation
 * it reflects. */
static void publish_board_cal(metrics_ctx *mc, uint64_t info_generation)
{
    nd_metrics_board *b = mc->t->board;
    pthread_mutex_lock(&b->lock);
    b->cal = *cal_in_force(mc);
    b->cal_saved = mc->cal_saved;
    if (info_generation) b->info_generation = info_generation;
    pthread_mutex_unlock(&b->lock);
}

static void set_warning(metrics_ctx *mc, const char *text)
{
    nd_metrics_board *b = mc->t->board;
    pthread_mutex_lock(&b->lock);
    snprintf(b->warning, sizeof b->warning, "%s", text);
    pthread_mutex_unlock(&b->lock);
}

/* The tare guard (nd_calibration_tare_check) on the hooks being tared. */
static int tare_guard(metrics_ctx *mc, char *why, size_t whylen)
{
    int l = mc->cal.left_channel, r = mc->cal.right_channel;
    nd_tare_guard g = {.have_zero = mc->cal_saved,
                       .max_shift_N = mc->t->tare_max_shift_N,
                       .max_offset_N = mc->t->tare_max_offset_N};
    nd_device_info info;
    bool have_info = nd_device_board_get(mc->t->device, &info);
    g.nominal_known[0] = have_info && info.counts_per_newton[l] > 0;
    g.nominal_known[1] = have_info && info.counts_per_newton[r] > 0;
    if (mc->tare_left &&
        nd_calibration_tare_check(&mc->cal, &g, 0, l, nd_raw_mean_value(&mc->mean, l), why, whylen))
        return -1;
    if (mc->tare_right &&
        nd_calibration_tare_check(&mc->cal, &g, 1, r, nd_raw_mean_value(&mc->mean, r), why, whylen))
        return -1;
    return 0;
}

static void finish_window(metrics_ctx *mc, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish_window(metrics_ctx *mc, int rc, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (mc->window_reply) {
        nd_reply_finish(mc->window_reply, rc, "%s", msg);
        nd_reply_release(mc->window_reply);
        mc->window_reply = NULL;
    }
}

static bool refresh_rate(metrics_ctx *mc)
{
    double fs = nd_device_board_rate(mc->t->device);
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

static void save_calibration(metrics_ctx *mc)
{
    char err[256];
    mc->cal_saved = true;
    if (nd_calibration_save(&mc->cal, mc->t->cal_path, err, sizeof err))
        nd_error_report(mc->t->errors, "calibration not saved: %s", err);
    publish_board_cal(mc, 0);
}

/* Without a saved calibration, the device's own counts per newton give the
 * gains; tare and two-point calibration refine them. Never while a trial
 * records: its calibration is fixed from start to stop. */
static void device_info_changed(metrics_ctx *mc)
{
    uint64_t generation = nd_device_board_generation(mc->t->device);
    nd_device_info info;
    if (nd_device_board_get(mc->t->device, &info) && !mc->cal_saved && !mc->trial_no)
        nd_calibration_from_device(&mc->cal, &info);
    publish_board_cal(mc, generation);
}

static void window_done(metrics_ctx *mc)
{
    int l = mc->cal.left_channel, r = mc->cal.right_channel;
    if (mc->window == WIN_TARE) {
        char why[240] = "", text[240];
        bool loaded = tare_guard(mc, why, sizeof why) != 0;
        if (loaded && !mc->tare_force) {
            nd_warn("tare refused: %s", why);
            finish_window(mc, -1, "tare refused: %s", why);
            mc->window = WIN_NONE;
            return;
        }
        snprintf(text, sizeof text, "tare forced: %s", why);
        set_warning(mc, loaded ? text : "");
        mc->rest_warned = false;
        if (mc->tare_left) mc->cal.offset[l] = nd_raw_mean_value(&mc->mean, l);
        if (mc->tare_right) mc->cal.offset[r] = nd_raw_mean_value(&mc->mean, r);
        char what[200];
        snprintf(what, sizeof what, "tare: offset left %.1f, right %.1f counts over %llu sets",
                 mc->cal.offset[l], mc->cal.offset[r], (unsigned long long)mc->mean.n);
        save_calibration(mc);
        nd_notice("%s", what);
        finish_window(mc, 0, "%s", what);
    } else {
        int ch = mc->cal_side == ND_LEFT ? l : r;
        char err[256];
        double mean = nd_raw_mean_value(&mc->mean, ch);
        if (nd_calibration_set_gain_from_mass(&mc->cal, ch, mc->cal_mass, mean, err, sizeof err)) {
            finish_window(mc, -1, "%s", err);
        } else {
            char what[200];
            snprintf(what, sizeof what, "calibration: %s gain %.9g N/count from %.3f kg",
                     mc->cal_side == ND_LEFT ? "left" : "right", mc->cal.gain[ch], mc->cal_mass);
            save_calibration(mc);
            nd_notice("%s", what);
            finish_window(mc, 0, "%s", what);
        }
    }
    mc->window = WIN_NONE;
}

static void start_window(metrics_ctx *mc, const nd_msg *m)
{
    nd_reply *reply = m->u.cal.reply;
    if (mc->window != WIN_NONE) {
        nd_reply_finish(reply, -1, "a tare or calibration is already running");
        nd_reply_release(reply);
        return;
    }
    mc->window_reply = reply;
    if (mc->fs <= 0 && !refresh_rate(mc)) {
        finish_window(mc, -1, "the device has not reported its sample rate yet");
        return;
    }
    if (mc->trial_no) { /* the command refuses this; never change a trial's calibration */
        finish_window(mc, -1, "refused while a trial is recording");
        return;
    }
    nd_live_state live;
    nd_metrics_live(mc->idle, &live);
    /* Before the first tare the zero is unknown and raw offsets can look
     * like load, so the "no rep in progress" rule applies once tared. */
    bool require_unloaded = mc->cal_saved || m->kind == ND_MSG_CALIBRATE;
    if (require_unloaded && live.rep_open) {
        finish_window(mc, -1,
                      "refused: load on the hooks (a rep is in progress); unload and retry");
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

static void publish_board_sets(metrics_ctx *mc);

static void begin_trial(metrics_ctx *mc, nd_trial *t, const nd_msg *m)
{
    nd_trial_release(mc->desc);
    mc->desc = t; /* the reference the command took for this thread */
    nd_metrics_destroy(mc->trial);
    mc->trial = nd_metrics_create(&t->settings, t->fs, &t->req.subject);
    mc->trial_cal = t->calibration;
    mc->trial_no = m->trial_no;
    mc->pain_rating = -1;
    nd_set_plan plan = t->req.plan;
    nd_set_plan_normalise(&plan);
    nd_sets_init(&mc->sets, &plan, t->fs);
    if (mc->trial && plan.sets && plan.leg != ND_SIDE_NONE)
        nd_metrics_set_leg(mc->trial, plan.leg, plan.leg_on_N, plan.leg_off_N);
    publish_board_cal(mc, 0);
    publish_board_sets(mc);
    if (!mc->trial)
        nd_error_report(mc->t->errors, "cannot create the metrics engine for trial %s",
                        t->trial_id);
}

static void post_set(metrics_ctx *mc, const nd_set_result *set, uint64_t pos)
{
    nd_msg m = {.kind = ND_MSG_SET_RESULT, .pos = pos, .trial_no = mc->trial_no};
    m.u.set = *set;
    nd_notice("set %u: %u of %u reps, mean peak left %.1f N, right %.1f N, pain %d, ended by %s",
              set->index, set->reps_done, set->reps_planned, set->mean_peak_N[ND_LEFT],
              set->mean_peak_N[ND_RIGHT], set->pain, nd_set_end_name(set->ended_by));
    nd_bus_post(mc->t->in.bus, &m);
}

/* The set view of the live board (phase none between trials). */
static void publish_board_sets(metrics_ctx *mc)
{
    nd_set_live sl;
    memset(&sl, 0, sizeof sl);
    if (mc->trial) {
        uint64_t n = nd_metrics_samples(mc->trial);
        nd_sets_live(&mc->sets, n ? n - 1 : 0, &sl);
    }
    nd_metrics_board *b = mc->t->board;
    pthread_mutex_lock(&b->lock);
    b->sets = sl;
    b->trial_no = mc->trial_no;
    pthread_mutex_unlock(&b->lock);
}

static void drop_trial(metrics_ctx *mc)
{
    nd_metrics_destroy(mc->trial);
    mc->trial = NULL;
    mc->trial_no = 0;
    nd_trial_release(mc->desc);
    mc->desc = NULL;
    publish_board_cal(mc, 0);
    publish_board_sets(mc);
}

static void post_rep(metrics_ctx *mc, const nd_rep_result *rep, uint64_t pos)
{
    nd_msg m = {.kind = ND_MSG_REP, .pos = pos, .trial_no = mc->trial_no};
    m.u.rep = *rep;
    nd_notice("rep %u: peak left %.1f N, right %.1f N, asymmetry %.1f %% (%s weaker)", rep->index,
              rep->peak_N[ND_LEFT], rep->peak_N[ND_RIGHT], rep->asymmetry_pct,
              nd_side_name(rep->weaker_side));
    nd_bus_post(mc->t->in.bus, &m);
}

static void end_trial(metrics_ctx *mc, const nd_msg *m)
{
    if (!mc->trial_no) return;
    nd_msg s = {.kind = ND_MSG_SUMMARY, .pos = m->pos, .trial_no = mc->trial_no};
    if (mc->trial) {
        nd_rep_result rep;
        nd_set_result set[2];
        if (nd_metrics_finish(mc->trial, &rep)) {
            post_rep(mc, &rep, m->pos);
            if (nd_sets_rep(&mc->sets, &rep, &set[0])) post_set(mc, &set[0], m->pos);
        }
        int k = nd_sets_finish(&mc->sets, nd_metrics_samples(mc->trial), set);
        for (int j = 0; j < k; j++) post_set(mc, &set[j], m->pos);
        nd_metrics_summary(mc->trial, mc->pain_rating, &s.u.summary);
        /* The next-day pain comes later (a mark on the closed trial). */
        nd_sets_summarise(&mc->sets, -1, &s.u.summary);
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
        sum->max_set_pain = -1;
        sum->block_asymmetry_pct = NAN;
    }
    nd_bus_post(mc->t->in.bus, &s);
    drop_trial(mc);
}

static void on_message(void *ctx, const nd_msg *m)
{
    metrics_ctx *mc = ctx;
    switch (m->kind) {
    case ND_MSG_TRIAL_START:
        begin_trial(mc, m->u.trial, m);
        break;
    case ND_MSG_TRIAL_ABORT:
        if (m->trial_no && m->trial_no == mc->trial_no) drop_trial(mc);
        break;
    case ND_MSG_TRIAL_STOP:
        if (m->trial_no == mc->trial_no) end_trial(mc, m);
        break;
    case ND_MSG_DEVICE_INFO:
        device_info_changed(mc);
        break;
    case ND_MSG_TARE:
    case ND_MSG_CALIBRATE:
        start_window(mc, m);
        break;
    case ND_MSG_CANCEL_WINDOW:
        /* Its request gave up: the window must not complete later, on data
         * that may come back loaded or inside a trial. */
        if (mc->window != WIN_NONE) {
            finish_window(mc, -1,
                          "no data from the device: %llu of %llu sets in the window; "
                          "tare/calibration abandoned",
                          (unsigned long long)mc->mean.n, (unsigned long long)mc->mean.want);
            mc->window = WIN_NONE;
        }
        break;
    case ND_MSG_SET_CALIBRATION:
        mc->cal = m->u.calibration;
        save_calibration(mc);
        break;
    case ND_MSG_SETTINGS:
        mc->settings = m->u.settings;
        if (!mc->trial_no && mc->fs > 0) {
            nd_subject none = {0};
            nd_metrics_destroy(mc->idle);
            mc->idle = nd_metrics_create(&mc->settings, mc->fs, &none);
            mc->idle_since_reset = 0;
        }
        break;
    case ND_MSG_MARK:
        if (m->u.mark.pain >= 0 && mc->trial) {
            mc->pain_rating = m->u.mark.pain;
            nd_sets_pain(&mc->sets, m->u.mark.pain);
        }
        break;
    case ND_MSG_SET_NEXT:
        /* Applies before the set at m->pos, i.e. at the engine's next index. */
        if (mc->trial && m->trial_no == mc->trial_no) {
            nd_set_result set;
            if (nd_sets_next(&mc->sets, nd_metrics_samples(mc->trial), &set))
                post_set(mc, &set, m->pos);
            if (m->u.set_next.switch_leg) {
                const nd_set_plan *p = &mc->sets.plan;
                nd_sets_switch_leg(&mc->sets, m->u.set_next.leg);
                nd_metrics_set_leg(mc->trial, m->u.set_next.leg, p->leg_on_N, p->leg_off_N);
            }
            if (m->u.set_next.set_angle) nd_sets_set_angle(&mc->sets, m->u.set_next.angle_deg);
        }
        break;
    default:
        break;
    }
}

static void on_sets(void *ctx, uint64_t pos, uint64_t n)
{
    metrics_ctx *mc = ctx;
    if (!mc->idle) refresh_rate(mc);
    const nd_calibration *cal = cal_in_force(mc);
    int l = cal->left_channel, r = cal->right_channel;
    nd_metrics *engine = mc->trial ? mc->trial : mc->idle;
    for (uint64_t i = 0; i < n; i++) {
        const nd_sample *s = nd_ring_slot(mc->t->in.ring, pos + i);
        if (s->nch <= l || s->nch <= r) {
            atomic_fetch_add(&mc->t->channel_errors, 1);
            continue;
        }
        if (mc->window != WIN_NONE && nd_raw_mean_add(&mc->mean, s)) window_done(mc);
        double fl = nd_calibration_apply(cal, l, s->raw[l]);
        double fr = nd_calibration_apply(cal, r, s->raw[r]);
        nd_rep_result rep;
        if (engine && nd_metrics_push(engine, fl, fr, &rep) && engine == mc->trial) {
            post_rep(mc, &rep, pos + i + 1);
            nd_set_result set;
            if (nd_sets_rep(&mc->sets, &rep, &set)) post_set(mc, &set, pos + i + 1);
        }
        if (engine && engine == mc->trial && nd_sets_active(&mc->sets))
            nd_sets_tick(&mc->sets, nd_metrics_samples(engine) - 1, nd_metrics_rep_open(engine),
                         NULL);
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
    double limit = mc->t->tare_max_shift_N;
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
            char text[240];
            snprintf(text, sizeof text, "%s hook reads %.1f N at rest: %s",
                     nd_side_name(worst == ND_LEFT ? ND_SIDE_LEFT : ND_SIDE_RIGHT), f,
                     mc->cal_saved ? "its zero was taken with load on the hook; unload the hooks "
                                     "and tare again (nordctl tare --force)"
                                   : "the hooks have not been tared; tare them unloaded");
            nd_warn("%s", text);
            set_warning(mc, text);
            mc->rest_warned = true;
        }
    } else if (f > -limit / 2) {
        mc->rest_bad_since_ns = 0;
        if (!mc->rest_ok_since_ns) mc->rest_ok_since_ns = now;
        if (mc->rest_warned && now - mc->rest_ok_since_ns >= 1000000000u) {
            nd_notice("both hooks read about zero at rest again");
            set_warning(mc, "");
            mc->rest_warned = false;
        }
    }
}

/* Live values for the `live` topic and status, once per pass with data. */
static void on_pass_done(void *ctx, uint64_t got)
{
    metrics_ctx *mc = ctx;
    nd_metrics *engine = mc->trial ? mc->trial : mc->idle;
    if (!got || !engine) return;
    nd_live_state live;
    nd_metrics_live(engine, &live);
    check_rest_force(mc, &live);
    nd_metrics_board *b = mc->t->board;
    pthread_mutex_lock(&b->lock);
    b->live = live;
    b->live_host_ns = mc->newest_host_ns;
    b->live_trial_no = engine == mc->trial ? mc->trial_no : 0;
    pthread_mutex_unlock(&b->lock);
    if (engine == mc->trial) publish_board_sets(mc);
    nd_metrics_board_pass_done(b); /* the publisher sends them now */
}

void *nd_metrics_main(void *arg)
{
    nd_metrics_thread *t = arg;
    metrics_ctx mc = {.t = t,
                      .cal = t->initial_cal,
                      .cal_saved = t->initial_saved,
                      .settings = t->settings,
                      .pain_rating = -1};
    static const nd_consumer_ops ops = {
        .message = on_message, .sets = on_sets, .pass_done = on_pass_done};
    nd_consumer_run(&t->in, &ops, &mc);

    if (mc.trial_no) {
        nd_msg stop = {.kind = ND_MSG_TRIAL_STOP,
                       .pos = nd_ring_published(t->in.ring),
                       .trial_no = mc.trial_no};
        end_trial(&mc, &stop);
    }
    if (mc.window != WIN_NONE) finish_window(&mc, -1, "daemon shutting down");
    nd_trial_release(mc.desc);
    nd_metrics_destroy(mc.idle);
    nd_metrics_board_pass_done(t->board); /* the publisher relays the last messages now */
    return NULL;
}
