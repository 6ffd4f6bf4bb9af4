/* Trial index: open, schema, (re)indexing files, sync, rebuild (nd_index.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "nd_index_internal.h"
#include "nd_index_schema.h"
#include "nd_trial_h5.h"
#include "nd_trial_reader.h"

#define BUSY_TIMEOUT_MS 5000

void nd_index_iso_utc(long long t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(out, outlen, "1970-01-01T00:00:00Z");
        return;
    }
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int nd_index_exec(nd_index *ix, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(ix->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "index database: %s", msg ? msg : sqlite3_errmsg(ix->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int nd_index_wants_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 3 && strcmp(name + n - 3, ".h5") == 0;
}

const char *nd_index_data_dir(const nd_index *ix)
{
    return ix->data_dir;
}
int nd_index_last_changes(const nd_index *ix)
{
    return ix->last_changes;
}
const char *nd_index_last_error(const nd_index *ix)
{
    return ix->last_error;
}
void *nd_index_db(nd_index *ix)
{
    return ix->db;
}

static int user_version(nd_index *ix)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(ix->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int create_schema(nd_index *ix, char *err, size_t errlen)
{
    int v = user_version(ix);
    if (v < 0) {
        snprintf(err, errlen, "index database: %s", sqlite3_errmsg(ix->db));
        return -1;
    }
    if (v != 0 && v != ND_INDEX_SCHEMA_VERSION) {
        /* Derived tables of another layout: drop them, the next sync
         * rebuilds them from the files. The athlete registry is kept. */
        if (nd_index_exec(ix,
                          "DROP TABLE IF EXISTS reps; DROP TABLE IF EXISTS events;"
                          "DROP TABLE IF EXISTS trials;",
                          err, errlen))
            return -1;
    }
    if (nd_index_exec(ix, "BEGIN IMMEDIATE", err, errlen)) return -1;
    if (nd_index_exec(ix, nd_index_schema_sql, err, errlen)) {
        nd_index_exec(ix, "ROLLBACK", err + strlen(err), 0);
        return -1;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", ND_INDEX_SCHEMA_VERSION);
    if (nd_index_exec(ix, sql, err, errlen) || nd_index_exec(ix, "COMMIT", err, errlen)) {
        nd_index_exec(ix, "ROLLBACK", err + strlen(err), 0);
        return -1;
    }
    return 0;
}

nd_index *nd_index_open(const char *db_path, const char *data_dir, char *err, size_t errlen)
{
    if (!db_path || !*db_path || !data_dir || !*data_dir) {
        snprintf(err, errlen, "index: database path and data directory are required");
        return NULL;
    }
    nd_index *ix = calloc(1, sizeof *ix);
    if (!ix) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ix->inotify_fd = -1;
    ix->watch_wd = -1;
    if (!realpath(data_dir, ix->data_dir)) {
        /* Not there yet (nordicd creates it at its first start): kept as an
         * absolute path; sync finds nothing and the watcher waits for it. */
        char cwd[PATH_MAX] = "";
        if (errno != ENOENT || (data_dir[0] != '/' && !getcwd(cwd, sizeof cwd))) {
            snprintf(err, errlen, "index: data directory %s: %s", data_dir, strerror(errno));
            free(ix);
            return NULL;
        }
        snprintf(ix->data_dir, sizeof ix->data_dir, "%s%s%s", cwd, cwd[0] ? "/" : "", data_dir);
    }
    int rc = sqlite3_open_v2(
        db_path, &ix->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "index database %s: %s", db_path,
                 ix->db ? sqlite3_errmsg(ix->db) : sqlite3_errstr(rc));
        sqlite3_close(ix->db);
        free(ix);
        return NULL;
    }
    sqlite3_busy_timeout(ix->db, BUSY_TIMEOUT_MS);
    if (nd_index_exec(ix,
                      "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;"
                      "PRAGMA synchronous = NORMAL;",
                      err, errlen) ||
        create_schema(ix, err, errlen)) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", err);
        snprintf(err, errlen, "%s (%s)", tmp, db_path);
        sqlite3_close(ix->db);
        free(ix);
        return NULL;
    }
    return ix;
}

