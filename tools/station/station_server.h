/* The HTTP + WebSocket front of nordic-station (libwebsockets): static pages,
 * login, /api/v1 routing, /metrics, and the live WebSocket. */
#ifndef STATION_SERVER_H
#define STATION_SERVER_H

#include <signal.h>
#include <stddef.h>

#include "station_auth.h"
#include "station_config.h"
#include "station_hub.h"
#include "station_link.h"

typedef struct station_server station_server;

station_server *station_server_new(const station_config *c, station_hub *hub, station_link **links,
                                   station_auth *auth, char *err, size_t errlen);
/* Serves until *stop becomes non-zero. */
void station_server_run(station_server *s, volatile sig_atomic_t *stop);
void station_server_free(station_server *s);

#endif
