/* The sim: device end to end: transport -> NFP/1 bytes -> "nfp" decoder ->
 * sink. Every delivered sample set must equal what the model computes for
 * its seq; fault injection must show up in the decoder's counters with exact
 * numbers; bad options must fail with a message naming the option. */
#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nd_device.h"
#include "nd_sim_model.h"
#include "nd_transport.h"
#include "test_util.h"

extern const nd_transport_ops nd_transport_sim;

typedef struct collected {
    nd_sample *sets;
    size_t n, cap;
    size_t info_calls, gap_events;
    uint64_t gap_event_sets;
    nd_device_info info;
} collected;

static void on_samples(void *ctx, const nd_sample *sets, size_t n)
{
    collected *c = ctx;
    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2;
        c->sets = realloc(c->sets, c->cap * sizeof *c->sets);
        if (!c->sets) abort();
    }
    memcpy(c->sets + c->n, sets, n * sizeof *sets);
    c->n += n;
}

static void on_event(void *ctx, const nd_device_event *ev)
{
    collected *c = ctx;
    if (ev->kind == ND_EV_GAP) {
        c->gap_events++;
        c->gap_event_sets += ev->count;
    }
}

static void on_info(void *ctx, const nd_device_info *info)
{
    collected *c = ctx;
    c->info_calls++;
    c->info = *info;
}

/* Open uri, run it to the end, return the device (still open) or NULL. */
static nd_device *run_to_eof(const char *uri, collected *c)
{
    memset(c, 0, sizeof *c);
    nd_sink sink = {.ctx = c, .samples = on_samples, .event = on_event, .info = on_info};
    nd_device *dev = NULL;
    char err[256] = "";
    if (nd_device_open(uri, &sink, &dev, err, sizeof err) != 0) {
        fprintf(stderr, "open %s: %s\n", uri, err);
        CHECK(!"device opens");
        return NULL;
    }
    atomic_bool stop = false;
    CHECK_EQ_INT(nd_device_run(dev, &stop), ND_RUN_EOF);
    return dev;
}

static void model_for(nd_sim_model *m, uint32_t rate, int nch, long reps, double rest, double lead,
                      uint64_t seed)
{
    nd_sim_settings s;
    nd_sim_settings_default(&s);
    s.rate_hz = rate;
    s.nch = nch;
    s.reps = reps;
    s.rest_s = rest;
    s.lead_s = lead;
    s.seed = seed;
    char err[200];
    CHECK(nd_sim_model_init(m, &s, err, sizeof err) == 0);
}

/* Every delivered set equals the model at its seq; returns the mismatches. */
static size_t mismatches(nd_sim_model *m, const collected *c, uint32_t rate)
{
    size_t bad = 0;
    for (size_t i = 0; i < c->n; i++) {
        const nd_sample *s = &c->sets[i];
        int32_t raw[ND_MAX_CHANNELS];
        nd_sim_model_sample(m, s->seq, raw, NULL);
        uint32_t t_us = (uint32_t)(s->seq / rate * 1000000u + s->seq % rate * 1000000u / rate);
        if (s->nch != m->s.nch || memcmp(raw, s->raw, (size_t)m->s.nch * sizeof raw[0]) != 0 ||
            s->dev_t_us != t_us)
            bad++;
    }
    return bad;
}

static uint64_t counter(nd_device *dev, const _Atomic uint64_t *c)
{
    (void)dev;
    return atomic_load(c);
}

