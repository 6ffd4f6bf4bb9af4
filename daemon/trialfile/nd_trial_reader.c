/* Trial file reader (see nd_trial_reader.h). */
#include "nd_trial_reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nd_trial_h5.h"
#include "nd_trial_layout.h"
#include "nd_trial_sets.h"

enum { D_RAW, D_FORCE, D_SEQ, D_REPS, D_EVENTS, D_COUNT };
static const char *const dataset_names[D_COUNT] = {"/samples/raw", "/samples/force_N",
                                                   "/samples/seq", "/reps", "/events"};

struct nd_trial_reader {
    hid_t file;
    hid_t d[D_COUNT];
    hid_t d_clock; /* -1 in files before schema minor 1 */
    hid_t d_sets;  /* -1 in 1.0 files */
    nd_trial_info info;
    char path[4096];
};

static uint64_t rows_of(hid_t d, bool swmr)
{
    if (swmr) H5Drefresh(d); /* see what the writer flushed since */
    hid_t s = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    if (s >= 0) {
        H5Sget_simple_extent_dims(s, dims, NULL);
        H5Sclose(s);
    }
    return dims[0];
}

int nd_trial_reader_refresh(nd_trial_reader *r, char *err, size_t errlen)
{
    uint64_t n = UINT64_MAX;
    for (int i = D_RAW; i <= D_SEQ; i++) {
        uint64_t k = rows_of(r->d[i], r->info.swmr);
        if (k < n) n = k;
    }
    r->info.samples = n;
    r->info.reps = rows_of(r->d[D_REPS], r->info.swmr);
    r->info.events = rows_of(r->d[D_EVENTS], r->info.swmr);
    r->info.clock_rows = r->d_clock >= 0 ? rows_of(r->d_clock, r->info.swmr) : 0;
    r->info.sets = r->d_sets >= 0 ? rows_of(r->d_sets, r->info.swmr) : 0;
    H5Eclear2(H5E_DEFAULT);
    (void)err;
    (void)errlen;
    return 0;
}

void nd_trial_reader_close(nd_trial_reader *r)
{
    if (!r) return;
    for (int i = 0; i < D_COUNT; i++)
        if (r->d[i] >= 0) H5Dclose(r->d[i]);
    if (r->d_clock >= 0) H5Dclose(r->d_clock);
    if (r->d_sets >= 0) H5Dclose(r->d_sets);
    if (r->file >= 0) H5Fclose(r->file);
    H5Eclear2(H5E_DEFAULT);
    free(r);
}

static int check_schema(nd_trial_reader *r, char *err, size_t errlen)
{
    char schema[64] = "";
    if (nd_h5_read_str(r->file, "schema", schema, sizeof schema) < 0) {
        snprintf(err, errlen, "%s: not a %s file (no 'schema' attribute)", r->path,
                 ND_TRIAL_SCHEMA);
        return -1;
    }
    if (strcmp(schema, ND_TRIAL_SCHEMA) != 0) {
        snprintf(err, errlen, "%s: schema '%s' is not '%s'", r->path, schema, ND_TRIAL_SCHEMA);
        return -1;
    }
    int64_t v = 0;
    if (nd_h5_read_i64(r->file, "schema_version", &v) < 0 || v < 1) {
        snprintf(err, errlen, "%s: missing or invalid schema_version", r->path);
        return -1;
    }
    if (v > ND_TRIAL_SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "%s: schema_version %lld is newer than this software reads (%d); "
                 "update nordicd's tools",
                 r->path, (long long)v, ND_TRIAL_SCHEMA_VERSION);
        return -1;
    }
    r->info.schema_version = (int)v;
    int64_t minor = 0; /* absent in files written before the first addition */
    nd_h5_read_i64(r->file, "schema_minor_version", &minor);
    H5Eclear2(H5E_DEFAULT);
    r->info.schema_minor = (int)minor;
    return 0;
}

