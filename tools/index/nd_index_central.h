/* Copy of a station's trial index in one central PostgreSQL
 * (tools/index/INDEX.md, "Many stations"). Every change of the local trial
 * tables is queued in a local outbox (SQLite triggers, in the same
 * transaction as the change, so nothing is lost while the server is down);
 * nd_index_central_push() drains it with idempotent upserts keyed by
 * (station_id, file_name) — the file name holds the trial id — so a batch
 * sent twice (a crash between the server's commit and the outbox delete)
 * leaves the same rows, never duplicates. */
#ifndef ND_INDEX_CENTRAL_H
#define ND_INDEX_CENTRAL_H

#include <stddef.h>

#include "nd_index.h"

typedef struct nd_index_central nd_index_central;

/* Installs the outbox triggers in ix's database (queuing every trial already
 * indexed on first use) and remembers the server (libpq conninfo or
 * postgresql:// URI) and this station's id ([A-Za-z0-9._-]{1,64}). Does not
 * connect yet. NULL with a message on a bad station id or database error. */
nd_index_central *nd_index_central_open(nd_index *ix, const char *conninfo, const char *station_id,
                                        char *err, size_t errlen);
void nd_index_central_close(nd_index_central *c);

/* Stops queueing for a central server (drops the triggers and the outbox):
 * a station taken out of the central copy. 0 or -1 with a message. */
int nd_index_central_remove(nd_index *ix, char *err, size_t errlen);

/* Sends every queued change (connecting, and creating the central tables
 * when missing). Returns the number of files sent, or -1 with a message when
 * the server cannot be reached or refuses (the outbox keeps everything; try
 * again later). */
int nd_index_central_push(nd_index_central *c, char *err, size_t errlen);
/* The URL a hub fetches this station's files from (its nordic-station,
 * e.g. "http://10.0.0.5:8080"; NULL or "" = none), published in the central
 * table nordic_stations at the next push. -1 with a message when it is not
 * http:// or https://. */
int nd_index_central_set_base_url(nd_index_central *c, const char *base_url, char *err,
                                  size_t errlen);
/* Changes still queued (-1 on a database error). */
long nd_index_central_pending(nd_index_central *c);

#endif
