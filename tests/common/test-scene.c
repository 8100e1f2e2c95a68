#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include <cmocka.h>

#include "common/psnr.h"
#include "common/scene.h"
#include "tests/test-util.h"

struct bounds_check {
    uint32_t width, height, count, shapes;
};

static void check_rect(const struct sgl_scene_rect *r, void *user)
{
    struct bounds_check *c = user;
    assert_true(r->w > 0 && r->h > 0);
    assert_true((uint64_t)r->x + r->w <= c->width);
    assert_true((uint64_t)r->y + r->h <= c->height);
    c->count++;
    c->shapes += r->kind == SGL_SCENE_SHAPE;
}

static void test_rects_in_bounds_any_size(void **state)
{
    const uint32_t sizes[][2] = {{1, 1},       {3, 17},      {17, 3},   {1366, 768}, {1280, 800},
                                 {1920, 1080}, {4096, 2160}, {145, 89}, {144, 88}};
    struct sgl_marker m = {12345, 678};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (uint32_t frame = 0; frame < 600; frame += 37) {
            m.frame = frame;
            struct bounds_check c = {.width = sizes[i][0], .height = sizes[i][1]};
            sgl_scene_for_each(c.width, c.height, &m, check_rect, &c);
            assert_true(c.count >= 1);
            assert_int_equal(c.shapes, 1);
        }
    }
    assert_true(sgl_scene_has_marker(144, 88));
    assert_false(sgl_scene_has_marker(143, 88));
    assert_false(sgl_scene_has_marker(144, 87));
}

static uint8_t *render(uint32_t w, uint32_t h, enum sgl_scene_format fmt,
                       const struct sgl_marker *m)
{
    uint8_t *px = malloc((size_t)w * h * 4);
    assert_non_null(px);
    memset(px, 0x5a, (size_t)w * h * 4);
    assert_true(sgl_scene_render(px, w, h, w * 4, fmt, m));
    return px;
}

static void test_marker_readable_and_deterministic(void **state)
{
    const uint32_t sizes[][2] = {{640, 480}, {1280, 800}, {1920, 1080}, {1366, 768}};
    for (size_t i = 0; i < 4; i++) {
        uint32_t w = sizes[i][0], h = sizes[i][1];
        struct sgl_marker m = {(uint32_t)(i * 1000 + 7), 1700000000000000ULL + i}, out = {0};
        uint8_t *a = render(w, h, SGL_SCENE_BGRX, &m), *b = render(w, h, SGL_SCENE_BGRX, &m);
        assert_memory_equal(a, b, (size_t)w * h * 4);
        struct sgl_marker_image im = {a, w, h, w * 4};
        assert_true(sgl_marker_read(&im, SGL_SCENE_MARKER_X, SGL_SCENE_MARKER_Y,
                                    SGL_SCENE_MARKER_BLOCK, &out));
        assert_int_equal(out.frame, m.frame);
        assert_int_equal(out.timestamp_us, m.timestamp_us);
        uint32_t fx, fy;
        assert_true(sgl_marker_find(&im, SGL_SCENE_MARKER_BLOCK, &fx, &fy, &out));
        assert_int_equal(out.frame, m.frame);
        free(a);
        free(b);
    }
}

static void test_formats_swap_red_blue(void **state)
{
    struct sgl_marker m = {99, 99};
    uint8_t *bgrx = render(320, 200, SGL_SCENE_BGRX, &m),
            *rgbx = render(320, 200, SGL_SCENE_RGBX, &m);
    int differs = 0;
    for (size_t i = 0; i < 320 * 200 * 4; i += 4) {
        assert_int_equal(bgrx[i], rgbx[i + 2]);
        assert_int_equal(bgrx[i + 1], rgbx[i + 1]);
        assert_int_equal(bgrx[i + 2], rgbx[i]);
        differs |= bgrx[i] != bgrx[i + 2];
    }
    assert_true(differs);
    free(bgrx);
    free(rgbx);
}

/* Every pixel that differs between consecutive frames lies inside what
 * sgl_scene_changes reports, at any size. */
