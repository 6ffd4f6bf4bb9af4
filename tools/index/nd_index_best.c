/* The athlete's best per leg from earlier trials (nd_index.h,
 * daemon/metrics/METRICS.md 5.4): what a target given as a percentage is
 * taken of when the operator gives no best. */
#include <stdio.h>
#include <string.h>

#include "nd_index_internal.h"

/* Which trials and reps count; the leg's peak column is the only text
 * spliced in, and it is one of two fixed names. */
#define BEST_FROM                                                                                  \
    " FROM reps r JOIN trials t ON t.file_name = r.file_name"                                      \
    " WHERE t.athlete_id = ?1 AND t.status = 'complete' AND r.leg = 'both'"                        \
    " AND r.test = 'nordic'"                                                                       \
    " AND t.created_unix_s >= ?2"

static int db_error(nd_index *ix, sqlite3_stmt *st, char *err, size_t errlen)
{
    snprintf(err, errlen, "index database: %s", sqlite3_errmsg(ix->db));
    sqlite3_finalize(st);
    return -1;
}

static void copy_text(char *dst, size_t len, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, len, "%s", t ? (const char *)t : "");
}

static int best_of_leg(nd_index *ix, const char *athlete_id, int64_t from, const char *column,
                       nd_best_rep *out, char *err, size_t errlen)
{
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT r.%s, t.trial_id, r.\"index\", t.created_utc, t.file_name" BEST_FROM
             " AND r.%s IS NOT NULL ORDER BY r.%s DESC, t.created_unix_s DESC, t.file_name DESC,"
             " r.row LIMIT 1",
             column, column, column);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(ix, st, err, errlen);
    sqlite3_bind_text(st, 1, athlete_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, from);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->found = true;
        out->peak_N = sqlite3_column_double(st, 0);
        copy_text(out->trial_id, sizeof out->trial_id, st, 1);
        out->rep = (long)sqlite3_column_int64(st, 2);
        copy_text(out->created_utc, sizeof out->created_utc, st, 3);
        copy_text(out->file_name, sizeof out->file_name, st, 4);
    } else if (rc != SQLITE_DONE) {
        return db_error(ix, st, err, errlen);
    }
    sqlite3_finalize(st);
    return 0;
}

int nd_index_athlete_best(nd_index *ix, const char *athlete_id, int64_t from_unix_s,
                          nd_athlete_best *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (best_of_leg(ix, athlete_id, from_unix_s, "peak_left_N", &out->leg[0], err, errlen) ||
        best_of_leg(ix, athlete_id, from_unix_s, "peak_right_N", &out->leg[1], err, errlen))
        return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db, "SELECT count(DISTINCT t.file_name)" BEST_FROM, -1, &st, NULL) !=
        SQLITE_OK)
        return db_error(ix, st, err, errlen);
    sqlite3_bind_text(st, 1, athlete_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, from_unix_s);
    if (sqlite3_step(st) != SQLITE_ROW) return db_error(ix, st, err, errlen);
    out->trials = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}
