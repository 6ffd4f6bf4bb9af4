/* A one-shot reply between threads: a command posts a request on the bus
 * with a reply attached, the thread that owns the work finishes it, the
 * command waits with a timeout. Reference-counted, so a command that gave
 * up waiting can leave while the worker still holds it.
 *
 * Waits use CLOCK_MONOTONIC (immune to wall-clock jumps). */
#ifndef ND_REPLY_H
#define ND_REPLY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct nd_reply {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_int refs;
    bool done;
    bool abandoned; /* the waiter gave up: the worker undoes what it can */
    int rc;
    char msg[256];
} nd_reply;

/* refs: how many parties will call nd_reply_release. NULL without memory. */
nd_reply *nd_reply_create(int refs);
void nd_reply_retain(nd_reply *r);
void nd_reply_release(nd_reply *r);

/* Worker side: sets the result once (later calls are ignored) and wakes the
 * waiter. Returns false when the waiter had already abandoned the request. */
bool nd_reply_finish(nd_reply *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True once nd_reply_finish ran. */
bool nd_reply_done(nd_reply *r);

/* Waiter side: waits up to seconds for the result. Returns 0 when done (then
 * *rc and msg hold it), -1 on timeout. */
int nd_reply_wait(nd_reply *r, double seconds, int *rc, char *msg, size_t msglen);
/* Gives up: from now on nd_reply_finish returns false. Returns true if the
 * reply was already done (the result is then valid and nothing to undo). */
bool nd_reply_abandon(nd_reply *r);

#endif
