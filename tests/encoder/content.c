#include "config.h"

#include "content.h"

#include <math.h>
#include <stddef.h>

#include "common/scene.h"

void test_content_desktop(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride,
                          uint32_t frame)
{
    struct sgl_marker m = {.frame = frame, .timestamp_us = (uint64_t)frame * 33333u};
    sgl_scene_render(pixels, width, height, stride, SGL_SCENE_BGRX, &m);
}

void test_content_motion(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride,
                         uint32_t frame)
{
    static uint8_t wave[256];
    if (!wave[64])
        for (int i = 0; i < 256; i++)
            wave[i] = (uint8_t)(127.5 + 127.5 * sin(i * 2 * M_PI / 256));
    for (uint32_t y = 0; y < height; y++) {
        uint8_t *p = pixels + (size_t)y * stride;
        uint8_t wy = wave[(y / 2 + frame * 3) & 255];
        for (uint32_t x = 0; x < width; x++, p += 4) {
            uint8_t a = wave[(x / 3 + frame * 5) & 255];
            uint8_t b = wave[((x + y) / 4 + frame * 2) & 255];
            /* Fine detail that scrolls: a grid that moves two pixels a frame. */
            uint8_t detail = (((x + frame * 2) / 6) ^ (y / 6)) & 1 ? 40 : 0;
            p[0] = (uint8_t)((a + wy) / 2);
            p[1] = (uint8_t)((b + a) / 2 - detail / 2);
            p[2] = (uint8_t)((wy + b) / 2 + detail / 4);
            p[3] = 0xff;
        }
    }
}

struct sgl_frame test_frame_bgrx(const uint8_t *pixels, uint32_t width, uint32_t height,
                                 uint32_t stride, int64_t pts_us)
{
    return (struct sgl_frame){.width = width,
                              .height = height,
                              .format = SGL_FORMAT_BGRX,
                              .pixels = pixels,
                              .stride = stride,
                              .dmabuf.fd = -1,
                              .damage_all = true,
                              .pts_us = pts_us};
}
