/* Tests for the sample ring: single-thread unit checks, then a multi-thread
 * stress run (one producer, two lossless consumers, one lossy consumer) in a
 * retrying and a non-waiting producer variant.
 *
 * ND_RING_STRESS_SETS overrides the stress size (default 5 M, 2 M under
 * ASan, 1 M under TSan). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "nd_ring.h"
#include "test_util.h"

/* ---------- sample sets whose every byte is derived from seq ---------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    x ^= x >> 33;
    return x;
}

static void fill_set(nd_sample *s, uint64_t seq)
{
    uint64_t h = mix64(seq);
    s->seq = seq;
    s->host_ns = h;
    s->dev_t_us = (uint32_t)(h >> 7);
    s->nch = (uint8_t)(1 + (seq % ND_MAX_CHANNELS));
    s->flags = (uint8_t)(h >> 56);
    s->reserved = (uint16_t)seq;
    for (int i = 0; i < ND_MAX_CHANNELS; i++) s->raw[i] = (int32_t)(uint32_t)mix64(h + (uint64_t)i);
    s->gap_sets = ~seq;
}

/* True if every field matches what fill_set(seq) wrote: a set mixed from two
 * different writes (torn) fails here. */
static bool set_is_whole(const nd_sample *s)
{
    nd_sample want;
    fill_set(&want, s->seq);
    return memcmp(&want, s, sizeof(want)) == 0;
}

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* ---------- single-thread unit checks ---------- */

static void test_capacity_validation(void)
{
    CHECK(nd_ring_create(0) == NULL);
    CHECK(nd_ring_create(1) == NULL);
    CHECK(nd_ring_create(3) == NULL);
    CHECK(nd_ring_create(1000) == NULL);
    CHECK(nd_ring_create((size_t)1 << 62) == NULL); /* slot bytes overflow size_t */
    nd_ring *r = nd_ring_create(2);
    CHECK(r != NULL);
    if (r) CHECK_EQ_INT(nd_ring_capacity(r), 2);
    nd_ring_destroy(r);
    r = nd_ring_create(1024);
    CHECK(r != NULL);
    if (r) CHECK_EQ_INT(nd_ring_capacity(r), 1024);
    CHECK(((uintptr_t)nd_ring_slot(r, 0) & 63) == 0); /* slots are cache-line aligned */
    nd_ring_destroy(r);
    nd_ring_destroy(NULL); /* allowed, like free() */
}

static void test_consumer_registration(void)
{
    nd_ring *r = nd_ring_create(8);
    CHECK_EQ_INT(nd_ring_add_consumer(r, (nd_ring_policy)7, "bad"), -1);
    for (int i = 0; i < ND_RING_MAX_CONSUMERS; i++)
        CHECK_EQ_INT(nd_ring_add_consumer(r, i % 2 ? ND_RING_LOSSY : ND_RING_LOSSLESS, "c"), i);
    CHECK_EQ_INT(nd_ring_add_consumer(r, ND_RING_LOSSLESS, "one too many"), -1);
    nd_ring_destroy(r);

    /* A consumer added later starts at the current publish position. */
    r = nd_ring_create(8);
    nd_sample s[3];
    for (int i = 0; i < 3; i++) fill_set(&s[i], (uint64_t)i);
    CHECK_EQ_INT(nd_ring_push(r, s, 3), 3); /* no consumers: nothing can block */
    int c = nd_ring_add_consumer(r, ND_RING_LOSSLESS, "late");
    CHECK_EQ_INT(nd_ring_consumer_position(r, c), 3);
    uint64_t pos;
    CHECK_EQ_INT(nd_ring_available(r, c, &pos), 0);
    nd_ring_destroy(r);
}

