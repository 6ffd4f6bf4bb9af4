/* Trial index (tools/index/nd_index.h) and its /api/v1 handlers (nd_api.h):
 * trials generated with the daemon's writer from known parameters
 * (tools/report_gen.h), so the expected rows come from those parameters and
 * the documented formats (TRIAL_FORMAT.md, tools/index/INDEX.md). The
 * per-value comparison with an independent reader (h5py) is
 * tests/test_index_h5py.py. */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "nd_api.h"
#include "nd_index.h"
#include "nd_index_watcher.h"
#include "report_gen.h"
#include "test_util.h"

static char data_dir[512], db_path[600], spare_dir[512];

static void gen(const char *dir, const char *athlete, const char *trial_id, int64_t created,
                int pain, bool complete, char *path, size_t pathlen)
{
    nd_report_gen g;
    nd_report_gen_default(&g);
    g.athlete_id = athlete;
    g.trial_id = trial_id;
    g.created_utc_s = created;
    g.seconds = 30;
    g.reps = 3;
    g.pain_rating = pain;
    g.complete = complete;
    char err[512], tmp[1024];
    int rc = nd_report_gen_write(dir, &g, path ? path : tmp, path ? pathlen : sizeof tmp, err,
                                 sizeof err);
    if (rc) fprintf(stderr, "gen: %s\n", err);
    CHECK(rc == 0);
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    char buf[65536];
    ssize_t n;
    int rc = in >= 0 && out >= 0 ? 0 : -1;
    while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) rc = -1;
    if (in >= 0) close(in);
    if (out >= 0 && close(out) < 0) rc = -1;
    return rc;
}

/* One text cell of "SELECT <col> FROM trials WHERE trial_id = ?" ("" if NULL/none). */
static const char *cell(nd_index *ix, const char *col, const char *trial_id)
{
    static char out[1024];
    out[0] = '\0';
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM trials WHERE trial_id = ?1", col);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(nd_index_db(ix), sql, -1, &st, NULL) != SQLITE_OK) return out;
    sqlite3_bind_text(st, 1, trial_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, sizeof out, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

static long long count(nd_index *ix, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(nd_index_db(ix), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Every row of the derived tables, in key order, as text: what "the same
 * rows" means for rebuild vs incremental. */
static char *dump(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return NULL;
    static const char *const sql[] = {"SELECT * FROM trials ORDER BY file_name",
                                      "SELECT * FROM reps ORDER BY file_name, row",
                                      "SELECT * FROM events ORDER BY file_name, row"};
    size_t cap = 1 << 20, len = 0;
    char *s = calloc(1, cap);
    for (size_t q = 0; q < 3; q++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql[q], -1, &st, NULL) != SQLITE_OK) continue;
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const char *t = (const char *)sqlite3_column_text(st, c);
                /* %.17g keeps every bit of a REAL. */
                char num[64];
                if (sqlite3_column_type(st, c) == SQLITE_FLOAT) {
                    snprintf(num, sizeof num, "%.17g", sqlite3_column_double(st, c));
                    t = num;
                }
                size_t need = strlen(t ? t : "NULL") + 2;
                if (len + need >= cap) s = realloc(s, cap *= 2);
                len += (size_t)snprintf(s + len, cap - len, "%s|", t ? t : "NULL");
            }
            if (len + 2 >= cap) s = realloc(s, cap *= 2);
            s[len++] = '\n';
            s[len] = '\0';
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return s;
}

/* Waits up to 10 s for the watch to handle at least one file. */
static int watch_round(nd_index *ix)
{
    struct pollfd p = {.fd = nd_index_watch_fd(ix), .events = POLLIN};
    int total = 0;
    for (int i = 0; i < 100 && total == 0; i++) {
        if (poll(&p, 1, 100) > 0) {
            int n = nd_index_watch_handle(ix);
            if (n < 0) fprintf(stderr, "watch: %s\n", nd_index_last_error(ix));
            CHECK(n >= 0);
            if (n > 0) total += n;
        }
    }
    return total;
}

/* A readable HDF5 file that is not a trial (schema attribute given or not),
 * written with the HDF5 library directly. */
static void write_other_hdf5(const char *path, const char *schema)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (schema) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "schema", t, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, t, &schema);
        H5Aclose(a);
        H5Sclose(sp);
        H5Tclose(t);
    }
    H5Fclose(f);
}

static void set_schema_version(const char *path, int v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
    int32_t val = v;
    CHECK(H5Awrite(a, H5T_NATIVE_INT32, &val) >= 0);
    H5Aclose(a);
    H5Fclose(f);
}

