/* One thread per nordicd: a live subscription and a control client, both
 * from the project's client library (tools/client/nd_client.h). */
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

/* Starts the thread. Returns NULL with a message when the endpoints or keys
 * cannot be used (they are connected lazily: a daemon that is not up yet is
 * fine). server_key/client_key: CURVE key files, or both NULL. */
station_link *station_link_start(int daemon, const char *ctl, const char *pub,
                                 const char *server_key, const char *client_key,
                                 const station_link_callbacks *cb, char *err, size_t errlen);
/* Queues one control request (a JSON object); its answer comes through
 * on_reply. -1 when the queue is full (the caller answers "busy"). */
int station_link_submit(station_link *l, uint64_t client, long id, const char *json);
void station_link_stop(station_link *l);

#endif
