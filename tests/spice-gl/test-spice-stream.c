/* spicegl-gpu --synthetic against spicegl-probe, each its own process, real
 * spice-server and spice-client-glib in between: TCP and unix, tickets,
 * two clients, reconnects, bad options. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "tests/test-util.h"

#define PROBE_SECONDS "4"

struct daemon {
    GSubprocess *proc;
    char *log;
    guint16 port;
    char *unix_path;
    char *dir;
};

static const char *builddir(void)
{
    const char *b = g_getenv("SGL_BUILDDIR");
    return b ? b : ".";
}

static guint16 free_port(void)
{
    g_autoptr(GSocket) s =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
    assert_true(g_socket_bind(s, any, TRUE, NULL));
    g_autoptr(GSocketAddress) bound = g_socket_get_local_address(s, NULL);
    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

static bool can_connect(const struct daemon *d)
{
    g_autoptr(GSocketClient) c = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = NULL;
    if (d->unix_path) {
        addr = g_unix_socket_address_new(d->unix_path);
    } else {
        g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
        addr = g_inet_socket_address_new(lo, d->port);
    }
    g_autoptr(GSocketConnection) conn =
        g_socket_client_connect(c, G_SOCKET_CONNECTABLE(addr), NULL, NULL);
    return conn != NULL;
}

/* Starts spicegl-gpu --synthetic 1280x720@30 with extra arguments and waits
 * until it accepts connections. */
static struct daemon *daemon_start(bool use_unix, const char *const *extra)
{
    struct daemon *d = g_new0(struct daemon, 1);
    d->dir = g_dir_make_tmp("sgl-spice-XXXXXX", NULL);
    d->log = g_build_filename(d->dir, "daemon.log", NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_build_filename(builddir(), "spice-gl", "spicegl-gpu", NULL));
    g_ptr_array_add(argv, g_strdup("--synthetic"));
    g_ptr_array_add(argv, g_strdup("1280x720@30"));
    g_ptr_array_add(argv, g_strdup("--stats-interval"));
    g_ptr_array_add(argv, g_strdup("1"));
    if (use_unix) {
        d->unix_path = g_build_filename(d->dir, "spice.sock", NULL);
        g_ptr_array_add(argv, g_strdup("--no-tcp"));
        g_ptr_array_add(argv, g_strdup("--unix"));
        g_ptr_array_add(argv, g_strdup(d->unix_path));
    } else {
        d->port = free_port();
        g_ptr_array_add(argv, g_strdup("--port"));
        g_ptr_array_add(argv, g_strdup_printf("%u", d->port));
    }
    for (const char *const *e = extra; e && *e; e++)
        g_ptr_array_add(argv, g_strdup(*e));
    g_ptr_array_add(argv, NULL);
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    g_subprocess_launcher_set_stderr_file_path(l, d->log);
    g_autoptr(GError) error = NULL;
    d->proc = g_subprocess_launcher_spawnv(l, (const char *const *)argv->pdata, &error);
    if (!d->proc)
        fail_msg("spicegl-gpu: %s", error->message);
    for (int i = 0; i < 100 && !can_connect(d); i++)
        g_usleep(50 * 1000);
    if (!can_connect(d))
        fail_msg("spicegl-gpu does not accept connections; see %s", d->log);
    return d;
}

/* Stops the daemon; its exit status must be 0 (a crash, a sanitizer report
 * or a leak makes it otherwise). Returns that status. */
static int daemon_stop(struct daemon *d)
{
    int status = 0;
    if (d->proc) {
        g_subprocess_send_signal(d->proc, SIGTERM);
        g_subprocess_wait(d->proc, NULL, NULL);
        status = g_subprocess_get_if_exited(d->proc) ? g_subprocess_get_exit_status(d->proc)
                                                     : 128 + g_subprocess_get_term_sig(d->proc);
        g_object_unref(d->proc);
    }
    g_autofree char *log = NULL;
    if (g_file_get_contents(d->log, &log, NULL, NULL)) {
        /* The last stats line says what the daemon did. */
        char *last = g_strrstr(log, "stats[0]");
        if (last)
            print_message("# daemon %.*s\n", (int)strcspn(last, "\n"), last);
        if (status != 0)
            print_message("# spicegl-gpu exited with %d:\n%s\n", status, log);
    }
    g_unlink(d->log);
    if (d->unix_path)
        g_unlink(d->unix_path);
    g_rmdir(d->dir);
    g_free(d->log);
    g_free(d->unix_path);
    g_free(d->dir);
    g_free(d);
    return status;
}

