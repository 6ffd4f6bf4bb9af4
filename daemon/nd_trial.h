/* A trial as it travels between threads: an immutable descriptor, fixed by
 * the start command and carried by the ND_MSG_TRIAL_START bus message, plus
 * the two answers the file writer gives about it (file opened, file closed).
 * Reference-counted: the command and each consumer thread hold it while
 * they need it. */
#ifndef ND_TRIAL_H
#define ND_TRIAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "nd_calibration.h"
#include "nd_daemon.h"
#include "nd_device.h"
#include "nd_metrics.h"
#include "nd_reply.h"

typedef struct nd_trial {
    /* Fixed at creation, read-only afterwards. */
    uint32_t trial_no;
    char trial_id[65];
    char created_utc[32];
    int64_t created_unix;
    nd_trial_request req;
    nd_device_info device;
    nd_calibration calibration; /* in force for the whole trial */
    nd_metric_settings settings;
    double fs;

    /* The writer's answers. `path` is written before `opened` is finished,
     * `summary` before `closed`: read them only once the reply is done. */
    nd_reply *opened; /* rc 0: file created at `path`; else msg says why */
    nd_reply *closed; /* rc 0: closed with its summary; else msg says why */
    char path[1024];
    nd_trial_summary summary;

    atomic_int refs;
} nd_trial;

/* A new trial with `refs` holders; NULL without memory. */
nd_trial *nd_trial_create(int refs);
void nd_trial_retain(nd_trial *t);
void nd_trial_release(nd_trial *t);
/* The public view (nd_daemon.h) of a trial. */
void nd_trial_to_slot(const nd_trial *t, uint64_t start_pos, nd_trial_slot *out);

#endif
