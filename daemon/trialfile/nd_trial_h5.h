/* HDF5 helpers shared by the trial writer, reader and recovery: the on-disk
 * row types of /reps and /events, attribute I/O, and turning the HDF5 error
 * stack into one readable line. Internal to the trial-file modules. */
#ifndef ND_TRIAL_H5_H
#define ND_TRIAL_H5_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_metrics.h"
#include "nd_trial_file.h"

/* One /reps row in memory (HDF5 converts to the packed file layout by name). */
typedef struct nd_h5_rep_row {
    uint32_t index;
    uint64_t i_open, i_end;
    double t_open_s, t_end_s;
    double peak_left_N, peak_right_N;
    uint64_t i_peak_left, i_peak_right;
    double t_peak_left_s, t_peak_right_s;
    double asymmetry_pct, abs_asymmetry_pct;
    uint8_t weaker_side; /* enum none=0 left=1 right=2 (nd_side) */
    double lsi_pct;
    double torque_left_Nm, torque_right_Nm;
    double rel_force_left_N_per_kg, rel_force_right_N_per_kg;
    double time_to_peak_left_s, time_to_peak_right_s;
    double rfd_left_N_per_s, rfd_right_N_per_s;
    double impulse_left_Ns, impulse_right_Ns;
} nd_h5_rep_row;

typedef struct nd_h5_event_row {
    double t_s;
    char kind[ND_TRIAL_EVENT_KIND_MAX + 1];
    char detail[ND_TRIAL_EVENT_DETAIL_MAX + 1];
} nd_h5_event_row;

void nd_h5_rep_to_row(const nd_rep_result *r, nd_h5_rep_row *row);
void nd_h5_row_to_rep(const nd_h5_rep_row *row, nd_rep_result *r);

/* Memory types (native struct layout) and packed file types. Caller closes. */
hid_t nd_h5_rep_mem_type(void);
hid_t nd_h5_event_mem_type(void);
hid_t nd_h5_side_enum_type(void);
/* /clock rows: nd_trial_clock_row, "reason" an enum (nd_clock_reason). */
hid_t nd_h5_clock_mem_type(void);
hid_t nd_h5_packed(hid_t mem_type);

/* Turns off HDF5's automatic error printing for the calling thread (we
 * report errors ourselves). */
void nd_h5_quiet(void);
/* "<what>: <reason>" from the current HDF5 error stack (the system error
 * text when there is one, e.g. "No space left on device"). */
void nd_h5_error(char *err, size_t errlen, const char *what);

/* Copies at most max bytes of src into dst (size max+1), never splitting a
 * UTF-8 character; always NUL-terminates. */
void nd_utf8_copy(char *dst, const char *src, size_t max);

/* Attribute writers: create (or overwrite when it exists) on object obj. */
int nd_h5_attr_str(hid_t obj, const char *name, const char *value);
int nd_h5_attr_str_array(hid_t obj, const char *name, const char *const *values, size_t n);
int nd_h5_attr_f64(hid_t obj, const char *name, double value);
int nd_h5_attr_f64_array(hid_t obj, const char *name, const double *values, size_t n);
int nd_h5_attr_i32(hid_t obj, const char *name, int32_t value);
int nd_h5_attr_u64(hid_t obj, const char *name, uint64_t value);
int nd_h5_attr_i64(hid_t obj, const char *name, int64_t value);
int nd_h5_attr_bool(hid_t obj, const char *name, bool value); /* uint8 0/1 */

/* Attribute readers: 0 ok, -1 missing or wrong kind. */
int nd_h5_read_str(hid_t obj, const char *name, char *out, size_t outlen);
int nd_h5_read_str_array(hid_t obj, const char *name, char (*out)[32], size_t max, size_t *n);
int nd_h5_read_f64(hid_t obj, const char *name, double *out);
int nd_h5_read_f64_array(hid_t obj, const char *name, double *out, size_t max, size_t *n);
int nd_h5_read_i64(hid_t obj, const char *name, int64_t *out);
int nd_h5_read_u64(hid_t obj, const char *name, uint64_t *out);

/* File access list: latest format (needed for SWMR). Caller closes. */
hid_t nd_h5_fapl(void);

/* ISO 8601 UTC "2024-05-01T12:34:56Z" and the compact file-name form
 * "20240501T123456Z". */
void nd_utc_iso(int64_t unix_s, char *out, size_t outlen);
void nd_utc_compact(int64_t unix_s, char *out, size_t outlen);

#endif