static int teardown(void **state)
{
    struct daemon *d = *state;
    *state = NULL;
    return d ? daemon_stop(d) : 0;
}

static GSubprocess *probe_spawn(const struct daemon *d, const char *ticket)
{
    g_autofree char *probe = g_build_filename(builddir(), "client-test", "spicegl-probe", NULL);
    g_autofree char *uri = g_strdup_printf("spice://127.0.0.1:%u", d->port);
    const char *argv[10] = {probe, "--json", "--seconds", PROBE_SECONDS};
    int n = 4;
    if (d->unix_path) {
        argv[n++] = "--unix";
        argv[n++] = d->unix_path;
    } else {
        argv[n++] = uri;
    }
    if (ticket) {
        argv[n++] = "--ticket";
        argv[n++] = ticket;
    }
    g_autoptr(GError) error = NULL;
    GSubprocess *p = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
    if (!p)
        fail_msg("spicegl-probe: %s", error->message);
    return p;
}

/* Waits for the probe; returns its JSON object (owned by *parser). */
static JsonObject *probe_finish(GSubprocess *p, int *status, JsonParser **parser)
{
    g_autofree char *out = NULL;
    g_autoptr(GError) error = NULL;
    if (!g_subprocess_communicate_utf8(p, NULL, NULL, &out, NULL, &error))
        fail_msg("spicegl-probe: %s", error->message);
    *status = g_subprocess_get_exit_status(p);
    g_object_unref(p);
    *parser = json_parser_new();
    if (!json_parser_load_from_data(*parser, out, -1, &error))
        fail_msg("spicegl-probe printed no JSON (%s): %s", error->message, out);
    print_message("# probe: %s", out);
    return json_node_get_object(json_parser_get_root(*parser));
}

static double num(JsonObject *o, const char *key)
{
    JsonNode *n = json_object_get_member(o, key);
    return n && !JSON_NODE_HOLDS_NULL(n) ? json_node_get_double(n) : -1;
}

/* What a 720p30 stream must deliver: >= 95 % of frames, PSNR >= 32 dB.
 * Under sanitizers the probe itself cannot keep up with 30 fps (it
 * regenerates and compares every frame, several times slower): rates are
 * loosened there, quality and correctness are not. */
static void expect_good_stream(JsonObject *o, double min_delivered)
{
    bool san = sgl_test_sanitizers();
    double frames = num(o, "frames"), lost = num(o, "lost");
    assert_true(frames >= (san ? 20 : 60));
    assert_true(frames / (frames + lost) >= (san ? 0.5 : min_delivered));
    assert_true(num(o, "psnr_avg") >= 32.0);
    assert_true(num(o, "psnr_min") >= 30.0);
    assert_true(num(o, "fps") >= (san ? 5.0 : 25.0));
    assert_int_equal((int)num(o, "width"), 1280);
    assert_int_equal((int)num(o, "height"), 720);
    assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(o, "error")));
}

static void run_probe_expect_good(const struct daemon *d, const char *ticket)
{
    int status;
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = probe_finish(probe_spawn(d, ticket), &status, &parser);
    assert_int_equal(status, 0);
    expect_good_stream(o, 0.95);
}

static void test_tcp_720p30(void **state)
{
    struct daemon *d = *state = daemon_start(false, NULL);
    run_probe_expect_good(d, NULL);
}

static void test_unix_720p30(void **state)
{
    struct daemon *d = *state = daemon_start(true, NULL);
    run_probe_expect_good(d, NULL);
}

/* A client that leaves and one that joins later: the newcomer gets an IDR
 * and a clean picture. */
