/* nordic-report trials.json: the per-trial table with each trial's reps
 * nested, the skipped files with their reasons, and the options used.
 * Same names as the CSV columns; NaN (undefined) is null. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* cJSON prints 15 significant digits when the value is "close enough"; the
 * report promises exact round trips, so numbers go in as shortest exact text. */
static void add_num(cJSON *o, const char *name, double v)
{
    if (!isfinite(v)) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    cJSON_AddRawToObject(o, name, buf);
}

static cJSON *rep_json(const nd_rep_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    add_num(o, "index", r->index);
    add_num(o, "i_open", (double)r->i_open);
    add_num(o, "i_end", (double)r->i_end);
    add_num(o, "t_open_s", r->t_open_s);
    add_num(o, "t_end_s", r->t_end_s);
    add_num(o, "peak_left_N", r->peak_N[0]);
    add_num(o, "peak_right_N", r->peak_N[1]);
    add_num(o, "t_peak_left_s", r->t_peak_s[0]);
    add_num(o, "t_peak_right_s", r->t_peak_s[1]);
    add_num(o, "asymmetry_pct", r->asymmetry_pct);
    add_num(o, "abs_asymmetry_pct", r->abs_asymmetry_pct);
    cJSON_AddStringToObject(o, "weaker_side", nd_side_name(r->weaker_side));
    add_num(o, "lsi_pct", r->lsi_pct);
    add_num(o, "torque_left_Nm", r->torque_Nm[0]);
    add_num(o, "torque_right_Nm", r->torque_Nm[1]);
    add_num(o, "rel_force_left_N_per_kg", r->rel_force_N_per_kg[0]);
    add_num(o, "rel_force_right_N_per_kg", r->rel_force_N_per_kg[1]);
    add_num(o, "time_to_peak_left_s", r->time_to_peak_s[0]);
    add_num(o, "time_to_peak_right_s", r->time_to_peak_s[1]);
    add_num(o, "rfd_left_N_per_s", r->rfd_N_per_s[0]);
    add_num(o, "rfd_right_N_per_s", r->rfd_N_per_s[1]);
    add_num(o, "impulse_left_Ns", r->impulse_Ns[0]);
    add_num(o, "impulse_right_Ns", r->impulse_Ns[1]);
    return o;
}

