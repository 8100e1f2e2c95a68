/* The agent protocol parser (what spice-server writes to the vdagent device)
 * and the scancode assembler: well-formed input in any split, and malformed
 * input rejected with a reason. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <spice/vd_agent.h>

#include "spice-gl/agent-protocol.h"
#include "spice-gl/input.h"
#include "tests/spice-gl/agent-message.h"

struct seen {
    int n;
    struct sgl_agent_in last;
};

static void on_msg(const struct sgl_agent_in *msg, void *user)
{
    struct seen *s = user;
    s->n++;
    s->last = *msg;
}

static GByteArray *monitors(uint32_t n, uint32_t w, uint32_t h)
{
    GByteArray *d = g_byte_array_new();
    put32(d, n);
    put32(d, 0);
    for (uint32_t i = 0; i < n; i++) {
        put32(d, h); /* height first */
        put32(d, w);
        put32(d, 32);
        put32(d, (uint32_t)(int32_t)(i * w));
        put32(d, 0);
    }
    return d;
}

static bool feed_in_pieces(struct sgl_agent_parser *p, const GByteArray *b, size_t piece,
                           struct seen *s)
{
    for (size_t off = 0; off < b->len; off += piece)
        if (!sgl_agent_parser_feed(p, b->data + off, MIN(piece, b->len - off), on_msg, s))
            return false;
    return true;
}

static void test_monitors_any_split(void **state)
{
    g_autoptr(GByteArray) d = monitors(2, 1024, 768);
    size_t pieces[] = {1, 3, 7, 8, 28, 4096};
    uint32_t chunks[] = {5, 20, 2048};
    for (size_t c = 0; c < G_N_ELEMENTS(chunks); c++)
        for (size_t i = 0; i < G_N_ELEMENTS(pieces); i++) {
            g_autoptr(GByteArray) m = message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL,
                                              VD_AGENT_MONITORS_CONFIG, d->data, d->len, chunks[c]);
            struct sgl_agent_parser p;
            struct seen s = {0};
            sgl_agent_parser_init(&p);
            assert_true(feed_in_pieces(&p, m, pieces[i], &s));
            assert_int_equal(s.n, 1);
            assert_int_equal(s.last.kind, SGL_AGENT_IN_MONITORS);
            assert_int_equal(s.last.n_monitors, 2);
            assert_int_equal(s.last.monitors[0].width, 1024);
            assert_int_equal(s.last.monitors[0].height, 768);
            assert_int_equal(s.last.monitors[1].x, 1024);
        }
}

static void test_capabilities_and_reply(void **state)
{
    uint8_t caps[8] = {1, 0, 0, 0, 0x20, 0, 0, 0}; /* request, one word */
    g_autoptr(GByteArray) m = message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL,
                                      VD_AGENT_ANNOUNCE_CAPABILITIES, caps, sizeof(caps), 2048);
    struct sgl_agent_parser p;
    struct seen s = {0};
    sgl_agent_parser_init(&p);
    assert_true(feed_in_pieces(&p, m, 5, &s));
    assert_int_equal(s.last.kind, SGL_AGENT_IN_CAPABILITIES);
    assert_true(s.last.request);
    assert_int_equal(s.last.caps0, 0x20);
    /* A reply built with our header writer parses as the same kind of
     * message. */
    uint8_t out[SGL_AGENT_CHUNK_HEADER_SIZE + SGL_AGENT_HEADER_SIZE + 8];
    sgl_agent_write_chunk_header(out, VDP_CLIENT_PORT, SGL_AGENT_HEADER_SIZE + 8);
    sgl_agent_write_message_header(out + SGL_AGENT_CHUNK_HEADER_SIZE,
                                   VD_AGENT_ANNOUNCE_CAPABILITIES, 8);
    uint8_t *d = out + SGL_AGENT_CHUNK_HEADER_SIZE + SGL_AGENT_HEADER_SIZE;
    memcpy(d, (uint8_t[8]){0, 0, 0, 0, 1u << VD_AGENT_CAP_MONITORS_CONFIG}, 8);
    sgl_agent_parser_init(&p);
    assert_true(sgl_agent_parser_feed(&p, out, sizeof(out), on_msg, &s));
    assert_int_equal(s.n, 2);
    assert_false(s.last.request);
    assert_int_equal(s.last.caps0, 1u << VD_AGENT_CAP_MONITORS_CONFIG);
}

