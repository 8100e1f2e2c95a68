/* Where two pictures differ (diff.h): every differing pixel is covered, by
 * rectangles aligned to bands and tiles, and by no more of them than asked. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qemu-integration/virtio-gpu/diff.h"

struct pictures {
    uint32_t width, height;
    size_t stride;
    uint8_t *before, *after;
};

/* Two equal pictures with a pattern in every pixel; stride_pad bytes of
 * padding after each row, which differ between them. */
static struct pictures pictures_make(uint32_t width, uint32_t height, size_t stride_pad)
{
    struct pictures p = {width, height, (size_t)width * 4 + stride_pad, NULL, NULL};
    p.before = malloc(p.stride * height);
    p.after = malloc(p.stride * height);
    assert_non_null(p.before);
    assert_non_null(p.after);
    for (uint32_t y = 0; y < height; y++) {
        for (uint32_t x = 0; x < width; x++) {
            uint8_t px[4] = {(uint8_t)x, (uint8_t)y, (uint8_t)(x ^ y), 0};
            memcpy(p.before + y * p.stride + x * 4, px, 4);
        }
        memset(p.before + y * p.stride + (size_t)width * 4, 0xaa, stride_pad);
    }
    memcpy(p.after, p.before, p.stride * height);
    for (uint32_t y = 0; y < height; y++)
        memset(p.after + y * p.stride + (size_t)width * 4, 0x55, stride_pad);
    return p;
}

static void pictures_finish(struct pictures *p)
{
    free(p->before);
    free(p->after);
}

/* Changes the w x h pixels at x, y of the picture after. */
static void change(struct pictures *p, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    for (uint32_t r = y; r < y + h; r++)
        for (uint32_t c = x; c < x + w; c++)
            p->after[r * p->stride + c * 4 + 3] ^= 0xff;
}

/* Every differing pixel lies in one of the rectangles, which lie in the
 * picture; returns the pixels they cover. */
static uint64_t check_cover(const struct pictures *p, const struct sgl_rect *rects, uint32_t n)
{
    uint64_t area = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct sgl_rect *r = &rects[i];
        assert_true(r->width > 0 && r->height > 0);
        assert_true(r->x + r->width <= p->width && r->y + r->height <= p->height);
        area += (uint64_t)r->width * r->height;
    }
    for (uint32_t y = 0; y < p->height; y++)
        for (uint32_t x = 0; x < p->width; x++) {
            size_t o = y * p->stride + x * 4;
            if (memcmp(p->before + o, p->after + o, 4) == 0)
                continue;
            bool in = false;
            for (uint32_t i = 0; i < n && !in; i++)
                in = x >= rects[i].x && x < rects[i].x + rects[i].width && y >= rects[i].y &&
                     y < rects[i].y + rects[i].height;
            if (!in)
                fail_msg("pixel %u,%u differs outside the %u rectangles", x, y, n);
        }
    return area;
}

/* Equal pictures (their row padding aside) have no damage. */
static void test_equal(void **state)
{
    (void)state;
    struct pictures p = pictures_make(1920, 1080, 64);
    struct sgl_rect rects[16];
    assert_int_equal(vgpu_diff(p.before, p.after, p.width, p.height, p.stride, rects, 16), 0);
    pictures_finish(&p);
}

/* A desktop scene at 1080p: a marker at the top left and a box that moved.
 * Each becomes one rectangle of whole tiles and bands around it. */
static void test_scene(void **state)
{
    (void)state;
    struct pictures p = pictures_make(1920, 1080, 0);
    change(&p, 0, 0, 128, 72);    /* the marker */
    change(&p, 500, 300, 40, 30); /* the box: where it was and where it is */
    struct sgl_rect rects[16];
    uint32_t n = vgpu_diff(p.before, p.after, p.width, p.height, p.stride, rects, 16);
    assert_int_equal(n, 2);
    check_cover(&p, rects, n);
    const struct sgl_rect marker = {0, 0, 128, 80}, box = {448, 288, 128, 48};
    assert_memory_equal(&rects[0], &marker, sizeof(marker));
    assert_memory_equal(&rects[1], &box, sizeof(box));
    pictures_finish(&p);
}

/* Tiles and bands past the picture's edge are clipped to it. */
static void test_edges(void **state)
{
    (void)state;
    struct pictures p = pictures_make(100, 20, 8);
    change(&p, 99, 19, 1, 1);
    change(&p, 0, 0, 1, 1);
    struct sgl_rect rects[4];
    uint32_t n = vgpu_diff(p.before, p.after, p.width, p.height, p.stride, rects, 4);
    assert_int_equal(n, 2);
    check_cover(&p, rects, n);
    const struct sgl_rect first = {0, 0, 64, 16}, last = {64, 16, 36, 4};
    assert_memory_equal(&rects[0], &first, sizeof(first));
    assert_memory_equal(&rects[1], &last, sizeof(last));
    pictures_finish(&p);
}

/* A band's changes are one span, from its leftmost to its rightmost
 * differing tile; a band continues the rectangle above it when their
 * columns overlap, and starts one of its own when they do not. */
static void test_merging(void **state)
{
    (void)state;
    struct pictures p = pictures_make(640, 480, 0);
    change(&p, 100, 10, 10, 100); /* bands 0..6, tile 1 */
    change(&p, 300, 40, 10, 10);  /* band 2, tile 4: the band spans tiles 1..4 */
    change(&p, 0, 200, 640, 1);   /* band 12, the whole width */
    change(&p, 500, 210, 4, 4);   /* band 13, tile 7: under band 12's columns */
    change(&p, 10, 300, 4, 4);    /* band 18, tile 0 */
    change(&p, 600, 304, 4, 4);   /* band 19, tile 9: not under tile 0 */
    struct sgl_rect rects[8];
    uint32_t n = vgpu_diff(p.before, p.after, p.width, p.height, p.stride, rects, 8);
    check_cover(&p, rects, n);
    assert_int_equal(n, 4);
    const struct sgl_rect want[4] = {
        {64, 0, 256, 112}, {0, 192, 640, 32}, {0, 288, 64, 16}, {576, 304, 64, 16}};
    assert_memory_equal(rects, want, sizeof(want));
    pictures_finish(&p);
}

/* Scattered changes in every other band: no more rectangles than asked,
 * the last covering the rest. */
static void test_at_most_max(void **state)
{
    (void)state;
    struct pictures p = pictures_make(1920, 1080, 0);
    for (uint32_t band = 0; band < 1080 / 16; band += 2)
        change(&p, band % 4 ? 1900 : 3, band * 16 + 5, 2, 2);
    struct sgl_rect rects[4];
    uint32_t n = vgpu_diff(p.before, p.after, p.width, p.height, p.stride, rects, 4);
    assert_int_equal(n, 4);
    uint64_t area = check_cover(&p, rects, n);
    assert_true(area <= (uint64_t)1920 * 1080);
    pictures_finish(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal),       cmocka_unit_test(test_scene),
        cmocka_unit_test(test_edges),       cmocka_unit_test(test_merging),
        cmocka_unit_test(test_at_most_max),
    };
    return cmocka_run_group_tests_name("diff", tests, NULL, NULL);
}
