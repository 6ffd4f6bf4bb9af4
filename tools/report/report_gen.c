/* Simulated trial files (see report_gen.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_sim_model.h"
#include "nd_trial_file.h"
#include "report_gen.h"

void nd_report_gen_default(nd_report_gen *g)
{
    memset(g, 0, sizeof *g);
    g->athlete_id = "sim-athlete";
    g->created_utc_s = 1714566896; /* 2024-05-01T12:34:56Z */
    g->seconds = 30;
    g->rate_hz = 1000;
    g->reps = 3;
    g->peak_left_N = 330;
    g->peak_right_N = 300;
    g->body_mass_kg = 80;
    g->lever_m = 0.45;
    g->pain_rating = -1;
    g->seed = 1;
    g->complete = true;
}

enum { BATCH = 4096 };

int nd_report_gen_write(const char *dir, const nd_report_gen *g, char *path_out, size_t path_len,
                        char *err, size_t errlen)
{
    nd_sim_settings ss;
    nd_sim_settings_default(&ss);
    ss.rate_hz = (uint32_t)g->rate_hz;
    ss.reps = g->reps;
    ss.peak_n[ND_SIM_LEFT] = g->peak_left_N;
    ss.peak_n[ND_SIM_RIGHT] = g->peak_right_N;
    ss.seed = g->seed;
    nd_sim_model model;
    if (nd_sim_model_init(&model, &ss, err, errlen)) return -1;

    nd_trial_meta m;
    nd_trial_meta_init(&m, 2);
    snprintf(m.athlete_id, sizeof m.athlete_id, "%s", g->athlete_id);
    if (g->trial_id)
        snprintf(m.trial_id, sizeof m.trial_id, "%s", g->trial_id);
    else
        nd_trial_id_generate(m.trial_id, sizeof m.trial_id);
    m.created_utc_s = g->created_utc_s;
    snprintf(m.device.model, sizeof m.device.model, "nordic-sim");
    snprintf(m.device.serial, sizeof m.device.serial, "SIM-%04llu",
             (unsigned long long)(g->seed % 10000));
    m.sample_rate_hz = g->rate_hz;
    for (int ch = 0; ch < 2; ch++) {
        /* What a tare with empty hooks finds, and the device's scale. */
        m.calibration.offset[ch] = nd_sim_model_offset(&model, ch);
        m.calibration.gain[ch] = 1.0 / ss.counts_per_newton;
        m.device.counts_per_newton[ch] = ss.counts_per_newton;
    }
    m.subject.body_mass_kg = g->body_mass_kg;
    m.subject.lever_m = g->lever_m;
    snprintf(m.protocol, sizeof m.protocol, "1x%ld maximal", g->reps);

    nd_metrics *eng =
        nd_metrics_create_checked(&m.settings, m.sample_rate_hz, &m.subject, err, errlen);
    if (!eng) return -1;
    nd_trial_file *tf = nd_trial_file_create(dir, &m, 0, path_out, path_len, err, errlen);
    if (!tf) {
        nd_metrics_destroy(eng);
        return -1;
    }
    const uint64_t n = (uint64_t)llround(g->seconds * g->rate_hz);
    int32_t *raw = malloc(BATCH * 2 * sizeof *raw);
    double *force = malloc(BATCH * 2 * sizeof *force);
    uint64_t *seq = malloc(BATCH * sizeof *seq);
    int rc = raw && force && seq ? 0 : -1;
    if (rc) snprintf(err, errlen, "out of memory");
    for (uint64_t first = 0; rc == 0 && first < n; first += BATCH) {
        size_t k = n - first < BATCH ? (size_t)(n - first) : BATCH;
        for (size_t j = 0; j < k && rc == 0; j++) {
            nd_sim_model_sample(&model, first + j, &raw[2 * j], NULL);
            seq[j] = first + j;
            for (int ch = 0; ch < 2; ch++)
                force[2 * j + (size_t)ch] =
                    nd_calibration_apply(&m.calibration, ch, raw[2 * j + (size_t)ch]);
            nd_rep_result rep;
            if (nd_metrics_push(eng, force[2 * j], force[2 * j + 1], &rep) == 1)
                rc = nd_trial_file_add_rep(tf, &rep, err, errlen);
        }
        if (rc == 0) rc = nd_trial_file_append_columns(tf, raw, force, seq, k, err, errlen);
    }
    nd_rep_result last;
    if (rc == 0 && nd_metrics_finish(eng, &last) == 1)
        rc = nd_trial_file_add_rep(tf, &last, err, errlen);
    if (rc == 0 && g->pain_rating >= 0) {
        char detail[32];
        snprintf(detail, sizeof detail, "%d/10", g->pain_rating);
        rc = nd_trial_file_add_event(tf, (double)n / g->rate_hz, "pain", detail, err, errlen);
    }
    nd_trial_summary s;
    nd_metrics_summary(eng, g->pain_rating, &s);
    char cerr[256];
    int crc = nd_trial_file_close(tf, rc == 0 && g->complete ? &s : NULL, cerr, sizeof cerr);
    if (rc == 0 && crc) {
        snprintf(err, errlen, "%s", cerr);
        rc = -1;
    }
    nd_metrics_destroy(eng);
    free(raw);
    free(force);
    free(seq);
    return rc;
}
