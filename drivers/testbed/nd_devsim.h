/* Emulated serial devices: the byte streams real boards send (NFP/1 frames or
 * text lines of a preset), with seeded fault injection. Used by
 * tools/nordic-devsim and by the serial tests, which compare what the
 * decoders recover with the clean stream kept here.
 *
 * Forces come from the simulated Nordic board (nd_sim_model.h). */
#ifndef ND_DEVSIM_H
#define ND_DEVSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_sim_model.h"

typedef enum nd_devsim_proto {
    ND_DEVSIM_NFP,
    ND_DEVSIM_CSV,       /* "<raw left>,<raw right>" */
    ND_DEVSIM_HX711,     /* HX711_ADC two-cell example, grams */
    ND_DEVSIM_OPENSCALE, /* "<ms>,<lbs>,lbs," (left leg) */
    ND_DEVSIM_LOADSTAR,  /* Loadstar DI-1000 / iLoad command set (one leg) */
} nd_devsim_proto;

typedef struct nd_devsim_config {
    nd_devsim_proto proto;
    uint32_t rate_hz;   /* sample sets per second */
    int nch;            /* NFP and csv: channels; text presets fix their own */
    int sets_per_frame; /* NFP: 1..64 */
    int leg;            /* single-channel presets: ND_SIM_LEFT or ND_SIM_RIGHT */
    double seq_jump;    /* NFP: probability per frame of skipping 1..50 sets */
    uint64_t seed;
    /* loadstar: answer the command set and stream only when told (WC or
     * O0W0). Off: stream millipounds from the start, as after O0W0, for
     * outputs that cannot talk back (stdout, file). */
    bool interactive;
} nd_devsim_config;

typedef struct nd_devsim_stats {
    uint64_t units;        /* frames or lines produced */
    uint64_t sets;         /* sample sets produced (in units) */
    uint64_t sets_skipped; /* NFP: sets jumped over by seq_jump */
} nd_devsim_stats;

typedef struct nd_devsim nd_devsim;

/* Returns NULL with a message in err on bad settings. */
nd_devsim *nd_devsim_new(const nd_devsim_config *cfg, char *err, size_t errlen);
void nd_devsim_free(nd_devsim *d);
/* Parse "nfp", "csv", "hx711-adc-2x", "openscale", "loadstar"; -1 if unknown. */
int nd_devsim_proto_parse(const char *name, nd_devsim_proto *out);
/* The next unit (one NFP frame, INFO every second of data, or one text
 * line), without faults. Returns its length (0 if cap is too small). */
size_t nd_devsim_next(nd_devsim *d, uint8_t *out, size_t cap);
/* What a board prints on reset (text) or a burst of garbage (NFP). */
size_t nd_devsim_banner(nd_devsim *d, uint8_t *out, size_t cap);
const nd_devsim_stats *nd_devsim_stats_get(const nd_devsim *d);
/* Bytes the host sent to the device (loadstar): each line ending in CR or
 * LF is a command (an empty one is the bare CR); any line stops a running
 * stream. Answers go to out; returns their length. Commands: CR -> "A",
 * MODEL -> "FCM DI-1000", ID and SS1 -> the factory id, UNITS [u] -> the
 * unit, LC (calibrated unit) and SLC (lb) -> the capacity, CT0/CT1/TARE ->
 * "Tared" (zero shifts to the present force), W -> one reading in the unit,
 * O0W1 -> one in millipounds, WC / O0W0 -> stream in the unit / in
 * millipounds, anything else -> "?". */
size_t nd_devsim_input(nd_devsim *d, const uint8_t *in, size_t len, uint8_t *out, size_t cap);
/* False while the loadstar device idles: nd_devsim_next() still advances
 * the sample clock but its line must not be sent. Always true otherwise. */
bool nd_devsim_streaming(const nd_devsim *d);
/* The factory id the loadstar emulation reports ("LS-<seed>"). */
const char *nd_devsim_id(const nd_devsim *d);
/* Force the loadstar zero is at (N; 0 until a tare). */
double nd_devsim_zero_n(const nd_devsim *d);
#define ND_DEVSIM_LOADSTAR_CAPACITY_LB 250.0

/* Raw counts of sample set i exactly as the unit carried them (NFP and csv),
 * for tests. */
void nd_devsim_raw(nd_devsim *d, uint64_t i, int32_t *raw);

/* Byte-level faults, each a probability. */
typedef struct nd_fault_config {
    double flip;     /* per byte: flip one random bit */
    double drop;     /* per byte: the byte is lost */
    double truncate; /* per unit: only a random prefix is sent */
    uint64_t seed;
} nd_fault_config;

typedef struct nd_faults {
    nd_fault_config cfg;
    uint64_t rng;
    uint64_t flipped, dropped, truncated; /* what was done */
} nd_faults;

void nd_faults_init(nd_faults *f, const nd_fault_config *cfg);
/* Applies faults to one unit; out needs len bytes. Returns the new length. */
size_t nd_faults_apply(nd_faults *f, const uint8_t *in, size_t len, uint8_t *out);
static inline bool nd_faults_active(const nd_fault_config *c)
{
    return c->flip > 0 || c->drop > 0 || c->truncate > 0;
}

/* splitmix64: the generator behind all seeded choices here. */
uint64_t nd_devsim_rand(uint64_t *state);
double nd_devsim_rand01(uint64_t *state);

#endif
