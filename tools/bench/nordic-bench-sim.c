/* nordic-bench-sim: how fast the simulator produces data, so that benchmarks
 * driven by sim: measure the code under test, not the simulator. A benchmark,
 * not a test: it prints figures and ratios against named peers in the same run:
 *   - noise: our counter-based generator vs glibc drand48_r + Box-Muller (libm);
 *   - stream: sim transport (model + NFP/1 encoding) vs the nfp decoder
 *     consuming the same bytes (ratio > 1: the sim outpaces the decoder);
 *   - end to end: nd_device_run on sim:?pace=0 (transport + decoder + sink).
 *
 * Usage: nordic-bench-sim [--sets N] [--runs R] */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nd_decoder.h"
#include "nd_device.h"
#include "nd_sim_model.h"
#include "nd_transport.h"

extern const nd_transport_ops nd_transport_sim;

static double seconds_since(uint64_t t0)
{
    return (double)(nd_monotonic_ns() - t0) * 1e-9;
}

static volatile double sink_double;
static volatile uint64_t sink_u64;

static double bench_model(uint64_t sets)
{
    nd_sim_settings s;
    nd_sim_settings_default(&s);
    s.reps = 0;
    nd_sim_model m;
    char err[200];
    if (nd_sim_model_init(&m, &s, err, sizeof err) < 0) return 0;
    int32_t raw[ND_MAX_CHANNELS];
    int64_t acc = 0;
    uint64_t t0 = nd_monotonic_ns();
    for (uint64_t i = 0; i < sets; i++) {
        nd_sim_model_sample(&m, i, raw, NULL);
        acc += raw[0] ^ raw[1];
    }
    double dt = seconds_since(t0);
    sink_u64 = (uint64_t)acc;
    return (double)sets / dt;
}

/* Peer: the textbook Gaussian noise, two normals per Box-Muller step. */
static double bench_noise_peer(uint64_t sets)
{
    struct drand48_data rs;
    srand48_r(1, &rs);
    double acc = 0;
    uint64_t t0 = nd_monotonic_ns();
    for (uint64_t i = 0; i < sets; i++) {
        double u1, u2;
        drand48_r(&rs, &u1);
        drand48_r(&rs, &u2);
        double r = sqrt(-2.0 * log(1.0 - u1));
        acc += r * cos(2.0 * M_PI * u2) + r * sin(2.0 * M_PI * u2);
    }
    double dt = seconds_since(t0);
    sink_double = acc;
    return (double)sets / dt;
}

/* Ours: the same model with the force course removed (lead covers the run),
 * i.e. mostly two noise values per set plus the raw conversion. */
static double bench_noise_ours(uint64_t sets)
{
    nd_sim_settings s;
    nd_sim_settings_default(&s);
    s.lead_s = 600;
    nd_sim_model m;
    char err[200];
    if (nd_sim_model_init(&m, &s, err, sizeof err) < 0) return 0;
    int32_t raw[ND_MAX_CHANNELS];
    double f[ND_MAX_CHANNELS], acc = 0;
    uint64_t t0 = nd_monotonic_ns();
    for (uint64_t i = 0; i < sets; i++) {
        nd_sim_model_sample(&m, i % (600u * 1000u), raw, f);
        acc += f[0] + f[1];
    }
    double dt = seconds_since(t0);
    sink_double = acc;
    return (double)sets / dt;
}

/* Stream bytes of `sets` sets (2 channels, 1 kHz, 1 set/frame) into buf. */
static size_t generate_stream(uint64_t sets, uint8_t **out, double *rate)
{
    char text[128], err[256];
    snprintf(text, sizeof text, "sim:?pace=0&reps=0&duration=%.3f", (double)sets / 1000.0);
    nd_uri uri;
    if (nd_uri_parse(text, &uri, err, sizeof err) < 0) return 0;
    nd_transport t = {.ops = &nd_transport_sim};
    int rc = nd_transport_sim.open(&t, &uri, err, sizeof err);
    nd_uri_free(&uri);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        return 0;
    }
    size_t cap = (size_t)sets * 40 + (1 << 20), len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) return 0;
    ssize_t n;
    uint64_t t0 = nd_monotonic_ns();
    while ((n = nd_transport_sim.read(&t, buf + len, cap - len > 65536 ? 65536 : cap - len, 0)) > 0)
        len += (size_t)n;
    *rate = (double)sets / seconds_since(t0);
    nd_transport_sim.close(&t);
    *out = buf;
    return len;
}