static void test_reconnect(void **state)
{
    struct daemon *d = *state = daemon_start(false, NULL);
    run_probe_expect_good(d, NULL);
    run_probe_expect_good(d, NULL);
}

static void test_two_clients(void **state)
{
    struct daemon *d = *state = daemon_start(false, NULL);
    GSubprocess *a = probe_spawn(d, NULL), *b = probe_spawn(d, NULL);
    int sa, sb;
    g_autoptr(JsonParser) pa = NULL, pb = NULL;
    JsonObject *oa = probe_finish(a, &sa, &pa), *ob = probe_finish(b, &sb, &pb);
    assert_int_equal(sa, 0);
    assert_int_equal(sb, 0);
    /* Both decode on this 2-core machine beside the encoder: a little more
     * slack than for one. */
    expect_good_stream(oa, 0.90);
    expect_good_stream(ob, 0.90);
}

static void test_ticket(void **state)
{
    g_autofree char *dir = g_dir_make_tmp("sgl-ticket-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "ticket", NULL);
    assert_true(g_file_set_contents(file, "s3cret-ticket\n", -1, NULL));
    const char *extra[] = {"--ticket-file", file, NULL};
    struct daemon *d = *state = daemon_start(false, extra);
    int status;
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = probe_finish(probe_spawn(d, "wrong"), &status, &parser);
    assert_int_equal(status, 1);
    assert_string_equal(json_object_get_string_member(o, "error"), "authentication failed");
    assert_true(num(o, "frames") == 0);
    run_probe_expect_good(d, "s3cret-ticket");
    g_unlink(file);
    g_rmdir(dir);
}

/* Bad options fail at start, saying what to change. */
static void expect_refused(const char *const *args, const char *says)
{
    g_autofree char *bin = g_build_filename(builddir(), "spice-gl", "spicegl-gpu", NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, bin);
    for (const char *const *a = args; *a; a++)
        g_ptr_array_add(argv, (gpointer)*a);
    g_ptr_array_add(argv, NULL);
    g_autoptr(GSubprocess) p =
        g_subprocess_newv((const char *const *)argv->pdata,
                          G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, NULL);
    g_autofree char *err = NULL;
    assert_true(g_subprocess_communicate_utf8(p, NULL, NULL, NULL, &err, NULL));
    assert_int_equal(g_subprocess_get_exit_status(p), 2);
    if (!strstr(err, says))
        fail_msg("wanted '%s' in: %s", says, err);
}

static void test_bad_options(void **state)
{
    expect_refused((const char *[]){"--port", "5999", NULL}, "--synthetic WxH@FPS");
    expect_refused((const char *[]){"--synthetic", "10x10@30", NULL}, "WIDTHxHEIGHT@FPS");
    expect_refused((const char *[]){"--synthetic", "640x480@0", NULL}, "1..240 fps");
    expect_refused((const char *[]){"--synthetic", "640x480@30", "--addr", "0.0.0.0", NULL},
                   "--ticket");
    expect_refused((const char *[]){"--synthetic", "640x480@30", "--no-tcp", NULL},
                   "nothing to listen on");
    expect_refused((const char *[]){"--synthetic", "640x480@30", "--tls-port", "5999", NULL},
                   "--tls-dir");
    expect_refused((const char *[]){"--synthetic", "640x480@30", "--bitrate", "5", NULL},
                   "--bitrate");
    expect_refused((const char *[]){"--synthetic", "640x480@30", "--encoder", "gst:nosuch", NULL},
                   "not available");
    expect_refused((const char *[]){"--synthetic", "640x480@30", "--preset", "warpspeed", NULL},
                   "warpspeed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tcp_720p30, teardown),
        cmocka_unit_test_teardown(test_unix_720p30, teardown),
        cmocka_unit_test_teardown(test_reconnect, teardown),
        cmocka_unit_test_teardown(test_two_clients, teardown),
        cmocka_unit_test_teardown(test_ticket, teardown),
        cmocka_unit_test(test_bad_options),
    };
    sgl_test_heavy_lock();
    return cmocka_run_group_tests_name("spice-stream", tests, NULL, NULL);
}
