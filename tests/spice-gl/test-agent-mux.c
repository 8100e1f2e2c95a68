/* The agent multiplexer: a guest agent and the daemon behind spice-server's
 * vdagent devices. What is relayed each way, and whole (any size, any
 * split); what the daemon keeps or rewrites; capabilities merged; file
 * transfers that cannot reach a guest agent answered; a guest agent leaving
 * mid-message; malformed streams; backpressure both ways. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <spice/vd_agent.h>

#include "spice-gl/agent-mux.h"
#include "spice-gl/agent-protocol.h"
#include "tests/spice-gl/agent-message.h"

/* The guest's port, as the daemon's chardev would be. */
struct guest {
    GByteArray *got; /* what the guest read */
    size_t room;     /* bytes it takes before it is full */
    bool held;
    int resets;
};

static size_t guest_write(const uint8_t *bytes, size_t n, void *user)
{
    struct guest *g = user;
    size_t k = MIN(n, g->room);
    g_byte_array_append(g->got, bytes, (guint)k);
    g->room -= k;
    return k;
}

static void guest_hold(bool hold, void *user)
{
    ((struct guest *)user)->held = hold;
}

static void guest_reset(void *user)
{
    ((struct guest *)user)->resets++;
}

static const struct sgl_agent_mux_callbacks callbacks = {guest_write, guest_hold, guest_reset};

static void wakeup(void *data)
{
    (*(int *)data)++;
}

struct fixture {
    struct guest guest;
    struct sgl_agent_mux *mux;
    struct sgl_agent_link *link[2];
    int wakeups[2];
};

static int setup(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);
    f->guest.got = g_byte_array_new();
    f->guest.room = SIZE_MAX;
    f->mux = sgl_agent_mux_create(&callbacks, &f->guest, 1u << VD_AGENT_CAP_MONITORS_CONFIG);
    for (int i = 0; i < 2; i++)
        f->link[i] = sgl_agent_link_create(f->mux, wakeup, &f->wakeups[i]);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 2; i++)
        sgl_agent_link_destroy(f->link[i]);
    sgl_agent_mux_destroy(f->mux);
    g_byte_array_unref(f->guest.got);
    g_free(f);
    return 0;
}

/* Whole messages in a stream: type, size and data of each. */
struct msg {
    uint32_t port, type, size;
    GByteArray *data;
};
struct msgs {
    struct msg m[64];
    int n;
};

static bool collect_begin(uint32_t port, uint32_t type, uint32_t size, const uint8_t *head,
                          void *user)
{
    struct msgs *ms = user;
    assert_true(ms->n < 64);
    ms->m[ms->n] = (struct msg){port, type, size, g_byte_array_new()};
    return true;
}

static void collect_data(uint32_t port, const uint8_t *bytes, uint32_t n, void *user)
{
    struct msgs *ms = user;
    g_byte_array_append(ms->m[ms->n].data, bytes, n);
}

static void collect_end(uint32_t port, void *user)
{
    ((struct msgs *)user)->n++;
}

static const struct sgl_agent_splitter_callbacks collect = {collect_begin, collect_data,
                                                            collect_end};

static void msgs_free(struct msgs *ms)
{
    for (int i = 0; i < 64; i++)
        if (ms->m[i].data)
            g_byte_array_unref(ms->m[i].data);
}

/* Every whole message in bytes (which must be a whole stream). */
static void parse(const uint8_t *bytes, size_t n, struct msgs *ms)
{
    memset(ms, 0, sizeof(*ms));
    struct sgl_agent_splitter s;
    sgl_agent_splitter_init(&s, SGL_AGENT_MAX_CHUNK);
    assert_true(sgl_agent_splitter_feed(&s, bytes, n, &collect, ms));
    assert_int_equal(s.chunk_head_len, 0);
}

/* What a link has for spice-server, read in small pieces as it reads. */
static GByteArray *drain(struct sgl_agent_link *l)
{
    GByteArray *b = g_byte_array_new();
    uint8_t buf[8];
    size_t k;
    while ((k = sgl_agent_link_to_server(l, buf, sizeof buf)) > 0)
        g_byte_array_append(b, buf, (guint)k);
    return b;
}