static void test_reserve_publish_release(void)
{
    nd_ring *r = nd_ring_create(8);
    int c = nd_ring_add_consumer(r, ND_RING_LOSSLESS, "writer");
    uint64_t pos = 99;
    size_t n = nd_ring_reserve(r, 5, &pos);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(pos, 0);
    for (size_t i = 0; i < n; i++) fill_set(nd_ring_slot(r, pos + i), pos + i);
    uint64_t cpos;
    CHECK_EQ_INT(nd_ring_available(r, c, &cpos), 0); /* not yet published */
    nd_ring_publish(r, pos + n);
    CHECK_EQ_INT(nd_ring_published(r), 5);
    CHECK_EQ_INT(nd_ring_available(r, c, &cpos), 5);
    CHECK_EQ_INT(cpos, 0);
    CHECK(set_is_whole(nd_ring_slot(r, 4)) && nd_ring_slot(r, 4)->seq == 4);

    /* Only 3 slots are free until the consumer releases. */
    n = nd_ring_reserve(r, 6, &pos);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(pos, 5);
    nd_ring_release(r, c, 2);
    n = nd_ring_reserve(r, 6, &pos);
    CHECK_EQ_INT(n, 5);
    for (size_t i = 0; i < n; i++) fill_set(nd_ring_slot(r, pos + i), pos + i);
    nd_ring_publish(r, pos + n); /* wraps: positions 5..9 use slots 5,6,7,0,1 */
    CHECK_EQ_INT(nd_ring_available(r, c, &cpos), 8);
    CHECK_EQ_INT(cpos, 2);
    for (uint64_t p = cpos; p < cpos + 8; p++)
        CHECK(nd_ring_slot(r, p)->seq == p && set_is_whole(nd_ring_slot(r, p)));
    CHECK_EQ_INT(nd_ring_reserve(r, 1, &pos), 0); /* full */

    /* Bad releases are refused and change nothing. */
    nd_ring_release(r, c, 1);  /* backwards */
    nd_ring_release(r, c, 11); /* beyond published */
    CHECK_EQ_INT(nd_ring_consumer_position(r, c), 2);
    nd_ring_release(r, c, 10);
    CHECK_EQ_INT(nd_ring_consumer_position(r, c), 10);
    CHECK_EQ_INT(nd_ring_available(r, c, &cpos), 0);

    /* Publishing beyond what was reserved is refused. */
    n = nd_ring_reserve(r, 2, &pos);
    CHECK_EQ_INT(n, 2);
    nd_ring_publish(r, pos + 3);
    CHECK_EQ_INT(nd_ring_published(r), 10);
    nd_ring_publish(r, pos + 2);
    CHECK_EQ_INT(nd_ring_published(r), 12);

    /* Bad consumer ids and the wrong policy's calls do nothing. */
    CHECK_EQ_INT(nd_ring_available(r, 5, &cpos), 0);
    CHECK_EQ_INT(nd_ring_available(r, -1, &cpos), 0);
    nd_sample out[2];
    CHECK_EQ_INT(nd_ring_copy_lossy(r, c, out, 2, NULL), 0);
    CHECK_EQ_INT(nd_ring_consumer_position(r, c), 10);
    nd_ring_destroy(r);
}

static void test_full_ring_refusal_counted(void)
{
    nd_ring *r = nd_ring_create(8);
    int fast = nd_ring_add_consumer(r, ND_RING_LOSSLESS, "fast");
    int slow = nd_ring_add_consumer(r, ND_RING_LOSSLESS, "slow");
    nd_sample s[20];
    for (int i = 0; i < 20; i++) fill_set(&s[i], (uint64_t)i);
    CHECK_EQ_INT(nd_ring_push(r, s, 10), 8);
    nd_ring_stats st;
    nd_ring_get_stats(r, &st);
    CHECK_EQ_INT(st.published, 8);
    CHECK_EQ_INT(st.overrun_sets, 2);
    CHECK_EQ_INT(st.lag[fast], 8);
    CHECK_EQ_INT(st.lag[slow], 8);

    /* The slowest lossless consumer decides. */
    uint64_t pos;
    CHECK_EQ_INT(nd_ring_available(r, fast, &pos), 8);
    nd_ring_release(r, fast, 8);
    CHECK_EQ_INT(nd_ring_push(r, s + 10, 1), 0);
    CHECK_EQ_INT(nd_ring_available(r, slow, &pos), 8);
    nd_ring_release(r, slow, 3);
    CHECK_EQ_INT(nd_ring_push(r, s + 10, 5), 3);
    nd_ring_get_stats(r, &st);
    CHECK_EQ_INT(st.published, 11);
    CHECK_EQ_INT(st.overrun_sets, 2 + 1 + 2);
    CHECK_EQ_INT(st.lag[fast], 3);
    CHECK_EQ_INT(st.lag[slow], 8);
    /* What was placed is intact and in order. */
    CHECK_EQ_INT(nd_ring_available(r, fast, &pos), 3);
    for (uint64_t p = pos; p < pos + 3; p++)
        CHECK(nd_ring_slot(r, p)->seq == p + 2 && set_is_whole(nd_ring_slot(r, p)));
    nd_ring_destroy(r);
}

static void test_lossy_skip_exact(void)
{
    nd_ring *r = nd_ring_create(8);
    int c = nd_ring_add_consumer(r, ND_RING_LOSSY, "live");
    nd_sample s[20], out[16];
    for (int i = 0; i < 20; i++) fill_set(&s[i], (uint64_t)i);
    /* A lossy consumer never holds the producer back. */
    CHECK_EQ_INT(nd_ring_push(r, s, 20), 20);
    uint64_t pos = 99;
    size_t n = nd_ring_copy_lossy(r, c, out, 16, &pos);
    CHECK_EQ_INT(n, 8);
    CHECK_EQ_INT(pos, 12);
    for (size_t i = 0; i < n; i++) CHECK(out[i].seq == 12 + i && set_is_whole(&out[i]));
    nd_ring_stats st;
    nd_ring_get_stats(r, &st);
    CHECK_EQ_INT(st.skipped[c], 12);
    CHECK_EQ_INT(st.lag[c], 0);
    CHECK_EQ_INT(st.overrun_sets, 0);

    /* Partial reads keep their place; max limits the copy. */
    CHECK_EQ_INT(nd_ring_push(r, s, 5), 5); /* positions 20..24 */
    n = nd_ring_copy_lossy(r, c, out, 2, &pos);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(pos, 20);
    n = nd_ring_copy_lossy(r, c, out, 16, &pos);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(pos, 22);
    CHECK(out[0].seq == 2 && out[2].seq == 4);

    /* Slots the producer has reserved (and may be writing) but not yet
     * published are already unsafe for the lossy reader: it must skip the
     * oldest published positions whose slots are now claimed. */
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(nd_ring_push(r, &s[i], 1), 1); /* 25..32 */
    uint64_t wpos;
    CHECK_EQ_INT(nd_ring_reserve(r, 3, &wpos), 3); /* claims 33..35 = slots of 25..27 */
    n = nd_ring_copy_lossy(r, c, out, 16, &pos);
    CHECK_EQ_INT(pos, 28);
    CHECK_EQ_INT(n, 5);
    nd_ring_get_stats(r, &st);
    CHECK_EQ_INT(st.skipped[c], 12 + 3);
    /* Accounting: everything published was either seen or skipped. */
    CHECK_EQ_INT(8 + 5 + 5 + st.skipped[c], st.published);
    nd_ring_publish(r, wpos); /* publishing nothing is fine */
    CHECK_EQ_INT(nd_ring_published(r), 33);
    nd_ring_destroy(r);
}

