/* Athlete registry: the index's only primary data (nd_index.h). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nd_index_internal.h"
#include "nd_trial_file.h"

static int has_control_chars(const char *s, bool allow_newlines)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && !(allow_newlines && (*p == '\n' || *p == '\t' || *p == '\r'))) ||
            *p == 0x7f)
            return 1;
    return 0;
}

int nd_athlete_validate(const nd_athlete *a, const char **bad_field, char *err, size_t errlen)
{
    const char *field = NULL;
    char why[256] = "";
    if (nd_trial_athlete_id_check(a->id, why, sizeof why))
        field = "id";
    else if (!a->display_name[0] || has_control_chars(a->display_name, false)) {
        field = "display_name";
        snprintf(why, sizeof why, "display_name must be 1-%d characters without control characters",
                 ND_ATHLETE_NAME_MAX);
    } else if (!isfinite(a->body_mass_kg) || a->body_mass_kg < 0 || a->body_mass_kg > 500) {
        field = "body_mass_kg";
        snprintf(why, sizeof why, "body_mass_kg must be 0 (not given) or in (0, 500]");
    } else if (!isfinite(a->lever_m) || a->lever_m < 0 || a->lever_m > 1.5) {
        field = "lever_m";
        snprintf(why, sizeof why, "lever_m must be 0 (not given) or in (0, 1.5]");
    } else if (strcmp(a->injured_side, "none") && strcmp(a->injured_side, "left") &&
               strcmp(a->injured_side, "right")) {
        field = "injured_side";
        snprintf(why, sizeof why, "injured_side must be none, left or right");
    } else if (has_control_chars(a->notes, true)) {
        field = "notes";
        snprintf(why, sizeof why, "notes must not hold control characters other than newlines");
    }
    if (bad_field) *bad_field = field;
    if (!field) return 0;
    snprintf(err, errlen, "%s", why);
    return -1;
}

static void now_utc(char *out, size_t outlen)
{
    nd_index_iso_utc((long long)time(NULL), out, outlen);
}

static int db_error(nd_index *ix, char *err, size_t errlen)
{
    snprintf(err, errlen, "index database: %s", sqlite3_errmsg(ix->db));
    return -1;
}

static void bind_fields(sqlite3_stmt *st, const nd_athlete *a)
{
    sqlite3_bind_text(st, 1, a->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, a->display_name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 3, a->body_mass_kg);
    sqlite3_bind_double(st, 4, a->lever_m);
    sqlite3_bind_text(st, 5, a->injured_side, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, a->notes, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, a->created_utc, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, a->updated_utc, -1, SQLITE_TRANSIENT);
}

int nd_index_athlete_create(nd_index *ix, nd_athlete *a, char *err, size_t errlen)
{
    if (nd_athlete_validate(a, NULL, err, errlen)) return -1;
    now_utc(a->created_utc, sizeof a->created_utc);
    snprintf(a->updated_utc, sizeof a->updated_utc, "%s", a->created_utc);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db,
                           "INSERT INTO athletes (id, display_name, body_mass_kg, lever_m, "
                           "injured_side, notes, created_utc, updated_utc) "
                           "VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT (id) DO NOTHING",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(ix, err, errlen);
    bind_fields(st, a);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_error(ix, err, errlen);
    if (sqlite3_changes(ix->db) == 0) {
        snprintf(err, errlen, "athlete '%s' exists", a->id);
        return 1;
    }
    return 0;
}

int nd_index_athlete_update(nd_index *ix, nd_athlete *a, char *err, size_t errlen)
{
    if (nd_athlete_validate(a, NULL, err, errlen)) return -1;
    now_utc(a->updated_utc, sizeof a->updated_utc);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db,
                           "UPDATE athletes SET display_name = ?2, body_mass_kg = ?3, lever_m = ?4,"
                           " injured_side = ?5, notes = ?6, updated_utc = ?8 WHERE id = ?1"
                           " RETURNING created_utc",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(ix, err, errlen);
    bind_fields(st, a);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(a->created_utc, sizeof a->created_utc, "%s", sqlite3_column_text(st, 0));
        rc = sqlite3_step(st);
    } else if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        snprintf(err, errlen, "no athlete '%s'", a->id);
        return 1;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_error(ix, err, errlen);
}

int nd_index_athlete_get(nd_index *ix, const char *id, nd_athlete *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db,
                           "SELECT id, display_name, body_mass_kg, lever_m, injured_side, notes,"
                           " created_utc, updated_utc FROM athletes WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(ix, err, errlen);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        snprintf(out->id, sizeof out->id, "%s", sqlite3_column_text(st, 0));
        snprintf(out->display_name, sizeof out->display_name, "%s", sqlite3_column_text(st, 1));
        out->body_mass_kg = sqlite3_column_double(st, 2);
        out->lever_m = sqlite3_column_double(st, 3);
        snprintf(out->injured_side, sizeof out->injured_side, "%s", sqlite3_column_text(st, 4));
        snprintf(out->notes, sizeof out->notes, "%s", sqlite3_column_text(st, 5));
        snprintf(out->created_utc, sizeof out->created_utc, "%s", sqlite3_column_text(st, 6));
        snprintf(out->updated_utc, sizeof out->updated_utc, "%s", sqlite3_column_text(st, 7));
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        snprintf(err, errlen, "no athlete '%s'", id);
        return 1;
    }
    return db_error(ix, err, errlen);
}

int nd_index_athlete_delete(nd_index *ix, const char *id, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db, "DELETE FROM athletes WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return db_error(ix, err, errlen);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_error(ix, err, errlen);
    if (sqlite3_changes(ix->db) == 0) {
        snprintf(err, errlen, "no athlete '%s'", id);
        return 1;
    }
    return 0;
}
