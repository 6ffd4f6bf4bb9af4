/* GET /api/v1/trials[...]: list, one trial, events, settings, trace, file. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nd_api_internal.h"
#include "nd_index_internal.h"
#include "nd_index_schema.h"
#include "nd_trial_reader.h"

/* Rows one trace response may carry (~40 MB of JSON at 8 channels). */
#define TRACE_MAX_ROWS   250000
#define TRACE_SLICE_ROWS 65536
#define ID_BUF           256 /* decoded path segment; longer ids are refused */

void api_add_col_num(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        cJSON_AddNullToObject(o, name);
    else
        cJSON_AddItemToObject(o, name, nd_index_json_number(sqlite3_column_double(st, col)));
}

void api_add_col_int(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        cJSON_AddNullToObject(o, name);
    else
        cJSON_AddNumberToObject(o, name, (double)sqlite3_column_int64(st, col));
}

void api_add_col_text(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (t)
        cJSON_AddStringToObject(o, name, (const char *)t);
    else
        cJSON_AddNullToObject(o, name);
}

static void add_col_bool(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
    cJSON_AddBoolToObject(o, name, sqlite3_column_int(st, col) != 0);
}

/* Columns of API_TRIAL_ITEM_SELECT, in order. */
enum {
    C_TRIAL_ID,
    C_ATHLETE_ID,
    C_FILE_NAME,
    C_STATUS,
    C_ERROR,
    C_CREATED_UTC,
    C_CLOSED_UTC,
    C_RECOVERED_UTC,
    C_RATE,
    C_NCH,
    C_SAMPLES,
    C_REP_COUNT,
    C_EVENT_COUNT,
    C_PROTOCOL,
    C_FILE_SIZE,
    C_MTIME_NS,
    C_HAS_SUMMARY,
    C_S_FIRST, /* s_reps .. s_nonfinite_skipped */
    C_CREATED_UNIX = C_S_FIRST + 21,
    C_ITEM_COUNT
};

cJSON *api_trial_item(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    api_add_col_text(o, "trial_id", st, C_TRIAL_ID);
    /* A hub's rows are station-qualified ("<station_id>:<trial_id>"). */
    const char *id = (const char *)sqlite3_column_text(st, C_TRIAL_ID);
    const char *colon = id ? strchr(id, ':') : NULL;
    if (colon) {
        char station[80];
        snprintf(station, sizeof station, "%.*s", (int)(colon - id), id);
        cJSON_AddStringToObject(o, "station_id", station);
    }
    api_add_col_text(o, "athlete_id", st, C_ATHLETE_ID);
    api_add_col_text(o, "file_name", st, C_FILE_NAME);
    api_add_col_text(o, "status", st, C_STATUS);
    api_add_col_text(o, "error", st, C_ERROR);
    api_add_col_text(o, "created_utc", st, C_CREATED_UTC);
    api_add_col_text(o, "closed_utc", st, C_CLOSED_UTC);
    api_add_col_text(o, "recovered_utc", st, C_RECOVERED_UTC);
    api_add_col_num(o, "sample_rate_hz", st, C_RATE);
    api_add_col_int(o, "nch", st, C_NCH);
    api_add_col_int(o, "samples", st, C_SAMPLES);
    api_add_col_int(o, "rep_count", st, C_REP_COUNT);
    api_add_col_int(o, "event_count", st, C_EVENT_COUNT);
    api_add_col_text(o, "protocol", st, C_PROTOCOL);
    api_add_col_int(o, "file_size", st, C_FILE_SIZE);
    char mtime[32];
    nd_index_iso_utc(sqlite3_column_int64(st, C_MTIME_NS) / 1000000000LL, mtime, sizeof mtime);
    cJSON_AddStringToObject(o, "file_mtime_utc", mtime);
    if (!sqlite3_column_int(st, C_HAS_SUMMARY)) {
        cJSON_AddNullToObject(o, "summary");
        return o;
    }
    cJSON *s = cJSON_AddObjectToObject(o, "summary");
    int c = C_S_FIRST;
    api_add_col_int(s, "reps", st, c++);
    api_add_col_int(s, "discarded_reps", st, c++);
    static const char *const nums[] = {"max_left_N",   "max_right_N",   "mean_left_N",
                                       "mean_right_N", "asymmetry_pct", "abs_asymmetry_pct"};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) api_add_col_num(s, nums[i], st, c++);
    api_add_col_text(s, "weaker_side", st, c++);
    static const char *const more[] = {"lsi_pct", "torque_max_left_Nm", "torque_max_right_Nm",
                                       "rel_force_max_left_N_per_kg",
                                       "rel_force_max_right_N_per_kg"};
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) api_add_col_num(s, more[i], st, c++);
    add_col_bool(s, "weak_left", st, c++);
    add_col_bool(s, "weak_right", st, c++);
    add_col_bool(s, "imbalance", st, c++);
    add_col_bool(s, "pain", st, c++);
    api_add_col_int(s, "pain_rating", st, c++);
    api_add_col_int(s, "samples", st, c++);
    api_add_col_int(s, "nonfinite_skipped", st, c++);
    return o;
}

