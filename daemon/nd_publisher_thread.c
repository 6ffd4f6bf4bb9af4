/* The live publisher thread: a lossy ring consumer (it may fall behind and
 * skip; acquisition never waits for it) that turns calibrated force into
 * decimated `wave` blocks, samples the metrics thread's live state at
 * live_hz, sends `status` at 1 Hz, and relays reps and trial start/stop from
 * the bus. All ZeroMQ sends are non-blocking (nd_publisher.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "nd_daemon_internal.h"
#include "nd_log.h"
#include "nd_publisher.h"

#define COPY_MAX          4096
#define WAVE_BLOCK_POINTS 50

typedef struct pub_ctx {
    nd_daemon *d;
    nd_sample sets[COPY_MAX];
    nd_wave_builder wave;
    double wave_fs;
    nd_calibration cal;
    uint32_t cal_generation;
    bool recording;
    uint64_t trial_start_pos;
    double fs;
    nd_trial_msg trial;
    uint64_t next_live_ns, next_status_ns;
} pub_ctx;

static void fill_trial_info(pub_ctx *pc)
{
    nd_daemon *d = pc->d;
    nd_trial_msg *ti = &pc->trial;
    memset(ti, 0, sizeof *ti);
    pthread_mutex_lock(&d->lock);
    const nd_trial_slot *t = &d->trial;
    snprintf(ti->trial_id, sizeof ti->trial_id, "%s", t->trial_id);
    snprintf(ti->athlete_id, sizeof ti->athlete_id, "%s", t->req.athlete_id);
    snprintf(ti->created_utc, sizeof ti->created_utc, "%s", t->created_utc);
    snprintf(ti->file, sizeof ti->file, "%s", t->path);
    ti->subject = t->req.subject;
    snprintf(ti->notes, sizeof ti->notes, "%s", t->req.notes);
    snprintf(ti->protocol, sizeof ti->protocol, "%s", t->req.protocol);
    ti->sample_rate_hz = t->fs;
    ti->settings = t->settings;
    pthread_mutex_unlock(&d->lock);
}

static double trial_time(const pub_ctx *pc, uint64_t pos)
{
    if (!pc->recording || pc->fs <= 0) return 0;
    return pos > pc->trial_start_pos ? (double)(pos - pc->trial_start_pos) / pc->fs : 0;
}

static void handle_msg(pub_ctx *pc, nd_publisher *pub, const nd_msg *m)
{
    nd_daemon *d = pc->d;
    switch (m->kind) {
    case ND_MSG_TRIAL_START:
        fill_trial_info(pc);
        pc->recording = true;
        pc->trial_start_pos = m->pos;
        pc->fs = pc->trial.sample_rate_hz;
        nd_wave_reset(&pc->wave);
        nd_publish_trial_start(pub, 0, &pc->trial);
        break;
    case ND_MSG_REP:
        if (pc->recording)
            nd_publish_rep(pub, pc->trial.trial_id, trial_time(pc, m->pos), &m->u.rep);
        break;
    case ND_MSG_TRIAL_STOP:
        pc->trial.duration_s = trial_time(pc, m->pos);
        pc->trial.samples = m->pos - pc->trial_start_pos;
        snprintf(pc->trial.stop_reason, sizeof pc->trial.stop_reason, "%s",
                 atomic_load(&d->stop_acquisition) ? "shutdown" : "operator");
        break;
    case ND_MSG_SUMMARY:
        if (!pc->recording) break;
        pthread_mutex_lock(&d->lock);
        snprintf(pc->trial.file, sizeof pc->trial.file, "%s", d->trial.path);
        pthread_mutex_unlock(&d->lock);
        nd_publish_trial_stop(pub, pc->trial.duration_s, &pc->trial, &m->u.summary);
        pc->recording = false;
        nd_wave_reset(&pc->wave);
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
    nd_daemon *d = pc->d;
    pthread_mutex_lock(&d->lock);
    if (pc->cal_generation != d->cal_generation || pc->wave_fs <= 0) {
        pc->cal = d->cal; /* fixed while recording: tare is refused then */
        pc->cal_generation = d->cal_generation;
    }
    double fs = d->info_valid ? d->info.rate_hz : 0;
    int decimation = d->cfg.wave_decimation;
    pthread_mutex_unlock(&d->lock);
    /* Rebuild the decimator when the rate or `config wave_decimation` changes. */
    if (fs > 0 && (fs != pc->wave_fs || (unsigned)decimation != pc->wave.decimation)) {
        nd_wave_init(&pc->wave, (unsigned)decimation, WAVE_BLOCK_POINTS, fs);
        pc->wave_fs = fs;
    }
}

static void process_sets(pub_ctx *pc, nd_publisher *pub, uint64_t pos, size_t n)
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
            nd_publish_wave(pub, pc->recording ? pc->trial.trial_id : NULL, t, &pc->wave.block);
            nd_wave_clear(&pc->wave);
        }
    }
}

static void tick(pub_ctx *pc, nd_publisher *pub)
{
    nd_daemon *d = pc->d;
    uint64_t now = nd_monotonic_ns();
    if (now >= pc->next_live_ns) {
        nd_live_msg live;
        char trial_id[80];
        nd_daemon_live(d, &live, trial_id, sizeof trial_id);
        nd_publish_live(pub, trial_id, live.state.t_s, &live);
        pthread_mutex_lock(&d->lock); /* live_hz may change (config, SIGHUP) */
        double live_hz = d->cfg.live_hz;
        pthread_mutex_unlock(&d->lock);
        pc->next_live_ns = now + (uint64_t)(1e9 / live_hz);
    }
    if (now >= pc->next_status_ns) {
        nd_status_snapshot st;
        nd_daemon_status(d, &st);
        nd_publish_status(pub, st.trial_id, st.trial_t_s, &st);
        pc->next_status_ns = now + 1000000000ull;
    }
    nd_publisher_service(pub);
    atomic_store(&d->live_dropped, nd_publisher_drops(pub)); /* for the control `status` */
}

void *nd_publisher_main(void *arg)
{
    static pub_ctx pc; /* one publisher thread; the copy buffer is large */
    memset(&pc, 0, sizeof pc);
    pc.d = arg;
    nd_daemon *d = pc.d;
    nd_publisher *pub = d->publisher;

    while (!nd_consumers_should_exit(d)) {
        refresh_calibration(&pc);
        nd_msg m;
        while (nd_bus_next_any(&d->bus, d->bus_pub, &m)) handle_msg(&pc, pub, &m);
        uint64_t pos;
        size_t n = nd_ring_copy_lossy(d->ring, d->ring_pub, pc.sets, COPY_MAX, &pos);
        if (n) process_sets(&pc, pub, pos, n);
        tick(&pc, pub);
        if (n < COPY_MAX) nd_ring_wait(d->ring, d->ring_pub, 5);
    }
    /* Final messages (the trial stop of a shutdown) before the socket closes. */
    nd_msg m;
    while (nd_bus_next_any(&d->bus, d->bus_pub, &m)) handle_msg(&pc, pub, &m);
    return NULL;
}
