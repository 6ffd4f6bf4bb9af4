/* nordic-bench-ring: throughput and hand-off latency of the sample ring,
 * compared in the same run with Concurrency Kit's ck_ring (SPSC, carrying the
 * same 64-byte struct by value). A benchmark, not a test: it prints figures
 * and the ours/ck_ring ratio.
 *
 * Usage: nordic-bench-ring [--sets N] [--runs R] [--capacity C] [--batch B]
 *                          [--latency-sets N] [--interval-us U] [--no-pin] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ck_ring.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nd_ring.h"

#ifdef NORDIC_HAVE_RTE_RING
#include <rte_ring.h>
#include <rte_ring_elem.h>
#endif

CK_RING_PROTOTYPE(nd_sample, nd_sample)

struct bench_opts {
    uint64_t sets;         /* per throughput run */
    int runs;              /* best of */
    size_t capacity;       /* slots, both rings */
    size_t batch;          /* producer batch for our ring */
    uint64_t latency_sets; /* per latency run */
    unsigned interval_us;  /* moderate-rate spacing */
    bool pin;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static bool g_pin = true;
static long g_ncpu = 1;

/* Producer on CPU 0, consumer k on CPU 1 + k (mod the CPU count). */
static void pin_to(int cpu)
{
    if (!g_pin || g_ncpu < 2) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % g_ncpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void fill(nd_sample *s, uint64_t seq, uint64_t stamp)
{
    s->seq = seq;
    s->host_ns = stamp;
    s->dev_t_us = (uint32_t)seq;
    s->nch = 2;
    s->flags = 0;
    s->reserved = 0;
    for (int i = 0; i < ND_MAX_CHANNELS; i++) s->raw[i] = (int32_t)(seq + (uint64_t)i);
    s->gap_sets = 0;
}

/* Latencies are recorded in a preallocated array and sorted at the end. */
struct lat_log {
    uint64_t *v;
    size_t n, cap;
};

static void lat_add(struct lat_log *l, uint64_t ns)
{
    if (l->n < l->cap) l->v[l->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t percentile(struct lat_log *l, double p)
{
    if (l->n == 0) return 0;
    size_t i = (size_t)(p * (double)(l->n - 1));
    return l->v[i];
}

/* ------------------------------ our ring ------------------------------ */

enum ours_wait { WAIT_FUTEX, WAIT_POLL };

/* How the producer hands sets over: reserve/write in place/publish (the
 * zero-copy API), nd_ring_push of a prepared array per frame, or what the
 * daemon's acquisition thread does: nd_ring_stage of each decoded frame and
 * one nd_ring_commit per device read (STAGE_FRAMES_PER_READ frames: a
 * 25 ms coalesced read of a board sending a frame a millisecond). */
enum ours_put { PUT_IN_PLACE, PUT_PUSH, PUT_STAGE };
#define STAGE_FRAMES_PER_READ 25

struct ours_run {
    nd_ring *r;
    int consumers[3];
    int nconsumers;
    uint64_t sets;
    size_t batch;
    unsigned interval_ns; /* 0 = full rate */
    bool stamp;           /* put the producer's clock in host_ns */
    enum ours_wait wait;
    enum ours_put put;
    bool one_at_a_time; /* consumers take and release one set per call */
    atomic_bool done;
    atomic_int ready;
    uint64_t errors;
    struct lat_log lat; /* consumer 0 only */
    nd_sample *frame;   /* PUT_PUSH, PUT_STAGE: the producer's frame buffer */
    uint64_t frames;    /* PUT_STAGE: frames staged so far */
};

struct ours_consumer_arg {
    struct ours_run *run;
    int k;
    uint64_t errors, checksum;
};

static void *ours_consumer(void *p)
{
    struct ours_consumer_arg *a = p;
    struct ours_run *run = a->run;
    int c = run->consumers[a->k];
    pin_to(1 + a->k);
    atomic_fetch_add(&run->ready, 1);
    uint64_t expect = 0;
    while (expect < run->sets) {
        uint64_t pos;
        size_t n = nd_ring_available(run->r, c, &pos);
        if (n == 0) {
            if (run->wait == WAIT_FUTEX)
                nd_ring_wait(run->r, c, 100);
            else
                cpu_relax();
            continue;
        }
        if (run->one_at_a_time) n = 1;
        uint64_t t = (run->stamp && a->k == 0) ? now_ns() : 0;
        for (size_t i = 0; i < n; i++) {
            const nd_sample *s = nd_ring_slot(run->r, pos + i);
            if (s->seq != expect) a->errors++;
            expect++;
            a->checksum += (uint64_t)s->raw[0];
            if (t) lat_add(&run->lat, t - s->host_ns);
        }
        nd_ring_release(run->r, c, pos + n);
    }
    return NULL;
}

static void ours_produce(struct ours_run *run)
{
    uint64_t seq = 0, next_due = now_ns();
    while (seq < run->sets) {
        size_t want = run->batch;
        if (want > run->sets - seq) want = (size_t)(run->sets - seq);
        if (run->interval_ns) {
            while (now_ns() < next_due) cpu_relax();
            next_due += run->interval_ns;
        }
        if (run->put == PUT_PUSH || run->put == PUT_STAGE) {
            /* A decoded frame: built in the decoder's own buffer, then pushed
             * (or staged, and committed at the end of its read). */
            uint64_t stamp = run->stamp ? now_ns() : 0;
            for (size_t i = 0; i < want; i++) fill(&run->frame[i], seq + i, stamp);
            size_t placed = 0;
            while (placed < want) {
                size_t got = run->put == PUT_PUSH
                                 ? nd_ring_push(run->r, run->frame + placed, want - placed)
                                 : nd_ring_stage(run->r, run->frame + placed, want - placed, 100);
                if (got == 0) sched_yield(); /* the bench waits; the daemon would count it */
                placed += got;
            }
            seq += want;
            if (run->put == PUT_STAGE &&
                (++run->frames % STAGE_FRAMES_PER_READ == 0 || seq >= run->sets))
                nd_ring_commit(run->r);
            continue;
        }
        uint64_t pos;
        size_t n = nd_ring_reserve(run->r, want, &pos);
        if (n == 0) {
            /* Full: the consumers may share our core, so let them run. */
            for (int i = 0; i < 64 && n == 0; i++) {
                cpu_relax();
                n = nd_ring_reserve(run->r, want, &pos);
            }
            if (n == 0) {
                sched_yield();
                continue;
            }
        }
        uint64_t stamp = run->stamp ? now_ns() : 0;
        for (size_t i = 0; i < n; i++) fill(nd_ring_slot(run->r, pos + i), seq + i, stamp);
        nd_ring_publish(run->r, pos + n);
        seq += n;
    }
}

/* Returns sets/s; fills run->lat when stamping. */
static double ours_bench_mode(const struct bench_opts *o, int nconsumers, uint64_t sets,
                              size_t batch, unsigned interval_ns, bool stamp, enum ours_wait wait,
                              enum ours_put put, bool one_at_a_time, struct lat_log *lat,
                              uint64_t *errors)
{
    struct ours_run run;
    memset(&run, 0, sizeof(run));
    run.put = put;
    run.one_at_a_time = one_at_a_time;
    run.frame = malloc((batch ? batch : 1) * sizeof(nd_sample));
    if (!run.frame) exit(1);
    run.r = nd_ring_create(o->capacity);
    if (!run.r) exit(1);
    run.nconsumers = nconsumers;
    for (int k = 0; k < nconsumers; k++)
        run.consumers[k] = nd_ring_add_consumer(run.r, ND_RING_LOSSLESS, "bench");
    run.sets = sets;
    run.batch = batch;
    run.interval_ns = interval_ns;
    run.stamp = stamp;
    run.wait = wait;
    if (lat) run.lat = *lat;
    atomic_init(&run.done, false);
    atomic_init(&run.ready, 0);

    pthread_t th[3];
    struct ours_consumer_arg args[3];
    for (int k = 0; k < nconsumers; k++) {
        args[k] = (struct ours_consumer_arg){.run = &run, .k = k};
        pthread_create(&th[k], NULL, ours_consumer, &args[k]);
    }
    pin_to(0);
    while (atomic_load(&run.ready) < nconsumers) sched_yield();
    uint64_t t0 = now_ns();
    ours_produce(&run);
    for (int k = 0; k < nconsumers; k++) pthread_join(th[k], NULL);
    uint64_t t1 = now_ns();
    for (int k = 0; k < nconsumers; k++) *errors += args[k].errors;
    if (lat) *lat = run.lat;
    nd_ring_destroy(run.r);
    free(run.frame);
    return (double)sets * 1e9 / (double)(t1 - t0);
}

static double ours_bench(const struct bench_opts *o, int nconsumers, uint64_t sets, size_t batch,
                         unsigned interval_ns, bool stamp, enum ours_wait wait, struct lat_log *lat,
                         uint64_t *errors)
{
    return ours_bench_mode(o, nconsumers, sets, batch, interval_ns, stamp, wait, PUT_IN_PLACE,
                           false, lat, errors);
}

/* ------------------------------ ck_ring ------------------------------- */

struct ck_run {
    ck_ring_t ring;
    nd_sample *buf;
    uint64_t sets;
    size_t batch; /* producer stamps once per this many sets, like ours */
    unsigned interval_ns;
    bool stamp;
    atomic_int ready;
    uint64_t errors, checksum;
    struct lat_log lat;
};

static void *ck_consumer(void *p)
{
    struct ck_run *run = p;
    pin_to(1);
    atomic_fetch_add(&run->ready, 1);
    nd_sample s;
    for (uint64_t expect = 0; expect < run->sets;) {
        if (!ck_ring_dequeue_spsc_nd_sample(&run->ring, (struct nd_sample *)run->buf, &s)) {
            cpu_relax();
            continue;
        }
        if (s.seq != expect) run->errors++;
        expect++;
        run->checksum += (uint64_t)s.raw[0];
        if (run->stamp) lat_add(&run->lat, now_ns() - s.host_ns);
    }
    return NULL;
}

static double ck_bench(const struct bench_opts *o, uint64_t sets, size_t batch,
                       unsigned interval_ns, bool stamp, struct lat_log *lat, uint64_t *errors)
{
    struct ck_run run;
    memset(&run, 0, sizeof(run));
    /* Same slot count as ours (ck_ring keeps one of them empty). */
    ck_ring_init(&run.ring, (unsigned)o->capacity);
    run.buf = aligned_alloc(64, o->capacity * sizeof(nd_sample));
    memset(run.buf, 0, o->capacity * sizeof(nd_sample));
    run.sets = sets;
    run.batch = batch;
    run.interval_ns = interval_ns;
    run.stamp = stamp;
    if (lat) run.lat = *lat;
    atomic_init(&run.ready, 0);

    pthread_t th;
    pthread_create(&th, NULL, ck_consumer, &run);
    pin_to(0);
    while (atomic_load(&run.ready) < 1) sched_yield();
    uint64_t t0 = now_ns(), next_due = t0;
    nd_sample s;
    for (uint64_t seq = 0; seq < sets;) {
        size_t want = batch;
        if (want > sets - seq) want = (size_t)(sets - seq);
        if (interval_ns) {
            while (now_ns() < next_due) cpu_relax();
            next_due += interval_ns;
        }
        uint64_t stamp_ns = stamp ? now_ns() : 0;
        for (size_t i = 0; i < want; i++) {
            fill(&s, seq + i, stamp_ns);
            while (!ck_ring_enqueue_spsc_nd_sample(&run.ring, (struct nd_sample *)run.buf, &s))
                cpu_relax();
        }
        seq += want;
    }
    pthread_join(th, NULL);
    uint64_t t1 = now_ns();
    *errors += run.errors;
    if (lat) *lat = run.lat;
    free(run.buf);
    return (double)sets * 1e9 / (double)(t1 - t0);
}

/* ----------------------- bulk peer: DPDK rte_ring ----------------------- */
/* DPDK's rte_ring (Debian libdpdk-dev), single producer / single consumer,
 * 64-byte elements copied in and out by value with its bulk API: the
 * producer enqueues `batch` sets at once (all or nothing), the consumer
 * dequeues bursts of up to `batch`. rte_ring_init on our own memory needs no
 * EAL. It has no blocking wait: its consumer busy-polls. */
#ifdef NORDIC_HAVE_RTE_RING
#define BULK_PEER_NAME "rte_ring bulk (DPDK)"
struct bulk_run {
    struct rte_ring *r;
    uint64_t sets;
    size_t batch;
    atomic_int ready;
    uint64_t errors, checksum;
};

static void *bulk_consumer(void *p)
{
    struct bulk_run *run = p;
    pin_to(1);
    nd_sample *buf = malloc(run->batch * sizeof *buf);
    if (!buf) exit(1);
    atomic_fetch_add(&run->ready, 1);
    for (uint64_t expect = 0; expect < run->sets;) {
        unsigned n =
            rte_ring_dequeue_burst_elem(run->r, buf, sizeof(nd_sample), (unsigned)run->batch, NULL);
        if (n == 0) {
            cpu_relax();
            continue;
        }
        for (unsigned i = 0; i < n; i++) {
            if (buf[i].seq != expect) run->errors++;
            expect++;
            run->checksum += (uint64_t)buf[i].raw[0];
        }
    }
    free(buf);
    return NULL;
}

static double bulk_peer_bench(const struct bench_opts *o, uint64_t sets, size_t batch,
                              uint64_t *errors)
{
    struct bulk_run run;
    memset(&run, 0, sizeof run);
    /* Same slot count as ours (rte_ring keeps one of them empty). */
    ssize_t bytes = rte_ring_get_memsize_elem(sizeof(nd_sample), (unsigned)o->capacity);
    if (bytes < 0) return 0;
    run.r = aligned_alloc(128, ((size_t)bytes + 127) / 128 * 128);
    if (!run.r ||
        rte_ring_init(run.r, "bench", (unsigned)o->capacity, RING_F_SP_ENQ | RING_F_SC_DEQ) != 0) {
        free(run.r);
        return 0;
    }
    run.sets = sets;
    run.batch = batch;
    atomic_init(&run.ready, 0);
    nd_sample *frame = malloc(batch * sizeof *frame);
    if (!frame) exit(1);
    pthread_t th;
    pthread_create(&th, NULL, bulk_consumer, &run);
    pin_to(0);
    while (atomic_load(&run.ready) < 1) sched_yield();
    uint64_t t0 = now_ns();
    for (uint64_t seq = 0; seq < sets;) {
        size_t want = batch;
        if (want > sets - seq) want = (size_t)(sets - seq);
        for (size_t i = 0; i < want; i++) fill(&frame[i], seq + i, 0);
        while (rte_ring_enqueue_bulk_elem(run.r, frame, sizeof(nd_sample), (unsigned)want, NULL) ==
               0)
            cpu_relax();
        seq += want;
    }
    pthread_join(th, NULL);
    uint64_t t1 = now_ns();
    *errors += run.errors;
    free(frame);
    free(run.r);
    return (double)sets * 1e9 / (double)(t1 - t0);
}
#else
#define BULK_PEER_NAME "rte_ring bulk (DPDK libdpdk-dev not found at build time)"
static double bulk_peer_bench(const struct bench_opts *o, uint64_t sets, size_t batch,
                              uint64_t *errors)
{
    (void)o, (void)sets, (void)batch, (void)errors;
    return 0;
}
#endif

/* ------------------------------- driver ------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: nordic-bench-ring [--sets N] [--runs R] [--capacity C] [--batch B]\n"
                    "                         [--latency-sets N] [--interval-us U] [--no-pin]\n");
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0) return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        const char *a = argv[i];
        if (!strcmp(a, "--no-pin")) {
            o->pin = false;
            continue;
        }
        if (i + 1 >= argc || !parse_u64(argv[i + 1], &v)) {
            fprintf(stderr, "nordic-bench-ring: %s needs a positive integer\n", a);
            usage();
            return -1;
        }
        i++;
        if (!strcmp(a, "--sets"))
            o->sets = v;
        else if (!strcmp(a, "--runs"))
            o->runs = (int)v;
        else if (!strcmp(a, "--capacity"))
            o->capacity = (size_t)v;
        else if (!strcmp(a, "--batch"))
            o->batch = (size_t)v;
        else if (!strcmp(a, "--latency-sets"))
            o->latency_sets = v;
        else if (!strcmp(a, "--interval-us"))
            o->interval_us = (unsigned)v;
        else {
            fprintf(stderr, "nordic-bench-ring: unknown option %s\n", a);
            usage();
            return -1;
        }
    }
    if ((o->capacity & (o->capacity - 1)) != 0 || o->capacity < 2 || o->capacity > (1u << 30)) {
        fprintf(stderr, "nordic-bench-ring: --capacity must be a power of two >= 2\n");
        return -1;
    }
    if (o->batch > o->capacity) o->batch = o->capacity;
    return 0;
}

static struct lat_log lat_new(size_t cap)
{
    struct lat_log l = {.v = malloc(cap * sizeof(uint64_t)), .n = 0, .cap = cap};
    if (!l.v) {
        fprintf(stderr, "nordic-bench-ring: out of memory\n");
        exit(1);
    }
    return l;
}

static void lat_row(const char *name, struct lat_log *l)
{
    qsort(l->v, l->n, sizeof(uint64_t), cmp_u64);
    printf("%-44s %12s %10.2f %10.2f\n", name, "", (double)percentile(l, 0.50) / 1e3,
           (double)percentile(l, 0.99) / 1e3);
}

int main(int argc, char **argv)
{
    struct bench_opts o = {.sets = 5000000,
                           .runs = 3,
                           .capacity = 4096,
                           .batch = 256,
                           .latency_sets = 20000,
                           .interval_us = 20,
                           .pin = true};
    if (parse_args(argc, argv, &o) < 0) return 2;
    g_pin = o.pin;
    g_ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t errors = 0;

    printf("nordic-bench-ring: %ld CPUs, capacity %zu slots, 64-byte sets, producer batch %zu, "
           "%llu sets per run, best of %d%s\n",
           g_ncpu, o.capacity, o.batch, (unsigned long long)o.sets, o.runs,
           o.pin ? ", producer pinned to CPU 0, consumers to CPU 1.." : ", unpinned");
    printf("%-44s %12s %10s %10s\n", "case", "M sets/s", "p50 us", "p99 us");

    /* Throughput, interleaved so both rings see the same machine load. */
    double best11 = 0, bestck = 0, best13 = 0;
    for (int i = 0; i < o.runs; i++) {
        double a = ours_bench(&o, 1, o.sets, o.batch, 0, false, WAIT_FUTEX, NULL, &errors);
        double b = ck_bench(&o, o.sets, o.batch, 0, false, NULL, &errors);
        double c = ours_bench(&o, 3, o.sets, o.batch, 0, false, WAIT_FUTEX, NULL, &errors);
        if (a > best11) best11 = a;
        if (b > bestck) bestck = b;
        if (c > best13) best13 = c;
    }
    printf("%-44s %12.2f\n", "throughput ours 1->1 (lossless)", best11 / 1e6);
    printf("%-44s %12.2f\n", "throughput ck_ring 1->1 (spsc, by value)", bestck / 1e6);
    printf("%-44s %12.2f\n", "throughput ours 1->3 (lossless x3)", best13 / 1e6);

    /* The same work item by item on both sides: our producer reserves,
     * writes and publishes one set at a time and the consumer takes and
     * releases one at a time, against ck_ring's one-item enqueue/dequeue
     * (the ck_ring rows above are already one item at a time). */
    double one = 0, onepush = 0, push = 0, bulk = 0, bestck1 = 0, stage1 = 0;
    for (int i = 0; i < o.runs; i++) {
        double a = ours_bench_mode(&o, 1, o.sets, 1, 0, false, WAIT_FUTEX, PUT_IN_PLACE, true, NULL,
                                   &errors);
        double b = ck_bench(&o, o.sets, 1, 0, false, NULL, &errors);
        /* The daemon's push path: nd_ring_push of each decoded frame (1 set
         * per frame at 1 kHz, 64 at the simulator's largest frames), read
         * by a batch consumer. */
        double c =
            ours_bench_mode(&o, 1, o.sets, 1, 0, false, WAIT_FUTEX, PUT_PUSH, false, NULL, &errors);
        double d = ours_bench_mode(&o, 1, o.sets, 64, 0, false, WAIT_FUTEX, PUT_PUSH, false, NULL,
                                   &errors);
        double e = bulk_peer_bench(&o, o.sets, o.batch, &errors);
        double f = ours_bench_mode(&o, 1, o.sets, 1, 0, false, WAIT_FUTEX, PUT_STAGE, false, NULL,
                                   &errors);
        if (f > stage1) stage1 = f;
        if (a > one) one = a;
        if (b > bestck1) bestck1 = b;
        if (c > onepush) onepush = c;
        if (d > push) push = d;
        if (e > bulk) bulk = e;
    }
    printf("%-44s %12.2f\n", "one at a time: ours 1->1", one / 1e6);
    printf("%-44s %12.2f\n", "one at a time: ck_ring 1->1", bestck1 / 1e6);
    printf("%-44s %12.2f\n", "daemon push path, 1-set frames", onepush / 1e6);
    printf("%-44s %12.2f\n", "daemon push path, 64-set frames", push / 1e6);
    printf("%-44s %12.2f\n", "daemon read path, 1-set frames, 25 per read", stage1 / 1e6);
    if (bulk > 0)
        printf("%-44s %12.2f\n", "bulk peer: " BULK_PEER_NAME, bulk / 1e6);
    else
        printf("%-44s %12s\n", "bulk peer: " BULK_PEER_NAME, "n/a");

    /* Hand-off latency at a moderate rate: one set every interval_us, so the
     * ring is empty when each set arrives and queueing plays no part. */
    unsigned iv = o.interval_us * 1000u;
    struct lat_log l = lat_new(o.latency_sets);
    char name[96];
    snprintf(name, sizeof(name), "latency @%u us spacing, ours futex wait", o.interval_us);
    ours_bench(&o, 1, o.latency_sets, 1, iv, true, WAIT_FUTEX, &l, &errors);
    lat_row(name, &l);
    l.n = 0;
    snprintf(name, sizeof(name), "latency @%u us spacing, ours busy poll", o.interval_us);
    ours_bench(&o, 1, o.latency_sets, 1, iv, true, WAIT_POLL, &l, &errors);
    lat_row(name, &l);
    l.n = 0;
    snprintf(name, sizeof(name), "latency @%u us spacing, ck_ring busy poll", o.interval_us);
    ck_bench(&o, o.latency_sets, 1, iv, true, &l, &errors);
    lat_row(name, &l);
    free(l.v);

    /* Full rate: includes queueing behind up to a full ring. */
    uint64_t full_sets = o.sets / 4;
    l = lat_new(full_sets);
    ours_bench(&o, 1, full_sets, o.batch, 0, true, WAIT_FUTEX, &l, &errors);
    lat_row("latency full rate, ours futex wait", &l);
    l.n = 0;
    ck_bench(&o, full_sets, o.batch, 0, true, &l, &errors);
    lat_row("latency full rate, ck_ring busy poll", &l);
    free(l.v);

    double ratio = best11 / bestck;
    printf("ratio ours/ck_ring 1->1 throughput: %.2f (target >= 1.0: %s)\n", ratio,
           ratio >= 1.0 ? "met" : "MISSED");
    printf("ours 1->3 throughput: %.2f M sets/s (target >= 10: %s)\n", best13 / 1e6,
           best13 >= 10e6 ? "met" : "MISSED");
    if (errors) {
        printf("ERROR: %llu sets arrived out of order\n", (unsigned long long)errors);
        return 1;
    }
    return 0;
}
