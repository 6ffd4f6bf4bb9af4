/* nordic-report CSV tables: trials.csv, reps.csv, trends.csv, compare.csv.
 * Column names are a stable interface (tools/report/REPORT.md): add at the end,
 * never rename. Numbers read back exactly; NaN as "NaN"; text quoted. */
#include <math.h>
#include <string.h>

#include "report.h"

static void uint(FILE *f, unsigned long long v)
{
    fprintf(f, ",%llu", v);
}

static void date_of(const char *created_utc, char out[11])
{
    snprintf(out, 11, "%.10s", created_utc);
}

int nd_report_write_trials_csv(const char *path, const nd_report_trial *t, size_t n)
{
    char tmp[PATH_MAX + 8];
    FILE *f = nd_report_begin(path, tmp, sizeof tmp);
    if (!f) return -1;
    fputs("file,trial_id,athlete_id,created_utc,date,status,metrics_source,software_version,"
          "device_model,device_serial,sample_rate_hz,samples,duration_s,lost_sets,body_mass_kg,"
          "lever_m,injured_side,reps,discarded_reps,max_left_N,max_right_N,mean_left_N,"
          "mean_right_N,asymmetry_pct,abs_asymmetry_pct,weaker_side,lsi_pct,torque_max_left_Nm,"
          "torque_max_right_Nm,rel_force_max_left_N_per_kg,rel_force_max_right_N_per_kg,"
          "impulse_left_Ns,impulse_right_Ns,flags,weak_left,weak_right,imbalance,pain,"
          "pain_rating",
          f);
    /* The metric settings behind the values, named as in nd_metric_setting_table. */
    for (size_t k = 0; k < nd_metric_setting_count; k++)
        if (strcmp(nd_metric_setting_table[k].name, "tare_window_s") != 0)
            fprintf(f, ",%s", nd_metric_setting_table[k].name);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        const nd_report_trial *p = &t[i];
        if (!p->ok) continue;
        const nd_trial_meta *m = &p->info.meta;
        const nd_trial_summary *s = &p->summary;
        char date[11], flags[64];
        date_of(p->info.created_utc, date);
        nd_report_flags(s, flags, sizeof flags);
        nd_report_put_text(f, p->path);
        nd_report_field_text(f, m->trial_id);
        nd_report_field_text(f, m->athlete_id);
        nd_report_field_text(f, p->info.created_utc);
        nd_report_field_text(f, date);
        nd_report_field_text(f, p->info.status);
        nd_report_field_text(f, p->recomputed ? "recomputed" : "stored");
        nd_report_field_text(f, m->software_version);
        nd_report_field_text(f, m->device.model);
        nd_report_field_text(f, m->device.serial);
        nd_report_field_num(f, m->sample_rate_hz);
        uint(f, p->info.samples);
        nd_report_field_num(f, (double)p->info.samples / m->sample_rate_hz);
        uint(f, p->lost_sets);
        nd_report_field_num(f, m->subject.body_mass_kg);
        nd_report_field_num(f, m->subject.lever_m);
        nd_report_field_text(f, nd_side_name(m->subject.injured_side));
        uint(f, s->reps);
        uint(f, s->discarded_reps);
        nd_report_field_num(f, s->max_N[0]);
        nd_report_field_num(f, s->max_N[1]);
        nd_report_field_num(f, s->mean_N[0]);
        nd_report_field_num(f, s->mean_N[1]);
        nd_report_field_num(f, s->asymmetry_pct);
        nd_report_field_num(f, s->abs_asymmetry_pct);
        nd_report_field_text(f, nd_side_name(s->weaker_side));
        nd_report_field_num(f, s->lsi_pct);
        nd_report_field_num(f, s->torque_max_Nm[0]);
        nd_report_field_num(f, s->torque_max_Nm[1]);
        nd_report_field_num(f, s->rel_force_max_N_per_kg[0]);
        nd_report_field_num(f, s->rel_force_max_N_per_kg[1]);
        nd_report_field_num(f, p->impulse_Ns[0]);
        nd_report_field_num(f, p->impulse_Ns[1]);
        nd_report_field_text(f, flags);
        fprintf(f, ",%d,%d,%d,%d,%d", s->weak_left, s->weak_right, s->imbalance, s->pain,
                s->pain_rating);
        for (size_t k = 0; k < nd_metric_setting_count; k++) {
            if (strcmp(nd_metric_setting_table[k].name, "tare_window_s") == 0) continue;
            nd_report_field_num(f,
                                nd_metric_setting_get(&p->settings, &nd_metric_setting_table[k]));
        }
        fputc('\n', f);
    }
    return nd_report_finish(f, tmp, path);
}