static int db_fail(nd_index *ix, nd_api_response *out)
{
    return api_error(out, 500, NULL, "index database: %s", sqlite3_errmsg(ix->db));
}

#define MTIME_FEW 1000

/* Rows with file_mtime_ns >= since, counted up to MTIME_FEW (index only). */
static long modified_count(nd_index *ix, int64_t since_ns)
{
    sqlite3_stmt *st = NULL;
    long n = MTIME_FEW;
    if (sqlite3_prepare_v2(ix->db,
                           "SELECT count(*) FROM (SELECT 1 FROM trials INDEXED BY trials_by_mtime"
                           " WHERE file_mtime_ns >= ?1 LIMIT ?2)",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, since_ns);
        sqlite3_bind_int(st, 2, MTIME_FEW);
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

/* GET /api/v1/trials */
static int list_trials(nd_index *ix, const char *query, nd_api_response *out)
{
    static const char *const allowed[] = {"athlete", "from",  "to",     "modified_since",
                                          "status",  "limit", "cursor", NULL};
    api_query q;
    if (api_query_parse(query, allowed, &q, out)) return 0;
    long limit;
    bool has_from, has_to, has_mod;
    int64_t from = 0, to = 0, mod = 0;
    if (api_parse_limit(&q, &limit, out) || api_parse_time(&q, "from", &has_from, &from, out) ||
        api_parse_time(&q, "to", &has_to, &to, out) ||
        api_parse_time(&q, "modified_since", &has_mod, &mod, out))
        return 0;
    if (has_from && has_to && to < from) return api_error(out, 400, "to", "to is before from");
    if (has_mod && (mod > INT64_MAX / 1000000000LL || mod < 0))
        return api_error(out, 400, "modified_since", "modified_since is out of range");
    const char *athlete = api_query_get(&q, "athlete");
    if (athlete && api_check_id(athlete, "athlete", out)) return 0;
    const char *status = api_query_get(&q, "status");
    if (status && strcmp(status, "recording") && strcmp(status, "complete") &&
        strcmp(status, "interrupted") && strcmp(status, "damaged") && strcmp(status, "foreign"))
        return api_error(out, 400, "status",
                         "status must be recording, complete, interrupted, damaged or foreign");
    const char *cursor = api_query_get(&q, "cursor");
    int64_t c_created = 0;
    char c_name[300];
    if (cursor && api_cursor_decode(cursor, &c_created, c_name, sizeof c_name))
        return api_error(out, 400, "cursor", "cursor is not one this server handed out");

    /* The pull pattern asks for trials modified since its last visit: usually
     * few, and then the mtime index beats walking the creation order past
     * every older file. An index-only count of up to MTIME_FEW tells which. */
    bool few_modified = has_mod && modified_count(ix, mod * 1000000000LL) < MTIME_FEW;
    /* Fixed SQL per filter; every value is a bound parameter. */
    char sql[1536];
    snprintf(sql, sizeof sql,
             "SELECT " API_TRIAL_ITEM_SELECT " FROM trials WHERE 1=1%s%s%s%s%s%s"
             " ORDER BY created_unix_s DESC, file_name DESC LIMIT ?8",
             athlete ? " AND athlete_id = ?1" : "", has_from ? " AND created_unix_s >= ?2" : "",
             has_to ? " AND created_unix_s < ?3" : "",
             few_modified ? " AND likelihood(file_mtime_ns >= ?4, 0.0001)"
             : has_mod    ? " AND file_mtime_ns >= ?4"
                          : "",
             status ? " AND status = ?5" : "",
             cursor ? " AND (created_unix_s < ?6 OR (created_unix_s = ?6 AND file_name < ?7))"
                    : "");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(ix, out);
    if (athlete) sqlite3_bind_text(st, 1, athlete, -1, SQLITE_TRANSIENT);
    if (has_from) sqlite3_bind_int64(st, 2, from);
    if (has_to) sqlite3_bind_int64(st, 3, to);
    if (has_mod) sqlite3_bind_int64(st, 4, mod * 1000000000LL);
    if (status) sqlite3_bind_text(st, 5, status, -1, SQLITE_TRANSIENT);
    if (cursor) {
        sqlite3_bind_int64(st, 6, c_created);
        sqlite3_bind_text(st, 7, c_name, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(st, 8, limit + 1); /* one more tells whether a next page exists */
    cJSON *root = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(root, "items");
    long n = 0;
    int rc;
    bool more = false;
    char next[700] = "";
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            rc = SQLITE_DONE;
            break;
        }
        cJSON_AddItemToArray(items, api_trial_item(st));
        api_cursor_encode(sqlite3_column_int64(st, C_CREATED_UNIX),
                          (const char *)sqlite3_column_text(st, C_FILE_NAME), next, sizeof next);
        n++;
    }
    if (rc != SQLITE_DONE) {
        sqlite3_finalize(st);
        cJSON_Delete(root);
        return db_fail(ix, out);
    }
    sqlite3_finalize(st);
    if (more)
        cJSON_AddStringToObject(root, "next_cursor", next);
    else
        cJSON_AddNullToObject(root, "next_cursor");
    return api_json(out, 200, root);
}

/* The trials row for trial_id (the first file by name when two files carry
 * the same id). 0 found (st positioned on it), 1 not found (404 sent), -1
 * error (500 sent). */
static int find_trial(nd_index *ix, const char *trial_id, const char *columns, sqlite3_stmt **st,
                      nd_api_response *out)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM trials WHERE trial_id = ?1 ORDER BY file_name LIMIT 1", columns);
    if (sqlite3_prepare_v2(ix->db, sql, -1, st, NULL) != SQLITE_OK) {
        db_fail(ix, out);
        return -1;
    }
    sqlite3_bind_text(*st, 1, trial_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(*st);
    if (rc == SQLITE_ROW) return 0;
    sqlite3_finalize(*st);
    *st = NULL;
    if (rc == SQLITE_DONE) {
        api_error(out, 404, "trial_id", "no trial '%s'", trial_id);
        return 1;
    }
    db_fail(ix, out);
    return -1;
}

static cJSON *events_json(nd_index *ix, const char *file_name)
{
    cJSON *a = cJSON_CreateArray();
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db,
                           "SELECT t_s, kind, detail FROM events WHERE file_name = ?1 ORDER BY row",
                           -1, &st, NULL) != SQLITE_OK) {
        cJSON_Delete(a);
        return NULL;
    }
    sqlite3_bind_text(st, 1, file_name, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *e = cJSON_CreateObject();
        api_add_col_num(e, "t_s", st, 0);
        api_add_col_text(e, "kind", st, 1);
        api_add_col_text(e, "detail", st, 2);
        cJSON_AddItemToArray(a, e);
    }
    sqlite3_finalize(st);
    return a;
}

