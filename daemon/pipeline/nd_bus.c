#include "nd_bus.h"

#include <stdlib.h>
#include <string.h>

#include "nd_log.h"

int nd_bus_init(nd_bus *b, nd_ring *ring)
{
    memset(b, 0, sizeof *b);
    b->ring = ring;
    b->msgs = calloc(ND_BUS_CAPACITY, sizeof *b->msgs);
    b->taken = calloc((size_t)ND_BUS_MAX_READERS * ND_BUS_CAPACITY, 1);
    if (!b->msgs || !b->taken) {
        free(b->msgs);
        free(b->taken);
        return -1;
    }
    pthread_mutex_init(&b->lock, NULL);
    return 0;
}

void nd_bus_destroy(nd_bus *b)
{
    free(b->msgs);
    free(b->taken);
    b->msgs = NULL;
    b->taken = NULL;
    pthread_mutex_destroy(&b->lock);
}

int nd_bus_add_reader(nd_bus *b)
{
    pthread_mutex_lock(&b->lock);
    int id = b->nreaders < ND_BUS_MAX_READERS ? b->nreaders++ : -1;
    if (id >= 0) b->read_idx[id] = b->head;
    pthread_mutex_unlock(&b->lock);
    return id;
}

/* Caller holds the lock. */
static int append_locked(nd_bus *b, const nd_msg *m)
{
    for (int i = 0; i < b->nreaders; i++) {
        if (b->head - b->read_idx[i] >= ND_BUS_CAPACITY) {
            b->dropped++;
            return -1;
        }
    }
    size_t slot = b->head % ND_BUS_CAPACITY;
    b->msgs[slot] = *m;
    /* Every reader is past the message this slot held before. */
    for (int i = 0; i < ND_BUS_MAX_READERS; i++) b->taken[(size_t)i * ND_BUS_CAPACITY + slot] = 0;
    b->head++;
    return 0;
}

int nd_bus_post(nd_bus *b, const nd_msg *m)
{
    pthread_mutex_lock(&b->lock);
    int rc = append_locked(b, m);
    pthread_mutex_unlock(&b->lock);
    if (rc)
        nd_err("message bus full: a consumer thread is stuck; message kind %d dropped", m->kind);
    return rc;
}

int nd_bus_post_at_head(nd_bus *b, nd_msg *m, uint64_t *pos)
{
    pthread_mutex_lock(&b->lock);
    m->pos = nd_ring_published(b->ring);
    int rc = append_locked(b, m);
    pthread_mutex_unlock(&b->lock);
    if (pos) *pos = m->pos;
    if (rc)
        nd_err("message bus full: a consumer thread is stuck; message kind %d dropped", m->kind);
    return rc;
}

int nd_bus_next(nd_bus *b, int reader, uint64_t at, uint64_t avail, nd_msg *out, uint64_t *limit)
{
    int got = 0;
    *limit = avail;
    pthread_mutex_lock(&b->lock);
    uint8_t *taken = b->taken + (size_t)reader * ND_BUS_CAPACITY;
    /* The first message due (post order), else the nearest position ahead. */
    for (uint64_t i = b->read_idx[reader]; i < b->head; i++) {
        size_t slot = i % ND_BUS_CAPACITY;
        if (taken[slot]) continue;
        const nd_msg *m = &b->msgs[slot];
        if (m->pos <= at) {
            *out = *m;
            taken[slot] = 1;
            got = 1;
            break;
        }
        if (m->pos - at < *limit) *limit = m->pos - at;
    }
    while (b->read_idx[reader] < b->head && taken[b->read_idx[reader] % ND_BUS_CAPACITY])
        b->read_idx[reader]++;
    pthread_mutex_unlock(&b->lock);
    return got;
}

int nd_bus_next_any(nd_bus *b, int reader, nd_msg *out)
{
    int got = 0;
    pthread_mutex_lock(&b->lock);
    if (b->read_idx[reader] < b->head) {
        *out = b->msgs[b->read_idx[reader] % ND_BUS_CAPACITY];
        b->read_idx[reader]++;
        got = 1;
    }
    pthread_mutex_unlock(&b->lock);
    return got;
}