/* Staging (RING.md, "Wake-ups"): staged sets are invisible until commit,
 * which publishes them all at once; what finds no room is counted as
 * overrun, after the stage first commits what waits so consumers can free
 * slots; push never overtakes staged sets. */
static void test_stage_commit(void)
{
    nd_ring *r = nd_ring_create(8);
    int c = nd_ring_add_consumer(r, ND_RING_LOSSLESS, "metrics");
    nd_sample s[20];
    for (int i = 0; i < 20; i++) fill_set(&s[i], (uint64_t)i);
    uint64_t pos;
    CHECK_EQ_INT(nd_ring_stage(r, s, 2, 0), 2);
    CHECK_EQ_INT(nd_ring_stage(r, s + 2, 3, 0), 3);
    CHECK_EQ_INT(nd_ring_published(r), 0);
    CHECK_EQ_INT(nd_ring_available(r, c, &pos), 0);
    nd_ring_commit(r);
    CHECK_EQ_INT(nd_ring_published(r), 5);
    CHECK_EQ_INT(nd_ring_available(r, c, &pos), 5);
    for (uint64_t p = 0; p < 5; p++)
        CHECK(nd_ring_slot(r, p)->seq == p && set_is_whole(nd_ring_slot(r, p)));
    nd_ring_commit(r); /* nothing staged: no change */
    CHECK_EQ_INT(nd_ring_published(r), 5);

    /* 3 slots free: 2 staged, then a stage of 4 places 1, commits the 3
     * and refuses the rest (the consumer has not released yet). */
    CHECK_EQ_INT(nd_ring_stage(r, s + 5, 2, 0), 2);
    CHECK_EQ_INT(nd_ring_stage(r, s + 7, 4, 5), 1);
    nd_ring_stats st;
    nd_ring_get_stats(r, &st);
    CHECK_EQ_INT(st.published, 8); /* committed by the full stage */
    CHECK_EQ_INT(st.overrun_sets, 3);
    nd_ring_commit(r);
    CHECK_EQ_INT(nd_ring_published(r), 8);
    CHECK(nd_ring_slot(r, 7)->seq == 7 && set_is_whole(nd_ring_slot(r, 7)));

    /* Released room is used again; push commits what was staged first. */
    CHECK_EQ_INT(nd_ring_available(r, c, &pos), 8);
    nd_ring_release(r, c, 8);
    CHECK_EQ_INT(nd_ring_stage(r, s + 11, 2, 0), 2);
    CHECK_EQ_INT(nd_ring_push(r, s + 13, 1), 1);
    CHECK_EQ_INT(nd_ring_published(r), 11);
    CHECK_EQ_INT(nd_ring_available(r, c, &pos), 3);
    CHECK(nd_ring_slot(r, 8)->seq == 11 && nd_ring_slot(r, 9)->seq == 12 &&
          nd_ring_slot(r, 10)->seq == 13 && set_is_whole(nd_ring_slot(r, 10)));
    nd_ring_destroy(r);
}

/* A lossy consumer nobody reads for (no subscriber) passes over the sets
 * without counting them as skipped. */
static void test_pass_over(void)
{
    nd_ring *r = nd_ring_create(8);
    int c = nd_ring_add_consumer(r, ND_RING_LOSSY, "live");
    nd_sample s[20], out[8];
    for (int i = 0; i < 20; i++) fill_set(&s[i], (uint64_t)i);
    CHECK_EQ_INT(nd_ring_push(r, s, 20), 20);
    CHECK_EQ_INT(nd_ring_pass_over(r, c), 20);
    CHECK_EQ_INT(nd_ring_pass_over(r, c), 0);
    nd_ring_stats st;
    nd_ring_get_stats(r, &st);
    CHECK_EQ_INT(st.skipped[c], 0);
    CHECK_EQ_INT(st.lag[c], 0);
    CHECK_EQ_INT(nd_ring_push(r, s, 2), 2);
    uint64_t pos;
    CHECK_EQ_INT(nd_ring_copy_lossy(r, c, out, 8, &pos), 2);
    CHECK_EQ_INT(pos, 20);
    nd_ring_destroy(r);
}

