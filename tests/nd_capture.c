#include "nd_capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int nd_capture_init(nd_capture *c, size_t max_sets, size_t max_events)
{
    memset(c, 0, sizeof *c);
    /* calloc: pages of a generous capacity are only touched when used. */
    c->sets = calloc(max_sets ? max_sets : 1, sizeof *c->sets);
    c->events = calloc(max_events ? max_events : 1, sizeof *c->events);
    if (!c->sets || !c->events) {
        free(c->sets);
        free(c->events);
        return -1;
    }
    c->max_sets = max_sets;
    c->max_events = max_events;
    pthread_mutex_init(&c->lock, NULL);
    /* Waits time out on CLOCK_MONOTONIC: immune to wall-clock steps. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->changed, &attr);
    pthread_condattr_destroy(&attr);
    return 0;
}

void nd_capture_free(nd_capture *c)
{
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->lock);
    free(c->sets);
    free(c->events);
    c->sets = NULL;
    c->events = NULL;
}

void nd_capture_reset(nd_capture *c)
{
    pthread_mutex_lock(&c->lock);
    c->nsets = c->sets_dropped = c->sample_calls = 0;
    c->nevents = c->events_dropped = 0;
    memset(c->kind_events, 0, sizeof c->kind_events);
    memset(c->kind_count_sum, 0, sizeof c->kind_count_sum);
    memset(&c->info, 0, sizeof c->info);
    c->ninfo = 0;
    c->stop_flag = NULL;
    c->stop_at = 0;
    pthread_mutex_unlock(&c->lock);
}

void nd_capture_on_samples(void *ctx, const nd_sample *sets, size_t n)
{
    nd_capture *c = ctx;
    pthread_mutex_lock(&c->lock);
    size_t room = c->max_sets - c->nsets, take = n < room ? n : room;
    memcpy(c->sets + c->nsets, sets, take * sizeof *sets);
    c->nsets += take;
    c->sets_dropped += n - take;
    c->sample_calls++;
    if (c->stop_flag && c->nsets >= c->stop_at) atomic_store(c->stop_flag, true);
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

void nd_capture_on_event(void *ctx, const nd_device_event *ev)
{
    nd_capture *c = ctx;
    pthread_mutex_lock(&c->lock);
    if (c->nevents < c->max_events)
        c->events[c->nevents++] = *ev;
    else
        c->events_dropped++;
    if ((unsigned)ev->kind < ND_CAPTURE_EVENT_KINDS) {
        c->kind_events[ev->kind]++;
        c->kind_count_sum[ev->kind] += ev->count;
    }
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

void nd_capture_on_info(void *ctx, const nd_device_info *info)
{
    nd_capture *c = ctx;
    pthread_mutex_lock(&c->lock);
    c->info = *info;
    c->ninfo++;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

nd_sink nd_capture_sink(nd_capture *c)
{
    return (nd_sink){.ctx = c,
                     .samples = nd_capture_on_samples,
                     .event = nd_capture_on_event,
                     .info = nd_capture_on_info};
}

void nd_capture_stop_after(nd_capture *c, atomic_bool *stop, size_t at)
{
    pthread_mutex_lock(&c->lock);
    c->stop_flag = stop;
    c->stop_at = at;
    pthread_mutex_unlock(&c->lock);
}

size_t nd_capture_nsets(nd_capture *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->nsets;
    pthread_mutex_unlock(&c->lock);
    return n;
}

size_t nd_capture_nevents(nd_capture *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->nevents;
    pthread_mutex_unlock(&c->lock);
    return n;
}

size_t nd_capture_count_events(nd_capture *c, nd_device_event_kind kind)
{
    if ((unsigned)kind >= ND_CAPTURE_EVENT_KINDS) return 0;
    pthread_mutex_lock(&c->lock);
    size_t n = c->kind_events[kind];
    pthread_mutex_unlock(&c->lock);
    return n;
}

uint64_t nd_capture_event_count_sum(nd_capture *c, nd_device_event_kind kind)
{
    if ((unsigned)kind >= ND_CAPTURE_EVENT_KINDS) return 0;
    pthread_mutex_lock(&c->lock);
    uint64_t sum = c->kind_count_sum[kind];
    pthread_mutex_unlock(&c->lock);
    return sum;
}

size_t nd_capture_ninfo(nd_capture *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->ninfo;
    pthread_mutex_unlock(&c->lock);
    return n;
}

bool nd_capture_info(nd_capture *c, nd_device_info *out)
{
    pthread_mutex_lock(&c->lock);
    bool have = c->ninfo > 0;
    if (have) *out = c->info;
    pthread_mutex_unlock(&c->lock);
    return have;
}

void nd_capture_lock(nd_capture *c)
{
    pthread_mutex_lock(&c->lock);
}

void nd_capture_unlock(nd_capture *c)
{
    pthread_mutex_unlock(&c->lock);
}

static struct timespec deadline_after(int timeout_ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Sleeps on the condition until *count >= n or the deadline; c->lock held. */
static bool wait_locked(nd_capture *c, const size_t *count, size_t n, int timeout_ms)
{
    struct timespec deadline = deadline_after(timeout_ms < 0 ? 0 : timeout_ms);
    while (*count < n) {
        if (pthread_cond_timedwait(&c->changed, &c->lock, &deadline) == ETIMEDOUT)
            return *count >= n;
    }
    return true;
}

bool nd_capture_wait_sets(nd_capture *c, size_t n, int timeout_ms)
{
    pthread_mutex_lock(&c->lock);
    bool ok = wait_locked(c, &c->nsets, n, timeout_ms);
    pthread_mutex_unlock(&c->lock);
    return ok;
}

bool nd_capture_wait_events(nd_capture *c, nd_device_event_kind kind, size_t n, int timeout_ms)
{
    if ((unsigned)kind >= ND_CAPTURE_EVENT_KINDS) return false;
    pthread_mutex_lock(&c->lock);
    bool ok = wait_locked(c, &c->kind_events[kind], n, timeout_ms);
    pthread_mutex_unlock(&c->lock);
    return ok;
}
