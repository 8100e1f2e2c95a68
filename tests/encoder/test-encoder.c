/* The encoder, round trip through libavcodec, for every backend this host
 * offers (x264, gst:x264enc, gst:openh264enc here; hardware where present). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <drm_fourcc.h>
#include <sys/mman.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "common/psnr.h"
#include "encoder/encoder.h"
#include "tests/encoder/content.h"
#include "tests/encoder/decode.h"
#include "tests/test-util.h"

struct run {
    struct sgl_encoder *enc;
    struct test_decoder *dec;
    uint8_t *pixels;
    uint32_t width, height, stride;
    double psnr_sum, psnr_min;
    uint32_t decoded;
    uint64_t bytes;
    const uint8_t *out; /* the last decoded picture (the decoder's), BGRx */
    uint32_t out_stride;
};

static struct sgl_encoder *make_encoder(const char *backend, uint32_t kbps)
{
    struct sgl_encoder_config c = {
        .backend = backend, .bitrate_kbps = kbps, .max_fps = 30, .threads = 1};
    g_autoptr(GError) error = NULL;
    struct sgl_encoder *enc = sgl_encoder_create(&c, &error);
    if (!enc)
        fail_msg("%s: %s", backend, error->message);
    assert_string_equal(sgl_encoder_backend_name(enc),
                        g_str_has_prefix(backend, "gst") ? "gst" : backend);
    return enc;
}

static void run_init(struct run *r, const char *backend, uint32_t kbps, uint32_t w, uint32_t h)
{
    *r = (struct run){
        .enc = make_encoder(backend, kbps), .dec = test_decoder_create(), .psnr_min = 1000};
    assert_non_null(r->dec);
    r->width = w;
    r->height = h;
    r->stride = w * 4 + 64; /* not tight: strides are honoured */
    r->pixels = calloc(1, (size_t)r->stride * h);
    assert_non_null(r->pixels);
}

static void run_finish(struct run *r)
{
    sgl_encoder_destroy(r->enc);
    test_decoder_destroy(r->dec);
    free(r->pixels);
}

static struct sgl_frame full_frame(const struct run *r, uint32_t n)
{
    return test_frame_bgrx(r->pixels, r->width, r->height, r->stride, (int64_t)n * 33333);
}

/* Encodes, decodes and compares the decoded picture with the input. */
static struct sgl_encoder_au encode_check(struct run *r, const struct sgl_frame *f)
{
    struct sgl_encoder_au au;
    g_autoptr(GError) error = NULL;
    enum sgl_encode_result res = sgl_encoder_encode(r->enc, f, &au, &error);
    if (res != SGL_ENCODE_OK)
        fail_msg("encode: %s", error ? error->message : "no access unit");
    assert_true(au.size > 0);
    /* Odd sizes are coded one larger (4:2:0), tiny ones as 16. */
    assert_int_equal(au.width, MAX((f->width + 1) & ~1u, 16u));
    assert_int_equal(au.height, MAX((f->height + 1) & ~1u, 16u));
    r->bytes += au.size;
    const uint8_t *out;
    uint32_t w, h, stride;
    assert_true(test_decoder_decode(r->dec, au.data, au.size, &out, &w, &h, &stride));
    assert_int_equal(w, au.width);
    assert_int_equal(h, au.height);
    /* Compared over the frame's own area; the padding repeats its edge. */
    double p = sgl_psnr(out, stride, f->pixels ? f->pixels : r->pixels,
                        f->pixels ? f->stride : r->stride, f->width, f->height);
    /* The padding repeats the last column. */
    if (w > f->width)
        assert_true(sgl_psnr(out + (w - 1) * 4, stride, out + (f->width - 1) * 4, stride, 1,
                             f->height) > 30);
    r->out = out;
    r->out_stride = stride;
    r->psnr_sum += p > 99 ? 99 : p;
    r->psnr_min = p < r->psnr_min ? p : r->psnr_min;
    r->decoded++;
    return au;
}

