/* JSON bodies of the live topics, and the wave decimator. */
#include "nd_messages.h"

#include "nd_json_writer.h"
#include "nd_messages_text.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

cJSON *nd_json_add_number(cJSON *obj, const char *name, double v)
{
    return isfinite(v) ? cJSON_AddNumberToObject(obj, name, v) : cJSON_AddNullToObject(obj, name);
}

/* Per-leg pair as "<prefix>_left<unit>" / "<prefix>_right<unit>", the flat
 * names the HDF5 /reps table uses (peak_left_N, torque_right_Nm, ...). */
static void add_pair(cJSON *o, const char *prefix, const char *unit, const double v[2])
{
    char name[64];
    snprintf(name, sizeof name, "%s_left%s", prefix, unit);
    nd_json_add_number(o, name, v[0]);
    snprintf(name, sizeof name, "%s_right%s", prefix, unit);
    nd_json_add_number(o, name, v[1]);
}

static void add_u64(cJSON *o, const char *name, uint64_t v)
{
    cJSON_AddNumberToObject(o, name, (double)v); /* exact below 2^53 */
}

cJSON *nd_json_device_info(const nd_device_info *d)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "model", d->model);
    cJSON_AddStringToObject(o, "serial", d->serial);
    cJSON_AddStringToObject(o, "fw", d->fw);
    nd_json_add_number(o, "rate_hz", d->rate_hz);
    cJSON_AddNumberToObject(o, "nch", d->nch);
    if (d->warning[0])
        cJSON_AddStringToObject(o, "warning", d->warning);
    else
        cJSON_AddNullToObject(o, "warning");
    cJSON *names = cJSON_AddArrayToObject(o, "channel_names");
    cJSON *cpn = cJSON_AddArrayToObject(o, "counts_per_newton");
    int nch = d->nch < 0 ? 0 : d->nch > ND_MAX_CHANNELS ? ND_MAX_CHANNELS : d->nch;
    for (int i = 0; i < nch; i++) {
        cJSON_AddItemToArray(names, cJSON_CreateString(d->channel_names[i]));
        cJSON_AddItemToArray(cpn, d->counts_per_newton[i] > 0
                                      ? cJSON_CreateNumber(d->counts_per_newton[i])
                                      : cJSON_CreateNull());
    }
    return o;
}

cJSON *nd_json_status(const nd_status_snapshot *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "state", s->state);
    if (s->activity[0])
        cJSON_AddStringToObject(o, "activity", s->activity);
    else
        cJSON_AddNullToObject(o, "activity");
    if (s->trial_id[0]) {
        cJSON_AddStringToObject(o, "athlete_id", s->athlete_id);
        cJSON_AddStringToObject(o, "file", s->file);
        add_u64(o, "trial_samples", s->trial_samples);
        cJSON_AddNumberToObject(o, "trial_reps", s->trial_reps);
    } else {
        cJSON_AddNullToObject(o, "file");
    }
    /* Stream description (what an LSL consumer expects): device, rate, and
     * the two force channels with their units. */
    cJSON *dev = cJSON_AddObjectToObject(o, "device");
    cJSON_AddStringToObject(dev, "uri", s->device_uri);
    cJSON_AddBoolToObject(dev, "connected", s->device_connected);
    if (s->have_device_info) {
        cJSON *info = nd_json_device_info(&s->device);
        cJSON *it = info ? info->child : NULL;
        while (it) {
            cJSON *next = it->next;
            cJSON_AddItemToObject(dev, it->string, cJSON_DetachItemViaPointer(info, it));
            it = next;
        }
        cJSON_Delete(info);
        nd_json_add_number(o, "rate_hz", s->device.rate_hz);
    } else {
        cJSON_AddNullToObject(o, "rate_hz");
    }
    cJSON *chans = cJSON_AddArrayToObject(o, "channels");
    static const char *const hook[2] = {"left", "right"};
    const int devch[2] = {s->left_channel, s->right_channel};
    for (int i = 0; i < 2; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", hook[i]);
        cJSON_AddStringToObject(c, "unit", "N");
        cJSON_AddStringToObject(c, "type", "force");
        cJSON_AddNumberToObject(c, "device_channel", devch[i]);
        nd_json_add_number(c, "offset_counts", s->calib_offset[i]);
        nd_json_add_number(c, "gain_N_per_count", s->calib_gain[i]);
        cJSON_AddItemToArray(chans, c);
    }
    cJSON *cnt = cJSON_AddObjectToObject(o, "counters");
    add_u64(cnt, "samples", s->samples);
    add_u64(cnt, "gaps", s->gaps);
    add_u64(cnt, "gap_sets", s->gap_sets);
    add_u64(cnt, "dropped", s->device_overflows);
    add_u64(cnt, "bad_frames", s->bad_frames);
    add_u64(cnt, "bad_lines", s->bad_lines);
    add_u64(cnt, "unknown_frames", s->unknown_frames);
    add_u64(cnt, "restarts", s->restarts);
    add_u64(cnt, "disconnects", s->disconnects);
    add_u64(cnt, "reconnects", s->reconnects);
    add_u64(cnt, "ring_overruns", s->ring_overruns);
    add_u64(cnt, "live_skipped", s->live_skipped);
    add_u64(cnt, "live_dropped_msgs", s->live_dropped_msgs);
    add_u64(cnt, "file_sets_written", s->file_sets_written);
    add_u64(cnt, "file_sets_lost", s->file_sets_lost);
    add_u64(cnt, "file_errors", s->file_errors);
    add_u64(cnt, "channel_errors", s->channel_errors);
    if (s->sets.phase != ND_SET_PHASE_NONE)
        cJSON_AddItemToObject(o, "set", nd_json_set_live(&s->sets));
    if (s->last_error[0])
        cJSON_AddStringToObject(o, "last_error", s->last_error);
    else
        cJSON_AddNullToObject(o, "last_error");
    if (s->warning[0])
        cJSON_AddStringToObject(o, "warning", s->warning);
    else
        cJSON_AddNullToObject(o, "warning");
    return o;
}

