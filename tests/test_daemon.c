/* The daemon in-process, all threads running (also under TSan): commands and
 * their refusals, a held record from an unpaced simulated board where every
 * set reaches the file and the metrics, status counters, clean shutdown with
 * a trial open. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nd_daemon.h"
#include "nd_log.h"
#include "nd_trial_reader.h"
#include "test_util.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void config_for(nd_config *cfg, const char *dir, const char *device)
{
    char err[256];
    nd_config_defaults(cfg);
    snprintf(cfg->device, sizeof cfg->device, "%s", device);
    nd_config_set(cfg, "daemon", "state_dir", dir, err, sizeof err);
    snprintf(cfg->ctl, sizeof cfg->ctl, "ipc://%s/ctl", dir);
    snprintf(cfg->pub, sizeof cfg->pub, "ipc://%s/pub", dir);
    cfg->ring_capacity = 1u << 16;
    cfg->log_level = 4;
}

static int wait_info(nd_daemon *d)
{
    for (int i = 0; i < 400; i++) {
        nd_status_snapshot st;
        nd_daemon_status(d, &st);
        if (st.have_device_info) return 0;
        sleep_ms(10);
    }
    return -1;
}

static void test_commands(void)
{
    const char *dir = nd_test_tmpdir("daemon-cmd");
    nd_config cfg;
    config_for(&cfg, dir, "sim:?rate=500&reps=0&rest=1&lead=1");
    char err[512], detail[256];
    nd_daemon *d = nd_daemon_start(&cfg, false, err, sizeof err);
    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "start: %s\n", err);
        return;
    }
    CHECK(wait_info(d) == 0);

    /* Refusals, each with a reason. */
    CHECK(nd_daemon_stop_trial(d, NULL, NULL, err, sizeof err) == -1 && strstr(err, "no trial"));
    CHECK(nd_daemon_mark(d, "note", "x", -1, err, sizeof err) == -1 && strstr(err, "no trial"));
    CHECK(nd_daemon_calibrate(d, ND_LEFT, -2, 0, detail, sizeof detail, err, sizeof err) == -1);
    CHECK(nd_daemon_calibrate(d, 7, 10, 0, detail, sizeof detail, err, sizeof err) == -1);
    CHECK(nd_daemon_tare(d, false, false, 0, detail, sizeof detail, err, sizeof err) == -1);
    CHECK(nd_daemon_tare(d, true, true, 99, detail, sizeof detail, err, sizeof err) == -1);
    nd_trial_request bad = {.athlete_id = ".hidden"};
    CHECK(nd_daemon_start_trial(d, &bad, NULL, err, sizeof err) == -1 && strstr(err, "athlete"));
    nd_trial_request heavy = {.athlete_id = "A1", .subject = {.body_mass_kg = 900}};
    CHECK(nd_daemon_start_trial(d, &heavy, NULL, err, sizeof err) == -1);

    /* Tare on the unloaded lead phase, then a trial with marks. */
    CHECK(nd_daemon_tare(d, true, true, 0.2, detail, sizeof detail, err, sizeof err) == 0);
    CHECK(strstr(detail, "tare") != NULL);
    nd_trial_request req = {.athlete_id = "A1", .subject = {.body_mass_kg = 80, .lever_m = 0.45}};
    nd_trial_slot slot;
    CHECK(nd_daemon_start_trial(d, &req, &slot, err, sizeof err) == 0);
    CHECK(nd_daemon_start_trial(d, &req, NULL, err, sizeof err) == -1 && strstr(err, "already"));
    CHECK(nd_daemon_tare(d, true, true, 0, detail, sizeof detail, err, sizeof err) == -1 &&
          strstr(err, "recording"));
    nd_metric_settings s;
    nd_metric_settings_default(&s);
    CHECK(nd_daemon_set_metric_settings(d, &s, err, sizeof err) == -1);
    CHECK(nd_daemon_mark(d, "pain", "left", 2, err, sizeof err) == 0);
    CHECK(nd_daemon_mark(d, "pain", "", 11, err, sizeof err) == -1);
    CHECK(nd_daemon_mark(d, "note", "operator note", -1, err, sizeof err) == 0);
    sleep_ms(400);
    nd_status_snapshot st;
    nd_daemon_status(d, &st);
    CHECK(strcmp(st.state, "recording") == 0);
    CHECK(strcmp(st.trial_id, slot.trial_id) == 0);
    CHECK(st.samples > 0);
    CHECK(st.ring_overruns == 0);
    nd_trial_summary sum;
    nd_trial_slot done;
    CHECK(nd_daemon_stop_trial(d, &done, &sum, err, sizeof err) == 0);
    CHECK_EQ_INT(sum.pain_rating, 2);
    CHECK(sum.pain == false);
    CHECK(access(done.path, R_OK) == 0);

    nd_trial_reader *r = nd_trial_reader_open(done.path, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        const nd_trial_info *info = nd_trial_reader_info(r);
        CHECK(strcmp(info->status, "complete") == 0);
        CHECK(info->samples > 0);
        nd_trial_event ev[16];
        long nev = nd_trial_reader_read_events(r, ev, 16, err, sizeof err);
        int pain = 0, note = 0;
        for (long i = 0; i < nev; i++) {
            pain += strcmp(ev[i].kind, "pain") == 0 && strncmp(ev[i].detail, "2/10", 4) == 0;
            note += strcmp(ev[i].kind, "note") == 0;
        }
        CHECK_EQ_INT(pain, 1);
        CHECK_EQ_INT(note, 1);
        nd_trial_reader_close(r);
    }
    nd_daemon_shutdown(d);
}