static nd_trial_reader *open_reader(const char *path, bool lock, char *err, size_t errlen)
{
    nd_h5_quiet();
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (H5Fis_hdf5(path) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        snprintf(err, errlen, "%s: not an HDF5 file", path);
        return NULL;
    }
    nd_trial_reader *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < D_COUNT; i++) r->d[i] = -1;
    r->d_clock = -1;
    r->d_sets = -1;
    snprintf(r->path, sizeof r->path, "%s", path);
    hid_t fapl = H5P_DEFAULT;
    if (!lock && (fapl = H5Pcreate(H5P_FILE_ACCESS)) >= 0) H5Pset_file_locking(fapl, 0, 1);
    r->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (r->file < 0) {
        /* Still marked open for writing: live, or crashed and not recovered. */
        H5Eclear2(H5E_DEFAULT);
        r->file = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
        r->info.swmr = true;
    }
    if (fapl != H5P_DEFAULT && fapl >= 0) H5Pclose(fapl);
    if (r->file < 0) {
        char what[4160];
        snprintf(what, sizeof what, "%s: cannot open", path);
        nd_h5_error(err, errlen, what);
        nd_trial_reader_close(r);
        return NULL;
    }
    if (check_schema(r, err, errlen) < 0) {
        nd_trial_reader_close(r);
        return NULL;
    }
    char why[256];
    nd_trial_meta_init(&r->info.meta, 2);
    if (nd_trial_read_root_attrs(r->file, &r->info.meta, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        nd_trial_reader_close(r);
        return NULL;
    }
    for (int i = 0; i < D_COUNT; i++) {
        r->d[i] = H5Dopen2(r->file, dataset_names[i], H5P_DEFAULT);
        if (r->d[i] < 0) {
            snprintf(err, errlen, "%s: dataset %s is missing", path, dataset_names[i]);
            nd_trial_reader_close(r);
            return NULL;
        }
    }
    if (H5Lexists(r->file, "/clock", H5P_DEFAULT) > 0)
        r->d_clock = H5Dopen2(r->file, "/clock", H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    r->info.has_clock = r->d_clock >= 0;
    nd_trial_info *in = &r->info;
    if (nd_trial_sets_read_plan(r->file, &in->meta.plan) == 0)
        r->d_sets = H5Dopen2(r->file, "/sets", H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    nd_h5_read_str(r->file, "status", in->status, sizeof in->status);
    nd_h5_read_str(r->file, "created_utc", in->created_utc, sizeof in->created_utc);
    nd_h5_read_str(r->file, "closed_utc", in->closed_utc, sizeof in->closed_utc);
    nd_h5_read_str(r->file, "recovered_utc", in->recovered_utc, sizeof in->recovered_utc);
    nd_h5_read_f64(r->file, "flush_interval_s", &in->flush_interval_s);
    in->has_summary = nd_trial_read_summary_attrs(r->d[D_REPS], &in->summary) == 1;
    H5Eclear2(H5E_DEFAULT);
    nd_trial_reader_refresh(r, err, errlen);
    return r;
}

nd_trial_reader *nd_trial_reader_open(const char *path, char *err, size_t errlen)
{
    return open_reader(path, true, err, errlen);
}

nd_trial_reader *nd_trial_reader_open_unlocked(const char *path, char *err, size_t errlen)
{
    return open_reader(path, false, err, errlen);
}

const nd_trial_info *nd_trial_reader_info(const nd_trial_reader *r)
{
    return &r->info;
}

static int read_rows(hid_t d, int rank, uint64_t first, size_t n, hsize_t cols, hid_t mem_type,
                     void *out)
{
    hsize_t start[2] = {first, 0}, count[2] = {n, cols};
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(rank, count, NULL);
    int rc = -1;
    if (fs >= 0 && ms >= 0 &&
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
        H5Dread(d, mem_type, ms, fs, H5P_DEFAULT, out) >= 0)
        rc = 0;
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return rc;
}

int nd_trial_reader_read_samples(nd_trial_reader *r, uint64_t first, size_t n, int32_t *raw,
                                 double *force_N, uint64_t *seq, char *err, size_t errlen)
{
    if (first > r->info.samples || n > r->info.samples - first) {
        snprintf(err, errlen, "rows %llu..%llu outside the %llu stored sample sets",
                 (unsigned long long)first, (unsigned long long)(first + n),
                 (unsigned long long)r->info.samples);
        return -1;
    }
    if (n == 0) return 0;
    hsize_t nch = (hsize_t)r->info.meta.nch;
    if ((raw && read_rows(r->d[D_RAW], 2, first, n, nch, H5T_NATIVE_INT32, raw) < 0) ||
        (force_N && read_rows(r->d[D_FORCE], 2, first, n, nch, H5T_NATIVE_DOUBLE, force_N) < 0) ||
        (seq && read_rows(r->d[D_SEQ], 1, first, n, 1, H5T_NATIVE_UINT64, seq) < 0)) {
        nd_h5_error(err, errlen, "reading samples");
        return -1;
    }
    return 0;
}

long nd_trial_reader_read_reps(nd_trial_reader *r, nd_rep_result *out, size_t max, char *err,
                               size_t errlen)
{
    size_t n = r->info.reps < max ? (size_t)r->info.reps : max;
    if (n == 0) return 0;
    nd_h5_rep_row *rows = calloc(n, sizeof *rows);
    hid_t t = nd_h5_rep_mem_type();
    long rc = -1;
    if (rows && read_rows(r->d[D_REPS], 1, 0, n, 1, t, rows) == 0) {
        for (size_t i = 0; i < n; i++) nd_h5_row_to_rep(&rows[i], &out[i]);
        rc = (long)n;
    } else {
        nd_h5_error(err, errlen, "reading /reps");
    }
    H5Tclose(t);
    free(rows);
    return rc;
}

long nd_trial_reader_read_events(nd_trial_reader *r, nd_trial_event *out, size_t max, char *err,
                                 size_t errlen)
{
    size_t n = r->info.events < max ? (size_t)r->info.events : max;
    if (n == 0) return 0;
    nd_h5_event_row *rows = calloc(n, sizeof *rows);
    hid_t t = nd_h5_event_mem_type();
    long rc = -1;
    if (rows && read_rows(r->d[D_EVENTS], 1, 0, n, 1, t, rows) == 0) {
        for (size_t i = 0; i < n; i++) {
            out[i].t_s = rows[i].t_s;
            memcpy(out[i].kind, rows[i].kind, sizeof out[i].kind);
            memcpy(out[i].detail, rows[i].detail, sizeof out[i].detail);
            out[i].kind[sizeof out[i].kind - 1] = '\0';
            out[i].detail[sizeof out[i].detail - 1] = '\0';
        }
        rc = (long)n;
    } else {
        nd_h5_error(err, errlen, "reading /events");
    }
    H5Tclose(t);
    free(rows);
    return rc;
}

int nd_trial_reader_read_clock(nd_trial_reader *r, uint64_t first, size_t n,
                               nd_trial_clock_row *out, char *err, size_t errlen)
{
    if (first > r->info.clock_rows || n > r->info.clock_rows - first) {
        snprintf(err, errlen, "clock rows %llu..%llu outside the %llu stored",
                 (unsigned long long)first, (unsigned long long)(first + n),
                 (unsigned long long)r->info.clock_rows);
        return -1;
    }
    if (n == 0) return 0;
    hid_t t = nd_h5_clock_mem_type();
    int rc = read_rows(r->d_clock, 1, first, n, 1, t, out);
    H5Tclose(t);
    if (rc < 0) nd_h5_error(err, errlen, "reading /clock");
    return rc;
}

long nd_trial_reader_read_sets(nd_trial_reader *r, nd_set_result *out, size_t max, char *err,
                               size_t errlen)
{
    size_t n = r->info.sets < max ? (size_t)r->info.sets : max;
    if (n == 0) return 0;
    nd_h5_set_row *rows = calloc(n, sizeof *rows);
    hid_t t = nd_h5_set_mem_type();
    long rc = -1;
    if (rows && read_rows(r->d_sets, 1, 0, n, 1, t, rows) == 0) {
        for (size_t i = 0; i < n; i++) nd_h5_row_to_set(&rows[i], &out[i]);
        rc = (long)n;
    } else {
        nd_h5_error(err, errlen, "reading /sets");
    }
    H5Tclose(t);
    free(rows);
    return rc;
}
