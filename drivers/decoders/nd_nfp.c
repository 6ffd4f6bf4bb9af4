/* NFP/1 frame encoders (nd_nfp.h): body = version type payload crc16(le),
 * then COBS and the 0x00 delimiter. Used by the simulator, tools and tests. */
#include "nd_nfp.h"

#include <string.h>

#include "nd_cobs.h"
#include "nd_crc16.h"

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* body[0..len) holds version, type and payload; append the CRC, COBS-encode
 * into out and add the delimiter. */
static size_t finish_frame(uint8_t *body, size_t len, uint8_t *out, size_t cap)
{
    put_u16(body + len, nd_crc16(body, len));
    len += 2;
    if (cap < 2) return 0;
    size_t n = nd_cobs_encode(body, len, out, cap - 1);
    if (n == 0) return 0;
    out[n] = 0x00;
    return n + 1;
}

size_t nfp_encode_raw(uint8_t *out, size_t cap, uint8_t version, uint8_t type,
                      const uint8_t *payload, size_t len)
{
    uint8_t body[NFP_MAX_INFO_BODY];
    if (len > sizeof body - 4 || (len > 0 && !payload)) return 0;
    body[0] = version;
    body[1] = type;
    if (len) memcpy(body + 2, payload, len);
    return finish_frame(body, 2 + len, out, cap);
}

size_t nfp_encode_samples(uint8_t *out, size_t cap, uint32_t seq, uint32_t t_us, uint8_t nch,
                          uint8_t nsets, const int32_t *raw)
{
    if (nch < 1 || nch > NFP_MAX_NCH || nsets < 1 || nsets > NFP_MAX_NSETS || !raw) return 0;
    uint8_t body[NFP_MAX_BODY];
    size_t n = 0;
    body[n++] = NFP_VERSION;
    body[n++] = NFP_TYPE_SAMPLES;
    put_u32(body + n, seq);
    n += 4;
    put_u32(body + n, t_us);
    n += 4;
    body[n++] = nch;
    body[n++] = nsets;
    for (size_t i = 0; i < (size_t)nch * nsets; i++, n += 4) put_u32(body + n, (uint32_t)raw[i]);
    return finish_frame(body, n, out, cap);
}

size_t nfp_encode_info(uint8_t *out, size_t cap, const char *json)
{
    if (!json) return 0;
    size_t len = strlen(json);
    if (len > NFP_MAX_INFO_JSON) return 0;
    return nfp_encode_raw(out, cap, NFP_VERSION, NFP_TYPE_INFO, (const uint8_t *)json, len);
}

size_t nfp_encode_status(uint8_t *out, size_t cap, uint32_t overflows, uint16_t flags)
{
    uint8_t payload[NFP_STATUS_PAYLOAD];
    put_u32(payload, overflows);
    put_u16(payload + 4, flags);
    return nfp_encode_raw(out, cap, NFP_VERSION, NFP_TYPE_STATUS, payload, sizeof payload);
}