static void from_server(struct sgl_agent_link *l, GByteArray *m)
{
    /* spice-server writes a chunk at a time; any split must do. */
    for (guint off = 0; off < m->len; off += 1000)
        assert_int_equal(sgl_agent_link_from_server(l, m->data + off, MIN(1000u, m->len - off)),
                         MIN(1000u, m->len - off));
    g_byte_array_unref(m);
}

static GByteArray *caps(bool request, uint32_t word)
{
    GByteArray *d = g_byte_array_new();
    put32(d, request);
    put32(d, word);
    GByteArray *m = message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_ANNOUNCE_CAPABILITIES,
                            d->data, d->len, 2048);
    g_byte_array_unref(d);
    return m;
}

static uint32_t get32(const GByteArray *b, guint off)
{
    return b->data[off] | b->data[off + 1] << 8 | b->data[off + 2] << 16 |
           (uint32_t)b->data[off + 3] << 24;
}

/* A client announces itself (the link becomes the guest's), as input.c
 * passes it on. */
static void client_hello(struct fixture *f, int i)
{
    from_server(f->link[i], caps(true, 1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND));
    sgl_agent_link_client_caps(f->link[i], true);
}

static void test_relay_both_ways(void **state)
{
    struct fixture *f = *state;
    sgl_agent_mux_guest_opened(f->mux, true);
    client_hello(f, 0);
    uint8_t big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    from_server(f->link[0], message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, big,
                                    sizeof big, 2048));
    struct msgs ms;
    parse(f->guest.got->data, f->guest.got->len, &ms);
    assert_int_equal(ms.n, 2); /* the client's capabilities, its clipboard */
    assert_int_equal(ms.m[0].type, VD_AGENT_ANNOUNCE_CAPABILITIES);
    assert_int_equal(ms.m[1].type, VD_AGENT_CLIPBOARD);
    assert_int_equal(ms.m[1].data->len, sizeof big);
    assert_memory_equal(ms.m[1].data->data, big, sizeof big);
    msgs_free(&ms);

    /* The guest's 3000-byte clipboard in one chunk, as spice-vdagentd
     * writes it, fed a few bytes at a time: spice-server gets it in chunks
     * of 2048 bytes at most (parse checks). */
    g_autoptr(GByteArray) g =
        message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, big, 3000, UINT32_MAX);
    for (guint off = 0; off < g->len; off += 13)
        sgl_agent_mux_guest_received(f->mux, g->data + off, MIN(13u, g->len - off));
    /* And whole, in one read. */
    sgl_agent_mux_guest_received(f->mux, g->data, g->len);
    g_autoptr(GByteArray) out = drain(f->link[0]);
    parse(out->data, out->len, &ms);
    assert_int_equal(ms.n, 3); /* the daemon's answer to the caps request, the clipboards */
    assert_int_equal(ms.m[0].type, VD_AGENT_ANNOUNCE_CAPABILITIES);
    assert_int_equal(get32(ms.m[0].data, 0), 0); /* an answer, not a request */
    for (int i = 1; i <= 2; i++) {
        assert_int_equal(ms.m[i].type, VD_AGENT_CLIPBOARD);
        assert_int_equal(ms.m[i].data->len, 3000);
        assert_memory_equal(ms.m[i].data->data, big, 3000);
    }
    msgs_free(&ms);
    assert_true(f->wakeups[0] > 0);
    /* The other link has no client: it got nothing. */
    g_autoptr(GByteArray) none = drain(f->link[1]);
    assert_int_equal(none->len, 0);
}