static void test_index_rows(void)
{
    char err[512], path[1024];
    nd_index *ix = nd_index_open(db_path, data_dir, err, sizeof err);
    CHECK(ix != NULL);
    if (!ix) return;
    int wfd = nd_index_watch_fd(ix);
    CHECK(wfd >= 0);

    /* Written in place (the daemon's way: hidden .partial renamed in). */
    gen(data_dir, "ath-a", "trial-a1", 1714566896, 3, true, path, sizeof path);
    CHECK(watch_round(ix) >= 1);
    CHECK_EQ_INT(count(ix, "SELECT count(*) FROM trials"), 1);
    CHECK(strcmp(cell(ix, "status", "trial-a1"), "complete") == 0);
    CHECK(strcmp(cell(ix, "athlete_id", "trial-a1"), "ath-a") == 0);
    /* TRIAL_FORMAT: created_utc is ISO 8601 of created_unix_s. */
    CHECK(strcmp(cell(ix, "created_utc", "trial-a1"), "2024-05-01T12:34:56Z") == 0);
    CHECK(strcmp(cell(ix, "created_unix_s", "trial-a1"), "1714566896") == 0);
    CHECK(strcmp(cell(ix, "samples", "trial-a1"), "30000") == 0); /* 30 s at 1 kHz */
    CHECK(strcmp(cell(ix, "sample_rate_hz", "trial-a1"), "1000.0") == 0);
    CHECK(strcmp(cell(ix, "nch", "trial-a1"), "2") == 0);
    CHECK(strcmp(cell(ix, "body_mass_kg", "trial-a1"), "80.0") == 0);
    CHECK(strcmp(cell(ix, "lever_m", "trial-a1"), "0.45") == 0);
    CHECK(strcmp(cell(ix, "protocol", "trial-a1"), "1x3 maximal") == 0);
    CHECK(strcmp(cell(ix, "s_pain_rating", "trial-a1"), "3") == 0);
    /* The pain flag needs a rating above 3 (METRICS.md); trial-b2 below has 7. */
    CHECK(strcmp(cell(ix, "s_pain", "trial-a1"), "0") == 0);
    CHECK(strcmp(cell(ix, "has_summary", "trial-a1"), "1") == 0);
    CHECK(strcmp(cell(ix, "s_samples", "trial-a1"), "30000") == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    char size[32];
    snprintf(size, sizeof size, "%lld", (long long)st.st_size);
    CHECK(strcmp(cell(ix, "file_size", "trial-a1"), size) == 0);
    /* The generator's pain event: kind "pain", detail "3/10", at n/fs = 30 s. */
    CHECK_EQ_INT(count(ix, "SELECT count(*) FROM events WHERE kind = 'pain' AND detail = '3/10'"
                           " AND t_s = 30.0"),
                 1);
    CHECK_EQ_INT(count(ix, "SELECT count(*) FROM reps"), 3);
    CHECK_EQ_INT(count(ix, "SELECT count(*) FROM reps WHERE \"index\" BETWEEN 1 AND 3 AND "
                           "i_open < i_end AND peak_left_N > 0 AND peak_right_N > 0"),
                 3);

    /* Closed without summary: listed "recording" (what the file says), no summary. */
    gen(data_dir, "ath-a", "trial-a2", 1714566896 + 86400, -1, false, NULL, 0);
    CHECK(watch_round(ix) >= 1);
    CHECK(strcmp(cell(ix, "status", "trial-a2"), "recording") == 0);
    CHECK(strcmp(cell(ix, "has_summary", "trial-a2"), "0") == 0);
    CHECK(strcmp(cell(ix, "s_reps", "trial-a2"), "") == 0);

    /* Copied in from elsewhere (cp: create, write, close). */
    char src[1024], dst[1200];
    gen(spare_dir, "ath-b", "trial-b1", 1714566896 + 2 * 86400, -1, true, src, sizeof src);
    snprintf(dst, sizeof dst, "%s/%s", data_dir, strrchr(src, '/') + 1);
    CHECK(copy_file(src, dst) == 0);
    CHECK(watch_round(ix) >= 1);
    CHECK(strcmp(cell(ix, "status", "trial-b1"), "complete") == 0);
    CHECK(strcmp(cell(ix, "athlete_id", "trial-b1"), "ath-b") == 0);

    /* Damaged and foreign files are listed, never fatal. */
    char bad[1200];
    snprintf(bad, sizeof bad, "%s/ath-b_20240601T000000Z_trunc1.h5", data_dir);
    {
        /* The first 4 KiB of a trial: superblock present, the rest cut off. */
        int in = open(src, O_RDONLY), out = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0640);
        char buf[4096];
        CHECK(read(in, buf, sizeof buf) == (ssize_t)sizeof buf);
        CHECK(write(out, buf, sizeof buf) == (ssize_t)sizeof buf);
        close(in);
        close(out);
    }
    CHECK(watch_round(ix) >= 1);
    CHECK(strcmp(cell(ix, "status", "trunc1"), "damaged") == 0);
    CHECK(strcmp(cell(ix, "athlete_id", "trunc1"), "ath-b") == 0); /* from the name */
    CHECK(strcmp(cell(ix, "created_utc", "trunc1"), "2024-06-01T00:00:00Z") == 0);
    CHECK(strlen(cell(ix, "error", "trunc1")) > 0);

    snprintf(bad, sizeof bad, "%s/empty.h5", data_dir);
    int fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    close(fd);
    CHECK(watch_round(ix) >= 1);
    CHECK(strcmp(cell(ix, "status", "empty"), "damaged") == 0);

    snprintf(bad, sizeof bad, "%s/notes.h5", data_dir);
    FILE *f = fopen(bad, "w");
    fputs("these are not the trials you are looking for\n", f);
    fclose(f);
    CHECK(watch_round(ix) >= 1);
    CHECK(strcmp(cell(ix, "status", "notes"), "foreign") == 0);
    CHECK(strstr(cell(ix, "error", "notes"), "not an HDF5 file") != NULL);

    snprintf(bad, sizeof bad, "%s/other-schema.h5", spare_dir);
    write_other_hdf5(bad, "some-other-format");
    snprintf(dst, sizeof dst, "%s/other-schema.h5", data_dir);
    CHECK(rename(bad, dst) == 0); /* moved in */
    CHECK(watch_round(ix) >= 1);
    CHECK(strcmp(cell(ix, "status", "other-schema"), "foreign") == 0);

    /* A newer schema_version than this software reads: foreign, not damaged. */
    char newer[1200];
    snprintf(newer, sizeof newer, "%s/ath-c_20240701T000000Z_newer.h5", spare_dir);
    CHECK(copy_file(src, newer) == 0);
    set_schema_version(newer, 2);
    snprintf(dst, sizeof dst, "%s/ath-c_20240701T000000Z_newer.h5", data_dir);
    CHECK(rename(newer, dst) == 0);
    CHECK(watch_round(ix) >= 1);
    CHECK(strcmp(cell(ix, "status", "newer"), "foreign") == 0);
    CHECK(strstr(cell(ix, "error", "newer"), "schema_version 2") != NULL);

    /* Hidden files (a trial being created) are not indexed. */
    snprintf(bad, sizeof bad, "%s/.hidden.h5.partial", data_dir);
    fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    close(fd);
    unlink(bad);

    /* Deleted and moved away: the rows go (reps and events with them). */
    long long reps_before = count(ix, "SELECT count(*) FROM reps");
    CHECK(unlink(path) == 0);
    CHECK(watch_round(ix) >= 1);
    CHECK_EQ_INT(count(ix, "SELECT count(*) FROM trials WHERE trial_id = 'trial-a1'"), 0);
    CHECK_EQ_INT(count(ix, "SELECT count(*) FROM reps"), reps_before - 3);
    CHECK_EQ_INT(count(ix, "SELECT count(*) FROM events WHERE detail = '3/10'"), 0);

    /* Re-add trial-a1 (changed file under the same name later). */
    gen(data_dir, "ath-a", "trial-a1", 1714566896, 3, true, path, sizeof path);
    CHECK(watch_round(ix) >= 1);
    CHECK(strcmp(cell(ix, "status", "trial-a1"), "complete") == 0);

    /* add_file refuses files outside the data directory and odd names. */
    CHECK(nd_index_add_file(ix, src, err, sizeof err) == -1);
    CHECK(strstr(err, "not in the indexed data directory") != NULL);
    CHECK(nd_index_add_file(ix, "missing.h5", err, sizeof err) == -1);
    CHECK(nd_index_add_file(ix, "x.txt", err, sizeof err) == -1);
    CHECK_EQ_INT(count(ix, "SELECT count(*) FROM trials"), 8);

    /* Changes while nobody watched: sync finds them. */
    nd_index_close(ix);
    gen(data_dir, "ath-b", "trial-b2", 1714566896 + 3 * 86400, 7, true, NULL, 0);
    snprintf(bad, sizeof bad, "%s/empty.h5", data_dir);
    CHECK(unlink(bad) == 0);
    ix = nd_index_open(db_path, data_dir, err, sizeof err);
    CHECK(ix != NULL);
    if (!ix) return;
    CHECK_EQ_INT(nd_index_sync(ix, err, sizeof err), 0);
    CHECK_EQ_INT(nd_index_last_changes(ix), 2); /* one added, one removed */
    CHECK_EQ_INT(nd_index_sync(ix, err, sizeof err), 0);
    CHECK_EQ_INT(nd_index_last_changes(ix), 0); /* nothing changed since */
    CHECK_EQ_INT(count(ix, "SELECT count(*) FROM trials"), 8);
    CHECK(strcmp(cell(ix, "s_pain_rating", "trial-b2"), "7") == 0);
    nd_index_close(ix);

    /* Rebuild from the files: exactly the rows the incremental path made,
     * in a fresh database and in the same one. */
    char *incremental = dump(db_path);
    char fresh[700];
    snprintf(fresh, sizeof fresh, "%s.fresh", db_path);
    nd_index *ix2 = nd_index_open(fresh, data_dir, err, sizeof err);
    CHECK(ix2 != NULL);
    CHECK_EQ_INT(nd_index_rebuild(ix2, err, sizeof err), 0);
    CHECK_EQ_INT(nd_index_last_changes(ix2), 8);
    nd_index_close(ix2);
    char *rebuilt = dump(fresh);
    CHECK(incremental && rebuilt && strcmp(incremental, rebuilt) == 0);
    if (incremental && rebuilt && strcmp(incremental, rebuilt) != 0)
        fprintf(stderr, "incremental:\n%s\nrebuilt:\n%s\n", incremental, rebuilt);
    ix2 = nd_index_open(db_path, data_dir, err, sizeof err);
    CHECK(ix2 && nd_index_rebuild(ix2, err, sizeof err) == 0 && nd_index_last_changes(ix2) == 8);
    nd_index_close(ix2);
    char *again = dump(db_path);
    CHECK(incremental && again && strcmp(incremental, again) == 0);
    free(incremental);
    free(rebuilt);
    free(again);
}

