/* nordic-bench-index: the trial index (tools/index/INDEX.md) at scale.
 *
 *   nordic-bench-index [--dir DIR] [--files N] [--rows N] [--queries N] [--no-peer]
 *                      [--pg postgresql://...]
 *
 * 1. Writes --files trial files (default 2000; 2 s at 1 kHz each, ~280 KB)
 *    with the daemon's writer (tools/report_gen.h), 200 athletes.
 * 2. Ingest: nd_index_add_file() per file into an empty index (files/s,
 *    per-file p50/p99), as the watcher does when files arrive.
 * 3. Rebuild: nd_index_rebuild() into a fresh index (files/s).
 * 4. Queries: the index is grown to --rows trials (default 100,000) by
 *    copying the indexed rows with new keys, athletes and dates (SQL inside
 *    the database; the files would take ~28 GB), then --queries requests of
 *    each kind go through nd_api_handle() (parameter validation, SQL, JSON):
 *    p50/p99 per kind.
 * Peer, same run, same files and database (tools/bench/bench_index_peer.py):
 * h5py reading the same attributes, reps and events of every file and
 * inserting them with Python's sqlite3 (the rebuild), and Python's sqlite3 +
 * json running the same SQL for each query kind.
 * --pg URL: the grown index is also copied to that PostgreSQL through the
 * central outbox (nd_index_central.h; files/s), and the same query kinds run
 * there as SQL over all stations' rows with libpq (p50/p99; rows fetched,
 * no JSON); peer: psycopg2 running the same SQL. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "nd_api.h"
#include "nd_index.h"
#include "nd_index_central.h"
#include "nd_log.h"
#include "report_gen.h"

#ifndef NORDIC_SOURCE_DIR
#define NORDIC_SOURCE_DIR "."
#endif

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    return v[i ? i - 1 : 0];
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "nordic-bench-index: %s\n", msg);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Copies every indexed trial (and its reps and events) k-1 more times under
 * new names: athlete ath-<n> of 1000, created k weeks later. */
static int grow(nd_index *ix, long files, long rows)
{
    sqlite3 *db = nd_index_db(ix);
    long copies = (rows + files - 1) / files;
    char sql[4096];
    if (exec(db, "BEGIN")) return -1;
    for (long k = 1; k < copies; k++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO reps SELECT 'c%ld-' || file_name, \"index\", i_open, i_end, t_open_s,"
                 " t_end_s, peak_left_N, peak_right_N, i_peak_left, i_peak_right, t_peak_left_s,"
                 " t_peak_right_s, asymmetry_pct, abs_asymmetry_pct, weaker_side, lsi_pct,"
                 " torque_left_Nm, torque_right_Nm, rel_force_left_N_per_kg,"
                 " rel_force_right_N_per_kg, time_to_peak_left_s, time_to_peak_right_s,"
                 " rfd_left_N_per_s, rfd_right_N_per_s, impulse_left_Ns, impulse_right_Ns, row"
                 " FROM reps WHERE file_name NOT LIKE 'c%%';"
                 "INSERT INTO events SELECT 'c%ld-' || file_name, row, t_s, kind, detail"
                 " FROM events WHERE file_name NOT LIKE 'c%%';",
                 k, k);
        char tsql[1024];
        snprintf(tsql, sizeof tsql,
                 "CREATE TEMP TABLE IF NOT EXISTS t AS SELECT * FROM trials WHERE 0;"
                 "DELETE FROM t; INSERT INTO t SELECT * FROM trials WHERE file_name NOT LIKE "
                 "'c%%';"
                 "UPDATE t SET file_name = 'c%ld-' || file_name, trial_id = 'c%ld-' || trial_id,"
                 " athlete_id = printf('ath-%%04d', (rowid * 7 + %ld) %% 1000),"
                 " created_unix_s = created_unix_s + %ld * 604800,"
                 " file_mtime_ns = file_mtime_ns + %ld * 1000000000;"
                 "INSERT INTO trials SELECT * FROM t;",
                 k, k, k, k, k);
        if (exec(db, tsql) || exec(db, sql)) return -1;
    }
    snprintf(sql, sizeof sql,
             "DELETE FROM trials WHERE file_name IN (SELECT file_name FROM trials"
             " ORDER BY file_name DESC LIMIT max(0, (SELECT count(*) FROM trials) - %ld));"
             "COMMIT; ANALYZE;",
             rows);
    return exec(db, sql);
}

