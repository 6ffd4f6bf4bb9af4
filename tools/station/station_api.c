/* The /api/v1 hook of the station: the trial index (tools/index) and its
 * watcher, opened in the station's state directory. */
#include "station_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nd_api.h"
#include "nd_index.h"
#include "nd_index_watcher.h"

struct station_api {
    nd_index *ix;
    /* Files copied in or closed by nordicd are indexed on its own thread
     * and connection while this one serves requests. */
    nd_index_watcher *watcher;
};

station_api *station_api_open(const station_config *c, char *err, size_t errlen)
{
    station_api *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* The state directory is the station's own (systemd makes it for the service). */
    if (mkdir(c->state_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create state directory %s: %s", c->state_dir,
                 strerror(errno));
        free(a);
        return NULL;
    }
    char db[STATION_PATH_MAX + 32];
    snprintf(db, sizeof db, "%s/index.sqlite", c->state_dir);
    a->ix = nd_index_open(db, c->data_dir, err, errlen);
    if (!a->ix || nd_index_sync(a->ix, err, errlen) != 0) {
        if (a->ix) nd_index_close(a->ix);
        free(a);
        return NULL;
    }
    a->watcher = nd_index_watcher_start_central(
        db, c->data_dir, c->index_url[0] ? c->index_url : NULL, c->station_id, err, errlen);
    if (!a->watcher) {
        nd_index_close(a->ix);
        free(a);
        return NULL;
    }
    return a;
}

void station_api_close(station_api *a)
{
    if (!a) return;
    nd_index_watcher_stop(a->watcher);
    nd_index_close(a->ix);
    free(a);
}

int station_api_handle(station_api *a, const char *method, const char *path, const char *query,
                       const char *body, size_t body_len, station_api_response *out)
{
    memset(out, 0, sizeof *out);
    nd_api_response r;
    memset(&r, 0, sizeof r);
    if (nd_api_handle(a->ix, method, path, query, body, body_len, &r) != 0) return -1;
    out->status = r.status;
    out->content_type = r.content_type;
    out->body = r.body;
    out->body_len = r.body_len;
    out->file_path = r.file_path;
    return 0; /* ownership of body/file_path moved to out */
}

void station_api_response_free(station_api_response *r)
{
    free(r->body);
    free(r->file_path);
    memset(r, 0, sizeof *r);
}

int station_api_watch_fd(station_api *a)
{
    return nd_index_watch_fd(a->ix);
}

void station_api_watch_handle(station_api *a)
{
    nd_index_watch_handle(a->ix);
}
