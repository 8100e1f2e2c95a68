/* Little-endian integers in byte buffers, for the wire formats we read and
 * write (SPICE stream device, agent, the marker's CRC input): no alignment
 * assumed, any host byte order. */
#ifndef SGL_LE_H
#define SGL_LE_H

#include <stdint.h>

static inline uint32_t sgl_le32_get(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline void sgl_le16_put(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}

static inline void sgl_le32_put(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static inline void sgl_le64_put(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

#endif
