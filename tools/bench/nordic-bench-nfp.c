/* Benchmark of the NFP/1 receive path, each figure against a named peer in
 * the same run:
 *   1. the "nfp" decoder (COBS + CRC + parse + delivery) vs memcpy of the same
 *      bytes (the floor for touching every byte once);
 *   2. the table-driven CRC-16 vs the bitwise reference of PROTOCOL.md.
 * Stream: 2 channels, 10 sets per frame (1 kHz boards send 100 such frames/s).
 * Usage: nordic-bench-nfp [megabytes] (default 64). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_crc16.h"
#include "nd_decoder.h"
#include "nd_nfp.h"

static uint64_t delivered;
static void count_sets(void *ctx, const nd_sample *s, size_t n)
{
    (void)ctx;
    delivered += n + (uint64_t)(s[0].raw[0] & 0); /* touch the data */
}

static uint16_t crc_bitwise(const uint8_t *d, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(d[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

static double best_of(int runs, double (*fn)(void *), void *arg)
{
    double best = 1e30;
    for (int i = 0; i < runs; i++) {
        double t = fn(arg);
        if (t < best) best = t;
    }
    return best;
}

typedef struct job {
    uint8_t *stream, *scratch;
    size_t len;
    const nd_decoder_ops *ops;
    nd_device *dev;
    volatile uint16_t sink16;
} job;

static double run_decoder(void *arg)
{
    job *j = arg;
    void *state;
    nd_uri uri;
    char err[128];
    nd_uri_parse("bench:", &uri, err, sizeof err);
    j->ops->create(&state, j->dev, &uri, err, sizeof err);
    nd_uri_free(&uri);
    uint64_t t0 = nd_monotonic_ns();
    for (size_t off = 0; off < j->len; off += 16384) {
        size_t n = j->len - off < 16384 ? j->len - off : 16384;
        j->ops->feed(state, j->stream + off, n, t0);
    }
    double s = (double)(nd_monotonic_ns() - t0) / 1e9;
    j->ops->destroy(state);
    return s;
}

static double run_memcpy(void *arg)
{
    job *j = arg;
    uint64_t t0 = nd_monotonic_ns();
    for (size_t off = 0; off < j->len; off += 16384) {
        size_t n = j->len - off < 16384 ? j->len - off : 16384;
        memcpy(j->scratch, j->stream + off, n);
        __asm__ volatile("" ::"r"(j->scratch) : "memory");
    }
    return (double)(nd_monotonic_ns() - t0) / 1e9;
}

static double run_crc_table(void *arg)
{
    job *j = arg;
    uint64_t t0 = nd_monotonic_ns();
    j->sink16 = nd_crc16(j->stream, j->len);
    return (double)(nd_monotonic_ns() - t0) / 1e9;
}

static double run_crc_bitwise(void *arg)
{
    job *j = arg;
    uint64_t t0 = nd_monotonic_ns();
    j->sink16 = crc_bitwise(j->stream, j->len);
    return (double)(nd_monotonic_ns() - t0) / 1e9;
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)atol(argv[1]) : 64;
    if (mb < 1 || mb > 1024) {
        fprintf(stderr, "usage: nordic-bench-nfp [megabytes 1..1024]\n");
        return 2;
    }
    job j = {.len = 0, .ops = nd_decoder_find("nfp")};
    size_t cap = mb << 20;
    j.stream = malloc(cap);
    j.scratch = malloc(16384);
    uint64_t sets = 0;
    uint8_t f[NFP_MAX_FRAME(NFP_MAX_BODY)];
    for (uint32_t seq = 0;; seq += 10) {
        int32_t raw[20];
        for (int k = 0; k < 20; k++) raw[k] = (int32_t)(seq * 31u + (uint32_t)k * 977u) - 40000;
        size_t n = nfp_encode_samples(f, sizeof f, seq, seq * 1000u, 2, 10, raw);
        if (j.len + n > cap) break;
        memcpy(j.stream + j.len, f, n);
        j.len += n;
        sets += 10;
    }
    static nd_device dev;
    dev.sink = (nd_sink){.samples = count_sets};
    j.dev = &dev;

    double dec = best_of(5, run_decoder, &j);
    double cpy = best_of(5, run_memcpy, &j);
    if (delivered != sets * 5)
        fprintf(stderr, "decoder delivered %llu of %llu sets!\n", (unsigned long long)delivered,
                (unsigned long long)sets * 5);
    double mib = (double)j.len / (1 << 20);
    printf("nfp decoder : %8.1f MiB/s  %6.2f M sets/s (2 ch, 10 sets/frame)\n", mib / dec,
           (double)sets / dec / 1e6);
    printf("memcpy peer : %8.1f MiB/s\n", mib / cpy);
    printf("ratio decoder/memcpy throughput: %.3f\n", cpy / dec);
    printf("headroom vs a 1 kHz 2-channel board: %.0fx\n", (double)sets / dec / 1000.0);

    double tab = best_of(5, run_crc_table, &j);
    double bit = best_of(3, run_crc_bitwise, &j);
    printf("crc16 table   : %8.1f MiB/s\n", mib / tab);
    printf("crc16 bitwise : %8.1f MiB/s (reference peer)\n", mib / bit);
    printf("ratio table/bitwise throughput: %.2f\n", bit / tab);
    free(j.stream);
    free(j.scratch);
    return 0;
}
