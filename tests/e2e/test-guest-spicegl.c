/* End to end through spicegl: the test guest boots under TCG with
 * spicegl-gpu as its GPU (QEMU's vhost-user-vga), renders with Mesa's virgl
 * driver, and spicegl-probe watches the result over SPICE (H.264 over TCP).
 * The probe reads each frame's marker and compares the frame with the one
 * it regenerates, so high PSNR means the guest's own pixels made it. */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "encoder/encoder.h"
#include "tests/e2e/daemon.h"
#include "tests/harness/qmp.h"
#include "tests/test-util.h"

/* The guest's frames on display 0; with cursor, the guest's 64x64 hardware
 * cursor on the cursor channel, moving. */
static void expect_guest_frames_cursor(const struct sgl_e2e *e, const struct sgl_e2e_daemon *d,
                                       int seconds, bool cursor)
{
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = sgl_e2e_expect_guest_frames_on(e, d, seconds, "0", 1280, 800, &parser);
    if (cursor) {
        assert_int_equal((int)sgl_e2e_num(o, "cursor_width"), 64);
        assert_int_equal((int)sgl_e2e_num(o, "cursor_height"), 64);
        assert_true(sgl_e2e_num(o, "cursor_opaque") == 32 * 32); /* the square, not the border */
        assert_true(sgl_e2e_num(o, "cursor_moves") >= 5);
    }
}

static void expect_guest_frames(const struct sgl_e2e *e, const struct sgl_e2e_daemon *d,
                                int seconds)
{
    expect_guest_frames_cursor(e, d, seconds, false);
}

/* The daemon serving a guest is confined: no_new_privs, a seccomp filter
 * (mode 2), and the user it was asked to become. */
static void expect_sandboxed(const struct sgl_e2e_daemon *d, int uid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", sgl_e2e_daemon_pid(d));
    g_autofree char *status = NULL;
    assert_true(g_file_get_contents(path, &status, NULL, NULL));
    g_autofree char *uids = g_strdup_printf("Uid:\t%d\t%d\t%d\t%d\n", uid, uid, uid, uid);
    assert_non_null(strstr(status, "NoNewPrivs:\t1\n"));
    assert_non_null(strstr(status, "Seccomp:\t2\n"));
    if (!strstr(status, uids))
        fail_msg("wanted %s in %s", uids, status);
    print_message("# the daemon runs as uid %d with no_new_privs and a seccomp filter\n", uid);
}

/* The marker program through our backend to the probe (two clients, one
 * after the other), then kmscube; the guest powers off and the daemon, its
 * QEMU gone, exits by itself. */
static void test_gl_and_kmscube_through_spicegl(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    /* As root, the daemon runs as nobody once started, as under libvirt. */
    bool root = geteuid() == 0;
    struct sgl_e2e_daemon_options options = {.user = root ? "nobody" : NULL};
    struct sgl_e2e_daemon *d = sgl_e2e_daemon_start(e, "spicegl-gl", &options);
    struct sgl_vm *vm = sgl_e2e_daemon_boot(e, d, "spicegl-gl",
                                            "sgl.run=gl,kmscube sgl.size=1280x800 sgl.frames=600 "
                                            "sgl.kmscube_frames=120 sgl.cursor=1",
                                            NULL);
    sgl_e2e_expect_contains(sgl_e2e_expect(vm, "drm-features", SGL_E2E_BOOT_MS), "value", "+virgl");
    const struct sgl_console_event *start = sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    assert_int_equal(sgl_e2e_expect_uint(start, "width"), 1280);
    sgl_e2e_expect_contains(sgl_e2e_expect(vm, "gl-renderer", SGL_E2E_BOOT_MS), "renderer",
                            "virgl");

    expect_sandboxed(d, root ? 65534 : (int)geteuid());

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
    assert_int_equal(sgl_e2e_daemon_wait(d, 10000), 0);
    g_autofree char *log = sgl_e2e_daemon_log(d);
    assert_non_null(strstr(log, "QEMU went away"));
    sgl_e2e_daemon_expect_clean_log(d);
}