cJSON *nd_json_set_live(const nd_set_live *s)
{
    /* One definition of the object for `live` (text) and `status` (cJSON):
     * written once, parsed back here (status is sent once a second). */
    char text[1024];
    nd_json_writer w;
    nd_jw_init(&w, text, sizeof text);
    nd_text_set_live(&w, s);
    return nd_jw_finish(&w) < 0 ? NULL : cJSON_Parse(text);
}

cJSON *nd_json_set_result(const nd_set_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "index", r->index);
    cJSON_AddNumberToObject(o, "reps_done", r->reps_done);
    cJSON_AddNumberToObject(o, "reps_planned", r->reps_planned);
    cJSON_AddBoolToObject(o, "completed", r->completed);
    add_u64(o, "i_start", r->i_start);
    add_u64(o, "i_end", r->i_end);
    nd_json_add_number(o, "t_start_s", r->t_start_s);
    nd_json_add_number(o, "t_end_s", r->t_end_s);
    nd_json_add_number(o, "duration_s", r->duration_s);
    nd_json_add_number(o, "rest_after_s", r->rest_after_s);
    add_pair(o, "mean_peak", "_N", r->mean_peak_N);
    add_pair(o, "max_peak", "_N", r->max_peak_N);
    nd_json_add_number(o, "mean_asymmetry_pct", r->mean_asymmetry_pct);
    cJSON_AddStringToObject(o, "weaker_side", nd_side_name(r->weaker_side));
    cJSON_AddNumberToObject(o, "same_weaker_reps", r->same_weaker_reps);
    add_pair(o, "decline", "_pct", r->decline_pct);
    if (r->zone_reps >= 0)
        cJSON_AddNumberToObject(o, "zone_reps", r->zone_reps);
    else
        cJSON_AddNullToObject(o, "zone_reps");
    if (r->pain >= 0)
        cJSON_AddNumberToObject(o, "pain", r->pain);
    else
        cJSON_AddNullToObject(o, "pain");
    cJSON_AddStringToObject(o, "ended_by", nd_set_end_name(r->ended_by));
    cJSON_AddStringToObject(o, "leg", r->leg == ND_SIDE_NONE ? "both" : nd_side_name(r->leg));
    cJSON_AddStringToObject(o, "test", nd_set_test_name(r->test));
    nd_json_add_number(o, "angle_deg", r->angle_deg);
    return o;
}

void nd_json_rep_add_zone(cJSON *rep, const nd_set_plan *plan, const nd_rep_result *r)
{
    if (!rep || !nd_set_plan_has_zone(plan)) return;
    cJSON_AddStringToObject(rep, "zone", nd_zone_verdict_name(nd_set_zone_verdict(plan, r)));
    add_pair(rep, "zone_low", "_N", plan->zone_lo_N);
    add_pair(rep, "zone_high", "_N", plan->zone_hi_N);
}