int nd_report_write_reps_csv(const char *path, const nd_report_trial *t, size_t n)
{
    char tmp[PATH_MAX + 8];
    FILE *f = nd_report_begin(path, tmp, sizeof tmp);
    if (!f) return -1;
    fputs("file,trial_id,athlete_id,created_utc,metrics_source,index,i_open,i_end,t_open_s,"
          "t_end_s,peak_left_N,peak_right_N,i_peak_left,i_peak_right,t_peak_left_s,"
          "t_peak_right_s,asymmetry_pct,abs_asymmetry_pct,weaker_side,lsi_pct,torque_left_Nm,"
          "torque_right_Nm,rel_force_left_N_per_kg,rel_force_right_N_per_kg,"
          "time_to_peak_left_s,time_to_peak_right_s,rfd_left_N_per_s,rfd_right_N_per_s,"
          "impulse_left_Ns,impulse_right_Ns\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const nd_report_trial *p = &t[i];
        if (!p->ok) continue;
        for (size_t k = 0; k < p->n_reps; k++) {
            const nd_rep_result *r = &p->reps[k];
            nd_report_put_row_start(f, p);
            uint(f, r->index);
            uint(f, r->i_open);
            uint(f, r->i_end);
            nd_report_field_num(f, r->t_open_s);
            nd_report_field_num(f, r->t_end_s);
            nd_report_field_num(f, r->peak_N[0]);
            nd_report_field_num(f, r->peak_N[1]);
            uint(f, r->i_peak[0]);
            uint(f, r->i_peak[1]);
            nd_report_field_num(f, r->t_peak_s[0]);
            nd_report_field_num(f, r->t_peak_s[1]);
            nd_report_field_num(f, r->asymmetry_pct);
            nd_report_field_num(f, r->abs_asymmetry_pct);
            nd_report_field_text(f, nd_side_name(r->weaker_side));
            nd_report_field_num(f, r->lsi_pct);
            for (int s = 0; s < 2; s++) nd_report_field_num(f, r->torque_Nm[s]);
            for (int s = 0; s < 2; s++) nd_report_field_num(f, r->rel_force_N_per_kg[s]);
            for (int s = 0; s < 2; s++) nd_report_field_num(f, r->time_to_peak_s[s]);
            for (int s = 0; s < 2; s++) nd_report_field_num(f, r->rfd_N_per_s[s]);
            for (int s = 0; s < 2; s++) nd_report_field_num(f, r->impulse_Ns[s]);
            fputc('\n', f);
        }
    }
    return nd_report_finish(f, tmp, path);
}

static int exceeds(double change, double mdc)
{
    return isfinite(change) && fabs(change) > mdc;
}

/* Mean of the reps' defined asymmetries (NaN without any). */
static double mean_rep_asymmetry(const nd_report_trial *p)
{
    double sum = 0;
    size_t n = 0;
    for (size_t k = 0; k < p->n_reps; k++)
        if (isfinite(p->reps[k].asymmetry_pct)) {
            sum += p->reps[k].asymmetry_pct;
            n++;
        }
    return n ? sum / (double)n : NAN;
}

/* A = 100 (L - R)/max: positive means the right leg is weaker. */
static nd_side weaker_by_mean(double a)
{
    return isnan(a) || a == 0 ? ND_SIDE_NONE : a > 0 ? ND_SIDE_RIGHT : ND_SIDE_LEFT;
}