/* Clipboard and the like are skipped, whatever their size, without being
 * buffered; the message after them still parses. */
static void test_large_message_skipped(void **state)
{
    g_autofree uint8_t *big = g_malloc0(100000);
    g_autoptr(GByteArray) a =
        message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, big, 100000, 2048);
    g_autoptr(GByteArray) d = monitors(1, 640, 480);
    g_autoptr(GByteArray) b = message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_MONITORS_CONFIG,
                                      d->data, d->len, 2048);
    g_byte_array_append(a, b->data, b->len);
    struct sgl_agent_parser p;
    struct seen s = {0};
    sgl_agent_parser_init(&p);
    assert_true(feed_in_pieces(&p, a, 777, &s));
    assert_int_equal(s.n, 2);
    assert_int_equal(s.last.kind, SGL_AGENT_IN_MONITORS);
    assert_int_equal(s.last.monitors[0].width, 640);
}

static void test_server_port(void **state)
{
    g_autoptr(GByteArray) m =
        message(VDP_SERVER_PORT, VD_AGENT_PROTOCOL, VD_AGENT_CLIENT_DISCONNECTED, NULL, 0, 2048);
    struct sgl_agent_parser p;
    struct seen s = {0};
    sgl_agent_parser_init(&p);
    assert_true(feed_in_pieces(&p, m, 1, &s));
    assert_int_equal(s.last.kind, SGL_AGENT_IN_CLIENT_GONE);
}

/* Client mouse mode: spice-server writes the pointer's state on its own
 * port. */
static void test_mouse_state(void **state)
{
    uint8_t ms[13] = {0};
    uint32_t v[3] = {GUINT32_TO_LE(1279), GUINT32_TO_LE(17), GUINT32_TO_LE(VD_AGENT_LBUTTON_MASK)};
    memcpy(ms, v, 12);
    ms[12] = 1; /* display 1 */
    g_autoptr(GByteArray) m =
        message(VDP_SERVER_PORT, VD_AGENT_PROTOCOL, VD_AGENT_MOUSE_STATE, ms, sizeof(ms), 2048);
    struct sgl_agent_parser p;
    struct seen s = {0};
    sgl_agent_parser_init(&p);
    assert_true(feed_in_pieces(&p, m, 5, &s));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.last.kind, SGL_AGENT_IN_MOUSE);
    assert_int_equal(s.last.mouse_x, 1279);
    assert_int_equal(s.last.mouse_y, 17);
    assert_int_equal(s.last.mouse_buttons, VD_AGENT_LBUTTON_MASK);
    assert_int_equal(s.last.mouse_display, 1);
}

static void expect_rejected(GByteArray *bytes, const char *why)
{
    struct sgl_agent_parser p;
    struct seen s = {0};
    sgl_agent_parser_init(&p);
    assert_false(feed_in_pieces(&p, bytes, 3, &s));
    assert_true(p.broken);
    if (!strstr(p.error, why))
        fail_msg("error '%s' does not say '%s'", p.error, why);
    assert_int_equal(s.n, 0);
    /* Broken stays broken until re-initialised. */
    uint8_t zero[8] = {0};
    assert_false(sgl_agent_parser_feed(&p, zero, sizeof(zero), on_msg, &s));
    g_byte_array_unref(bytes);
}

