/* HDF5 helpers for the trial-file modules (see nd_trial_h5.h). */
#include "nd_trial_h5.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void nd_h5_rep_to_row(const nd_rep_result *r, nd_h5_rep_row *row)
{
    memset(row, 0, sizeof *row);
    row->index = r->index;
    row->i_open = r->i_open;
    row->i_end = r->i_end;
    row->t_open_s = r->t_open_s;
    row->t_end_s = r->t_end_s;
    row->peak_left_N = r->peak_N[ND_LEFT];
    row->peak_right_N = r->peak_N[ND_RIGHT];
    row->i_peak_left = r->i_peak[ND_LEFT];
    row->i_peak_right = r->i_peak[ND_RIGHT];
    row->t_peak_left_s = r->t_peak_s[ND_LEFT];
    row->t_peak_right_s = r->t_peak_s[ND_RIGHT];
    row->asymmetry_pct = r->asymmetry_pct;
    row->abs_asymmetry_pct = r->abs_asymmetry_pct;
    row->weaker_side = (uint8_t)r->weaker_side;
    row->lsi_pct = r->lsi_pct;
    row->torque_left_Nm = r->torque_Nm[ND_LEFT];
    row->torque_right_Nm = r->torque_Nm[ND_RIGHT];
    row->rel_force_left_N_per_kg = r->rel_force_N_per_kg[ND_LEFT];
    row->rel_force_right_N_per_kg = r->rel_force_N_per_kg[ND_RIGHT];
    row->time_to_peak_left_s = r->time_to_peak_s[ND_LEFT];
    row->time_to_peak_right_s = r->time_to_peak_s[ND_RIGHT];
    row->rfd_left_N_per_s = r->rfd_N_per_s[ND_LEFT];
    row->rfd_right_N_per_s = r->rfd_N_per_s[ND_RIGHT];
    row->impulse_left_Ns = r->impulse_Ns[ND_LEFT];
    row->impulse_right_Ns = r->impulse_Ns[ND_RIGHT];
}

void nd_h5_row_to_rep(const nd_h5_rep_row *row, nd_rep_result *r)
{
    memset(r, 0, sizeof *r);
    r->index = row->index;
    r->i_open = row->i_open;
    r->i_end = row->i_end;
    r->t_open_s = row->t_open_s;
    r->t_end_s = row->t_end_s;
    r->peak_N[ND_LEFT] = row->peak_left_N;
    r->peak_N[ND_RIGHT] = row->peak_right_N;
    r->i_peak[ND_LEFT] = row->i_peak_left;
    r->i_peak[ND_RIGHT] = row->i_peak_right;
    r->t_peak_s[ND_LEFT] = row->t_peak_left_s;
    r->t_peak_s[ND_RIGHT] = row->t_peak_right_s;
    r->asymmetry_pct = row->asymmetry_pct;
    r->abs_asymmetry_pct = row->abs_asymmetry_pct;
    r->weaker_side = row->weaker_side <= ND_SIDE_RIGHT ? (nd_side)row->weaker_side : ND_SIDE_NONE;
    r->lsi_pct = row->lsi_pct;
    r->torque_Nm[ND_LEFT] = row->torque_left_Nm;
    r->torque_Nm[ND_RIGHT] = row->torque_right_Nm;
    r->rel_force_N_per_kg[ND_LEFT] = row->rel_force_left_N_per_kg;
    r->rel_force_N_per_kg[ND_RIGHT] = row->rel_force_right_N_per_kg;
    r->time_to_peak_s[ND_LEFT] = row->time_to_peak_left_s;
    r->time_to_peak_s[ND_RIGHT] = row->time_to_peak_right_s;
    r->rfd_N_per_s[ND_LEFT] = row->rfd_left_N_per_s;
    r->rfd_N_per_s[ND_RIGHT] = row->rfd_right_N_per_s;
    r->impulse_Ns[ND_LEFT] = row->impulse_left_Ns;
    r->impulse_Ns[ND_RIGHT] = row->impulse_right_Ns;
}