static cJSON *trial_json(const nd_report_trial *p)
{
    const nd_trial_meta *m = &p->info.meta;
    const nd_trial_summary *s = &p->summary;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char date[11];
    snprintf(date, sizeof date, "%.10s", p->info.created_utc);
    cJSON_AddStringToObject(o, "file", p->path);
    cJSON_AddStringToObject(o, "trial_id", m->trial_id);
    cJSON_AddStringToObject(o, "athlete_id", m->athlete_id);
    cJSON_AddStringToObject(o, "created_utc", p->info.created_utc);
    cJSON_AddStringToObject(o, "date", date);
    cJSON_AddStringToObject(o, "status", p->info.status);
    cJSON_AddStringToObject(o, "metrics_source", p->recomputed ? "recomputed" : "stored");
    cJSON_AddStringToObject(o, "software_version", m->software_version);
    cJSON_AddStringToObject(o, "device_model", m->device.model);
    cJSON_AddStringToObject(o, "device_serial", m->device.serial);
    add_num(o, "sample_rate_hz", m->sample_rate_hz);
    add_num(o, "samples", (double)p->info.samples);
    add_num(o, "duration_s", (double)p->info.samples / m->sample_rate_hz);
    add_num(o, "lost_sets", (double)p->lost_sets);
    add_num(o, "body_mass_kg", m->subject.body_mass_kg);
    add_num(o, "lever_m", m->subject.lever_m);
    cJSON_AddStringToObject(o, "injured_side", nd_side_name(m->subject.injured_side));
    add_num(o, "reps", s->reps);
    add_num(o, "discarded_reps", s->discarded_reps);
    add_num(o, "max_left_N", s->max_N[0]);
    add_num(o, "max_right_N", s->max_N[1]);
    add_num(o, "mean_left_N", s->mean_N[0]);
    add_num(o, "mean_right_N", s->mean_N[1]);
    add_num(o, "asymmetry_pct", s->asymmetry_pct);
    add_num(o, "abs_asymmetry_pct", s->abs_asymmetry_pct);
    cJSON_AddStringToObject(o, "weaker_side", nd_side_name(s->weaker_side));
    add_num(o, "lsi_pct", s->lsi_pct);
    add_num(o, "torque_max_left_Nm", s->torque_max_Nm[0]);
    add_num(o, "torque_max_right_Nm", s->torque_max_Nm[1]);
    add_num(o, "rel_force_max_left_N_per_kg", s->rel_force_max_N_per_kg[0]);
    add_num(o, "rel_force_max_right_N_per_kg", s->rel_force_max_N_per_kg[1]);
    add_num(o, "impulse_left_Ns", p->impulse_Ns[0]);
    add_num(o, "impulse_right_Ns", p->impulse_Ns[1]);
    cJSON *flags = cJSON_AddArrayToObject(o, "flags");
    const char *names[] = {"weak_left", "weak_right", "imbalance", "pain"};
    const bool on[] = {s->weak_left, s->weak_right, s->imbalance, s->pain};
    for (int i = 0; i < 4; i++) {
        cJSON_AddBoolToObject(o, names[i], on[i]);
        if (on[i] && flags) cJSON_AddItemToArray(flags, cJSON_CreateString(names[i]));
    }
    if (s->pain_rating >= 0)
        cJSON_AddNumberToObject(o, "pain_rating", s->pain_rating);
    else
        cJSON_AddNullToObject(o, "pain_rating");
    cJSON *set = cJSON_AddObjectToObject(o, "settings");
    for (size_t k = 0; set && k < nd_metric_setting_count; k++)
        add_num(set, nd_metric_setting_table[k].name,
                nd_metric_setting_get(&p->settings, &nd_metric_setting_table[k]));
    cJSON *reps = cJSON_AddArrayToObject(o, "rep_list");
    for (size_t k = 0; reps && k < p->n_reps; k++)
        cJSON_AddItemToArray(reps, rep_json(&p->reps[k]));
    return o;
}

int nd_report_write_json(const char *path, const nd_report_trial *t, size_t n,
                         const nd_report_options *o)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return -1;
    cJSON_AddStringToObject(root, "format", "nordic-report");
    cJSON_AddNumberToObject(root, "format_version", 1);
    cJSON_AddStringToObject(root, "software_version", "nordic-report " NORDIC_VERSION);
    cJSON *opt = cJSON_AddObjectToObject(root, "options");
    if (opt) {
        cJSON_AddBoolToObject(opt, "recompute", o->recompute || o->n_set);
        cJSON_AddBoolToObject(opt, "include_incomplete", o->include_incomplete);
        cJSON_AddNumberToObject(opt, "mdc_N", o->mdc_N);
        cJSON_AddNumberToObject(opt, "mdc_pct", o->mdc_pct);
        cJSON *set = cJSON_AddObjectToObject(opt, "set");
        for (size_t i = 0; set && i < o->n_set; i++)
            cJSON_AddNumberToObject(set, o->set_name[i], o->set_value[i]);
    }
    cJSON *trials = cJSON_AddArrayToObject(root, "trials");
    cJSON *skipped = cJSON_AddArrayToObject(root, "skipped");
    for (size_t i = 0; trials && skipped && i < n; i++) {
        if (t[i].ok) {
            cJSON_AddItemToArray(trials, trial_json(&t[i]));
        } else {
            cJSON *s = cJSON_CreateObject();
            cJSON_AddStringToObject(s, "file", t[i].path);
            cJSON_AddStringToObject(s, "reason", t[i].error);
            cJSON_AddItemToArray(skipped, s);
        }
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "nordic-report: out of memory building %s\n", path);
        return -1;
    }
    char tmp[PATH_MAX + 8];
    FILE *f = nd_report_begin(path, tmp, sizeof tmp);
    if (!f) {
        free(text);
        return -1;
    }
    fputs(text, f);
    fputc('\n', f);
    free(text);
    return nd_report_finish(f, tmp, path);
}
