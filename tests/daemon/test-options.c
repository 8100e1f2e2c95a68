/* spicegl-gpu's options: each default, and each bad option refused with
 * its exact message, both by spicegl_options_parse and by the program
 * itself (the message on stderr after "spicegl-gpu: ", exit status 2). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib/gstdio.h>
#include <sys/wait.h>
#include <glib.h>

#include "daemon/options.h"

struct bad_case {
    const char *args; /* space-separated */
    const char *message;
};

static const struct bad_case bad_cases[] = {
    {"--synthetic 64x64@30 --bogus", "Unknown option --bogus (see --help)"},
    {"--synthetic 64x64@30 extra", "unexpected argument 'extra' (see --help)"},
    {"", "no frame source: give --socket-path PATH (QEMU's vhost-user-gpu chardev) or "
         "--synthetic WxH@FPS"},
    {"--socket-path /tmp/x --synthetic 64x64@30",
     "give one frame source: --socket-path, --fd or --synthetic"},
    {"--socket-path /tmp/x --fd 3", "give one frame source: --socket-path, --fd or --synthetic"},
    {"--synthetic 64x64@30 --render-node /dev/dri/renderD128",
     "--render-node is for the VM's GPU (--socket-path or --fd)"},
    {"--synthetic 64x64", "--synthetic wants WIDTHxHEIGHT@FPS with sizes 16..8192 and 1..240 "
                          "fps, e.g. --synthetic 1280x720@30 (got '64x64')"},
    {"--synthetic 64x64@30 --size 8x8", "--size wants WIDTHxHEIGHT, 16..16384 (got '8x8')"},
    {"--socket-path /tmp/x --fps 0",
     "--fps is 1..240, --gpu-memory-mb 64..65536 and --scanouts 1..4"},
    {"--socket-path /tmp/x --gpu-memory-mb 32",
     "--fps is 1..240, --gpu-memory-mb 64..65536 and --scanouts 1..4"},
    {"--socket-path /tmp/x --scanouts 5",
     "--fps is 1..240, --gpu-memory-mb 64..65536 and --scanouts 1..4"},
    {"--socket-path /tmp/x --qmp /tmp/q --dbus-address unix:path=/tmp/b",
     "--qmp and --dbus-address both say where QEMU's display is: give one (--dbus-address when "
     "QEMU serves it on a message bus, as under libvirt's <graphics type='dbus'/>)"},
    {"--socket-path /tmp/x --dbus-address /tmp/bus.sock",
     "--dbus-address wants a D-Bus address such as unix:path=/run/vm1/bus.sock (got "
     "'/tmp/bus.sock')"},
    {"--socket-path /tmp/x --agent-chardev vd-agent",
     "--agent-chardev wants the chardev's id: letters, digits and '_' (got 'vd-agent')"},
    {"--socket-path /tmp/x --agent-chardev chardev/0",
     "--agent-chardev wants the chardev's id: letters, digits and '_' (got 'chardev/0')"},
    {"--socket-path /tmp/x --qmp /tmp/q --usb-redir 9", "--usb-redir is 0..8 (got 9)"},
    {"--socket-path /tmp/x --qmp /tmp/q --usb-redir -1", "--usb-redir is 0..8 (got -1)"},
    {"--socket-path /tmp/x --usb-redir 1",
     "--usb-redir relays QEMU's usb-redir devices through its D-Bus display: give --qmp or "
     "--dbus-address too"},
    {"--synthetic 64x64@30 --qemu-console maybe", "--qemu-console is on or off (got 'maybe')"},
    {"--synthetic 64x64@30 --sandbox no", "--sandbox is on or off (got 'no')"},
    {"--synthetic 64x64@30 --record-commands /tmp",
     "--record-commands writes files while the guest runs, which the sandbox forbids: add "
     "--sandbox off"},
    {"--synthetic 64x64@30 --unix-gl yes", "--unix-gl is auto, on or off (got 'yes')"},
    {"--synthetic 64x64@30 --unix /tmp/s --unix-gl on",
     "--unix-gl on needs frames in dmabufs, and this source has none (no GPU here): use "
     "--unix-gl auto or off"},
    {"--synthetic 64x64@30 --ticket a --ticket-file /etc/hostname",
     "give --ticket or --ticket-file, not both"},
    {"--synthetic 64x64@30 --ticket-file /nonexistent/ticket",
     "--ticket-file: Failed to open file “/nonexistent/ticket”: No such file or directory"},
    {"--synthetic 64x64@30 --bitrate 50",
     "--bitrate is 100..1000000 kbit/s, --stats-interval >= 0"},
    {"--synthetic 64x64@30 --stats-interval -1",
     "--bitrate is 100..1000000 kbit/s, --stats-interval >= 0"},
    {"--synthetic 64x64@30 --refine-after 70000",
     "--refine-after is 0..60000 ms (0: never), --refine-qp 1..51"},
    {"--synthetic 64x64@30 --refine-qp 0",
     "--refine-after is 0..60000 ms (0: never), --refine-qp 1..51"},
    {"--synthetic 64x64@30 --encoder nonesuch",
     "--encoder/--preset: unknown encoder backend 'nonesuch': use auto, x264, gst, "
     "gst:<element> or mjpeg"},
    {"--synthetic 64x64@30 --addr 0.0.0.0",
     "refusing to serve 0.0.0.0:5900 without a password: whoever reaches it gets the display "
     "and the keyboard; set --ticket-file (or --ticket), or say --insecure"},
};

