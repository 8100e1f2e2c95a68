/* A guest port relayed to SPICE clients (spice-gl/port.c), on a real
 * spice-server with no client: what a guest writes with nobody reading is
 * held up to SGL_PORT_MAX_BUFFERED bytes, then the guest is held (the host
 * allocates no more for it); the guest closing its end, or the client's
 * channel going, drops what was held and lets the guest go on. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "spice-gl/core.h"
#include "spice-gl/port.h"

struct guest {
    int holds, releases, resets;
    bool held;
    size_t taken;
};

static size_t to_guest(const uint8_t *bytes, size_t n, void *data)
{
    (void)bytes;
    struct guest *g = data;
    g->taken += n;
    return n;
}

static void hold_guest(bool hold, void *data)
{
    struct guest *g = data;
    if (hold)
        g->holds++;
    else
        g->releases++;
    g->held = hold;
}

static void client(bool connected, void *data)
{
    struct guest *g = data;
    if (!connected)
        g->resets++;
}

static const struct sgl_port_callbacks callbacks = {to_guest, hold_guest, client};

static void test_guest_held_at_bound(void **state)
{
    (void)state;
    SpiceServer *s = spice_server_new();
    assert_int_equal(spice_server_init(s, (SpiceCoreInterface *)sgl_spice_core_interface()), 0);
    struct guest g = {0};
    g_autoptr(GError) error = NULL;
    struct sgl_port *p = sgl_port_create(s, "org.spice-space.webdav.0", &callbacks, &g, &error);
    assert_non_null(p);
    sgl_port_guest_opened(p, true);

    /* The guest writes in chunks as QEMU hands them over (4 KiB), nobody
     * reads: held at the bound, once. */
    uint8_t chunk[4096];
    memset(chunk, 0x5a, sizeof(chunk));
    unsigned chunks = 0;
    while (!g.held && chunks < 64) {
        sgl_port_guest_received(p, chunk, sizeof(chunk));
        chunks++;
    }
    print_message("# held after %u chunks (%u bytes)\n", chunks, chunks * 4096u);
    assert_true(g.held);
    assert_int_equal(g.holds, 1);
    assert_int_equal(chunks * sizeof(chunk), SGL_PORT_MAX_BUFFERED);
    assert_int_equal(sgl_port_to_client_bytes(p), 0);

    /* The guest closes its end: what it left for the client is dropped,
     * and it may write again. */
    sgl_port_guest_opened(p, false);
    assert_false(g.held);
    assert_int_equal(g.releases, 1);
    sgl_port_guest_opened(p, true);
    sgl_port_guest_received(p, chunk, sizeof(chunk));
    assert_false(g.held);
    assert_int_equal(g.resets, 0);

    sgl_port_destroy(p);
    spice_server_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guest_held_at_bound),
    };
    return cmocka_run_group_tests_name("port", tests, NULL, NULL);
}
