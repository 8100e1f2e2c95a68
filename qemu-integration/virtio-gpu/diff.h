/* Where two pictures of the same size differ, as a few rectangles.
 *
 * A guest that flips between buffers flushes its whole scanout every
 * frame, so its flush says nothing about what changed. The device reads
 * such a picture whole and compares it with the one shown before it: only
 * what differs is converted and encoded. Pure function, any thread; the
 * caller owns every buffer. */
#ifndef VGPU_DIFF_H
#define VGPU_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "common/frame.h"

/* Changes are found per band of this many rows, in columns of this many
 * pixels: 16 rows is a macroblock's height, so a band's rectangle costs
 * the encoder no more than the macroblocks it touches anyway. */
#define VGPU_DIFF_BAND_ROWS   16u
#define VGPU_DIFF_TILE_PIXELS 64u

/* Compares width x height 4-byte pixels of before and after (stride bytes a
 * row, both) and writes at most max_rects rectangles (max_rects >= 1)
 * that together cover every pixel that differs, each aligned to bands and
 * tiles (clipped to the picture). A band's changes make one span, from its
 * leftmost to its rightmost differing tile; the span continues the
 * rectangle above it when their columns overlap. Returns how many: 0 when
 * the pictures are equal. Past max_rects the last rectangle grows to cover
 * the rest. Row padding (stride past width * 4) is never compared. */
uint32_t vgpu_diff(const uint8_t *before, const uint8_t *after, uint32_t width, uint32_t height,
                   size_t stride, struct sgl_rect *rects, uint32_t max_rects);

#endif
