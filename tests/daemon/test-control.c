/* The control socket of a running spicegl-gpu (--synthetic, sandboxed but
 * under sanitizers), driven through spicegl-ctl and through raw
 * connections, with spicegl-probe as the SPICE client: status and stats,
 * the connected clients and disconnecting one, tickets set and expired,
 * a screenshot that holds the picture streamed, the metrics text; every
 * malformed request answered with its error and the daemon unaffected; the
 * socket private, and a second daemon told who holds it. */
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
#include <sys/stat.h>

#include "daemon/control-protocol.h"
#include "tests/harness/synthetic-daemon.h"
#include "tests/test-util.h"

struct fixture {
    char *dir;     /* the control socket's directory */
    char *control; /* the socket */
    struct sgl_synthetic_daemon *daemon;
};

static const char *spec(void)
{
    return sgl_test_sanitizers() ? "320x240@15" : "320x240@30";
}

static struct fixture *start_on(bool use_unix, const char *const *more)
{
    struct fixture *f = g_new0(struct fixture, 1);
    f->dir = g_dir_make_tmp("sgl-control-XXXXXX", NULL);
    f->control = g_build_filename(f->dir, "control.sock", NULL);
    const char *args[8] = {"--control", f->control};
    for (int i = 0; more && more[i] && i < 6; i++)
        args[2 + i] = more[i];
    g_autoptr(GError) error = NULL;
    f->daemon = sgl_synthetic_daemon_start(spec(), use_unix, args, &error);
    if (!f->daemon)
        fail_msg("%s", error->message);
    return f;
}

static struct fixture *start(const char *const *more)
{
    return start_on(false, more);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    *state = NULL;
    g_autofree char *log = sgl_synthetic_daemon_log(f->daemon);
    int status = sgl_synthetic_daemon_stop(f->daemon);
    g_unlink(f->control);
    g_rmdir(f->dir);
    g_free(f->control);
    g_free(f->dir);
    g_free(f);
    /* The sandbox denied nothing; the daemon exited cleanly. */
    if (strstr(log, "sandbox: denied"))
        fail_msg("the sandbox denied a call:\n%s", log);
    return status;
}

/* ---- running spicegl-ctl and the probe ------------------------------------ */

/* spicegl-ctl --control f->control ARGS (NULL-terminated) with input on
 * stdin; its exit status, stdout in *out (g_free). */
static int ctl_in(const struct fixture *f, const char *input, char **out, char **err,
                  const char *first, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_build_filename(sgl_test_builddir(), "tools", "spicegl-ctl", NULL));
    g_ptr_array_add(argv, g_strdup("--control"));
    g_ptr_array_add(argv, g_strdup(f->control));
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, g_strdup(a));
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(GSubprocess) p =
        g_subprocess_newv((const char *const *)argv->pdata,
                          G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                              G_SUBPROCESS_FLAGS_STDERR_PIPE,
                          &error);
    if (!p)
        fail_msg("spicegl-ctl: %s", error->message);
    g_autofree char *o = NULL, *e = NULL;
    if (!g_subprocess_communicate_utf8(p, input, NULL, &o, &e, &error))
        fail_msg("spicegl-ctl: %s", error->message);
    if (err)
        *err = g_steal_pointer(&e);
    if (out)
        *out = g_steal_pointer(&o);
    return g_subprocess_get_exit_status(p);
}

#define ctl(f, out, ...) ctl_in(f, NULL, out, NULL, __VA_ARGS__, NULL)

/* spicegl-ctl --json COMMAND ARGS: the "return" object (owned by *parser);
 * the command must succeed. */
