/* Text line decoder (drivers/SERIAL.md, proto=text): one ASCII line = one sample set.
 *
 * Numbers (signed decimal, optional fraction and exponent) are extracted in
 * order; a pattern says which number is which channel and optionally which
 * is a device time column. Values become int32 raw counts as
 * llround(value * scale); counts_per_newton = scale / (newtons per unit).
 * There are no sequence numbers in text, so seq is a host counter and loss
 * cannot be detected. The line rate is measured from arrival times over the
 * first seconds (nd_rate_estimate.h): rate=auto uses it; otherwise a
 * measured rate more than 5 % off the nominal one is a warning (log and the
 * device info's warning, shown on status). Lines whose fields do not fit
 * the preset's meaning (a single-cell board read with a two-leg preset) are
 * refused, and after a few in a row with none accepted, warned about the same
 * way. See SERIAL.md for every option.
 *
 * The config/instance API is public so that drivers which speak a text
 * dialect over a command channel (Loadstar) reuse the same parser. */
#ifndef ND_TEXT_DECODER_H
#define ND_TEXT_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_decoder.h"
#include "nd_device.h"
#include "nd_uri.h"

#define ND_TEXT_MAX_LINE    1024
#define ND_TEXT_MAX_NUMBERS 32

typedef struct nd_text_config {
    char preset[24];
    int nch;
    int chan_index[ND_MAX_CHANNELS]; /* number index of each channel */
    int time_index;                  /* -1: no device time column */
    double time_to_us;               /* time column value -> microseconds */
    int fields;                      /* exact count of numbers required; 0 = enough for indices */
    char match[64];                  /* substring every data line must contain ("" = none) */
    char unit[8];                    /* unit of the values: N, kg, g, lbf, mlbf or counts */
    double newtons_per_unit;         /* 0 for counts (needs calibration) */
    double scale;                    /* raw = llround(value * scale) */
    double rate_hz;                  /* nominal line rate (the text carries none) */
    bool rate_auto;                  /* rate=auto: measured from arrivals, then used */
    /* The preset's meaning is bare numeric columns (csv without channels= or
     * match=): a line with text labels does not fit it. */
    bool bare_columns;
    const char *fit_hint; /* what the preset expects, for the misfit warning */
    bool skip_first;      /* drop the first fragment after connecting */
    char model[64];
} nd_text_config;

/* Keys understood by nd_text_config_from_uri (NULL-terminated). */
extern const char *const nd_text_keys[];

/* Fill cfg from preset= (or default_preset) and the override keys.
 * Returns 0, or -1 with a message naming the bad key and value. */
int nd_text_config_from_uri(nd_text_config *cfg, const nd_uri *uri, const char *default_preset,
                            char *err, size_t errlen);
/* Preset only (no URI). Returns -1 for an unknown name. */
int nd_text_config_preset(nd_text_config *cfg, const char *preset);
/* Newtons per unit for a unit name; -1 if unknown, 0 for "counts". */
double nd_text_unit_newtons(const char *unit);

/* Extract up to max numbers from a NUL-terminated line. A number must not
 * be glued to a preceding letter, digit or '_' (so "HX711" is not 711).
 * Returns the count found (may exceed max: the rest are not stored), or -1
 * if a number token is absurdly long. */
int nd_text_extract_numbers(const char *line, double *out, int max);

typedef struct nd_text_decoder nd_text_decoder;

/* Optional hook: sees every complete line first; returns true if it
 * consumed the line (a command response), which is then not counted. */
typedef bool (*nd_text_line_hook)(void *ctx, const char *line, uint64_t host_ns);

nd_text_decoder *nd_text_decoder_new(nd_device *dev, const nd_text_config *cfg);
void nd_text_decoder_set_hook(nd_text_decoder *d, nd_text_line_hook hook, void *ctx);
void nd_text_decoder_feed(nd_text_decoder *d, const uint8_t *buf, size_t len, uint64_t host_ns);
/* Link dropped: forget the partial line (the caller flags the next set and
 * counts delivered sets, as nd_stream_device.c does). */
void nd_text_decoder_reset(nd_text_decoder *d);
void nd_text_decoder_free(nd_text_decoder *d);
/* Device info implied by the config (model, nch, rate, counts_per_newton). */
void nd_text_config_info(const nd_text_config *cfg, nd_device_info *info);

extern const nd_decoder_ops nd_decoder_text; /* proto=text */

#endif