static void test_caps_merged(void **state)
{
    struct fixture *f = *state;
    client_hello(f, 0);
    g_autoptr(GByteArray) first = drain(f->link[0]);
    struct msgs ms;
    parse(first->data, first->len, &ms);
    /* No guest agent: the daemon's capabilities alone. */
    assert_int_equal(ms.n, 1);
    assert_int_equal(get32(ms.m[0].data, 4), 1u << VD_AGENT_CAP_MONITORS_CONFIG);
    msgs_free(&ms);
    assert_false(sgl_agent_mux_guest_agent(f->mux));

    sgl_agent_mux_guest_opened(f->mux, true);
    uint32_t guest_caps = 1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND | 1u << VD_AGENT_CAP_REPLY;
    g_autoptr(GByteArray) g = caps(true, guest_caps);
    sgl_agent_mux_guest_received(f->mux, g->data, g->len);
    assert_true(sgl_agent_mux_guest_agent(f->mux));
    g_autoptr(GByteArray) out = drain(f->link[0]);
    parse(out->data, out->len, &ms);
    assert_int_equal(ms.n, 1);
    assert_int_equal(get32(ms.m[0].data, 0), 1); /* the guest's request, kept */
    assert_int_equal(get32(ms.m[0].data, 4), guest_caps | 1u << VD_AGENT_CAP_MONITORS_CONFIG);
    msgs_free(&ms);

    /* A new request is answered at once with both. */
    sgl_agent_link_client_caps(f->link[0], true);
    g_autoptr(GByteArray) again = drain(f->link[0]);
    parse(again->data, again->len, &ms);
    assert_int_equal(get32(ms.m[0].data, 4), guest_caps | 1u << VD_AGENT_CAP_MONITORS_CONFIG);
    msgs_free(&ms);
}

static void test_daemon_keeps_mouse_and_rewrites_monitors(void **state)
{
    struct fixture *f = *state;
    sgl_agent_mux_guest_opened(f->mux, true);
    client_hello(f, 0);
    g_byte_array_set_size(f->guest.got, 0);
    uint8_t mouse[13] = {100, 0, 0, 0, 50};
    from_server(f->link[0], message(VDP_SERVER_PORT, VD_AGENT_PROTOCOL, VD_AGENT_MOUSE_STATE, mouse,
                                    sizeof mouse, 2048));
    /* spice-gtk's layout, with physical sizes (flags 1, then 8 bytes each). */
    uint8_t mon[8 + 28] = {1, 0, 0, 0, 1};
    from_server(f->link[0], message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_MONITORS_CONFIG,
                                    mon, sizeof mon, 2048));
    assert_int_equal(f->guest.got->len, 0);
    struct sgl_agent_monitor m[2] = {{1024, 768, 0, 0}, {800, 600, 1024, 0}};
    sgl_agent_link_client_monitors(f->link[0], m, 2);
    struct msgs ms;
    parse(f->guest.got->data, f->guest.got->len, &ms);
    assert_int_equal(ms.n, 1);
    assert_int_equal(ms.m[0].type, VD_AGENT_MONITORS_CONFIG);
    assert_int_equal(ms.m[0].size, 8 + 2 * 20);
    const GByteArray *d = ms.m[0].data;
    assert_int_equal(get32(d, 0), 2);
    assert_int_equal(get32(d, 4), 0);   /* no physical sizes */
    assert_int_equal(get32(d, 8), 768); /* height first */
    assert_int_equal(get32(d, 12), 1024);
    assert_int_equal(get32(d, 28 + 12), 1024); /* the second's x */
    msgs_free(&ms);
}

static GByteArray *xfer_start(uint32_t id)
{
    uint8_t d[4 + 16] = {(uint8_t)id};
    memcpy(d + 4, "[vdagent-file]\n", 15);
    return message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_FILE_XFER_START, d, sizeof d, 2048);
}

/* A transfer status for id in a link's output, or -1. */
static int64_t xfer_result(struct sgl_agent_link *l, uint32_t id)
{
    g_autoptr(GByteArray) out = drain(l);
    struct msgs ms;
    parse(out->data, out->len, &ms);
    int64_t result = -1;
    for (int i = 0; i < ms.n; i++)
        if (ms.m[i].type == VD_AGENT_FILE_XFER_STATUS && get32(ms.m[i].data, 0) == id)
            result = get32(ms.m[i].data, 4);
    msgs_free(&ms);
    return result;
}

static void test_transfers_without_a_guest_agent_end(void **state)
{
    struct fixture *f = *state;
    client_hello(f, 0);
    drain(f->link[0]);
    from_server(f->link[0], xfer_start(7));
    assert_int_equal(xfer_result(f->link[0], 7), VD_AGENT_FILE_XFER_STATUS_ERROR);
    assert_int_equal(f->guest.got->len, 0);

    /* With the agent: passed on; the agent leaving ends it in error. */
    sgl_agent_mux_guest_opened(f->mux, true);
    from_server(f->link[0], xfer_start(8));
    assert_int_equal(xfer_result(f->link[0], 8), -1);
    sgl_agent_mux_guest_opened(f->mux, false);
    assert_int_equal(xfer_result(f->link[0], 8), VD_AGENT_FILE_XFER_STATUS_ERROR);
}