static void test_psnr_desktop(void **state)
{
    struct run r;
    run_init(&r, *state, 20000, 1280, 720);
    for (uint32_t n = 0; n < 60; n++) {
        test_content_desktop(r.pixels, r.width, r.height, r.stride, n);
        struct sgl_frame f = full_frame(&r, n);
        encode_check(&r, &f);
    }
    double avg = r.psnr_sum / r.decoded;
    print_message("# %s: desktop 720p at 20 Mbit/s: PSNR avg %.2f dB, min %.2f dB\n",
                  (const char *)*state, avg, r.psnr_min);
    assert_true(avg >= 38.0);
    run_finish(&r);
}

static void test_bitrate_motion(void **state)
{
    const uint32_t kbps = 3000, frames = 300, fps = 30;
    struct run r;
    run_init(&r, *state, kbps, 1280, 720);
    for (uint32_t n = 0; n < frames; n++) {
        test_content_motion(r.pixels, r.width, r.height, r.stride, n);
        struct sgl_frame f = full_frame(&r, n);
        encode_check(&r, &f);
    }
    double got = r.bytes * 8.0 / 1000.0 / (frames / (double)fps);
    print_message(
        "# %s: motion 720p, target %u kbit/s, got %.0f kbit/s (%.0f%%), PSNR avg %.2f dB\n",
        (const char *)*state, kbps, got, 100.0 * got / kbps, r.psnr_sum / r.decoded);
    assert_true(got >= kbps * 0.75 && got <= kbps * 1.25);
    run_finish(&r);
}

static void test_idr_on_demand(void **state)
{
    struct run r;
    run_init(&r, *state, 8000, 640, 360);
    for (uint32_t n = 0; n < 12; n++) {
        test_content_desktop(r.pixels, r.width, r.height, r.stride, n);
        if (n == 8)
            sgl_encoder_request_keyframe(r.enc);
        struct sgl_frame f = full_frame(&r, n);
        struct sgl_encoder_au au = encode_check(&r, &f);
        uint32_t nals = test_nal_types(au.data, au.size);
        bool idr = n == 0 || n == 8;
        assert_int_equal(au.keyframe, idr);
        assert_int_equal(!!(nals & NAL_IDR), idr);
        /* SPS and PPS travel with every IDR, so a client can join there. */
        assert_int_equal(!!(nals & NAL_SPS), idr);
        assert_int_equal(!!(nals & NAL_PPS), idr);
    }
    /* A keyframe is sent even when nothing changed (a client joined). */
    sgl_encoder_request_keyframe(r.enc);
    struct sgl_frame f = full_frame(&r, 12);
    f.damage_all = false;
    f.n_damage = 0;
    struct sgl_encoder_au au = encode_check(&r, &f);
    assert_true(au.keyframe);
    assert_true(test_nal_types(au.data, au.size) & NAL_SPS);
    run_finish(&r);
}

static void test_resolution_change(void **state)
{
    const uint32_t sizes[][2] = {{640, 480}, {1280, 720}, {800, 600}};
    struct sgl_encoder *enc = make_encoder(*state, 8000);
    struct test_decoder *dec = test_decoder_create();
    uint32_t n = 0;
    for (size_t s = 0; s < 3; s++) {
        struct run r = {.enc = enc,
                        .dec = dec,
                        .width = sizes[s][0],
                        .height = sizes[s][1],
                        .stride = sizes[s][0] * 4,
                        .psnr_min = 1000};
        r.pixels = malloc((size_t)r.stride * r.height);
        for (uint32_t i = 0; i < 5; i++, n++) {
            test_content_desktop(r.pixels, r.width, r.height, r.stride, n);
            struct sgl_frame f = full_frame(&r, n);
            struct sgl_encoder_au au = encode_check(&r, &f);
            assert_int_equal(au.keyframe, i == 0);
            if (i == 0)
                assert_true(test_nal_types(au.data, au.size) & NAL_SPS);
        }
        assert_true(r.psnr_min >= 30.0);
        free(r.pixels);
    }
    test_decoder_destroy(dec);
    sgl_encoder_destroy(enc);
}

