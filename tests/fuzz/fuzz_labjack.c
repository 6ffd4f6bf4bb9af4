/* libFuzzer target: the LabJack U6 StreamData parser (checksums, packet
 * counter, auto-recovery, scans straddling packets). Byte 0 picks the
 * channel count, byte 1 the samples per packet; the rest is fed as USB
 * transfers of whole packets (a short tail is a short packet), with a
 * stream restart halfway. Every delivered scan must have the configured
 * channel count and strictly increasing sequence numbers. */
#include <stdlib.h>
#include <string.h>

#include "nd_labjack_u6_proto.h"

typedef struct fuzz_state {
    int nch;
    bool have_seq;
    uint64_t next_seq;
} fuzz_state;

static void on_scan(void *ctx, uint64_t seq, const uint16_t *bits, int nch, uint64_t gap)
{
    fuzz_state *s = ctx;
    (void)bits;
    if (nch != s->nch) abort();
    if (s->have_seq && seq < s->next_seq) abort();        /* scans never go backwards */
    if (s->have_seq && seq != s->next_seq + gap) abort(); /* gap is exact */
    s->have_seq = true;
    s->next_seq = seq + 1;
}

static void on_lost(void *ctx, uint64_t seq, unsigned packets)
{
    (void)ctx, (void)seq, (void)packets;
}

static void on_overflow(void *ctx, uint64_t seq, uint64_t scans, bool ended)
{
    (void)ctx, (void)seq, (void)scans, (void)ended;
}

static void on_error(void *ctx, uint64_t seq, int code)
{
    (void)ctx, (void)seq, (void)code;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    int nch = 1 + data[0] % 4;
    static const int spps[] = {1, 2, 5, 8, 25};
    int spp = spps[data[1] % 5];
    data += 2;
    size -= 2;
    fuzz_state st = {.nch = nch};
    lju6_parser p;
    lju6_parser_out out = {&st, on_scan, on_lost, on_overflow, on_error};
    lju6_parser_init(&p, nch, spp, &out);
    size_t plen = lju6_stream_packet_len(spp);
    size_t transfer = plen * (size_t)(1 + size % 3);
    for (size_t off = 0; off < size; off += transfer) {
        size_t n = size - off < transfer ? size - off : transfer;
        lju6_parser_feed(&p, data + off, n);
        if (off < size / 2 && off + transfer >= size / 2) {
            lju6_parser_restart(&p);
            st.have_seq = false; /* scan indexes start again after StreamStart */
        }
    }
    return 0;
}
