/* nordic-report: the sets of a planned protocol (daemon/metrics/METRICS.md section 5).
 * Stored /sets rows (schema 1.1), or the daemon's own tracker replayed
 * (nd_sets_recompute) over the stored force with the "set_next" and "pain"
 * events at their samples; sets.csv; the set rows of compare.csv. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* "set_next" and "pain" events as tracker inputs at their sample index
 * ("set_next" detail: "...[; angle=<deg>][; leg=<side>]", METRICS.md 5.7). */
static long inputs_from_events(const nd_trial_event *ev, long n, double fs, nd_set_input *out)
{
    long k = 0;
    for (long i = 0; i < n; i++) {
        nd_set_input in = {.i = (uint64_t)llround(ev[i].t_s * fs), .pain = -1};
        if (!strcmp(ev[i].kind, "set_next")) {
            in.kind = ND_SET_INPUT_NEXT;
            const char *angle = strstr(ev[i].detail, "angle=");
            if (angle) {
                char *end;
                in.angle_deg = strtod(angle + 6, &end);
                in.set_angle = end != angle + 6;
            }
            const char *leg = strstr(ev[i].detail, "leg=");
            if (leg) {
                in.switch_leg = true;
                in.leg = !strcmp(leg + 4, "left")    ? ND_SIDE_LEFT
                         : !strcmp(leg + 4, "right") ? ND_SIDE_RIGHT
                                                     : ND_SIDE_NONE;
            }
        } else if (!strcmp(ev[i].kind, "pain")) {
            char *end;
            long v = strtol(ev[i].detail, &end, 10);
            if (end == ev[i].detail || v < 0 || v > 10) continue;
            in.kind = ND_SET_INPUT_PAIN;
            in.pain = (int)v;
        } else {
            continue;
        }
        if (!(ev[i].t_s >= 0)) in.i = 0;
        out[k++] = in;
    }
    return k;
}

/* The session replayed as the daemon ran it (nd_session_recompute): set
 * rows, and the reps and summary too, which differ from a plain
 * recomputation once single-leg blocks switch the detection leg. */
static int recompute_sets(nd_report_trial *t, nd_trial_reader *r, const double *left,
                          const double *right, size_t n, int pain, char *err, size_t errlen)
{
    const nd_trial_meta *m = &t->info.meta;
    size_t nev = (size_t)t->info.events;
    nd_trial_event *ev = calloc(nev ? nev : 1, sizeof *ev);
    nd_set_input *in = calloc(nev ? nev : 1, sizeof *in);
    nd_session_replay out = {
        .max_rows = m->plan.sets + 4, .max_reps = t->n_recomputed_reps + 64, .pain_rating = pain};
    int rc = -1;
    if (!ev || !in) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    long got = nd_trial_reader_read_events(r, ev, nev, err, errlen);
    if (got < 0) goto out;
    long nin = inputs_from_events(ev, got, m->sample_rate_hz, in);
    for (;;) {
        out.rows = calloc(out.max_rows, sizeof *out.rows);
        out.reps = calloc(out.max_reps, sizeof *out.reps);
        nd_trial_summary summary;
        out.summary = &summary;
        if (!out.rows || !out.reps) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        if (nd_session_recompute(&t->settings, m->sample_rate_hz, &m->subject, &m->plan, left,
                                 right, n, in, (size_t)nin, &out, err, errlen))
            goto out;
        if ((size_t)out.n_rows <= out.max_rows && (size_t)out.n_reps <= out.max_reps) {
            t->recomputed_sets = out.rows;
            t->n_recomputed_sets = (size_t)out.n_rows;
            free(t->recomputed_reps);
            t->recomputed_reps = out.reps;
            t->n_recomputed_reps = (size_t)out.n_reps;
            t->recomputed_summary = summary;
            out.rows = NULL;
            out.reps = NULL;
            break;
        }
        out.max_rows = (size_t)out.n_rows;
        out.max_reps = (size_t)out.n_reps;
        free(out.rows);
        free(out.reps);
    }
    rc = 0;
out:
    free(out.rows);
    free(out.reps);
    free(ev);
    free(in);
    return rc;
}

int nd_report_sets_analyse(nd_report_trial *t, nd_trial_reader *r, const double *left,
                           const double *right, size_t n, bool recompute, int pain, char *err,
                           size_t errlen)
{
    size_t stored = (size_t)t->info.sets;
    t->stored_sets = calloc(stored ? stored : 1, sizeof *t->stored_sets);
    if (!t->stored_sets) return snprintf(err, errlen, "out of memory"), -1;
    long got = nd_trial_reader_read_sets(r, t->stored_sets, stored, err, errlen);
    if (got < 0) return -1;
    t->n_stored_sets = (size_t)got;
    /* Without a protocol (and in version 1.0 files) there is nothing to replay. */
    if (recompute && t->info.meta.plan.sets > 0 &&
        recompute_sets(t, r, left, right, n, pain, err, errlen))
        return -1;
    t->sets = t->recomputed ? t->recomputed_sets : t->stored_sets;
    t->n_sets = t->recomputed ? t->n_recomputed_sets : t->n_stored_sets;
    if (t->recomputed) { /* the session replay may have replaced the reps */
        t->summary = t->recomputed_summary;
        t->reps = t->recomputed_reps;
        t->n_reps = t->n_recomputed_reps;
    }
    return 0;
}

