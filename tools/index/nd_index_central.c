/* Central PostgreSQL copy of the trial index through a local outbox
 * (nd_index_central.h). */
#include "nd_index_central.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "nd_index_internal.h"
#include "nd_trial_file.h"

#define PUSH_BATCH 200 /* files per PostgreSQL transaction */
/* Advisory lock of the push transactions (any number no other user takes). */
#define ND_CENTRAL_LOCK_KEY "7236053601"

struct nd_index_central {
    nd_index *ix;
    char *conninfo;
    char station_id[ND_TRIAL_ID_MAX + 1];
    char *base_url;     /* published in nordic_stations; NULL = none */
    bool url_published; /* on this connection */
    PGconn *pg;
};

/* The outbox: one entry per change of a trials row (reps and events change
 * only with their trial row). */
static const char outbox_sql[] =
    "CREATE TABLE IF NOT EXISTS central_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " file_name TEXT NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS central_outbox_ins AFTER INSERT ON trials BEGIN"
    " INSERT INTO central_outbox (file_name) VALUES (NEW.file_name); END;"
    "CREATE TRIGGER IF NOT EXISTS central_outbox_del AFTER DELETE ON trials BEGIN"
    " INSERT INTO central_outbox (file_name) VALUES (OLD.file_name); END;";

