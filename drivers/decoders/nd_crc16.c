/* Table-driven CRC-16/CCITT-FALSE, one table lookup per byte. */
#include "nd_crc16.h"

/* Table of crc(byte << 8) for every byte value, built at compile time by the
 * recurrence below so there is no hand-typed constant to get wrong. */
#define ND_CRC_STEP(c)  ((uint16_t)(((c)&0x8000u) ? (((c) << 1) ^ 0x1021u) : ((c) << 1)))
#define ND_CRC_STEP2(c) ND_CRC_STEP(ND_CRC_STEP(c))
#define ND_CRC_STEP4(c) ND_CRC_STEP2(ND_CRC_STEP2(c))
#define ND_CRC_STEP8(c) ND_CRC_STEP4(ND_CRC_STEP4(c))
#define ND_CRC_ENTRY(b) ND_CRC_STEP8((uint16_t)((b) << 8))
#define ND_CRC_ROW(b)                                                                              \
    ND_CRC_ENTRY(b), ND_CRC_ENTRY(b + 1), ND_CRC_ENTRY(b + 2), ND_CRC_ENTRY(b + 3),                \
        ND_CRC_ENTRY(b + 4), ND_CRC_ENTRY(b + 5), ND_CRC_ENTRY(b + 6), ND_CRC_ENTRY(b + 7)
#define ND_CRC_ROWS8(b)                                                                            \
    ND_CRC_ROW(b), ND_CRC_ROW(b + 8), ND_CRC_ROW(b + 16), ND_CRC_ROW(b + 24), ND_CRC_ROW(b + 32),  \
        ND_CRC_ROW(b + 40), ND_CRC_ROW(b + 48), ND_CRC_ROW(b + 56)

static const uint16_t crc_table[256] = {ND_CRC_ROWS8(0), ND_CRC_ROWS8(64), ND_CRC_ROWS8(128),
                                        ND_CRC_ROWS8(192)};

uint16_t nd_crc16_update(uint16_t crc, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc_table[((crc >> 8) ^ data[i]) & 0xFFu]);
    return crc;
}

uint16_t nd_crc16(const uint8_t *data, size_t len)
{
    return nd_crc16_update(ND_CRC16_INIT, data, len);
}
