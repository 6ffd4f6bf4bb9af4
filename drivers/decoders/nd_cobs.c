/* COBS encoder/decoder (nd_cobs.h). The encoder never appends the optional
 * trailing code 0x01 after a final full block of 254 bytes; the decoder accepts
 * both forms, as other implementations differ on it. */
#include "nd_cobs.h"

size_t nd_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    if (cap < 1) return 0;
    size_t code_pos = 0; /* where the current block's code byte goes */
    size_t o = 1;
    uint8_t code = 1;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == 0) {
            out[code_pos] = code;
            code_pos = o++;
            code = 1;
            if (code_pos >= cap) return 0;
            continue;
        }
        if (o >= cap) return 0;
        out[o++] = in[i];
        code++;
        /* A full block of 254 data bytes ends without an implied zero; only
         * start a new block if more input follows. */
        if (code == 0xFF && i + 1 < len) {
            out[code_pos] = code;
            code_pos = o++;
            code = 1;
            if (code_pos >= cap) return 0;
        }
    }
    out[code_pos] = code;
    return o;
}

long nd_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < len) {
        uint8_t code = in[i++];
        if (code == 0) return -1;
        size_t run = (size_t)code - 1;
        if (run > len - i) return -1;
        if (o + run > cap) return -1;
        for (size_t k = 0; k < run; k++) {
            if (in[i] == 0) return -1;
            out[o++] = in[i++];
        }
        /* Every block but the last, and never after a full block, implies a zero. */
        if (code != 0xFF && i < len) {
            if (o >= cap) return -1;
            out[o++] = 0;
        }
    }
    return (long)o;
}