hid_t nd_h5_side_enum_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_UINT8);
    uint8_t v;
    v = ND_SIDE_NONE;
    H5Tenum_insert(t, "none", &v);
    v = ND_SIDE_LEFT;
    H5Tenum_insert(t, "left", &v);
    v = ND_SIDE_RIGHT;
    H5Tenum_insert(t, "right", &v);
    return t;
}

hid_t nd_h5_rep_mem_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(nd_h5_rep_row));
    hid_t side = nd_h5_side_enum_type();
#define F64(f) H5Tinsert(t, #f, HOFFSET(nd_h5_rep_row, f), H5T_NATIVE_DOUBLE)
#define U64(f) H5Tinsert(t, #f, HOFFSET(nd_h5_rep_row, f), H5T_NATIVE_UINT64)
    H5Tinsert(t, "index", HOFFSET(nd_h5_rep_row, index), H5T_NATIVE_UINT32);
    U64(i_open);
    U64(i_end);
    F64(t_open_s);
    F64(t_end_s);
    F64(peak_left_N);
    F64(peak_right_N);
    U64(i_peak_left);
    U64(i_peak_right);
    F64(t_peak_left_s);
    F64(t_peak_right_s);
    F64(asymmetry_pct);
    F64(abs_asymmetry_pct);
    H5Tinsert(t, "weaker_side", HOFFSET(nd_h5_rep_row, weaker_side), side);
    F64(lsi_pct);
    F64(torque_left_Nm);
    F64(torque_right_Nm);
    F64(rel_force_left_N_per_kg);
    F64(rel_force_right_N_per_kg);
    F64(time_to_peak_left_s);
    F64(time_to_peak_right_s);
    F64(rfd_left_N_per_s);
    F64(rfd_right_N_per_s);
    F64(impulse_left_Ns);
    F64(impulse_right_Ns);
#undef F64
#undef U64
    H5Tclose(side);
    return t;
}

hid_t nd_h5_clock_mem_type(void)
{
    hid_t reason = H5Tenum_create(H5T_NATIVE_UINT8);
    static const char *const names[] = {"periodic", "first", "gap", "restart", "reconnect"};
    for (uint8_t v = 0; v < 5; v++) H5Tenum_insert(reason, names[v], &v);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(nd_trial_clock_row));
#define FIELD(f, type) H5Tinsert(t, #f, HOFFSET(nd_trial_clock_row, f), type)
    FIELD(sample_index, H5T_NATIVE_UINT64);
    FIELD(seq, H5T_NATIVE_UINT64);
    FIELD(host_monotonic_ns, H5T_NATIVE_UINT64);
    FIELD(host_realtime_ns, H5T_NATIVE_INT64);
    FIELD(device_time_us, H5T_NATIVE_INT64);
    FIELD(reason, reason);
#undef FIELD
    H5Tclose(reason);
    return t;
}

static hid_t utf8_fixed(size_t size)
{
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, size);
    H5Tset_strpad(s, H5T_STR_NULLTERM);
    H5Tset_cset(s, H5T_CSET_UTF8);
    return s;
}

hid_t nd_h5_event_mem_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(nd_h5_event_row));
    hid_t kind = utf8_fixed(ND_TRIAL_EVENT_KIND_MAX + 1);
    hid_t detail = utf8_fixed(ND_TRIAL_EVENT_DETAIL_MAX + 1);
    H5Tinsert(t, "t_s", HOFFSET(nd_h5_event_row, t_s), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "kind", HOFFSET(nd_h5_event_row, kind), kind);
    H5Tinsert(t, "detail", HOFFSET(nd_h5_event_row, detail), detail);
    H5Tclose(kind);
    H5Tclose(detail);
    return t;
}