nd_index_central *nd_index_central_open(nd_index *ix, const char *conninfo, const char *station_id,
                                        char *err, size_t errlen)
{
    char why[256];
    if (nd_trial_id_check(station_id, why, sizeof why)) {
        snprintf(err, errlen, "station id: %s", why);
        return NULL;
    }
    nd_index_central *c = calloc(1, sizeof *c);
    if (!c || !(c->conninfo = strdup(conninfo))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->ix = ix;
    snprintf(c->station_id, sizeof c->station_id, "%s", station_id);
    /* First use: queue everything already indexed. */
    sqlite3_stmt *st = NULL;
    int exists = 0;
    if (sqlite3_prepare_v2(ix->db,
                           "SELECT count(*) FROM sqlite_master WHERE name = 'central_outbox'", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        exists = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (nd_index_exec(ix, "BEGIN IMMEDIATE", err, errlen) ||
        nd_index_exec(ix, outbox_sql, err, errlen) ||
        (!exists && nd_index_exec(ix,
                                  "INSERT INTO central_outbox (file_name) SELECT file_name FROM"
                                  " trials ORDER BY file_name",
                                  err, errlen)) ||
        nd_index_exec(ix, "COMMIT", err, errlen)) {
        char ignore[8];
        nd_index_exec(ix, "ROLLBACK", ignore, sizeof ignore);
        nd_index_central_close(c);
        return NULL;
    }
    return c;
}

int nd_index_central_remove(nd_index *ix, char *err, size_t errlen)
{
    return nd_index_exec(ix,
                         "DROP TRIGGER IF EXISTS central_outbox_ins;"
                         "DROP TRIGGER IF EXISTS central_outbox_del;"
                         "DROP TABLE IF EXISTS central_outbox;",
                         err, errlen);
}

void nd_index_central_close(nd_index_central *c)
{
    if (!c) return;
    if (c->pg) PQfinish(c->pg);
    free(c->conninfo);
    free(c->base_url);
    free(c);
}

long nd_index_central_pending(nd_index_central *c)
{
    sqlite3_stmt *st = NULL;
    long n = -1;
    if (sqlite3_prepare_v2(c->ix->db, "SELECT count(DISTINCT file_name) FROM central_outbox", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* ---- the central tables: the local ones plus station_id ---------------- */

typedef struct columns {
    int n;
    char name[80][48];
    char type[80][24]; /* PostgreSQL type */
} columns;

static int local_columns(nd_index *ix, const char *table, columns *out, char *err, size_t errlen)
{
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "index database: %s", sqlite3_errmsg(ix->db));
        return -1;
    }
    out->n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && out->n < 80) {
        /* Lower case: PostgreSQL folds unquoted names, so users need no quotes. */
        snprintf(out->name[out->n], sizeof out->name[0], "%s", sqlite3_column_text(st, 1));
        for (char *ch = out->name[out->n]; *ch; ch++) *ch = (char)tolower((unsigned char)*ch);
        const char *t = (const char *)sqlite3_column_text(st, 2);
        snprintf(out->type[out->n], sizeof out->type[0], "%s",
                 !strcmp(t, "INTEGER") ? "BIGINT"
                 : !strcmp(t, "REAL")  ? "DOUBLE PRECISION"
                                       : "TEXT");
        out->n++;
    }
    sqlite3_finalize(st);
    return 0;
}

static int pg_ok(nd_index_central *c, PGresult *r, const char *what, char *err, size_t errlen)
{
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        PQclear(r);
        return 0;
    }
    snprintf(err, errlen, "central index: %s: %s", what, PQerrorMessage(c->pg));
    size_t n = strlen(err);
    while (n && (err[n - 1] == '\n' || err[n - 1] == ' ')) err[--n] = '\0';
    PQclear(r);
    return -1;
}

static int create_central(nd_index_central *c, const columns cols[3], char *err, size_t errlen)
{
    static const char *const tables[3] = {"trials", "reps", "events"};
    static const char *const keys[3] = {"station_id, file_name", "station_id, file_name, row",
                                        "station_id, file_name, row"};
    char sql[8192];
    for (int t = 0; t < 3; t++) {
        int o =
            snprintf(sql, sizeof sql,
                     "CREATE TABLE IF NOT EXISTS nordic_%s (station_id TEXT NOT NULL", tables[t]);
        for (int i = 0; i < cols[t].n; i++)
            o += snprintf(sql + o, sizeof sql - (size_t)o, ", \"%s\" %s", cols[t].name[i],
                          cols[t].type[i]);
        snprintf(sql + o, sizeof sql - (size_t)o, ", PRIMARY KEY (%s))", keys[t]);
        if (pg_ok(c, PQexec(c->pg, sql), "creating tables", err, errlen)) return -1;
        /* Central tables made by an older station get the columns added
         * since (e.g. reps.leg), so its upserts keep naming every column. */
        o = snprintf(sql, sizeof sql, "ALTER TABLE nordic_%s", tables[t]);
        for (int i = 0; i < cols[t].n; i++)
            o += snprintf(sql + o, sizeof sql - (size_t)o, "%s ADD COLUMN IF NOT EXISTS \"%s\" %s",
                          i ? "," : "", cols[t].name[i], cols[t].type[i]);
        if (pg_ok(c, PQexec(c->pg, sql), "adding columns", err, errlen)) return -1;
    }
    /* What a hub pulls (nd_index_hub.h): every upsert and delete takes the
     * next number of one sequence; deletes leave a tombstone; each station
     * publishes the base URL its files are fetched from. ALTER for central
     * tables made before the hub existed (one implicit transaction under the
     * push lock, so the numbers given to old rows keep the order too). */
    PGresult *have = PQexec(c->pg, "SELECT to_regclass('nordic_stations') IS NOT NULL AND"
                                   " to_regclass('nordic_deleted') IS NOT NULL AND EXISTS (SELECT"
                                   " 1 FROM information_schema.columns WHERE table_name ="
                                   " 'nordic_trials' AND column_name = 'change_seq')");
    bool ready = PQresultStatus(have) == PGRES_TUPLES_OK && !strcmp(PQgetvalue(have, 0, 0), "t");
    PQclear(have);
    /* Made once (by the tables' owner); a station role without DDL rights skips it. */
    if (!ready &&
        pg_ok(c,
              PQexec(c->pg, "SELECT pg_advisory_xact_lock(" ND_CENTRAL_LOCK_KEY ");"
                            "CREATE SEQUENCE IF NOT EXISTS nordic_change_seq;"
                            "ALTER TABLE nordic_trials ADD COLUMN IF NOT EXISTS change_seq BIGINT;"
                            "CREATE INDEX IF NOT EXISTS nordic_trials_by_change ON"
                            " nordic_trials (change_seq);"
                            "UPDATE nordic_trials SET change_seq = nextval('nordic_change_seq')"
                            " WHERE change_seq IS NULL;"
                            "CREATE TABLE IF NOT EXISTS nordic_deleted (station_id TEXT NOT NULL,"
                            " file_name TEXT NOT NULL, change_seq BIGINT NOT NULL,"
                            " PRIMARY KEY (station_id, file_name));"
                            "CREATE TABLE IF NOT EXISTS nordic_stations (station_id TEXT PRIMARY"
                            " KEY, base_url TEXT, updated_utc TIMESTAMPTZ NOT NULL);"
                            "CREATE INDEX IF NOT EXISTS nordic_deleted_by_change ON"
                            " nordic_deleted (change_seq)"),
              "creating the change tables", err, errlen))
        return -1;
    return pg_ok(c,
                 PQexec(c->pg, "CREATE INDEX IF NOT EXISTS nordic_trials_by_trial_id ON"
                               " nordic_trials (trial_id);"
                               "CREATE INDEX IF NOT EXISTS nordic_trials_by_athlete ON"
                               " nordic_trials (athlete_id, created_unix_s);"
                               /* A hub's list over every station: newest first. */
                               "CREATE INDEX IF NOT EXISTS nordic_trials_by_created ON"
                               " nordic_trials (created_unix_s, station_id, file_name);"
                               "CREATE INDEX IF NOT EXISTS nordic_trials_by_mtime ON"
                               " nordic_trials (file_mtime_ns)"),
                 "creating indexes", err, errlen);
}

static const char *const local_tables[3] = {"trials", "reps", "events"};
static const char *const insert_names[3] = {"nd_ins_trials", "nd_ins_reps", "nd_ins_events"};

/* INSERT of one local row (station_id first); the trial row is an upsert. */
static void insert_sql(const columns *cols, int t, char *sql, size_t len)
{
    int o = snprintf(sql, len, "INSERT INTO nordic_%s (station_id", local_tables[t]);
    for (int i = 0; i < cols->n; i++)
        o += snprintf(sql + o, len - (size_t)o, ", \"%s\"", cols->name[i]);
    if (t == 0) o += snprintf(sql + o, len - (size_t)o, ", change_seq");
    o += snprintf(sql + o, len - (size_t)o, ") VALUES ($1");
    for (int i = 0; i < cols->n; i++) o += snprintf(sql + o, len - (size_t)o, ", $%d", i + 2);
    if (t == 0) o += snprintf(sql + o, len - (size_t)o, ", nextval('nordic_change_seq')");
    o += snprintf(sql + o, len - (size_t)o, ")");
    if (t == 0) {
        o += snprintf(sql + o, len - (size_t)o,
                      " ON CONFLICT (station_id, file_name) DO UPDATE SET");
        for (int i = 0; i < cols->n; i++)
            o += snprintf(sql + o, len - (size_t)o, "%s \"%s\" = EXCLUDED.\"%s\"", i ? "," : "",
                          cols->name[i], cols->name[i]);
        snprintf(sql + o, len - (size_t)o, ", change_seq = EXCLUDED.change_seq");
    }
}

/* Statements parsed once per connection (a push sends thousands). */
static int prepare_statements(nd_index_central *c, const columns cols[3], char *err, size_t errlen)
{
    char sql[16384];
    for (int t = 0; t < 3; t++) {
        insert_sql(&cols[t], t, sql, sizeof sql);
        if (pg_ok(c, PQprepare(c->pg, insert_names[t], sql, cols[t].n + 1, NULL), "prepare", err,
                  errlen))
            return -1;
    }
    if (pg_ok(c,
              PQprepare(c->pg, "nd_del_children",
                        "WITH r AS (DELETE FROM nordic_reps WHERE station_id = $1 AND"
                        " file_name = $2) DELETE FROM nordic_events WHERE station_id = $1 AND"
                        " file_name = $2",
                        2, NULL),
              "prepare", err, errlen))
        return -1;
    /* A trial row and its tombstone never both exist: a hub applies either. */
    if (pg_ok(c,
              PQprepare(c->pg, "nd_untomb",
                        "DELETE FROM nordic_deleted WHERE station_id = $1 AND file_name = $2", 2,
                        NULL),
              "prepare", err, errlen))
        return -1;
    return pg_ok(c,
                 PQprepare(c->pg, "nd_del_trial",
                           "WITH d AS (DELETE FROM nordic_trials WHERE station_id = $1 AND"
                           " file_name = $2) INSERT INTO nordic_deleted VALUES ($1, $2,"
                           " nextval('nordic_change_seq')) ON CONFLICT (station_id, file_name)"
                           " DO UPDATE SET change_seq = EXCLUDED.change_seq",
                           2, NULL),
                 "prepare", err, errlen);
}

/* Copies the local rows of one file (all columns as text, NULL as NULL)
 * into PostgreSQL: upsert of the trial row, its reps and events replaced. */
static int send_file(nd_index_central *c, const columns cols[3], const char *file_name, char *err,
                     size_t errlen)
{
    const char *params[82];
    const char *key[2] = {c->station_id, file_name};
    /* Gone or replaced: its old rows go first (idempotent). */
    if (pg_ok(c, PQexecPrepared(c->pg, "nd_del_children", 2, key, NULL, NULL, 0),
              "deleting reps and events", err, errlen) ||
        pg_ok(c, PQexecPrepared(c->pg, "nd_untomb", 2, key, NULL, NULL, 0), "clearing a tombstone",
              err, errlen))
        return -1;
    int found = 0;
    for (int t = 0; t < 3; t++) {
        char sel[256];
        snprintf(sel, sizeof sel, "SELECT * FROM %s WHERE file_name = ?1%s", local_tables[t],
                 t ? " ORDER BY row" : "");
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(c->ix->db, sel, -1, &st, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "index database: %s", sqlite3_errmsg(c->ix->db));
            return -1;
        }
        sqlite3_bind_text(st, 1, file_name, -1, SQLITE_TRANSIENT);
        int rc = 0;
        char num[80][40];
        while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
            if (t == 0) found = 1;
            params[0] = c->station_id;
            for (int i = 0; i < cols[t].n; i++) {
                int type = sqlite3_column_type(st, i);
                if (type == SQLITE_NULL) {
                    params[i + 1] = NULL;
                } else if (type == SQLITE_FLOAT) {
                    /* %.17g: PostgreSQL reads back the same double. */
                    snprintf(num[i], sizeof num[i], "%.17g", sqlite3_column_double(st, i));
                    params[i + 1] = num[i];
                } else {
                    params[i + 1] = (const char *)sqlite3_column_text(st, i);
                }
            }
            rc = pg_ok(c,
                       PQexecPrepared(c->pg, insert_names[t], cols[t].n + 1, params, NULL, NULL, 0),
                       "upserting rows", err, errlen);
        }
        sqlite3_finalize(st);
        if (rc) return -1;
        if (t == 0 && !found) /* removed locally */
            return pg_ok(c, PQexecPrepared(c->pg, "nd_del_trial", 2, key, NULL, NULL, 0),
                         "deleting the trial", err, errlen);
    }
    return 0;
}

