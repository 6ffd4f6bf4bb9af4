/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor),
 * the NFP/1 frame checksum. Check value of ASCII "123456789" = 0x29B1. */
#ifndef ND_CRC16_H
#define ND_CRC16_H

#include <stddef.h>
#include <stdint.h>

#define ND_CRC16_INIT 0xFFFFu

/* Continue a CRC over more bytes; start with ND_CRC16_INIT. */
uint16_t nd_crc16_update(uint16_t crc, const uint8_t *data, size_t len);
uint16_t nd_crc16(const uint8_t *data, size_t len);

#endif
