/* Background index watcher (nd_index_watcher.h). */
#include "nd_index_watcher.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "nd_index.h"
#include "nd_log.h"

struct nd_index_watcher {
    nd_index *ix;
    int stop_fd; /* eventfd: written once by nd_index_watcher_stop() */
    pthread_t thread;
};

static void *watch_main(void *arg)
{
    nd_index_watcher *w = arg;
    struct pollfd p[2] = {{.fd = nd_index_watch_fd(w->ix), .events = POLLIN},
                          {.fd = w->stop_fd, .events = POLLIN}};
    for (;;) {
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            nd_err("index watcher: poll: %s", strerror(errno));
            break;
        }
        if (p[1].revents) break;
        if (p[0].revents && nd_index_watch_handle(w->ix) < 0)
            nd_warn("index watcher: %s", nd_index_last_error(w->ix));
    }
    return NULL;
}

nd_index_watcher *nd_index_watcher_start(const char *db_path, const char *data_dir, char *err,
                                         size_t errlen)
{
    nd_index_watcher *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->stop_fd = -1;
    w->ix = nd_index_open(db_path, data_dir, err, errlen);
    if (!w->ix) goto fail;
    /* Watch first, then sync: a file arriving in between is seen by one of them. */
    if (nd_index_watch_fd(w->ix) < 0) {
        snprintf(err, errlen, "%s", nd_index_last_error(w->ix));
        goto fail;
    }
    if (nd_index_sync(w->ix, err, errlen) < 0) goto fail;
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
    nd_index_close(w->ix);
    free(w);
}
