#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/marker.h"
#include "tests/test-util.h"

struct frame {
    uint8_t *pixels;
    uint32_t width, height, stride;
};

static struct frame frame_new(uint32_t width, uint32_t height, uint32_t pad, uint64_t *rng)
{
    struct frame f = {.width = width, .height = height, .stride = width * 4 + pad};
    f.pixels = malloc((size_t)f.stride * height);
    assert_non_null(f.pixels);
    for (size_t i = 0; i < (size_t)f.stride * height; i++)
        f.pixels[i] = (uint8_t)sgl_test_rand(rng);
    return f;
}

static struct sgl_marker_image view(const struct frame *f)
{
    return (struct sgl_marker_image){f->pixels, f->width, f->height, f->stride};
}

static struct sgl_marker random_marker(uint64_t *rng)
{
    return (struct sgl_marker){(uint32_t)sgl_test_rand(rng), sgl_test_rand(rng)};
}

static void add_noise(struct frame *f, int amplitude, uint64_t *rng)
{
    for (uint32_t y = 0; y < f->height; y++) {
        uint8_t *p = f->pixels + (size_t)y * f->stride;
        for (uint32_t x = 0; x < f->width * 4; x++) {
            int v = p[x] + (int)(sgl_test_rand(rng) % (2 * amplitude + 1)) - amplitude;
            p[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

static void test_bits_round_trip(void **state)
{
    const struct sgl_marker fixed[] = {
        {0, 0}, {UINT32_MAX, UINT64_MAX}, {1, 1}, {0x12345678u, 0x0123456789abcdefULL}};
    uint8_t bits[SGL_MARKER_BITS];
    struct sgl_marker out;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        sgl_marker_encode(&fixed[i], bits);
        assert_true(sgl_marker_decode(bits, &out));
        assert_int_equal(out.frame, fixed[i].frame);
        assert_int_equal(out.timestamp_us, fixed[i].timestamp_us);
    }
    uint64_t rng = 1;
    for (int i = 0; i < 1000; i++) {
        struct sgl_marker m = random_marker(&rng);
        sgl_marker_encode(&m, bits);
        for (unsigned b = 0; b < SGL_MARKER_BITS; b++)
            assert_true(bits[b] <= 1);
        assert_true(sgl_marker_decode(bits, &out));
        assert_int_equal(out.frame, m.frame);
        assert_int_equal(out.timestamp_us, m.timestamp_us);
    }
}

/* Any single flipped bit is caught (sync or CRC-32), never read as a number. */
static void test_bits_single_flip_rejected(void **state)
{
    uint64_t rng = 2;
    uint8_t bits[SGL_MARKER_BITS];
    struct sgl_marker out = {0};
    for (int i = 0; i < 50; i++) {
        struct sgl_marker m = random_marker(&rng);
        for (unsigned b = 0; b < SGL_MARKER_BITS; b++) {
            sgl_marker_encode(&m, bits);
            bits[b] ^= 1;
            assert_false(sgl_marker_decode(bits, &out));
        }
    }
}

static void test_pixels_exact_round_trip(void **state)
{
    uint64_t rng = 3;
    const uint32_t blocks[] = {1, 2, 8, 16};
    for (size_t bi = 0; bi < 4; bi++) {
        uint32_t block = blocks[bi];
        struct frame f = frame_new(400, 200, 12, &rng);
        for (int i = 0; i < 20; i++) {
            struct sgl_marker m = random_marker(&rng), out = {0};
            uint32_t x = (uint32_t)(sgl_test_rand(&rng) % (f.width - sgl_marker_width(block) + 1));
            uint32_t y =
                (uint32_t)(sgl_test_rand(&rng) % (f.height - sgl_marker_height(block) + 1));
            assert_true(sgl_marker_draw(f.pixels, f.width, f.height, f.stride, x, y, block, &m));
            struct sgl_marker_image im = view(&f);
            assert_true(sgl_marker_read(&im, x, y, block, &out));
            assert_int_equal(out.frame, m.frame);
            assert_int_equal(out.timestamp_us, m.timestamp_us);
        }
        free(f.pixels);
    }
}

static void test_pixels_noise_8(void **state)
{
    uint64_t rng = 4;
    for (int i = 0; i < 200; i++) {
        struct frame f = frame_new(160, 96, 0, &rng);
        struct sgl_marker m = random_marker(&rng), out = {0};
        assert_true(sgl_marker_draw(f.pixels, f.width, f.height, f.stride, 8, 8, 8, &m));
        add_noise(&f, 8, &rng);
        struct sgl_marker_image im = view(&f);
        assert_true(sgl_marker_read(&im, 8, 8, 8, &out));
        assert_int_equal(out.frame, m.frame);
        assert_int_equal(out.timestamp_us, m.timestamp_us);
        free(f.pixels);
    }
}

/* Video coding smears block edges; the centre-of-block reading tolerates it
 * and a reader placed a pixel off. */
static void test_pixels_blurred_edges_and_offset(void **state)
{
    uint64_t rng = 5;
    struct frame f = frame_new(160, 96, 0, &rng);
    struct sgl_marker m = random_marker(&rng), out = {0};
    assert_true(sgl_marker_draw(f.pixels, f.width, f.height, f.stride, 8, 8, 8, &m));
    for (uint32_t y = 8; y < 8 + 72; y++)
        for (uint32_t x = 8; x < 8 + 128; x++)
            if (x % 8 == 0 || y % 8 == 7)
                memset(f.pixels + (size_t)y * f.stride + x * 4, 128, 3);
    struct sgl_marker_image im = view(&f);
    assert_true(sgl_marker_read(&im, 8, 8, 8, &out));
    assert_int_equal(out.frame, m.frame);
    assert_true(sgl_marker_read(&im, 9, 7, 8, &out));
    assert_int_equal(out.timestamp_us, m.timestamp_us);
    free(f.pixels);
}

static void test_garbage_reads_as_no_marker(void **state)
{
    uint64_t rng = 6;
    struct sgl_marker out = {0xdead, 0xbeef};
    /* Uniform noise. */
    for (int i = 0; i < 200; i++) {
        struct frame f = frame_new(128, 72, 0, &rng);
        struct sgl_marker_image im = view(&f);
        assert_false(sgl_marker_read(&im, 0, 0, 8, &out));
        free(f.pixels);
    }
    /* Clear black/white blocks with the right sync word but random payload:
     * only the CRC stands between this and a wrong number. */
    uint8_t bits[SGL_MARKER_BITS];
    for (int i = 0; i < 20000; i++) {
        struct sgl_marker m = random_marker(&rng);
        sgl_marker_encode(&m, bits);
        for (unsigned b = 16; b < SGL_MARKER_BITS; b++)
            bits[b] = (uint8_t)(sgl_test_rand(&rng) & 1);
        struct sgl_marker got;
        if (sgl_marker_decode(bits, &got)) {
            /* Only possible if the random payload re-created a valid one. */
            uint8_t again[SGL_MARKER_BITS];
            sgl_marker_encode(&got, again);
            assert_memory_equal(again, bits, sizeof(bits));
        }
    }
    /* Flat frames. */
    const uint8_t levels[] = {0, 128, 255};
    for (size_t i = 0; i < 3; i++) {
        struct frame f = frame_new(128, 72, 0, &rng);
        memset(f.pixels, levels[i], (size_t)f.stride * f.height);
        struct sgl_marker_image im = view(&f);
        assert_false(sgl_marker_read(&im, 0, 0, 8, &out));
        assert_false(sgl_marker_find(&im, 8, NULL, NULL, &out));
        free(f.pixels);
    }
    /* A real marker with one data block turned grey is unclear, not misread. */
    struct frame f = frame_new(128, 72, 0, &rng);
    struct sgl_marker m = {42, 4242};
    assert_true(sgl_marker_draw(f.pixels, 128, 72, f.stride, 0, 0, 8, &m));
    for (uint32_t y = 16; y < 24; y++)
        memset(f.pixels + (size_t)y * f.stride + 40 * 4, 128, 8 * 4);
    struct sgl_marker_image im = view(&f);
    assert_false(sgl_marker_read(&im, 0, 0, 8, &out));
    free(f.pixels);
    /* out was never touched by a failed read. */
    assert_int_equal(out.frame, 0xdead);
    assert_int_equal(out.timestamp_us, 0xbeef);
}

static void test_find_in_noisy_frame(void **state)
{
    uint64_t rng = 7;
    for (int i = 0; i < 10; i++) {
        struct frame f = frame_new(640, 480, 0, &rng);
        struct sgl_marker m = random_marker(&rng), out = {0};
        uint32_t x = (uint32_t)(sgl_test_rand(&rng) % (640 - 128)),
                 y = (uint32_t)(sgl_test_rand(&rng) % (480 - 72)), fx = 0, fy = 0;
        assert_true(sgl_marker_draw(f.pixels, f.width, f.height, f.stride, x, y, 8, &m));
        add_noise(&f, 8, &rng);
        struct sgl_marker_image im = view(&f);
        assert_true(sgl_marker_find(&im, 8, &fx, &fy, &out));
        assert_int_equal(out.frame, m.frame);
        assert_int_equal(out.timestamp_us, m.timestamp_us);
        /* The first position in scan order that reads: a block's centre
         * tolerates a few rows of neighbouring noise, never half a block. */
        assert_true(fx <= x && x - fx < 4);
        assert_true(fy <= y && y - fy < 4);
        free(f.pixels);
    }
}

static void test_invalid_arguments(void **state)
{
    uint8_t px[200 * 100 * 4] = {0};
    struct sgl_marker m = {1, 2}, out;
    /* Zero stride, stride below width * 4, null data, block 0, too small. */
    assert_false(sgl_marker_draw(px, 200, 100, 0, 0, 0, 8, &m));
    assert_false(sgl_marker_draw(px, 200, 100, 799, 0, 0, 8, &m));
    assert_false(sgl_marker_draw(NULL, 200, 100, 800, 0, 0, 8, &m));
    assert_false(sgl_marker_draw(px, 200, 100, 800, 0, 0, 0, &m));
    assert_false(sgl_marker_draw(px, 200, 100, 800, 73, 0, 8, &m));
    assert_false(sgl_marker_draw(px, 200, 100, 800, 0, 29, 8, &m));
    assert_false(sgl_marker_draw(px, 200, 100, 800, UINT32_MAX, UINT32_MAX, 8, &m));
    assert_false(sgl_marker_draw(px, 200, 100, 800, 0, 0, UINT32_MAX, &m));
    assert_false(sgl_marker_draw(px, 200, 100, 800, 0, 0, 8, NULL));
    assert_true(sgl_marker_draw(px, 200, 100, 800, 72, 28, 8, &m));

    struct sgl_marker_image bad[] = {
        {px, 200, 100, 0}, {px, 200, 100, 799}, {NULL, 200, 100, 800}, {px, 0, 0, 0}};
    for (size_t i = 0; i < 4; i++) {
        assert_false(sgl_marker_read(&bad[i], 0, 0, 8, &out));
        assert_false(sgl_marker_find(&bad[i], 8, NULL, NULL, &out));
    }
    struct sgl_marker_image good = {px, 200, 100, 800};
    assert_false(sgl_marker_read(NULL, 0, 0, 8, &out));
    assert_false(sgl_marker_read(&good, 0, 0, 0, &out));
    assert_false(sgl_marker_read(&good, 73, 28, 8, NULL));
    assert_true(sgl_marker_read(&good, 72, 28, 8, &out));
    assert_int_equal(out.frame, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bits_round_trip),
        cmocka_unit_test(test_bits_single_flip_rejected),
        cmocka_unit_test(test_pixels_exact_round_trip),
        cmocka_unit_test(test_pixels_noise_8),
        cmocka_unit_test(test_pixels_blurred_edges_and_offset),
        cmocka_unit_test(test_garbage_reads_as_no_marker),
        cmocka_unit_test(test_find_in_noisy_frame),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests_name("marker", tests, NULL, NULL);
}