static void count_sets(void *ctx, const nd_sample *sets, size_t n)
{
    (void)sets;
    *(uint64_t *)ctx += n;
}

static double bench_decoder(const uint8_t *bytes, size_t len, uint64_t sets)
{
    nd_device *dev = calloc(1, sizeof *dev);
    uint64_t got = 0;
    dev->sink = (nd_sink){.ctx = &got, .samples = count_sets};
    const nd_decoder_ops *dec = nd_decoder_find("nfp");
    nd_uri uri;
    char err[256];
    void *st = NULL;
    if (!dec || nd_uri_parse("sim:", &uri, err, sizeof err) < 0) return 0;
    if (dec->create(&st, dev, &uri, err, sizeof err) < 0) return 0;
    nd_uri_free(&uri);
    uint64_t t0 = nd_monotonic_ns();
    for (size_t off = 0; off < len; off += 16384)
        dec->feed(st, bytes + off, len - off < 16384 ? len - off : 16384, t0);
    double dt = seconds_since(t0);
    dec->destroy(st);
    free(dev);
    if (got != sets)
        fprintf(stderr, "decoder delivered %llu of %llu sets\n", (unsigned long long)got,
                (unsigned long long)sets);
    return (double)sets / dt;
}

static double bench_end_to_end(uint64_t sets)
{
    char text[128], err[256];
    snprintf(text, sizeof text, "sim:?pace=0&reps=0&duration=%.3f", (double)sets / 1000.0);
    uint64_t got = 0;
    nd_sink sink = {.ctx = &got, .samples = count_sets};
    nd_device *dev;
    if (nd_device_open(text, &sink, &dev, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 0;
    }
    atomic_bool stop = false;
    uint64_t t0 = nd_monotonic_ns();
    nd_device_run(dev, &stop);
    double dt = seconds_since(t0);
    nd_device_close(dev);
    return (double)got / dt;
}

static double best(double a, double b)
{
    return a > b ? a : b;
}

int main(int argc, char **argv)
{
    uint64_t sets = 2000000;
    int runs = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sets") == 0 && i + 1 < argc)
            sets = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--sets N] [--runs R]\n", argv[0]);
            return 2;
        }
    }
    if (sets < 1000 || runs < 1) {
        fprintf(stderr, "need --sets >= 1000 and --runs >= 1\n");
        return 2;
    }
    double model = 0, ours = 0, peer = 0, gen = 0, dec = 0, e2e = 0;
    for (int r = 0; r < runs; r++) {
        model = best(model, bench_model(sets));
        ours = best(ours, bench_noise_ours(sets));
        peer = best(peer, bench_noise_peer(sets));
        uint8_t *bytes = NULL;
        double g = 0;
        size_t len = generate_stream(sets, &bytes, &g);
        gen = best(gen, g);
        if (len) dec = best(dec, bench_decoder(bytes, len, sets));
        free(bytes);
        e2e = best(e2e, bench_end_to_end(sets));
    }
    printf("nordic-bench-sim: %llu sets (2 channels), best of %d\n", (unsigned long long)sets,
           runs);
    printf("  model (rep shape + noise + counts)   %8.2f M sets/s\n", model / 1e6);
    printf("  noise, ours (counter hash)           %8.2f M sets/s\n", ours / 1e6);
    printf("  noise, peer drand48_r + Box-Muller   %8.2f M sets/s   ours/peer = %.2f\n", peer / 1e6,
           ours / peer);
    printf("  sim transport (model + NFP/1 encode) %8.2f M sets/s\n", gen / 1e6);
    printf("  peer: nfp decoder on the same bytes  %8.2f M sets/s   sim/decoder = %.2f\n",
           dec / 1e6, gen / dec);
    printf("  end to end (nd_device_run, unpaced)  %8.2f M sets/s   = %.0f x 1 kHz real time\n",
           e2e / 1e6, e2e / 1000.0);
    return 0;
}