int nd_report_write_sets_csv(const char *path, const nd_report_trial *t, size_t n)
{
    char tmp[PATH_MAX + 8];
    FILE *f = nd_report_begin(path, tmp, sizeof tmp);
    if (!f) return -1;
    fputs("file,trial_id,athlete_id,created_utc,metrics_source,protocol,index,reps_done,"
          "reps_planned,completed,i_start,i_end,t_start_s,t_end_s,duration_s,rest_after_s,"
          "mean_peak_left_N,mean_peak_right_N,max_peak_left_N,max_peak_right_N,"
          "mean_asymmetry_pct,weaker_side,same_weaker_reps,decline_left_pct,decline_right_pct,"
          "zone_reps,pain,ended_by,leg,test,angle_deg\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const nd_report_trial *p = &t[i];
        if (!p->ok) continue;
        for (size_t k = 0; k < p->n_sets; k++) {
            const nd_set_result *s = &p->sets[k];
            nd_report_put_row_start(f, p);
            nd_report_field_text(f, p->info.meta.protocol);
            fprintf(f, ",%u,%u,%u,%d,%llu,%llu", s->index, s->reps_done, s->reps_planned,
                    s->completed, (unsigned long long)s->i_start, (unsigned long long)s->i_end);
            nd_report_field_num(f, s->t_start_s);
            nd_report_field_num(f, s->t_end_s);
            nd_report_field_num(f, s->duration_s);
            nd_report_field_num(f, s->rest_after_s);
            nd_report_field_num(f, s->mean_peak_N[0]);
            nd_report_field_num(f, s->mean_peak_N[1]);
            nd_report_field_num(f, s->max_peak_N[0]);
            nd_report_field_num(f, s->max_peak_N[1]);
            nd_report_field_num(f, s->mean_asymmetry_pct);
            nd_report_field_text(f, nd_side_name(s->weaker_side));
            fprintf(f, ",%u", s->same_weaker_reps);
            nd_report_field_num(f, s->decline_pct[0]);
            nd_report_field_num(f, s->decline_pct[1]);
            if (s->zone_reps >= 0)
                fprintf(f, ",%d", s->zone_reps);
            else
                fputs(",", f);
            if (s->pain >= 0)
                fprintf(f, ",%d", s->pain);
            else
                fputs(",", f);
            nd_report_field_text(f, nd_set_end_name(s->ended_by));
            nd_report_field_text(f, s->leg == ND_SIDE_NONE ? "both" : nd_side_name(s->leg));
            nd_report_field_text(f, nd_set_test_name(s->test));
            nd_report_field_num(f, s->angle_deg);
            fputc('\n', f);
        }
    }
    return nd_report_finish(f, tmp, path);
}

/* Offline equals live: every /sets field, exactly (tolerance 0). */
size_t nd_report_compare_sets(FILE *f, const nd_report_trial *p,
                              size_t (*row)(FILE *, const nd_report_trial *, const char *, double,
                                            double, double))
{
    size_t bad = 0;
    if (p->info.meta.plan.sets == 0) return 0;
    bad += row(f, p, "sets", (double)p->n_stored_sets, (double)p->n_recomputed_sets, 0);
    size_t both = p->n_stored_sets < p->n_recomputed_sets ? p->n_stored_sets : p->n_recomputed_sets;
    for (size_t k = 0; k < both; k++) {
        const nd_set_result *x = &p->stored_sets[k], *y = &p->recomputed_sets[k];
#define FIELD(name, expr)                                                                          \
    do {                                                                                           \
        char metric[64];                                                                           \
        snprintf(metric, sizeof metric, "set%zu.%s", k + 1, name);                                 \
        bad += row(f, p, metric, (double)(x->expr), (double)(y->expr), 0);                         \
    } while (0)
        FIELD("reps_done", reps_done);
        FIELD("i_start", i_start);
        FIELD("i_end", i_end);
        FIELD("rest_after_s", rest_after_s);
        FIELD("mean_peak_left_N", mean_peak_N[0]);
        FIELD("mean_peak_right_N", mean_peak_N[1]);
        FIELD("max_peak_left_N", max_peak_N[0]);
        FIELD("max_peak_right_N", max_peak_N[1]);
        FIELD("mean_asymmetry_pct", mean_asymmetry_pct);
        FIELD("weaker_side", weaker_side);
        FIELD("same_weaker_reps", same_weaker_reps);
        FIELD("decline_left_pct", decline_pct[0]);
        FIELD("decline_right_pct", decline_pct[1]);
        FIELD("zone_reps", zone_reps);
        FIELD("pain", pain);
        FIELD("ended_by", ended_by);
        FIELD("leg", leg);
        FIELD("test", test);
        FIELD("angle_deg", angle_deg);
#undef FIELD
    }
    return bad;
}
