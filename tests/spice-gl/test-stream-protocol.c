#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <spice/enums.h>
#include <spice/stream-device.h>

#include "spice-gl/stream-protocol.h"
#include "tests/test-util.h"

struct seen {
    int count;
    struct sgl_stream_in last;
    uint8_t codecs[256];
};

static void record(const struct sgl_stream_in *msg, void *user)
{
    struct seen *s = user;
    s->count++;
    s->last = *msg;
    if (msg->kind == SGL_STREAM_IN_START_STOP)
        memcpy(s->codecs, msg->codecs, msg->n_codecs);
}

static size_t start_stop(uint8_t *out, const uint8_t *codecs, uint8_t n)
{
    size_t h = sgl_stream_write_header(out, STREAM_TYPE_START_STOP, 1u + n);
    out[h] = n;
    if (n)
        memcpy(out + h + 1, codecs, n);
    return h + 1 + n;
}

/* Any split of the byte stream gives the same messages. */
static void test_start_stop_any_split(void **state)
{
    uint8_t buf[64];
    const uint8_t codecs[] = {1, 3, 5};
    size_t len = start_stop(buf, codecs, 3);
    len += start_stop(buf + len, NULL, 0);
    for (size_t cut = 0; cut <= len; cut++) {
        struct sgl_stream_parser p;
        struct seen s = {0};
        sgl_stream_parser_init(&p);
        assert_true(sgl_stream_parser_feed(&p, buf, cut, record, &s));
        assert_true(sgl_stream_parser_feed(&p, buf + cut, len - cut, record, &s));
        assert_int_equal(s.count, 2);
        assert_int_equal(s.last.kind, SGL_STREAM_IN_START_STOP);
        assert_int_equal(s.last.n_codecs, 0);
    }
    struct sgl_stream_parser p;
    struct seen s = {0};
    sgl_stream_parser_init(&p);
    for (size_t i = 0; i < 12; i++) /* byte by byte */
        assert_true(sgl_stream_parser_feed(&p, buf + i, 1, record, &s));
    assert_int_equal(s.count, 1);
    assert_int_equal(s.last.n_codecs, 3);
    assert_memory_equal(s.codecs, codecs, 3);
}

static void test_capabilities_and_unknown(void **state)
{
    uint8_t buf[64];
    size_t n = sgl_stream_write_header(buf, STREAM_TYPE_CAPABILITIES, 2);
    buf[n] = 1;
    buf[n + 1] = 0;
    n += 2;
    n += sgl_stream_write_header(buf + n, 77, 0);
    struct sgl_stream_parser p;
    struct seen s = {0};
    sgl_stream_parser_init(&p);
    assert_true(sgl_stream_parser_feed(&p, buf, n, record, &s));
    assert_int_equal(s.count, 2);
    assert_int_equal(s.last.kind, SGL_STREAM_IN_OTHER);
    assert_int_equal(s.last.type, 77);
}

static void expect_broken(const uint8_t *buf, size_t len, const char *why)
{
    struct sgl_stream_parser p;
    struct seen s = {0};
    sgl_stream_parser_init(&p);
    assert_false(sgl_stream_parser_feed(&p, buf, len, record, &s));
    assert_int_equal(s.count, 0);
    assert_non_null(strstr(p.error, why));
    /* Broken stays broken until re-initialised: nothing more is acted on. */
    uint8_t ok[16];
    size_t n = start_stop(ok, NULL, 0);
    assert_false(sgl_stream_parser_feed(&p, ok, n, record, &s));
    assert_int_equal(s.count, 0);
    sgl_stream_parser_init(&p);
    assert_true(sgl_stream_parser_feed(&p, ok, n, record, &s));
    assert_int_equal(s.count, 1);
}