#define ctl_json(f, parser, ...) ctl_json_(f, parser, __VA_ARGS__, NULL)
static JsonObject *ctl_json_(const struct fixture *f, JsonParser **parser, const char *first, ...)
{
    const char *args[8] = {0};
    va_list ap;
    va_start(ap, first);
    int n = 0;
    for (const char *a = first; a && n < 7; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    g_autofree char *out = NULL;
    int status = ctl_in(f, NULL, &out, NULL, "--json", args[0], args[1], args[2], args[3], args[4],
                        args[5], args[6], NULL);
    *parser = json_parser_new();
    if (status != 0 || !json_parser_load_from_data(*parser, out, -1, NULL))
        fail_msg("spicegl-ctl --json %s: status %d: %s", first, status, out);
    JsonObject *o = json_node_get_object(json_parser_get_root(*parser));
    if (!json_object_has_member(o, "return"))
        fail_msg("no return: %s", out);
    return json_object_get_object_member(o, "return");
}

static GSubprocess *probe_spawn(const struct fixture *f, const char *ticket, const char *seconds)
{
    g_autofree char *probe =
        g_build_filename(sgl_test_builddir(), "client-test", "spicegl-probe", NULL);
    g_autofree char *uri = g_strdup_printf("spice://127.0.0.1:%u", f->daemon->port);
    const char *argv[10] = {probe, "--json", "--seconds", seconds};
    int n = 4;
    if (f->daemon->unix_path) {
        argv[n++] = "--unix";
        argv[n++] = f->daemon->unix_path;
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

/* Waits for the probe: its exit status, and the frames it saw. */
static int probe_finish(GSubprocess *p, double *frames)
{
    g_autofree char *out = NULL;
    g_autoptr(GError) error = NULL;
    if (!g_subprocess_communicate_utf8(p, NULL, NULL, &out, NULL, &error))
        fail_msg("spicegl-probe: %s", error->message);
    int status = g_subprocess_get_exit_status(p);
    g_object_unref(p);
    sgl_test_diagnostic("probe", out);
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_data(parser, out, -1, &error))
        fail_msg("spicegl-probe printed no JSON: %s", out);
    *frames =
        json_object_get_double_member(json_node_get_object(json_parser_get_root(parser)), "frames");
    return status;
}

/* A probe with this ticket for a second or so: whether it logged in and
 * saw frames. */
static bool probe_gets_in(const struct fixture *f, const char *ticket)
{
    double frames;
    /* The instrumented probe takes seconds to its first picture. */
    int status = probe_finish(probe_spawn(f, ticket, sgl_test_sanitizers() ? "6" : "1"), &frames);
    if (status != 0 || frames <= 0) {
        /* Why the server closed a connection, when it did: its last words. */
        g_autofree char *tail = sgl_synthetic_daemon_log_tail(f->daemon, 4000);
        print_message("# the probe failed (status %d, %.0f frames); the daemon's log ends:\n%s\n",
                      status, frames, tail);
    }
    return status == 0 && frames > 0;
}

/* Polls `clients` until it lists n clients (10 s at most): the clients. */
static JsonArray *wait_clients(const struct fixture *f, guint n, JsonParser **parser)
{
    for (int i = 0; i < 100; i++) {
        g_clear_object(parser);
        JsonArray *a = json_object_get_array_member(ctl_json(f, parser, "clients"), "clients");
        if (json_array_get_length(a) == n)
            return a;
        g_usleep(100 * 1000);
    }
    g_autofree char *last = json_to_string(json_parser_get_root(*parser), FALSE);
    g_autofree char *log = sgl_synthetic_daemon_log(f->daemon);
    fail_msg("clients never listed %u client(s); the last list: %s\ndaemon log:\n%s", n, last, log);
    return NULL;
}

/* ---- the tests ------------------------------------------------------------ */

static void test_status_stats_metrics(void **state)
{
    struct fixture *f = *state = start(NULL);
    struct stat st;
    assert_int_equal(lstat(f->control, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    g_autofree char *out = NULL;
    assert_int_equal(ctl(f, &out, "status"), 0);
    g_autofree char *uri = g_strdup_printf("spice://127.0.0.1:%u\n", f->daemon->port);
    if (!strstr(out, "source synthetic, 1 display(s)") || !strstr(out, uri) ||
        !strstr(out, "ticket none"))
        fail_msg("status: %s", out);

    g_usleep(1500 * 1000);
    g_autoptr(JsonParser) p = NULL;
    JsonObject *s = ctl_json(f, &p, "stats");
    JsonObject *src = json_object_get_object_member(s, "source");
    assert_true(json_object_get_int_member(src, "frames") > 0);
    JsonObject *d0 = json_array_get_object_element(json_object_get_array_member(s, "displays"), 0);
    /* No client: every frame the source made waits for one, none encoded;
     * no drop is put down to another cause. */
    JsonObject *dropped = json_object_get_object_member(d0, "dropped");
    assert_true(json_object_get_int_member(dropped, "no_client") > 0);
    const char *causes[] = {"back_pressure", "pacing", "encoder_busy"};
    for (size_t i = 0; i < G_N_ELEMENTS(causes); i++) {
        assert_true(json_object_has_member(dropped, causes[i]));
        assert_int_equal(json_object_get_int_member(dropped, causes[i]), 0);
    }
    assert_int_equal(json_object_get_int_member(d0, "encoded"), 0);
    assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(d0, "codec")));
    assert_int_equal(json_object_get_int_member(s, "clients"), 0);

    g_autofree char *metrics = NULL;
    assert_int_equal(ctl(f, &metrics, "metrics"), 0);
    if (!strstr(metrics, "\nspicegl_source_frames ") ||
        !strstr(metrics, "spicegl_display_dropped_no_client{display=\"0\",server=\"tcp\"} ") ||
        !strstr(metrics, "spicegl_display_encoded{display=\"0\",server=\"tcp\"} 0\n"))
        fail_msg("metrics:\n%s", metrics);
}

/* A client is listed with its channels and its display's stream; the
 * operator disconnects it, the daemon goes on and serves the next. */
static void test_clients_disconnect(void **state)
{
    struct fixture *f = *state = start(NULL);
    GSubprocess *probe = probe_spawn(f, NULL, "20");
    g_autoptr(JsonParser) p = NULL;
    JsonArray *clients = wait_clients(f, 1, &p);
    JsonObject *c = json_array_get_object_element(clients, 0);
    assert_true(g_str_has_prefix(json_object_get_string_member(c, "address"), "127.0.0.1:"));
    g_autofree char *server = g_strdup_printf("127.0.0.1:%u", f->daemon->port);
    assert_string_equal(json_object_get_string_member(c, "server"), server);
    assert_false(json_object_get_boolean_member(c, "tls"));
    gint64 id = json_object_get_int_member(c, "id");

    /* Its channels come up as it links them; its display streams H.264. */
    double fps = 0;
    const char *codec = NULL;
    for (int i = 0; i < 50 && fps < 10; i++) {
        g_usleep(200 * 1000);
        g_clear_object(&p);
        c = json_array_get_object_element(wait_clients(f, 1, &p), 0);
        JsonArray *displays = json_object_get_array_member(c, "displays");
        if (json_array_get_length(displays) == 1) {
            JsonObject *d = json_array_get_object_element(displays, 0);
            fps = json_object_get_double_member(d, "fps");
            codec = JSON_NODE_HOLDS_NULL(json_object_get_member(d, "codec"))
                        ? NULL
                        : json_object_get_string_member(d, "codec");
        }
    }
    if (fps < 10 || !codec || strcmp(codec, "h264"))
        fail_msg("the client's display: %s at %.1f fps", codec ? codec : "no codec", fps);
    /* The daemon's share of each picture's latency, measured. */
    JsonObject *shown =
        json_array_get_object_element(json_object_get_array_member(c, "displays"), 0);
    double p50 = json_object_get_double_member(shown, "latency_p50_ms");
    double p95 = json_object_get_double_member(shown, "latency_p95_ms");
    print_message("# frame to server: p50 %.2f ms, p95 %.2f ms\n", p50, p95);
    assert_true(p50 > 0 && p50 <= p95);
    g_autoptr(GString) types = g_string_new(NULL);
    JsonArray *channels = json_object_get_array_member(c, "channels");
    for (guint i = 0; i < json_array_get_length(channels); i++)
        g_string_append_printf(
            types, "%s ",
            json_object_get_string_member(json_array_get_object_element(channels, i), "type"));
    if (!strstr(types->str, "main ") || !strstr(types->str, "display ") ||
        !strstr(types->str, "inputs "))
        fail_msg("channels: %s", types->str);

    /* The probe has its first pictures by now (the instrumented one later). */
    g_usleep(sgl_test_sanitizers() ? 5 * G_USEC_PER_SEC : G_USEC_PER_SEC / 2);
    g_autofree char *idtext = g_strdup_printf("%" G_GINT64_FORMAT, id);
    g_autofree char *out = NULL;
    assert_int_equal(ctl(f, &out, "disconnect", idtext), 0);
    g_clear_object(&p);
    wait_clients(f, 0, &p);
    /* The probe ends long before its 20 s, with what it saw until then. */
    int64_t t0 = g_get_monotonic_time();
    double frames;
    probe_finish(probe, &frames);
    assert_true(g_get_monotonic_time() - t0 < 10 * G_USEC_PER_SEC);
    assert_true(frames > 0);
    g_autofree char *log = sgl_synthetic_daemon_log(f->daemon);
    g_autofree char *line = g_strdup_printf("client %s disconnected on request", idtext);
    assert_non_null(strstr(log, line));

    /* No such client now; the next one is served. */
    g_autofree char *err = NULL;
    assert_int_equal(ctl_in(f, NULL, NULL, &err, "disconnect", idtext, NULL), 1);
    g_autofree char *want = g_strdup_printf("Failed: no client %s is connected", idtext);
    assert_non_null(strstr(err, want));
    assert_true(probe_gets_in(f, NULL));
}

/* Unix-socket clients have no address of their own: one is disconnected
 * when it is alone on the socket, and refused with a reason when another
 * shares it. */
static void test_unix_clients(void **state)
{
    struct fixture *f = *state = start_on(true, NULL);
    GSubprocess *a = probe_spawn(f, NULL, "20");
    g_autoptr(JsonParser) p = NULL;
    JsonObject *c = json_array_get_object_element(wait_clients(f, 1, &p), 0);
    assert_string_equal(json_object_get_string_member(c, "address"), "unix");
    assert_string_equal(json_object_get_string_member(c, "server"), f->daemon->unix_path);
    g_autofree char *id_a =
        g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(c, "id"));

    GSubprocess *b = probe_spawn(f, NULL, "20");
    g_clear_object(&p);
    wait_clients(f, 2, &p);
    g_autofree char *err = NULL;
    assert_int_equal(ctl_in(f, NULL, NULL, &err, "disconnect", id_a, NULL), 1);
    g_autofree char *want = g_strdup_printf(
        "Failed: client %s shares the unix socket with another client and cannot be told apart "
        "from it",
        id_a);
    assert_non_null(strstr(err, want));

    /* b leaves by itself; a, alone now, is disconnected. */
    g_subprocess_force_exit(b);
    g_subprocess_wait(b, NULL, NULL);
    g_object_unref(b);
    g_clear_object(&p);
    wait_clients(f, 1, &p);
    assert_int_equal(ctl(f, NULL, "disconnect", id_a), 0);
    g_clear_object(&p);
    wait_clients(f, 0, &p);
    double frames;
    assert_int_equal(probe_finish(a, &frames), 1); /* "the server closed the connection" */
}

static void test_tickets(void **state)
{
    static const char *const first[] = {"--ticket", "first", NULL};
    struct fixture *f = *state = start(first);
    assert_false(probe_gets_in(f, "second"));
    assert_true(probe_gets_in(f, "first"));

    /* A new ticket from standard input; the old one no longer works. */
    g_autofree char *out = NULL;
    assert_int_equal(ctl_in(f, "second\n", &out, NULL, "set-ticket", NULL), 0);
    assert_false(probe_gets_in(f, "first"));
    assert_true(probe_gets_in(f, "second"));

    /* From a file, with a lifetime: valid, then expired. */
    g_autofree char *file = g_build_filename(f->dir, "ticket", NULL);
    assert_true(g_file_set_contents(file, "third\n", -1, NULL));
    assert_int_equal(ctl(f, NULL, "set-ticket", "--ticket-file", file, "--lifetime", "2"), 0);
    g_unlink(file);
    assert_true(probe_gets_in(f, "third"));
    g_usleep(3 * G_USEC_PER_SEC);
    assert_false(probe_gets_in(f, "third"));

    /* Expired at once: no one gets in, and there is nothing to expire later. */
    assert_int_equal(ctl_in(f, "fourth", NULL, NULL, "set-ticket", NULL), 0);
    assert_int_equal(ctl(f, NULL, "expire-ticket"), 0);
    assert_false(probe_gets_in(f, "fourth"));
    g_autofree char *err = NULL;
    assert_int_equal(ctl_in(f, NULL, NULL, &err, "expire-ticket", "--in", "5", NULL), 1);
    assert_non_null(strstr(err, "no ticket is set to expire later: set one with set-ticket"));
    /* A usage mistake never reaches the daemon. */
    g_clear_pointer(&err, g_free);
    assert_int_equal(ctl_in(f, "", NULL, &err, "set-ticket", NULL), 2);
    assert_non_null(strstr(err, "set-ticket: no ticket: give --ticket-file FILE or the ticket on "
                                "standard input"));
}

/* The screenshot is the picture streamed: the synthetic source's frame
 * marker reads back from the PNG. */
static void test_screenshot(void **state)
{
    struct fixture *f = *state = start(NULL);
    g_autofree char *png = g_build_filename(f->dir, "shot.png", NULL);
    g_autofree char *out = NULL;
    int status = 1;
    for (int i = 0; i < 20 && status != 0; i++) {
        g_usleep(100 * 1000);
        g_clear_pointer(&out, g_free);
        status = ctl(f, &out, "screenshot", png);
    }
    assert_int_equal(status, 0);
    g_autofree char *want = g_strdup_printf("%s: display 0, 320x240\n", png);
    assert_string_equal(out, want);
    g_autofree char *reader =
        g_build_filename(sgl_test_builddir(), "client-test", "sgl-marker-read", NULL);
    const char *argv[] = {reader, png, NULL};
    g_autoptr(GError) error = NULL;
    g_autoptr(GSubprocess) p = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
    g_autofree char *marker = NULL;
    assert_true(g_subprocess_communicate_utf8(p, NULL, NULL, &marker, NULL, &error));
    assert_int_equal(g_subprocess_get_exit_status(p), 0);
    print_message("# marker: %s", marker);
    assert_true(g_str_has_prefix(marker, "{\"frame\":"));
    g_unlink(png);

    g_autofree char *err = NULL;
    assert_int_equal(ctl_in(f, NULL, NULL, &err, "screenshot", "--display", "1", png, NULL), 1);
    assert_non_null(strstr(err, "Failed: no display 1: there are 1"));
}

/* ---- raw connections ------------------------------------------------------ */

struct conn {
    GSocketConnection *c;
    GDataInputStream *in;
};

static void conn_open(const struct fixture *f, struct conn *c)
{
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_socket_client_set_timeout(client, 10);
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(f->control);
    g_autoptr(GError) error = NULL;
    c->c = g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, &error);
    if (!c->c)
        fail_msg("%s: %s", f->control, error->message);
    c->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(c->c)));
}