static void test_athletes(void)
{
    char err[512];
    nd_index *ix = nd_index_open(db_path, data_dir, err, sizeof err);
    CHECK(ix != NULL);
    if (!ix) return;
    nd_athlete a = {.body_mass_kg = 72.5, .lever_m = 0.43};
    snprintf(a.id, sizeof a.id, "ath-a");
    snprintf(a.display_name, sizeof a.display_name, "Åsa Ödegaard");
    snprintf(a.injured_side, sizeof a.injured_side, "left");
    snprintf(a.notes, sizeof a.notes, "ACL 2023\nright dominant");
    CHECK_EQ_INT(nd_index_athlete_create(ix, &a, err, sizeof err), 0);
    CHECK(strlen(a.created_utc) == 20 && strcmp(a.created_utc, a.updated_utc) == 0);
    CHECK_EQ_INT(nd_index_athlete_create(ix, &a, err, sizeof err), 1); /* exists */
    nd_athlete got;
    CHECK_EQ_INT(nd_index_athlete_get(ix, "ath-a", &got, err, sizeof err), 0);
    CHECK(strcmp(got.display_name, "Åsa Ödegaard") == 0 && got.body_mass_kg == 72.5 &&
          got.lever_m == 0.43 && strcmp(got.injured_side, "left") == 0 &&
          strcmp(got.notes, "ACL 2023\nright dominant") == 0);
    got.body_mass_kg = 74;
    CHECK_EQ_INT(nd_index_athlete_update(ix, &got, err, sizeof err), 0);
    nd_athlete again;
    CHECK_EQ_INT(nd_index_athlete_get(ix, "ath-a", &again, err, sizeof err), 0);
    CHECK(again.body_mass_kg == 74 && strcmp(again.created_utc, a.created_utc) == 0);
    /* Each invalid field is named. */
    const char *bad = NULL;
    nd_athlete b = got;
    b.body_mass_kg = 900;
    CHECK(nd_athlete_validate(&b, &bad, err, sizeof err) == -1 && strcmp(bad, "body_mass_kg") == 0);
    b = got;
    b.lever_m = -1;
    CHECK(nd_athlete_validate(&b, &bad, err, sizeof err) == -1 && strcmp(bad, "lever_m") == 0);
    b = got;
    snprintf(b.injured_side, sizeof b.injured_side, "both");
    CHECK(nd_athlete_validate(&b, &bad, err, sizeof err) == -1 && strcmp(bad, "injured_side") == 0);
    b = got;
    snprintf(b.id, sizeof b.id, "a'; DROP TABLE athletes; --");
    CHECK(nd_index_athlete_create(ix, &b, err, sizeof err) == -1);
    CHECK(nd_athlete_validate(&b, &bad, err, sizeof err) == -1 && strcmp(bad, "id") == 0);
    b = got;
    b.display_name[0] = '\0';
    CHECK(nd_athlete_validate(&b, &bad, err, sizeof err) == -1 && strcmp(bad, "display_name") == 0);
    nd_athlete gone = got;
    snprintf(gone.id, sizeof gone.id, "nobody");
    CHECK_EQ_INT(nd_index_athlete_update(ix, &gone, err, sizeof err), 1);
    CHECK_EQ_INT(nd_index_athlete_get(ix, "nobody", &gone, err, sizeof err), 1);
    snprintf(b.id, sizeof b.id, "tmp-1");
    snprintf(b.display_name, sizeof b.display_name, "Temp");
    CHECK_EQ_INT(nd_index_athlete_create(ix, &b, err, sizeof err), 0);
    CHECK_EQ_INT(nd_index_athlete_delete(ix, "tmp-1", err, sizeof err), 0);
    CHECK_EQ_INT(nd_index_athlete_delete(ix, "tmp-1", err, sizeof err), 1);
    /* A rebuild keeps the registry. */
    CHECK(nd_index_rebuild(ix, err, sizeof err) >= 0);
    CHECK_EQ_INT(nd_index_athlete_get(ix, "ath-a", &got, err, sizeof err), 0);
    nd_index_close(ix);
}

