/* The live publisher thread (nd_publisher_thread.h). */
#include "nd_publisher_thread.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "nd_log.h"
#include "nd_trial.h"

#define COPY_MAX          4096
#define WAVE_BLOCK_POINTS 50
/* A live message is due one period after the previous one; a pass of the
 * metrics thread that comes this much early still sends it, so reads batched
 * every 25 ms do not skip to every other read. */
#define LIVE_SLACK_NS 5000000ull

typedef struct pub_ctx {
    nd_publisher_thread *t;
    nd_sample sets[COPY_MAX];
    nd_wave_builder wave;
    double wave_fs;
    nd_calibration cal;
    nd_trial *trial; /* the recording trial (held), or NULL */
    bool recording;  /* its file exists and its start was published */
    uint64_t trial_start_pos;
    double fs;
    nd_trial_msg msg;
    uint64_t next_live_ns, next_status_ns;
    uint64_t live_period_ns;
} pub_ctx;

static void fill_trial_msg(pub_ctx *pc)
{
    const nd_trial *t = pc->trial;
    nd_trial_msg *ti = &pc->msg;
    memset(ti, 0, sizeof *ti);
    snprintf(ti->trial_id, sizeof ti->trial_id, "%s", t->trial_id);
    snprintf(ti->athlete_id, sizeof ti->athlete_id, "%s", t->req.athlete_id);
    snprintf(ti->created_utc, sizeof ti->created_utc, "%s", t->created_utc);
    snprintf(ti->file, sizeof ti->file, "%s", t->path); /* the file exists (OPENED) */
    ti->subject = t->req.subject;
    snprintf(ti->notes, sizeof ti->notes, "%s", t->req.notes);
    snprintf(ti->protocol, sizeof ti->protocol, "%s", t->req.protocol);
    ti->sample_rate_hz = t->fs;
    ti->settings = t->settings;
}

static double trial_time(const pub_ctx *pc, uint64_t pos)
{
    if (!pc->recording || pc->fs <= 0) return 0;
    return pos > pc->trial_start_pos ? (double)(pos - pc->trial_start_pos) / pc->fs : 0;
}

static void forget_trial(pub_ctx *pc)
{
    nd_trial_release(pc->trial);
    pc->trial = NULL;
    pc->recording = false;
    nd_wave_reset(&pc->wave);
}

static void handle_msg(pub_ctx *pc, const nd_msg *m)
{
    nd_publisher *pub = pc->t->pub;
    switch (m->kind) {
    case ND_MSG_TRIAL_START:
        forget_trial(pc);
        pc->trial = m->u.trial; /* the reference the command took for this thread */
        pc->trial_start_pos = m->pos;
        pc->fs = pc->trial->fs;
        pc->cal = pc->trial->calibration;
        break;
    case ND_MSG_TRIAL_OPENED:
        /* Published once the writer created the file, so the message names
         * it; a start the writer refused is never announced. */
        if (!pc->trial || pc->trial->trial_no != m->trial_no) break;
        fill_trial_msg(pc);
        pc->recording = true;
        nd_wave_reset(&pc->wave);
        nd_publish_trial_start(pub, 0, &pc->msg);
        break;
    case ND_MSG_TRIAL_ABORT:
        if (pc->trial && pc->trial->trial_no == m->trial_no) forget_trial(pc);
        break;
    case ND_MSG_REP:
        if (pc->recording) {
            /* With a target zone, each rep says where it landed (METRICS.md 5.4). */
            cJSON *body = nd_json_rep(&m->u.rep);
            nd_json_rep_add_zone(body, &pc->trial->req.plan, &m->u.rep);
            nd_publish_json(pub, ND_TOPIC_REP, pc->msg.trial_id, trial_time(pc, m->pos), body);
        }
        break;
    case ND_MSG_SET_RESULT:
        if (pc->recording)
            nd_publish_json(pub, ND_TOPIC_SET, pc->msg.trial_id, trial_time(pc, m->pos),
                            nd_json_set_result(&m->u.set));
        break;
    case ND_MSG_TRIAL_STOP:
        pc->msg.duration_s = trial_time(pc, m->pos);
        pc->msg.samples = m->pos - pc->trial_start_pos;
        snprintf(pc->msg.stop_reason, sizeof pc->msg.stop_reason, "%s",
                 atomic_load(pc->t->shutting_down) ? "shutdown" : "operator");
        break;
    case ND_MSG_SUMMARY:
        if (pc->recording) nd_publish_trial_stop(pub, pc->msg.duration_s, &pc->msg, &m->u.summary);
        forget_trial(pc);
        break;
    case ND_MSG_DEVICE_EVENT:
    case ND_MSG_ERROR:
        pc->next_status_ns = 0; /* tell subscribers now */
        break;
    default:
        break;
    }
}