static void test_guest_leaves_mid_message(void **state)
{
    struct fixture *f = *state;
    sgl_agent_mux_guest_opened(f->mux, true);
    client_hello(f, 0);
    drain(f->link[0]);
    uint8_t big[5000];
    memset(big, 0xab, sizeof big);
    g_autoptr(GByteArray) g =
        message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, big, sizeof big, 2048);
    sgl_agent_mux_guest_received(f->mux, g->data, 3000);
    sgl_agent_mux_guest_opened(f->mux, false);
    /* The client's stream stays whole: the message is completed (with
     * zeros) and the daemon's capabilities alone follow. */
    g_autoptr(GByteArray) out = drain(f->link[0]);
    struct msgs ms;
    parse(out->data, out->len, &ms);
    assert_int_equal(ms.n, 2);
    assert_int_equal(ms.m[0].type, VD_AGENT_CLIPBOARD);
    assert_int_equal(ms.m[0].data->len, sizeof big);
    assert_int_equal(ms.m[0].data->data[sizeof big - 1], 0);
    assert_int_equal(ms.m[1].type, VD_AGENT_ANNOUNCE_CAPABILITIES);
    assert_int_equal(get32(ms.m[1].data, 4), 1u << VD_AGENT_CAP_MONITORS_CONFIG);
    msgs_free(&ms);
    /* Bytes of the closed port that come late are dropped. */
    sgl_agent_mux_guest_received(f->mux, g->data + 3000, g->len - 3000);
    g_autoptr(GByteArray) late = drain(f->link[0]);
    assert_int_equal(late->len, 0);
}

static void test_malformed_streams(void **state)
{
    struct fixture *f = *state;
    sgl_agent_mux_guest_opened(f->mux, true);
    client_hello(f, 0);
    drain(f->link[0]);
    /* From the guest: an unknown port resets its port; the mux waits for
     * it to open again. */
    g_autoptr(GByteArray) bad = message(9, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, NULL, 0, 2048);
    sgl_agent_mux_guest_received(f->mux, bad->data, bad->len);
    assert_int_equal(f->guest.resets, 1);
    assert_false(sgl_agent_mux_guest_agent(f->mux));
    sgl_agent_mux_guest_opened(f->mux, true);
    /* A message that announces more than SGL_AGENT_MAX_RELAYED. */
    g_autoptr(GByteArray) huge =
        message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, NULL, 0, 2048);
    huge->data[8 + 16] = 0xff, huge->data[8 + 19] = 0x7f;
    sgl_agent_mux_guest_received(f->mux, huge->data, huge->len);
    assert_int_equal(f->guest.resets, 2);
    sgl_agent_mux_guest_opened(f->mux, true);

    /* From a client: a wrong protocol version is dropped, the guest's port
     * reset (a message cut short would desynchronise its agent), and the
     * next message goes on whole. */
    g_byte_array_set_size(f->guest.got, 0);
    uint8_t text[3] = "abc";
    from_server(f->link[0],
                message(VDP_CLIENT_PORT, 99, VD_AGENT_CLIPBOARD, text, sizeof text, 2048));
    assert_int_equal(f->guest.resets, 3);
    from_server(f->link[0], message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, text,
                                    sizeof text, 2048));
    struct msgs ms;
    parse(f->guest.got->data, f->guest.got->len, &ms);
    assert_int_equal(ms.n, 1);
    assert_memory_equal(ms.m[0].data->data, "abc", 3);
    msgs_free(&ms);
}

