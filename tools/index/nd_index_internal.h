/* Shared between the index's source files; not part of the interface. */
#ifndef ND_INDEX_INTERNAL_H
#define ND_INDEX_INTERNAL_H

#include <limits.h>
#include <sqlite3.h>

#include "nd_index.h"

struct nd_index {
    sqlite3 *db;
    char data_dir[PATH_MAX];
    int inotify_fd; /* -1 until nd_index_watch_fd() */
    int watch_wd;
    char last_error[512];
    int last_changes; /* of the last sync or rebuild */
};

struct cJSON;
/* A JSON number printed in the shortest form that reads back to the same
 * double (cJSON's own printing may drop the last bit); null for NaN/inf. */
struct cJSON *nd_index_json_number(double v);

/* "YYYY-MM-DDTHH:MM:SSZ" for Unix seconds t. */
void nd_index_iso_utc(long long t, char *out, size_t outlen);
/* Executes sql (no parameters); -1 with the SQLite message in err. */
int nd_index_exec(nd_index *ix, const char *sql, char *err, size_t errlen);
/* Removes the rows of one file (relative name). */
int nd_index_remove_file(nd_index *ix, const char *name, char *err, size_t errlen);
/* True for names the index covers: "*.h5", not hidden. */
int nd_index_wants_name(const char *name);

#endif