static cJSON *reps_json(nd_index *ix, const char *file_name)
{
    static const char *const names[] = {"index",
                                        "i_open",
                                        "i_end",
                                        "t_open_s",
                                        "t_end_s",
                                        "peak_left_N",
                                        "peak_right_N",
                                        "i_peak_left",
                                        "i_peak_right",
                                        "t_peak_left_s",
                                        "t_peak_right_s",
                                        "asymmetry_pct",
                                        "abs_asymmetry_pct",
                                        "weaker_side",
                                        "lsi_pct",
                                        "torque_left_Nm",
                                        "torque_right_Nm",
                                        "rel_force_left_N_per_kg",
                                        "rel_force_right_N_per_kg",
                                        "time_to_peak_left_s",
                                        "time_to_peak_right_s",
                                        "rfd_left_N_per_s",
                                        "rfd_right_N_per_s",
                                        "impulse_left_Ns",
                                        "impulse_right_Ns"};
    cJSON *a = cJSON_CreateArray();
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            ix->db, "SELECT " ND_INDEX_REP_COLUMNS " FROM reps WHERE file_name = ?1 ORDER BY row",
            -1, &st, NULL) != SQLITE_OK) {
        cJSON_Delete(a);
        return NULL;
    }
    sqlite3_bind_text(st, 1, file_name, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *r = cJSON_CreateObject();
        for (int c = 0; c < (int)(sizeof names / sizeof *names); c++) {
            int type = sqlite3_column_type(st, c);
            if (type == SQLITE_TEXT)
                api_add_col_text(r, names[c], st, c);
            else if (type == SQLITE_INTEGER)
                api_add_col_int(r, names[c], st, c);
            else
                api_add_col_num(r, names[c], st, c);
        }
        cJSON_AddItemToArray(a, r);
    }
    sqlite3_finalize(st);
    return a;
}