/* QEMU killed mid-frame: the backend notices, says so and exits cleanly. */
static void test_qemu_killed(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct sgl_e2e_daemon *d = sgl_e2e_daemon_start(e, "spicegl-killed", NULL);
    struct sgl_vm *vm =
        sgl_e2e_daemon_boot(e, d, "spicegl-killed", "sgl.run=gl sgl.frames=0", NULL);
    sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    assert_true(sgl_e2e_daemon_log_wait(d, "stats[gpu]: commands", 10000));
    sgl_vm_kill(vm, SIGKILL);
    assert_int_equal(sgl_e2e_daemon_wait(d, 10000), 0);
    g_autofree char *log = sgl_e2e_daemon_log(d);
    assert_non_null(strstr(log, "QEMU went away (QEMU closed the connection): exiting"));
    /* The teardown after QEMU died runs sandboxed too. */
    sgl_e2e_daemon_expect_clean_log(d);
}

/* The guest reboots within one QEMU run: the backend drops what the old
 * driver made, and the new one renders and streams as before. QEMU's
 * screendump shows the guest's frame too (its console is fed over the
 * display socket). */
static void test_guest_reboot(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct sgl_e2e_daemon *d = sgl_e2e_daemon_start(e, "spicegl-reboot", NULL);
    struct sgl_vm *vm =
        sgl_e2e_daemon_boot(e, d, "spicegl-reboot", "sgl.run=gl sgl.frames=0", d->qmp);
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

    g_autofree char *log = sgl_e2e_daemon_log(d);
    assert_non_null(strstr(log, "the guest's driver restarted"));
    sgl_e2e_daemon_expect_clean_log(d);
}

/* A client that connects after the guest stopped drawing is shown what is
 * on screen. The daemon sends it one access unit; before the delimiters
 * after each picture (stream-device.c), spice-gtk's parser held that lone
 * picture and the client showed nothing until the screen changed.
 * On a 500 kbit/s stream that picture is coarse; half a second later the
 * refine passes (encoder-thread.h) bring it near lossless, each within the
 * stream's budget per frame. */
static void test_static_desktop_new_client(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    const char *const args[] = {"--bitrate", "500", NULL};
    struct sgl_e2e_daemon *d =
        sgl_e2e_daemon_start(e, "spicegl-static", &(struct sgl_e2e_daemon_options){.args = args});
    struct sgl_vm *vm =
        sgl_e2e_daemon_boot(e, d, "spicegl-static", "sgl.run=gl sgl.frames=1 sgl.hold=600", NULL);
    const struct sgl_console_event *hold = sgl_e2e_expect(vm, "gl-hold", SGL_E2E_BOOT_MS);
    guint64 frame = sgl_e2e_expect_uint(hold, "frame");
    g_usleep(2 * G_USEC_PER_SEC); /* the display path goes quiet */
    /* The refine passes end within SGL_ENCODER_REFINE_SECONDS of the
     * first (half a second after the picture): the rate is measured over
     * the last 2 s of the 6 watched, when the stream should be silent. */
    g_autoptr(JsonParser) parser = NULL;
    const char *const settle[] = {"--settle", "4", NULL};
    JsonObject *o = sgl_e2e_probe_run(e, d, 6, settle, &parser);
    double first = sgl_e2e_num(o, "psnr_avg"), final = sgl_e2e_num(o, "final_psnr");
    double pictures = sgl_e2e_num(o, "pictures"), idle = sgl_e2e_num(o, "bytes_per_s");
    print_message("# a new client was shown the held frame %" G_GUINT64_FORMAT
                  " at %.1f dB, then %.0f refined pictures: %.1f dB (%.0f bytes in the first "
                  "4 s, then %.0f bytes/s)\n",
                  frame, first, pictures - 1, final, sgl_e2e_num(o, "settle_bytes"), idle);
    /* Idle: a static desktop costs the network nothing once refined. */
    if (idle > 500)
        fail_msg("a static desktop streamed %.0f bytes/s after its refine passes, want <= 500",
                 idle);
    assert_int_equal((int)sgl_e2e_num(o, "frames"), 1);
    assert_int_equal((int)sgl_e2e_num(o, "last_frame"), (int)frame);
    assert_in_range((int)pictures, 2, 1 + sgl_e2e_guest_fps() * SGL_ENCODER_REFINE_SECONDS);
    assert_true(final >= first + 6.0);
    assert_true(final >= 40.0);
    sgl_e2e_daemon_expect_clean_log(d);
}

