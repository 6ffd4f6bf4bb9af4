/* What the daemon links and the web server share: a broadcast ring of
 * page-ready messages, the replies to page commands, and per daemon the
 * latest status and the current trial (start, reps, stop) for pages that
 * connect mid-trial. Thread-safe; the web server is woken on news. */
#ifndef STATION_HUB_H
#define STATION_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "station_config.h"

typedef struct station_hub station_hub;

station_hub *station_hub_new(const station_config *c);
void station_hub_free(station_hub *h);
/* Called (from any thread) after something was added. */
void station_hub_set_wake(station_hub *h, void (*wake)(void *), void *arg);
int station_hub_daemon_index(const station_hub *h, const char *name);
const char *station_hub_daemon_name(const station_hub *h, int daemon);
int station_hub_daemon_count(const station_hub *h);

/* From the links. */
void station_hub_on_message(void *hub, int daemon, const char *topic, const char *json, size_t len);
void station_hub_on_reply(void *hub, int daemon, uint64_t client, long id, const char *json,
                          size_t len);
/* A reply made by the station itself (refusals before reaching a daemon). */
void station_hub_reply_error(station_hub *h, int daemon, uint64_t client, long id,
                             const char *message);

/* Broadcast ring. *cursor starts at station_hub_head(); returns 1 and a
 * malloc'd copy of the next message for daemon (-1 = any), 0 when none, -1
 * when the reader was lapped (it fell too far behind: drop it). */
#define STATION_HUB_RING_SLOTS 8192 /* ~40 s of one board's traffic at 1 kHz */
uint64_t station_hub_head(station_hub *h);
int station_hub_next(station_hub *h, uint64_t *cursor, int daemon, char **out, size_t *len);
/* The oldest reply waiting for client, malloc'd; 0 when none. */
int station_hub_take_reply(station_hub *h, uint64_t client, char **out, size_t *len);
/* Forgets replies for a client that went away. */
void station_hub_drop_client(station_hub *h, uint64_t client);
/* Messages a page needs on joining: last status, current/last trial start,
 * its reps, its stop. Returns a malloc'd array of malloc'd strings. */
char **station_hub_snapshot(station_hub *h, int daemon, int *count);
/* JSON for GET /api/v1/status and the Prometheus text for /metrics (malloc'd). */
char *station_hub_status_json(station_hub *h);
char *station_hub_metrics(station_hub *h, int ws_clients);

#endif
