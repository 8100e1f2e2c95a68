/* End to end through spicegl: the test guest boots under TCG with
 * spicegl-gpu as its GPU (QEMU's vhost-user-vga), renders with Mesa's virgl
 * driver, and spicegl-probe watches the result over SPICE (H.264 over TCP).
 * The probe reads each frame's marker and compares the frame with the one
 * it regenerates, so high PSNR means the guest's own pixels made it. */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "tests/e2e/e2e.h"
#include "tests/harness/net.h"
#include "tests/harness/qmp.h"
#include "tests/test-util.h"

/* Instrumented, the daemon and probe take about twice the CPU per frame;
 * with QEMU's TCG on the same 2 cores, the guest renders at half the rate
 * so the check stays on what the code does, not on the machine's speed. */
static unsigned guest_fps(void)
{
    return sgl_test_sanitizers() ? 15 : 30;
}

struct daemon {
    GSubprocess *proc;
    char *dir, *socket, *log, *qmp;
    guint16 port;
};

static char *daemon_log(const struct daemon *d)
{
    char *text = NULL;
    g_file_get_contents(d->log, &text, NULL, NULL);
    return text ? text : g_strdup("");
}

/* Waits up to timeout_ms for text in the daemon's log. */
static gboolean daemon_log_wait(const struct daemon *d, const char *text, int timeout_ms)
{
    gint64 end = g_get_monotonic_time() + timeout_ms * 1000ll;
    do {
        g_autofree char *log = daemon_log(d);
        if (strstr(log, text))
            return TRUE;
        g_usleep(100 * 1000);
    } while (g_get_monotonic_time() < end);
    return FALSE;
}

static void daemon_free_cb(void *d);

/* The daemon's log goes to tests/e2e/NAME.daemon.log, beside the guest's.
 * The test's teardown stops it (after QEMU). */
static struct daemon *daemon_start_qmp(struct sgl_e2e *e, const char *name, bool qmp);

static struct daemon *daemon_start(struct sgl_e2e *e, const char *name)
{
    return daemon_start_qmp(e, name, false);
}

/* qmp: the daemon sends input to QEMU's QMP at DIR/qmp.sock. */
static struct daemon *daemon_start_qmp(struct sgl_e2e *e, const char *name, bool qmp)
{
    struct daemon *d = g_new0(struct daemon, 1);
    d->dir = g_dir_make_tmp("sgl-e2e-XXXXXX", NULL);
    d->socket = g_build_filename(d->dir, "gpu.sock", NULL);
    d->log = g_strdup_printf("%s/tests/e2e/%s.daemon.log", e->builddir, name);
    d->port = sgl_test_free_port();
    assert_int_not_equal(d->port, 0);
    g_autofree char *bin = g_build_filename(e->builddir, "spice-gl", "spicegl-gpu", NULL);
    g_autofree char *port = g_strdup_printf("%u", d->port);
    g_autofree char *fps = g_strdup_printf("%u", guest_fps());
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    g_subprocess_launcher_set_flags(l, G_SUBPROCESS_FLAGS_STDERR_MERGE);
    g_subprocess_launcher_set_stdout_file_path(l, d->log);
    g_subprocess_launcher_setenv(l, "G_MESSAGES_DEBUG", "spicegl", TRUE);
    if (sgl_test_sanitizers())
        /* ASan's slow unwinder (which the leak suppressions need) deadlocks
         * in libgcc when llvmpipe's JIT registers frames: malloc under
         * libgcc's object lock unwinds into the same lock. Fast unwinding
         * cannot see through the unloaded Mesa driver's frames, so leaks
         * are checked by the unit tests (test-vhost-user), not here. */
        g_subprocess_launcher_setenv(l, "ASAN_OPTIONS", "fast_unwind_on_malloc=1:detect_leaks=0",
                                     TRUE);
    g_autoptr(GError) error = NULL;
    d->qmp = g_build_filename(d->dir, "qmp.sock", NULL);
    g_unlink(d->log); /* an older run's "waiting for QEMU" must not count */
    d->proc = g_subprocess_launcher_spawn(l, &error, bin, "--socket-path", d->socket, "--port",
                                          port, "--stats-interval", "2", "--fps", fps,
                                          qmp ? "--qmp" : NULL, d->qmp, NULL);
    if (!d->proc)
        fail_msg("spicegl-gpu: %s", error->message);
    if (!daemon_log_wait(d, "waiting for QEMU", 30000) ||
        !g_file_test(d->socket, G_FILE_TEST_EXISTS)) {
        g_autofree char *log = daemon_log(d);
        fail_msg("spicegl-gpu did not start:\n%s", log);
    }
    e->helper = d;
    e->helper_free = daemon_free_cb;
    return d;
}