/* Held start: the trial begins at the stream's first set (after the tare
 * window), so an unpaced source is recorded whole, and the file's reps equal
 * a recomputation from its own samples. */
static void test_record_held(void)
{
    const char *dir = nd_test_tmpdir("daemon-rec");
    nd_config cfg;
    config_for(&cfg, dir,
               "sim:?pace=0&rate=1000&reps=3&rest=1&seed=3&peak_left=300&peak_right=360");
    char err[512];
    nd_daemon *d = nd_daemon_start(&cfg, true, err, sizeof err);
    CHECK(d != NULL);
    if (!d) return;
    nd_trial_request req = {.athlete_id = "R1", .subject = {.injured_side = ND_SIDE_LEFT}};
    nd_trial_slot slot;
    CHECK(nd_daemon_record_start(d, &req, true, &slot, err, sizeof err) == 0);
    for (int i = 0; i < 1000 && !nd_daemon_source_ended(d); i++) sleep_ms(10);
    CHECK(nd_daemon_source_ended(d));
    nd_trial_summary sum;
    CHECK(nd_daemon_stop_trial(d, &slot, &sum, err, sizeof err) == 0);
    CHECK_EQ_INT(sum.reps, 3);
    CHECK(sum.weaker_side == ND_SIDE_LEFT);
    CHECK(sum.lsi_pct < 95 && sum.lsi_pct > 70);
    nd_status_snapshot st;
    nd_daemon_status(d, &st);
    CHECK(st.ring_overruns == 0);
    CHECK(st.gaps == 0 && st.bad_frames == 0);
    /* Every set after the tare window is in the file. */
    CHECK_EQ_INT(sum.samples + 1000, st.samples);
    nd_daemon_shutdown(d);
}

/* Shutdown with a trial open closes it completely. */
static void test_shutdown_open_trial(void)
{
    const char *dir = nd_test_tmpdir("daemon-shut");
    nd_config cfg;
    config_for(&cfg, dir, "sim:?rate=2000&reps=0");
    char err[512];
    nd_daemon *d = nd_daemon_start(&cfg, false, err, sizeof err);
    CHECK(d != NULL);
    if (!d) return;
    CHECK(wait_info(d) == 0);
    nd_trial_request req = {.athlete_id = "S1"};
    nd_trial_slot slot;
    CHECK(nd_daemon_start_trial(d, &req, &slot, err, sizeof err) == 0);
    sleep_ms(300);
    nd_daemon_request_stop(d);
    nd_daemon_shutdown(d);
    nd_trial_reader *r = nd_trial_reader_open(slot.path, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK(strcmp(nd_trial_reader_info(r)->status, "complete") == 0);
        CHECK(nd_trial_reader_info(r)->samples >= 400);
        nd_trial_reader_close(r);
    }
}

int main(void)
{
    nd_log_set_level(ND_LOG_WARNING);
    test_commands();
    test_record_held();
    test_shutdown_open_trial();
    return nd_test_finish("test_daemon");
}
