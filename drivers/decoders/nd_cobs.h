/* Consistent Overhead Byte Stuffing: removes every 0x00 from a block so that
 * 0x00 can delimit frames. Worst-case overhead is one byte per 254. */
#ifndef ND_COBS_H
#define ND_COBS_H

#include <stddef.h>
#include <stdint.h>

/* Largest encoding of n bytes (without the 0x00 delimiter). */
#define ND_COBS_MAX_ENCODED(n) ((n) + (n) / 254 + 1)

/* Encode in[0..len) into out (which must not overlap in); no delimiter is
 * written. Returns the encoded length (>= 1), or 0 if cap is too small. */
size_t nd_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* Decode one block (delimiter already removed) into out. Returns the decoded
 * length, or -1 if the block is not valid COBS (a 0x00 inside, a code that
 * runs past the end) or does not fit in cap. in and out may be the same
 * buffer: decoding never writes ahead of reading. */
long nd_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

#endif