cJSON *nd_json_rep(const nd_rep_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "index", r->index);
    nd_json_add_number(o, "t_open_s", r->t_open_s);
    nd_json_add_number(o, "t_end_s", r->t_end_s);
    nd_json_add_number(o, "duration_s", r->t_end_s - r->t_open_s);
    add_pair(o, "peak", "_N", r->peak_N);
    add_pair(o, "t_peak", "_s", r->t_peak_s);
    nd_json_add_number(o, "asymmetry_pct", r->asymmetry_pct);
    nd_json_add_number(o, "abs_asymmetry_pct", r->abs_asymmetry_pct);
    cJSON_AddStringToObject(o, "weaker_side", nd_side_name(r->weaker_side));
    nd_json_add_number(o, "lsi_pct", r->lsi_pct);
    add_pair(o, "torque", "_Nm", r->torque_Nm);
    add_pair(o, "rel_force", "_N_per_kg", r->rel_force_N_per_kg);
    add_pair(o, "time_to_peak", "_s", r->time_to_peak_s);
    add_pair(o, "rfd", "_N_per_s", r->rfd_N_per_s);
    add_pair(o, "impulse", "_Ns", r->impulse_Ns);
    add_u64(o, "i_open", r->i_open);
    add_u64(o, "i_end", r->i_end);
    return o;
}

cJSON *nd_json_summary(const nd_trial_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "reps", s->reps);
    cJSON_AddNumberToObject(o, "discarded_reps", s->discarded_reps);
    add_pair(o, "max", "_N", s->max_N);
    add_pair(o, "mean", "_N", s->mean_N);
    nd_json_add_number(o, "asymmetry_pct", s->asymmetry_pct);
    nd_json_add_number(o, "abs_asymmetry_pct", s->abs_asymmetry_pct);
    cJSON_AddStringToObject(o, "weaker_side", nd_side_name(s->weaker_side));
    nd_json_add_number(o, "lsi_pct", s->lsi_pct);
    add_pair(o, "torque_max", "_Nm", s->torque_max_Nm);
    add_pair(o, "rel_force_max", "_N_per_kg", s->rel_force_max_N_per_kg);
    if (s->pain_rating >= 0)
        cJSON_AddNumberToObject(o, "pain_rating", s->pain_rating);
    else
        cJSON_AddNullToObject(o, "pain_rating");
    cJSON *flags = cJSON_AddArrayToObject(o, "flags");
    if (s->weak_left) cJSON_AddItemToArray(flags, cJSON_CreateString("weak_left"));
    if (s->weak_right) cJSON_AddItemToArray(flags, cJSON_CreateString("weak_right"));
    if (s->imbalance) cJSON_AddItemToArray(flags, cJSON_CreateString("imbalance"));
    if (s->pain) cJSON_AddItemToArray(flags, cJSON_CreateString("pain"));
    add_u64(o, "samples", s->samples);
    add_u64(o, "nonfinite_skipped", s->nonfinite_skipped);
    if (s->sets_planned > 0) { /* a session with a protocol (METRICS.md 5.6) */
        cJSON_AddNumberToObject(o, "sets_planned", s->sets_planned);
        cJSON_AddNumberToObject(o, "sets_done", s->sets_done);
        if (s->max_set_pain >= 0)
            cJSON_AddNumberToObject(o, "max_set_pain", s->max_set_pain);
        else
            cJSON_AddNullToObject(o, "max_set_pain");
        cJSON *sug = cJSON_AddObjectToObject(o, "suggestion");
        char protocol[32];
        snprintf(protocol, sizeof protocol, "%ux%u", s->suggestion_sets, s->suggestion_reps);
        cJSON_AddStringToObject(sug, "rule", s->suggestion_rule);
        cJSON_AddStringToObject(sug, "protocol", protocol);
        cJSON_AddStringToObject(sug, "text", s->suggestion);
        nd_json_add_number(o, "block_asymmetry_pct", s->block_asymmetry_pct);
    }
    if (s->sets_planned > 0 && s->isometric) { /* per knee angle (METRICS.md 5.7) */
        cJSON *iso = cJSON_AddArrayToObject(o, "isometric");
        for (uint32_t k = 0; iso && k < s->iso_angles && k < ND_ISO_MAX_ANGLES; k++) {
            cJSON *a = cJSON_CreateObject();
            if (!a) break;
            nd_json_add_number(a, "angle_deg", s->iso[k].angle_deg);
            add_pair(a, "best", "_N", s->iso[k].best_N);
            nd_json_add_number(a, "asymmetry_pct", s->iso[k].asymmetry_pct);
            cJSON_AddItemToArray(iso, a);
        }
    }
    return o;
}