/* Waits for the daemon to exit by itself; its exit status, or -1. */
static int daemon_wait(struct daemon *d, int timeout_ms)
{
    /* GSubprocess reaps on GLib's worker thread: the identifier goes when
     * the process has exited. */
    gint64 end = g_get_monotonic_time() + timeout_ms * 1000ll;
    while (g_subprocess_get_identifier(d->proc) && g_get_monotonic_time() < end)
        g_usleep(50 * 1000);
    if (g_subprocess_get_identifier(d->proc))
        return -1;
    return g_subprocess_get_if_exited(d->proc) ? g_subprocess_get_exit_status(d->proc)
                                               : 128 + g_subprocess_get_term_sig(d->proc);
}

static void daemon_free_cb(void *data)
{
    struct daemon *d = data;
    if (!d)
        return;
    if (d->proc) {
        g_subprocess_send_signal(d->proc, SIGTERM);
        g_subprocess_wait(d->proc, NULL, NULL);
        g_object_unref(d->proc);
    }
    g_unlink(d->socket);
    g_unlink(d->qmp);
    g_rmdir(d->dir);
    g_free(d->qmp);
    g_free(d->dir);
    g_free(d->socket);
    g_free(d->log);
    g_free(d);
}

static struct sgl_vm *boot_qmp(struct sgl_e2e *e, const struct daemon *d, const char *name,
                               const char *guest_args, const char *qmp)
{
    g_autofree char *args = g_strdup_printf("%s sgl.fps=%u", guest_args, guest_fps());
    struct sgl_vm_config config = {
        .guest_args = args,
        .gpu = SGL_VM_GPU_VHOST_USER,
        .gpu_socket = d->socket,
        .xres = 1280,
        .yres = 800,
        .qmp_socket = qmp,
        .allow_reset = qmp != NULL,
    };
    return sgl_e2e_boot(e, name, &config);
}

static struct sgl_vm *boot(struct sgl_e2e *e, const struct daemon *d, const char *name,
                           const char *guest_args)
{
    return boot_qmp(e, d, name, guest_args, NULL);
}

static double num(JsonObject *o, const char *key);

/* spicegl-probe on the daemon's TCP port for seconds, with extra options
 * (NULL-terminated, 4 at most); it must exit 0. Its JSON is owned by
 * *parser. */
static JsonObject *probe_run(const struct sgl_e2e *e, const struct daemon *d, int seconds,
                             const char *const *extra, JsonParser **parser)
{
    g_autofree char *uri = g_strdup_printf("spice://127.0.0.1:%u", d->port);
    g_autofree char *secs = g_strdup_printf("%d", seconds);
    const char *args[8] = {uri, "--seconds", secs};
    int n = 3;
    for (; extra && *extra && n < 7; extra++)
        args[n++] = *extra;
    int status;
    JsonObject *o = sgl_e2e_probe(e->builddir, args, &status, parser);
    assert_int_equal(status, 0);
    return o;
}

/* The guest's frames on SPICE display `display` (H.264 over TCP), watched
 * for a few seconds: most of what the guest presented, its exact pictures,
 * at width x height. Returns the probe's JSON (owned by *parser). */
