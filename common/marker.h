/* Frame markers: a frame number and a timestamp written into a 32-bit frame
 * as a grid of black and white blocks, and read back from a lossy copy of
 * that frame (video-encoded, screenshotted). The guest GL program and the
 * synthetic source draw them; the probe and the tests read them.
 *
 * Layout: SGL_MARKER_COLS x SGL_MARKER_ROWS blocks, each `block` pixels
 * square, one bit per block (white = 1), row-major, most significant bit
 * first: 16 sync bits, the 32-bit frame number, the 64-bit timestamp in
 * microseconds, and a CRC-32 of the two values (little-endian bytes).
 *
 * Pixels are 4 bytes; bytes 0-2 are colour channels in any order and byte 3
 * is ignored, so BGRX, RGBX, BGRA and RGBA frames all work.
 * No state, no allocation: every function only reads or writes what it is
 * given. */
#ifndef SGL_MARKER_H
#define SGL_MARKER_H

#include <stdbool.h>
#include <stdint.h>

#define SGL_MARKER_COLS          16u
#define SGL_MARKER_ROWS          9u
#define SGL_MARKER_BITS          (SGL_MARKER_COLS * SGL_MARKER_ROWS)
#define SGL_MARKER_BLOCK_DEFAULT 8u
#define SGL_MARKER_SYNC          0xA9C5u

struct sgl_marker {
    uint32_t frame;
    uint64_t timestamp_us;
};

/* A view of 32-bit pixels owned by the caller. */
struct sgl_marker_image {
    const uint8_t *pixels;
    uint32_t width;
    uint32_t height;
    uint32_t stride; /* bytes per row, >= width * 4 */
};

/* Marker size in pixels for a block size. */
static inline uint32_t sgl_marker_width(uint32_t block)
{
    return SGL_MARKER_COLS * block;
}

static inline uint32_t sgl_marker_height(uint32_t block)
{
    return SGL_MARKER_ROWS * block;
}

/* Fills bits[SGL_MARKER_BITS] with 0 or 1. */
void sgl_marker_encode(const struct sgl_marker *marker, uint8_t bits[SGL_MARKER_BITS]);

/* True and *marker set when the bits carry the sync word and a valid CRC. */
bool sgl_marker_decode(const uint8_t bits[SGL_MARKER_BITS], struct sgl_marker *marker);

/* Draws the marker with its top-left corner at (x, y). Returns false, drawing
 * nothing, when it does not fit or the arguments are invalid. */
bool sgl_marker_draw(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride, uint32_t x,
                     uint32_t y, uint32_t block, const struct sgl_marker *marker);

/* Reads a marker whose top-left corner is at (x, y). Each block is judged by
 * the mean of its centre; a block that is neither clearly dark nor clearly
 * light, a wrong sync word or a wrong CRC reads as "no marker" (false). */
bool sgl_marker_read(const struct sgl_marker_image *image, uint32_t x, uint32_t y, uint32_t block,
                     struct sgl_marker *marker);

/* Searches the whole image for a marker of the given block size (for
 * screenshots where the frame's position is unknown). Sets *x, *y (may be
 * NULL) to its corner. */
bool sgl_marker_find(const struct sgl_marker_image *image, uint32_t block, uint32_t *x, uint32_t *y,
                     struct sgl_marker *marker);

#endif
