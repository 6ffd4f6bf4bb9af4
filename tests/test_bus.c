/* The message bus cuts the sample stream at exactly the same set for every
 * lossless consumer, however the threads interleave (nd_bus.h). A producer
 * streams sets, a poster thread posts messages at the ring head at random
 * moments, and two consumers record the position at which they handled each
 * message: both must equal the message's position. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nd_bus.h"
#include "nd_ring.h"
#include "test_util.h"

#define NMSG 2000
#ifdef __SANITIZE_THREAD__
#define NSETS 400000ull
#else
#define NSETS 4000000ull
#endif

static nd_ring *ring;
static nd_bus bus;
static int ring_c[2], bus_r[2];
static uint64_t msg_pos[NMSG];
static uint64_t seen_at[2][NMSG];
static int seen_count[2];
static atomic_bool producer_done, poster_done;
static atomic_int errors;

static void *producer(void *arg)
{
    (void)arg;
    nd_sample batch[64];
    memset(batch, 0, sizeof batch);
    uint64_t seq = 0;
    /* Keep streaming until every message is posted, so they all land mid-stream. */
    while (seq < NSETS || !atomic_load(&poster_done)) {
        size_t n = 1 + (size_t)(seq % 64);
        for (size_t i = 0; i < n; i++) batch[i].seq = seq + i, batch[i].nch = 2;
        uint64_t pos;
        size_t got = nd_ring_reserve(ring, n, &pos);
        for (size_t i = 0; i < got; i++) *nd_ring_slot(ring, pos + i) = batch[i];
        if (got) nd_ring_publish(ring, pos + got);
        seq += got;
    }
    atomic_store(&producer_done, true);
    nd_ring_wake_all(ring);
    return NULL;
}

static void *poster(void *arg)
{
    (void)arg;
    unsigned seed = 12345;
    /* Start once the stream flows, so every message lands mid-stream. */
    while (nd_ring_published(ring) == 0) sched_yield();
    for (int i = 0; i < NMSG; i++) {
        nd_msg m = {.kind = ND_MSG_MARK, .trial_no = (uint32_t)i};
        uint64_t pos;
        if (nd_bus_post_at_head(&bus, &m, &pos)) atomic_fetch_add(&errors, 1);
        msg_pos[i] = pos;
        struct timespec ts = {0, (long)(rand_r(&seed) % 200000)};
        nanosleep(&ts, NULL);
    }
    atomic_store(&poster_done, true);
    return NULL;
}

static void *consumer(void *arg)
{
    int k = (int)(intptr_t)arg;
    uint64_t expect_seq = 0;
    for (;;) {
        uint64_t pos;
        uint64_t avail = nd_ring_available(ring, ring_c[k], &pos);
        uint64_t done = 0;
        for (;;) {
            nd_msg m;
            uint64_t limit;
            while (nd_bus_next(&bus, bus_r[k], pos + done, avail - done, &m, &limit)) {
                if (m.trial_no != (uint32_t)seen_count[k]) atomic_fetch_add(&errors, 1);
                seen_at[k][seen_count[k]++] = pos + done;
            }
            if (limit == 0) break;
            for (uint64_t i = 0; i < limit; i++)
                if (nd_ring_slot(ring, pos + done + i)->seq != expect_seq++)
                    atomic_fetch_add(&errors, 1);
            done += limit;
        }
        if (avail) {
            nd_ring_release(ring, ring_c[k], pos + avail);
            continue;
        }
        if (atomic_load(&producer_done) && atomic_load(&poster_done) && seen_count[k] == NMSG &&
            nd_ring_available(ring, ring_c[k], &pos) == 0)
            break;
        nd_ring_wait(ring, ring_c[k], 5);
    }
    return NULL;
}