#define SETTINGS_SELECT                                                                            \
    "filter_cutoff_Hz, rep_on_N, rep_off_N, rep_hold_s, rep_min_s, impulse_threshold_N, "          \
    "weak_threshold_N, imbalance_threshold_pct, tare_window_s, body_mass_kg, lever_m, "            \
    "injured_side, flush_interval_s"

/* Settings from columns first.. of st (SETTINGS_SELECT order). */
static cJSON *settings_json(sqlite3_stmt *st, int first)
{
    static const char *const names[] = {"filter_cutoff_Hz", "rep_on_N",
                                        "rep_off_N",        "rep_hold_s",
                                        "rep_min_s",        "impulse_threshold_N",
                                        "weak_threshold_N", "imbalance_threshold_pct",
                                        "tare_window_s",    "body_mass_kg",
                                        "lever_m",          "injured_side",
                                        "flush_interval_s"};
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < (int)(sizeof names / sizeof *names); i++) {
        if (strcmp(names[i], "injured_side") == 0)
            api_add_col_text(o, names[i], st, first + i);
        else
            api_add_col_num(o, names[i], st, first + i);
    }
    return o;
}

static void add_json_text_col(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    cJSON *v = t ? cJSON_Parse(t) : NULL;
    cJSON_AddItemToObject(o, name, v ? v : cJSON_CreateArray());
}

#define METADATA_SELECT                                                                            \
    "schema_version, software_version, device_model, device_serial, device_firmware, "             \
    "device_counts_per_newton, channel_names, left_channel, right_channel, "                       \
    "calibration_offset_counts, calibration_gain_N_per_count, calibration_device_serial, notes"

