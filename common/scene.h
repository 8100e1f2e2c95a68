/* Deterministic test frames. Frame content depends only on the size and
 * the marker (frame number, timestamp): a static desktop-like background,
 * a box moving with the frame number, and the marker in the top-left corner.
 *
 * A frame is a back-to-front list of axis-aligned solid rectangles, so GL
 * (scissored clears, and one integer-aligned quad through a shader) and the
 * CPU produce the same pixels exactly: a received frame can be compared with
 * its regenerated original (PSNR). */
#ifndef SGL_SCENE_H
#define SGL_SCENE_H

#include <stdbool.h>
#include <stdint.h>

#include "marker.h"

/* Where the marker sits in a scene frame, and its block size. */
#define SGL_SCENE_MARKER_BLOCK SGL_MARKER_BLOCK_DEFAULT
#define SGL_SCENE_MARKER_X     SGL_SCENE_MARKER_BLOCK
#define SGL_SCENE_MARKER_Y     SGL_SCENE_MARKER_BLOCK

enum sgl_scene_kind {
    SGL_SCENE_FILL,  /* a scissored clear in GL */
    SGL_SCENE_SHAPE, /* geometry through a shader in GL */
};

struct sgl_scene_rect {
    uint32_t x, y, w, h; /* clipped to the frame, never empty */
    uint8_t r, g, b;
    enum sgl_scene_kind kind;
};

/* Byte order of a 32-bit pixel in memory. */
enum sgl_scene_format {
    SGL_SCENE_BGRX, /* DRM XRGB8888 on little-endian */
    SGL_SCENE_RGBX,
};

typedef void (*sgl_scene_rect_fn)(const struct sgl_scene_rect *rect, void *user);

/* Calls fn for every rectangle of the frame, back to front. The marker is
 * left out when the frame is too small for it. */
void sgl_scene_for_each(uint32_t width, uint32_t height, const struct sgl_marker *marker,
                        sgl_scene_rect_fn fn, void *user);

/* True when a frame of this size carries the marker. */
bool sgl_scene_has_marker(uint32_t width, uint32_t height);

/* Where frame n+1 can differ from frame n of the same size: the marker with
 * its quiet zone, and the band the moving box travels in. Writes up to two
 * rectangles (kind unused) and returns how many. */
uint32_t sgl_scene_changes(uint32_t width, uint32_t height, struct sgl_scene_rect out[2]);

/* Renders the frame into caller-owned pixels. False on invalid arguments. */
bool sgl_scene_render(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride,
                      enum sgl_scene_format format, const struct sgl_marker *marker);

#endif
