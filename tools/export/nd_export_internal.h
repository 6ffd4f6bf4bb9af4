/* Shared by the export formats: an opened trial with its clock pairs, the
 * sample-time mapping every format uses, and all-or-nothing output files. */
#ifndef ND_EXPORT_INTERNAL_H
#define ND_EXPORT_INTERNAL_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "nd_export.h"
#include "nd_trial_reader.h"

#define ND_EXPORT_SLICE_ROWS 16384 /* sample sets read per slice */

typedef struct nd_export_trial {
    char path[PATH_MAX];
    char stem[256]; /* file name without directory and ".h5" */
    nd_trial_reader *r;
    const nd_trial_info *in;
    nd_trial_clock_row *clock; /* all pairs (4 per second: ~700 KB per hour) */
    size_t n_clock;
    nd_rep_result *reps;
    size_t n_reps;
    nd_trial_event *events;
    size_t n_events;
} nd_export_trial;

/* Opens and checks one trial: refuses foreign, damaged and still-recording
 * files with one line in err; prints one note line for interrupted and
 * pre-clock (schema 1.0) files. Returns 0 or -1. */
int nd_export_trial_open(nd_export_trial *t, const char *path, FILE *notes, char *err,
                         size_t errlen);
void nd_export_trial_close(nd_export_trial *t);

/* Sample times (TRIAL_FORMAT.md "Clock pairs", EXPORT.md "Sample times"):
 * host CLOCK_MONOTONIC seconds of row i, interpolated linearly between the
 * clock pairs around it (extrapolated at the nominal rate after the last
 * pair and before a pair that starts a new segment: gap, restart,
 * reconnect), and the host's REALTIME - MONOTONIC offset in force at row i
 * (that of the last pair at or before it). Without clock pairs (schema 1.0)
 * the monotonic time is i / fs and the offset created_unix_s. A cursor makes
 * a sequential pass O(1) per row. */
typedef struct nd_export_clock_cursor {
    const nd_export_trial *t;
    size_t k; /* pair at or before the current row */
} nd_export_clock_cursor;
void nd_export_cursor_init(nd_export_clock_cursor *c, const nd_export_trial *t);
double nd_export_mono_s(nd_export_clock_cursor *c, uint64_t row);
double nd_export_offset_s(nd_export_clock_cursor *c, uint64_t row);

/* An output file that appears under its final name only when complete. */
typedef struct nd_export_out {
    FILE *f;
    char final_path[PATH_MAX];
    char tmp_path[PATH_MAX + 32];
} nd_export_out;
int nd_export_out_open(nd_export_out *o, const char *dir, const char *name, char *err,
                       size_t errlen);
/* Flushes, fsyncs and renames into place; on any error removes the
 * temporary file. Returns 0 or -1. */
int nd_export_out_commit(nd_export_out *o, char *err, size_t errlen);
void nd_export_out_abort(nd_export_out *o);

/* Shortest text that reads back to the same double; NaN as `nan_text`. */
void nd_export_put_num(FILE *f, double v, const char *nan_text);
/* Exact but not shortest (one conversion instead of up to three): for the
 * millions of force values of the per-sample formats. */
void nd_export_put_exact(FILE *f, double v, const char *nan_text);
/* Text for XML element content / attribute values. */
void nd_export_put_xml(FILE *f, const char *s);
/* JSON string literal with quotes. */
void nd_export_put_json(FILE *f, const char *s);

int nd_export_xdf(nd_export_trial *t, const char *dir, FILE *written, char *err, size_t errlen);
int nd_export_csv(nd_export_trial *t, const char *dir, FILE *written, char *err, size_t errlen);
int nd_export_club(nd_export_trial *ts, size_t n, const char *dir, FILE *written, char *err,
                   size_t errlen);
int nd_export_bids(nd_export_trial *ts, size_t n, const char *dir, FILE *written, char *err,
                   size_t errlen);

#endif