static void test_odd_sizes(void **state)
{
    const uint32_t sizes[][2] = {{1366, 768}, {1, 1}, {1001, 333}, {17, 9}, {2, 2}};
    for (size_t s = 0; s < G_N_ELEMENTS(sizes); s++) {
        struct run r;
        run_init(&r, *state, 20000, sizes[s][0], sizes[s][1]);
        for (uint32_t n = 0; n < 3; n++) {
            /* Smooth content: on a few pixels, 4:2:0 subsampling of fine
             * detail alone costs more than the encoder does. */
            test_content_motion(r.pixels, r.width, r.height, r.stride, n);
            struct sgl_frame f = full_frame(&r, n);
            encode_check(&r, &f); /* checks the decoded size */
        }
        print_message("# %s: %ux%u PSNR min %.2f dB\n", (const char *)*state, r.width, r.height,
                      r.psnr_min);
        assert_true(r.psnr_min >= 30.0);
        run_finish(&r);
    }
}

static void expect_invalid(struct sgl_encoder *enc, const struct sgl_frame *f)
{
    struct sgl_encoder_au au = {0};
    g_autoptr(GError) error = NULL;
    assert_int_equal(sgl_encoder_encode(enc, f, &au, &error), SGL_ENCODE_ERROR);
    assert_non_null(error);
    assert_true(g_error_matches(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_INVALID));
    assert_null(au.data);
}

static void test_invalid_input(void **state)
{
    struct run r;
    run_init(&r, *state, 4000, 64, 48);
    test_content_desktop(r.pixels, r.width, r.height, r.stride, 0);
    struct sgl_frame good = full_frame(&r, 0), f;
    struct sgl_rect outside = {60, 40, 8, 8}, empty = {0, 0, 0, 4};
    struct sgl_rect many[SGL_ENCODER_MAX_RECTS + 1];
    for (size_t i = 0; i < G_N_ELEMENTS(many); i++)
        many[i] = (struct sgl_rect){0, 0, 1, 1};

    f = good, f.stride = 0;
    expect_invalid(r.enc, &f);
    f = good, f.stride = r.width * 4 - 1;
    expect_invalid(r.enc, &f);
    f = good, f.pixels = NULL;
    expect_invalid(r.enc, &f);
    f = good, f.width = 0;
    expect_invalid(r.enc, &f);
    f = good, f.height = 0;
    expect_invalid(r.enc, &f);
    f = good, f.width = 100000, f.stride = 400000;
    expect_invalid(r.enc, &f);
    f = good, f.height = UINT32_MAX;
    expect_invalid(r.enc, &f);
    f = good, f.format = (enum sgl_format)9;
    expect_invalid(r.enc, &f);
    f = good, f.damage_all = false, f.damage = &outside, f.n_damage = 1;
    expect_invalid(r.enc, &f);
    f = good, f.damage_all = false, f.damage = &empty, f.n_damage = 1;
    expect_invalid(r.enc, &f);
    f = good, f.damage_all = false, f.damage = NULL, f.n_damage = 2;
    expect_invalid(r.enc, &f);
    f = good, f.damage_all = false, f.damage = many, f.n_damage = G_N_ELEMENTS(many);
    expect_invalid(r.enc, &f);
    f = good, f.dmabuf.fd = 0; /* pixels and a dmabuf at once */
    expect_invalid(r.enc, &f);
    f = good, f.pixels = NULL,
    f.dmabuf = (struct sgl_dmabuf){.fd = 0, .fourcc = 0x12345678, .stride = 256};
    expect_invalid(r.enc, &f);
    expect_invalid(r.enc, NULL);

    /* Nothing above disturbed the encoder. */
    encode_check(&r, &good);
    assert_true(r.psnr_min >= 30.0);
    run_finish(&r);
}

/* Frame n: rect painted with bytes of value v, and it alone as damage. */
static struct sgl_frame repaint(struct run *r, uint32_t n, const struct sgl_rect *rect, uint8_t v)
{
    for (uint32_t y = rect->y; y < rect->y + rect->height; y++)
        memset(r->pixels + (size_t)y * r->stride + rect->x * 4, v, rect->width * 4);
    struct sgl_frame f = full_frame(r, n);
    f.damage_all = false;
    f.damage = rect;
    f.n_damage = 1;
    return f;
}

