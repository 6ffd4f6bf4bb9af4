/* A hub's SQLite mirror of the central PostgreSQL index (nd_index_hub.h). */
#include "nd_index_hub.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "nd_index_internal.h"
#include "nd_log.h"

#define PULL_BATCH 500 /* trials per step of a pull (bounds the memory of a first pull) */

/* PostgreSQL type oids (pg_type.h is not in libpq-dev's client headers). */
#define OID_INT8   20
#define OID_INT2   21
#define OID_INT4   23
#define OID_FLOAT4 700
#define OID_FLOAT8 701

static const char mirror_sql[] =
    "CREATE TABLE IF NOT EXISTS hub_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS hub_stations (station_id TEXT PRIMARY KEY, base_url TEXT);";

struct nd_index_hub {
    nd_index *ix;
    char *conninfo;
    int poll_ms;
    int stop_fd;
    pthread_t thread;
};

static void trim(char *err)
{
    size_t n = strlen(err);
    while (n && (err[n - 1] == '\n' || err[n - 1] == ' ')) err[--n] = '\0';
}

static int pg_fail(PGconn *pg, PGresult *r, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "central index: %s: %s", what, PQerrorMessage(pg));
    trim(err);
    PQclear(r);
    return -1;
}

/* 1 when the central tables exist (a station of this version pushed), 0
 * when not yet, -1 on error. */
static int central_ready(PGconn *pg, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg, "SELECT to_regclass('nordic_trials') IS NOT NULL AND"
                             " to_regclass('nordic_deleted') IS NOT NULL AND"
                             " to_regclass('nordic_stations') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return pg_fail(pg, r, "reading tables", err, errlen);
    int ready = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return ready;
}

/* Binds field f of row of r to parameter p, by the column's type. */
static void bind_pg_value(sqlite3_stmt *st, int p, PGresult *r, int row, int f)
{
    if (PQgetisnull(r, row, f)) {
        sqlite3_bind_null(st, p);
        return;
    }
    const char *v = PQgetvalue(r, row, f);
    switch (PQftype(r, f)) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        sqlite3_bind_int64(st, p, strtoll(v, NULL, 10));
        break;
    case OID_FLOAT4:
    case OID_FLOAT8:
        /* PostgreSQL prints the shortest text that reads back to the same
         * double; strtod reads it back exactly. */
        sqlite3_bind_double(st, p, strtod(v, NULL));
        break;
    default:
        sqlite3_bind_text(st, p, v, -1, SQLITE_TRANSIENT);
    }
}

/* Whether field f of r is copied into table: not the central-only columns,
 * and only columns the local table has (a server written by another version
 * may carry more; they are left out rather than failing every pull). */
static bool copied(nd_index *ix, const char *table, PGresult *r, int f)
{
    const char *name = PQfname(r, f);
    if (!strcmp(name, "station_id") || !strcmp(name, "change_seq")) return false;
    return sqlite3_table_column_metadata(ix->db, NULL, table, name, NULL, NULL, NULL, NULL, NULL) ==
           SQLITE_OK;
}

/* INSERT of every row of r into table, the qualified key columns rewritten:
 * file_name -> "<station>/<file_name>", trial_id -> "<station>:<trial_id>".
 * Columns station_id and change_seq are the central ones, not copied. */