static int get_trial(nd_index *ix, const char *trial_id, nd_api_response *out)
{
    sqlite3_stmt *st = NULL;
    if (find_trial(ix, trial_id, API_TRIAL_ITEM_SELECT ", " METADATA_SELECT ", " SETTINGS_SELECT,
                   &st, out))
        return 0;
    cJSON *o = api_trial_item(st);
    bool readable = sqlite3_column_type(st, C_ITEM_COUNT) != SQLITE_NULL;
    if (readable) {
        int c = C_ITEM_COUNT;
        cJSON *m = cJSON_AddObjectToObject(o, "metadata");
        api_add_col_int(m, "schema_version", st, c++);
        api_add_col_text(m, "software_version", st, c++);
        api_add_col_text(m, "device_model", st, c++);
        api_add_col_text(m, "device_serial", st, c++);
        api_add_col_text(m, "device_firmware", st, c++);
        add_json_text_col(m, "device_counts_per_newton", st, c++);
        add_json_text_col(m, "channel_names", st, c++);
        api_add_col_int(m, "left_channel", st, c++);
        api_add_col_int(m, "right_channel", st, c++);
        add_json_text_col(m, "calibration_offset_counts", st, c++);
        add_json_text_col(m, "calibration_gain_N_per_count", st, c++);
        api_add_col_text(m, "calibration_device_serial", st, c++);
        api_add_col_text(m, "notes", st, c++);
        cJSON_AddItemToObject(o, "settings", settings_json(st, c));
    } else {
        cJSON_AddNullToObject(o, "metadata");
        cJSON_AddNullToObject(o, "settings");
    }
    char file_name[NAME_MAX + 1];
    snprintf(file_name, sizeof file_name, "%s", sqlite3_column_text(st, C_FILE_NAME));
    sqlite3_finalize(st);
    cJSON *reps = reps_json(ix, file_name), *events = events_json(ix, file_name);
    if (!reps || !events) {
        cJSON_Delete(reps);
        cJSON_Delete(events);
        cJSON_Delete(o);
        return db_fail(ix, out);
    }
    cJSON_AddItemToObject(o, "reps", reps);
    cJSON_AddItemToObject(o, "events", events);
    return api_json(out, 200, o);
}

static int get_events(nd_index *ix, const char *trial_id, nd_api_response *out)
{
    sqlite3_stmt *st = NULL;
    if (find_trial(ix, trial_id, "trial_id, file_name", &st, out)) return 0;
    char file_name[NAME_MAX + 1];
    snprintf(file_name, sizeof file_name, "%s", sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    cJSON *events = events_json(ix, file_name);
    if (!events) return db_fail(ix, out);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "trial_id", trial_id);
    cJSON_AddItemToObject(o, "events", events);
    return api_json(out, 200, o);
}

/* A damaged or foreign file has no settings or samples to show. */
static int refuse_unreadable(sqlite3_stmt *st, int status_col, int error_col, nd_api_response *out)
{
    const char *status = (const char *)sqlite3_column_text(st, status_col);
    if (strcmp(status, "damaged") && strcmp(status, "foreign")) return 0;
    const char *why = (const char *)sqlite3_column_text(st, error_col);
    api_error(out, 409, "trial_id", "trial file is %s: %s", status, why ? why : "");
    return 1;
}

static int get_settings(nd_index *ix, const char *trial_id, nd_api_response *out)
{
    sqlite3_stmt *st = NULL;
    if (find_trial(ix, trial_id, "status, error, " SETTINGS_SELECT, &st, out)) return 0;
    if (refuse_unreadable(st, 0, 1, out)) {
        sqlite3_finalize(st);
        return 0;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "trial_id", trial_id);
    cJSON_AddItemToObject(o, "settings", settings_json(st, 2));
    sqlite3_finalize(st);
    return api_json(out, 200, o);
}

static char *full_path(nd_index *ix, sqlite3_stmt *st, int name_col)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", ix->data_dir, (const char *)sqlite3_column_text(st, name_col)) < 0)
        return NULL;
    return p;
}