static void test_malformed(void **state)
{
    g_autoptr(GByteArray) one = monitors(1, 800, 600);
    expect_rejected(
        message(7, VD_AGENT_PROTOCOL, VD_AGENT_MONITORS_CONFIG, one->data, one->len, 2048),
        "unknown agent port");
    expect_rejected(
        message(VDP_CLIENT_PORT, 2, VD_AGENT_MONITORS_CONFIG, one->data, one->len, 2048),
        "protocol version");
    g_autoptr(GByteArray) none = monitors(0, 800, 600);
    expect_rejected(message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_MONITORS_CONFIG,
                            none->data, none->len, 2048),
                    "monitor count");
    g_autoptr(GByteArray) many = monitors(SGL_AGENT_MAX_MONITORS + 1, 800, 600);
    expect_rejected(message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_MONITORS_CONFIG,
                            many->data, many->len, 2048),
                    "monitor count");
    /* Says 2 monitors, carries 1. */
    g_autoptr(GByteArray) shortm = monitors(1, 800, 600);
    shortm->data[0] = 2;
    expect_rejected(message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_MONITORS_CONFIG,
                            shortm->data, shortm->len, 2048),
                    "shorter than its monitors");
    uint8_t twelve[12] = {0};
    expect_rejected(message(VDP_SERVER_PORT, VD_AGENT_PROTOCOL, VD_AGENT_MOUSE_STATE, twelve,
                            sizeof(twelve), 2048),
                    "mouse state of odd size");
    g_autoptr(GByteArray) huge = monitors(1, 100000, 600);
    expect_rejected(message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_MONITORS_CONFIG,
                            huge->data, huge->len, 2048),
                    "size out of range");
    uint8_t four[4] = {1, 0, 0, 0};
    expect_rejected(
        message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_ANNOUNCE_CAPABILITIES, four, 4, 2048),
        "capabilities");
    /* A chunk longer than the protocol allows. */
    GByteArray *chunk = g_byte_array_new();
    put32(chunk, VDP_CLIENT_PORT);
    put32(chunk, SGL_AGENT_MAX_CHUNK + 1);
    expect_rejected(chunk, "chunk too long");
}

static void test_scancodes(void **state)
{
    struct sgl_scancode sc = {0};
    uint32_t code;
    bool down;
    assert_true(sgl_scancode_feed(&sc, 0x1e, &code, &down));
    assert_int_equal(code, 0x1e);
    assert_true(down);
    assert_true(sgl_scancode_feed(&sc, 0x9e, &code, &down));
    assert_int_equal(code, 0x1e);
    assert_false(down);
    assert_false(sgl_scancode_feed(&sc, 0xe0, &code, &down));
    assert_true(sgl_scancode_feed(&sc, 0x48, &code, &down)); /* up arrow */
    assert_int_equal(code, 0xe048);
    assert_true(down);
    assert_false(sgl_scancode_feed(&sc, 0xe0, &code, &down));
    assert_true(sgl_scancode_feed(&sc, 0xc8, &code, &down));
    assert_int_equal(code, 0xe048);
    assert_false(down);
    /* Pause: e1 1d 45 is one press, e1 9d c5 one release. */
    const uint8_t pause[] = {0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5};
    int keys = 0;
    for (size_t i = 0; i < sizeof(pause); i++)
        if (sgl_scancode_feed(&sc, pause[i], &code, &down)) {
            assert_int_equal(code, 0xe11d);
            assert_int_equal(down, keys == 0);
            keys++;
        }
    assert_int_equal(keys, 2);
    /* The prefix does not leak into the next key. */
    assert_true(sgl_scancode_feed(&sc, 0x10, &code, &down));
    assert_int_equal(code, 0x10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monitors_any_split),
        cmocka_unit_test(test_capabilities_and_reply),
        cmocka_unit_test(test_large_message_skipped),
        cmocka_unit_test(test_server_port),
        cmocka_unit_test(test_mouse_state),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_scancodes),
    };
    return cmocka_run_group_tests_name("agent-protocol", tests, NULL, NULL);
}