static void conn_close(struct conn *c)
{
    g_clear_object(&c->in);
    g_clear_object(&c->c);
}

/* The next line, or NULL when the daemon closed the connection. */
static char *conn_line(struct conn *c)
{
    g_autoptr(GError) error = NULL;
    char *line = g_data_input_stream_read_line(c->in, NULL, NULL, &error);
    if (!line && error)
        fail_msg("reading: %s", error->message);
    return line;
}

static void conn_send(struct conn *c, const void *bytes, size_t len)
{
    g_autoptr(GError) error = NULL;
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(c->c));
    if (!g_output_stream_write_all(out, bytes, len, NULL, NULL, &error))
        fail_msg("writing: %s", error->message);
}

/* Sends a request, expects an error of this class on the same connection. */
static void expect_error(struct conn *c, const char *request, size_t len, const char *class)
{
    conn_send(c, request, len);
    g_autofree char *line = conn_line(c);
    g_autofree char *want = g_strdup_printf("{\"error\":{\"class\":\"%s\",", class);
    if (!line || !g_str_has_prefix(line, want))
        fail_msg("%.*s: got %s, want %s...", (int)len, request, line ? line : "(closed)", want);
}

static void test_malformed(void **state)
{
    struct fixture *f = *state = start(NULL);
    struct conn c;
    conn_open(f, &c);
    g_autofree char *greeting = conn_line(&c);
    assert_non_null(greeting);
    assert_true(g_str_has_prefix(greeting, "{\"spicegl\":{\"version\":\"" PACKAGE_VERSION "\""));

    static const char nul[] = "{\"execute\":\"status\"}\0\n";
    static const struct {
        const char *request, *class;
    } bad[] = {
        {"garbage\n", "ParseError"},
        {"[]\n", "ParseError"},
        {"{\"execute\":\"rm -rf\"}\n", "CommandNotFound"},
        {"{\"execute\":\"disconnect\",\"arguments\":{\"id\":-5}}\n", "InvalidArgument"},
        {"{\"execute\":\"status\",\"arguments\":{},\"evil\":true}\n", "InvalidRequest"},
        {"\xff\xfe\n", "ParseError"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        expect_error(&c, bad[i].request, strlen(bad[i].request), bad[i].class);
    expect_error(&c, nul, sizeof(nul) - 1, "ParseError");
    /* Two requests in one write, and blank lines: two replies, in order,
     * each with its id. */
    static const char two[] =
        "\n{\"execute\":\"status\",\"id\":1}\r\n\n{\"execute\":\"stats\",\"id\":2}\n";
    conn_send(&c, two, sizeof(two) - 1);
    g_autofree char *r1 = conn_line(&c), *r2 = conn_line(&c);
    assert_true(r1 && g_str_has_prefix(r1, "{\"return\":{\"version\"") &&
                g_str_has_suffix(r1, ",\"id\":1}"));
    assert_true(r2 && g_str_has_prefix(r2, "{\"return\":{\"uptime_s\"") &&
                g_str_has_suffix(r2, ",\"id\":2}"));

    /* A line over the limit: an error, then the connection ends. */
    g_autofree char *huge = g_malloc(SGL_CONTROL_MAX_LINE + 100);
    memset(huge, 'x', SGL_CONTROL_MAX_LINE + 100);
    conn_send(&c, huge, SGL_CONTROL_MAX_LINE + 100);
    g_autofree char *too_long = conn_line(&c);
    assert_non_null(too_long);
    assert_true(g_str_has_prefix(too_long, "{\"error\":{\"class\":\"LineTooLong\","));
    g_autofree char *after = conn_line(&c);
    assert_null(after);
    conn_close(&c);

    /* At most 8 connections at once: the ninth is told and closed; the
     * others are served, and so is a new one once one closed. */
    struct conn many[9];
    for (int i = 0; i < 9; i++)
        conn_open(f, &many[i]);
    for (int i = 0; i < 8; i++) {
        g_autofree char *g = conn_line(&many[i]);
        assert_true(g && g_str_has_prefix(g, "{\"spicegl\":"));
    }
    g_autofree char *refused = conn_line(&many[8]);
    assert_non_null(refused);
    assert_non_null(strstr(refused, "8 control clients are connected already: close one"));
    for (int i = 0; i < 9; i++)
        conn_close(&many[i]);
    g_usleep(200 * 1000);

    /* A client that leaves before its screenshot is ready: the answer,
     * made on a worker thread, goes nowhere. */
    conn_open(f, &c);
    g_autofree char *g2 = conn_line(&c);
    static const char shot[] = "{\"execute\":\"screenshot\"}\n";
    conn_send(&c, shot, sizeof(shot) - 1);
    conn_close(&c);
    g_usleep(500 * 1000);

    /* The daemon is unaffected: it streams to a client and answers. */
    assert_true(probe_gets_in(f, NULL));
    g_autofree char *out = NULL;
    assert_int_equal(ctl(f, &out, "status"), 0);
    /* Refusals are logged, rate-limited. */
    g_autofree char *log = sgl_synthetic_daemon_log(f->daemon);
    assert_non_null(strstr(log, "control: request refused: no command 'rm -rf'"));
    assert_non_null(strstr(log, "control: a request line over 4095 bytes: disconnecting"));
}

/* A second daemon on the same control socket is told who holds it; a
 * stale socket is replaced; a file that is not a socket is left alone. */
static void test_socket_in_use(void **state)
{
    struct fixture *f = *state = start(NULL);
    g_autofree char *bin = g_build_filename(sgl_test_builddir(), "daemon", "spicegl-gpu", NULL);
    g_autofree char *err = NULL;
    int status;
    g_autofree char *spice = g_build_filename(f->dir, "spice.sock", NULL);
    const char *argv[] = {bin,   "--synthetic", "64x64@5",  "--no-tcp", "--unix",
                          spice, "--control",   f->control, NULL};
    g_autoptr(GError) error = NULL;
    assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                             NULL, &err, &status, &error));
    g_autofree char *want = g_strdup_printf(
        "spicegl-gpu: --control %s is in use by process %d (spicegl-gpu): stop it or choose "
        "another path\n",
        f->control, (int)atoi(g_subprocess_get_identifier(f->daemon->proc)));
    assert_string_equal(err, want);

    /* Killed, the daemon leaves its socket: the next one takes the path. */
    g_subprocess_force_exit(f->daemon->proc);
    g_subprocess_wait(f->daemon->proc, NULL, NULL);
    struct stat st;
    assert_int_equal(lstat(f->control, &st), 0);
    sgl_synthetic_daemon_stop(f->daemon);
    f->daemon = NULL;
    const char *args[] = {"--control", f->control, NULL};
    g_autoptr(GError) e2 = NULL;
    f->daemon = sgl_synthetic_daemon_start(spec(), false, args, &e2);
    if (!f->daemon)
        fail_msg("%s", e2->message);
    g_autofree char *out = NULL;
    assert_int_equal(ctl(f, &out, "status"), 0);

    /* A regular file is not replaced. */
    g_autofree char *file = g_build_filename(f->dir, "not-a-socket", NULL);
    assert_true(g_file_set_contents(file, "keep", -1, NULL));
    const char *argv2[] = {bin,   "--synthetic", "64x64@5", "--no-tcp", "--unix",
                           spice, "--control",   file,      NULL};
    g_clear_pointer(&err, g_free);
    assert_true(g_spawn_sync(NULL, (char **)argv2, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                             NULL, &err, &status, &error));
    g_autofree char *want2 = g_strdup_printf(
        "spicegl-gpu: --control %s exists and is not a socket: remove it or choose another "
        "path\n",
        file);
    assert_string_equal(err, want2);
    g_autofree char *kept = NULL;
    assert_true(g_file_get_contents(file, &kept, NULL, NULL));
    assert_string_equal(kept, "keep");
    g_unlink(file);
}

int main(void)
{
    sgl_test_heavy_lock();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_status_stats_metrics, teardown),
        cmocka_unit_test_teardown(test_clients_disconnect, teardown),
        cmocka_unit_test_teardown(test_unix_clients, teardown),
        cmocka_unit_test_teardown(test_tickets, teardown),
        cmocka_unit_test_teardown(test_screenshot, teardown),
        cmocka_unit_test_teardown(test_malformed, teardown),
        cmocka_unit_test_teardown(test_socket_in_use, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
