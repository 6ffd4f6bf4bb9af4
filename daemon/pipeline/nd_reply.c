/* One-shot cross-thread replies (nd_reply.h). */
#include "nd_reply.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

nd_reply *nd_reply_create(int refs)
{
    nd_reply *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &attr);
    pthread_condattr_destroy(&attr);
    atomic_store(&r->refs, refs);
    return r;
}

void nd_reply_retain(nd_reply *r)
{
    atomic_fetch_add(&r->refs, 1);
}

void nd_reply_release(nd_reply *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}

bool nd_reply_finish(nd_reply *r, int rc, const char *fmt, ...)
{
    pthread_mutex_lock(&r->lock);
    bool wanted = !r->abandoned;
    if (!r->done) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->msg, sizeof r->msg, fmt, ap);
        va_end(ap);
        r->rc = rc;
        r->done = true;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
    return wanted;
}

bool nd_reply_done(nd_reply *r)
{
    pthread_mutex_lock(&r->lock);
    bool done = r->done;
    pthread_mutex_unlock(&r->lock);
    return done;
}

int nd_reply_wait(nd_reply *r, double seconds, int *rc, char *msg, size_t msglen)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    double whole = floor(seconds);
    deadline.tv_sec += (time_t)whole;
    deadline.tv_nsec += (long)((seconds - whole) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&r->lock);
    while (!r->done)
        if (pthread_cond_timedwait(&r->cond, &r->lock, &deadline) == ETIMEDOUT) break;
    int out = r->done ? 0 : -1;
    if (r->done) {
        if (rc) *rc = r->rc;
        if (msg && msglen) snprintf(msg, msglen, "%s", r->msg);
    }
    pthread_mutex_unlock(&r->lock);
    return out;
}

bool nd_reply_abandon(nd_reply *r)
{
    pthread_mutex_lock(&r->lock);
    r->abandoned = true;
    bool done = r->done;
    pthread_mutex_unlock(&r->lock);
    return done;
}