/* The guest reports, in order, what spicegl-probe --input sends: A and
 * right Ctrl pressed and released, a motion of (7, -3), a left click. */
static void expect_probe_input(struct sgl_vm *vm, bool absolute)
{
    /* Two devices, each with its events in the order sent: the keyboard's
     * keys, and the pointer's position (client mouse mode: the tablet,
     * (100, 50) on display 0) or motion (server mode: the mouse), then the
     * button. The guest reads one device after the other, so the two may
     * interleave either way. */
    struct expected {
        const char *type, *code;
        int value;
    };
    static const struct expected
        keyboard[] = {{"key", "30", 1}, {"key", "30", 0}, {"key", "97", 1}, {"key", "97", 0}},
        relative[] = {{"rel", "0", 7}, {"rel", "1", -3}, {"key", "272", 1}, {"key", "272", 0}},
        tablet[] = {{"abs", "0", 100}, {"abs", "1", 50}, {"key", "272", 1}, {"key", "272", 0}};
    const struct expected *mouse = absolute ? tablet : relative;
    size_t k = 0, m = 0, n_mouse = G_N_ELEMENTS(tablet);
    while (k < G_N_ELEMENTS(keyboard) || m < n_mouse) {
        /* Each wait starts after the last event found. */
        const struct sgl_console_event *ev = sgl_e2e_expect(vm, "input", 20000);
        const char *type = sgl_console_event_get(ev, "type");
        const char *code = sgl_console_event_get(ev, "code");
        long value = strtol(sgl_console_event_get(ev, "value"), NULL, 10);
        if (k < G_N_ELEMENTS(keyboard) && g_str_equal(type, keyboard[k].type) &&
            g_str_equal(code, keyboard[k].code)) {
            if (value != keyboard[k].value)
                fail_msg("key %s: value %ld, want %d", code, value, keyboard[k].value);
            k++;
        } else if (m < n_mouse && g_str_equal(type, mouse[m].type) &&
                   g_str_equal(code, mouse[m].code)) {
            if (g_str_equal(type, "abs")) {
                /* The tablet's axes run 0..32767 over the display's
                 * 1280x800: the guest's pixel within one of the client's. */
                double size = g_str_equal(code, "0") ? 1280 : 800;
                double px = value * size / 32767.0;
                print_message("# abs %s: %ld, pixel %.1f (the client's %d)\n", code, value, px,
                              mouse[m].value);
                if (fabs(px - mouse[m].value) > 1.0)
                    fail_msg("abs %s: %ld is pixel %.1f, want %d within 1", code, value, px,
                             mouse[m].value);
            } else if (value != mouse[m].value) {
                fail_msg("%s %s: value %ld, want %d", type, code, value, mouse[m].value);
            }
            m++;
        }
    }
}

/* QEMU says the VM's pointing device is absolute (its tablet): the daemon
 * offers clients client mouse mode. */
static void expect_client_mouse_mode(struct sgl_e2e_daemon *d)
{
    if (!sgl_e2e_daemon_log_wait(d, "the VM's pointing device is absolute", 30000))
        fail_msg("the daemon did not see the VM's tablet:\n%s", sgl_e2e_daemon_log(d));
}

/* The probe types A and right Ctrl, moves the pointer and clicks; the
 * guest's input devices report the same keys (KEY_A 30, KEY_RIGHTCTRL 97),
 * the motion and the left button (BTN_LEFT 272), down then up. They go
 * through QEMU's D-Bus display; QMP served only to obtain it. */