int main(void)
{
    ring = nd_ring_create(1 << 12);
    CHECK(ring != NULL);
    ring_c[0] = nd_ring_add_consumer(ring, ND_RING_LOSSLESS, "a");
    ring_c[1] = nd_ring_add_consumer(ring, ND_RING_LOSSLESS, "b");
    CHECK(nd_bus_init(&bus, ring) == 0);
    bus_r[0] = nd_bus_add_reader(&bus);
    bus_r[1] = nd_bus_add_reader(&bus);

    pthread_t tp, tq, t0, t1;
    pthread_create(&t0, NULL, consumer, (void *)0);
    pthread_create(&t1, NULL, consumer, (void *)1);
    pthread_create(&tp, NULL, producer, NULL);
    pthread_create(&tq, NULL, poster, NULL);
    pthread_join(tp, NULL);
    pthread_join(tq, NULL);
    pthread_join(t0, NULL);
    pthread_join(t1, NULL);

    CHECK_EQ_INT(atomic_load(&errors), 0);
    CHECK_EQ_INT(seen_count[0], NMSG);
    CHECK_EQ_INT(seen_count[1], NMSG);
    int mismatches = 0, interior = 0;
    for (int i = 0; i < NMSG; i++) {
        if (seen_at[0][i] != msg_pos[i] || seen_at[1][i] != msg_pos[i]) mismatches++;
        if (msg_pos[i] > 0) interior++;
    }
    CHECK_EQ_INT(mismatches, 0);
    /* The test only proves something if messages landed mid-stream. */
    CHECK_EQ_INT(interior, NMSG);

    /* Position order wins over post order: a message posted later at an
     * earlier position (a held trial's START behind device events already
     * posted at the head) is handled at its own position, not held back
     * behind the earlier post. */
    nd_bus b3;
    CHECK(nd_bus_init(&b3, ring) == 0);
    int r3 = nd_bus_add_reader(&b3);
    nd_msg late = {.kind = ND_MSG_DEVICE_EVENT, .pos = 100, .trial_no = 1};
    nd_msg early = {.kind = ND_MSG_TRIAL_START, .pos = 10, .trial_no = 2};
    CHECK(nd_bus_post(&b3, &late) == 0);
    CHECK(nd_bus_post(&b3, &early) == 0);
    nd_msg got;
    uint64_t limit;
    CHECK(nd_bus_next(&b3, r3, 0, 200, &got, &limit) == 0);
    CHECK_EQ_INT(limit, 10);
    CHECK(nd_bus_next(&b3, r3, 10, 190, &got, &limit) == 1);
    CHECK_EQ_INT(got.trial_no, 2);
    CHECK(nd_bus_next(&b3, r3, 10, 190, &got, &limit) == 0);
    CHECK_EQ_INT(limit, 90);
    CHECK(nd_bus_next(&b3, r3, 100, 100, &got, &limit) == 1);
    CHECK_EQ_INT(got.trial_no, 1);
    CHECK(nd_bus_next(&b3, r3, 100, 100, &got, &limit) == 0);
    CHECK_EQ_INT(limit, 100);
    /* Both consumed: the slots are free again for new posts. */
    int refused3 = 0;
    for (int i = 0; i < ND_BUS_CAPACITY; i++) refused3 += nd_bus_post(&b3, &late) != 0;
    CHECK_EQ_INT(refused3, 0);
    CHECK_EQ_INT(b3.dropped, 0);
    nd_bus_destroy(&b3);

    /* A stuck reader makes posting fail visibly, never overwrite. */
    nd_bus b2;
    CHECK(nd_bus_init(&b2, ring) == 0);
    nd_bus_add_reader(&b2);
    nd_msg m = {.kind = ND_MSG_ERROR};
    int refused = 0;
    for (int i = 0; i < ND_BUS_CAPACITY + 10; i++) refused += nd_bus_post(&b2, &m) != 0;
    CHECK_EQ_INT(refused, 10);
    CHECK_EQ_INT(b2.dropped, 10);
    nd_bus_destroy(&b2);

    nd_bus_destroy(&bus);
    nd_ring_destroy(ring);
    return nd_test_finish("test_bus");
}
