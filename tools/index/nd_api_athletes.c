/* /api/v1/athletes: list and search, create, read, update, history. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_api_internal.h"
#include "nd_index_internal.h"

#define ID_BUF 256

static int db_fail(nd_index *ix, nd_api_response *out)
{
    return api_error(out, 500, NULL, "index database: %s", sqlite3_errmsg(ix->db));
}

static cJSON *athlete_json(const nd_athlete *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", a->id);
    cJSON_AddStringToObject(o, "display_name", a->display_name);
    cJSON_AddItemToObject(o, "body_mass_kg", nd_index_json_number(a->body_mass_kg));
    cJSON_AddItemToObject(o, "lever_m", nd_index_json_number(a->lever_m));
    cJSON_AddStringToObject(o, "injured_side", a->injured_side);
    cJSON_AddStringToObject(o, "notes", a->notes);
    cJSON_AddStringToObject(o, "created_utc", a->created_utc);
    cJSON_AddStringToObject(o, "updated_utc", a->updated_utc);
    return o;
}

static int list_athletes(nd_index *ix, const char *query, nd_api_response *out)
{
    static const char *const allowed[] = {"q", "limit", "cursor", NULL};
    api_query q;
    if (api_query_parse(query, allowed, &q, out)) return 0;
    long limit;
    if (api_parse_limit(&q, &limit, out)) return 0;
    const char *search = api_query_get(&q, "q");
    if (search && api_check_search(search, "q", out)) return 0;
    const char *cursor = api_query_get(&q, "cursor");
    int64_t unused;
    char after[ID_BUF];
    if (cursor && api_cursor_decode(cursor, &unused, after, sizeof after))
        return api_error(out, 400, "cursor", "cursor is not one this server handed out");
    /* The search is a substring of id or display name; LIKE wildcards in
     * it are escaped, and it is bound, never spliced into the SQL. */
    char pattern[2 * API_MAX_VALUE + 3] = "%";
    if (search) {
        size_t o = 1;
        for (const char *c = search; *c && o + 3 < sizeof pattern; c++) {
            if (*c == '%' || *c == '_' || *c == '\\') pattern[o++] = '\\';
            pattern[o++] = *c;
        }
        pattern[o++] = '%';
        pattern[o] = '\0';
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT id, display_name, body_mass_kg, lever_m, injured_side, notes, created_utc,"
             " updated_utc FROM athletes WHERE 1=1%s%s ORDER BY id LIMIT ?3",
             search ? " AND (id LIKE ?1 ESCAPE '\\' OR display_name LIKE ?1 ESCAPE '\\')" : "",
             cursor ? " AND id > ?2" : "");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(ix, out);
    if (search) sqlite3_bind_text(st, 1, pattern, -1, SQLITE_TRANSIENT);
    if (cursor) sqlite3_bind_text(st, 2, after, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, limit + 1);
    cJSON *root = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(root, "items");
    long n = 0;
    bool more = false;
    int rc;
    char next[700] = "";
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            rc = SQLITE_DONE;
            break;
        }
        nd_athlete a;
        memset(&a, 0, sizeof a);
        snprintf(a.id, sizeof a.id, "%s", sqlite3_column_text(st, 0));
        snprintf(a.display_name, sizeof a.display_name, "%s", sqlite3_column_text(st, 1));
        a.body_mass_kg = sqlite3_column_double(st, 2);
        a.lever_m = sqlite3_column_double(st, 3);
        snprintf(a.injured_side, sizeof a.injured_side, "%s", sqlite3_column_text(st, 4));
        snprintf(a.notes, sizeof a.notes, "%s", sqlite3_column_text(st, 5));
        snprintf(a.created_utc, sizeof a.created_utc, "%s", sqlite3_column_text(st, 6));
        snprintf(a.updated_utc, sizeof a.updated_utc, "%s", sqlite3_column_text(st, 7));
        cJSON_AddItemToArray(items, athlete_json(&a));
        api_cursor_encode(0, a.id, next, sizeof next);
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        cJSON_Delete(root);
        return db_fail(ix, out);
    }
    if (more)
        cJSON_AddStringToObject(root, "next_cursor", next);
    else
        cJSON_AddNullToObject(root, "next_cursor");
    return api_json(out, 200, root);
}

/* Copies a string field of body into dst (size dstlen); 400 when it is not
 * a string or longer than max bytes. */
static int take_string(const cJSON *item, char *dst, size_t dstlen, size_t max,
                       nd_api_response *out)
{
    if (!cJSON_IsString(item)) {
        api_error(out, 400, item->string, "%s must be a string", item->string);
        return -1;
    }
    if (strlen(item->valuestring) > max || strlen(item->valuestring) >= dstlen) {
        api_error(out, 400, item->string, "%s is longer than %zu bytes", item->string, max);
        return -1;
    }
    snprintf(dst, dstlen, "%s", item->valuestring);
    return 0;
}

static int take_number(const cJSON *item, double *dst, nd_api_response *out)
{
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble)) {
        api_error(out, 400, item->string, "%s must be a number", item->string);
        return -1;
    }
    *dst = item->valuedouble;
    return 0;
}