static void test_input_reaches_guest(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct sgl_e2e_daemon *d =
        sgl_e2e_daemon_start(e, "spicegl-input", &(struct sgl_e2e_daemon_options){.qmp = true});
    struct sgl_vm *vm =
        sgl_e2e_daemon_boot(e, d, "spicegl-input", "sgl.run=gl sgl.frames=0 sgl.input=1", d->qmp);
    sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    const struct sgl_console_event *devs = sgl_e2e_expect(vm, "input-devices", SGL_E2E_BOOT_MS);
    assert_true(sgl_e2e_expect_uint(devs, "count") >= 3); /* virtio keyboard, mouse, tablet */
    expect_client_mouse_mode(d);
    const char *input[] = {"--input", "--warmup", "500", NULL};
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = sgl_e2e_probe_run(e, d, 4, input, &parser);
    assert_true(json_object_get_boolean_member(o, "input_sent"));
    /* Client mouse mode: the pointer is never grabbed, and it went as a
     * position. */
    assert_int_equal((int)sgl_e2e_num(o, "input_mouse_mode"), 2);
    assert_int_equal((int)sgl_e2e_num(o, "mouse_mode"), 2);
    expect_probe_input(vm, true);
    /* Input went through QEMU's D-Bus display, and the daemon keeps no
     * QMP connection: QEMU's monitor (one client at a time) answers
     * another client. */
    g_autofree char *log = sgl_e2e_daemon_log(d);
    assert_non_null(strstr(log, "display: attached to QEMU's D-Bus display"));
    assert_non_null(strstr(log, "QMP: closed; the daemon holds no QMP connection"));
    g_autoptr(GError) error = NULL;
    g_autofree char *status = sgl_qmp_run(d->qmp, "{\"execute\":\"query-status\"}", &error);
    if (!status)
        fail_msg("QEMU's QMP did not answer a second client: %s", error->message);
    assert_non_null(strstr(status, "\"running\""));
    sgl_e2e_daemon_expect_clean_log(d);
}

/* A probe asks for 1024x576: the daemon has QEMU tell the guest, whose GL
 * program (following the preferred mode) switches, and the probe sees its
 * frames at the new size. */
static JsonObject *expect_resize_1024x576(struct sgl_e2e *e, struct sgl_e2e_daemon *d,
                                          struct sgl_vm *vm, JsonParser **parser)
{
    const char *resize[] = {"--resize", "1024x576", "--warmup", "500", NULL};
    JsonObject *o = sgl_e2e_probe_run(e, d, 8, resize, parser);
    const struct sgl_console_event *mode = sgl_e2e_expect(vm, "gl-mode", 10000);
    assert_int_equal(sgl_e2e_expect_uint(mode, "width"), 1024);
    assert_int_equal(sgl_e2e_expect_uint(mode, "height"), 576);
    assert_int_equal((int)sgl_e2e_num(o, "width"), 1024);
    assert_int_equal((int)sgl_e2e_num(o, "height"), 576);
    print_message("# the new size reached the probe %.0f ms after it asked\n",
                  sgl_e2e_num(o, "resize_ms"));
    assert_true(sgl_e2e_num(o, "psnr_avg") >= 30.0);
    g_autofree char *log = sgl_e2e_daemon_log(d);
    assert_non_null(strstr(log, "display: asked QEMU for 1024x576"));
    return o;
}

/* A client's monitor size reaches the guest through QEMU's QMP-found
 * display (expect_resize_1024x576). This VM has no tablet: the daemon says
 * so, clients stay in server mouse mode, and their motion reaches the
 * guest's mouse. */
static void test_resize(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct sgl_e2e_daemon *d = sgl_e2e_daemon_start(
        e, "spicegl-resize", &(struct sgl_e2e_daemon_options){.qmp = true, .no_tablet = true});
    struct sgl_vm *vm = sgl_e2e_daemon_boot(
        e, d, "spicegl-resize", "sgl.run=gl sgl.frames=0 sgl.follow=1 sgl.input=1", d->qmp);
    const struct sgl_console_event *start = sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    assert_int_equal(sgl_e2e_expect_uint(start, "width"), 1280);
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = expect_resize_1024x576(e, d, vm, &parser);
    /* No tablet: the daemon says so, and clients stay in server mouse
     * mode. */
    g_autofree char *log = sgl_e2e_daemon_log(d);
    assert_non_null(strstr(log, "the VM's active pointing device is not absolute: clients are "
                                "in server mouse mode"));
    assert_null(strstr(log, "the VM's pointing device is absolute"));
    assert_int_equal((int)sgl_e2e_num(o, "mouse_mode"), 1);
    /* Server mode still moves the guest's pointer: motion to its mouse. */
    const char *input[] = {"--input", "--warmup", "500", NULL};
    g_autoptr(JsonParser) input_parser = NULL;
    JsonObject *in = sgl_e2e_probe_run(e, d, 4, input, &input_parser);
    assert_true(json_object_get_boolean_member(in, "input_sent"));
    assert_int_equal((int)sgl_e2e_num(in, "input_mouse_mode"), 1);
    expect_probe_input(vm, false);
    sgl_e2e_daemon_expect_clean_log(d);
}

