/* The /sets table (nd_trial_sets.h). */
#include "nd_trial_sets.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "nd_trial_h5.h"

void nd_h5_set_to_row(const nd_set_result *r, nd_h5_set_row *row)
{
    memset(row, 0, sizeof *row);
    row->index = r->index;
    row->reps_done = r->reps_done;
    row->reps_planned = r->reps_planned;
    row->completed = r->completed;
    row->i_start = r->i_start;
    row->i_end = r->i_end;
    row->t_start_s = r->t_start_s;
    row->t_end_s = r->t_end_s;
    row->duration_s = r->duration_s;
    row->rest_after_s = r->rest_after_s;
    row->mean_peak_left_N = r->mean_peak_N[ND_LEFT];
    row->mean_peak_right_N = r->mean_peak_N[ND_RIGHT];
    row->max_peak_left_N = r->max_peak_N[ND_LEFT];
    row->max_peak_right_N = r->max_peak_N[ND_RIGHT];
    row->mean_asymmetry_pct = r->mean_asymmetry_pct;
    row->weaker_side = (uint8_t)r->weaker_side;
    row->same_weaker_reps = r->same_weaker_reps;
    row->decline_left_pct = r->decline_pct[ND_LEFT];
    row->decline_right_pct = r->decline_pct[ND_RIGHT];
    row->zone_reps = r->zone_reps;
    row->pain = r->pain;
    row->ended_by = (uint8_t)r->ended_by;
    row->leg = (uint8_t)r->leg;
    row->test = (uint8_t)r->test;
    row->angle_deg = r->angle_deg;
}

void nd_h5_row_to_set(const nd_h5_set_row *row, nd_set_result *r)
{
    memset(r, 0, sizeof *r);
    r->index = row->index;
    r->reps_done = row->reps_done;
    r->reps_planned = row->reps_planned;
    r->completed = row->completed != 0;
    r->i_start = row->i_start;
    r->i_end = row->i_end;
    r->t_start_s = row->t_start_s;
    r->t_end_s = row->t_end_s;
    r->duration_s = row->duration_s;
    r->rest_after_s = row->rest_after_s;
    r->mean_peak_N[ND_LEFT] = row->mean_peak_left_N;
    r->mean_peak_N[ND_RIGHT] = row->mean_peak_right_N;
    r->max_peak_N[ND_LEFT] = row->max_peak_left_N;
    r->max_peak_N[ND_RIGHT] = row->max_peak_right_N;
    r->mean_asymmetry_pct = row->mean_asymmetry_pct;
    r->weaker_side = row->weaker_side <= ND_SIDE_RIGHT ? (nd_side)row->weaker_side : ND_SIDE_NONE;
    r->same_weaker_reps = row->same_weaker_reps;
    r->decline_pct[ND_LEFT] = row->decline_left_pct;
    r->decline_pct[ND_RIGHT] = row->decline_right_pct;
    r->zone_reps = row->zone_reps;
    r->pain = row->pain;
    r->ended_by = row->ended_by <= ND_SET_END_STOP ? (nd_set_end)row->ended_by : ND_SET_END_STOP;
    r->leg = row->leg <= ND_SIDE_RIGHT ? (nd_side)row->leg : ND_SIDE_NONE;
    /* A row of a file older than 1.2 has no test field: read as 0, Nordic. */
    r->test = row->test == ND_TEST_ISOMETRIC ? ND_TEST_ISOMETRIC : ND_TEST_NORDIC;
    r->angle_deg = r->test == ND_TEST_ISOMETRIC ? row->angle_deg : NAN;
}

static hid_t leg_enum_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_UINT8);
    uint8_t v = ND_SIDE_NONE;
    H5Tenum_insert(t, "both", &v);
    v = ND_SIDE_LEFT;
    H5Tenum_insert(t, "left", &v);
    v = ND_SIDE_RIGHT;
    H5Tenum_insert(t, "right", &v);
    return t;
}

static hid_t test_enum_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_UINT8);
    for (uint8_t v = ND_TEST_NORDIC; v <= ND_TEST_ISOMETRIC; v++)
        H5Tenum_insert(t, nd_set_test_name((nd_set_test)v), &v);
    return t;
}

