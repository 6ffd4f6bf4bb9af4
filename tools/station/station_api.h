/* The /api/v1 resources that live in the trial index (tools/index, issue 14):
 * the single place where the station hands a request to nd_api_handle. Built
 * without the index, station_api_handle answers nothing (the caller's 404). */
#ifndef STATION_API_H
#define STATION_API_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "station_config.h"

typedef struct station_api station_api;

typedef struct station_api_response {
    int status;
    const char *content_type;
    char *body;
    size_t body_len;
    char *file_path; /* non-NULL: send this file instead of body */
} station_api_response;

/* Opens the index (state_dir/index.sqlite over data_dir) when built with it. */
station_api *station_api_open(const station_config *c, char *err, size_t errlen);
void station_api_close(station_api *a);
/* A hub's request for a file or trace, to be fetched from the station that
 * holds it (station_api_fetch_run; safe on any thread). */
typedef struct station_api_fetch {
    char *url;
    char station[65];
    char base[STATION_PATH_MAX];
    char token[256]; /* "" = none */
} station_api_fetch;

/* 0 = handled (out filled, free with station_api_response_free); -1 = not its
 * path; 1 = on a hub, to be fetched from a station: *fetch set (free it with
 * station_api_fetch_free), out untouched. */
int station_api_handle(station_api *a, const char *method, const char *path, const char *query,
                       const char *body, size_t body_len, station_api_response *out,
                       station_api_fetch **fetch);
/* Fetches from the station (blocking: libcurl, 3 s to connect, dropped when
 * under 1 KiB/s for 10 s; given up when *cancel becomes true) and fills out:
 * the station's answer, or 502 with a JSON error naming the station. */
void station_api_fetch_run(const station_api_fetch *fetch, const atomic_bool *cancel,
                           station_api_response *out);
void station_api_fetch_free(station_api_fetch *f);
void station_api_response_free(station_api_response *r);
/* A start command (cJSON) with "target_pct" and a leg's best_*_N left out:
 * fills it with the athlete's best from the index (nd_index_athlete_best,
 * METRICS.md 5.4) and sets "best_source"; a best the operator gave is kept.
 * Returns 1 when something was filled (*note: the text for the page, also
 * the best_source), 0 when nothing was to be done, -1 when the start must
 * be refused (*note says why: no such best in the index, or the index is
 * not available). */
struct cJSON;
int station_api_fill_best(station_api *a, struct cJSON *start, char *note, size_t notelen);
/* Whether this is a hub (config hub_url): /api/v1 over the central index. */
bool station_api_is_hub(const station_api *a);
/* The index's inotify descriptor (-1 without it) and what to call when it is readable. */
int station_api_watch_fd(station_api *a);
void station_api_watch_handle(station_api *a);

#endif