static void test_clean_run(void)
{
    collected c;
    nd_device *dev = run_to_eof("sim:?pace=0&reps=3&seed=5&rest=1&lead=0.5", &c);
    if (!dev) return;
    nd_sim_model m;
    model_for(&m, 1000, 2, 3, 1.0, 0.5, 5);
    uint64_t expect = (uint64_t)((nd_sim_model_last_rep_end_s(&m) + 2.0) * 1000.0);
    CHECK_EQ_INT(c.n, expect);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->sets), expect);
    size_t not_contiguous = 0, flagged = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (c.sets[i].seq != i) not_contiguous++;
        if (c.sets[i].flags) flagged++;
    }
    CHECK_EQ_INT(not_contiguous, 0);
    CHECK_EQ_INT(flagged, 0);
    CHECK_EQ_INT(mismatches(&m, &c, 1000), 0);
    /* INFO went through the decoder into the device's info. */
    nd_device_info info = {0};
    CHECK(nd_device_get_info(dev, &info));
    CHECK(c.info_calls >= 1);
    CHECK(strcmp(info.model, "nordic-sim") == 0);
    CHECK(strcmp(info.serial, "SIM-0001") == 0);
    CHECK_NEAR(info.rate_hz, 1000.0, 0);
    CHECK_EQ_INT(info.nch, 2);
    CHECK(strcmp(info.channel_names[0], "left") == 0);
    CHECK(strcmp(info.channel_names[1], "right") == 0);
    CHECK_NEAR(info.counts_per_newton[0], 1000.0, 0);
    CHECK(strncmp(info.fw, "nordicd-sim", 11) == 0);
    /* Nothing bad: every frame (1 set each, INFO and STATUS once a second) was fine. */
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_bad_cobs), 0);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_bad_crc), 0);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_bad_version), 0);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_bad_length), 0);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_bad_payload), 0);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_unknown_type), 0);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->gaps), 0);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->device_overflows), 0);
    uint64_t per_second = (expect + 999) / 1000; /* INFO and STATUS at sets 0, 1000, ... */
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_ok), expect + 2 * per_second);
    /* The reps are in the data: the model's peaks appear in the decoded counts. */
    for (long k = 0; k < 3; k++) {
        nd_sim_rep r;
        CHECK(nd_sim_model_rep(&m, k, &r) == 0);
        uint64_t at = (uint64_t)(r.peak_s[0] * 1000.0 + 0.5);
        double f = (c.sets[at].raw[0] - nd_sim_model_offset(&m, 0)) / 1000.0;
        CHECK_NEAR(f, r.peak_n[0], 1.0);
    }
    nd_device_close(dev);
    free(c.sets);
}

/* More channels, a rate giving several sets per frame and a partial last frame. */
static void test_many_channels(void)
{
    collected c;
    nd_device *dev =
        run_to_eof("sim:?pace=0&rate=2000&nch=4&sets_per_frame=7&duration=3&seed=11&reps=0", &c);
    if (!dev) return;
    nd_sim_model m;
    model_for(&m, 2000, 4, 0, 4.0, 2.0, 11);
    CHECK_EQ_INT(c.n, 6000);
    CHECK_EQ_INT(c.sets[c.n - 1].seq, 5999);
    CHECK_EQ_INT(mismatches(&m, &c, 2000), 0);
    nd_device_info info = {0};
    CHECK(nd_device_get_info(dev, &info));
    CHECK_EQ_INT(info.nch, 4);
    CHECK(strcmp(info.channel_names[3], "aux3") == 0);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->gaps), 0);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_bad_crc), 0);
    nd_device_close(dev);
    free(c.sets);
}

static void test_drops(const char *uri, uint64_t frames, uint64_t every, uint64_t spf)
{
    collected c;
    nd_device *dev = run_to_eof(uri, &c);
    if (!dev) return;
    nd_sim_model m;
    model_for(&m, 1000, 2, 3, 4.0, 2.0, 3);
    uint64_t dropped = (frames - 1) / every; /* the last frame is never dropped */
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->gaps), dropped);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->gap_sets), dropped * spf);
    CHECK_EQ_INT(c.gap_events, dropped);
    CHECK_EQ_INT(c.gap_event_sets, dropped * spf);
    CHECK_EQ_INT(c.n, (frames - dropped) * spf);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_bad_crc), 0);
    CHECK_EQ_INT(mismatches(&m, &c, 1000), 0);
    /* Each set after a gap says so, with the exact count. */
    size_t after_gap = 0, wrong = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (!(c.sets[i].flags & ND_SAMPLE_AFTER_GAP)) continue;
        after_gap++;
        if (c.sets[i].gap_sets != spf || c.sets[i].seq % (every * spf) != 0) wrong++;
    }
    CHECK_EQ_INT(after_gap, dropped);
    CHECK_EQ_INT(wrong, 0);
    nd_device_close(dev);
    free(c.sets);
}

