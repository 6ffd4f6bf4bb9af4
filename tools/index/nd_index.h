/* Trial index and athlete registry of one station (tools/index/INDEX.md).
 *
 * An SQLite database (WAL journal) in the state directory. The trial part is
 * derived data: every row comes from a trial file in data_dir (read with the
 * project's trial reader) and can be rebuilt from the files at any time
 * (nd_index_rebuild, `nordic-trial index --rebuild`); a rebuild yields the
 * same rows as the incremental updates. The athlete registry is the only
 * primary data held here (the trial file stays the record of what was used).
 *
 * Files that cannot be read as trials are still listed: status "damaged"
 * (HDF5 cannot open it or a dataset is unreadable) or "foreign" (a readable
 * HDF5 file of another schema or a newer schema_version). Nothing here
 * crashes on a bad file.
 *
 * Threads: one nd_index per thread (SQLite connections are not shared). Two
 * handles on the same database in one or more processes are fine (WAL, busy
 * timeout). */
#ifndef ND_INDEX_H
#define ND_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nd_index nd_index;

/* Opens (creating when missing) the database at db_path and binds it to
 * data_dir (the directory whose *.h5 files it indexes; not created here).
 * A data_dir that does not exist yet is accepted: sync then changes nothing
 * (rows are kept, as for an unmounted disk) and the watch waits for it.
 * Returns NULL with a message on failure. */
nd_index *nd_index_open(const char *db_path, const char *data_dir, char *err, size_t errlen);
void nd_index_close(nd_index *ix);

/* Brings the index in line with data_dir: adds new files, re-reads files
 * whose size or mtime changed, removes rows of files that are gone. Hidden
 * files (".name.partial" being created) are ignored. Returns 0 or -1;
 * nd_index_last_changes() then tells how many files it (re)indexed or
 * removed. */
int nd_index_sync(nd_index *ix, char *err, size_t errlen);

/* (Re)indexes one file (absolute, or relative to data_dir). A damaged or
 * foreign file is listed with that status and returns 0; -1 only when the
 * database itself fails or the file does not exist. */
int nd_index_add_file(nd_index *ix, const char *path, char *err, size_t errlen);

/* Drops every trial row and indexes every file of data_dir again (the
 * athlete registry is kept). Returns 0 or -1; nd_index_last_changes() then
 * tells how many files it indexed. */
int nd_index_rebuild(nd_index *ix, char *err, size_t errlen);
/* Files (re)indexed or removed by the last successful sync or rebuild. */
int nd_index_last_changes(const nd_index *ix);

/* inotify descriptor on data_dir (created on first call; -1 on failure).
 * Poll it for POLLIN and call nd_index_watch_handle(), which reads the
 * pending events and (re)indexes files closed after writing or moved in,
 * and removes rows of files deleted or moved away. Returns the number of
 * files handled, or -1. */
int nd_index_watch_fd(nd_index *ix);
int nd_index_watch_handle(nd_index *ix);

/* The last error of the watch handler ("" when none). */
const char *nd_index_last_error(const nd_index *ix);

const char *nd_index_data_dir(const nd_index *ix);

/* ---- athlete registry ------------------------------------------------- */

#define ND_ATHLETE_ID_MAX    64
#define ND_ATHLETE_NAME_MAX  128
#define ND_ATHLETE_NOTES_MAX 1024

typedef struct nd_athlete {
    char id[ND_ATHLETE_ID_MAX + 1]; /* the trial files' athlete_id rule */
    char display_name[ND_ATHLETE_NAME_MAX + 1];
    double body_mass_kg;  /* 0 = not given, else (0, 500] */
    double lever_m;       /* 0 = not given, else (0, 1.5] */
    char injured_side[8]; /* "none", "left", "right" */
    char notes[ND_ATHLETE_NOTES_MAX + 1];
    char created_utc[32], updated_utc[32]; /* ISO 8601, set by the index */
} nd_athlete;

/* Checks every field (id rule, ranges, side). Returns 0, or -1 with a
 * message; *bad_field (may be NULL) then names the offending field. */
int nd_athlete_validate(const nd_athlete *a, const char **bad_field, char *err, size_t errlen);

/* Inserts a new athlete; fails (returns 1) when the id exists. 0 on
 * success, -1 on a validation or database error. created/updated are set. */
int nd_index_athlete_create(nd_index *ix, nd_athlete *a, char *err, size_t errlen);
/* Replaces the fields of an existing athlete (created_utc kept). Returns 0,
 * 1 when not found, -1 on error. */
int nd_index_athlete_update(nd_index *ix, nd_athlete *a, char *err, size_t errlen);
/* Returns 0 and fills *out, 1 when not found, -1 on error. */
int nd_index_athlete_get(nd_index *ix, const char *id, nd_athlete *out, char *err, size_t errlen);
/* Returns 0, 1 when not found, -1 on error. Trials of the athlete stay. */
int nd_index_athlete_delete(nd_index *ix, const char *id, char *err, size_t errlen);

/* ---- the athlete's best per leg (daemon/metrics/METRICS.md 5.4) -------- */

typedef struct nd_best_rep {
    bool found;
    double peak_N;       /* the rep's peak_left_N or peak_right_N */
    char trial_id[160];  /* on a hub "<station>:<trial>" */
    char file_name[320]; /* as in the trials table */
    long rep;            /* the rep's "index" in /reps (1-based) */
    char created_utc[32];
} nd_best_rep;

typedef struct nd_athlete_best {
    nd_best_rep leg[2]; /* 0 left, 1 right */
    long trials;        /* complete trials with at least one bilateral rep considered */
} nd_athlete_best;

/* No lower bound on the creation time for nd_index_athlete_best(). */
#define ND_BEST_NO_FROM INT64_MIN

/* The highest per-leg rep peak over the athlete's complete trials created at
 * or after from_unix_s, bilateral Nordic reps only (reps.leg = both,
 * reps.test = nordic: single-leg sets, isometric holds, recording,
 * interrupted, damaged and foreign trials do not count).
 * Ties: the newest trial, then the lowest rep. Returns 0 with *out filled
 * (a leg without a rep stays !found), or -1 with a message. */
int nd_index_athlete_best(nd_index *ix, const char *athlete_id, int64_t from_unix_s,
                          nd_athlete_best *out, char *err, size_t errlen);

/* The underlying SQLite connection (sqlite3 *) for the API layer's
 * read-only queries; owned by ix. */
void *nd_index_db(nd_index *ix);

#endif
