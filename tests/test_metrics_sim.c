/* Live vs offline on the project's simulator (drivers/nd_sim_model): raw
 * counts -> tare over the unloaded start -> calibration -> live metrics;
 * then recomputation from the stored calibrated force (what the trial file
 * keeps) must give bit-identical reps and summary. Four trials with
 * different left/right ratios, 30 reps each (120 in all), spikes and hum on.
 * The reps found are also checked against the simulator's ground truth. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nd_calibration.h"
#include "nd_metrics.h"
#include "nd_sim_model.h"
#include "test_util.h"

static int trial(double left_peak, double right_peak, uint64_t seed)
{
    nd_sim_settings ss;
    nd_sim_settings_default(&ss);
    ss.reps = 30;
    ss.peak_n[ND_SIM_LEFT] = left_peak;
    ss.peak_n[ND_SIM_RIGHT] = right_peak;
    ss.spike_prob = 0.0005;
    ss.hum_hz = 50;
    ss.seed = seed;
    char err[256];
    nd_sim_model sim;
    CHECK_EQ_INT(nd_sim_model_init(&sim, &ss, err, sizeof err), 0);
    const double fs = ss.rate_hz;
    size_t n = (size_t)((nd_sim_model_last_rep_end_s(&sim) + 2.0) * fs);
    double *fl = malloc(n * sizeof *fl), *fr = malloc(n * sizeof *fr);

    nd_metric_settings ms;
    nd_metric_settings_default(&ms);
    nd_calibration cal;
    const double cpn[2] = {ss.counts_per_newton, ss.counts_per_newton};
    nd_calibration_default(&cal, 2, cpn);
    nd_raw_mean tare;
    nd_raw_mean_start(&tare, 2, (uint64_t)llround(ms.tare_window_s * fs * 0.9));
    nd_subject subj = {82, 0.42, ND_SIDE_RIGHT};
    nd_metrics *m = NULL;
    nd_rep_result live[64], offline[64];
    long n_live = 0;
    size_t stored = 0;
    for (uint64_t i = 0; i < n; i++) {
        nd_sample smp;
        memset(&smp, 0, sizeof smp);
        smp.nch = 2;
        nd_sim_model_sample(&sim, i, smp.raw, NULL);
        if (!m) { /* tare on the empty hooks, then start the trial */
            if (nd_raw_mean_add(&tare, &smp)) {
                CHECK_EQ_INT(nd_calibration_tare(&cal, &tare, err, sizeof err), 0);
                m = nd_metrics_create(&ms, fs, &subj);
            }
            continue;
        }
        fl[stored] = nd_calibration_apply(&cal, cal.left_channel, smp.raw[cal.left_channel]);
        fr[stored] = nd_calibration_apply(&cal, cal.right_channel, smp.raw[cal.right_channel]);
        if (nd_metrics_push(m, fl[stored], fr[stored], &live[n_live]) && n_live < 63) n_live++;
        stored++;
    }
    if (nd_metrics_finish(m, &live[n_live]) && n_live < 63) n_live++;
    nd_trial_summary sum_live, sum_off;
    nd_metrics_summary(m, 1, &sum_live);
    nd_metrics_destroy(m);

    long n_off = nd_metrics_recompute(&ms, fs, &subj, fl, fr, stored, 1, offline, 64, &sum_off);
    CHECK_EQ_INT(n_live, 30);
    CHECK_EQ_INT(n_off, n_live);
    CHECK(memcmp(live, offline, (size_t)n_live * sizeof live[0]) == 0);
    CHECK(memcmp(&sum_live, &sum_off, sizeof sum_live) == 0);

    /* Ground truth: each rep's filtered peak is within 5 % of the intended
     * one, and its time within 0.3 s (the rounded peak is 0.1-0.5 s wide). */
    int off_truth = 0;
    const double start_offset_s = (double)tare.want / fs; /* trial starts after the tare */
    for (long k = 0; k < n_live && k < 30; k++) {
        nd_sim_rep truth;
        nd_sim_model_rep(&sim, k, &truth);
        for (int leg = 0; leg < 2; leg++) {
            double want = truth.peak_n[leg], got = live[k].peak_N[leg];
            double dt = live[k].t_peak_s[leg] + start_offset_s - truth.peak_s[leg];
            if (fabs(got - want) > 0.05 * want || fabs(dt) > 0.3) {
                fprintf(stderr, "rep %ld leg %d: peak %.1f (truth %.1f) at %+.3f s\n", k, leg, got,
                        want, dt);
                off_truth++;
            }
        }
    }
    CHECK_EQ_INT(off_truth, 0);
    double expect_asym = 100 * (left_peak - right_peak) / fmax(left_peak, right_peak);
    CHECK_NEAR(sum_live.asymmetry_pct, expect_asym, 8.0);
    free(fl);
    free(fr);
    return (int)n_live;
}

int main(void)
{
    int reps = 0;
    reps += trial(330, 300, 11);
    reps += trial(300, 300, 12);
    reps += trial(260, 340, 13);
    reps += trial(400, 280, 14);
    CHECK(reps >= 100);
    printf("%d simulated reps: live == offline\n", reps);
    return nd_test_finish("test_metrics_sim");
}
