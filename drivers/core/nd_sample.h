/* One sample set as it travels from a driver through the ring to consumers. */
#ifndef ND_SAMPLE_H
#define ND_SAMPLE_H

#include <stdint.h>

#define ND_MAX_CHANNELS 8

/* Flags describing what happened just before this sample set. */
enum {
    ND_SAMPLE_AFTER_GAP = 1u << 0,       /* device seq jumped forward: sets were lost */
    ND_SAMPLE_AFTER_RESTART = 1u << 1,   /* device seq went backwards: device restarted */
    ND_SAMPLE_AFTER_RECONNECT = 1u << 2, /* first set after the device came back */
};

/* Exactly one cache line so the ring never shares a line between slots. */
typedef struct nd_sample {
    uint64_t seq;      /* device sequence number (text devices: host counter) */
    uint64_t host_ns;  /* CLOCK_MONOTONIC when the bytes arrived at the host */
    uint32_t dev_t_us; /* device clock of this set (wraps; 0 if unknown) */
    uint8_t nch;       /* channels used in raw[] (1..ND_MAX_CHANNELS) */
    uint8_t flags;     /* ND_SAMPLE_* */
    uint16_t reserved;
    int32_t raw[ND_MAX_CHANNELS]; /* raw counts, channel order of the device */
    uint64_t gap_sets;            /* with ND_SAMPLE_AFTER_GAP: how many sets were lost */
} nd_sample;

_Static_assert(sizeof(nd_sample) == 64, "nd_sample must be one cache line");

#endif
