/* Lock-free single-producer, multi-consumer sample ring (see nd_ring.h and
 * daemon/pipeline/RING.md for the design and the memory-ordering argument). */
#include "nd_ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "nd_log.h"

/* 128 B rather than 64 B: adjacent-line prefetchers pull cache lines in
 * pairs, so two hot fields 64 B apart would still ping-pong. */
#define ND_RING_LINE 128

/* Roughly 1-3 us of polling before sleeping: long enough to catch a producer
 * that is mid-batch, short enough not to starve the other core. */
#define ND_RING_SPIN_ITERATIONS 128

/* A lossless consumer that still knows of this many unread sets does not
 * re-read the published position (it has a batch to work on already). */
#define ND_RING_CONSUMER_REFRESH 64

#if defined(__SANITIZE_THREAD__)
#define ND_RING_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ND_RING_TSAN 1
#endif
#endif

#ifdef ND_RING_TSAN
/* The lossy copy races with the producer by design and is validated after
 * the fact (seqlock style); tell TSan not to report those reads. */
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#define ND_IGNORE_READS_BEGIN() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#define ND_IGNORE_READS_END()   AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
/* GCC rejects atomic_thread_fence under TSan (-Wtsan). On x86 (TSO) acquire
 * and release fences only have to stop the compiler, which a signal fence
 * does; TSan builds are only made on x86 here. */
#define nd_fence(order) atomic_signal_fence(order)
#else
#define ND_IGNORE_READS_BEGIN() ((void)0)
#define ND_IGNORE_READS_END()   ((void)0)
#define nd_fence(order)         atomic_thread_fence(order)
#endif

static inline void nd_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* How often a producer waiting for room looks again (nd_ring_stage). */
#define STAGE_WAIT_STEP_NS 100000L

struct nd_ring_consumer {
    /* Written by the owner (release), read by the producer (acquire) and by
     * stats. Everything else on this line belongs to the owner. */
    _Alignas(ND_RING_LINE) _Atomic uint64_t pos;
    uint64_t cached_published;
    _Atomic uint64_t skipped;
    uint32_t seen_wake_all;
    nd_ring_policy policy;
    char name[32];
    /* While this consumer sleeps: the position whose publication should wake
     * it (UINT64_MAX otherwise), and the word it sleeps on. The producer
     * reads them only when some consumer sleeps. */
    _Atomic uint64_t wake_at;
    _Atomic uint32_t futex_word;
};

struct nd_ring {
    struct nd_ring_base base; /* must stay first: nd_ring_slot() casts to it */
    /* Fixed once the first set is reserved (nd_ring_fit may lower it before
     * then); atomic only because consumers may read it before any data. */
    _Atomic size_t capacity;
    size_t mapped; /* slots mapped at creation */
    int nconsumers;
    int nlossless;
    int lossless_ids[ND_RING_MAX_CONSUMERS];

    /* Producer-private state; overrun is read by stats only. */
    _Alignas(ND_RING_LINE) struct {
        uint64_t head;       /* == published between reserve/publish pairs */
        uint64_t staged;     /* end of the sets nd_ring_stage wrote (>= head) */
        uint64_t claim;      /* private mirror of `claimed` */
        uint64_t cached_min; /* lowest lossless cursor last time we looked */
        _Atomic uint64_t overrun;
    } prod;

    /* Written by the producer once per batch, read by every consumer. */
    _Alignas(ND_RING_LINE) _Atomic uint64_t published;
    /* End of the slots the producer may be writing right now (>= published).
     * Lossy readers validate their copies against it. */
    _Atomic uint64_t claimed;

    /* Sleep/wake machinery; consumers write here only when going to sleep. */
    _Alignas(ND_RING_LINE) _Atomic uint32_t sleepers;
    _Atomic uint32_t wake_all_gen;

    struct nd_ring_consumer cons[ND_RING_MAX_CONSUMERS];
};

/* An alias-safe 64-bit view of a slot, for the word-wise lossy copy. */
typedef uint64_t __attribute__((may_alias)) nd_ring_word;