hid_t nd_h5_packed(hid_t mem_type)
{
    hid_t t = H5Tcopy(mem_type);
    H5Tpack(t);
    return t;
}

void nd_h5_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

struct err_walk {
    char innermost[256];
    char system[160];
};

static herr_t err_walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    struct err_walk *w = data;
    if (n == 0 && e->desc) snprintf(w->innermost, sizeof w->innermost, "%s", e->desc);
    /* POSIX failures read "..., errno = 28, error message = 'No space left on device'". */
    const char *m = e->desc ? strstr(e->desc, "error message = '") : NULL;
    if (m && !w->system[0]) {
        m += strlen("error message = '");
        size_t len = strcspn(m, "'");
        if (len >= sizeof w->system) len = sizeof w->system - 1;
        memcpy(w->system, m, len);
        w->system[len] = '\0';
    }
    return 0;
}

void nd_h5_error(char *err, size_t errlen, const char *what)
{
    struct err_walk w = {{0}, {0}};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, err_walk_cb, &w);
    const char *reason = w.system[0] ? w.system : w.innermost[0] ? w.innermost : "HDF5 error";
    if (err && errlen) snprintf(err, errlen, "%s: %s", what, reason);
    H5Eclear2(H5E_DEFAULT);
}

void nd_utf8_copy(char *dst, const char *src, size_t max)
{
    size_t len = src ? strlen(src) : 0;
    if (len > max) {
        len = max;
        /* Back up over continuation bytes so a character is never split. */
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80) len--;
    }
    if (len) memcpy(dst, src, len);
    dst[len] = '\0';
}

static hid_t attr_open_or_create(hid_t obj, const char *name, hid_t type, hid_t space)
{
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    return H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
}

static int attr_write(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, size_t n,
                      bool scalar, const void *data)
{
    hsize_t dim = n;
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t a = attr_open_or_create(obj, name, file_type, space);
    int rc = (a >= 0 && H5Awrite(a, mem_type, data) >= 0) ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    return rc;
}

static hid_t utf8_vlen(void)
{
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, H5T_VARIABLE);
    H5Tset_cset(s, H5T_CSET_UTF8);
    return s;
}

int nd_h5_attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t s = utf8_vlen();
    const char *v = value ? value : "";
    int rc = attr_write(obj, name, s, s, 1, true, &v);
    H5Tclose(s);
    return rc;
}

int nd_h5_attr_str_array(hid_t obj, const char *name, const char *const *values, size_t n)
{
    hid_t s = utf8_vlen();
    int rc = attr_write(obj, name, s, s, n, false, values);
    H5Tclose(s);
    return rc;
}

int nd_h5_attr_f64(hid_t obj, const char *name, double value)
{
    return attr_write(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, true, &value);
}

int nd_h5_attr_f64_array(hid_t obj, const char *name, const double *values, size_t n)
{
    return attr_write(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, false, values);
}

int nd_h5_attr_i32(hid_t obj, const char *name, int32_t value)
{
    return attr_write(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT32, 1, true, &value);
}

int nd_h5_attr_u64(hid_t obj, const char *name, uint64_t value)
{
    return attr_write(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, true, &value);
}

int nd_h5_attr_i64(hid_t obj, const char *name, int64_t value)
{
    return attr_write(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, true, &value);
}

int nd_h5_attr_bool(hid_t obj, const char *name, bool value)
{
    uint8_t v = value ? 1 : 0;
    return attr_write(obj, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, true, &v);
}

/* Opens attribute `name` and checks its element count; returns the id or -1. */
static hid_t attr_open(hid_t obj, const char *name, hssize_t *npoints)
{
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t space = H5Aget_space(a);
    *npoints = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    return a;
}