static JsonObject *expect_guest_frames_on(const struct sgl_e2e *e, const struct daemon *d,
                                          int seconds, const char *display, int width, int height,
                                          JsonParser **parser)
{
    /* An instrumented probe drops a burst of late frames as its decoder
     * starts (about 10): a longer window keeps that from being the figure. */
    if (sgl_test_sanitizers())
        seconds *= 2;
    const char *extra[] = {"--display", display, NULL};
    JsonObject *o = probe_run(e, d, seconds, extra, parser);
    double frames = num(o, "frames"), lost = num(o, "lost");
    /* The guest numbers every frame it presents: a gap is a frame it
     * presented that the client never saw. */
    print_message("# display %s: the probe saw %.0f of the %.0f frames the guest presented "
                  "meanwhile (%.1f%%)\n",
                  display, frames, frames + lost, 100 * frames / (frames + lost));
    assert_true(frames >= guest_fps() / 3.0 * seconds);
    /* Instrumented, the daemon and probe lose the first second's frames
     * to a start-up burst: as everywhere, only the real-time rate loosens. */
    assert_true(frames / (frames + lost) >= (sgl_test_sanitizers() ? 0.80 : 0.90));
    assert_true(num(o, "psnr_avg") >= 30.0);
    assert_int_equal((int)num(o, "width"), width);
    assert_int_equal((int)num(o, "height"), height);
    assert_string_equal(json_object_get_string_member(o, "codec"), "h264");
    return o;
}

/* The guest's frames on display 0; with cursor, the guest's 64x64 hardware
 * cursor on the cursor channel, moving. */
static void expect_guest_frames_cursor(const struct sgl_e2e *e, const struct daemon *d, int seconds,
                                       bool cursor)
{
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = expect_guest_frames_on(e, d, seconds, "0", 1280, 800, &parser);
    if (cursor) {
        assert_int_equal((int)num(o, "cursor_width"), 64);
        assert_int_equal((int)num(o, "cursor_height"), 64);
        assert_true(num(o, "cursor_opaque") == 32 * 32); /* the square, not the border */
        assert_true(num(o, "cursor_moves") >= 5);
    }
}

static void expect_guest_frames(const struct sgl_e2e *e, const struct daemon *d, int seconds)
{
    expect_guest_frames_cursor(e, d, seconds, false);
}

static double num(JsonObject *o, const char *key)
{
    JsonNode *n = json_object_get_member(o, key);
    if (!n || JSON_NODE_HOLDS_NULL(n))
        fail_msg("probe JSON has no %s", key);
    return json_node_get_double(n);
}

/* The marker program through our backend to the probe (two clients, one
 * after the other), then kmscube; the guest powers off and the daemon, its
 * QEMU gone, exits by itself. */
static void test_gl_and_kmscube_through_spicegl(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct daemon *d = daemon_start(e, "spicegl-gl");
    struct sgl_vm *vm = boot(e, d, "spicegl-gl",
                             "sgl.run=gl,kmscube sgl.size=1280x800 sgl.frames=600 "
                             "sgl.kmscube_frames=120 sgl.cursor=1");
    sgl_e2e_expect_contains(sgl_e2e_expect(vm, "drm-features", SGL_E2E_BOOT_MS), "value", "+virgl");
    const struct sgl_console_event *start = sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    assert_int_equal(sgl_e2e_expect_uint(start, "width"), 1280);
    sgl_e2e_expect_contains(sgl_e2e_expect(vm, "gl-renderer", SGL_E2E_BOOT_MS), "renderer",
                            "virgl");

    sgl_e2e_expect_field(sgl_e2e_expect(vm, "cursor", SGL_E2E_BOOT_MS), "status", "ok");
    expect_guest_frames_cursor(e, d, 5, true);
    /* A client that leaves and another that comes mid-stream. */
    expect_guest_frames(e, d, 4);

    const struct sgl_console_event *result = sgl_e2e_expect(vm, "gl-result", SGL_E2E_BOOT_MS);
    sgl_e2e_expect_field(result, "status", "ok");
    const struct sgl_console_event *cube = sgl_e2e_expect(vm, "kmscube-result", SGL_E2E_BOOT_MS);
    sgl_e2e_expect_field(cube, "status", "ok");
    sgl_e2e_expect_contains(cube, "renderer", "virgl");
    sgl_e2e_expect_field(sgl_e2e_expect(vm, "done", SGL_E2E_BOOT_MS), "status", "ok");
    sgl_e2e_expect_clean_exit(vm);
    print_message("# guest GL fps %s, kmscube fps %s\n", sgl_console_event_get(result, "fps"),
                  sgl_console_event_get(cube, "fps"));

    /* QEMU is gone: the backend says so and exits cleanly. */
    assert_int_equal(daemon_wait(d, 10000), 0);
    g_autofree char *log = daemon_log(d);
    assert_non_null(strstr(log, "QEMU went away"));
    assert_null(strstr(log, "rejected:"));
}

