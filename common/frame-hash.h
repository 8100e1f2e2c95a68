/* A cheap fingerprint of a 32-bit picture, for clients counting distinct
 * pictures where there is no marker to read (kmscube): FNV-1a over every
 * 8th row. Two pictures differing only between sampled rows look alike,
 * which moving content does not do for long. */
#ifndef SGL_FRAME_HASH_H
#define SGL_FRAME_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t sgl_frame_hash(const uint8_t *pixels, uint32_t width, uint32_t height,
                                      uint32_t stride)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t y = 0; y < height; y += 8) {
        const uint8_t *row = pixels + (size_t)y * stride;
        for (size_t i = 0; i < (size_t)width * 4; i++)
            h = (h ^ row[i]) * 0x100000001b3ull;
    }
    return h;
}

#endif
