/* NFP/1, the open wire protocol (NFP/1, drivers/decoders/PROTOCOL.md): COBS(body) 0x00, where body
 * = version(1) type payload crc16-ccitt-false(le). Framing (COBS) is nd_cobs.*, the checksum
 * nd_crc16.*; this file is the frame codec. */
#ifndef ND_NFP_H
#define ND_NFP_H

#include <stddef.h>
#include <stdint.h>

#define NFP_VERSION      1
#define NFP_TYPE_SAMPLES 0x01
#define NFP_TYPE_INFO    0x02
#define NFP_TYPE_STATUS  0x03
#define NFP_MAX_NSETS    64
#define NFP_MAX_NCH      8
/* Largest body: version+type+seq+t_us+nch+nsets + 64*8*4 + crc. */
#define NFP_MAX_BODY      (2 + 4 + 4 + 1 + 1 + NFP_MAX_NSETS * NFP_MAX_NCH * 4 + 2)
#define NFP_MAX_INFO_JSON 4096
/* Largest body of any type (an INFO frame with the longest JSON). */
#define NFP_MAX_INFO_BODY  (2 + NFP_MAX_INFO_JSON + 2)
#define NFP_SAMPLES_HEADER 10 /* seq u32, t_us u32, nch u8, nsets u8 */
#define NFP_STATUS_PAYLOAD 6  /* overflows u32, flags u16 */
/* Worst-case encoded frame size (COBS overhead + delimiter). */
#define NFP_MAX_FRAME(body) ((body) + (body) / 254 + 2)

/* Encoders write one complete frame (COBS + trailing 0x00) into out and
 * return its length, or 0 if out is too small / arguments invalid. */
size_t nfp_encode_samples(uint8_t *out, size_t cap, uint32_t seq, uint32_t t_us, uint8_t nch,
                          uint8_t nsets, const int32_t *raw /* nsets*nch, set-major */);
size_t nfp_encode_info(uint8_t *out, size_t cap, const char *json);
size_t nfp_encode_status(uint8_t *out, size_t cap, uint32_t overflows, uint16_t flags);
/* Any type/version/payload, for tests and fault injection. */
size_t nfp_encode_raw(uint8_t *out, size_t cap, uint8_t version, uint8_t type,
                      const uint8_t *payload, size_t len);

#endif