/* QEMU killed mid-frame: the backend notices, says so and exits cleanly. */
static void test_qemu_killed(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct daemon *d = daemon_start(e, "spicegl-killed");
    struct sgl_vm *vm = boot(e, d, "spicegl-killed", "sgl.run=gl sgl.frames=0");
    sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    assert_true(daemon_log_wait(d, "stats[gpu]: commands", 10000));
    sgl_vm_kill(vm, SIGKILL);
    assert_int_equal(daemon_wait(d, 10000), 0);
    g_autofree char *log = daemon_log(d);
    assert_non_null(strstr(log, "QEMU went away (QEMU closed the connection): exiting"));
}

/* The guest reboots within one QEMU run: the backend drops what the old
 * driver made, and the new one renders and streams as before. QEMU's
 * screendump shows the guest's frame too (its console is fed over the
 * display socket). */
static void test_guest_reboot(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct daemon *d = daemon_start(e, "spicegl-reboot");
    struct sgl_vm *vm = boot_qmp(e, d, "spicegl-reboot", "sgl.run=gl sgl.frames=0", d->qmp);
    sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    expect_guest_frames(e, d, 3);
    g_autoptr(GError) error = NULL;
    g_autofree char *reply = sgl_qmp_run(d->qmp, "{\"execute\":\"system_reset\"}", &error);
    if (!reply)
        fail_msg("system_reset: %s", error->message);
    sgl_e2e_expect(vm, "boot", SGL_E2E_BOOT_MS); /* the second boot: after the first gl-start */
    sgl_e2e_expect_contains(sgl_e2e_expect(vm, "gl-renderer", SGL_E2E_BOOT_MS), "renderer",
                            "virgl");
    expect_guest_frames(e, d, 3);

    /* QEMU's own console is fed too: its screendump shows the guest's frame. */
    g_autofree char *png = g_build_filename(d->dir, "screendump.png", NULL);
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"%s\",\"format\":\"png\"}}", png);
    g_autofree char *dumped = sgl_qmp_run(d->qmp, cmd, &error);
    if (!dumped)
        fail_msg("screendump: %s", error->message);
    g_autofree char *reader = g_build_filename(e->builddir, "client-test", "sgl-marker-read", NULL);
    const char *argv[] = {reader, png, NULL};
    g_autofree char *marker = NULL;
    int status;
    assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                             &marker, NULL, &status, NULL));
    print_message("# QEMU's screendump: %s", marker ? marker : "(nothing)\n");
    assert_true(g_spawn_check_wait_status(status, NULL));
    assert_non_null(strstr(marker, "\"frame\":"));
    g_unlink(png);

    g_autofree char *log = daemon_log(d);
    assert_non_null(strstr(log, "the guest's driver restarted"));
    assert_null(strstr(log, "rejected:"));
}

/* The probe types A and right Ctrl, moves the pointer and clicks; the
 * guest's input devices report the same keys (KEY_A 30, KEY_RIGHTCTRL 97),
 * the motion and the left button (BTN_LEFT 272), down then up. */