static hid_t end_enum_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_UINT8);
    for (uint8_t v = ND_SET_END_NEXT; v <= ND_SET_END_STOP; v++)
        H5Tenum_insert(t, nd_set_end_name((nd_set_end)v), &v);
    return t;
}

hid_t nd_h5_set_mem_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(nd_h5_set_row));
    hid_t side = nd_h5_side_enum_type();
    hid_t end = end_enum_type();
#define F64(f) H5Tinsert(t, #f, HOFFSET(nd_h5_set_row, f), H5T_NATIVE_DOUBLE)
#define U64(f) H5Tinsert(t, #f, HOFFSET(nd_h5_set_row, f), H5T_NATIVE_UINT64)
#define U32(f) H5Tinsert(t, #f, HOFFSET(nd_h5_set_row, f), H5T_NATIVE_UINT32)
#define I32(f) H5Tinsert(t, #f, HOFFSET(nd_h5_set_row, f), H5T_NATIVE_INT32)
    U32(index);
    U32(reps_done);
    U32(reps_planned);
    H5Tinsert(t, "completed", HOFFSET(nd_h5_set_row, completed), H5T_NATIVE_UINT8);
    U64(i_start);
    U64(i_end);
    F64(t_start_s);
    F64(t_end_s);
    F64(duration_s);
    F64(rest_after_s);
    F64(mean_peak_left_N);
    F64(mean_peak_right_N);
    F64(max_peak_left_N);
    F64(max_peak_right_N);
    F64(mean_asymmetry_pct);
    H5Tinsert(t, "weaker_side", HOFFSET(nd_h5_set_row, weaker_side), side);
    U32(same_weaker_reps);
    F64(decline_left_pct);
    F64(decline_right_pct);
    I32(zone_reps);
    I32(pain);
    H5Tinsert(t, "ended_by", HOFFSET(nd_h5_set_row, ended_by), end);
    hid_t leg = leg_enum_type();
    H5Tinsert(t, "leg", HOFFSET(nd_h5_set_row, leg), leg);
    H5Tclose(leg);
    hid_t test = test_enum_type();
    H5Tinsert(t, "test", HOFFSET(nd_h5_set_row, test), test);
    H5Tclose(test);
    F64(angle_deg);
#undef F64
#undef U64
#undef U32
#undef I32
    H5Tclose(side);
    H5Tclose(end);
    return t;
}