void nd_index_close(nd_index *ix)
{
    if (!ix) return;
    if (ix->inotify_fd >= 0) close(ix->inotify_fd);
    sqlite3_close(ix->db);
    free(ix);
}

/* ---- reading one file -------------------------------------------------- */

/* Parameter binding in column order. */
typedef struct binder {
    sqlite3_stmt *st;
    int i;
} binder;

static void b_text(binder *b, const char *s)
{
    b->i++;
    if (s)
        sqlite3_bind_text(b->st, b->i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(b->st, b->i);
}
static void b_int(binder *b, long long v)
{
    sqlite3_bind_int64(b->st, ++b->i, v);
}
static void b_u64(binder *b, uint64_t v)
{
    sqlite3_bind_int64(b->st, ++b->i, (sqlite3_int64)v);
}
static void b_dbl(binder *b, double v) /* NaN and infinities -> NULL */
{
    b->i++;
    if (isfinite(v))
        sqlite3_bind_double(b->st, b->i, v);
    else
        sqlite3_bind_null(b->st, b->i);
}
static void b_null(binder *b, int n)
{
    for (int k = 0; k < n; k++) sqlite3_bind_null(b->st, ++b->i);
}
/* The text is bound transient, so the JSON is freed at once. */
static void b_json(binder *b, cJSON *j)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    b_text(b, s);
    free(s);
    cJSON_Delete(j);
}

cJSON *nd_index_json_number(double v)
{
    if (!isfinite(v)) return cJSON_CreateNull();
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return cJSON_CreateRaw(buf);
}

static cJSON *doubles_json(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, nd_index_json_number(v[i]));
    return a;
}

/* What a file that is not a readable trial is: "foreign" (not HDF5, another
 * schema, a newer schema_version) or "damaged" (an HDF5 or trial file that
 * cannot be opened or read, empty, truncated). */
static const char *classify_unreadable(const char *path, off_t size)
{
    if (size == 0) return "damaged";
    htri_t is = H5Fis_hdf5(path);
    H5Eclear2(H5E_DEFAULT);
    if (is <= 0) {
        /* No superblock found: a cut-off HDF5 file still starts with the
         * signature; anything else is not ours. */
        static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
        unsigned char head[8] = {0};
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t got = fd >= 0 ? read(fd, head, sizeof head) : -1;
        if (fd >= 0) close(fd);
        return got == (ssize_t)sizeof head && memcmp(head, sig, sizeof sig) == 0 ? "damaged"
                                                                                 : "foreign";
    }
    /* Without HDF5's file lock, like the reader (never block nordicd). */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_file_locking(fapl, 0, 1);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    if (f < 0) {
        H5Eclear2(H5E_DEFAULT);
        f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl >= 0 ? fapl : H5P_DEFAULT);
    }
    if (fapl >= 0) H5Pclose(fapl);
    if (f < 0) {
        H5Eclear2(H5E_DEFAULT);
        return "damaged";
    }
    const char *kind = "damaged";
    char schema[64] = "";
    int64_t version = 0;
    if (nd_h5_read_str(f, "schema", schema, sizeof schema) < 0 ||
        strcmp(schema, ND_TRIAL_SCHEMA) != 0)
        kind = "foreign";
    else if (nd_h5_read_i64(f, "schema_version", &version) == 0 &&
             version > ND_TRIAL_SCHEMA_VERSION)
        kind = "foreign";
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return kind;
}

/* The reader's messages start with the full path; the index keeps them
 * relative so they do not depend on where the data directory is mounted. */