/* Applies the fields of a JSON body to *a. creating: id and display_name
 * required. path_id: the id in the URL (PUT), body's id must match it. */
static int apply_body(const char *body, size_t body_len, bool creating, const char *path_id,
                      nd_athlete *a, nd_api_response *out)
{
    if (!body || body_len == 0) return api_error(out, 400, "body", "a JSON object is required"), -1;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(body, body_len, &end, false);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return api_error(out, 400, "body", "the body is not a JSON object"), -1;
    }
    for (const char *p = end; p && p < body + body_len; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            cJSON_Delete(j);
            return api_error(out, 400, "body", "text after the JSON object"), -1;
        }
    bool have_id = false, have_name = false;
    int rc = 0;
    for (const cJSON *it = j->child; it && rc == 0; it = it->next) {
        /* A key given twice would make the result depend on the parser. */
        for (const cJSON *dup = j->child; dup != it; dup = dup->next)
            if (strcmp(dup->string, it->string) == 0) {
                api_error(out, 400, it->string, "field '%s' given twice", it->string);
                rc = -1;
            }
        if (rc) break;
        const char *k = it->string;
        if (strcmp(k, "id") == 0) {
            char id[ID_BUF];
            rc = take_string(it, id, sizeof id, ND_ATHLETE_ID_MAX, out);
            if (rc == 0 && path_id && strcmp(id, path_id) != 0) {
                api_error(out, 400, "id", "id in the body differs from the id in the path");
                rc = -1;
            }
            if (rc == 0) snprintf(a->id, sizeof a->id, "%s", id);
            have_id = true;
        } else if (strcmp(k, "display_name") == 0) {
            rc = take_string(it, a->display_name, sizeof a->display_name, ND_ATHLETE_NAME_MAX, out);
            have_name = true;
        } else if (strcmp(k, "body_mass_kg") == 0) {
            rc = take_number(it, &a->body_mass_kg, out);
        } else if (strcmp(k, "lever_m") == 0) {
            rc = take_number(it, &a->lever_m, out);
        } else if (strcmp(k, "injured_side") == 0) {
            rc = take_string(it, a->injured_side, sizeof a->injured_side, 5, out);
            if (rc && out->status == 400) {
                nd_api_response_free(out);
                api_error(out, 400, "injured_side", "injured_side must be none, left or right");
            }
        } else if (strcmp(k, "notes") == 0) {
            rc = take_string(it, a->notes, sizeof a->notes, ND_ATHLETE_NOTES_MAX, out);
        } else {
            api_error(out, 400, k, "unknown field '%s'", k);
            rc = -1;
        }
    }
    cJSON_Delete(j);
    if (rc) return -1;
    if (creating && !have_id) return api_error(out, 400, "id", "id is required"), -1;
    if (creating && !have_name)
        return api_error(out, 400, "display_name", "display_name is required"), -1;
    const char *bad = NULL;
    char why[256];
    if (nd_athlete_validate(a, &bad, why, sizeof why))
        return api_error(out, 400, bad, "%s", why), -1;
    return 0;
}

static int create_athlete(nd_index *ix, const char *body, size_t body_len, nd_api_response *out)
{
    nd_athlete a;
    memset(&a, 0, sizeof a);
    snprintf(a.injured_side, sizeof a.injured_side, "none");
    if (apply_body(body, body_len, true, NULL, &a, out)) return 0;
    char err[512];
    int rc = nd_index_athlete_create(ix, &a, err, sizeof err);
    if (rc == 1) return api_error(out, 409, "id", "%s", err);
    if (rc) return api_error(out, 500, NULL, "%s", err);
    return api_json(out, 201, athlete_json(&a));
}

static int update_athlete(nd_index *ix, const char *id, const char *body, size_t body_len,
                          nd_api_response *out)
{
    nd_athlete a;
    char err[512];
    int rc = nd_index_athlete_get(ix, id, &a, err, sizeof err);
    if (rc == 1) return api_error(out, 404, "id", "%s", err);
    if (rc) return api_error(out, 500, NULL, "%s", err);
    if (apply_body(body, body_len, false, id, &a, out)) return 0;
    rc = nd_index_athlete_update(ix, &a, err, sizeof err);
    if (rc == 1) return api_error(out, 404, "id", "%s", err);
    if (rc) return api_error(out, 500, NULL, "%s", err);
    return api_json(out, 200, athlete_json(&a));
}

static int history(nd_index *ix, const char *id, nd_api_response *out)
{
    nd_athlete a;
    char err[512];
    int found = nd_index_athlete_get(ix, id, &a, err, sizeof err);
    if (found < 0) return api_error(out, 500, NULL, "%s", err);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db,
                           "SELECT " API_TRIAL_ITEM_SELECT " FROM trials WHERE athlete_id = ?1"
                           " ORDER BY created_unix_s, file_name",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(ix, out);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "athlete_id", id);
    cJSON_AddItemToObject(root, "athlete", found == 0 ? athlete_json(&a) : cJSON_CreateNull());
    cJSON *trials = cJSON_AddArrayToObject(root, "trials");
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON_AddItemToArray(trials, api_trial_item(st));
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        cJSON_Delete(root);
        return db_fail(ix, out);
    }
    if (found == 1 && n == 0) {
        cJSON_Delete(root);
        return api_error(out, 404, "id", "no athlete '%s' and no trials of it", id);
    }
    return api_json(out, 200, root);
}

