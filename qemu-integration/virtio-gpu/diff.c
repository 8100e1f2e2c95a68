#include "config.h"

#include "diff.h"

#include <glib.h>
#include <string.h>

/* Whether tile t of the row differs. */
static int tile_differs(const uint8_t *a, const uint8_t *b, uint32_t t, uint32_t width)
{
    uint32_t x0 = t * VGPU_DIFF_TILE_PIXELS, x1 = MIN(x0 + VGPU_DIFF_TILE_PIXELS, width);
    return memcmp(a + (size_t)x0 * 4, b + (size_t)x0 * 4, (size_t)(x1 - x0) * 4) != 0;
}

/* Widens [*lo, *hi) (tiles) to cover every differing tile of one row. Only
 * the tiles outside the span so far are compared. */
static void row_span(const uint8_t *a, const uint8_t *b, uint32_t width, uint32_t tiles,
                     uint32_t *lo, uint32_t *hi)
{
    if (memcmp(a, b, (size_t)width * 4) == 0)
        return;
    for (uint32_t t = 0; t < *lo; t++)
        if (tile_differs(a, b, t, width)) {
            *lo = t;
            break;
        }
    if (*hi <= *lo)
        *hi = *lo + 1;
    for (uint32_t t = tiles; t-- > *hi;)
        if (tile_differs(a, b, t, width)) {
            *hi = t + 1;
            break;
        }
}

uint32_t vgpu_diff(const uint8_t *before, const uint8_t *after, uint32_t width, uint32_t height,
                   size_t stride, struct sgl_rect *rects, uint32_t max_rects)
{
    uint32_t tiles = (width + VGPU_DIFF_TILE_PIXELS - 1) / VGPU_DIFF_TILE_PIXELS, n = 0;
    for (uint32_t y0 = 0; y0 < height; y0 += VGPU_DIFF_BAND_ROWS) {
        uint32_t y1 = MIN(y0 + VGPU_DIFF_BAND_ROWS, height), lo = tiles, hi = 0;
        for (uint32_t y = y0; y < y1; y++)
            row_span(before + y * stride, after + y * stride, width, tiles, &lo, &hi);
        if (lo >= hi)
            continue;
        uint32_t x0 = lo * VGPU_DIFF_TILE_PIXELS, x1 = MIN(hi * VGPU_DIFF_TILE_PIXELS, width);
        struct sgl_rect *last = n ? &rects[n - 1] : NULL;
        /* The band continues the last rectangle when it touches it from
         * below and overlaps its columns; past max_rects it always does. */
        bool below =
            last && last->y + last->height == y0 && x0 < last->x + last->width && x1 > last->x;
        if (!last || (!below && n < max_rects)) {
            rects[n++] = (struct sgl_rect){x0, y0, x1 - x0, y1 - y0};
            continue;
        }
        uint32_t rx1 = MAX(last->x + last->width, x1);
        last->x = MIN(last->x, x0);
        last->width = rx1 - last->x;
        last->height = y1 - last->y;
    }
    return n;
}
