/* Operator commands on the sets of a planned protocol (daemon/METRICS.md
 * section 5): "set next" ends the current set. Like a mark, it is a bus
 * message at the stream's head: the metrics thread ends the set at that
 * sample and the writer stores it as a "set_next" event, so an offline
 * recomputation replays it at the same sample. */
#include <stdio.h>

#include "nd_daemon_internal.h"

int nd_daemon_set_next(nd_daemon *d, char *err, size_t errlen)
{
    pthread_mutex_lock(&d->cmd.lock);
    bool recording = d->cmd.state == ND_TRIAL_RECORDING;
    uint32_t no = recording ? d->cmd.trial->trial_no : 0;
    bool planned = recording && d->cmd.trial->req.plan.sets > 0;
    pthread_mutex_unlock(&d->cmd.lock);
    if (!recording) return snprintf(err, errlen, "no trial is recording"), -1;
    if (!planned)
        return snprintf(err, errlen,
                        "the recording trial has no protocol: start it with \"protocol\" "
                        "(e.g. \"3x6\") to count sets"),
               -1;
    nd_msg m = {.kind = ND_MSG_SET_NEXT, .trial_no = no};
    if (nd_bus_post_at_head(&d->bus, &m, NULL))
        return snprintf(err, errlen, "message bus full"), -1;
    return 0;
}