static void test_input_reaches_guest(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct daemon *d = daemon_start_qmp(e, "spicegl-input", true);
    struct sgl_vm *vm =
        boot_qmp(e, d, "spicegl-input", "sgl.run=gl sgl.frames=0 sgl.input=1", d->qmp);
    sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    const struct sgl_console_event *devs = sgl_e2e_expect(vm, "input-devices", SGL_E2E_BOOT_MS);
    assert_true(sgl_e2e_expect_uint(devs, "count") >= 2); /* virtio keyboard and mouse */
    const char *input[] = {"--input", NULL};
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = probe_run(e, d, 4, input, &parser);
    assert_true(json_object_get_boolean_member(o, "input_sent"));
    static const struct {
        const char *type, *code, *value;
    } want[] = {
        {"key", "30", "1"}, {"key", "30", "0"}, {"key", "97", "1"},  {"key", "97", "0"},
        {"rel", "0", "7"},  {"rel", "1", "-3"}, {"key", "272", "1"}, {"key", "272", "0"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        /* Events come in order; each wait starts after the last found. */
        const struct sgl_console_event *ev;
        do {
            ev = sgl_e2e_expect(vm, "input", 20000);
        } while (!g_str_equal(sgl_console_event_get(ev, "type"), want[i].type) ||
                 !g_str_equal(sgl_console_event_get(ev, "code"), want[i].code));
        sgl_e2e_expect_field(ev, "value", want[i].value);
    }
    g_autofree char *log = daemon_log(d);
    assert_non_null(strstr(log, "QMP: connected to QEMU at"));
}

/* The probe asks for 1024x576: the daemon has QEMU tell the guest, whose
 * GL program (following the preferred mode) switches; the probe then sees
 * the guest's frames at the new size. */
static void test_resize(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct daemon *d = daemon_start_qmp(e, "spicegl-resize", true);
    struct sgl_vm *vm =
        boot_qmp(e, d, "spicegl-resize", "sgl.run=gl sgl.frames=0 sgl.follow=1", d->qmp);
    const struct sgl_console_event *start = sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    assert_int_equal(sgl_e2e_expect_uint(start, "width"), 1280);
    const char *resize[] = {"--resize", "1024x576", NULL};
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = probe_run(e, d, 8, resize, &parser);
    const struct sgl_console_event *mode = sgl_e2e_expect(vm, "gl-mode", 10000);
    assert_int_equal(sgl_e2e_expect_uint(mode, "width"), 1024);
    assert_int_equal(sgl_e2e_expect_uint(mode, "height"), 576);
    assert_int_equal((int)num(o, "width"), 1024);
    assert_int_equal((int)num(o, "height"), 576);
    print_message("# the new size reached the probe %.0f ms after it asked\n", num(o, "resize_ms"));
    assert_true(num(o, "psnr_avg") >= 30.0);
    g_autofree char *log = daemon_log(d);
    assert_non_null(strstr(log, "display: asked QEMU for 1024x576"));
}

/* Two monitors: the client asks for a second one; the guest's second output
 * comes up (the GL program drives it too) and streams as SPICE display 1,
 * watched by a probe of its own. */
static void test_two_displays(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct daemon *d = daemon_start_qmp(e, "spicegl-two", true);
    struct sgl_vm *vm =
        boot_qmp(e, d, "spicegl-two", "sgl.run=gl sgl.frames=0 sgl.second=1", d->qmp);
    sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    /* The first probe enables monitor 1 at 800x600, watching display 0. */
    const char *ask[] = {"--resize", "1280x800,800x600", NULL};
    g_autoptr(JsonParser) p0 = NULL;
    JsonObject *o = probe_run(e, d, 3, ask, &p0);
    assert_int_equal((int)num(o, "width"), 1280);
    const struct sgl_console_event *second = sgl_e2e_expect(vm, "gl2-start", 20000);
    assert_int_equal(sgl_e2e_expect_uint(second, "width"), 800);
    assert_int_equal(sgl_e2e_expect_uint(second, "height"), 600);
    /* Display 1 carries the guest's second output. */
    g_autoptr(JsonParser) p1 = NULL;
    expect_guest_frames_on(e, d, 5, "1", 800, 600, &p1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_gl_and_kmscube_through_spicegl, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_qemu_killed, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_guest_reboot, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_input_reaches_guest, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_resize, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_two_displays, sgl_e2e_test_teardown),
    };
    return cmocka_run_group_tests_name("guest-spicegl", tests, sgl_e2e_group_setup,
                                       sgl_e2e_group_teardown);
}
