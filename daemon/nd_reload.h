/* SIGHUP: re-read the configuration and apply what can change while the
 * daemon runs. Safe at run time: log_level, [live] live_hz and
 * wave_decimation, and the [metrics] settings (they apply from the next
 * trial; while a trial records they take effect when it stops). Everything else
 * (device, directories, endpoints, ring, channels, keys, user) is reported
 * as needing a restart and keeps its running value. */
#ifndef ND_RELOAD_H
#define ND_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "nd_config.h"
#include "nd_daemon.h"

typedef struct nd_reload {
    nd_config defaults; /* as computed at start (before any privilege drop) */
    nd_config loaded;   /* what the daemon runs with, as far as the file is concerned */
    nd_metric_settings pending;
} nd_reload;

/* Call at start, before dropping privileges: the defaults depend on the
 * user (root or not), and a reload must rebuild on the same ones. */
void nd_reload_init(nd_reload *r, const nd_config *running);

/* Applies a freshly read and validated configuration. Logs each changed
 * key as applied, deferred or needing a restart, and writes a one-line
 * summary (for the service status). Returns the number of keys changed in
 * the file. */
int nd_reload_apply(nd_reload *r, nd_daemon *d, const nd_config *fresh, char *summary,
                    size_t summarylen);

#endif