static void test_corruption(void)
{
    collected c;
    nd_device *dev = run_to_eof("sim:?pace=0&duration=1&corrupt_every=7&seed=3", &c);
    if (!dev) return;
    nd_sim_model m;
    model_for(&m, 1000, 2, 3, 4.0, 2.0, 3);
    uint64_t bad = 1000 / 7; /* frame 1000 is the last and is never corrupted anyway */
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_bad_crc), bad);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_bad_cobs), 0);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_bad_length), 0);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->frames_bad_version), 0);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->gaps), bad);
    CHECK_EQ_INT(counter(dev, &nd_device_counters(dev)->gap_sets), bad);
    CHECK_EQ_INT(c.n, 1000 - bad);
    CHECK_EQ_INT(mismatches(&m, &c, 1000), 0);
    nd_device_close(dev);
    free(c.sets);
}

/* Paced mode never delivers a set before it exists in real time. */
static void test_paced(void)
{
    uint64_t t0 = nd_monotonic_ns();
    collected c;
    nd_device *dev = run_to_eof("sim:?rate=1000&duration=0.3&seed=2", &c);
    if (!dev) return;
    CHECK_EQ_INT(c.n, 300);
    size_t early = 0;
    for (size_t i = 0; i < c.n; i++)
        if (c.sets[i].host_ns < t0 + (c.sets[i].seq + 1) * 1000000ull) early++;
    CHECK_EQ_INT(early, 0);
    CHECK(nd_monotonic_ns() - t0 >= 300000000ull);
    nd_device_close(dev);
    free(c.sets);
}

/* Read coalescing (drivers/DRIVERS.md, on by default at 25 ms): every set
 * still arrives, but a board sending a frame a millisecond is read in
 * batches, so its sets carry few distinct arrival times (each read stamps
 * its sets); coalesce_ms=0 gives nearly every set its own. Values outside
 * 0-100 are refused at open. */
static size_t distinct_arrivals(const collected *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (i == 0 || c->sets[i].host_ns != c->sets[i - 1].host_ns) n++;
    return n;
}

static void test_coalesced(void)
{
    collected c;
    nd_device *dev = run_to_eof("sim:?rate=1000&duration=0.6&seed=2&coalesce_ms=20", &c);
    if (!dev) return;
    CHECK_EQ_INT(c.n, 600);
    /* 8 uncoalesced reads first, then at most one read per 20 ms. */
    CHECK(distinct_arrivals(&c) <= 8 + 600 / 20 + 5);
    nd_device_close(dev);
    free(c.sets);
    collected d;
    dev = run_to_eof("sim:?rate=1000&duration=0.6&seed=2", &d);
    if (!dev) return;
    CHECK_EQ_INT(d.n, 600);
    CHECK(distinct_arrivals(&d) <= 8 + 600 / 25 + 5); /* the default: 25 ms */
    nd_device_close(dev);
    free(d.sets);
    collected u;
    dev = run_to_eof("sim:?rate=1000&duration=0.3&seed=2&coalesce_ms=0", &u);
    if (!dev) return;
    CHECK(distinct_arrivals(&u) > 100); /* off: reads follow the device */
    nd_device_close(dev);
    free(u.sets);
    nd_test_expect_open_error("sim:?coalesce_ms=500", "coalesce_ms", "100");
}

/* Nobody watching live (nd_device_set_unwatched): reads gather for
 * ND_STREAM_IDLE_COALESCE_MS (100 ms) instead of 25; turning watching back on
 * ends a pause at once, so the next read follows within a frame or two, not
 * at the end of the 100 ms. */
typedef struct watch_run {
    nd_device *dev;
    atomic_bool stop;
} watch_run;

static void *watch_run_main(void *arg)
{
    watch_run *w = arg;
    nd_device_run(w->dev, &w->stop);
    return NULL;
}