cJSON *nd_json_settings(const nd_metric_settings *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "metrics_version", ND_METRICS_VERSION);
    nd_json_add_number(o, "cutoff_hz", s->cutoff_hz);
    nd_json_add_number(o, "on_N", s->on_N);
    nd_json_add_number(o, "off_N", s->off_N);
    nd_json_add_number(o, "hold_s", s->hold_s);
    nd_json_add_number(o, "min_rep_s", s->min_rep_s);
    nd_json_add_number(o, "impulse_threshold_N", s->impulse_threshold_N);
    nd_json_add_number(o, "weak_threshold_N", s->weak_threshold_N);
    nd_json_add_number(o, "imbalance_pct", s->imbalance_pct);
    nd_json_add_number(o, "tare_window_s", s->tare_window_s);
    return o;
}

static cJSON *trial_common(const nd_trial_msg *t, const char *event)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "event", event);
    cJSON_AddStringToObject(o, "athlete_id", t->athlete_id);
    cJSON_AddStringToObject(o, "created_utc", t->created_utc);
    cJSON_AddStringToObject(o, "file", t->file);
    if (t->subject.body_mass_kg > 0)
        nd_json_add_number(o, "body_mass_kg", t->subject.body_mass_kg);
    else
        cJSON_AddNullToObject(o, "body_mass_kg");
    if (t->subject.lever_m > 0)
        nd_json_add_number(o, "lever_m", t->subject.lever_m);
    else
        cJSON_AddNullToObject(o, "lever_m");
    cJSON_AddStringToObject(o, "injured_side", nd_side_name(t->subject.injured_side));
    cJSON_AddStringToObject(o, "notes", t->notes);
    if (t->protocol[0])
        cJSON_AddStringToObject(o, "protocol", t->protocol);
    else
        cJSON_AddNullToObject(o, "protocol");
    nd_json_add_number(o, "sample_rate_hz", t->sample_rate_hz);
    cJSON_AddItemToObject(o, "settings", nd_json_settings(&t->settings));
    return o;
}

cJSON *nd_json_trial_start(const nd_trial_msg *t)
{
    return trial_common(t, "start");
}

cJSON *nd_json_trial_stop(const nd_trial_msg *t, const nd_trial_summary *summary)
{
    cJSON *o = trial_common(t, "stop");
    if (!o) return NULL;
    nd_json_add_number(o, "duration_s", t->duration_s);
    add_u64(o, "samples", t->samples);
    cJSON_AddStringToObject(o, "stop_reason", t->stop_reason);
    if (summary)
        cJSON_AddItemToObject(o, "summary", nd_json_summary(summary));
    else
        cJSON_AddNullToObject(o, "summary");
    return o;
}

int nd_wave_init(nd_wave_builder *w, unsigned decimation, unsigned block_points, double fs)
{
    memset(w, 0, sizeof *w);
    if (decimation < 1 || block_points < 1 || block_points > ND_WAVE_MAX_POINTS || !(fs > 0) ||
        !isfinite(fs))
        return -1;
    w->decimation = decimation;
    w->block_points = block_points;
    w->fs = fs;
    w->block.decimation = decimation;
    w->block.dt_s = decimation / fs;
    return 0;
}

int nd_wave_push(nd_wave_builder *w, double t_s, double left_N, double right_N, uint64_t host_ns)
{
    if (w->acc_n == 0) {
        w->acc_t0 = t_s;
        w->acc_host_ns = host_ns;
    }
    w->acc_l += left_N;
    w->acc_r += right_N;
    if (++w->acc_n < w->decimation) return 0;
    if (w->block.n == 0) {
        w->block.t0_s = w->acc_t0;
        w->block.host_ns_oldest = w->acc_host_ns;
    }
    w->block.left_N[w->block.n] = w->acc_l / w->acc_n;
    w->block.right_N[w->block.n] = w->acc_r / w->acc_n;
    w->block.n++;
    w->block.host_ns = host_ns;
    w->acc_n = 0;
    w->acc_l = w->acc_r = 0;
    return w->block.n >= w->block_points;
}

void nd_wave_clear(nd_wave_builder *w)
{
    w->block.n = 0;
    w->block.host_ns = 0;
    w->block.host_ns_oldest = 0;
}

void nd_wave_reset(nd_wave_builder *w)
{
    nd_wave_clear(w);
    w->acc_n = 0;
    w->acc_l = w->acc_r = 0;
}