static cJSON *best_rep_json(const nd_best_rep *b)
{
    if (!b->found) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "peak_N", nd_index_json_number(b->peak_N));
    cJSON_AddStringToObject(o, "trial_id", b->trial_id);
    cJSON_AddNumberToObject(o, "rep", (double)b->rep);
    cJSON_AddStringToObject(o, "created_utc", b->created_utc);
    cJSON_AddStringToObject(o, "file_name", b->file_name);
    return o;
}

/* GET /api/v1/athletes/{id}/best[?from=T]: the highest bilateral rep peak
 * per leg over the athlete's complete trials (METRICS.md 5.4). A leg
 * without such a rep is null; 404 only when the athlete is neither in the
 * registry nor in any trial (as the history). */
static int best(nd_index *ix, const char *id, const api_query *q, nd_api_response *out)
{
    bool from_given = false;
    int64_t from = ND_BEST_NO_FROM;
    if (api_parse_time(q, "from", &from_given, &from, out)) return 0;
    if (!from_given) from = ND_BEST_NO_FROM;
    nd_athlete a;
    char err[512];
    int found = nd_index_athlete_get(ix, id, &a, err, sizeof err);
    if (found < 0) return api_error(out, 500, NULL, "%s", err);
    if (found == 1) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(ix->db, "SELECT 1 FROM trials WHERE athlete_id = ?1 LIMIT 1", -1,
                               &st, NULL) != SQLITE_OK)
            return db_fail(ix, out);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE)
            return api_error(out, 404, "id", "no athlete '%s' and no trials of it", id);
        if (rc != SQLITE_ROW) return db_fail(ix, out);
    }
    nd_athlete_best b;
    if (nd_index_athlete_best(ix, id, from, &b, err, sizeof err))
        return api_error(out, 500, NULL, "%s", err);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "athlete_id", id);
    if (from_given) {
        char iso[32];
        nd_index_iso_utc(from, iso, sizeof iso);
        cJSON_AddStringToObject(root, "from", iso);
    } else {
        cJSON_AddNullToObject(root, "from");
    }
    cJSON_AddNumberToObject(root, "trials", (double)b.trials);
    cJSON_AddItemToObject(root, "left", best_rep_json(&b.leg[0]));
    cJSON_AddItemToObject(root, "right", best_rep_json(&b.leg[1]));
    return api_json(out, 200, root);
}

int api_athletes(nd_index *ix, const char *method, const char *rest, const char *query,
                 const char *body, size_t body_len, nd_api_response *out)
{
    bool get = strcmp(method, "GET") == 0;
    if (!*rest) {
        if (get) return list_athletes(ix, query, out);
        if (strcmp(method, "POST") == 0) {
            api_query q;
            static const char *const none[] = {NULL};
            if (api_query_parse(query, none, &q, out)) return 0;
            return create_athlete(ix, body, body_len, out);
        }
        return api_error(out, 405, NULL, "method %.16s not allowed (GET, POST)", method);
    }
    const char *seg = rest + 1;
    const char *slash = strchr(seg, '/');
    size_t seglen = slash ? (size_t)(slash - seg) : strlen(seg);
    const char *what = slash ? slash + 1 : "";
    char id[ID_BUF];
    if (api_decode_segment(seg, seglen, id, sizeof id))
        return api_error(out, 400, "id", "athlete id is malformed or too long");
    if (api_check_id(id, "id", out)) return 0;
    api_query q;
    static const char *const none[] = {NULL}, *const best_params[] = {"from", NULL};
    bool is_best = strcmp(what, "best") == 0;
    if (api_query_parse(query, is_best ? best_params : none, &q, out)) return 0;
    if (is_best) {
        if (!get) return api_error(out, 405, NULL, "method %.16s not allowed (GET)", method);
        return best(ix, id, &q, out);
    }
    if (strcmp(what, "history") == 0) {
        if (!get) return api_error(out, 405, NULL, "method %.16s not allowed (GET)", method);
        return history(ix, id, out);
    }
    if (*what) return api_error(out, 404, NULL, "no such resource under /api/v1/athletes/%s", id);
    if (get) {
        nd_athlete a;
        char err[512];
        int rc = nd_index_athlete_get(ix, id, &a, err, sizeof err);
        if (rc == 1) return api_error(out, 404, "id", "%s", err);
        if (rc) return api_error(out, 500, NULL, "%s", err);
        return api_json(out, 200, athlete_json(&a));
    }
    if (strcmp(method, "PUT") == 0) return update_athlete(ix, id, body, body_len, out);
    return api_error(out, 405, NULL, "method %.16s not allowed (GET, PUT)", method);
}
