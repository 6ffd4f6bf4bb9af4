/* A hub's mirror of the central PostgreSQL index (tools/index/INDEX.md,
 * "Hub"): a local SQLite database with the index's own tables, holding every
 * station's trials, so the /api/v1 handlers (nd_api.h) serve all stations
 * unchanged. A puller thread copies what changed since its last pull: every
 * central upsert and delete carries the next number of one sequence
 * (nordic_change_seq; pushes take their numbers one transaction at a time),
 * and the mirror remembers the highest number it applied.
 *
 * Mirror rows are station-qualified, so equal trial ids or file names of two
 * stations never collide: trial_id "<station_id>:<trial_id>" and file_name
 * "<station_id>/<file_name>" (':' and '/' are in neither id rule). */
#ifndef ND_INDEX_HUB_H
#define ND_INDEX_HUB_H

#include <stddef.h>

#include "nd_index.h"

typedef struct nd_index_hub nd_index_hub;

/* The data directory a mirror is opened with: none exists, so a sync by
 * mistake changes nothing (nd_index_sync keeps rows of a missing directory). */
#define ND_INDEX_HUB_NO_DATA_DIR "/nonexistent/nordic-hub-has-no-trial-files"

/* Opens (creating) the mirror at db_path and starts the puller (a pull at
 * once, then every poll_ms; one warning per outage of the server, one notice
 * when it is back). NULL with a message when the mirror cannot be opened.
 * conninfo: libpq conninfo or postgresql:// URI. */
nd_index_hub *nd_index_hub_start(const char *db_path, const char *conninfo, int poll_ms, char *err,
                                 size_t errlen);
void nd_index_hub_stop(nd_index_hub *h);

/* One pull into the mirror ix from the server at conninfo. Returns the
 * number of trials upserted or removed, or -1 with a message (nothing
 * applied from a failed pull). */
int nd_index_hub_pull(nd_index *ix, const char *conninfo, char *err, size_t errlen);

/* The base URL the station published (nd_index_central_set_base_url), as
 * of the last pull: 0 and url filled, 1 when the station is unknown or
 * published none, -1 with a message on a database error. */
int nd_index_hub_station_url(nd_index *ix, const char *station_id, char *url, size_t urllen,
                             char *err, size_t errlen);

#endif