int nd_report_write_trends_csv(const char *path, const nd_report_trial *t, const size_t *order,
                               size_t n_order, double mdc_N, double mdc_pct)
{
    char tmp[PATH_MAX + 8];
    FILE *f = nd_report_begin(path, tmp, sizeof tmp);
    if (!f) return -1;
    fputs("athlete_id,test_number,created_utc,date,days_since_first,trial_id,file,max_left_N,"
          "max_right_N,asymmetry_pct,change_first_left_N,change_first_right_N,"
          "change_first_asymmetry_pct,change_prev_left_N,change_prev_right_N,"
          "change_prev_asymmetry_pct,mdc_N,exceeds_mdc_first_left,exceeds_mdc_first_right,"
          "exceeds_mdc_prev_left,exceeds_mdc_prev_right,weak_left,weak_right,imbalance,"
          "mdc_pct,baseline_left_N,baseline_right_N,mdc_applied_left_N,mdc_applied_right_N,"
          "exceeds_mdc_applied_first_left,exceeds_mdc_applied_first_right,"
          "exceeds_mdc_applied_prev_left,exceeds_mdc_applied_prev_right,mean_rep_asymmetry_pct,"
          "weaker_side_by_reps,same_weaker_sessions\n",
          f);
    const nd_report_trial *first = NULL, *prev = NULL;
    unsigned weaker_count[3] = {0, 0, 0}; /* this athlete's sessions so far, by weaker side */
    for (size_t i = 0; i < n_order; i++) {
        const nd_report_trial *p = &t[order[i]];
        if (p->test_number == 1) {
            first = prev = NULL;
            memset(weaker_count, 0, sizeof weaker_count);
        }
        const nd_trial_summary *s = &p->summary;
        char date[11];
        date_of(p->info.created_utc, date);
        nd_report_put_text(f, p->info.meta.athlete_id);
        fprintf(f, ",%d", p->test_number);
        nd_report_field_text(f, p->info.created_utc);
        nd_report_field_text(f, date);
        nd_report_field_num(
            f, first
                   ? (double)(p->info.meta.created_utc_s - first->info.meta.created_utc_s) / 86400.0
                   : 0.0);
        nd_report_field_text(f, p->info.meta.trial_id);
        nd_report_field_text(f, p->path);
        nd_report_field_num(f, s->max_N[0]);
        nd_report_field_num(f, s->max_N[1]);
        nd_report_field_num(f, s->asymmetry_pct);
        double cf[3] = {NAN, NAN, NAN}, cp[3] = {NAN, NAN, NAN};
        if (first) {
            cf[0] = s->max_N[0] - first->summary.max_N[0];
            cf[1] = s->max_N[1] - first->summary.max_N[1];
            cf[2] = s->asymmetry_pct - first->summary.asymmetry_pct;
            cp[0] = s->max_N[0] - prev->summary.max_N[0];
            cp[1] = s->max_N[1] - prev->summary.max_N[1];
            cp[2] = s->asymmetry_pct - prev->summary.asymmetry_pct;
        }
        for (int k = 0; k < 3; k++) nd_report_field_num(f, cf[k]);
        for (int k = 0; k < 3; k++) nd_report_field_num(f, cp[k]);
        nd_report_field_num(f, mdc_N);
        fprintf(f, ",%d,%d,%d,%d,%d,%d,%d", exceeds(cf[0], mdc_N), exceeds(cf[1], mdc_N),
                exceeds(cp[0], mdc_N), exceeds(cp[1], mdc_N), s->weak_left, s->weak_right,
                s->imbalance);
        /* MDC as N and as % of the athlete's baseline (first test): a change
         * is flagged when it exceeds whichever is larger, i.e. both. */
        const nd_trial_summary *b = first ? &first->summary : s;
        double applied[2];
        nd_report_field_num(f, mdc_pct);
        for (int leg = 0; leg < 2; leg++) nd_report_field_num(f, b->max_N[leg]);
        for (int leg = 0; leg < 2; leg++) {
            double pct = mdc_pct / 100.0 * b->max_N[leg];
            applied[leg] = isfinite(pct) && pct > mdc_N ? pct : mdc_N;
            nd_report_field_num(f, applied[leg]);
        }
        fprintf(f, ",%d,%d,%d,%d", exceeds(cf[0], applied[0]), exceeds(cf[1], applied[1]),
                exceeds(cp[0], applied[0]), exceeds(cp[1], applied[1]));
        /* Asymmetry over reps and the direction's consistency across sessions:
         * one test's weaker side is not a finding on its own. */
        double ma = mean_rep_asymmetry(p);
        nd_side w = weaker_by_mean(ma);
        weaker_count[w]++;
        nd_report_field_num(f, ma);
        nd_report_field_text(f, nd_side_name(w));
        fprintf(f, ",%u\n", w == ND_SIDE_NONE ? 0u : weaker_count[w]);
        if (!first) first = p;
        prev = p;
    }
    return nd_report_finish(f, tmp, path);
}

