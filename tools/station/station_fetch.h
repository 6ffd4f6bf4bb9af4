/* A hub's fetch of one resource from a station's nordic-station (libcurl):
 * the trial files and traces stay on the station that recorded them. */
#ifndef STATION_FETCH_H
#define STATION_FETCH_H

#include <stdatomic.h>
#include <stddef.h>

#define STATION_FETCH_MAX_BODY (1024L * 1024 * 1024) /* larger answers are refused */

typedef struct station_fetch_result {
    long status;            /* the station's HTTP status */
    char content_type[128]; /* its Content-Type ("" when none) */
    char *body;             /* malloc'd */
    size_t body_len;
    char error[512]; /* why no answer came (when station_fetch returns -1) */
} station_fetch_result;

/* Once per process, before any thread fetches. 0 or -1. */
int station_fetch_init(void);
/* GET url, with "Authorization: Bearer token" when token is not NULL;
 * connecting gives up after 3 s. 0 when the station answered (any status),
 * -1 when it could not be reached, the answer broke off or *cancel (may be
 * NULL) became true (error filled). Free body with station_fetch_free. */
int station_fetch(const char *url, const char *token, const atomic_bool *cancel,
                  station_fetch_result *out);
void station_fetch_free(station_fetch_result *r);

#endif