static void refresh_calibration(pub_ctx *pc)
{
    /* A trial's calibration is fixed; between trials, the metrics thread's. */
    if (!pc->trial) nd_metrics_board_get_cal(pc->t->metrics, &pc->cal, NULL);
    double fs = nd_device_board_rate(pc->t->device);
    int decimation;
    nd_live_board_get(pc->t->live, NULL, &decimation);
    /* Rebuild the decimator when the rate or `config wave_decimation` changes. */
    if (fs > 0 && (fs != pc->wave_fs || (unsigned)decimation != pc->wave.decimation)) {
        nd_wave_init(&pc->wave, (unsigned)decimation, WAVE_BLOCK_POINTS, fs);
        pc->wave_fs = fs;
    }
}

static void process_sets(pub_ctx *pc, uint64_t pos, size_t n)
{
    if (pc->wave_fs <= 0) return;
    int l = pc->cal.left_channel, r = pc->cal.right_channel;
    for (size_t i = 0; i < n; i++) {
        const nd_sample *s = &pc->sets[i];
        if (s->nch <= l || s->nch <= r) continue;
        double t = pc->recording ? trial_time(pc, pos + i) : (double)(pos + i) / pc->wave_fs;
        double fl = nd_calibration_apply(&pc->cal, l, s->raw[l]);
        double fr = nd_calibration_apply(&pc->cal, r, s->raw[r]);
        if (nd_wave_push(&pc->wave, t, fl, fr, s->host_ns)) {
            nd_publish_wave(pc->t->pub, pc->recording ? pc->msg.trial_id : NULL, t,
                            &pc->wave.block);
            nd_wave_clear(&pc->wave);
        }
    }
}

/* Sends the completed points of a partial block (the open point stays), so
 * a plotted point never waits for its block to fill (0.5 s at 1 kHz and the
 * default decimation): after every metrics pass that brought sets, i.e.
 * with each device read, even when passes bunch up faster than live_hz. */
static void flush_wave(pub_ctx *pc)
{
    if (pc->wave.block.n == 0) return;
    const nd_wave_block *b = &pc->wave.block;
    double t_last = b->t0_s + (b->n - 1) * b->dt_s;
    nd_publish_wave(pc->t->pub, pc->recording ? pc->msg.trial_id : NULL, t_last, b);
    nd_wave_clear(&pc->wave);
}

/* The newest sets: into wave blocks when someone plots them, else passed
 * over (not counted as skipped: nobody missed them). */
static void take_sets(pub_ctx *pc, bool want_wave)
{
    nd_publisher_thread *t = pc->t;
    if (!want_wave) {
        if (nd_ring_pass_over(t->ring, t->ring_reader)) nd_wave_reset(&pc->wave);
        return;
    }
    for (;;) {
        uint64_t pos;
        size_t n = nd_ring_copy_lossy(t->ring, t->ring_reader, pc->sets, COPY_MAX, &pos);
        if (n) process_sets(pc, pos, n);
        if (n < COPY_MAX) break;
    }
}

/* Live values once per live period, sent with the metrics pass that
 * brought them; on a silent device, on time. */