/* A stage into a full ring waits (up to its bound) for a consumer to make
 * room, then places everything: a source faster than the consumers is slowed,
 * not cut. */
struct release_later {
    nd_ring *r;
    int consumer;
};

static void *release_later_main(void *p)
{
    struct release_later *a = p;
    struct timespec ms5 = {0, 5000000L};
    nanosleep(&ms5, NULL);
    uint64_t pos;
    size_t n = nd_ring_available(a->r, a->consumer, &pos);
    nd_ring_release(a->r, a->consumer, pos + n);
    return NULL;
}

static void test_stage_waits_for_room(void)
{
    nd_ring *r = nd_ring_create(8);
    int c = nd_ring_add_consumer(r, ND_RING_LOSSLESS, "writer");
    nd_sample s[12];
    for (int i = 0; i < 12; i++) fill_set(&s[i], (uint64_t)i);
    CHECK_EQ_INT(nd_ring_stage(r, s, 8, 0), 8);
    struct release_later a = {r, c};
    pthread_t th;
    pthread_create(&th, NULL, release_later_main, &a);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ_INT(nd_ring_stage(r, s + 8, 4, 2000), 4);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(th, NULL);
    nd_ring_commit(r);
    nd_ring_stats st;
    nd_ring_get_stats(r, &st);
    CHECK_EQ_INT(st.overrun_sets, 0);
    CHECK_EQ_INT(st.published, 12);
    CHECK(elapsed_ms(&t0, &t1) >= 4.0); /* it waited for the release */
    uint64_t pos;
    CHECK_EQ_INT(nd_ring_available(r, c, &pos), 4);
    for (uint64_t p = pos; p < pos + 4; p++)
        CHECK(nd_ring_slot(r, p)->seq == p && set_is_whole(nd_ring_slot(r, p)));
    nd_ring_destroy(r);
}

struct waiter_arg {
    nd_ring *r;
    int consumer;
    int timeout_ms;
    atomic_bool returned;
};

static void *waiter_main(void *p)
{
    struct waiter_arg *a = p;
    nd_ring_wait(a->r, a->consumer, a->timeout_ms);
    atomic_store(&a->returned, true);
    return NULL;
}