static void test_unwatched(void)
{
    collected c;
    memset(&c, 0, sizeof c);
    nd_sink sink = {.ctx = &c, .samples = on_samples, .event = on_event, .info = on_info};
    nd_device *dev = NULL;
    char err[256] = "";
    CHECK(nd_device_open("sim:?rate=1000&duration=1.6&seed=2", &sink, &dev, err, sizeof err) == 0);
    if (!dev) return;
    nd_device_set_unwatched(dev, true);
    watch_run w = {.dev = dev};
    atomic_init(&w.stop, false);
    pthread_t th;
    pthread_create(&th, NULL, watch_run_main, &w);
    struct timespec ms1150 = {1, 150000000L}; /* mid-pause: reads fall near each 100 ms */
    nanosleep(&ms1150, NULL);
    uint64_t switched = nd_monotonic_ns();
    nd_device_set_unwatched(dev, false);
    pthread_join(th, NULL);
    CHECK_EQ_INT(c.n, 1600);
    /* Reads (distinct arrival stamps) before the switch: 8 uncoalesced, then
     * one per 100 ms (about 11 in 1.15 s, not ~45 as at 25 ms). */
    size_t reads_before = 0, first_after = c.n;
    for (size_t i = 0; i < c.n; i++) {
        bool new_read = i == 0 || c.sets[i].host_ns != c.sets[i - 1].host_ns;
        if (c.sets[i].host_ns < switched) {
            reads_before += new_read;
        } else if (first_after == c.n) {
            first_after = i;
        }
    }
    CHECK(reads_before >= 8 + 5 && reads_before <= 8 + 1150 / 100 + 3);
    /* The pause in progress ended at the switch: the first read after it
     * came promptly (a 100 ms pause would leave up to 100 ms). */
    CHECK(first_after < c.n && c.sets[first_after].host_ns - switched < 30000000ull);
    nd_device_close(dev);
    free(c.sets);
}

/* The byte stream does not depend on how the reader slices it. */
static void test_read_slicing(void)
{
    nd_uri uri;
    char err[256];
    CHECK(nd_uri_parse("sim:?pace=0&duration=2&rate=5000&nch=3&seed=9", &uri, err, sizeof err) ==
          0);
    nd_transport a = {.ops = &nd_transport_sim}, b = {.ops = &nd_transport_sim};
    CHECK(nd_transport_sim.open(&a, &uri, err, sizeof err) == 0);
    CHECK(nd_transport_sim.open(&b, &uri, err, sizeof err) == 0);
    nd_uri_free(&uri);
    size_t cap = 4 << 20, na = 0, nb = 0;
    uint8_t *sa = malloc(cap), *sb = malloc(cap);
    ssize_t r;
    while ((r = nd_transport_sim.read(&a, sa + na, cap - na < 65536 ? cap - na : 65536, 0)) > 0)
        na += (size_t)r;
    CHECK_EQ_INT(r, ND_TR_EOF);
    while ((r = nd_transport_sim.read(&b, sb + nb, 7, 0)) > 0) nb += (size_t)r;
    CHECK_EQ_INT(r, ND_TR_EOF);
    CHECK(na > 10000 && na == nb && memcmp(sa, sb, na) == 0);
    CHECK_EQ_INT(nd_transport_sim.read(&a, sa, 100, 0), ND_TR_EOF); /* stays at EOF */
    nd_transport_sim.close(&a);
    nd_transport_sim.close(&b);
    free(sa);
    free(sb);
}