nd_ring *nd_ring_create(size_t capacity)
{
    if (capacity < 2 || (capacity & (capacity - 1)) != 0) {
        nd_err("ring: capacity %zu is not a power of two >= 2", capacity);
        return NULL;
    }
    if (capacity > SIZE_MAX / sizeof(nd_sample)) {
        nd_err("ring: capacity %zu is too large", capacity);
        return NULL;
    }
    nd_ring *r = aligned_alloc(ND_RING_LINE, sizeof(*r));
    if (!r) {
        nd_err("ring: out of memory for ring header");
        return NULL;
    }
    memset(r, 0, sizeof(*r));
    /* Anonymous pages, not touched here: RSS grows only as far as the
     * stream has reached (RING.md, "Memory"). */
    void *slots = mmap(NULL, capacity * sizeof(nd_sample), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (slots == MAP_FAILED) {
        nd_err("ring: out of memory for %zu slots", capacity);
        free(r);
        return NULL;
    }
    r->base.slots = slots;
    atomic_store_explicit(&r->base.mask, capacity - 1, memory_order_relaxed);
    atomic_store_explicit(&r->capacity, capacity, memory_order_relaxed);
    r->mapped = capacity;
    return r;
}

void nd_ring_destroy(nd_ring *r)
{
    if (!r) return;
    munmap(r->base.slots, r->mapped * sizeof(nd_sample));
    free(r);
}

size_t nd_ring_capacity(const nd_ring *r)
{
    return atomic_load_explicit(&((nd_ring *)r)->capacity, memory_order_relaxed);
}

int nd_ring_fit(nd_ring *r, size_t capacity)
{
    if (capacity < 2 || (capacity & (capacity - 1)) != 0 || capacity > r->mapped) {
        nd_err("ring: cannot fit to %zu slots (a power of two in [2, %zu])", capacity, r->mapped);
        return -1;
    }
    if (r->prod.claim > capacity) {
        nd_err("ring: cannot fit to %zu slots: %llu sets were already reserved", capacity,
               (unsigned long long)r->prod.claim);
        return -1;
    }
    /* Positions below the claim keep their slot under the new mask. A lossy
     * reader that sees a claim stored after this (release fence; it loads
     * the claim, then an acquire fence, then the capacity) sees the new
     * capacity when it validates its copy. */
    atomic_store_explicit(&r->base.mask, capacity - 1, memory_order_relaxed);
    atomic_store_explicit(&r->capacity, capacity, memory_order_relaxed);
    nd_fence(memory_order_release);
    /* The slots beyond were never touched; give back the address space. */
    if (capacity < r->mapped)
        munmap((char *)r->base.slots + capacity * sizeof(nd_sample),
               (r->mapped - capacity) * sizeof(nd_sample));
    r->mapped = capacity;
    return 0;
}

size_t nd_ring_capacity_for(double rate_hz, double seconds, size_t min_capacity,
                            size_t max_capacity)
{
    double want = rate_hz > 0 && seconds > 0 ? rate_hz * seconds : (double)max_capacity;
    size_t cap = min_capacity < 2 ? 2 : min_capacity;
    while ((double)cap < want && cap < max_capacity) cap <<= 1;
    return cap < max_capacity ? cap : max_capacity;
}

int nd_ring_add_consumer(nd_ring *r, nd_ring_policy policy, const char *name)
{
    if (policy != ND_RING_LOSSLESS && policy != ND_RING_LOSSY) {
        nd_err("ring: consumer '%s': unknown policy %d", name ? name : "?", (int)policy);
        return -1;
    }
    if (r->nconsumers >= ND_RING_MAX_CONSUMERS) {
        nd_err("ring: consumer '%s' refused: already %d consumers", name ? name : "?",
               ND_RING_MAX_CONSUMERS);
        return -1;
    }
    int id = r->nconsumers;
    struct nd_ring_consumer *c = &r->cons[id];
    uint64_t pub = atomic_load_explicit(&r->published, memory_order_acquire);
    atomic_store_explicit(&c->pos, pub, memory_order_relaxed);
    c->cached_published = pub;
    atomic_store_explicit(&c->skipped, 0, memory_order_relaxed);
    atomic_store_explicit(&c->wake_at, UINT64_MAX, memory_order_relaxed);
    c->seen_wake_all = atomic_load_explicit(&r->wake_all_gen, memory_order_relaxed);
    c->policy = policy;
    snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
    if (policy == ND_RING_LOSSLESS) {
        if (r->nlossless == 0 || pub < r->prod.cached_min) r->prod.cached_min = pub;
        r->lossless_ids[r->nlossless++] = id;
    }
    r->nconsumers++;
    return id;
}

/* --- producer --- */

static uint64_t nd_ring_min_lossless(nd_ring *r)
{
    uint64_t min = UINT64_MAX;
    for (int i = 0; i < r->nlossless; i++) {
        /* acquire: the consumer's reads of released slots happen before we
         * overwrite them. */
        uint64_t p = atomic_load_explicit(&r->cons[r->lossless_ids[i]].pos, memory_order_acquire);
        if (p < min) min = p;
    }
    return min;
}

/* Room for up to want sets from position `from` (>= head): lossless
 * consumers' cursors bound it; the claim covers what is handed out. */
static size_t reserve_from(nd_ring *r, uint64_t from, size_t want)
{
    size_t capacity = nd_ring_capacity(r);
    if (want > capacity) want = capacity;
    if (r->nlossless > 0) {
        uint64_t free_slots = r->prod.cached_min + capacity - from;
        if (free_slots < want) {
            r->prod.cached_min = nd_ring_min_lossless(r);
            free_slots = r->prod.cached_min + capacity - from;
        }
        if (free_slots < want) want = (size_t)free_slots;
    }
    if (want == 0) return 0;
    uint64_t end = from + want;
    if (end > r->prod.claim) {
        r->prod.claim = end;
        atomic_store_explicit(&r->claimed, end, memory_order_relaxed);
        /* The claim must be visible before any write into the claimed slots
         * (seqlock writer side): lossy readers re-check it after copying. */
        nd_fence(memory_order_release);
    }
    return want;
}

size_t nd_ring_reserve(nd_ring *r, size_t want, uint64_t *pos)
{
    *pos = r->prod.head;
    return reserve_from(r, r->prod.head, want);
}

static void nd_ring_futex_wake(struct nd_ring_consumer *c)
{
    atomic_fetch_add_explicit(&c->futex_word, 1, memory_order_release);
    syscall(SYS_futex, &c->futex_word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Wake each sleeping consumer whose threshold `end` reaches. */
static void nd_ring_wake_due(nd_ring *r, uint64_t end)
{
    for (int i = 0; i < r->nconsumers; i++) {
        struct nd_ring_consumer *c = &r->cons[i];
        /* Disarm with a CAS so that a threshold the consumer has re-armed
         * meanwhile is either woken here or left for a later publish. */
        uint64_t at = atomic_load_explicit(&c->wake_at, memory_order_seq_cst);
        while (at <= end) {
            if (atomic_compare_exchange_weak_explicit(&c->wake_at, &at, UINT64_MAX,
                                                      memory_order_seq_cst, memory_order_seq_cst)) {
                nd_ring_futex_wake(c);
                break;
            }
        }
    }
}

void nd_ring_publish(nd_ring *r, uint64_t end)
{
    uint64_t head = r->prod.head;
    if (end == head) return;
    if (end < head || end > r->prod.claim) {
        nd_err("ring: publish(%llu) outside reserved range [%llu, %llu]; ignored",
               (unsigned long long)end, (unsigned long long)head,
               (unsigned long long)r->prod.claim);
        return;
    }
    r->prod.head = end;
    /* seq_cst store + seq_cst load of sleepers pairs with the consumer's
     * seq_cst increment of sleepers + seq_cst load of published (Dekker):
     * either we see the sleeper, or it sees our data. Release semantics are
     * included, so slot writes are visible to whoever sees `end`. */
    atomic_store_explicit(&r->published, end, memory_order_seq_cst);
    if (atomic_load_explicit(&r->sleepers, memory_order_seq_cst) != 0) nd_ring_wake_due(r, end);
}

/* Copies sets into the slots from `from`; returns how many found room. */
static size_t copy_in(nd_ring *r, uint64_t from, const nd_sample *sets, size_t n)
{
    size_t got = reserve_from(r, from, n);
    if (got == 0) return 0;
    size_t capacity = nd_ring_capacity(r);
    uint64_t slot = from & atomic_load_explicit(&r->base.mask, memory_order_relaxed);
    size_t first = got;
    if (slot + first > capacity) first = (size_t)(capacity - slot);
    memcpy(&r->base.slots[slot], sets, first * sizeof(nd_sample));
    if (got > first) memcpy(r->base.slots, sets + first, (got - first) * sizeof(nd_sample));
    return got;
}

size_t nd_ring_stage(nd_ring *r, const nd_sample *sets, size_t n, int wait_ms)
{
    if (r->prod.staged < r->prod.head) r->prod.staged = r->prod.head;
    size_t placed = 0;
    uint64_t deadline = 0;
    for (;;) {
        size_t got = copy_in(r, r->prod.staged, sets + placed, n - placed);
        r->prod.staged += got;
        placed += got;
        if (placed == n) break;
        /* Full: let the consumers see (and release) what waits, and give
         * them up to wait_ms to make room before refusing the rest. */
        nd_ring_commit(r);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
        if (!deadline) deadline = now_ns + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000000u;
        if (now_ns >= deadline) break;
        struct timespec pause = {0, STAGE_WAIT_STEP_NS};
        nanosleep(&pause, NULL);
    }
    if (placed < n) atomic_fetch_add_explicit(&r->prod.overrun, n - placed, memory_order_relaxed);
    return placed;
}

void nd_ring_commit(nd_ring *r)
{
    if (r->prod.staged > r->prod.head) nd_ring_publish(r, r->prod.staged);
}

size_t nd_ring_push(nd_ring *r, const nd_sample *sets, size_t n)
{
    nd_ring_commit(r); /* never reorder: sets staged earlier go first */
    size_t placed = 0;
    /* More than one capacity may be offered; loop so long as space remains. */
    while (placed < n) {
        size_t got = copy_in(r, r->prod.head, sets + placed, n - placed);
        if (got == 0) break;
        nd_ring_publish(r, r->prod.head + got);
        placed += got;
    }
    r->prod.staged = r->prod.head;
    if (placed < n) atomic_fetch_add_explicit(&r->prod.overrun, n - placed, memory_order_relaxed);
    return placed;
}

uint64_t nd_ring_published(const nd_ring *r)
{
    return atomic_load_explicit(&((nd_ring *)r)->published, memory_order_acquire);
}

/* --- consumers --- */

static struct nd_ring_consumer *nd_ring_cons(nd_ring *r, int id, nd_ring_policy want,
                                             const char *what)
{
    if (id < 0 || id >= r->nconsumers) {
        nd_err("ring: %s: no consumer %d", what, id);
        return NULL;
    }
    struct nd_ring_consumer *c = &r->cons[id];
    if (c->policy != want) {
        nd_err("ring: %s: consumer %d ('%s') has the other policy", what, id, c->name);
        return NULL;
    }
    return c;
}

size_t nd_ring_available(nd_ring *r, int consumer, uint64_t *pos)
{
    struct nd_ring_consumer *c = nd_ring_cons(r, consumer, ND_RING_LOSSLESS, "available");
    if (!c) {
        *pos = 0;
        return 0;
    }
    uint64_t p = atomic_load_explicit(&c->pos, memory_order_relaxed);
    *pos = p;
    /* Touch the producer's line only when our cached view is nearly used up. */
    if (c->cached_published - p < ND_RING_CONSUMER_REFRESH)
        c->cached_published = atomic_load_explicit(&r->published, memory_order_acquire);
    return (size_t)(c->cached_published - p);
}

void nd_ring_release(nd_ring *r, int consumer, uint64_t end)
{
    struct nd_ring_consumer *c = nd_ring_cons(r, consumer, ND_RING_LOSSLESS, "release");
    if (!c) return;
    uint64_t p = atomic_load_explicit(&c->pos, memory_order_relaxed);
    if (end < p || end > c->cached_published) {
        nd_err("ring: consumer '%s' released %llu outside [%llu, %llu]; ignored", c->name,
               (unsigned long long)end, (unsigned long long)p,
               (unsigned long long)c->cached_published);
        return;
    }
    /* release: our reads of the slots complete before the producer reuses them */
    atomic_store_explicit(&c->pos, end, memory_order_release);
}

/* Word-wise copy with relaxed atomic loads: the producer may be rewriting
 * these slots, so the compiler must not assume they are stable. */
static void nd_ring_copy_racy(nd_sample *dst, const nd_sample *src, size_t n)
{
    const nd_ring_word *s = (const nd_ring_word *)src;
    nd_ring_word *d = (nd_ring_word *)dst;
    size_t words = n * (sizeof(nd_sample) / sizeof(uint64_t));
    for (size_t i = 0; i < words; i++) d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

size_t nd_ring_copy_lossy(nd_ring *r, int consumer, nd_sample *out, size_t max, uint64_t *pos_out)
{
    struct nd_ring_consumer *c = nd_ring_cons(r, consumer, ND_RING_LOSSY, "copy_lossy");
    if (!c) return 0;
    uint64_t pos = atomic_load_explicit(&c->pos, memory_order_relaxed);
    uint64_t pub = atomic_load_explicit(&r->published, memory_order_acquire);
    uint64_t skipped = 0;
    /* Anything older than one capacity behind the claim is already gone. */
    uint64_t claim = atomic_load_explicit(&r->claimed, memory_order_relaxed);
    nd_fence(memory_order_acquire); /* the capacity as of that claim (nd_ring_fit) */
    size_t capacity = nd_ring_capacity(r);
    if (claim > capacity && pos < claim - capacity) {
        uint64_t oldest = claim - capacity;
        if (oldest > pub) oldest = pub;
        skipped += oldest - pos;
        pos = oldest;
    }
    size_t n = (size_t)(pub - pos);
    if (n > max) n = max;
    if (n > 0) {
        uint64_t slot = pos & atomic_load_explicit(&r->base.mask, memory_order_relaxed);
        size_t first = n;
        if (slot + first > capacity) first = (size_t)(capacity - slot);
        ND_IGNORE_READS_BEGIN();
        nd_ring_copy_racy(out, &r->base.slots[slot], first);
        if (n > first) nd_ring_copy_racy(out + first, r->base.slots, n - first);
        ND_IGNORE_READS_END();
        /* Seqlock reader side: the copy completes before we re-read the claim.
         * A slot at position p may have been rewritten iff the producer has
         * claimed position p + capacity, i.e. p < claimed - capacity. */
        nd_fence(memory_order_acquire);
        uint64_t claim_after = atomic_load_explicit(&r->claimed, memory_order_relaxed);
        nd_fence(memory_order_acquire);
        capacity = nd_ring_capacity(r);
        if (claim_after > capacity && pos < claim_after - capacity) {
            uint64_t oldest = claim_after - capacity;
            uint64_t bad = oldest - pos;
            if (bad >= n) {
                /* Lapped during the copy: nothing we copied is trustworthy. */
                skipped += bad;
                pos = oldest;
                n = 0;
            } else {
                memmove(out, out + bad, (n - (size_t)bad) * sizeof(nd_sample));
                skipped += bad;
                pos += bad;
                n -= (size_t)bad;
            }
        }
    }
    if (skipped)
        atomic_store_explicit(&c->skipped,
                              atomic_load_explicit(&c->skipped, memory_order_relaxed) + skipped,
                              memory_order_relaxed);
    if (pos_out) *pos_out = pos;
    atomic_store_explicit(&c->pos, pos + n, memory_order_relaxed);
    return n;
}

uint64_t nd_ring_pass_over(nd_ring *r, int consumer)
{
    struct nd_ring_consumer *c = nd_ring_cons(r, consumer, ND_RING_LOSSY, "pass_over");
    if (!c) return 0;
    uint64_t pos = atomic_load_explicit(&c->pos, memory_order_relaxed);
    uint64_t pub = atomic_load_explicit(&r->published, memory_order_acquire);
    atomic_store_explicit(&c->pos, pub, memory_order_relaxed);
    return pub - pos;
}

/* --- waiting --- */

/* Whether the consumer's position is at least `want` sets behind published. */
static bool nd_ring_has_sets(nd_ring *r, struct nd_ring_consumer *c, uint64_t want, memory_order mo)
{
    return atomic_load_explicit(&r->published, mo) >=
           atomic_load_explicit(&c->pos, memory_order_relaxed) + want;
}

/* True (and consumed) if nd_ring_wake_all ran since this consumer last saw it. */
static bool nd_ring_take_wake_all(nd_ring *r, struct nd_ring_consumer *c)
{
    uint32_t gen = atomic_load_explicit(&r->wake_all_gen, memory_order_seq_cst);
    if (gen == c->seen_wake_all) return false;
    c->seen_wake_all = gen;
    return true;
}

void nd_ring_wait(nd_ring *r, int consumer, int timeout_ms)
{
    nd_ring_wait_for(r, consumer, 1, timeout_ms);
}

void nd_ring_wait_for(nd_ring *r, int consumer, uint64_t min_sets, int timeout_ms)
{
    if (consumer < 0 || consumer >= r->nconsumers) {
        nd_err("ring: wait: no consumer %d", consumer);
        return;
    }
    struct nd_ring_consumer *c = &r->cons[consumer];
    /* More than a ring's worth can never be waiting for a lossless reader. */
    if (min_sets < 1) min_sets = 1;
    if (min_sets > nd_ring_capacity(r)) min_sets = nd_ring_capacity(r);
    if (nd_ring_has_sets(r, c, min_sets, memory_order_acquire) || nd_ring_take_wake_all(r, c))
        return;
    if (timeout_ms == 0) return;
    if (min_sets == 1) {
        for (int i = 0; i < ND_RING_SPIN_ITERATIONS; i++) {
            nd_cpu_relax();
            if (nd_ring_has_sets(r, c, 1, memory_order_acquire)) return;
        }
    }

    struct timespec deadline;
    if (timeout_ms > 0) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    for (;;) {
        /* Read the futex word before announcing ourselves: a wake that lands
         * after this read changes it, so FUTEX_WAIT returns at once. */
        uint32_t word = atomic_load_explicit(&c->futex_word, memory_order_acquire);
        uint64_t target = atomic_load_explicit(&c->pos, memory_order_relaxed) + min_sets;
        atomic_store_explicit(&c->wake_at, target, memory_order_seq_cst);
        atomic_fetch_add_explicit(&r->sleepers, 1, memory_order_seq_cst);
        /* Re-check after announcing (seq_cst, pairs with nd_ring_publish). */
        if (nd_ring_has_sets(r, c, min_sets, memory_order_seq_cst) || nd_ring_take_wake_all(r, c)) {
            atomic_fetch_sub_explicit(&r->sleepers, 1, memory_order_relaxed);
            atomic_store_explicit(&c->wake_at, UINT64_MAX, memory_order_relaxed);
            return;
        }
        long rc = syscall(SYS_futex, &c->futex_word, FUTEX_WAIT_BITSET_PRIVATE, word,
                          timeout_ms > 0 ? &deadline : NULL, NULL, FUTEX_BITSET_MATCH_ANY);
        int err = rc < 0 ? errno : 0;
        atomic_fetch_sub_explicit(&r->sleepers, 1, memory_order_relaxed);
        atomic_store_explicit(&c->wake_at, UINT64_MAX, memory_order_relaxed);
        if (nd_ring_has_sets(r, c, min_sets, memory_order_acquire) || nd_ring_take_wake_all(r, c))
            return;
        if (err == ETIMEDOUT) return;
        if (rc < 0 && err != EAGAIN && err != EINTR) {
            nd_err("ring: futex wait failed: %s", strerror(err));
            return;
        }
        /* Spurious wake, or woken for a race we lost: sleep again. */
    }
}

void nd_ring_wake_all(nd_ring *r)
{
    atomic_fetch_add_explicit(&r->wake_all_gen, 1, memory_order_seq_cst);
    for (int i = 0; i < r->nconsumers; i++) nd_ring_futex_wake(&r->cons[i]);
}

uint64_t nd_ring_consumer_position(const nd_ring *r, int consumer)
{
    if (consumer < 0 || consumer >= r->nconsumers) return 0;
    return atomic_load_explicit(&((nd_ring *)r)->cons[consumer].pos, memory_order_acquire);
}

void nd_ring_get_stats(const nd_ring *r, nd_ring_stats *out)
{
    nd_ring *m = (nd_ring *)r; /* C11 atomic loads take non-const pointers */
    memset(out, 0, sizeof(*out));
    out->published = atomic_load_explicit(&m->published, memory_order_acquire);
    out->overrun_sets = atomic_load_explicit(&m->prod.overrun, memory_order_relaxed);
    for (int i = 0; i < r->nconsumers; i++) {
        uint64_t p = atomic_load_explicit(&m->cons[i].pos, memory_order_relaxed);
        out->skipped[i] = atomic_load_explicit(&m->cons[i].skipped, memory_order_relaxed);
        out->lag[i] = out->published > p ? out->published - p : 0;
    }
}