static void csv_text(strbuf *b, const char *s)
{
    sb_puts(b, "\"");
    for (; *s; s++) sb_add(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
    sb_puts(b, "\"");
}

static void json_text(strbuf *b, const char *s)
{
    cJSON *j = cJSON_CreateString(s);
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    if (t)
        sb_puts(b, t);
    else
        b->failed = true;
    free(t);
    cJSON_Delete(j);
}

static int get_trace(nd_index *ix, const char *trial_id, const char *query, nd_api_response *out)
{
    static const char *const allowed[] = {"format", "decimate", NULL};
    api_query q;
    if (api_query_parse(query, allowed, &q, out)) return 0;
    const char *format = api_query_get(&q, "format");
    if (!format) format = "json";
    if (strcmp(format, "json") && strcmp(format, "csv"))
        return api_error(out, 400, "format", "format must be json or csv");
    long decimate;
    if (api_parse_int(&q, "decimate", 1, 100000, 1, &decimate, out)) return 0;
    sqlite3_stmt *st = NULL;
    if (find_trial(ix, trial_id, "status, error, file_name", &st, out)) return 0;
    if (refuse_unreadable(st, 0, 1, out)) {
        sqlite3_finalize(st);
        return 0;
    }
    char *path = full_path(ix, st, 2);
    sqlite3_finalize(st);
    if (!path) return api_error(out, 500, NULL, "out of memory");
    char err[4400];
    nd_trial_reader *r = nd_trial_reader_open_unlocked(path, err, sizeof err);
    free(path);
    if (!r) return api_error(out, 409, "trial_id", "cannot read the trial file: %s", err);
    const nd_trial_info *in = nd_trial_reader_info(r);
    const nd_trial_meta *m = &in->meta;
    uint64_t rows = in->samples;
    uint64_t out_rows = (rows + (uint64_t)decimate - 1) / (uint64_t)decimate;
    if (out_rows > TRACE_MAX_ROWS) {
        nd_trial_reader_close(r);
        return api_error(out, 400, "decimate",
                         "the trace has %llu rows; decimate must be at least %llu to return at "
                         "most %d",
                         (unsigned long long)rows,
                         (unsigned long long)((rows + TRACE_MAX_ROWS - 1) / TRACE_MAX_ROWS),
                         TRACE_MAX_ROWS);
    }
    bool csv = strcmp(format, "csv") == 0;
    strbuf b = {0};
    const int nch = m->nch;
    if (csv) {
        sb_puts(&b, "t_s");
        for (int ch = 0; ch < nch; ch++) {
            sb_puts(&b, ",");
            csv_text(&b, m->channel_names[ch]);
        }
        sb_puts(&b, "\n");
    } else {
        sb_puts(&b, "{\"trial_id\":");
        json_text(&b, m->trial_id);
        sb_puts(&b, ",\"sample_rate_hz\":");
        sb_num(&b, m->sample_rate_hz, "null");
        sb_printf(&b, ",\"decimate\":%ld,\"channel_names\":[", decimate);
        for (int ch = 0; ch < nch; ch++) {
            if (ch) sb_puts(&b, ",");
            json_text(&b, m->channel_names[ch]);
        }
        sb_printf(&b, "],\"left_channel\":%d,\"right_channel\":%d,\"t_s\":[",
                  m->calibration.left_channel, m->calibration.right_channel);
    }
    /* Every kept row is row i*decimate of the file, at trial time i/fs. */
    double *force = malloc((size_t)TRACE_SLICE_ROWS * (size_t)nch * sizeof *force);
    strbuf forces = {0};
    int rc = force ? 0 : -1;
    uint64_t kept = 0;
    for (uint64_t first = 0; rc == 0 && first < rows; first += TRACE_SLICE_ROWS) {
        size_t n = rows - first < TRACE_SLICE_ROWS ? (size_t)(rows - first) : TRACE_SLICE_ROWS;
        rc = nd_trial_reader_read_samples(r, first, n, NULL, force, NULL, err, sizeof err);
        for (size_t k = 0; rc == 0 && k < n; k++) {
            uint64_t i = first + k;
            if (i % (uint64_t)decimate) continue;
            double t = (double)i / m->sample_rate_hz;
            if (csv) {
                sb_num(&b, t, "NaN");
                for (int ch = 0; ch < nch; ch++) {
                    sb_puts(&b, ",");
                    sb_num(&b, force[k * (size_t)nch + (size_t)ch], "NaN");
                }
                sb_puts(&b, "\n");
            } else {
                if (kept) sb_puts(&b, ",");
                sb_num(&b, t, "null");
                sb_puts(&forces, kept ? ",[" : "[");
                for (int ch = 0; ch < nch; ch++) {
                    if (ch) sb_puts(&forces, ",");
                    sb_num(&forces, force[k * (size_t)nch + (size_t)ch], "null");
                }
                sb_puts(&forces, "]");
            }
            kept++;
        }
    }
    free(force);
    nd_trial_reader_close(r);
    if (!csv) {
        sb_puts(&b, "],\"force_N\":[");
        if (forces.s) sb_add(&b, forces.s, forces.len);
        sb_puts(&b, "]}");
    }
    free(forces.s);
    if (rc || b.failed || forces.failed) {
        free(b.s);
        return api_error(out, 500, NULL, "reading the trace: %s", rc ? err : "out of memory");
    }
    return api_body(out, 200, csv ? "text/csv; charset=utf-8" : "application/json", b.s, b.len);
}

static int get_file(nd_index *ix, const char *trial_id, nd_api_response *out)
{
    sqlite3_stmt *st = NULL;
    if (find_trial(ix, trial_id, "file_name", &st, out)) return 0;
    char *path = full_path(ix, st, 0);
    sqlite3_finalize(st);
    if (!path) return api_error(out, 500, NULL, "out of memory");
    struct stat fs;
    if (stat(path, &fs) < 0 || !S_ISREG(fs.st_mode)) {
        free(path);
        return api_error(out, 404, "trial_id", "the file of trial '%s' is gone", trial_id);
    }
    out->status = 200;
    out->content_type = "application/x-hdf5";
    out->file_path = path;
    return 0;
}

/* A trial id, or on a hub "<station_id>:<trial_id>" (nd_index_hub.h): each
 * part follows the id rule, so the one ':' splits it unambiguously. */
static int check_trial_ref(char *trial_id, nd_api_response *out)
{
    char *colon = strchr(trial_id, ':');
    if (!colon) return api_check_id(trial_id, "trial_id", out);
    *colon = '\0';
    int rc = api_check_id(trial_id, "trial_id", out) || api_check_id(colon + 1, "trial_id", out);
    *colon = ':';
    return rc;
}

int api_trials(nd_index *ix, const char *method, const char *rest, const char *query,
               nd_api_response *out)
{
    if (strcmp(method, "GET") != 0)
        return api_error(out, 405, NULL, "method %.16s not allowed (GET only)", method);
    if (!*rest) return list_trials(ix, query, out);
    /* rest = "/{trial_id}" or "/{trial_id}/{what}" */
    const char *seg = rest + 1;
    const char *slash = strchr(seg, '/');
    size_t seglen = slash ? (size_t)(slash - seg) : strlen(seg);
    const char *what = slash ? slash + 1 : "";
    char trial_id[ID_BUF];
    if (api_decode_segment(seg, seglen, trial_id, sizeof trial_id))
        return api_error(out, 400, "trial_id", "trial_id is malformed or too long");
    if (check_trial_ref(trial_id, out)) return 0;
    if (!*what) {
        if (query && *query) {
            api_query q;
            static const char *const none[] = {NULL};
            if (api_query_parse(query, none, &q, out)) return 0;
        }
        return get_trial(ix, trial_id, out);
    }
    if (strcmp(what, "trace") == 0) return get_trace(ix, trial_id, query, out);
    if (query && *query) {
        api_query q;
        static const char *const none[] = {NULL};
        if (api_query_parse(query, none, &q, out)) return 0;
    }
    if (strcmp(what, "events") == 0) return get_events(ix, trial_id, out);
    if (strcmp(what, "settings") == 0) return get_settings(ix, trial_id, out);
    if (strcmp(what, "file") == 0) return get_file(ix, trial_id, out);
    return api_error(out, 404, NULL, "no such resource under /api/v1/trials/%s", trial_id);
}