static void test_bad_options(void)
{
    static const struct {
        const char *uri, *needle;
    } cases[] = {
        {"sim:?rate=5", "rate"},
        {"sim:?rate=fast", "rate"},
        {"sim:?nch=0", "nch"},
        {"sim:?nch=9", "nch"},
        {"sim:?reps=-1", "reps"},
        {"sim:?pace=maybe", "pace"},
        {"sim:?hum_hz=55", "hum_hz"},
        {"sim:?peak=300&peak_left=200", "peak"},
        {"sim:?asym=95", "asym"},
        {"sim:?peak_left=10", "peak_left"},
        {"sim:?baseline=50&peak_right=55", "baseline"},
        {"sim:?serial=%22x%22", "serial"},
        {"sim:?model=", "model"},
        {"sim:?sets_per_frame=65", "sets_per_frame"},
        {"sim:?drop_every=1", "drop_every"},
        {"sim:?corrupt_every=-3", "corrupt_every"},
        {"sim:?seed=abc", "seed"},
        {"sim:?noise=-1", "noise"},
        {"sim:?cpn=0", "cpn"},
        {"sim:?duration=-2", "duration"},
        {"sim:?rise=20", "rise"},
        {"sim:?rat=1000", "rat"},
        {"sim:/dev/ttyACM0", "path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nd_device *dev = NULL;
        char err[256] = "";
        int rc = nd_device_open(cases[i].uri, NULL, &dev, err, sizeof err);
        CHECK_EQ_INT(rc, -1);
        CHECK(dev == NULL);
        if (!strstr(err, cases[i].needle)) {
            fprintf(stderr, "%s: message '%s' does not name '%s'\n", cases[i].uri, err,
                    cases[i].needle);
            CHECK(!"error names the option");
        }
        if (rc == 0) nd_device_close(dev);
    }
}

/* Every documented option is accepted (left: peak_left/peak_right form). */
static void test_all_options_accepted(void)
{
    static const char *const uris[] = {
        "sim:?rate=500&nch=3&reps=2&rest=1&unloaded=0.5&lead=1&peak_left=300&peak_right=280"
        "&rise=2&var=4&baseline=5&seed=12&noise=0.3&spike_prob=0.001&spike_amp=30&hum_hz=60"
        "&hum_amp=0.2&cpn=420.5&pace=0&sets_per_frame=5&duration=2&serial=AB-12&model=demo"
        "&drop_every=50&corrupt_every=70&proto=nfp",
        "sim:?peak=300&asym=12.5&pace=false&duration=1",
    };
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        collected c;
        nd_device *dev = run_to_eof(uris[i], &c);
        CHECK(dev != NULL);
        if (!dev) continue;
        CHECK(c.n > 0);
        nd_device_info info = {0};
        if (i == 0) {
            CHECK(nd_device_get_info(dev, &info));
            CHECK(strcmp(info.serial, "AB-12") == 0 && strcmp(info.model, "demo") == 0);
            CHECK_NEAR(info.counts_per_newton[2], 420.5, 1e-9);
            CHECK_NEAR(info.rate_hz, 500, 0);
        }
        nd_device_close(dev);
        free(c.sets);
    }
}

/* peak + asym: peak is the stronger leg, negative asym = right stronger. */
static void test_peak_asym(void)
{
    collected c;
    nd_device *dev = run_to_eof("sim:?pace=0&peak=400&asym=-10&var=0&reps=1&lead=0.5&noise=0", &c);
    if (!dev) return;
    int32_t max_raw[2] = {INT32_MIN, INT32_MIN};
    for (size_t i = 0; i < c.n; i++)
        for (int ch = 0; ch < 2; ch++)
            if (c.sets[i].raw[ch] > max_raw[ch]) max_raw[ch] = c.sets[i].raw[ch];
    nd_sim_model m;
    model_for(&m, 1000, 2, 1, 4.0, 0.5, 1);
    double left = (max_raw[0] - nd_sim_model_offset(&m, 0)) / 1000.0;
    double right = (max_raw[1] - nd_sim_model_offset(&m, 1)) / 1000.0;
    double asym = 100.0 * (left - right) / (left > right ? left : right);
    printf("peak=400&asym=-10: left %.1f N, right %.1f N, asymmetry %.2f %%\n", left, right, asym);
    CHECK_NEAR(right, 400.0, 400.0 * 0.016); /* per-leg jitter is +-1.5 % */
    CHECK_NEAR(asym, -10.0, 3.2);
    nd_device_close(dev);
    free(c.sets);
}

int main(void)
{
    test_clean_run();
    test_many_channels();
    test_drops("sim:?pace=0&duration=2&drop_every=10&seed=3", 2000, 10, 1);
    test_drops("sim:?pace=0&duration=2&drop_every=3&sets_per_frame=4&seed=3", 500, 3, 4);
    test_corruption();
    test_paced();
    test_coalesced();
    test_unwatched();
    test_read_slicing();
    test_bad_options();
    test_peak_asym();
    test_all_options_accepted();
    return nd_test_finish("test_sim");
}
