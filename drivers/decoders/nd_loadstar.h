/* Loadstar Sensors DI-100U / DI-1000U family (and iLoad digital sensors):
 * proto=loadstar for any writable stream transport (serial:, tcp:).
 *
 * On open and after every reconnection the decoder talks to the device
 * through the stream device's link (nd_decoder.h): CR until it answers "A",
 * identify (MODEL, ID, UNITS, LC; iLoad dialect: SS1, SLC), tare once if
 * asked (CT0), then start continuous output (WC; iLoad: O0W0). Each line of
 * the stream is one reading of the one channel, stored as
 * llround(value * scale). Closing sends CR, which stops the stream.
 * See SERIAL.md, "Loadstar DI-1000 family". */
#ifndef ND_LOADSTAR_H
#define ND_LOADSTAR_H

#include <stdbool.h>
#include <stddef.h>

#include "nd_decoder.h"

typedef enum nd_loadstar_dialect {
    ND_LOADSTAR_DI1000, /* DI-100U, DI-1000U(HS): values in the calibrated unit */
    ND_LOADSTAR_ILOAD,  /* iLoad digital sensors, DQ-1000U: millipounds */
} nd_loadstar_dialect;

/* Newtons per unit for a Loadstar unit name (lb, lbf, kg, kgf, N, kN, g, oz,
 * mlb; case-insensitive); -1 if not a force unit we know. */
double nd_loadstar_unit_newtons(const char *unit);

/* Default per-answer timeout of the start-up dialogue. */
#define ND_LOADSTAR_TIMEOUT_MS 500
/* How often CR is sent before giving up on the "A". */
#define ND_LOADSTAR_WAKE_TRIES 3

extern const nd_decoder_ops nd_decoder_loadstar; /* proto=loadstar */

#endif