static void test_changes_cover_every_difference(void **state)
{
    const uint32_t sizes[][2] = {{1280, 720}, {640, 480}, {1366, 768}, {100, 60}, {17, 9}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint32_t w = sizes[i][0], h = sizes[i][1];
        struct sgl_scene_rect rects[2];
        uint32_t n = sgl_scene_changes(w, h, rects);
        assert_true(n >= 1 && n <= 2);
        for (uint32_t frame = 0; frame < 300; frame += 29) {
            struct sgl_marker m0 = {frame, frame * 7u}, m1 = {frame + 1, frame * 7u + 33};
            uint8_t *a = render(w, h, SGL_SCENE_BGRX, &m0), *b = render(w, h, SGL_SCENE_BGRX, &m1);
            for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                    if (memcmp(a + ((size_t)y * w + x) * 4, b + ((size_t)y * w + x) * 4, 4) == 0)
                        continue;
                    bool inside = false;
                    for (uint32_t r = 0; r < n; r++)
                        inside |= x >= rects[r].x && x < rects[r].x + rects[r].w &&
                                  y >= rects[r].y && y < rects[r].y + rects[r].h;
                    if (!inside)
                        fail_msg("%ux%u frame %u: pixel %u,%u changed outside the reported "
                                 "rectangles",
                                 w, h, frame, x, y);
                }
            free(a);
            free(b);
        }
    }
}

/* Desktop-like: consecutive frames differ in the moving box and the marker
 * only, yet they do differ. */
static void test_motion_is_local(void **state)
{
    const uint32_t w = 1280, h = 800;
    struct sgl_marker m0 = {100, 1}, m1 = {101, 2};
    uint8_t *a = render(w, h, SGL_SCENE_BGRX, &m0), *b = render(w, h, SGL_SCENE_BGRX, &m1);
    size_t changed = 0, changed_box_area = 0;
    for (size_t p = 0; p < (size_t)w * h; p++) {
        if (memcmp(a + p * 4, b + p * 4, 4) != 0) {
            changed++;
            changed_box_area +=
                (p / w) >= h * 3 / 4 - h / 16 - 1 && (p / w) < h * 3 / 4 + h / 16 + 1;
        }
    }
    size_t marker_area = (size_t)sgl_marker_width(8) * sgl_marker_height(8);
    assert_true(changed > 0);
    assert_true(changed <= (size_t)(w / 8) * (h / 8) * 2 + marker_area);
    assert_true(changed - changed_box_area <= marker_area);
    free(a);
    free(b);
}

static void test_render_invalid(void **state)
{
    uint8_t px[16 * 16 * 4];
    struct sgl_marker m = {0, 0};
    assert_false(sgl_scene_render(NULL, 16, 16, 64, SGL_SCENE_BGRX, &m));
    assert_false(sgl_scene_render(px, 0, 16, 64, SGL_SCENE_BGRX, &m));
    assert_false(sgl_scene_render(px, 16, 16, 63, SGL_SCENE_BGRX, &m));
    assert_false(sgl_scene_render(px, 16, 16, 64, (enum sgl_scene_format)7, &m));
    assert_true(sgl_scene_render(px, 16, 16, 64, SGL_SCENE_RGBX, NULL));
}

static void test_psnr(void **state)
{
    uint8_t a[8 * 8 * 4], b[8 * 8 * 4];
    memset(a, 100, sizeof(a));
    memcpy(b, a, sizeof(a));
    assert_true(isinf(sgl_psnr(a, 32, b, 32, 8, 8)));
    /* Byte 3 is ignored. */
    b[3] = 0;
    assert_true(isinf(sgl_psnr(a, 32, b, 32, 8, 8)));
    /* One channel off by 10 over 8*8*3 samples: MSE = 100/192. */
    b[0] = 110;
    double expect = 10.0 * log10(255.0 * 255.0 / (100.0 / 192.0));
    assert_float_equal(sgl_psnr(a, 32, b, 32, 8, 8), expect, 1e-9);
    assert_true(sgl_psnr(NULL, 32, b, 32, 8, 8) < 0);
    assert_true(sgl_psnr(a, 31, b, 32, 8, 8) < 0);
    assert_true(sgl_psnr(a, 32, b, 32, 0, 8) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rects_in_bounds_any_size),
        cmocka_unit_test(test_marker_readable_and_deterministic),
        cmocka_unit_test(test_formats_swap_red_blue),
        cmocka_unit_test(test_motion_is_local),
        cmocka_unit_test(test_changes_cover_every_difference),
        cmocka_unit_test(test_render_invalid),
        cmocka_unit_test(test_psnr),
    };
    return cmocka_run_group_tests_name("scene", tests, NULL, NULL);
}
