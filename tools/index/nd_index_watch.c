/* inotify on the data directory: files closed after writing or moved in are
 * (re)indexed, files deleted or moved away lose their rows (nd_index.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "nd_index_internal.h"

int nd_index_watch_fd(nd_index *ix)
{
    if (ix->inotify_fd >= 0) return ix->inotify_fd;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        snprintf(ix->last_error, sizeof ix->last_error, "inotify: %s", strerror(errno));
        return -1;
    }
    /* IN_CLOSE_WRITE: a copy finished or the daemon closed a trial;
     * IN_MOVED_TO: the daemon's ".partial" rename, rsync, mv. */
    int wd = inotify_add_watch(fd, ix->data_dir,
                               IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                   IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
    if (wd < 0) {
        snprintf(ix->last_error, sizeof ix->last_error, "inotify on %s: %s", ix->data_dir,
                 strerror(errno));
        close(fd);
        return -1;
    }
    ix->inotify_fd = fd;
    ix->watch_wd = wd;
    return fd;
}

int nd_index_watch_handle(nd_index *ix)
{
    if (ix->inotify_fd < 0) {
        snprintf(ix->last_error, sizeof ix->last_error, "inotify: not watching");
        return -1;
    }
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    int handled = 0, failed = 0;
    bool resync = false, gone = false;
    for (;;) {
        ssize_t len = read(ix->inotify_fd, buf, sizeof buf);
        if (len < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            snprintf(ix->last_error, sizeof ix->last_error, "inotify: %s", strerror(errno));
            return -1;
        }
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                resync = true; /* events were lost: compare with the directory */
                continue;
            }
            if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                /* The watch is gone with the directory: the next
                 * nd_index_watch_fd() sets it up again once it is back. */
                snprintf(ix->last_error, sizeof ix->last_error,
                         "inotify: data directory %s was removed or moved", ix->data_dir);
                failed = 1;
                gone = true;
                continue;
            }
            if (!ev->len || !nd_index_wants_name(ev->name)) continue;
            char err[512];
            int rc;
            if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
                rc = nd_index_remove_file(ix, ev->name, err, sizeof err);
            else
                rc = nd_index_add_file(ix, ev->name, err, sizeof err);
            if (rc == 0)
                handled++;
            else if (!strstr(err, "No such file")) { /* gone again already: nothing to do */
                snprintf(ix->last_error, sizeof ix->last_error, "%s", err);
                failed = 1;
            }
        }
    }
    if (gone) {
        close(ix->inotify_fd);
        ix->inotify_fd = -1;
        ix->watch_wd = -1;
        return -1;
    }
    if (resync) {
        char err[512];
        if (nd_index_sync(ix, err, sizeof err) < 0) {
            snprintf(ix->last_error, sizeof ix->last_error, "%s", err);
            return -1;
        }
        handled += nd_index_last_changes(ix);
    }
    if (!failed) ix->last_error[0] = '\0';
    return failed ? -1 : handled;
}