static void test_backpressure(void **state)
{
    struct fixture *f = *state;
    sgl_agent_mux_guest_opened(f->mux, true);
    client_hello(f, 0);
    drain(f->link[0]);
    /* The guest reads nothing: past SGL_AGENT_MUX_QUEUE, spice-server's
     * writes are refused (it retries them). */
    f->guest.room = 0;
    uint8_t chunk[2000] = {0};
    g_autoptr(GByteArray) m =
        message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, chunk, sizeof chunk, 2048);
    size_t taken = 0;
    int writes = 0;
    while (sgl_agent_link_from_server(f->link[0], m->data, m->len) == m->len) {
        taken += m->len;
        assert_true(++writes < 1000);
    }
    /* (The guest's copy is a little longer: chunk headers.) */
    assert_true(taken + 2 * m->len >= SGL_AGENT_MUX_QUEUE);
    assert_true(taken <= SGL_AGENT_MUX_QUEUE + 2 * m->len);
    /* The guest takes it all again: the link is woken to write. */
    f->guest.room = SIZE_MAX;
    int before = f->wakeups[0];
    sgl_agent_mux_guest_writable(f->mux);
    assert_true(f->wakeups[0] > before);
    assert_int_equal(sgl_agent_link_from_server(f->link[0], m->data, m->len), m->len);

    /* spice-server reads nothing: the guest is held past the bound, and
     * let go once it reads. */
    g_autoptr(GByteArray) g =
        message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, NULL, 0, 2048);
    uint8_t big[2048] = {0};
    g_autoptr(GByteArray) gb =
        message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, big, 2000, 2048);
    for (int i = 0; i < 200 && !f->guest.held; i++)
        sgl_agent_mux_guest_received(f->mux, gb->data, gb->len);
    assert_true(f->guest.held);
    g_autoptr(GByteArray) out = drain(f->link[0]);
    assert_false(f->guest.held);
    assert_true(out->len >= SGL_AGENT_MUX_QUEUE);
    (void)g;
}

static void test_second_client_takes_the_agent(void **state)
{
    struct fixture *f = *state;
    sgl_agent_mux_guest_opened(f->mux, true);
    client_hello(f, 0);
    g_byte_array_set_size(f->guest.got, 0);
    client_hello(f, 1);
    /* The guest's agent hears the first client leave, then the second
     * announce itself; what it says goes to the second. */
    struct msgs ms;
    parse(f->guest.got->data, f->guest.got->len, &ms);
    assert_int_equal(ms.n, 2);
    assert_int_equal(ms.m[0].port, VDP_SERVER_PORT);
    assert_int_equal(ms.m[0].type, VD_AGENT_CLIENT_DISCONNECTED);
    assert_int_equal(ms.m[1].type, VD_AGENT_ANNOUNCE_CAPABILITIES);
    msgs_free(&ms);
    drain(f->link[0]);
    drain(f->link[1]);
    uint8_t text[2] = "hi";
    g_autoptr(GByteArray) g =
        message(VDP_CLIENT_PORT, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD, text, sizeof text, 2048);
    sgl_agent_mux_guest_received(f->mux, g->data, g->len);
    g_autoptr(GByteArray) one = drain(f->link[0]);
    g_autoptr(GByteArray) two = drain(f->link[1]);
    assert_int_equal(one->len, 0);
    parse(two->data, two->len, &ms);
    assert_int_equal(ms.n, 1);
    assert_memory_equal(ms.m[0].data->data, "hi", 2);
    msgs_free(&ms);
    /* The second leaves: nothing goes anywhere, and its link is clean. */
    sgl_agent_link_client_gone(f->link[1]);
    sgl_agent_mux_guest_received(f->mux, g->data, g->len);
    g_autoptr(GByteArray) after = drain(f->link[1]);
    assert_int_equal(after->len, 0);
}

/* Without a guest port (no QEMU line): the daemon answers alone. */
static void test_link_without_mux(void **state)
{
    struct sgl_agent_link *l = sgl_agent_link_create(NULL, wakeup, &(int){0});
    from_server(l, caps(true, 0));
    sgl_agent_link_client_caps(l, true);
    from_server(l, xfer_start(3));
    g_autoptr(GByteArray) out = drain(l);
    struct msgs ms;
    parse(out->data, out->len, &ms);
    assert_int_equal(ms.n, 2);
    assert_int_equal(get32(ms.m[0].data, 4), 1u << VD_AGENT_CAP_MONITORS_CONFIG);
    assert_int_equal(ms.m[1].type, VD_AGENT_FILE_XFER_STATUS);
    msgs_free(&ms);
    sgl_agent_link_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_relay_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps_merged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daemon_keeps_mouse_and_rewrites_monitors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transfers_without_a_guest_agent_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_leaves_mid_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_client_takes_the_agent, setup, teardown),
        cmocka_unit_test(test_link_without_mux),
    };
    return cmocka_run_group_tests_name("agent-mux", tests, NULL, NULL);
}