/* One request of kind k with random parameters (n) into path/query. */
static void make_request(int k, int n, const char *trial_id, long weeks, const char *cursor,
                         long long since, char *path, size_t plen, char *query, size_t qlen)
{
    snprintf(path, plen, "/api/v1/trials");
    switch (k) {
    case 0:
        snprintf(query, qlen, "limit=100");
        break;
    case 1:
        snprintf(query, qlen, "athlete=ath-%04d&limit=100", n % 1000);
        break;
    case 2: {
        long from = 1714566896L + (n % weeks) * 604800L;
        snprintf(query, qlen, "from=%ld&to=%ld&limit=100", from, from + 604800L);
        break;
    }
    case 3:
        snprintf(query, qlen, "modified_since=%lld&limit=100", since);
        break;
    case 6:
        snprintf(query, qlen, "status=complete&modified_since=0&limit=100");
        break;
    case 4:
        snprintf(query, qlen, "limit=100&cursor=%s", cursor);
        break;
    default:
        snprintf(path, plen, "/api/v1/trials/%s", trial_id);
        query[0] = '\0';
    }
}

#define KINDS 7
static const char *const kind_names[KINDS] = {
    "list newest 100",   "athlete filter",     "from/to week",        "modified_since (1 %)",
    "page 2 via cursor", "one trial (detail)", "status, all modified"};

static volatile size_t bytes_touched; /* keeps the value loop from being optimised away */

/* The grown index copied to PostgreSQL, then the query kinds there. */
static int bench_pg(nd_index *ix, const char *url, long queries, long weeks, long long since,
                    int peer)
{
    char err[1024];
    nd_index_central *c = nd_index_central_open(ix, url, "bench", err, sizeof err);
    double t0 = now_s();
    int sent = c ? nd_index_central_push(c, err, sizeof err) : -1;
    double dt = now_s() - t0;
    nd_index_central_close(c);
    if (sent < 0) {
        fprintf(stderr, "nordic-bench-index: %s\n", err);
        return -1;
    }
    printf("  PostgreSQL ingest (outbox push): %.0f files/s (%d in %.1f s)\n", sent / dt, sent, dt);
    PGconn *pg = PQconnectdb(url);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "nordic-bench-index: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return -1;
    }
    PQclear(PQexec(pg, "ANALYZE"));
#define PG_ITEM                                                                                    \
    "SELECT trial_id, athlete_id, file_name, status, created_utc, samples, rep_count, "            \
    "s_max_left_n, s_max_right_n, s_asymmetry_pct, s_pain_rating, created_unix_s, station_id "     \
    "FROM nordic_trials "
