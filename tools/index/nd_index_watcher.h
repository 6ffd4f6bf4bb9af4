/* A background thread that keeps a trial index in line with its data
 * directory (inotify; a full sync at start), on its own database connection,
 * so a server's threads never share one nd_index. Errors are logged
 * (nd_log) and the thread keeps watching. */
#ifndef ND_INDEX_WATCHER_H
#define ND_INDEX_WATCHER_H

#include <stddef.h>

typedef struct nd_index_watcher nd_index_watcher;

/* Opens its own nd_index on db_path/data_dir, syncs once, then watches.
 * A data directory that is missing (not created yet, removed, unmounted) is
 * looked for every 2 s and synced when it appears. NULL with a message when
 * the index cannot be opened. */
nd_index_watcher *nd_index_watcher_start(const char *db_path, const char *data_dir, char *err,
                                         size_t errlen);
/* Same, and copies every change to a central PostgreSQL (conninfo or
 * postgresql:// URI) as station station_id (nd_index_central.h): after each
 * change, and every 2 s while changes wait because the server is down.
 * conninfo NULL: no central copy. */
nd_index_watcher *nd_index_watcher_start_central(const char *db_path, const char *data_dir,
                                                 const char *conninfo, const char *station_id,
                                                 char *err, size_t errlen);
/* Same, and publishes base_url (NULL = none) as the URL a hub fetches this
 * station's files from (nd_index_central_set_base_url). */
nd_index_watcher *nd_index_watcher_start_station(const char *db_path, const char *data_dir,
                                                 const char *conninfo, const char *station_id,
                                                 const char *base_url, char *err, size_t errlen);
/* Stops the thread (within its poll) and frees everything. NULL is fine. */
void nd_index_watcher_stop(nd_index_watcher *w);

#endif