static const char *strip_path(const char *msg, const char *full)
{
    size_t n = strlen(full);
    if (strncmp(msg, full, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') return msg + n + 2;
    return msg;
}

/* trial_id and athlete_id from "<athlete>_<yyyymmddThhmmssZ>_<trial>.h5",
 * for files whose attributes cannot be read; the whole stem otherwise. */
static void ids_from_name(const char *name, char *trial_id, size_t tlen, char *athlete, size_t alen,
                          long long *created)
{
    *created = LLONG_MIN;
    char stem[NAME_MAX + 1];
    snprintf(stem, sizeof stem, "%s", name);
    size_t n = strlen(stem);
    if (n > 3) stem[n - 3] = '\0';
    char *last = strrchr(stem, '_');
    char *first = strchr(stem, '_');
    if (last && first && last != first && strlen(last + 1) > 0 && last - first == 17) {
        snprintf(trial_id, tlen, "%s", last + 1);
        struct tm tm = {0};
        char z = 0;
        if (sscanf(first + 1, "%4d%2d%2dT%2d%2d%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) == 7 &&
            z == 'Z') {
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            *created = (long long)timegm(&tm);
        }
        *first = '\0';
        snprintf(athlete, alen, "%s", stem);
    } else {
        snprintf(trial_id, tlen, "%s", stem);
        athlete[0] = '\0';
    }
}

typedef struct trial_data {
    nd_trial_reader *r;
    const nd_trial_info *in;
    nd_rep_result *reps;
    long nreps;
    nd_trial_event *events;
    long nevents;
    nd_side *rep_leg;      /* per rep: the working leg of its set (NONE: both legs) */
    nd_set_test *rep_test; /* per rep: its set's test (Nordic rep or isometric hold) */
} trial_data;

static void trial_data_free(trial_data *d)
{
    nd_trial_reader_close(d->r);
    free(d->reps);
    free(d->events);
    free(d->rep_leg);
    free(d->rep_test);
}

/* Each rep's working leg and test: those of the /sets row whose reps span
 * it (a rep belongs to one set: i_start is its first rep's i_open, i_end
 * its last rep's i_end); a rep in no row (a set not final yet) gets the
 * plan's, the ones in force at the start. */
static int assign_rep_legs(trial_data *d, char *err, size_t errlen)
{
    d->rep_leg = calloc(d->nreps ? (size_t)d->nreps : 1, sizeof *d->rep_leg);
    d->rep_test = calloc(d->nreps ? (size_t)d->nreps : 1, sizeof *d->rep_test);
    nd_set_result *sets = calloc(d->in->sets ? d->in->sets : 1, sizeof *sets);
    if (!d->rep_leg || !d->rep_test || !sets) {
        free(sets);
        snprintf(err, errlen, "out of memory for %llu sets", (unsigned long long)d->in->sets);
        return -1;
    }
    long nsets = d->in->sets ? nd_trial_reader_read_sets(d->r, sets, d->in->sets, err, errlen) : 0;
    if (nsets < 0) {
        free(sets);
        return -1;
    }
    for (long i = 0; i < d->nreps; i++) {
        d->rep_leg[i] = d->in->meta.plan.leg;
        d->rep_test[i] = d->in->meta.plan.test;
        for (long k = 0; k < nsets; k++)
            if (sets[k].reps_done > 0 && sets[k].i_start <= d->reps[i].i_open &&
                d->reps[i].i_end <= sets[k].i_end) {
                d->rep_leg[i] = sets[k].leg;
                d->rep_test[i] = sets[k].test;
                break;
            }
    }
    free(sets);
    return 0;
}

/* Opens and reads everything the index keeps. On failure fills status and
 * why (damaged or foreign) and returns -1. */
static int read_trial(const char *full, off_t size, trial_data *d, const char **status, char *why,
                      size_t whylen)
{
    memset(d, 0, sizeof *d);
    char err[4400];
    d->r = nd_trial_reader_open_unlocked(full, err, sizeof err);
    if (!d->r) {
        *status = classify_unreadable(full, size);
        snprintf(why, whylen, "%s", strip_path(err, full));
        return -1;
    }
    d->in = nd_trial_reader_info(d->r);
    d->reps = calloc(d->in->reps ? d->in->reps : 1, sizeof *d->reps);
    d->events = calloc(d->in->events ? d->in->events : 1, sizeof *d->events);
    if (!d->reps || !d->events) {
        *status = "damaged";
        snprintf(why, whylen, "out of memory for %llu reps and %llu events",
                 (unsigned long long)d->in->reps, (unsigned long long)d->in->events);
        trial_data_free(d);
        return -1;
    }
    d->nreps =
        d->in->reps ? nd_trial_reader_read_reps(d->r, d->reps, d->in->reps, err, sizeof err) : 0;
    d->nevents = d->nreps >= 0 && d->in->events
                     ? nd_trial_reader_read_events(d->r, d->events, d->in->events, err, sizeof err)
                     : 0;
    if (d->nreps < 0 || d->nevents < 0 || assign_rep_legs(d, err, sizeof err) != 0) {
        *status = "damaged";
        snprintf(why, whylen, "%s", strip_path(err, full));
        trial_data_free(d);
        return -1;
    }
    *status = d->in->status;
    return 0;
}

static void bind_trial(binder *b, const char *name, const struct stat *st, const trial_data *d)
{
    const nd_trial_info *in = d->in;
    const nd_trial_meta *m = &in->meta;
    b_text(b, name);
    b_text(b, m->trial_id);
    b_text(b, m->athlete_id);
    b_text(b, in->status);
    b_text(b, NULL);
    b_int(b, (long long)st->st_size);
    b_int(b, (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec);
    b_int(b, in->schema_version);
    b_text(b, in->created_utc);
    b_int(b, m->created_utc_s);
    b_text(b, in->closed_utc[0] ? in->closed_utc : NULL);
    b_text(b, in->recovered_utc[0] ? in->recovered_utc : NULL);
    b_text(b, m->software_version);
    b_text(b, m->device.model);
    b_text(b, m->device.serial);
    b_text(b, m->device.fw);
    b_json(b, doubles_json(m->device.counts_per_newton, m->nch));
    b_dbl(b, m->sample_rate_hz);
    b_int(b, m->nch);
    cJSON *names = cJSON_CreateArray();
    for (int ch = 0; names && ch < m->nch; ch++)
        cJSON_AddItemToArray(names, cJSON_CreateString(m->channel_names[ch]));
    b_json(b, names);
    b_int(b, m->calibration.left_channel);
    b_int(b, m->calibration.right_channel);
    b_json(b, doubles_json(m->calibration.offset, m->nch));
    b_json(b, doubles_json(m->calibration.gain, m->nch));
    b_text(b, m->calibration.device_serial);
    b_dbl(b, m->subject.body_mass_kg);
    b_dbl(b, m->subject.lever_m);
    b_text(b, nd_side_name(m->subject.injured_side));
    const nd_metric_settings *s = &m->settings;
    b_dbl(b, s->cutoff_hz);
    b_dbl(b, s->on_N);
    b_dbl(b, s->off_N);
    b_dbl(b, s->hold_s);
    b_dbl(b, s->min_rep_s);
    b_dbl(b, s->impulse_threshold_N);
    b_dbl(b, s->weak_threshold_N);
    b_dbl(b, s->imbalance_pct);
    b_dbl(b, s->tare_window_s);
    b_dbl(b, in->flush_interval_s);
    b_text(b, m->protocol);
    b_text(b, m->notes);
    b_u64(b, in->samples);
    b_int(b, d->nreps);
    b_int(b, d->nevents);
    b_int(b, in->has_summary);
    if (!in->has_summary) {
        b_null(b, 21);
        return;
    }
    const nd_trial_summary *y = &in->summary;
    b_u64(b, y->reps);
    b_u64(b, y->discarded_reps);
    b_dbl(b, y->max_N[0]);
    b_dbl(b, y->max_N[1]);
    b_dbl(b, y->mean_N[0]);
    b_dbl(b, y->mean_N[1]);
    b_dbl(b, y->asymmetry_pct);
    b_dbl(b, y->abs_asymmetry_pct);
    b_text(b, nd_side_name(y->weaker_side));
    b_dbl(b, y->lsi_pct);
    b_dbl(b, y->torque_max_Nm[0]);
    b_dbl(b, y->torque_max_Nm[1]);
    b_dbl(b, y->rel_force_max_N_per_kg[0]);
    b_dbl(b, y->rel_force_max_N_per_kg[1]);
    b_int(b, y->weak_left);
    b_int(b, y->weak_right);
    b_int(b, y->imbalance);
    b_int(b, y->pain);
    b_int(b, y->pain_rating);
    b_u64(b, y->samples);
    b_u64(b, y->nonfinite_skipped);
}

static void bind_unreadable(binder *b, const char *name, const struct stat *st, const char *status,
                            const char *why)
{
    char trial_id[NAME_MAX + 1], athlete[NAME_MAX + 1], created_utc[32];
    long long created;
    ids_from_name(name, trial_id, sizeof trial_id, athlete, sizeof athlete, &created);
    /* The list is ordered by creation time: the name's timestamp, else the
     * file's modification time. */
    if (created == LLONG_MIN) created = (long long)st->st_mtim.tv_sec;
    nd_index_iso_utc(created, created_utc, sizeof created_utc);
    b_text(b, name);
    b_text(b, trial_id);
    b_text(b, athlete[0] ? athlete : NULL);
    b_text(b, status);
    b_text(b, why);
    b_int(b, (long long)st->st_size);
    b_int(b, (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec);
    b_null(b, 1); /* schema_version */
    b_text(b, created_utc);
    b_int(b, created);
    b_null(b, 33); /* closed_utc .. event_count */
    b_int(b, 0);   /* has_summary */
    b_null(b, 21);
}

static int bind_rep(binder *b, const nd_rep_result *r)
{
    b_int(b, r->index);
    b_u64(b, r->i_open);
    b_u64(b, r->i_end);
    b_dbl(b, r->t_open_s);
    b_dbl(b, r->t_end_s);
    b_dbl(b, r->peak_N[0]);
    b_dbl(b, r->peak_N[1]);
    b_u64(b, r->i_peak[0]);
    b_u64(b, r->i_peak[1]);
    b_dbl(b, r->t_peak_s[0]);
    b_dbl(b, r->t_peak_s[1]);
    b_dbl(b, r->asymmetry_pct);
    b_dbl(b, r->abs_asymmetry_pct);
    b_text(b, nd_side_name(r->weaker_side));
    b_dbl(b, r->lsi_pct);
    b_dbl(b, r->torque_Nm[0]);
    b_dbl(b, r->torque_Nm[1]);
    b_dbl(b, r->rel_force_N_per_kg[0]);
    b_dbl(b, r->rel_force_N_per_kg[1]);
    b_dbl(b, r->time_to_peak_s[0]);
    b_dbl(b, r->time_to_peak_s[1]);
    b_dbl(b, r->rfd_N_per_s[0]);
    b_dbl(b, r->rfd_N_per_s[1]);
    b_dbl(b, r->impulse_Ns[0]);
    b_dbl(b, r->impulse_Ns[1]);
    return b->i;
}

static int step_done(nd_index *ix, sqlite3_stmt *st, char *err, size_t errlen)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "index database: %s", sqlite3_errmsg(ix->db));
        return -1;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return 0;
}

static int prepare(nd_index *ix, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(ix->db, sql, -1, st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "index database: %s", sqlite3_errmsg(ix->db));
        return -1;
    }
    return 0;
}

int nd_index_remove_file(nd_index *ix, const char *name, char *err, size_t errlen)
{
    /* reps and events go with it (ON DELETE CASCADE). */
    sqlite3_stmt *st = NULL;
    if (prepare(ix, "DELETE FROM trials WHERE file_name = ?1", &st, err, errlen)) return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int rc = step_done(ix, st, err, errlen);
    sqlite3_finalize(st);
    return rc;
}

static int store_trial(nd_index *ix, const char *name, const struct stat *fst, const trial_data *d,
                       const char *status, const char *why, char *err, size_t errlen)
{
    sqlite3_stmt *ins = NULL, *rep = NULL, *ev = NULL;
    char sql[2048];
    char marks[ND_INDEX_TRIAL_NCOLS * 4 + 1] = "";
    for (int i = 1; i <= ND_INDEX_TRIAL_NCOLS; i++)
        snprintf(marks + strlen(marks), sizeof marks - strlen(marks), i > 1 ? ",?%d" : "?%d", i);
    snprintf(sql, sizeof sql, "INSERT INTO trials (" ND_INDEX_TRIAL_COLUMNS ") VALUES (%s)", marks);
    if (nd_index_exec(ix, "SAVEPOINT add_file", err, errlen)) return -1;
    int rc = nd_index_remove_file(ix, name, err, errlen);
    if (rc == 0) rc = prepare(ix, sql, &ins, err, errlen);
    if (rc == 0) {
        binder b = {ins, 0};
        if (d)
            bind_trial(&b, name, fst, d);
        else
            bind_unreadable(&b, name, fst, status, why);
        if (b.i != ND_INDEX_TRIAL_NCOLS) {
            snprintf(err, errlen, "index: %d trial columns bound, %d expected", b.i,
                     ND_INDEX_TRIAL_NCOLS);
            rc = -1;
        } else {
            rc = step_done(ix, ins, err, errlen);
        }
    }
    if (rc == 0 && d && d->nreps > 0) {
        rc = prepare(ix,
                     "INSERT INTO reps (file_name, row, " ND_INDEX_REP_COLUMNS
                     ", leg, test) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,"
                     "?17,?18,?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29)",
                     &rep, err, errlen);
        for (long i = 0; rc == 0 && i < d->nreps; i++) {
            binder b = {rep, 0};
            b_text(&b, name);
            b_int(&b, i);
            bind_rep(&b, &d->reps[i]);
            b_text(&b, d->rep_leg[i] == ND_SIDE_NONE ? "both" : nd_side_name(d->rep_leg[i]));
            b_text(&b, nd_set_test_name(d->rep_test[i]));
            rc = step_done(ix, rep, err, errlen);
        }
    }
    if (rc == 0 && d && d->nevents > 0) {
        rc = prepare(ix,
                     "INSERT INTO events (file_name, row, t_s, kind, detail) "
                     "VALUES (?1,?2,?3,?4,?5)",
                     &ev, err, errlen);
        for (long i = 0; rc == 0 && i < d->nevents; i++) {
            binder b = {ev, 0};
            b_text(&b, name);
            b_int(&b, i);
            b_dbl(&b, d->events[i].t_s);
            b_text(&b, d->events[i].kind);
            b_text(&b, d->events[i].detail);
            rc = step_done(ix, ev, err, errlen);
        }
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(rep);
    sqlite3_finalize(ev);
    char ignore[8];
    if (rc)
        nd_index_exec(ix, "ROLLBACK TO add_file; RELEASE add_file", ignore, sizeof ignore);
    else
        rc = nd_index_exec(ix, "RELEASE add_file", err, errlen);
    return rc;
}

/* name: relative to data_dir, no directory part. */
static int index_name(nd_index *ix, const char *name, char *err, size_t errlen)
{
    char full[PATH_MAX + NAME_MAX + 2];
    snprintf(full, sizeof full, "%s/%s", ix->data_dir, name);
    struct stat st;
    if (stat(full, &st) < 0) {
        snprintf(err, errlen, "%s: %s", full, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", full);
        return -1;
    }
    trial_data d;
    const char *status = NULL;
    char why[4400] = "";
    if (read_trial(full, st.st_size, &d, &status, why, sizeof why) < 0)
        return store_trial(ix, name, &st, NULL, status, why, err, errlen);
    int rc = store_trial(ix, name, &st, &d, status, NULL, err, errlen);
    trial_data_free(&d);
    return rc;
}

int nd_index_add_file(nd_index *ix, const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (slash) {
        /* Only files directly in the data directory are indexed. */
        char dir[PATH_MAX], given[PATH_MAX];
        snprintf(given, sizeof given, "%.*s", (int)(slash - path), path);
        if (!realpath(given[0] ? given : "/", dir) || strcmp(dir, ix->data_dir) != 0) {
            snprintf(err, errlen, "%s: not in the indexed data directory %s", path, ix->data_dir);
            return -1;
        }
    }
    if (!nd_index_wants_name(name)) {
        snprintf(err, errlen, "%s: not a trial file name (*.h5, not hidden)", path);
        return -1;
    }
    return index_name(ix, name, err, errlen);
}

/* ---- whole directory ------------------------------------------------------ */

typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

static int names_push(name_list *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

/* Sorted names of the trial files in data_dir. */
static int list_dir(nd_index *ix, name_list *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    DIR *dir = opendir(ix->data_dir);
    if (!dir) {
        snprintf(err, errlen, "%s: %s", ix->data_dir, strerror(errno));
        return errno == ENOENT ? 1 : -1;
    }
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (!nd_index_wants_name(de->d_name)) continue;
        if (names_push(out, de->d_name)) {
            snprintf(err, errlen, "out of memory");
            closedir(dir);
            names_free(out);
            return -1;
        }
    }
    closedir(dir);
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_names);
    return 0;
}

int nd_index_sync(nd_index *ix, char *err, size_t errlen)
{
    name_list files;
    int listed = list_dir(ix, &files, err, errlen);
    if (listed == 1) {
        /* No data directory (yet, or not mounted): nothing to add, and the
         * rows stay rather than vanish with a missing mount. */
        ix->last_changes = 0;
        return 0;
    }
    if (listed) return -1;
    name_list known = {0};
    sqlite3_stmt *st = NULL;
    int rc =
        prepare(ix, "SELECT file_name, file_size, file_mtime_ns FROM trials", &st, err, errlen);
    int changed = 0;
    if (rc == 0 && nd_index_exec(ix, "BEGIN IMMEDIATE", err, errlen)) rc = -1;
    /* Rows of vanished files go; rows whose file changed are re-read below. */
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        char full[PATH_MAX + NAME_MAX + 2];
        snprintf(full, sizeof full, "%s/%s", ix->data_dir, name);
        struct stat fs;
        if (stat(full, &fs) == 0 && S_ISREG(fs.st_mode) &&
            fs.st_size == sqlite3_column_int64(st, 1) &&
            (long long)fs.st_mtim.tv_sec * 1000000000LL + fs.st_mtim.tv_nsec ==
                sqlite3_column_int64(st, 2)) {
            if (names_push(&known, name)) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
        }
    }
    sqlite3_finalize(st);
    if (rc == 0 && known.n) qsort(known.v, known.n, sizeof *known.v, cmp_names);
    if (rc == 0) {
        /* Vanished: in the table, not in the directory. */
        sqlite3_stmt *all = NULL;
        name_list gone = {0};
        rc = prepare(ix, "SELECT file_name FROM trials ORDER BY file_name", &all, err, errlen);
        while (rc == 0 && sqlite3_step(all) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(all, 0);
            if (!bsearch(&name, files.v, files.n, sizeof *files.v, cmp_names))
                rc = names_push(&gone, name);
        }
        sqlite3_finalize(all);
        for (size_t i = 0; rc == 0 && i < gone.n; i++, changed++)
            rc = nd_index_remove_file(ix, gone.v[i], err, errlen);
        names_free(&gone);
    }
    for (size_t i = 0; rc == 0 && i < files.n; i++) {
        if (known.n && bsearch(&files.v[i], known.v, known.n, sizeof *known.v, cmp_names)) continue;
        char ferr[512];
        if (index_name(ix, files.v[i], ferr, sizeof ferr) == 0)
            changed++;
        else if (access(ix->data_dir, F_OK) == 0 && strstr(ferr, "index database")) {
            snprintf(err, errlen, "%s", ferr);
            rc = -1;
        } /* else the file vanished while we looked: nothing to list */
    }
    if (rc == 0)
        rc = nd_index_exec(ix, "COMMIT", err, errlen);
    else {
        char ignore[8];
        nd_index_exec(ix, "ROLLBACK", ignore, sizeof ignore);
    }
    names_free(&files);
    names_free(&known);
    if (rc) return -1;
    ix->last_changes = changed;
    return 0;
}

int nd_index_rebuild(nd_index *ix, char *err, size_t errlen)
{
    if (nd_index_exec(ix,
                      "BEGIN IMMEDIATE; DELETE FROM events; DELETE FROM reps;"
                      "DELETE FROM trials; COMMIT",
                      err, errlen)) {
        char ignore[8];
        nd_index_exec(ix, "ROLLBACK", ignore, sizeof ignore);
        return -1;
    }
    return nd_index_sync(ix, err, errlen);
}