static char **argv_of(const char *args)
{
    g_autofree char *line = g_strconcat("spicegl-gpu ", args, NULL);
    g_strstrip(line);
    return g_strsplit(line, " ", -1);
}

static void test_defaults(void **state)
{
    (void)state;
    g_auto(GStrv) argv = argv_of("--socket-path /tmp/gpu.sock");
    struct spicegl_options o;
    g_autoptr(GError) error = NULL;
    assert_true(spicegl_options_parse(&o, (int)g_strv_length(argv), argv, &error));
    assert_int_equal(o.source, SPICEGL_SOURCE_GPU);
    assert_string_equal(o.socket_path, "/tmp/gpu.sock");
    assert_int_equal(o.gpu_fd, -1);
    assert_int_equal(o.width, 1280);
    assert_int_equal(o.height, 800);
    assert_int_equal(o.fps, 60);
    assert_int_equal(o.scanouts, 2);
    assert_int_equal(o.gpu_memory_bytes, 1024ull << 20);
    assert_true(o.qemu_console);
    assert_true(o.sandbox);
    assert_null(o.user);
    assert_null(o.qmp);
    assert_null(o.render_node);
    assert_null(o.record_dir);
    assert_null(o.server.addr); /* 127.0.0.1 */
    assert_int_equal(o.server.port, 5900);
    assert_int_equal(o.server.tls_port, 0);
    assert_null(o.server.ticket);
    assert_false(o.server.insecure);
    assert_true(o.listen_tcp);
    assert_false(o.listen_unix);
    assert_false(o.local_gl);
    assert_false(o.frames_in_fds);
    assert_false(o.single_client);
    assert_false(o.audio_clock);
    assert_null(o.encoder.backend); /* auto */
    assert_int_equal(o.encoder.bitrate_kbps, 8000);
    assert_int_equal(o.encoder.max_fps, 60);
    assert_null(o.encoder.preset); /* ultrafast */
    assert_int_equal(o.encoder.refine_ms, 500);
    assert_int_equal(o.encoder.refine_qp, 16);
    assert_int_equal(o.stats_interval_s, 5);
    spicegl_options_finish(&o);
}