/* ---- API ------------------------------------------------------------------ */

static cJSON *call(nd_index *ix, const char *method, const char *path, const char *query,
                   const char *body, int want_status)
{
    nd_api_response r;
    int rc = nd_api_handle(ix, method, path, query, body, body ? strlen(body) : 0, &r);
    CHECK(rc == 0);
    if (rc) return NULL;
    if (r.status != want_status)
        fprintf(stderr, "%s %s?%s: status %d, want %d: %.*s\n", method, path, query ? query : "",
                r.status, want_status, (int)(r.body_len > 400 ? 400 : r.body_len),
                r.body ? r.body : "");
    CHECK_EQ_INT(r.status, want_status);
    cJSON *j = r.body && strncmp(r.content_type, "application/json", 16) == 0
                   ? cJSON_ParseWithLength(r.body, r.body_len)
                   : NULL;
    nd_api_response_free(&r);
    return j;
}

/* A 400 naming parameter. */
static void bad(nd_index *ix, const char *method, const char *path, const char *query,
                const char *body, const char *parameter)
{
    cJSON *j = call(ix, method, path, query, body, 400);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "parameter");
    bool ok = cJSON_IsString(p) && strcmp(p->valuestring, parameter) == 0 &&
              cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error"));
    if (!ok) fprintf(stderr, "%s %s?%s: want 400 naming '%s'\n", method, path, query, parameter);
    CHECK(ok);
    cJSON_Delete(j);
}