int nd_h5_read_str(hid_t obj, const char *name, char *out, size_t outlen)
{
    hssize_t np = 0;
    hid_t a = attr_open(obj, name, &np);
    if (a < 0) return -1;
    int rc = -1;
    hid_t ft = H5Aget_type(a);
    if (np == 1 && H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            char *v = NULL;
            hid_t mt = utf8_vlen();
            if (H5Aread(a, mt, &v) >= 0) {
                snprintf(out, outlen, "%s", v ? v : "");
                rc = 0;
                hid_t space = H5Aget_space(a);
                H5Dvlen_reclaim(mt, space, H5P_DEFAULT, &v);
                H5Sclose(space);
            }
            H5Tclose(mt);
        } else {
            size_t size = H5Tget_size(ft);
            char buf[4096];
            if (size < sizeof buf) {
                hid_t mt = utf8_fixed(size + 1);
                if (H5Aread(a, mt, buf) >= 0) {
                    buf[size] = '\0';
                    snprintf(out, outlen, "%s", buf);
                    rc = 0;
                }
                H5Tclose(mt);
            }
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

int nd_h5_read_str_array(hid_t obj, const char *name, char (*out)[32], size_t max, size_t *n)
{
    hssize_t np = 0;
    hid_t a = attr_open(obj, name, &np);
    if (a < 0) return -1;
    int rc = -1;
    hid_t ft = H5Aget_type(a);
    if (np >= 0 && (size_t)np <= max && H5Tget_class(ft) == H5T_STRING &&
        H5Tis_variable_str(ft) > 0) {
        char *v[ND_MAX_CHANNELS * 4] = {0};
        hid_t mt = utf8_vlen();
        if ((size_t)np <= sizeof v / sizeof v[0] && H5Aread(a, mt, v) >= 0) {
            for (hssize_t i = 0; i < np; i++) snprintf(out[i], 32, "%s", v[i] ? v[i] : "");
            *n = (size_t)np;
            rc = 0;
            hid_t space = H5Aget_space(a);
            H5Dvlen_reclaim(mt, space, H5P_DEFAULT, v);
            H5Sclose(space);
        }
        H5Tclose(mt);
    }
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

static int read_numeric(hid_t obj, const char *name, hid_t mem_type, void *out, size_t max,
                        size_t *n)
{
    hssize_t np = 0;
    hid_t a = attr_open(obj, name, &np);
    if (a < 0) return -1;
    hid_t ft = H5Aget_type(a);
    H5T_class_t cls = H5Tget_class(ft);
    int rc = -1;
    if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && np >= 0 && (size_t)np <= max &&
        H5Aread(a, mem_type, out) >= 0) {
        if (n) *n = (size_t)np;
        rc = 0;
    }
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

int nd_h5_read_f64(hid_t obj, const char *name, double *out)
{
    return read_numeric(obj, name, H5T_NATIVE_DOUBLE, out, 1, NULL);
}

int nd_h5_read_f64_array(hid_t obj, const char *name, double *out, size_t max, size_t *n)
{
    return read_numeric(obj, name, H5T_NATIVE_DOUBLE, out, max, n);
}

int nd_h5_read_i64(hid_t obj, const char *name, int64_t *out)
{
    return read_numeric(obj, name, H5T_NATIVE_INT64, out, 1, NULL);
}

int nd_h5_read_u64(hid_t obj, const char *name, uint64_t *out)
{
    return read_numeric(obj, name, H5T_NATIVE_UINT64, out, 1, NULL);
}

hid_t nd_h5_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    return fapl;
}

static void utc_tm(int64_t unix_s, struct tm *tm)
{
    time_t t = (time_t)unix_s;
    if (!gmtime_r(&t, tm)) memset(tm, 0, sizeof *tm);
}

void nd_utc_iso(int64_t unix_s, char *out, size_t outlen)
{
    struct tm tm;
    utc_tm(unix_s, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void nd_utc_compact(int64_t unix_s, char *out, size_t outlen)
{
    struct tm tm;
    utc_tm(unix_s, &tm);
    strftime(out, outlen, "%Y%m%dT%H%M%SZ", &tm);
}