static void test_synthetic_and_unix(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("sgl-options-XXXXXX", NULL);
    g_autofree char *ticket_file = g_build_filename(dir, "ticket", NULL);
    assert_true(g_file_set_contents(ticket_file, "  s3cret\n", -1, NULL));
    g_autofree char *args = g_strdup_printf(
        "--synthetic 640x360@60 --synthetic-memfd --unix /tmp/s.sock --no-tcp --ticket-file %s",
        ticket_file);
    g_auto(GStrv) argv = argv_of(args);
    struct spicegl_options o;
    g_autoptr(GError) error = NULL;
    assert_true(spicegl_options_parse(&o, (int)g_strv_length(argv), argv, &error));
    assert_int_equal(o.source, SPICEGL_SOURCE_SYNTHETIC);
    assert_int_equal(o.width, 640);
    assert_int_equal(o.height, 360);
    assert_int_equal(o.fps, 60);
    assert_int_equal(o.encoder.max_fps, 60);
    assert_int_equal(o.scanouts, 1);
    assert_true(o.frames_in_fds);
    assert_true(o.local_gl); /* --unix-gl auto, frames in fds */
    assert_false(o.listen_tcp);
    assert_true(o.listen_unix);
    assert_string_equal(o.server.ticket, "s3cret"); /* stripped */
    spicegl_options_finish(&o);
    g_unlink(ticket_file);
    g_rmdir(dir);
}

static void test_print_capabilities(void **state)
{
    (void)state;
    g_auto(GStrv) argv = argv_of("--print-capabilities");
    struct spicegl_options o;
    g_autoptr(GError) error = NULL;
    assert_true(spicegl_options_parse(&o, (int)g_strv_length(argv), argv, &error));
    assert_true(o.print_capabilities);
    assert_non_null(strstr(spicegl_options_capabilities(), "\"virgl\""));
    spicegl_options_finish(&o);
    /* --version needs no source either. */
    g_auto(GStrv) argv_version = argv_of("--version");
    assert_true(spicegl_options_parse(&o, (int)g_strv_length(argv_version), argv_version, &error));
    assert_true(o.print_version);
    assert_false(o.print_capabilities);
    spicegl_options_finish(&o);
}

static void test_bad_options_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_auto(GStrv) argv = argv_of(bad_cases[i].args);
        struct spicegl_options o;
        g_autoptr(GError) error = NULL;
        if (spicegl_options_parse(&o, (int)g_strv_length(argv), argv, &error))
            fail_msg("accepted: %s", bad_cases[i].args);
        assert_non_null(error);
        if (strcmp(error->message, bad_cases[i].message) != 0)
            fail_msg("for '%s'\n  wanted: %s\n     got: %s", bad_cases[i].args,
                     bad_cases[i].message, error->message);
        spicegl_options_finish(&o);
    }
}

/* The program: each bad option prints exactly "spicegl-gpu: MESSAGE" and
 * exits with 2, before it listens on anything. */
static void test_bad_options_exit_2(void **state)
{
    (void)state;
    const char *builddir = g_getenv("SGL_BUILDDIR");
    assert_non_null(builddir);
    g_autofree char *program = g_build_filename(builddir, "daemon", "spicegl-gpu", NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_auto(GStrv) argv = argv_of(bad_cases[i].args);
        g_free(argv[0]);
        argv[0] = g_strdup(program);
        g_autofree char *out = NULL, *err = NULL;
        int wait_status = 0;
        g_autoptr(GError) error = NULL;
        assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                                 &wait_status, &error));
        g_autofree char *want = g_strdup_printf("spicegl-gpu: %s\n", bad_cases[i].message);
        if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 2)
            fail_msg("'%s': wait status 0x%x, not exit 2", bad_cases[i].args, wait_status);
        if (strcmp(err, want) != 0)
            fail_msg("for '%s'\n  wanted: %s     got: %s", bad_cases[i].args, want, err);
        assert_string_equal(out, "");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),           cmocka_unit_test(test_synthetic_and_unix),
        cmocka_unit_test(test_print_capabilities), cmocka_unit_test(test_bad_options_parse),
        cmocka_unit_test(test_bad_options_exit_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
