/* Least privilege for nordicd started as root: resolve the configured
 * service account, hand it the daemon's directories, then drop to it for
 * good (supplementary groups kept, so udev's device group still applies).
 * Under systemd the unit already starts the daemon as that account, and
 * these steps find nothing to do. */
#ifndef ND_PRIVILEGE_H
#define ND_PRIVILEGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "nd_config.h"

typedef struct nd_identity {
    char user[33];
    uid_t uid;
    gid_t gid; /* primary group to run with */
} nd_identity;

/* Looks up cfg->user (and cfg->group, else the user's login group). Returns
 * 1 with *out filled, 0 when no user is configured, or -1 with a clear
 * message (unknown user or group). */
int nd_privilege_resolve(const nd_config *cfg, nd_identity *out, char *err, size_t errlen);

/* True when the process runs as root and should drop to id. A process that
 * is not root cannot switch user; it runs on as itself. */
bool nd_privilege_needed(const nd_identity *id);

/* As root, before the drop: creates state_dir, data_dir and the runtime
 * directory if missing and gives the ones it creates to id (mode 0750).
 * Existing directories keep their owner. Returns 0 or -1 with a message. */
int nd_privilege_prepare_dirs(const nd_config *cfg, const nd_identity *id, char *err,
                              size_t errlen);

/* Switches every thread to id: supplementary groups of the user
 * (initgroups), then gid, then uid; then checks that root cannot be
 * regained. Returns 0 or -1 with a message (the caller must exit). */
int nd_privilege_drop(const nd_identity *id, char *err, size_t errlen);

/* After the drop (or as any user): the daemon's directories must be
 * writable, else a message naming the directory and its owner. */
int nd_privilege_check_dirs(const nd_config *cfg, char *err, size_t errlen);

/* The whole sequence for main(): resolve, and when started as root prepare
 * the directories and drop; then check the directories are writable.
 * Returns 0 or -1 with a message (the daemon must not start). */
int nd_privilege_apply(const nd_config *cfg, char *err, size_t errlen);

#endif