static void test_api(void)
{
    char err[512];
    nd_index *ix = nd_index_open(db_path, data_dir, err, sizeof err);
    CHECK(ix != NULL);
    if (!ix) return;
    nd_api_response r;
    CHECK(nd_api_handle(ix, "GET", "/api/v1/status", NULL, NULL, 0, &r) == -1);
    CHECK(nd_api_handle(ix, "GET", "/api/v1/trialsx", NULL, NULL, 0, &r) == -1);
    CHECK(nd_api_handle(ix, "GET", "/metrics", NULL, NULL, 0, &r) == -1);

    /* Pages of 3 walk all 8 files once each, newest first. */
    int seen = 0;
    long long last_created = -1;
    char cursor_q[1200] = "limit=3";
    for (int page = 0; page < 10; page++) {
        cJSON *j = call(ix, "GET", "/api/v1/trials", cursor_q, NULL, 200);
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "items"))
        {
            seen++;
            (void)it;
        }
        const cJSON *next = cJSON_GetObjectItemCaseSensitive(j, "next_cursor");
        if (!cJSON_IsString(next)) {
            cJSON_Delete(j);
            break;
        }
        snprintf(cursor_q, sizeof cursor_q, "limit=3&cursor=%s", next->valuestring);
        cJSON_Delete(j);
    }
    CHECK_EQ_INT(seen, 8);
    (void)last_created;

    /* Filters (values from the generator parameters). */
    cJSON *j = call(ix, "GET", "/api/v1/trials", "athlete=ath-b&status=complete", NULL, 200);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "items")), 2);
    cJSON_Delete(j);
    j = call(ix, "GET", "/api/v1/trials", "from=2024-05-02T12:34:56Z&to=1714826096", NULL, 200);
    /* created 05-02 (a2) and 05-03 (b1); to (05-04 12:34:56) excludes b2. */
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "items")), 2);
    cJSON_Delete(j);
    j = call(ix, "GET", "/api/v1/trials", "status=damaged", NULL, 200);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "items")), 1);
    cJSON_Delete(j);
    /* modified_since through the mtime index (few match): same order as without. */
    j = call(ix, "GET", "/api/v1/trials", "modified_since=0&limit=1000", NULL, 200);
    cJSON *all = call(ix, "GET", "/api/v1/trials", "limit=1000", NULL, 200);
    char *a1 = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "items"));
    char *a2 = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(all, "items"));
    CHECK(a1 && a2 && strcmp(a1, a2) == 0);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "items")), 8);
    free(a1);
    free(a2);
    cJSON_Delete(all);
    cJSON_Delete(j);
    j = call(ix, "GET", "/api/v1/trials", "modified_since=4102444800", NULL, 200); /* 2100 */
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "items")), 0);
    cJSON_Delete(j);

    /* One trial: summary, reps in the /reps names, events. */
    j = call(ix, "GET", "/api/v1/trials/trial-b2", NULL, NULL, 200);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "summary");
    CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(s, "pain_rating")->valuedouble, 7);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "pain"))); /* 7 > 3 */
    const cJSON *reps = cJSON_GetObjectItemCaseSensitive(j, "reps");
    CHECK_EQ_INT(cJSON_GetArraySize(reps), 3);
    const cJSON *rep0 = cJSON_GetArrayItem(reps, 0);
    CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(rep0, "index")->valuedouble, 1);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(rep0, "peak_left_N")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rep0, "lsi_pct"))); /* no injured side */
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(rep0, "weaker_side")));
    const cJSON *ev = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "events"), 0);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(ev, "kind")->valuestring, "pain") == 0);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(ev, "detail")->valuestring, "7/10") == 0);
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(j, "settings");
    CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(settings, "weak_threshold_N")->valuedouble, 256);
    cJSON_Delete(j);
    cJSON_Delete(call(ix, "GET", "/api/v1/trials/nope", NULL, NULL, 404));
    j = call(ix, "GET", "/api/v1/trials/trunc1", NULL, NULL, 200);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(j, "status")->valuestring, "damaged") == 0);
    cJSON_Delete(j);
    cJSON_Delete(call(ix, "GET", "/api/v1/trials/trunc1/settings", NULL, NULL, 409));

    /* Trace: row i*N at t = i*N/fs; 30000 rows / 7 -> 4286 rows. */
    CHECK(nd_api_handle(ix, "GET", "/api/v1/trials/trial-b2/trace", "format=csv&decimate=7", NULL,
                        0, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    int lines = 0;
    for (size_t i = 0; i < r.body_len; i++) lines += r.body[i] == '\n';
    CHECK_EQ_INT(lines, 1 + 4286);
    const char *row2 = r.body;
    for (int k = 0; k < 3 && row2; k++) row2 = strchr(row2, '\n') + 1;
    CHECK(row2 && strncmp(row2, "0.014,", 6) == 0); /* row 14 at 1 kHz */
    nd_api_response_free(&r);
    j = call(ix, "GET", "/api/v1/trials/trial-b2/trace", "decimate=1000", NULL, 200);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "t_s")), 30);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "force_N")), 30);
    cJSON_Delete(j);
    CHECK(nd_api_handle(ix, "GET", "/api/v1/trials/trial-b2/file", NULL, NULL, 0, &r) == 0);
    CHECK(r.status == 200 && r.file_path && strstr(r.file_path, "_trial-b2.h5") && !r.body);
    nd_api_response_free(&r);

    /* Athletes: create, read, update, search, history. */
    j = call(ix, "POST", "/api/v1/athletes", NULL,
             "{\"id\":\"ath-b\",\"display_name\":\"Bo Berg\",\"body_mass_kg\":81,"
             "\"injured_side\":\"right\"}",
             201);
    CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(j, "injured_side")->valuestring, "right") == 0);
    cJSON_Delete(j);
    cJSON_Delete(call(ix, "POST", "/api/v1/athletes", NULL,
                      "{\"id\":\"ath-b\",\"display_name\":\"X\"}", 409));
    j = call(ix, "PUT", "/api/v1/athletes/ath-b", NULL, "{\"lever_m\":0.41}", 200);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "lever_m")->valuedouble == 0.41);
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "body_mass_kg")->valuedouble == 81);
    cJSON_Delete(j);
    j = call(ix, "GET", "/api/v1/athletes", "q=berg", NULL, 200);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "items")), 1);
    cJSON_Delete(j);
    j = call(ix, "GET", "/api/v1/athletes/ath-b/history", NULL, NULL, 200);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(j, "trials");
    CHECK_EQ_INT(cJSON_GetArraySize(tr), 3); /* b1, b2 and the truncated file named ath-b */
    CHECK(
        strcmp(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(tr, 0), "trial_id")->valuestring,
               "trial-b1") == 0); /* oldest first */
    cJSON_Delete(j);
    cJSON_Delete(call(ix, "GET", "/api/v1/athletes/nobody", NULL, NULL, 404));
    cJSON_Delete(call(ix, "GET", "/api/v1/athletes/nobody/history", NULL, NULL, 404));

    /* Bad input: a 400 naming the parameter, nothing changed. */
    bad(ix, "GET", "/api/v1/trials", "limit=1000000000", NULL, "limit");
    bad(ix, "GET", "/api/v1/trials", "limit=0", NULL, "limit");
    bad(ix, "GET", "/api/v1/trials", "limit=-1", NULL, "limit");
    bad(ix, "GET", "/api/v1/trials", "limit=1e3", NULL, "limit");
    bad(ix, "GET", "/api/v1/trials", "athlete=x%27%20OR%20%271%27%3D%271", NULL, "athlete");
    bad(ix, "GET", "/api/v1/trials", "athlete=a;DROP+TABLE+trials", NULL, "athlete");
    bad(ix, "GET", "/api/v1/trials", "status=complete%27--", NULL, "status");
    bad(ix, "GET", "/api/v1/trials", "from=yesterday", NULL, "from");
    bad(ix, "GET", "/api/v1/trials", "from=2024-13-01T00:00:00Z", NULL, "from");
    bad(ix, "GET", "/api/v1/trials", "from=2000&to=1000", NULL, "to");
    bad(ix, "GET", "/api/v1/trials", "modified_since=1%20UNION%20SELECT", NULL, "modified_since");
    bad(ix, "GET", "/api/v1/trials", "cursor=c1zz", NULL, "cursor");
    bad(ix, "GET", "/api/v1/trials", "cursor=%27%3B--", NULL, "cursor");
    bad(ix, "GET", "/api/v1/trials", "sort=id", NULL, "sort");
    bad(ix, "GET", "/api/v1/trials", "limit=1&limit=2", NULL, "limit");
    bad(ix, "GET", "/api/v1/trials", "athlete=%00", NULL, "athlete");
    bad(ix, "GET", "/api/v1/trials", "athlete=%zz", NULL, "athlete");
    bad(ix, "GET", "/api/v1/trials/x'%20OR%201=1", NULL, NULL, "trial_id");
    bad(ix, "GET", "/api/v1/trials/trial-b2", "verbose=1", NULL, "verbose");
    bad(ix, "GET", "/api/v1/trials/trial-b2/trace", "format=xml", NULL, "format");
    bad(ix, "GET", "/api/v1/trials/trial-b2/trace", "decimate=0", NULL, "decimate");
    bad(ix, "GET", "/api/v1/trials/trial-b2/trace", "decimate=1000000000", NULL, "decimate");
    bad(ix, "GET", "/api/v1/athletes", "q=%27%3B%20DROP%20TABLE%20athletes%3B--", NULL, "q");
    bad(ix, "GET", "/api/v1/athletes", "q=a%25", NULL, "q");
    bad(ix, "POST", "/api/v1/athletes", NULL, "{\"id\":\"n1\",\"display_name\":\"N\",\"admin\":1}",
        "admin");
    bad(ix, "POST", "/api/v1/athletes", NULL, "{\"display_name\":\"N\"}", "id");
    bad(ix, "POST", "/api/v1/athletes", NULL, "{\"id\":\"n1\"}", "display_name");
    bad(ix, "POST", "/api/v1/athletes", NULL, "{\"id\":\"x' OR 1=1\",\"display_name\":\"N\"}",
        "id");
    bad(ix, "POST", "/api/v1/athletes", NULL,
        "{\"id\":\"n1\",\"display_name\":\"N\",\"body_mass_kg\":\"80\"}", "body_mass_kg");
    bad(ix, "POST", "/api/v1/athletes", NULL,
        "{\"id\":\"n1\",\"display_name\":\"N\",\"body_mass_kg\":1e9}", "body_mass_kg");
    bad(ix, "POST", "/api/v1/athletes", NULL,
        "{\"id\":\"n1\",\"display_name\":\"N\",\"injured_side\":\"both\"}", "injured_side");
    bad(ix, "POST", "/api/v1/athletes", NULL,
        "{\"id\":\"n1\",\"id\":\"n2\",\"display_name\":\"N\"}", "id");
    bad(ix, "POST", "/api/v1/athletes", NULL, "[1,2]", "body");
    bad(ix, "POST", "/api/v1/athletes", NULL, "{\"id\":\"n1\"", "body");
    bad(ix, "POST", "/api/v1/athletes", NULL, "{\"id\":\"n1\",\"display_name\":\"N\"} x", "body");
    bad(ix, "PUT", "/api/v1/athletes/ath-b", NULL, "{\"id\":\"ath-c\"}", "id");
    char big[ND_API_MAX_BODY + 64];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cJSON_Delete(call(ix, "POST", "/api/v1/athletes", NULL, big, 413));
    cJSON_Delete(call(ix, "DELETE", "/api/v1/trials/trial-b2", NULL, NULL, 405));
    cJSON_Delete(call(ix, "PATCH", "/api/v1/athletes/ath-b", NULL, "{}", 405));
    /* Nothing of the refused requests was stored. */
    CHECK_EQ_INT(count(ix, "SELECT count(*) FROM athletes"), 2);
    CHECK_EQ_INT(count(ix, "SELECT count(*) FROM trials"), 8);
    nd_index_close(ix);
}

