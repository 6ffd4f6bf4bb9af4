/* Background index watcher (nd_index_watcher.h). */
#include "nd_index_watcher.h"

#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nd_index.h"
#include "nd_index_internal.h"
#include "nd_index_central.h"
#include "nd_log.h"

struct nd_index_watcher {
    nd_index *ix;
    nd_index_central *central; /* NULL: no central copy */
    bool publish_url;          /* a base URL was given for the central copy */
    int stop_fd;               /* eventfd: written once by nd_index_watcher_stop() */
    pthread_t thread;
};

static void *watch_main(void *arg)
{
    nd_index_watcher *w = arg;
    /* A base URL to publish counts as queued: the first push sends it. */
    bool queued = w->central && (nd_index_central_pending(w->central) != 0 || w->publish_url);
    bool warned = false; /* one line per outage, not one per retry */
    bool watching = nd_index_watch_fd(w->ix) >= 0, told_missing = false;
    char err[1024];
    for (;;) {
        int wfd = nd_index_watch_fd(w->ix);
        if (wfd >= 0 && !watching) {
            /* The data directory (re)appeared: catch up with what is in it. */
            if (nd_index_sync(w->ix, err, sizeof err) < 0) nd_warn("index watcher: %s", err);
            told_missing = false;
        } else if (wfd < 0 && !told_missing) {
            nd_warn("index watcher: %s (retrying every 2 s)", nd_index_last_error(w->ix));
            told_missing = true;
        }
        watching = wfd >= 0;
        struct pollfd p[2] = {{.fd = wfd, .events = POLLIN}, {.fd = w->stop_fd, .events = POLLIN}};
        int n = poll(p, 2, queued || !watching ? 2000 : -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            nd_err("index watcher: poll: %s", strerror(errno));
            break;
        }
        if (p[1].revents) break;
        if (watching && p[0].revents && nd_index_watch_handle(w->ix) < 0) {
            nd_warn("index watcher: %s", nd_index_last_error(w->ix));
            /* The directory went away: whatever appears before the next
             * watch is set up is found by the sync that follows it. */
            if (w->ix->inotify_fd < 0) watching = false;
        }
        if (w->central) {
            queued = nd_index_central_push(w->central, err, sizeof err) < 0;
            if (queued && !warned) nd_warn("index watcher: %s (changes stay queued)", err);
            if (!queued && warned) nd_notice("index watcher: central index reachable again");
            warned = queued;
        }
    }
    return NULL;
}

nd_index_watcher *nd_index_watcher_start(const char *db_path, const char *data_dir, char *err,
                                         size_t errlen)
{
    return nd_index_watcher_start_central(db_path, data_dir, NULL, NULL, err, errlen);
}

nd_index_watcher *nd_index_watcher_start_central(const char *db_path, const char *data_dir,
                                                 const char *conninfo, const char *station_id,
                                                 char *err, size_t errlen)
{
    return nd_index_watcher_start_station(db_path, data_dir, conninfo, station_id, NULL, err,
                                          errlen);
}

nd_index_watcher *nd_index_watcher_start_station(const char *db_path, const char *data_dir,
                                                 const char *conninfo, const char *station_id,
                                                 const char *base_url, char *err, size_t errlen)
{
    nd_index_watcher *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->stop_fd = -1;
    w->ix = nd_index_open(db_path, data_dir, err, errlen);
    if (!w->ix) goto fail;
    /* Watch first, then sync: a file arriving in between is seen by one of
     * them. A data directory that is not there yet is waited for. */
    nd_index_watch_fd(w->ix);
    if (nd_index_sync(w->ix, err, errlen) < 0) goto fail;
    if (conninfo && !(w->central = nd_index_central_open(w->ix, conninfo, station_id, err, errlen)))
        goto fail;
    if (w->central && base_url && *base_url) {
        if (nd_index_central_set_base_url(w->central, base_url, err, errlen)) goto fail;
        w->publish_url = true;
    }
    w->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (w->stop_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    int rc = pthread_create(&w->thread, NULL, watch_main, w);
    if (rc) {
        snprintf(err, errlen, "index watcher thread: %s", strerror(rc));
        goto fail;
    }
    return w;
fail:
    if (w->stop_fd >= 0) close(w->stop_fd);
    nd_index_central_close(w->central);
    nd_index_close(w->ix);
    free(w);
    return NULL;
}

void nd_index_watcher_stop(nd_index_watcher *w)
{
    if (!w) return;
    uint64_t one = 1;
    if (write(w->stop_fd, &one, sizeof one) != sizeof one)
        nd_err("index watcher: cannot signal stop: %s", strerror(errno));
    pthread_join(w->thread, NULL);
    close(w->stop_fd);
    nd_index_central_close(w->central);
    nd_index_close(w->ix);
    free(w);
}
