/* Trial descriptors shared between threads (nd_trial.h). */
#include "nd_trial.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nd_trial *nd_trial_create(int refs)
{
    nd_trial *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    /* Replies are held by the trial only: released with it. */
    t->opened = nd_reply_create(1);
    t->closed = nd_reply_create(1);
    if (!t->opened || !t->closed) {
        nd_reply_release(t->opened);
        nd_reply_release(t->closed);
        free(t);
        return NULL;
    }
    atomic_store(&t->refs, refs);
    return t;
}

void nd_trial_retain(nd_trial *t)
{
    atomic_fetch_add(&t->refs, 1);
}

void nd_trial_release(nd_trial *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1) return;
    nd_reply_release(t->opened);
    nd_reply_release(t->closed);
    free(t);
}

void nd_trial_to_slot(const nd_trial *t, uint64_t start_pos, nd_trial_slot *out)
{
    memset(out, 0, sizeof *out);
    out->trial_no = t->trial_no;
    snprintf(out->trial_id, sizeof out->trial_id, "%s", t->trial_id);
    snprintf(out->created_utc, sizeof out->created_utc, "%s", t->created_utc);
    out->created_unix = t->created_unix;
    out->req = t->req;
    out->device = t->device;
    out->calibration = t->calibration;
    out->settings = t->settings;
    out->fs = t->fs;
    out->start_pos = start_pos;
    if (nd_reply_done(t->opened)) snprintf(out->path, sizeof out->path, "%s", t->path);
}