/* QEMU's D-Bus display on a message bus, as libvirt's <graphics
 * type='dbus'/> gives each VM, instead of QMP: the daemon, given only the
 * bus's address, finds QEMU there, and a client's keys, pointer and monitor
 * size reach the guest. QEMU runs without any QMP socket. */
static void test_display_on_a_bus(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct sgl_e2e_daemon *d =
        sgl_e2e_daemon_start(e, "spicegl-bus", &(struct sgl_e2e_daemon_options){.bus = true});
    struct sgl_vm *vm = sgl_e2e_daemon_boot(
        e, d, "spicegl-bus", "sgl.run=gl sgl.frames=0 sgl.input=1 sgl.follow=1", NULL);
    const struct sgl_console_event *start = sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    assert_int_equal(sgl_e2e_expect_uint(start, "width"), 1280);
    /* Input first, then a monitor size: the guest's reports of each come
     * in the order they were asked for. */
    expect_client_mouse_mode(d);
    const char *input[] = {"--input", "--warmup", "500", NULL};
    g_autoptr(JsonParser) input_parser = NULL;
    JsonObject *in = sgl_e2e_probe_run(e, d, 4, input, &input_parser);
    assert_true(json_object_get_boolean_member(in, "input_sent"));
    assert_int_equal((int)sgl_e2e_num(in, "input_mouse_mode"), 2);
    expect_probe_input(vm, true);
    g_autoptr(JsonParser) resize_parser = NULL;
    expect_resize_1024x576(e, d, vm, &resize_parser);
    g_autofree char *bus_log = sgl_e2e_daemon_log(d);
    g_autofree char *attached = g_strdup_printf("on the bus %s): input and monitor sizes go "
                                                "there; no QMP is used",
                                                d->bus_address);
    assert_non_null(strstr(bus_log, attached));
    assert_null(strstr(bus_log, "QMP:"));
    sgl_e2e_daemon_expect_clean_log(d);
}

/* Two monitors: the client asks for a second one; the guest's second output
 * comes up (the GL program drives it too) and streams as SPICE display 1,
 * watched by a probe of its own. */
static void test_two_displays(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct sgl_e2e_daemon *d =
        sgl_e2e_daemon_start(e, "spicegl-two", &(struct sgl_e2e_daemon_options){.qmp = true});
    struct sgl_vm *vm =
        sgl_e2e_daemon_boot(e, d, "spicegl-two", "sgl.run=gl sgl.frames=0 sgl.second=1", d->qmp);
    sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    /* The first probe enables monitor 1 at 800x600, watching display 0.
     * Its window starts a second after its first picture, however long a
     * new (instrumented) client takes to show one, as in the frame checks. */
    const char *ask[] = {"--resize", "1280x800,800x600", "--warmup", "1000", NULL};
    g_autoptr(JsonParser) p0 = NULL;
    JsonObject *o = sgl_e2e_probe_run(e, d, 3, ask, &p0);
    assert_int_equal((int)sgl_e2e_num(o, "width"), 1280);
    const struct sgl_console_event *second = sgl_e2e_expect(vm, "gl2-start", 20000);
    assert_int_equal(sgl_e2e_expect_uint(second, "width"), 800);
    assert_int_equal(sgl_e2e_expect_uint(second, "height"), 600);
    /* Display 1 carries the guest's second output. */
    g_autoptr(JsonParser) p1 = NULL;
    sgl_e2e_expect_guest_frames_on(e, d, 5, "1", 800, 600, &p1);
    sgl_e2e_daemon_expect_clean_log(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_gl_and_kmscube_through_spicegl, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_qemu_killed, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_guest_reboot, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_static_desktop_new_client, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_input_reaches_guest, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_resize, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_display_on_a_bus, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_two_displays, sgl_e2e_test_teardown),
    };
    /* SGL_TEST_FILTER=test_resize runs one test. */
    if (g_getenv("SGL_TEST_FILTER"))
        cmocka_set_test_filter(g_getenv("SGL_TEST_FILTER"));
    return cmocka_run_group_tests_name("guest-spicegl", tests, sgl_e2e_group_setup,
                                       sgl_e2e_group_teardown);
}