/* An unchanged frame costs no encode and no bytes; a small change is cheap. */
static void test_damage(void **state)
{
    struct run r;
    run_init(&r, *state, 8000, 1280, 720);
    test_content_desktop(r.pixels, r.width, r.height, r.stride, 0);
    struct sgl_frame f = full_frame(&r, 0);
    struct sgl_encoder_au first = encode_check(&r, &f);
    size_t idr_size = first.size;

    f = full_frame(&r, 1);
    f.damage_all = false;
    f.n_damage = 0;
    struct sgl_encoder_au au = {0};
    assert_int_equal(sgl_encoder_encode(r.enc, &f, &au, NULL), SGL_ENCODE_UNCHANGED);
    assert_null(au.data);

    /* A 64x32 change: one small rectangle repainted. */
    struct sgl_rect rect = {600, 300, 64, 32};
    f = repaint(&r, 2, &rect, 0xe0);
    au = encode_check(&r, &f);
    print_message("# %s: IDR %zu bytes, 64x32 change %zu bytes\n", (const char *)*state, idr_size,
                  au.size);
    assert_false(au.keyframe);
    assert_true(au.size * 20 < idr_size);

    /* A 4x3 change across four macroblocks' corners (x 607..610, y
     * 335..337): each of the four codes it; the rest may be skipped. */
    struct sgl_rect corner = {607, 335, 4, 3};
    f = repaint(&r, 3, &corner, 0x10);
    encode_check(&r, &f);
    size_t at = (size_t)corner.y * r.stride + corner.x * 4;
    double p = sgl_psnr(r.out + (size_t)corner.y * r.out_stride + corner.x * 4, r.out_stride,
                        r.pixels + at, r.stride, corner.width, corner.height);
    print_message("# %s: 4x3 change over four macroblocks: %.2f dB there\n", (const char *)*state,
                  p);
    assert_true(p >= 25.0);
    assert_true(r.psnr_min >= 35.0);
    run_finish(&r);
}

/* A linear dmabuf (a memfd stands in: no GPU here) is read without a copy
 * by the caller; a tiled one cannot be read by a CPU encoder. */
static void test_dmabuf_input(void **state)
{
    struct run r;
    run_init(&r, *state, 8000, 320, 240);
    int fd = memfd_create("frame", MFD_CLOEXEC);
    size_t size = (size_t)r.stride * r.height + 4096;
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    uint8_t *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(map != MAP_FAILED);
    for (uint32_t n = 0; n < 3; n++) {
        test_content_desktop(r.pixels, r.width, r.height, r.stride, n);
        memcpy(map + 4096, r.pixels, (size_t)r.stride * r.height);
        struct sgl_frame f = full_frame(&r, n);
        f.pixels = NULL;
        f.dmabuf = (struct sgl_dmabuf){.fd = fd,
                                       .fourcc = DRM_FORMAT_XRGB8888,
                                       .modifier = DRM_FORMAT_MOD_LINEAR,
                                       .offset = 4096,
                                       .stride = r.stride};
        encode_check(&r, &f);
    }
    assert_true(r.psnr_min >= 35.0);
    /* Too small for offset + stride x height. */
    struct sgl_frame f = full_frame(&r, 3);
    f.pixels = NULL;
    f.dmabuf = (struct sgl_dmabuf){.fd = fd,
                                   .fourcc = DRM_FORMAT_XRGB8888,
                                   .modifier = DRM_FORMAT_MOD_LINEAR,
                                   .offset = 8192,
                                   .stride = r.stride};
    struct sgl_encoder_au au;
    g_autoptr(GError) error = NULL;
    assert_int_equal(sgl_encoder_encode(r.enc, &f, &au, &error), SGL_ENCODE_ERROR);
    if (g_str_equal(*state, "x264")) {
        g_clear_error(&error);
        f.dmabuf.offset = 4096;
        f.dmabuf.modifier = I915_FORMAT_MOD_X_TILED;
        assert_int_equal(sgl_encoder_encode(r.enc, &f, &au, &error), SGL_ENCODE_ERROR);
        assert_non_null(strstr(error->message, "not linear"));
    }
    munmap(map, size);
    close(fd);
    run_finish(&r);
}