static void send_live(pub_ctx *pc, uint64_t now, bool want_live)
{
    nd_publisher_thread *t = pc->t;
    if (now + LIVE_SLACK_NS < pc->next_live_ns) return;
    double live_hz;
    nd_live_board_get(t->live, &live_hz, NULL); /* may change (config, SIGHUP) */
    pc->live_period_ns = (uint64_t)(1e9 / live_hz);
    pc->next_live_ns = now + pc->live_period_ns;
    if (!want_live) return;
    nd_live_msg live;
    uint32_t of_trial;
    nd_metrics_board_get_live(t->metrics, &live.state, &live.host_ns, &of_trial);
    nd_metrics_board_get_sets(t->metrics, &live.sets);
    /* A trial's live values only once the metrics thread has begun it: the
     * file (TRIAL_OPENED) may exist before the metrics thread reached the
     * start, and the idle engine's values are not the trial's. */
    bool in_trial = pc->recording && of_trial == pc->trial->trial_no;
    if (!in_trial) live.sets.phase = ND_SET_PHASE_NONE;
    nd_publish_live(t->pub, in_trial ? pc->msg.trial_id : "", live.state.t_s, &live);
}

static void send_status(pub_ctx *pc, uint64_t now)
{
    nd_publisher_thread *t = pc->t;
    if (now < pc->next_status_ns) return;
    nd_status_snapshot st;
    t->status(t->status_ctx, &st);
    nd_publish_status(t->pub, st.trial_id, st.trial_t_s, &st);
    pc->next_status_ns = now + 1000000000ull;
}

/* How long to sleep when no metrics pass comes: until the status tick, and
 * a live period past the due live message (a silent device still gets live
 * messages, at half the rate). */
static int wait_ms(const pub_ctx *pc, uint64_t now)
{
    uint64_t next = pc->next_status_ns;
    if (pc->next_live_ns + pc->live_period_ns < next) next = pc->next_live_ns + pc->live_period_ns;
    uint64_t ms = next > now ? (next - now + 999999) / 1000000 : 1;
    return ms < 1 ? 1 : ms > 1000 ? 1000 : (int)ms;
}

void *nd_publisher_main(void *arg)
{
    static pub_ctx pc; /* one publisher thread; the copy buffer is large */
    memset(&pc, 0, sizeof pc);
    pc.t = arg;
    nd_publisher_thread *t = pc.t;

    while (!atomic_load(t->exit)) {
        /* Read the pass count before the data: a pass after this point
         * wakes the wait below at once. */
        uint32_t seen = nd_metrics_board_passes(t->metrics);
        refresh_calibration(&pc);
        nd_msg m;
        while (nd_bus_next_any(t->bus, t->bus_reader, &m)) handle_msg(&pc, &m);
        nd_publisher_service(t->pub); /* who subscribes to what, now */
        bool want_wave = nd_publisher_wanted(t->pub, ND_TOPIC_WAVE);
        bool want_live = nd_publisher_wanted(t->pub, ND_TOPIC_LIVE);
        /* Nobody watching live: the device may gather its reads for longer
         * (drivers/DRIVERS.md); a new watcher cuts that short at once. */
        if (t->dev) nd_device_set_unwatched(t->dev, !want_wave && !want_live);
        take_sets(&pc, want_wave);
        if (want_wave) flush_wave(&pc);
        uint64_t now = nd_monotonic_ns();
        send_live(&pc, now, want_live);
        send_status(&pc, now);
        atomic_store(&t->live_dropped_msgs, nd_publisher_drops(t->pub));
        /* Woken by the metrics thread's next pass (each device read), not
         * by a timer or per frame (issue 18: wake-ups at clinic rates); with
         * nobody subscribed, only by a subscription or the status tick. */
        if (nd_publisher_has_subscribers(t->pub)) {
            nd_metrics_board_wait_pass(t->metrics, seen, wait_ms(&pc, now));
        } else {
            zmq_pollitem_t it = {nd_publisher_socket(t->pub), 0, ZMQ_POLLIN, 0};
            uint64_t ms =
                pc.next_status_ns > now ? (pc.next_status_ns - now + 999999) / 1000000 : 1;
            zmq_poll(&it, 1, ms > 1000 ? 1000 : (long)ms);
        }
    }
    /* Final messages (the trial stop of a shutdown) before the socket closes. */
    nd_msg m;
    while (nd_bus_next_any(t->bus, t->bus_reader, &m)) handle_msg(&pc, &m);
    forget_trial(&pc);
    return NULL;
}