/* One compare row; returns 1 when the values differ beyond tol. */
static size_t cmp_row(FILE *f, const nd_report_trial *p, const char *metric, double stored,
                      double recomputed, double tol)
{
    double diff = recomputed - stored;
    bool match = (isnan(stored) && isnan(recomputed)) || fabs(diff) <= tol || stored == recomputed;
    nd_report_put_text(f, p->path);
    nd_report_field_text(f, p->info.meta.trial_id);
    nd_report_field_text(f, metric);
    nd_report_field_num(f, stored);
    nd_report_field_num(f, recomputed);
    nd_report_field_num(f, isnan(stored) && isnan(recomputed) ? 0.0 : diff);
    fprintf(f, ",%d\n", match);
    return match ? 0 : 1;
}

int nd_report_write_compare_csv(const char *path, const nd_report_trial *t, size_t n, double tol,
                                size_t *mismatches)
{
    char tmp[PATH_MAX + 8];
    FILE *f = nd_report_begin(path, tmp, sizeof tmp);
    if (!f) return -1;
    *mismatches = 0;
    fputs("file,trial_id,metric,stored,recomputed,difference,match\n", f);
    for (size_t i = 0; i < n; i++) {
        const nd_report_trial *p = &t[i];
        if (!p->ok || !p->compared) continue;
        const nd_trial_summary *a = &p->info.summary, *b = &p->recomputed_summary;
        const bool has = p->info.has_summary;
        size_t bad = 0;
        /* Stored summary exists only for complete trials; NaN marks its absence. */
#define S(field) (has ? (double)a->field : NAN)
        bad += cmp_row(f, p, "reps", (double)p->n_stored_reps, (double)p->n_recomputed_reps, 0);
        bad += cmp_row(f, p, "discarded_reps", S(discarded_reps), b->discarded_reps, 0);
        bad += cmp_row(f, p, "max_left_N", S(max_N[0]), b->max_N[0], tol);
        bad += cmp_row(f, p, "max_right_N", S(max_N[1]), b->max_N[1], tol);
        bad += cmp_row(f, p, "mean_left_N", S(mean_N[0]), b->mean_N[0], tol);
        bad += cmp_row(f, p, "mean_right_N", S(mean_N[1]), b->mean_N[1], tol);
        bad += cmp_row(f, p, "asymmetry_pct", S(asymmetry_pct), b->asymmetry_pct, tol);
        bad += cmp_row(f, p, "lsi_pct", S(lsi_pct), b->lsi_pct, tol);
        bad += cmp_row(f, p, "weak_left", S(weak_left), b->weak_left, 0);
        bad += cmp_row(f, p, "weak_right", S(weak_right), b->weak_right, 0);
        bad += cmp_row(f, p, "imbalance", S(imbalance), b->imbalance, 0);
#undef S
        size_t both =
            p->n_stored_reps < p->n_recomputed_reps ? p->n_stored_reps : p->n_recomputed_reps;
        for (size_t k = 0; k < both; k++) {
            const nd_rep_result *x = &p->stored_reps[k], *y = &p->recomputed_reps[k];
            const char *names[] = {"t_open_s",     "t_end_s",         "peak_left_N",
                                   "peak_right_N", "impulse_left_Ns", "impulse_right_Ns"};
            const double sx[] = {x->t_open_s,  x->t_end_s,       x->peak_N[0],
                                 x->peak_N[1], x->impulse_Ns[0], x->impulse_Ns[1]};
            const double sy[] = {y->t_open_s,  y->t_end_s,       y->peak_N[0],
                                 y->peak_N[1], y->impulse_Ns[0], y->impulse_Ns[1]};
            for (size_t j = 0; j < 6; j++) {
                char metric[64];
                snprintf(metric, sizeof metric, "rep%zu.%s", k + 1, names[j]);
                bad += cmp_row(f, p, metric, sx[j], sy[j], tol);
            }
        }
        bad += nd_report_compare_sets(f, p, cmp_row);
        if (bad) (*mismatches)++;
    }
    return nd_report_finish(f, tmp, path);
}