static void test_bitrate_change(void **state)
{
    struct run r;
    run_init(&r, *state, 6000, 640, 360);
    uint64_t high = 0, low = 0;
    for (uint32_t n = 0; n < 120; n++) {
        if (n == 60) {
            g_autoptr(GError) error = NULL;
            assert_true(sgl_encoder_set_bitrate(r.enc, 1000, &error));
            assert_int_equal(sgl_encoder_get_bitrate(r.enc), 1000);
        }
        test_content_motion(r.pixels, r.width, r.height, r.stride, n);
        struct sgl_frame f = full_frame(&r, n);
        uint64_t before = r.bytes;
        encode_check(&r, &f);
        if (n >= 30 && n < 60)
            high += r.bytes - before;
        if (n >= 90)
            low += r.bytes - before;
    }
    print_message("# %s: 6000 -> 1000 kbit/s: %.0f -> %.0f kbit/s\n", (const char *)*state,
                  high * 8.0 / 1000, low * 8.0 / 1000);
    assert_true(low * 3 < high);
    g_autoptr(GError) error = NULL;
    assert_false(sgl_encoder_set_bitrate(r.enc, 0, &error));
    run_finish(&r);
}

static void test_backend_selection(void **state)
{
    g_autoptr(GError) error = NULL;
    struct sgl_encoder_config c = {.backend = "gst:nosuchenc"};
    assert_null(sgl_encoder_create(&c, &error));
    assert_true(g_error_matches(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_UNAVAILABLE));
    assert_non_null(strstr(error->message, "gst:nosuchenc"));
    g_clear_error(&error);
    c.backend = "ffmpeg";
    assert_null(sgl_encoder_create(&c, &error));
    assert_true(g_error_matches(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_INVALID));
    g_clear_error(&error);
    c = (struct sgl_encoder_config){.backend = "x264", .preset = "warpspeed"};
    assert_null(sgl_encoder_create(&c, &error));
    assert_non_null(strstr(error->message, "warpspeed"));
    g_clear_error(&error);
    c = (struct sgl_encoder_config){.backend = "x264", .quality = 52};
    assert_null(sgl_encoder_create(&c, &error));
    g_clear_error(&error);
    /* auto takes the first listed: x264 where no hardware encoder exists. */
    c = (struct sgl_encoder_config){0};
    struct sgl_encoder *enc = sgl_encoder_create(&c, &error);
    assert_non_null(enc);
    g_auto(GStrv) all = sgl_encoder_list_backends();
    assert_true(g_strv_contains((const char *const *)all, "x264"));
    g_autofree char *names = g_strjoinv(", ", all);
    print_message("# backends here: %s; auto chose %s\n", names, sgl_encoder_backend_name(enc));
    sgl_encoder_destroy(enc);
    sgl_encoder_destroy(NULL);
}

/* Intra refresh: after the first IDR, refresh waves replace IDRs (no
 * access unit is an IDR, and none is much larger than the rest); a
 * keyframe on demand is still an IDR. x264 only: GStreamer elements differ. */
static void test_intra_refresh(void **state)
{
    struct sgl_encoder_config c = {.backend = "x264",
                                   .bitrate_kbps = 4000,
                                   .max_fps = 30,
                                   .threads = 1,
                                   .intra_refresh = true,
                                   .keyint = 30};
    struct sgl_encoder *enc = sgl_encoder_create(&c, NULL);
    assert_non_null(enc);
    struct test_decoder *dec = test_decoder_create();
    const uint32_t w = 640, h = 360;
    uint8_t *px = g_malloc((size_t)w * h * 4);
    size_t largest = 0, total = 0;
    for (uint32_t n = 0; n < 95; n++) {
        test_content_motion(px, w, h, w * 4, n);
        if (n == 90)
            sgl_encoder_request_keyframe(enc);
        struct sgl_frame f = test_frame_bgrx(px, w, h, w * 4, n * 33333);
        struct sgl_encoder_au au;
        assert_int_equal(sgl_encoder_encode(enc, &f, &au, NULL), SGL_ENCODE_OK);
        bool idr = test_nal_types(au.data, au.size) & NAL_IDR;
        assert_int_equal(idr, n == 0 || n == 90);
        const uint8_t *out;
        uint32_t ow, oh, stride;
        assert_true(test_decoder_decode(dec, au.data, au.size, &out, &ow, &oh, &stride));
        if (n > 0 && n < 90) {
            largest = MAX(largest, au.size);
            total += au.size;
        }
    }
    print_message("# intra refresh: largest frame %zu bytes, mean %zu\n", largest, total / 89);
    /* Without IDRs no frame needs several times the mean. */
    assert_true(largest < 3 * (total / 89));
    g_free(px);
    test_decoder_destroy(dec);
    sgl_encoder_destroy(enc);
}