#define PG_ORDER " ORDER BY created_unix_s DESC, station_id DESC, file_name DESC LIMIT 101"
    static const char *const sql[KINDS] = {
        PG_ITEM PG_ORDER,
        PG_ITEM "WHERE athlete_id = $1" PG_ORDER,
        PG_ITEM "WHERE created_unix_s >= $1 AND created_unix_s < $2" PG_ORDER,
        PG_ITEM "WHERE file_mtime_ns >= $1" PG_ORDER,
        PG_ITEM "WHERE (created_unix_s, station_id, file_name) < ($1, $2, $3)" PG_ORDER,
        "SELECT t.*, (SELECT json_agg(r ORDER BY r.row) FROM nordic_reps r WHERE"
        " r.station_id = t.station_id AND r.file_name = t.file_name),"
        " (SELECT json_agg(e ORDER BY e.row) FROM nordic_events e WHERE"
        " e.station_id = t.station_id AND e.file_name = t.file_name)"
        " FROM nordic_trials t WHERE trial_id = $1 ORDER BY station_id, file_name LIMIT 1",
        PG_ITEM "WHERE file_mtime_ns >= 0 AND status = 'complete'" PG_ORDER};
    static const int nparams[KINDS] = {0, 1, 2, 1, 3, 1, 0};
    /* Page 2 starts after the 100th newest row; trial ids to look up. */
    PGresult *first = PQexec(pg, PG_ITEM PG_ORDER);
    char c_created[32] = "0", c_station[80] = "", c_file[300] = "";
    if (PQntuples(first) >= 100) {
        snprintf(c_created, sizeof c_created, "%s", PQgetvalue(first, 99, 11));
        snprintf(c_station, sizeof c_station, "%s", PQgetvalue(first, 99, 12));
        snprintf(c_file, sizeof c_file, "%s", PQgetvalue(first, 99, 2));
    }
    PQclear(first);
    PGresult *ids = PQexec(pg, "SELECT trial_id FROM nordic_trials ORDER BY file_name LIMIT 5000");
    int nids = PQntuples(ids);
    double *lat = calloc((size_t)queries, sizeof *lat);
    printf("  %-24s %10s %10s   (PostgreSQL, libpq, %ld queries each)\n", "query", "p50 ms",
           "p99 ms", queries);
    for (int k = 0; k < KINDS; k++) {
        for (long q = 0; q < queries; q++) {
            int n = rand();
            char a[64], b[64];
            const char *params[3] = {a, b, c_file};
            if (k == 1) snprintf(a, sizeof a, "ath-%04d", n % 1000);
            if (k == 2) {
                long from = 1714566896L + (n % weeks) * 604800L;
                snprintf(a, sizeof a, "%ld", from);
                snprintf(b, sizeof b, "%ld", from + 604800L);
            }
            if (k == 3) snprintf(a, sizeof a, "%lld", since * 1000000000LL);
            if (k == 4) {
                snprintf(a, sizeof a, "%s", c_created);
                snprintf(b, sizeof b, "%s", c_station);
            }
            if (k == 5) snprintf(a, sizeof a, "%s", PQgetvalue(ids, n % (nids ? nids : 1), 0));
            double t = now_s();
            PGresult *r = PQexecParams(pg, sql[k], nparams[k], NULL, params, NULL, NULL, 0);
            /* Touch every value, as a client would. */
            size_t bytes = 0;
            for (int i = 0; i < PQntuples(r); i++)
                for (int j = 0; j < PQnfields(r); j++) bytes += (size_t)PQgetlength(r, i, j);
            lat[q] = now_s() - t;
            bytes_touched += bytes;
            if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                fprintf(stderr, "nordic-bench-index: PostgreSQL query %d: %s", k,
                        PQerrorMessage(pg));
                PQclear(r);
                return -1;
            }
            PQclear(r);
        }
        printf("  %-24s %10.3f %10.3f\n", kind_names[k], pct(lat, (size_t)queries, 50) * 1e3,
               pct(lat, (size_t)queries, 99) * 1e3);
    }
    PQclear(ids);
    PQfinish(pg);
    free(lat);
    if (peer) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 %s/tools/bench/bench_index_peer.py pgquery '%s' %ld %lld",
                 NORDIC_SOURCE_DIR, url, queries, since);
        fflush(stdout);
        if (system(cmd) != 0) fprintf(stderr, "nordic-bench-index: peer failed: %s\n", cmd);
    }
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGXFSZ, SIG_IGN);
    nd_log_set_level(ND_LOG_WARNING);
    const char *dir = NULL;
    long files = 2000, rows = 100000, queries = 2000;
    int peer = 1;
    const char *pg_url = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--files") && i + 1 < argc)
            files = atol(argv[++i]);
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows = atol(argv[++i]);
        else if (!strcmp(argv[i], "--queries") && i + 1 < argc)
            queries = atol(argv[++i]);
        else if (!strcmp(argv[i], "--pg") && i + 1 < argc)
            pg_url = argv[++i];
        else if (!strcmp(argv[i], "--no-peer"))
            peer = 0;
        else {
            fprintf(stderr, "usage: nordic-bench-index [--dir DIR] [--files N] [--rows N] "
                            "[--queries N] [--no-peer] [--pg URL]\n");
            return 2;
        }
    }
    if (files < 1 || rows < files || queries < 1) {
        fprintf(stderr, "nordic-bench-index: need files >= 1, rows >= files, queries >= 1\n");
        return 2;
    }
    char tmpl[] = "/tmp/nordic-bench-index.XXXXXX";
    if (!dir && !(dir = mkdtemp(tmpl))) {
        fprintf(stderr, "nordic-bench-index: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    char data[1024], db1[1100], db2[1100];
    snprintf(data, sizeof data, "%s/trials", dir);
    snprintf(db1, sizeof db1, "%s/ingest.sqlite", dir);
    snprintf(db2, sizeof db2, "%s/rebuild.sqlite", dir);
    if ((mkdir(dir, 0755) && errno != EEXIST) || (mkdir(data, 0755) && errno != EEXIST)) {
        fprintf(stderr, "nordic-bench-index: %s: %s\n", data, strerror(errno));
        return 1;
    }
    unlink(db1);
    unlink(db2);

    printf("nordic-bench-index: %ld files in %s, queries on %ld trials\n", files, data, rows);
    char err[1024], path[1200];
    char(*paths)[1200] = calloc((size_t)files, sizeof *paths);
    double t0 = now_s();
    for (long i = 0; i < files; i++) {
        nd_report_gen g;
        nd_report_gen_default(&g);
        char athlete[32];
        snprintf(athlete, sizeof athlete, "ath-%04ld", i % 200);
        g.athlete_id = athlete;
        g.created_utc_s = 1714566896 + i * 3600;
        g.seconds = 2;
        g.reps = 1;
        g.pain_rating = (int)(i % 11);
        g.seed = (uint64_t)i + 1;
        if (nd_report_gen_write(data, &g, path, sizeof path, err, sizeof err)) {
            fprintf(stderr, "nordic-bench-index: %s\n", err);
            return 1;
        }
        snprintf(paths[i], sizeof paths[i], "%s", path);
    }
    printf("  wrote %ld trial files in %.1f s\n", files, now_s() - t0);

    /* Ingest, file by file. */
    nd_index *ix = nd_index_open(db1, data, err, sizeof err);
    if (!ix) {
        fprintf(stderr, "nordic-bench-index: %s\n", err);
        return 1;
    }
    double *lat = calloc((size_t)(files > queries ? files : queries), sizeof *lat);
    t0 = now_s();
    for (long i = 0; i < files; i++) {
        double a = now_s();
        if (nd_index_add_file(ix, paths[i], err, sizeof err)) {
            fprintf(stderr, "nordic-bench-index: %s\n", err);
            return 1;
        }
        lat[i] = now_s() - a;
    }
    double ingest_s = now_s() - t0;
    printf("  ingest (nd_index_add_file): %.0f files/s, per file p50 %.2f ms, p99 %.2f ms\n",
           (double)files / ingest_s, pct(lat, (size_t)files, 50) * 1e3,
           pct(lat, (size_t)files, 99) * 1e3);

    /* Rebuild into a fresh database. */
    nd_index *ix2 = nd_index_open(db2, data, err, sizeof err);
    t0 = now_s();
    if (!ix2 || nd_index_rebuild(ix2, err, sizeof err)) {
        fprintf(stderr, "nordic-bench-index: %s\n", err);
        return 1;
    }
    double rebuild_s = now_s() - t0;
    printf("  rebuild (nd_index_rebuild): %.0f files/s (%ld files in %.2f s)\n",
           (double)files / rebuild_s, files, rebuild_s);
    nd_index_close(ix2);
    char cmd[4096];
    if (peer) {
        snprintf(
            cmd, sizeof cmd,
            "/usr/bin/python3 %s/tools/bench/bench_index_peer.py rebuild '%s' '%s/peer.sqlite'",
            NORDIC_SOURCE_DIR, data, dir);
        fflush(stdout);
        if (system(cmd) != 0) fprintf(stderr, "nordic-bench-index: peer failed: %s\n", cmd);
    }

    /* Queries on a grown index. */
    t0 = now_s();
    if (grow(ix, files, rows)) return 1;
    printf("  grew the index to %ld trials in %.1f s\n", rows, now_s() - t0);
    /* modified_since that the newest 1 % of the files pass (whole seconds). */
    long long since = 0;
    {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(nd_index_db(ix),
                               "SELECT file_mtime_ns FROM trials ORDER BY file_mtime_ns DESC"
                               " LIMIT 1 OFFSET ?1",
                               -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, rows / 100);
            if (sqlite3_step(st) == SQLITE_ROW)
                since = sqlite3_column_int64(st, 0) / 1000000000LL + 1;
        }
        sqlite3_finalize(st);
    }
    srand(12345);
    /* A cursor after the first page of the newest trials, and trial ids. */
    nd_api_response r;
    char cursor[1024] = "";
    if (nd_api_handle(ix, "GET", "/api/v1/trials", "limit=100", NULL, 0, &r) == 0 && r.body) {
        const char *c = strstr(r.body, "\"next_cursor\":\"");
        if (c) sscanf(c + 15, "%1000[^\"]", cursor);
    }
    nd_api_response_free(&r);
    printf("  %-24s %10s %10s   (%ld requests each through nd_api_handle)\n", "query", "p50 ms",
           "p99 ms", queries);
    for (int k = 0; k < KINDS; k++) {
        for (long q = 0; q < queries; q++) {
            char qs[1200], p[256];
            int n = rand();
            const char *base = strrchr(paths[n % files], '_') + 1;
            char tid[64];
            snprintf(tid, sizeof tid, "%.*s", (int)(strlen(base) - 3), base);
            make_request(k, n, tid, (rows + files - 1) / files, cursor, since, p, sizeof p, qs,
                         sizeof qs);
            double a = now_s();
            int rc = nd_api_handle(ix, "GET", p, qs[0] ? qs : NULL, NULL, 0, &r);
            lat[q] = now_s() - a;
            if (rc || r.status != 200) {
                fprintf(stderr, "nordic-bench-index: %s?%s: %d %.200s\n", p, qs, r.status,
                        r.body ? r.body : "");
                return 1;
            }
            nd_api_response_free(&r);
        }
        printf("  %-24s %10.3f %10.3f\n", kind_names[k], pct(lat, (size_t)queries, 50) * 1e3,
               pct(lat, (size_t)queries, 99) * 1e3);
    }
    if (pg_url && bench_pg(ix, pg_url, queries, (rows + files - 1) / files, since, peer)) return 1;
    nd_index_close(ix);
    if (peer) {
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 %s/tools/bench/bench_index_peer.py query '%s' %ld '%s' %lld",
                 NORDIC_SOURCE_DIR, db1, queries, cursor, since);
        fflush(stdout);
        if (system(cmd) != 0) fprintf(stderr, "nordic-bench-index: peer failed: %s\n", cmd);
    }
    printf("  files and databases left in %s\n", dir);
    free(paths);
    free(lat);
    return 0;
}
