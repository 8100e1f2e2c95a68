#include "config.h"

#include "scene.h"

#include <stddef.h>

struct emitter {
    uint32_t width, height;
    sgl_scene_rect_fn fn;
    void *user;
};

static void emit(const struct emitter *e, int64_t x, int64_t y, int64_t w, int64_t h, uint8_t r,
                 uint8_t g, uint8_t b, enum sgl_scene_kind kind)
{
    int64_t x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int64_t x1 = x + w > e->width ? e->width : x + w;
    int64_t y1 = y + h > e->height ? e->height : y + h;
    if (x1 <= x0 || y1 <= y0)
        return;
    struct sgl_scene_rect rect = {
        .x = (uint32_t)x0,
        .y = (uint32_t)y0,
        .w = (uint32_t)(x1 - x0),
        .h = (uint32_t)(y1 - y0),
        .r = r,
        .g = g,
        .b = b,
        .kind = kind,
    };
    e->fn(&rect, e->user);
}

/* Small integer hash for stable pseudo-random "text" line widths. */
static uint32_t mix(uint32_t v)
{
    v ^= v >> 16;
    v *= 0x7feb352du;
    v ^= v >> 15;
    v *= 0x846ca68bu;
    v ^= v >> 16;
    return v;
}

static void emit_window(const struct emitter *e, int64_t x, int64_t y, int64_t w, int64_t h,
                        uint32_t seed)
{
    const int64_t title = 24, line = 14, margin = 10;
    emit(e, x, y, w, h, 236, 236, 236, SGL_SCENE_FILL);
    emit(e, x, y, w, title, 52, 101, 164, SGL_SCENE_FILL);
    for (int64_t ly = y + title + margin, i = 0; ly + 6 <= y + h - margin; ly += line, i++) {
        int64_t len = (w - 2 * margin) * (40 + (int64_t)(mix(seed + (uint32_t)i) % 60)) / 100;
        emit(e, x + margin, ly, len, 6, 64, 64, 64, SGL_SCENE_FILL);
    }
}

/* The moving box's rows: it only moves sideways. */
static int64_t box_height(uint32_t height)
{
    return height / 8 > 1 ? height / 8 : 1;
}

static int64_t box_top(uint32_t height)
{
    return (int64_t)height * 3 / 4 - box_height(height) / 2;
}

static void collect(const struct sgl_scene_rect *rect, void *user)
{
    struct sgl_scene_rect **out = user;
    *(*out)++ = *rect;
}

uint32_t sgl_scene_changes(uint32_t width, uint32_t height, struct sgl_scene_rect out[2])
{
    struct sgl_scene_rect *next = out;
    const struct emitter e = {.width = width, .height = height, .fn = collect, .user = &next};
    emit(&e, 0, box_top(height), width, box_height(height), 0, 0, 0, SGL_SCENE_FILL);
    if (sgl_scene_has_marker(width, height))
        emit(&e, 0, 0,
             SGL_SCENE_MARKER_X + sgl_marker_width(SGL_SCENE_MARKER_BLOCK) + SGL_SCENE_MARKER_BLOCK,
             SGL_SCENE_MARKER_Y + sgl_marker_height(SGL_SCENE_MARKER_BLOCK) +
                 SGL_SCENE_MARKER_BLOCK,
             0, 0, 0, SGL_SCENE_FILL);
    return (uint32_t)(next - out);
}

bool sgl_scene_has_marker(uint32_t width, uint32_t height)
{
    /* The marker plus one block of black quiet zone on every side. */
    return width >= sgl_marker_width(SGL_SCENE_MARKER_BLOCK) + 2 * SGL_SCENE_MARKER_BLOCK &&
           height >= sgl_marker_height(SGL_SCENE_MARKER_BLOCK) + 2 * SGL_SCENE_MARKER_BLOCK;
}

void sgl_scene_for_each(uint32_t width, uint32_t height, const struct sgl_marker *marker,
                        sgl_scene_rect_fn fn, void *user)
{
    const struct emitter e = {.width = width, .height = height, .fn = fn, .user = user};
    const int64_t w = width, h = height;
    uint32_t frame = marker ? marker->frame : 0;

    /* Desktop: a flat background and two static windows. */
    emit(&e, 0, 0, w, h, 32, 48, 96, SGL_SCENE_FILL);
    emit_window(&e, w / 10, h / 8, w * 9 / 20, h / 2, 1);
    emit_window(&e, w * 11 / 20, h / 5, w * 2 / 5, h * 2 / 5, 2);

    /* Motion: a box bouncing along the bottom third, its colour cycling. */
    int64_t bw = w / 8 > 1 ? w / 8 : 1, bh = box_height(height);
    int64_t span = w - bw, speed = w / 160 > 1 ? w / 160 : 1;
    int64_t bx = 0;
    if (span > 0) {
        int64_t pos = ((int64_t)frame * speed) % (2 * span);
        bx = pos <= span ? pos : 2 * span - pos;
    }
    emit(&e, bx, box_top(height), bw, bh, (uint8_t)(frame * 5u), (uint8_t)(255u - frame * 3u),
         (uint8_t)(128u + frame * 7u), SGL_SCENE_SHAPE);

    if (!marker || !sgl_scene_has_marker(width, height))
        return;
    const uint32_t block = SGL_SCENE_MARKER_BLOCK;
    emit(&e, SGL_SCENE_MARKER_X - block, SGL_SCENE_MARKER_Y - block,
         sgl_marker_width(block) + 2 * block, sgl_marker_height(block) + 2 * block, 0, 0, 0,
         SGL_SCENE_FILL);
    uint8_t bits[SGL_MARKER_BITS];
    sgl_marker_encode(marker, bits);
    for (unsigned i = 0; i < SGL_MARKER_BITS; i++) {
        if (bits[i])
            emit(&e, SGL_SCENE_MARKER_X + (i % SGL_MARKER_COLS) * block,
                 SGL_SCENE_MARKER_Y + (i / SGL_MARKER_COLS) * block, block, block, 255, 255, 255,
                 SGL_SCENE_FILL);
    }
}

struct render_target {
    uint8_t *pixels;
    uint32_t stride;
    enum sgl_scene_format format;
};

static void fill_rect(const struct sgl_scene_rect *rect, void *user)
{
    const struct render_target *t = user;
    uint8_t px[4] = {rect->b, rect->g, rect->r, 0xff};
    if (t->format == SGL_SCENE_RGBX) {
        px[0] = rect->r;
        px[2] = rect->b;
    }
    for (uint32_t row = 0; row < rect->h; row++) {
        uint8_t *p = t->pixels + (size_t)(rect->y + row) * t->stride + (size_t)rect->x * 4;
        for (uint32_t col = 0; col < rect->w; col++, p += 4) {
            p[0] = px[0];
            p[1] = px[1];
            p[2] = px[2];
            p[3] = px[3];
        }
    }
}

bool sgl_scene_render(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride,
                      enum sgl_scene_format format, const struct sgl_marker *marker)
{
    if (!pixels || width == 0 || height == 0 || (uint64_t)stride < (uint64_t)width * 4)
        return false;
    if (format != SGL_SCENE_BGRX && format != SGL_SCENE_RGBX)
        return false;
    struct render_target target = {.pixels = pixels, .stride = stride, .format = format};
    sgl_scene_for_each(width, height, marker, fill_rect, &target);
    return true;
}