static void test_wait_and_wake(void)
{
    nd_ring *r = nd_ring_create(16);
    int c = nd_ring_add_consumer(r, ND_RING_LOSSLESS, "waiter");
    int l = nd_ring_add_consumer(r, ND_RING_LOSSY, "lossy waiter");

    /* Timeout with no data: returns no earlier than asked, still no data. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nd_ring_wait(r, c, 30);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(elapsed_ms(&t0, &t1) >= 30.0);
    uint64_t pos;
    CHECK_EQ_INT(nd_ring_available(r, c, &pos), 0);
    nd_ring_wait(r, c, 0); /* poll only */

    /* A publish wakes a sleeping consumer (the timeout is far longer than
     * the test allows, so returning at all proves the wake). */
    struct waiter_arg a = {.r = r, .consumer = c, .timeout_ms = 600000};
    atomic_init(&a.returned, false);
    pthread_t th;
    pthread_create(&th, NULL, waiter_main, &a);
    struct timespec nap = {0, 20 * 1000000L};
    nanosleep(&nap, NULL);
    nd_sample s;
    fill_set(&s, 1);
    CHECK_EQ_INT(nd_ring_push(r, &s, 1), 1);
    pthread_join(th, NULL);
    CHECK(atomic_load(&a.returned));
    CHECK_EQ_INT(nd_ring_available(r, c, &pos), 1);
    nd_ring_release(r, c, pos + 1);

    /* wake_all releases a waiter that has no data (shutdown path). */
    struct waiter_arg b = {.r = r, .consumer = l, .timeout_ms = -1};
    atomic_init(&b.returned, false);
    nd_sample out;
    CHECK_EQ_INT(nd_ring_copy_lossy(r, l, &out, 1, NULL), 1);
    pthread_create(&th, NULL, waiter_main, &b);
    nanosleep(&nap, NULL);
    nd_ring_wake_all(r);
    pthread_join(th, NULL);
    CHECK(atomic_load(&b.returned));

    /* A wake_all issued before the wait is not lost: the next wait of each
     * consumer returns at once, exactly once. */
    nd_ring_wake_all(r);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nd_ring_wait(r, c, 600000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(elapsed_ms(&t0, &t1) < 600000.0); /* returned at all */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nd_ring_wait(r, c, 20); /* already delivered: waits the timeout again */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(elapsed_ms(&t0, &t1) >= 20.0);
    nd_ring_destroy(r);
}

struct batch_waiter {
    nd_ring *r;
    int consumer;
    uint64_t min_sets;
    atomic_int returned;
    atomic_int tid;
};

/* Times a thread went to sleep of its own accord (futex waits included). */
static long voluntary_switches(int tid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strstr(buf, "\nvoluntary_ctxt_switches:");
    return p ? atol(p + 26) : -1;
}

static void *batch_waiter_main(void *p)
{
    struct batch_waiter *a = p;
    atomic_store(&a->tid, (int)syscall(SYS_gettid));
    nd_ring_wait_for(a->r, a->consumer, a->min_sets, 600000);
    atomic_store(&a->returned, 1);
    return NULL;
}

/* nd_ring_wait_for: a sleeper is woken when its count is published, not by
 * each publish before that; its timeout still bounds the wait. */
static void test_wait_for_count(void)
{
    nd_ring *r = nd_ring_create(64);
    int c = nd_ring_add_consumer(r, ND_RING_LOSSLESS, "batch waiter");
    int l = nd_ring_add_consumer(r, ND_RING_LOSSY, "lossy batch waiter");
    struct batch_waiter a = {.r = r, .consumer = c, .min_sets = 5};
    struct batch_waiter b = {.r = r, .consumer = l, .min_sets = 3};
    atomic_init(&a.returned, 0);
    atomic_init(&b.returned, 0);
    pthread_t ta, tb;
    pthread_create(&ta, NULL, batch_waiter_main, &a);
    pthread_create(&tb, NULL, batch_waiter_main, &b);
    struct timespec nap = {0, 30 * 1000000L};
    nanosleep(&nap, NULL);
    long slept = voluntary_switches(atomic_load(&a.tid));
    CHECK(slept >= 0);
    nd_sample s;
    for (uint64_t i = 0; i < 4; i++) {
        fill_set(&s, i);
        CHECK_EQ_INT(nd_ring_push(r, &s, 1), 1);
        nanosleep(&nap, NULL);
        /* the lossy waiter wants 3, the lossless one 5 */
        CHECK_EQ_INT(atomic_load(&b.returned), i + 1 >= 3);
        CHECK_EQ_INT(atomic_load(&a.returned), 0);
    }
    /* Not even woken and sent back to sleep by the first four publishes. */
    CHECK_EQ_INT(voluntary_switches(atomic_load(&a.tid)), slept);
    fill_set(&s, 4);
    CHECK_EQ_INT(nd_ring_push(r, &s, 1), 1); /* the fifth set */
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    uint64_t pos;
    CHECK_EQ_INT(nd_ring_available(r, c, &pos), 5);
    nd_ring_release(r, c, pos + 5);

    /* The timeout bounds a wait for more than will come. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nd_ring_wait_for(r, c, 10, 30);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(elapsed_ms(&t0, &t1) >= 30.0);
    /* A count above the capacity is capped at the capacity (a full ring
     * must wake a lossless reader, or the producer would refuse sets). */
    nd_sample many[64];
    for (uint64_t i = 0; i < 64; i++) fill_set(&many[i], 5 + i);
    CHECK_EQ_INT(nd_ring_push(r, many, 64), 64);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nd_ring_wait_for(r, c, 1000, 600000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(elapsed_ms(&t0, &t1) < 600000.0);
    nd_ring_destroy(r);
}

/* nd_ring_fit / nd_ring_capacity_for: the ring sized to the rate before the
 * first set, refused afterwards, and correct across the new wrap. */
static void test_fit_to_rate(void)
{
    /* 8 s at 1 kHz -> 8192; rounding up to a power of two; bounds. */
    CHECK_EQ_INT(nd_ring_capacity_for(1000, 8, 1024, 1u << 20), 8192);
    CHECK_EQ_INT(nd_ring_capacity_for(1000, 8.2, 1024, 1u << 20), 16384);
    CHECK_EQ_INT(nd_ring_capacity_for(100000, 8, 1024, 1u << 20), 1u << 20);
    CHECK_EQ_INT(nd_ring_capacity_for(10, 1, 1024, 1u << 20), 1024);
    CHECK_EQ_INT(nd_ring_capacity_for(0, 8, 1024, 1u << 20), 1u << 20); /* rate unknown */

    nd_ring *r = nd_ring_create(256);
    int c = nd_ring_add_consumer(r, ND_RING_LOSSLESS, "fit");
    CHECK_EQ_INT(nd_ring_fit(r, 48), -1);  /* not a power of two */
    CHECK_EQ_INT(nd_ring_fit(r, 512), -1); /* larger than created */
    CHECK_EQ_INT(nd_ring_capacity(r), 256);
    nd_sample sets[40];
    for (uint64_t i = 0; i < 40; i++) fill_set(&sets[i], i);
    /* Sets already in the ring below the new capacity keep their slots. */
    CHECK_EQ_INT(nd_ring_push(r, sets, 5), 5);
    CHECK_EQ_INT(nd_ring_fit(r, 16), 0);
    CHECK_EQ_INT(nd_ring_capacity(r), 16);
    /* Full at 16 now: of 12 more, the 17th set overall is refused and counted. */
    CHECK_EQ_INT(nd_ring_push(r, sets + 5, 12), 11);
    nd_ring_stats st;
    nd_ring_get_stats(r, &st);
    CHECK_EQ_INT(st.overrun_sets, 1);
    CHECK_EQ_INT(nd_ring_fit(r, 8), -1); /* too late: sets were reserved */
    uint64_t pos;
    CHECK_EQ_INT(nd_ring_available(r, c, &pos), 16);
    bool kept = true; /* the 5 from before the fit, then the 11 after */
    for (uint64_t i = 0; i < 16; i++)
        kept &= memcmp(nd_ring_slot(r, pos + i), &sets[i], sizeof(nd_sample)) == 0;
    CHECK(kept);
    nd_ring_release(r, c, pos + 16);
    /* Wrap-around at the fitted mask: slot of position 16 is slot 0. */
    CHECK_EQ_INT(nd_ring_push(r, sets + 20, 10), 10);
    CHECK_EQ_INT(nd_ring_available(r, c, &pos), 10);
    bool same = true;
    for (uint64_t i = 0; i < 10; i++)
        same &= memcmp(nd_ring_slot(r, pos + i), &sets[20 + i], sizeof(nd_sample)) == 0;
    CHECK(same);
    CHECK(nd_ring_slot(r, pos) == nd_ring_slot(r, 0));
    nd_ring_release(r, c, pos + 10);
    nd_ring_destroy(r);
}

/* ---------- multi-thread stress ---------- */

enum { STRESS_CAPACITY = 1024, MAX_BATCH = 300, LOSSY_BUF = 256 };

struct stress {
    nd_ring *r;
    uint64_t total;  /* sets the producer offers */
    bool retry;      /* producer waits for space instead of refusing */
    int lossless[2]; /* consumer ids */
    int lossy;
    atomic_bool producer_done;
    atomic_bool refused_any;   /* no-wait variant: the producer has refused sets */
    atomic_bool lossy_lagging; /* the lossy consumer has started to lag */
    uint8_t *refused;          /* producer-private until joined: 1 = refused */
    uint64_t refused_count;
    /* per lossless consumer results */
    uint8_t *received[2];
    uint64_t received_count[2];
    uint64_t order_errors[2], torn[2], dup_or_refused[2];
    /* lossy results */
    uint64_t lossy_seen, lossy_torn, lossy_order_errors, lossy_pos_errors, lossy_calls;
};

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *stress_producer(void *p)
{
    struct stress *st = p;
    uint64_t rng = 0x1234567u, seq = 0;
    nd_sample *batch = malloc(MAX_BATCH * sizeof(nd_sample));
    bool waited_for_lossy = false;
    while (seq < st->total) {
        size_t want = 1 + (size_t)(xorshift(&rng) % MAX_BATCH);
        if (want > st->total - seq) want = (size_t)(st->total - seq);
        /* Half-way, make sure the lossy reader has begun lagging so that its
         * skip path is exercised deterministically. */
        if (!waited_for_lossy && seq >= st->total / 2) {
            while (!atomic_load(&st->lossy_lagging)) sched_yield();
            waited_for_lossy = true;
        }
        if (st->retry) {
            /* Zero-copy path: write straight into reserved slots. */
            size_t done = 0;
            while (done < want) {
                uint64_t pos;
                size_t n = nd_ring_reserve(st->r, want - done, &pos);
                if (n == 0) {
                    sched_yield();
                    continue;
                }
                for (size_t i = 0; i < n; i++)
                    fill_set(nd_ring_slot(st->r, pos + i), seq + done + i);
                nd_ring_publish(st->r, pos + n);
                done += n;
            }
        } else {
            for (size_t i = 0; i < want; i++) fill_set(&batch[i], seq + i);
            size_t placed = nd_ring_push(st->r, batch, want);
            /* push places a prefix and refuses the rest */
            for (size_t i = placed; i < want; i++) st->refused[seq + i] = 1;
            st->refused_count += want - placed;
            if (placed < want) atomic_store(&st->refused_any, true);
        }
        seq += want;
    }
    free(batch);
    atomic_store(&st->producer_done, true);
    return NULL;
}

struct lossless_arg {
    struct stress *st;
    int k; /* 0 or 1 */
};

static void *stress_lossless(void *p)
{
    struct lossless_arg *a = p;
    struct stress *st = a->st;
    int c = st->lossless[a->k];
    uint64_t rng = 0xabcdefu + (uint64_t)a->k, next = 0, count = 0;
    bool have_last = false, stalled = false;
    uint64_t last = 0;
    for (;;) {
        uint64_t pos;
        size_t n = nd_ring_available(st->r, c, &pos);
        if (n == 0) {
            if (atomic_load(&st->producer_done) &&
                nd_ring_consumer_position(st->r, c) == nd_ring_published(st->r))
                break;
            nd_ring_wait(st->r, c, 50);
            continue;
        }
        /* Consumer 1 in the no-wait variant stalls once until the producer
         * has had to refuse sets, so refusal is exercised every run. */
        if (a->k == 1 && !st->retry && !stalled) {
            while (!atomic_load(&st->refused_any) && !atomic_load(&st->producer_done))
                sched_yield();
            stalled = true;
        }
        /* Release in random chunks to exercise partial batches. */
        size_t take = 1 + (size_t)(xorshift(&rng) % n);
        for (size_t i = 0; i < take; i++) {
            const nd_sample *s = nd_ring_slot(st->r, pos + i);
            if (!set_is_whole(s)) st->torn[a->k]++;
            uint64_t seq = s->seq;
            if (st->retry) {
                if (seq != next) st->order_errors[a->k]++;
                next = seq + 1;
            } else if (have_last && seq <= last) {
                st->order_errors[a->k]++;
            }
            have_last = true;
            last = seq;
            if (seq < st->total) {
                if (st->received[a->k][seq]) st->dup_or_refused[a->k]++;
                st->received[a->k][seq] = 1;
            } else {
                st->order_errors[a->k]++;
            }
            count++;
        }
        nd_ring_release(st->r, c, pos + take);
        if (a->k == 1 && (xorshift(&rng) & 63) == 0) sched_yield(); /* a slower reader */
    }
    st->received_count[a->k] = count;
    return NULL;
}

static void *stress_lossy(void *p)
{
    struct stress *st = p;
    nd_sample *buf = malloc(LOSSY_BUF * sizeof(nd_sample));
    uint64_t expect_pos = nd_ring_consumer_position(st->r, st->lossy);
    uint64_t last_seq = 0;
    bool have_last = false;
    bool lagged = false;
    for (;;) {
        if (!lagged && expect_pos > 0) {
            /* Fall more than a full ring behind on purpose. */
            atomic_store(&st->lossy_lagging, true);
            while (nd_ring_published(st->r) < expect_pos + 2 * STRESS_CAPACITY &&
                   !atomic_load(&st->producer_done))
                sched_yield();
            lagged = true;
        }
        uint64_t pos;
        size_t n = nd_ring_copy_lossy(st->r, st->lossy, buf, LOSSY_BUF, &pos);
        st->lossy_calls++;
        if (n == 0) {
            if (atomic_load(&st->producer_done) &&
                nd_ring_consumer_position(st->r, st->lossy) == nd_ring_published(st->r))
                break;
            nd_ring_wait(st->r, st->lossy, 50);
            continue;
        }
        if (pos < expect_pos) st->lossy_pos_errors++; /* must never go backwards */
        for (size_t i = 0; i < n; i++) {
            if (!set_is_whole(&buf[i])) st->lossy_torn++;
            /* With a retrying producer, ring position == seq exactly. */
            if (st->retry && buf[i].seq != pos + i) st->lossy_pos_errors++;
            if (have_last && buf[i].seq <= last_seq) st->lossy_order_errors++;
            have_last = true;
            last_seq = buf[i].seq;
        }
        st->lossy_seen += n;
        expect_pos = pos + n;
    }
    free(buf);
    return NULL;
}

static uint64_t stress_size(void)
{
    const char *env = getenv("ND_RING_STRESS_SETS");
    if (env && *env) return strtoull(env, NULL, 10);
#if defined(__SANITIZE_THREAD__)
    return 1000000;
#elif defined(__SANITIZE_ADDRESS__)
    return 2000000;
#else
    return 5000000;
#endif
}

static void run_stress(bool retry)
{
    struct stress st;
    memset(&st, 0, sizeof(st));
    st.total = stress_size();
    st.retry = retry;
    st.r = nd_ring_create(STRESS_CAPACITY);
    st.lossless[0] = nd_ring_add_consumer(st.r, ND_RING_LOSSLESS, "lossless-0");
    st.lossless[1] = nd_ring_add_consumer(st.r, ND_RING_LOSSLESS, "lossless-1");
    st.lossy = nd_ring_add_consumer(st.r, ND_RING_LOSSY, "lossy");
    atomic_init(&st.producer_done, false);
    atomic_init(&st.refused_any, false);
    atomic_init(&st.lossy_lagging, false);
    st.refused = calloc(st.total, 1);
    st.received[0] = calloc(st.total, 1);
    st.received[1] = calloc(st.total, 1);

    pthread_t prod, cons[2], lossy;
    struct lossless_arg la[2] = {{&st, 0}, {&st, 1}};
    for (int k = 0; k < 2; k++) pthread_create(&cons[k], NULL, stress_lossless, &la[k]);
    pthread_create(&lossy, NULL, stress_lossy, &st);
    pthread_create(&prod, NULL, stress_producer, &st);
    pthread_join(prod, NULL);
    nd_ring_wake_all(st.r); /* shutdown path: nobody sleeps past the end */
    for (int k = 0; k < 2; k++) pthread_join(cons[k], NULL);
    pthread_join(lossy, NULL);

    nd_ring_stats s;
    nd_ring_get_stats(st.r, &s);
    fprintf(stderr,
            "stress %s: offered %llu published %llu overrun %llu; lossy seen %llu skipped %llu "
            "in %llu calls\n",
            retry ? "retry" : "no-wait", (unsigned long long)st.total,
            (unsigned long long)s.published, (unsigned long long)s.overrun_sets,
            (unsigned long long)st.lossy_seen, (unsigned long long)s.skipped[st.lossy],
            (unsigned long long)st.lossy_calls);

    if (retry) {
        CHECK_EQ_INT(s.overrun_sets, 0);
        CHECK_EQ_INT(s.published, st.total);
    } else {
        CHECK(s.overrun_sets > 0);
        CHECK_EQ_INT(s.overrun_sets, st.refused_count);
        CHECK_EQ_INT(s.published + s.overrun_sets, st.total);
    }
    for (int k = 0; k < 2; k++) {
        CHECK_EQ_INT(st.torn[k], 0);
        CHECK_EQ_INT(st.order_errors[k], 0);
        CHECK_EQ_INT(st.dup_or_refused[k], 0);
        CHECK_EQ_INT(st.received_count[k], s.published);
        CHECK_EQ_INT(s.lag[st.lossless[k]], 0);
        /* Exactly the sets that were not refused arrived. */
        uint64_t mismatches = 0;
        for (uint64_t q = 0; q < st.total; q++)
            if (st.received[k][q] == st.refused[q]) mismatches++;
        CHECK_EQ_INT(mismatches, 0);
    }
    CHECK_EQ_INT(st.lossy_torn, 0);
    CHECK_EQ_INT(st.lossy_order_errors, 0);
    CHECK_EQ_INT(st.lossy_pos_errors, 0);
    CHECK(s.skipped[st.lossy] > 0); /* the deliberate lag forced a skip */
    CHECK_EQ_INT(st.lossy_seen + s.skipped[st.lossy], s.published);
    CHECK_EQ_INT(s.lag[st.lossy], 0);

    free(st.refused);
    free(st.received[0]);
    free(st.received[1]);
    nd_ring_destroy(st.r);
}

/* Lossy reader against an unrestrained producer on a tiny ring: the producer
 * laps the reader during most copies, so a missing or too-lax post-copy
 * validation shows up here as torn or out-of-order sets. */
enum { TORTURE_CAPACITY = 64 };

struct torture {
    nd_ring *r;
    int lossy;
    uint64_t total;
    atomic_bool producer_done;
    uint64_t seen, torn, order_errors, pos_errors;
};

static void *torture_producer(void *p)
{
    struct torture *t = p;
    uint64_t rng = 0x9e3779b9u, seq = 0;
    while (seq < t->total) {
        size_t want = 1 + (size_t)(xorshift(&rng) % (TORTURE_CAPACITY / 2));
        if (want > t->total - seq) want = (size_t)(t->total - seq);
        uint64_t pos;
        size_t n = nd_ring_reserve(t->r, want, &pos);
        for (size_t i = 0; i < n; i++) fill_set(nd_ring_slot(t->r, pos + i), seq + i);
        nd_ring_publish(t->r, pos + n);
        seq += n;
    }
    atomic_store(&t->producer_done, true);
    return NULL;
}

static void *torture_reader(void *p)
{
    struct torture *t = p;
    nd_sample buf[TORTURE_CAPACITY];
    uint64_t expect_pos = 0;
    for (;;) {
        uint64_t pos;
        size_t n = nd_ring_copy_lossy(t->r, t->lossy, buf, TORTURE_CAPACITY, &pos);
        if (n == 0) {
            if (atomic_load(&t->producer_done) &&
                nd_ring_consumer_position(t->r, t->lossy) == nd_ring_published(t->r))
                break;
            continue; /* deliberately busy: keep copies racing with writes */
        }
        if (pos < expect_pos) t->pos_errors++;
        for (size_t i = 0; i < n; i++) {
            if (!set_is_whole(&buf[i])) t->torn++;
            if (buf[i].seq != pos + i) t->order_errors++; /* position == seq here */
        }
        t->seen += n;
        expect_pos = pos + n;
    }
    return NULL;
}

static void run_lossy_torture(void)
{
    struct torture t;
    memset(&t, 0, sizeof(t));
    t.total = stress_size() / 2;
    t.r = nd_ring_create(TORTURE_CAPACITY);
    t.lossy = nd_ring_add_consumer(t.r, ND_RING_LOSSY, "torture");
    atomic_init(&t.producer_done, false);
    pthread_t prod, reader;
    pthread_create(&reader, NULL, torture_reader, &t);
    pthread_create(&prod, NULL, torture_producer, &t);
    pthread_join(prod, NULL);
    pthread_join(reader, NULL);
    nd_ring_stats s;
    nd_ring_get_stats(t.r, &s);
    fprintf(stderr, "lossy torture: published %llu seen %llu skipped %llu\n",
            (unsigned long long)s.published, (unsigned long long)t.seen,
            (unsigned long long)s.skipped[t.lossy]);
    CHECK_EQ_INT(s.published, t.total);
    CHECK_EQ_INT(t.torn, 0);
    CHECK_EQ_INT(t.order_errors, 0);
    CHECK_EQ_INT(t.pos_errors, 0);
    CHECK_EQ_INT(t.seen + s.skipped[t.lossy], s.published);
    nd_ring_destroy(t.r);
}

int main(void)
{
    test_capacity_validation();
    test_consumer_registration();
    test_reserve_publish_release();
    test_full_ring_refusal_counted();
    test_lossy_skip_exact();
    test_stage_commit();
    test_pass_over();
    test_stage_waits_for_room();
    test_wait_and_wake();
    test_wait_for_count();
    test_fit_to_rate();
    run_stress(true);
    run_stress(false);
    run_lossy_torture();
    return nd_test_finish("test_ring");
}