static int insert_rows(nd_index *ix, const char *table, PGresult *r, char *err, size_t errlen)
{
    int nf = PQnfields(r), station_f = PQfnumber(r, "station_id");
    if (nf > 128) {
        snprintf(err, errlen, "hub mirror: %d columns in the central %s table", nf, table);
        return -1;
    }
    bool copy[128];
    char sql[8192];
    int o = snprintf(sql, sizeof sql, "INSERT INTO %s (", table);
    int np = 0;
    for (int f = 0; f < nf; f++) {
        if (!(copy[f] = copied(ix, table, r, f))) continue;
        o += snprintf(sql + o, sizeof sql - (size_t)o, "%s\"%s\"", np++ ? ", " : "", PQfname(r, f));
    }
    o += snprintf(sql + o, sizeof sql - (size_t)o, ") VALUES (");
    for (int i = 1; i <= np; i++)
        o += snprintf(sql + o, sizeof sql - (size_t)o, i > 1 ? ", ?%d" : "?%d", i);
    snprintf(sql + o, sizeof sql - (size_t)o, ")");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "hub mirror: %s", sqlite3_errmsg(ix->db));
        return -1;
    }
    int rc = 0;
    for (int row = 0; rc == 0 && row < PQntuples(r); row++) {
        const char *station = PQgetvalue(r, row, station_f);
        int p = 1;
        for (int f = 0; f < nf; f++) {
            if (!copy[f]) continue;
            const char *name = PQfname(r, f);
            char sep = !strcmp(name, "file_name") ? '/' : !strcmp(name, "trial_id") ? ':' : 0;
            if (sep && !PQgetisnull(r, row, f)) {
                char q[600];
                snprintf(q, sizeof q, "%s%c%s", station, sep, PQgetvalue(r, row, f));
                sqlite3_bind_text(st, p, q, -1, SQLITE_TRANSIENT);
            } else {
                bind_pg_value(st, p, r, row, f);
            }
            p++;
        }
        if (sqlite3_step(st) != SQLITE_DONE) {
            snprintf(err, errlen, "hub mirror: %s", sqlite3_errmsg(ix->db));
            rc = -1;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

static int remove_qualified(nd_index *ix, const char *station, const char *file_name, char *err,
                            size_t errlen)
{
    char q[600];
    snprintf(q, sizeof q, "%s/%s", station, file_name);
    return nd_index_remove_file(ix, q, err, errlen);
}

static long long last_seq(nd_index *ix)
{
    sqlite3_stmt *st = NULL;
    long long v = 0;
    if (sqlite3_prepare_v2(ix->db, "SELECT value FROM hub_state WHERE key = 'change_seq'", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The stations' base URLs (a few rows: copied whole each pull). */
static int pull_stations(nd_index *ix, PGconn *pg, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg, "SELECT station_id, base_url FROM nordic_stations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(pg, r, "reading stations", err, errlen);
    int rc = nd_index_exec(ix, "DELETE FROM hub_stations", err, errlen);
    sqlite3_stmt *st = NULL;
    if (rc == 0 && sqlite3_prepare_v2(ix->db, "INSERT INTO hub_stations VALUES (?1, ?2)", -1, &st,
                                      NULL) != SQLITE_OK) {
        snprintf(err, errlen, "hub mirror: %s", sqlite3_errmsg(ix->db));
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        bind_pg_value(st, 1, r, i, 0);
        bind_pg_value(st, 2, r, i, 1);
        if (sqlite3_step(st) != SQLITE_DONE) {
            snprintf(err, errlen, "hub mirror: %s", sqlite3_errmsg(ix->db));
            rc = -1;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    PQclear(r);
    return rc;
}

/* One step: changes numbered in (from, upto], upto chosen so that at most
 * PULL_BATCH trials come. *next = upto, *done when nothing is left. */
static int pull_step(nd_index *ix, PGconn *pg, long long from, long long *next, bool *done,
                     int *changed, char *err, size_t errlen)
{
    char from_s[24], upto_s[24];
    snprintf(from_s, sizeof from_s, "%lld", from);
    char offset[16];
    snprintf(offset, sizeof offset, "%d", PULL_BATCH - 1);
    const char *p1[2] = {from_s, offset};
    /* The batch's end: the PULL_BATCH-th trial change, else the newest change. */
    PGresult *r =
        PQexecParams(pg,
                     "SELECT coalesce((SELECT change_seq FROM nordic_trials WHERE change_seq > $1"
                     " ORDER BY change_seq OFFSET $2 LIMIT 1),"
                     " greatest((SELECT max(change_seq) FROM nordic_trials),"
                     " (SELECT max(change_seq) FROM nordic_deleted)))",
                     2, NULL, p1, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return pg_fail(pg, r, "reading changes", err, errlen);
    long long upto = PQgetisnull(r, 0, 0) ? from : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (upto <= from) {
        *done = true;
        return 0;
    }
    snprintf(upto_s, sizeof upto_s, "%lld", upto);
    const char *p2[2] = {from_s, upto_s};
    static const char *const sel[4] = {
        "SELECT station_id, file_name FROM nordic_deleted WHERE change_seq > $1 AND"
        " change_seq <= $2",
        "SELECT * FROM nordic_trials WHERE change_seq > $1 AND change_seq <= $2",
        "SELECT * FROM nordic_reps WHERE (station_id, file_name) IN (SELECT station_id,"
        " file_name FROM nordic_trials WHERE change_seq > $1 AND change_seq <= $2)",
        "SELECT * FROM nordic_events WHERE (station_id, file_name) IN (SELECT station_id,"
        " file_name FROM nordic_trials WHERE change_seq > $1 AND change_seq <= $2)"};
    PGresult *res[4] = {0};
    int rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++) {
        res[i] = PQexecParams(pg, sel[i], 2, NULL, p2, NULL, NULL, 0);
        if (PQresultStatus(res[i]) != PGRES_TUPLES_OK) {
            rc = pg_fail(pg, res[i], "reading changes", err, errlen);
            res[i] = NULL;
        }
    }
    /* Tombstones and trial rows never share a key (nd_index_central.c), so
     * the order of applying them does not matter. */
    for (int i = 0; rc == 0 && res[0] && i < PQntuples(res[0]); i++)
        rc = remove_qualified(ix, PQgetvalue(res[0], i, 0), PQgetvalue(res[0], i, 1), err, errlen);
    if (rc == 0) {
        int sf = PQfnumber(res[1], "station_id"), ff = PQfnumber(res[1], "file_name");
        for (int i = 0; rc == 0 && i < PQntuples(res[1]); i++)
            rc = remove_qualified(ix, PQgetvalue(res[1], i, sf), PQgetvalue(res[1], i, ff), err,
                                  errlen);
    }
    if (rc == 0) rc = insert_rows(ix, "trials", res[1], err, errlen);
    if (rc == 0) rc = insert_rows(ix, "reps", res[2], err, errlen);
    if (rc == 0) rc = insert_rows(ix, "events", res[3], err, errlen);
    if (rc == 0) *changed += PQntuples(res[0]) + PQntuples(res[1]);
    for (int i = 0; i < 4; i++) PQclear(res[i]);
    *next = upto;
    return rc;
}

static int pull_on(nd_index *ix, PGconn *pg, char *err, size_t errlen)
{
    char ignore[8];
    /* One snapshot of the server for the whole pull; one local transaction. */
    PGresult *r = PQexec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return pg_fail(pg, r, "begin", err, errlen);
    PQclear(r);
    int changed = 0;
    int ready = central_ready(pg, err, errlen);
    if (ready <= 0) {
        PQclear(PQexec(pg, "ROLLBACK"));
        return ready; /* no station has pushed yet: nothing to mirror */
    }
    int rc = nd_index_exec(ix, "BEGIN IMMEDIATE", err, errlen);
    if (rc == 0) rc = pull_stations(ix, pg, err, errlen);
    long long seq = last_seq(ix);
    for (bool done = false; rc == 0 && !done;)
        rc = pull_step(ix, pg, seq, &seq, &done, &changed, err, errlen);
    if (rc == 0) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(ix->db, "INSERT OR REPLACE INTO hub_state VALUES ('change_seq', ?1)",
                               -1, &st, NULL) != SQLITE_OK) {
            rc = -1;
        } else {
            sqlite3_bind_int64(st, 1, seq);
            rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        }
        sqlite3_finalize(st);
        if (rc) snprintf(err, errlen, "hub mirror: %s", sqlite3_errmsg(ix->db));
    }
    if (rc == 0) rc = nd_index_exec(ix, "COMMIT", err, errlen);
    if (rc) nd_index_exec(ix, "ROLLBACK", ignore, sizeof ignore);
    PQclear(PQexec(pg, "ROLLBACK")); /* read only: nothing to keep */
    return rc ? -1 : changed;
}

static PGconn *connect_pg(const char *conninfo, char *err, size_t errlen)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "central index: cannot connect: %s", PQerrorMessage(pg));
        trim(err);
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

static int open_mirror_tables(nd_index *ix, char *err, size_t errlen)
{
    return nd_index_exec(ix, mirror_sql, err, errlen);
}

int nd_index_hub_pull(nd_index *ix, const char *conninfo, char *err, size_t errlen)
{
    if (open_mirror_tables(ix, err, errlen)) return -1;
    PGconn *pg = connect_pg(conninfo, err, errlen);
    if (!pg) return -1;
    int rc = pull_on(ix, pg, err, errlen);
    PQfinish(pg);
    return rc;
}

int nd_index_hub_station_url(nd_index *ix, const char *station_id, char *url, size_t urllen,
                             char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ix->db, "SELECT base_url FROM hub_stations WHERE station_id = ?1", -1,
                           &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "hub mirror: %s", sqlite3_errmsg(ix->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, station_id, -1, SQLITE_TRANSIENT);
    int rc = 1;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        snprintf(url, urllen, "%s", sqlite3_column_text(st, 0));
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

static void *pull_main(void *arg)
{
    nd_index_hub *h = arg;
    PGconn *pg = NULL;
    bool warned = false; /* one line per outage, not one per retry */
    char err[1024];
    for (;;) {
        if (pg && PQstatus(pg) != CONNECTION_OK) {
            PQfinish(pg);
            pg = NULL;
        }
        if (!pg) pg = connect_pg(h->conninfo, err, sizeof err);
        int rc = pg ? pull_on(h->ix, pg, err, sizeof err) : -1;
        if (rc < 0 && !warned) nd_warn("hub: %s (serving the last pulled rows)", err);
        if (rc >= 0 && warned) nd_notice("hub: central index reachable again");
        warned = rc < 0;
        struct pollfd p = {.fd = h->stop_fd, .events = POLLIN};
        int n = poll(&p, 1, h->poll_ms);
        if (n < 0 && errno != EINTR) {
            nd_err("hub: poll: %s", strerror(errno));
            break;
        }
        if (n > 0) break;
    }
    if (pg) PQfinish(pg);
    return NULL;
}

nd_index_hub *nd_index_hub_start(const char *db_path, const char *conninfo, int poll_ms, char *err,
                                 size_t errlen)
{
    nd_index_hub *h = calloc(1, sizeof *h);
    if (!h || !(h->conninfo = strdup(conninfo))) {
        free(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->stop_fd = -1;
    h->poll_ms = poll_ms > 0 ? poll_ms : 2000;
    /* The mirror has no data directory of its own: the files stay on the
     * stations (the hub fetches them), so the index is never synced here. */
    h->ix = nd_index_open(db_path, ND_INDEX_HUB_NO_DATA_DIR, err, errlen);
    if (!h->ix || open_mirror_tables(h->ix, err, errlen)) goto fail;
    h->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (h->stop_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    int rc = pthread_create(&h->thread, NULL, pull_main, h);
    if (rc) {
        snprintf(err, errlen, "hub puller thread: %s", strerror(rc));
        goto fail;
    }
    return h;
fail:
    if (h->stop_fd >= 0) close(h->stop_fd);
    nd_index_close(h->ix);
    free(h->conninfo);
    free(h);
    return NULL;
}

void nd_index_hub_stop(nd_index_hub *h)
{
    if (!h) return;
    uint64_t one = 1;
    if (write(h->stop_fd, &one, sizeof one) != sizeof one)
        nd_err("hub: cannot signal stop: %s", strerror(errno));
    pthread_join(h->thread, NULL);
    close(h->stop_fd);
    nd_index_close(h->ix);
    free(h->conninfo);
    free(h);
}