hid_t nd_trial_sets_create(hid_t file, const nd_set_plan *p)
{
    hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {16};
    hid_t space = H5Screate_simple(1, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    hid_t mem = nd_h5_set_mem_type();
    hid_t ftype = nd_h5_packed(mem);
    hid_t d = H5Dcreate2(file, "/sets", ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Tclose(ftype);
    H5Tclose(mem);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (d < 0) return -1;
    int rc = 0;
    rc |= nd_h5_attr_str(
        d, "description",
        "one row per set of the planned protocol (daemon/metrics/METRICS.md section 5); "
        "none without a protocol");
    rc |= nd_h5_attr_i32(d, "protocol_sets", (int32_t)p->sets);
    rc |= nd_h5_attr_i32(d, "protocol_reps", (int32_t)p->reps);
    rc |= nd_h5_attr_f64(d, "rest_s", p->rest_s);
    rc |= nd_h5_attr_f64(d, "set_gap_s", p->set_gap_s);
    rc |= nd_h5_attr_f64(d, "zone_left_low_N", p->zone_lo_N[ND_LEFT]);
    rc |= nd_h5_attr_f64(d, "zone_left_high_N", p->zone_hi_N[ND_LEFT]);
    rc |= nd_h5_attr_f64(d, "zone_right_low_N", p->zone_lo_N[ND_RIGHT]);
    rc |= nd_h5_attr_f64(d, "zone_right_high_N", p->zone_hi_N[ND_RIGHT]);
    rc |= nd_h5_attr_str(d, "leg", p->leg == ND_SIDE_NONE ? "both" : nd_side_name(p->leg));
    rc |= nd_h5_attr_f64(d, "leg_on_N", p->leg_on_N);
    rc |= nd_h5_attr_f64(d, "leg_off_N", p->leg_off_N);
    rc |= nd_h5_attr_str(d, "test", nd_set_test_name(p->test));
    rc |= nd_h5_attr_f64(d, "angle_deg", p->angle_deg);
    rc |= nd_h5_attr_str(d, "best_source", p->best_source);
    const nd_progression_rules *r = &p->rules;
    rc |= nd_h5_attr_f64(d, "progression_acceptable_pain", r->acceptable_pain);
    rc |= nd_h5_attr_f64(d, "progression_step_back_above", r->step_back_above);
    rc |= nd_h5_attr_f64(d, "progression_baseline_pain", r->baseline_pain);
    rc |= nd_h5_attr_f64(d, "progression_goal_sets", r->goal_sets);
    rc |= nd_h5_attr_f64(d, "progression_goal_reps", r->goal_reps);
    rc |= nd_h5_attr_f64(d, "progression_rep_step", r->rep_step);
    rc |= nd_h5_attr_f64(d, "progression_add_set_at_reps", r->add_set_at_reps);
    if (rc) {
        H5Dclose(d);
        return -1;
    }
    return d;
}

int nd_trial_sets_read_plan(hid_t file, nd_set_plan *p)
{
    nd_set_plan_default(p);
    if (H5Lexists(file, "/sets", H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(file, "/sets", H5P_DEFAULT);
    if (d < 0) return -1;
    int64_t v;
    if (nd_h5_read_i64(d, "protocol_sets", &v) == 0 && v >= 0) p->sets = (uint32_t)v;
    if (nd_h5_read_i64(d, "protocol_reps", &v) == 0 && v >= 0) p->reps = (uint32_t)v;
    nd_h5_read_f64(d, "rest_s", &p->rest_s);
    nd_h5_read_f64(d, "set_gap_s", &p->set_gap_s);
    nd_h5_read_f64(d, "zone_left_low_N", &p->zone_lo_N[ND_LEFT]);
    nd_h5_read_f64(d, "zone_left_high_N", &p->zone_hi_N[ND_LEFT]);
    nd_h5_read_f64(d, "zone_right_low_N", &p->zone_lo_N[ND_RIGHT]);
    nd_h5_read_f64(d, "zone_right_high_N", &p->zone_hi_N[ND_RIGHT]);
    char leg[16] = "";
    if (nd_h5_read_str(d, "leg", leg, sizeof leg) == 0)
        p->leg = !strcmp(leg, "left")    ? ND_SIDE_LEFT
                 : !strcmp(leg, "right") ? ND_SIDE_RIGHT
                                         : ND_SIDE_NONE;
    nd_h5_read_f64(d, "leg_on_N", &p->leg_on_N);
    nd_h5_read_f64(d, "leg_off_N", &p->leg_off_N);
    char test[16] = "";
    if (nd_h5_read_str(d, "test", test, sizeof test) == 0 && nd_set_test_parse(test, &p->test))
        p->test = ND_TEST_NORDIC;
    nd_h5_read_f64(d, "angle_deg", &p->angle_deg);
    /* Absent before best_source existed: "" (not said). */
    if (nd_h5_read_str(d, "best_source", p->best_source, sizeof p->best_source) != 0)
        p->best_source[0] = '\0';
    nd_progression_rules *r = &p->rules;
    nd_h5_read_f64(d, "progression_acceptable_pain", &r->acceptable_pain);
    nd_h5_read_f64(d, "progression_step_back_above", &r->step_back_above);
    nd_h5_read_f64(d, "progression_baseline_pain", &r->baseline_pain);
    nd_h5_read_f64(d, "progression_goal_sets", &r->goal_sets);
    nd_h5_read_f64(d, "progression_goal_reps", &r->goal_reps);
    nd_h5_read_f64(d, "progression_rep_step", &r->rep_step);
    nd_h5_read_f64(d, "progression_add_set_at_reps", &r->add_set_at_reps);
    H5Dclose(d);
    return 0;
}
