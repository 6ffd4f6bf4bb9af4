/* `live` and `wave` bodies as JSON text (see nd_messages_text.h). */
#include "nd_messages_text.h"

static void member_double(nd_json_writer *w, const char *name, double v)
{
    nd_jw_key(w, name);
    nd_jw_double(w, v);
}

static void member_uint(nd_json_writer *w, const char *name, uint64_t v)
{
    nd_jw_key(w, name);
    nd_jw_uint(w, v);
}

static void member_string(nd_json_writer *w, const char *name, const char *s)
{
    nd_jw_key(w, name);
    nd_jw_string(w, s);
}

void nd_text_set_live(nd_json_writer *w, const nd_set_live *s)
{
    nd_jw_begin_object(w);
    member_string(w, "phase", nd_set_phase_name(s->phase));
    member_uint(w, "set", s->set);
    member_uint(w, "sets_planned", s->sets_planned);
    member_uint(w, "rep", s->rep);
    member_uint(w, "reps_planned", s->reps_planned);
    member_uint(w, "sets_ended", s->sets_ended);
    member_double(w, "rest_elapsed_s", s->rest_elapsed_s);
    member_double(w, "rest_remaining_s", s->rest_remaining_s);
    member_string(w, "last_rep_zone", nd_zone_verdict_name(s->last_rep_zone));
    member_string(w, "leg", s->leg == ND_SIDE_NONE ? "both" : nd_side_name(s->leg));
    member_string(w, "test", nd_set_test_name(s->test));
    member_double(w, "angle_deg", s->angle_deg);
    nd_jw_end_object(w);
}

void nd_text_live_fields(nd_json_writer *w, const nd_live_msg *m)
{
    member_double(w, "left_N", m->state.force_N[0]);
    member_double(w, "right_N", m->state.force_N[1]);
    member_double(w, "total_N", m->state.force_N[0] + m->state.force_N[1]);
    nd_jw_key(w, "rep_open");
    nd_jw_bool(w, m->state.rep_open);
    member_double(w, "running_peak_left_N", m->state.running_peak_N[0]);
    member_double(w, "running_peak_right_N", m->state.running_peak_N[1]);
    member_uint(w, "reps", m->state.reps);
    member_uint(w, "samples", m->state.samples);
    if (m->host_ns) member_uint(w, "host_ns", m->host_ns);
    if (m->sets.phase != ND_SET_PHASE_NONE) {
        nd_jw_key(w, "set");
        nd_text_set_live(w, &m->sets);
    }
}

static void points(nd_json_writer *w, const char *name, const double *v, unsigned n)
{
    nd_jw_key(w, name);
    nd_jw_begin_array(w);
    /* 0.01 N resolution keeps blocks small; the cells resolve ~1 N. */
    for (unsigned i = 0; i < n; i++) nd_jw_fixed2(w, v[i]);
    nd_jw_end_array(w);
}

void nd_text_wave_fields(nd_json_writer *w, const nd_wave_block *b)
{
    unsigned n = b->n > ND_WAVE_MAX_POINTS ? ND_WAVE_MAX_POINTS : b->n;
    member_double(w, "t0", b->t0_s);
    member_double(w, "dt", b->dt_s);
    member_uint(w, "decimation", b->decimation);
    member_uint(w, "n", n);
    points(w, "left_N", b->left_N, n);
    points(w, "right_N", b->right_N, n);
    if (b->host_ns) member_uint(w, "host_ns", b->host_ns);
    if (b->host_ns_oldest) member_uint(w, "host_ns_oldest", b->host_ns_oldest);
}