static void test_malformed(void **state)
{
    uint8_t buf[16];
    sgl_stream_write_header(buf, STREAM_TYPE_START_STOP, 1);
    buf[0] = 2; /* version */
    expect_broken(buf, 9, "version");
    sgl_stream_write_header(buf, STREAM_TYPE_START_STOP, SGL_STREAM_MAX_IN + 1);
    expect_broken(buf, 8, "larger");
    sgl_stream_write_header(buf, STREAM_TYPE_START_STOP, 0xffffffffu);
    expect_broken(buf, 8, "larger");
    sgl_stream_write_header(buf, STREAM_TYPE_START_STOP, 3);
    buf[8] = 5; /* says 5 codecs, carries 2 */
    expect_broken(buf, 11, "codec count");
    sgl_stream_write_header(buf, STREAM_TYPE_START_STOP, 0);
    expect_broken(buf, 8, "codec count");
    sgl_stream_write_header(buf, STREAM_TYPE_NOTIFY_ERROR, 2);
    expect_broken(buf, 10, "NOTIFY_ERROR");
    sgl_stream_write_header(buf, STREAM_TYPE_INVALID, 0);
    expect_broken(buf, 8, "type 0");
}

/* Random bytes never crash the parser nor read out of bounds (ASan). */
static void test_random_bytes(void **state)
{
    uint64_t rng = 9;
    uint8_t buf[4096];
    for (int round = 0; round < 2000; round++) {
        size_t len = sgl_test_rand(&rng) % sizeof(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)sgl_test_rand(&rng);
        if (round % 2)
            buf[0] = STREAM_DEVICE_PROTOCOL; /* get past the version check */
        struct sgl_stream_parser p;
        struct seen s = {0};
        sgl_stream_parser_init(&p);
        sgl_stream_parser_feed(&p, buf, len, record, &s);
    }
}

static void test_writers(void **state)
{
    uint8_t buf[32];
    assert_int_equal(sgl_stream_write_format(buf, 1920, 1080, 3), 20);
    const uint8_t want[] = {
        1, 0, STREAM_TYPE_FORMAT, 0, 12, 0, 0, 0, 0x80, 0x07, 0, 0, 0x38, 0x04, 0, 0, 3, 0, 0, 0};
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(sgl_stream_write_header(buf, STREAM_TYPE_DATA, 0x01020304), 8);
    const uint8_t data[] = {1, 0, STREAM_TYPE_DATA, 0, 4, 3, 2, 1};
    assert_memory_equal(buf, data, sizeof(data));
}

/* Cursor messages in the layout of spice/stream-device.h, little-endian. */
static void test_cursor_writers(void **state)
{
    uint8_t b[SGL_STREAM_HEADER_SIZE + SGL_STREAM_CURSOR_SET_SIZE];
    assert_int_equal(sgl_stream_write_cursor_set(b, 32, 24, 3, 300), sizeof(b));
    assert_int_equal(b[0], STREAM_DEVICE_PROTOCOL);
    assert_int_equal(b[2] | b[3] << 8, STREAM_TYPE_CURSOR_SET);
    uint32_t size = b[4] | b[5] << 8 | b[6] << 16 | (uint32_t)b[7] << 24;
    assert_int_equal(size, sizeof(StreamMsgCursorSet) + 32 * 24 * 4);
    const uint8_t *c = b + SGL_STREAM_HEADER_SIZE;
    assert_int_equal(c[0] | c[1] << 8, 32);
    assert_int_equal(c[2] | c[3] << 8, 24);
    assert_int_equal(c[4] | c[5] << 8, 3);
    assert_int_equal(c[6] | c[7] << 8, 300);
    assert_int_equal(c[8], SPICE_CURSOR_TYPE_ALPHA);
    assert_int_equal(SGL_STREAM_CURSOR_SET_SIZE, sizeof(StreamMsgCursorSet));

    uint8_t m[SGL_STREAM_HEADER_SIZE + SGL_STREAM_CURSOR_MOVE_SIZE];
    assert_int_equal(sgl_stream_write_cursor_move(m, -5, 70000), sizeof(m));
    assert_int_equal(m[2] | m[3] << 8, STREAM_TYPE_CURSOR_MOVE);
    const uint8_t *v = m + SGL_STREAM_HEADER_SIZE;
    assert_int_equal((int32_t)(v[0] | v[1] << 8 | v[2] << 16 | (uint32_t)v[3] << 24), -5);
    assert_int_equal((int32_t)(v[4] | v[5] << 8 | v[6] << 16 | (uint32_t)v[7] << 24), 70000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_writers),
        cmocka_unit_test(test_start_stop_any_split),
        cmocka_unit_test(test_capabilities_and_unknown),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_writers),
    };
    return cmocka_run_group_tests_name("stream-protocol", tests, NULL, NULL);
}