int nd_index_central_push(nd_index_central *c, char *err, size_t errlen)
{
    if (c->pg && PQstatus(c->pg) != CONNECTION_OK) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    columns cols[3];
    if (local_columns(c->ix, "trials", &cols[0], err, errlen) ||
        local_columns(c->ix, "reps", &cols[1], err, errlen) ||
        local_columns(c->ix, "events", &cols[2], err, errlen))
        return -1;
    if (!c->pg) {
        c->pg = PQconnectdb(c->conninfo);
        if (PQstatus(c->pg) != CONNECTION_OK) {
            snprintf(err, errlen, "central index: cannot connect: %s", PQerrorMessage(c->pg));
            size_t n = strlen(err);
            while (n && (err[n - 1] == '\n' || err[n - 1] == ' ')) err[--n] = '\0';
            PQfinish(c->pg);
            c->pg = NULL;
            return -1;
        }
        PQclear(PQexec(c->pg, "SET client_min_messages = warning"));
        c->url_published = false;
        if (create_central(c, cols, err, errlen) || prepare_statements(c, cols, err, errlen)) {
            PQfinish(c->pg);
            c->pg = NULL;
            return -1;
        }
    }
    if (c->base_url && !c->url_published) {
        const char *p[2] = {c->station_id, c->base_url};
        if (pg_ok(c,
                  PQexecParams(c->pg,
                               "INSERT INTO nordic_stations VALUES ($1, $2, now()) ON CONFLICT"
                               " (station_id) DO UPDATE SET base_url = EXCLUDED.base_url,"
                               " updated_utc = EXCLUDED.updated_utc",
                               2, NULL, p, NULL, NULL, 0),
                  "publishing the base URL", err, errlen))
            return -1;
        c->url_published = true;
    }
    int sent = 0;
    for (;;) {
        /* A batch: the newest queued position and the distinct files up to it. */
        sqlite3_stmt *st = NULL;
        char sel[256];
        snprintf(sel, sizeof sel,
                 "SELECT file_name, max(seq) FROM central_outbox GROUP BY file_name"
                 " ORDER BY max(seq) LIMIT %d",
                 PUSH_BATCH);
        if (sqlite3_prepare_v2(c->ix->db, sel, -1, &st, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "index database: %s", sqlite3_errmsg(c->ix->db));
            return -1;
        }
        char(*names)[NAME_MAX + 1] = calloc(PUSH_BATCH, sizeof *names);
        long long upto = -1;
        int n = 0;
        while (names && sqlite3_step(st) == SQLITE_ROW && n < PUSH_BATCH) {
            snprintf(names[n++], sizeof names[0], "%s", sqlite3_column_text(st, 0));
            upto = sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
        if (!names) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (n == 0) {
            free(names);
            return sent;
        }
        /* Local reads see one snapshot; the server commits the batch at once. */
        int rc = nd_index_exec(c->ix, "BEGIN", err, errlen);
        if (rc == 0) rc = pg_ok(c, PQexec(c->pg, "BEGIN"), "begin", err, errlen);
        /* Pushes take their change numbers one transaction at a time, so a
         * hub that saw number N has seen every committed change below it. */
        if (rc == 0)
            rc = pg_ok(c, PQexec(c->pg, "SELECT pg_advisory_xact_lock(" ND_CENTRAL_LOCK_KEY ")"),
                       "lock", err, errlen);
        for (int i = 0; rc == 0 && i < n; i++) rc = send_file(c, cols, names[i], err, errlen);
        if (rc == 0) rc = pg_ok(c, PQexec(c->pg, "COMMIT"), "commit", err, errlen);
        char ignore[8];
        if (rc) {
            PQclear(PQexec(c->pg, "ROLLBACK"));
            nd_index_exec(c->ix, "ROLLBACK", ignore, sizeof ignore);
            free(names);
            return -1;
        }
        /* Sent: drop those files' entries up to the batch's position (later
         * changes of the same files stay queued). */
        sqlite3_stmt *del = NULL;
        rc = sqlite3_prepare_v2(c->ix->db,
                                "DELETE FROM central_outbox WHERE file_name = ?1 AND seq <= ?2", -1,
                                &del, NULL) == SQLITE_OK
                 ? 0
                 : -1;
        for (int i = 0; rc == 0 && i < n; i++) {
            sqlite3_bind_text(del, 1, names[i], -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(del, 2, upto);
            rc = sqlite3_step(del) == SQLITE_DONE ? 0 : -1;
            sqlite3_reset(del);
        }
        sqlite3_finalize(del);
        free(names);
        if (rc || nd_index_exec(c->ix, "COMMIT", err, errlen)) {
            /* The server has them; sending them again is harmless. */
            nd_index_exec(c->ix, "ROLLBACK", ignore, sizeof ignore);
            snprintf(err, errlen, "index database: %s", sqlite3_errmsg(c->ix->db));
            return -1;
        }
        sent += n;
    }
}

int nd_index_central_set_base_url(nd_index_central *c, const char *base_url, char *err,
                                  size_t errlen)
{
    char *copy = NULL;
    if (base_url && *base_url) {
        if (strncmp(base_url, "http://", 7) && strncmp(base_url, "https://", 8)) {
            snprintf(err, errlen, "base URL '%s' must start with http:// or https://", base_url);
            return -1;
        }
        if (!(copy = strdup(base_url))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        /* Joined with "/api/v1/..." by the hub. */
        size_t n = strlen(copy);
        while (n > 8 && copy[n - 1] == '/') copy[--n] = '\0';
    }
    free(c->base_url);
    c->base_url = copy;
    c->url_published = false;
    return 0;
}
