/* One thread per nordicd: a SUB on its live endpoint and a REQ on its control
 * socket. Every raw ZeroMQ call of the station is in station_link.c, so the
 * project's client library can replace it without touching the rest. */
#ifndef STATION_LINK_H
#define STATION_LINK_H

#include <stddef.h>
#include <stdint.h>

typedef struct station_link station_link;

typedef struct station_link_callbacks {
    /* A live message: topic and its JSON object (not NUL-terminated). */
    void (*on_message)(void *user, int daemon, const char *topic, const char *json, size_t len);
    /* The reply to a submitted command, or a station-made {"ok":false,...}. */
    void (*on_reply)(void *user, int daemon, uint64_t client, long id, const char *json,
                     size_t len);
    void *user;
} station_link_callbacks;

/* Starts the thread. Returns NULL with a message when the endpoints cannot be
 * used (they are connected lazily: a daemon that is not up yet is fine). */
station_link *station_link_start(int daemon, const char *ctl, const char *pub,
                                 const station_link_callbacks *cb, char *err, size_t errlen);
/* Queues one control request (a JSON object); its answer comes through
 * on_reply. -1 when the queue is full (the caller answers "busy"). */
int station_link_submit(station_link *l, uint64_t client, long id, const char *json);
void station_link_stop(station_link *l);

#endif
