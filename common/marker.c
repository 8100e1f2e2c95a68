#include "config.h"

#include "marker.h"

#include <string.h>
#include <zlib.h>

#include "le.h"

/* Block means below DARK_MAX read as 0, above LIGHT_MIN as 1; anything in
 * between is not a marker block. Wide margins survive video coding and the
 * +-8 noise the tests apply, yet reject most natural content. */
enum { DARK_MAX = 80, LIGHT_MIN = 176 };

#define SYNC_BITS  16u
#define FRAME_BITS 32u
#define TS_BITS    64u
#define CRC_BITS   32u

_Static_assert(SYNC_BITS + FRAME_BITS + TS_BITS + CRC_BITS == SGL_MARKER_BITS,
               "marker layout must fill the grid");

static void put_bits(uint8_t *bits, unsigned *pos, uint64_t value, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        bits[(*pos)++] = (uint8_t)((value >> (count - 1 - i)) & 1u);
}

static uint64_t get_bits(const uint8_t *bits, unsigned *pos, unsigned count)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < count; i++)
        value = (value << 1) | (bits[(*pos)++] & 1u);
    return value;
}

static uint32_t marker_crc(uint32_t frame, uint64_t timestamp_us)
{
    uint8_t bytes[12];
    sgl_le32_put(bytes, frame);
    sgl_le64_put(bytes + 4, timestamp_us);
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), bytes, sizeof(bytes));
}

void sgl_marker_encode(const struct sgl_marker *marker, uint8_t bits[SGL_MARKER_BITS])
{
    unsigned pos = 0;
    put_bits(bits, &pos, SGL_MARKER_SYNC, SYNC_BITS);
    put_bits(bits, &pos, marker->frame, FRAME_BITS);
    put_bits(bits, &pos, marker->timestamp_us, TS_BITS);
    put_bits(bits, &pos, marker_crc(marker->frame, marker->timestamp_us), CRC_BITS);
}

bool sgl_marker_decode(const uint8_t bits[SGL_MARKER_BITS], struct sgl_marker *marker)
{
    unsigned pos = 0;
    if (get_bits(bits, &pos, SYNC_BITS) != SGL_MARKER_SYNC)
        return false;
    uint32_t frame = (uint32_t)get_bits(bits, &pos, FRAME_BITS);
    uint64_t ts = get_bits(bits, &pos, TS_BITS);
    uint32_t crc = (uint32_t)get_bits(bits, &pos, CRC_BITS);
    if (crc != marker_crc(frame, ts))
        return false;
    marker->frame = frame;
    marker->timestamp_us = ts;
    return true;
}

static bool fits(uint32_t width, uint32_t height, uint32_t stride, uint32_t x, uint32_t y,
                 uint32_t block)
{
    if (block == 0 || block > 4096 || width == 0 || height == 0)
        return false;
    if ((uint64_t)stride < (uint64_t)width * 4)
        return false;
    return (uint64_t)x + sgl_marker_width(block) <= width &&
           (uint64_t)y + sgl_marker_height(block) <= height;
}

bool sgl_marker_draw(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride, uint32_t x,
                     uint32_t y, uint32_t block, const struct sgl_marker *marker)
{
    if (!pixels || !marker || !fits(width, height, stride, x, y, block))
        return false;
    uint8_t bits[SGL_MARKER_BITS];
    sgl_marker_encode(marker, bits);
    for (uint32_t row = 0; row < sgl_marker_height(block); row++) {
        uint8_t *line = pixels + (size_t)(y + row) * stride + (size_t)x * 4;
        const uint8_t *brow = bits + (row / block) * SGL_MARKER_COLS;
        for (uint32_t col = 0; col < sgl_marker_width(block); col++)
            memset(line + (size_t)col * 4, brow[col / block] ? 0xff : 0x00, 4);
    }
    return true;
}

/* Mean of channels 0-2 over the centre half of a block: edges are where
 * video coding smears neighbouring blocks into each other. */
static int block_level(const struct sgl_marker_image *im, uint32_t bx, uint32_t by, uint32_t block)
{
    uint32_t inset = block / 4, size = block - 2 * inset;
    uint64_t sum = 0;
    for (uint32_t row = 0; row < size; row++) {
        const uint8_t *p =
            im->pixels + (size_t)(by + inset + row) * im->stride + (size_t)(bx + inset) * 4;
        for (uint32_t col = 0; col < size; col++, p += 4)
            sum += (uint32_t)p[0] + p[1] + p[2];
    }
    return (int)(sum / ((uint64_t)size * size * 3));
}

/* 0 or 1 for a clear block, -1 for an unclear one. */
static int block_bit(const struct sgl_marker_image *im, uint32_t x, uint32_t y, uint32_t block,
                     unsigned index)
{
    int level = block_level(im, x + (index % SGL_MARKER_COLS) * block,
                            y + (index / SGL_MARKER_COLS) * block, block);
    if (level < DARK_MAX)
        return 0;
    if (level > LIGHT_MIN)
        return 1;
    return -1;
}

static bool image_valid(const struct sgl_marker_image *im)
{
    return im && im->pixels && (uint64_t)im->stride >= (uint64_t)im->width * 4;
}

bool sgl_marker_read(const struct sgl_marker_image *image, uint32_t x, uint32_t y, uint32_t block,
                     struct sgl_marker *marker)
{
    if (!image_valid(image) || !marker ||
        !fits(image->width, image->height, image->stride, x, y, block))
        return false;
    uint8_t bits[SGL_MARKER_BITS];
    for (unsigned i = 0; i < SGL_MARKER_BITS; i++) {
        int bit = block_bit(image, x, y, block, i);
        if (bit < 0)
            return false;
        bits[i] = (uint8_t)bit;
    }
    return sgl_marker_decode(bits, marker);
}

/* The sync word is checked block by block, so most positions are rejected
 * after one or two blocks and a full-frame search stays cheap. */
static bool sync_at(const struct sgl_marker_image *im, uint32_t x, uint32_t y, uint32_t block)
{
    for (unsigned i = 0; i < SYNC_BITS; i++) {
        int want = (SGL_MARKER_SYNC >> (SYNC_BITS - 1 - i)) & 1;
        if (block_bit(im, x, y, block, i) != want)
            return false;
    }
    return true;
}

bool sgl_marker_find(const struct sgl_marker_image *image, uint32_t block, uint32_t *x, uint32_t *y,
                     struct sgl_marker *marker)
{
    if (!image_valid(image) || !marker ||
        !fits(image->width, image->height, image->stride, 0, 0, block))
        return false;
    uint32_t max_x = image->width - sgl_marker_width(block);
    uint32_t max_y = image->height - sgl_marker_height(block);
    for (uint32_t py = 0; py <= max_y; py++) {
        for (uint32_t px = 0; px <= max_x; px++) {
            if (!sync_at(image, px, py, block) || !sgl_marker_read(image, px, py, block, marker))
                continue;
            if (x)
                *x = px;
            if (y)
                *y = py;
            return true;
        }
    }
    return false;
}