static void test_open_errors(void)
{
    char err[512];
    /* A data directory not created yet: opens, finds nothing, no watch. */
    char missing_db[700];
    snprintf(missing_db, sizeof missing_db, "%s.missing", db_path);
    nd_index *ix = nd_index_open(missing_db, "/nonexistent/dir", err, sizeof err);
    CHECK(ix != NULL);
    CHECK(ix && nd_index_sync(ix, err, sizeof err) == 0 && nd_index_last_changes(ix) == 0);
    CHECK(ix && nd_index_watch_fd(ix) == -1 && strstr(nd_index_last_error(ix), "/nonexistent/dir"));
    nd_index_close(ix);
    CHECK(nd_index_open("/nonexistent/dir/x.db", data_dir, err, sizeof err) == NULL);
    CHECK(strstr(err, "/nonexistent/dir/x.db") != NULL);
}

/* A trace longer than one response may carry: 400 naming decimate, with the
 * smallest decimation that fits; that one works. */
static void test_long_trace(void)
{
    char err[512], path[1024];
    nd_report_gen g;
    nd_report_gen_default(&g);
    g.athlete_id = "ath-long";
    g.trial_id = "trial-long";
    g.seconds = 260; /* 260,000 rows at 1 kHz */
    g.reps = 3;
    CHECK(nd_report_gen_write(data_dir, &g, path, sizeof path, err, sizeof err) == 0);
    nd_index *ix = nd_index_open(db_path, data_dir, err, sizeof err);
    CHECK(ix && nd_index_add_file(ix, path, err, sizeof err) == 0);
    if (!ix) return;
    cJSON *j = call(ix, "GET", "/api/v1/trials/trial-long/trace", "format=csv", NULL, 400);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "parameter");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    CHECK(cJSON_IsString(p) && strcmp(p->valuestring, "decimate") == 0);
    CHECK(cJSON_IsString(e) && strstr(e->valuestring, "at least 2"));
    cJSON_Delete(j);
    nd_api_response r;
    CHECK(nd_api_handle(ix, "GET", "/api/v1/trials/trial-long/trace", "format=csv&decimate=2", NULL,
                        0, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    int lines = 0;
    for (size_t i = 0; i < r.body_len; i++) lines += r.body[i] == '\n';
    CHECK_EQ_INT(lines, 1 + 130000);
    nd_api_response_free(&r);
    nd_index_close(ix);
}

/* The watcher thread waits for a data directory that does not exist yet,
 * indexes what appears in it, and follows it when it is removed and made
 * again. Rows are read through a second connection, as a server would. */
static void test_watcher(void)
{
    char dir[600], db[700], err[512], path[1024];
    snprintf(dir, sizeof dir, "%s/later", spare_dir);
    snprintf(db, sizeof db, "%s.watcher", db_path);
    nd_index_watcher *w = nd_index_watcher_start(db, dir, err, sizeof err);
    CHECK(w != NULL);
    if (!w) return;
    nd_index *reader = nd_index_open(db, dir, err, sizeof err);
    CHECK(reader != NULL);
    CHECK(mkdir(dir, 0755) == 0);
    /* Written elsewhere and moved in: in this one process HDF5 would refuse
     * the writer's reopen at close while the watcher thread reads the file
     * (nordicd and the station are separate processes; see the contract test). */
    char staged[1200];
    gen(spare_dir, "ath-w", "trial-w1", 1714566896, -1, true, staged, sizeof staged);
    snprintf(path, sizeof path, "%s/%s", dir, strrchr(staged, '/') + 1);
    CHECK(rename(staged, path) == 0);
    long long n = 0;
    for (int i = 0; i < 200 && n != 1; i++) {
        usleep(50000);
        n = count(reader, "SELECT count(*) FROM trials WHERE trial_id = 'trial-w1' AND status = "
                          "'complete'");
    }
    CHECK_EQ_INT(n, 1);
    /* Removed: rows stay; made again with another file: the new one appears. */
    CHECK(unlink(path) == 0);
    CHECK(rmdir(dir) == 0);
    usleep(300000);
    CHECK(mkdir(dir, 0755) == 0);
    gen(spare_dir, "ath-w", "trial-w2", 1714566896 + 60, -1, true, staged, sizeof staged);
    snprintf(path, sizeof path, "%s/%s", dir, strrchr(staged, '/') + 1);
    CHECK(rename(staged, path) == 0);
    n = 0;
    for (int i = 0; i < 200 && n != 1; i++) {
        usleep(50000);
        n = count(reader, "SELECT count(*) FROM trials WHERE trial_id = 'trial-w2'");
    }
    CHECK_EQ_INT(n, 1);
    /* The deleted file's row is gone. */
    CHECK_EQ_INT(count(reader, "SELECT count(*) FROM trials WHERE trial_id = 'trial-w1'"), 0);
    nd_index_close(reader);
    nd_index_watcher_stop(w);
}

int main(void)
{
    const char *root = nd_test_tmpdir("index");
    snprintf(data_dir, sizeof data_dir, "%s/trials", root);
    snprintf(spare_dir, sizeof spare_dir, "%s/elsewhere", root);
    snprintf(db_path, sizeof db_path, "%s/index.sqlite3", root);
    CHECK(mkdir(data_dir, 0755) == 0 && mkdir(spare_dir, 0755) == 0);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    test_open_errors();
    test_index_rows();
    test_athletes();
    test_api();
    test_long_trace();
    test_watcher();
    return nd_test_finish("test_index");
}