/* MJPEG for clients without H.264: whole JPEGs, decoded here with
 * libjpeg-turbo; unchanged frames still cost nothing. */
static void test_mjpeg(void **state)
{
    const uint32_t sizes[][2] = {{1280, 720}, {1001, 333}};
    for (size_t s = 0; s < 2; s++) {
        uint32_t w = sizes[s][0], h = sizes[s][1];
        struct sgl_encoder *enc = make_encoder("mjpeg", 8000);
        uint8_t *px = g_malloc((size_t)w * h * 4);
        test_content_desktop(px, w, h, w * 4, 3);
        struct sgl_frame f = test_frame_bgrx(px, w, h, w * 4, 0);
        struct sgl_encoder_au au;
        g_autoptr(GError) error = NULL;
        assert_int_equal(sgl_encoder_encode(enc, &f, &au, &error), SGL_ENCODE_OK);
        assert_true(au.keyframe);
        assert_true(au.size > 2 && au.data[0] == 0xff && au.data[1] == 0xd8);
        tjhandle tj = tjInitDecompress();
        int jw, jh, sub, cs;
        assert_int_equal(tjDecompressHeader3(tj, au.data, au.size, &jw, &jh, &sub, &cs), 0);
        assert_int_equal(jw, (int)au.width);
        assert_int_equal(jh, (int)au.height);
        uint8_t *out = g_malloc((size_t)jw * jh * 4);
        assert_int_equal(tjDecompress2(tj, au.data, au.size, out, jw, jw * 4, jh, TJPF_BGRX, 0), 0);
        double p = sgl_psnr(out, (uint32_t)jw * 4, px, w * 4, w, h);
        print_message("# mjpeg %ux%u: %zu bytes, PSNR %.2f dB\n", w, h, au.size, p);
        assert_true(p >= 32.0);
        tjDestroy(tj);
        /* Nothing changed: no JPEG. */
        f.damage_all = false;
        assert_int_equal(sgl_encoder_encode(enc, &f, &au, NULL), SGL_ENCODE_UNCHANGED);
        /* A lower bitrate gives smaller JPEGs. */
        f.damage_all = true;
        assert_int_equal(sgl_encoder_encode(enc, &f, &au, NULL), SGL_ENCODE_OK);
        size_t before = au.size;
        assert_true(sgl_encoder_set_bitrate(enc, 500, NULL));
        assert_int_equal(sgl_encoder_encode(enc, &f, &au, NULL), SGL_ENCODE_OK);
        assert_true(au.size < before);
        g_free(out);
        g_free(px);
        sgl_encoder_destroy(enc);
    }
}

int main(void)
{
    /* It takes the cores: not beside a guest or a stream (make check -j2). */
    sgl_test_heavy_lock();
    g_auto(GStrv) backends = sgl_encoder_list_backends();
    static const struct {
        const char *name;
        CMUnitTestFunction fn;
    } cases[] = {
        {"psnr_desktop", test_psnr_desktop},
        {"bitrate_motion", test_bitrate_motion},
        {"idr_on_demand", test_idr_on_demand},
        {"resolution_change", test_resolution_change},
        {"odd_sizes", test_odd_sizes},
        {"invalid_input", test_invalid_input},
        {"damage", test_damage},
        {"dmabuf_input", test_dmabuf_input},
        {"bitrate_change", test_bitrate_change},
    };
    GArray *tests = g_array_new(FALSE, TRUE, sizeof(struct CMUnitTest));
    struct CMUnitTest sel = cmocka_unit_test(test_backend_selection);
    g_array_append_val(tests, sel);
    struct CMUnitTest mjpeg = cmocka_unit_test(test_mjpeg);
    g_array_append_val(tests, mjpeg);
    struct CMUnitTest refresh = cmocka_unit_test(test_intra_refresh);
    g_array_append_val(tests, refresh);
    for (char **b = backends; *b; b++) {
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
            struct CMUnitTest t = {.name = g_strdup_printf("%s %s", cases[i].name, *b),
                                   .test_func = cases[i].fn,
                                   .initial_state = *b};
            g_array_append_val(tests, t);
        }
    }
    return _cmocka_run_group_tests("encoder", (struct CMUnitTest *)tests->data, tests->len, NULL,
                                   NULL);
}
