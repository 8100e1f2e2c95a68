/* End to end on stock QEMU: the test guest boots under TCG with QEMU's own
 * virtio-vga-gl (virglrenderer inside QEMU, llvmpipe on the host), runs the
 * project's GL program and kmscube on Mesa's virgl driver, and reports on the
 * serial console. This is the path users have today; later tests run the
 * same guest on spicegl's backend. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gio/gio.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "tests/e2e/e2e.h"
#include "tests/harness/net.h"
#include "tests/test-util.h"

static struct sgl_vm *boot_spice(struct sgl_e2e *env, const char *name, const char *guest_args,
                                 guint xres, guint yres, guint spice_port)
{
    struct sgl_vm_config config = {
        .guest_args = guest_args,
        .gpu = SGL_VM_GPU_STOCK_VIRGL,
        .xres = xres,
        .yres = yres,
        .spice_port = spice_port,
    };
    return sgl_e2e_boot(env, name, &config);
}

static struct sgl_vm *boot(struct sgl_e2e *env, const char *name, const char *guest_args,
                           guint xres, guint yres)
{
    return boot_spice(env, name, guest_args, xres, yres, 0);
}

/* The project's GL program and kmscube render through virgl; every frame the
 * GL program presents is reported, numbered without gaps. */
static void test_stock_virgl_gl_and_kmscube(void **state)
{
    struct sgl_e2e *env = *state;
    const guint frames = 90, kmscube_frames = 120;
    g_autofree char *args = g_strdup_printf(
        "sgl.run=gl,kmscube sgl.size=1280x800 sgl.fps=30 sgl.frames=%u sgl.perframe=1 "
        "sgl.kmscube_frames=%u",
        frames, kmscube_frames);
    struct sgl_vm *vm = boot(env, "stock-virgl", args, 1280, 800);

    sgl_e2e_expect(vm, "boot", SGL_E2E_BOOT_MS);
    sgl_e2e_expect_contains(sgl_e2e_expect(vm, "drm-features", SGL_E2E_BOOT_MS), "value", "+virgl");
    const struct sgl_console_event *start = sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    assert_int_equal(sgl_e2e_expect_uint(start, "width"), 1280);
    assert_int_equal(sgl_e2e_expect_uint(start, "height"), 800);
    sgl_e2e_expect_contains(sgl_e2e_expect(vm, "gl-renderer", SGL_E2E_BOOT_MS), "renderer",
                            "virgl");
    double first_frame_s = 0;
    guint64 last_ts = 0;
    for (guint n = 0; n < frames; n++) {
        const struct sgl_console_event *f = sgl_e2e_expect(vm, "gl-frame", SGL_E2E_BOOT_MS);
        assert_int_equal(sgl_e2e_expect_uint(f, "n"), n);
        guint64 ts = sgl_e2e_expect_uint(f, "ts");
        assert_true(ts > last_ts);
        last_ts = ts;
        if (n == 0)
            first_frame_s = sgl_vm_elapsed(vm);
    }
    const struct sgl_console_event *result = sgl_e2e_expect(vm, "gl-result", SGL_E2E_BOOT_MS);
    double result_s = sgl_vm_elapsed(vm);
    sgl_e2e_expect_field(result, "status", "ok");
    assert_int_equal(sgl_e2e_expect_uint(result, "presented"), frames);
    assert_int_equal(sgl_e2e_expect_uint(result, "last"), frames - 1);

    const struct sgl_console_event *cube = sgl_e2e_expect(vm, "kmscube-result", SGL_E2E_BOOT_MS);
    sgl_e2e_expect_field(cube, "status", "ok");
    sgl_e2e_expect_contains(cube, "renderer", "virgl");
    /* kmscube counts frames after its first. */
    assert_true(sgl_e2e_expect_uint(cube, "frames") >= kmscube_frames - 1);
    sgl_e2e_expect_field(sgl_e2e_expect(vm, "done", SGL_E2E_BOOT_MS), "status", "ok");
    sgl_e2e_expect_clean_exit(vm);
    print_message("# first GL frame %.1f s after QEMU start; GL result at %.1f s; guest GL fps "
                  "%s (target 30); kmscube fps %s; total %.1f s\n",
                  first_frame_s, result_s, sgl_console_event_get(result, "fps"),
                  sgl_console_event_get(cube, "fps"), sgl_vm_elapsed(vm));
}

/* A size the connector does not list: the GL program sets its own mode. */
static void test_gl_program_custom_mode(void **state)
{
    struct sgl_e2e *env = *state;
    struct sgl_vm *vm = boot(env, "stock-virgl-custom-mode",
                             "sgl.run=gl sgl.size=1366x768 sgl.frames=30", 1024, 768);
    const struct sgl_console_event *start = sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    assert_int_equal(sgl_e2e_expect_uint(start, "width"), 1366);
    assert_int_equal(sgl_e2e_expect_uint(start, "height"), 768);
    const struct sgl_console_event *result = sgl_e2e_expect(vm, "gl-result", SGL_E2E_BOOT_MS);
    sgl_e2e_expect_field(result, "status", "ok");
    assert_int_equal(sgl_e2e_expect_uint(result, "presented"), 30);
    sgl_e2e_expect_field(sgl_e2e_expect(vm, "done", SGL_E2E_BOOT_MS), "status", "ok");
    sgl_e2e_expect_clean_exit(vm);
}

/* A workload that fails is reported as a failure, not lost. */
static void test_guest_failure_is_reported(void **state)
{
    struct sgl_e2e *env = *state;
    struct sgl_vm *vm = boot(env, "stock-virgl-failure", "sgl.run=gl,nosuch sgl.frames=5", 0, 0);
    sgl_e2e_expect_field(sgl_e2e_expect(vm, "gl-result", SGL_E2E_BOOT_MS), "status", "ok");
    const struct sgl_console_event *w = sgl_e2e_expect(vm, "workload", SGL_E2E_BOOT_MS);
    sgl_e2e_expect_field(w, "name", "gl");
    sgl_e2e_expect_field(w, "rc", "0");
    w = sgl_e2e_expect(vm, "workload", SGL_E2E_BOOT_MS);
    sgl_e2e_expect_field(w, "name", "nosuch");
    assert_string_not_equal(sgl_console_event_get(w, "rc"), "0");
    sgl_e2e_expect_field(sgl_e2e_expect(vm, "done", SGL_E2E_BOOT_MS), "status", "error");
    sgl_e2e_expect_clean_exit(vm);
}

/* The pixels: the guest's GL frames, rendered by virgl, read back by
 * egl-headless and sent by stock QEMU SPICE (gl off), reach spicegl-probe,
 * which decodes every marker and compares each frame with the one it
 * regenerates. PSNR can only be high if the guest drew exactly the scene. */
static void test_stock_spice_pixels(void **state)
{
    struct sgl_e2e *env = *state;
    guint16 port = sgl_test_free_port();
    assert_int_not_equal(port, 0);
    struct sgl_vm *vm = boot_spice(env, "stock-virgl-spice",
                                   "sgl.run=gl sgl.size=1280x800 sgl.frames=0", 1280, 800, port);
    sgl_e2e_expect(vm, "gl-start", SGL_E2E_BOOT_MS);
    g_autofree char *probe = g_build_filename(env->builddir, "client-test", "spicegl-probe", NULL);
    g_autofree char *uri = g_strdup_printf("spice://127.0.0.1:%u", port);
    const char *argv[] = {probe, uri, "--seconds", "6", "--json", NULL};
    g_autofree char *out = NULL;
    int status = -1;
    g_autoptr(GError) error = NULL;
    /* Talking to stock QEMU's SPICE (its 2D image types and extra channels),
     * spice-gtk 0.42 leaks ~90 bytes on its own coroutines, which fails a
     * sanitized probe at exit. This test is about the guest's pixels; the
     * probe's own leak checks run against spicegl-gpu in test-spice-stream. */
    g_auto(GStrv) envp = g_get_environ();
    const char *asan = g_environ_getenv(envp, "ASAN_OPTIONS");
    g_autofree char *no_leaks =
        g_strdup_printf("%s%sdetect_leaks=0", asan ? asan : "", asan && *asan ? ":" : "");
    envp = g_environ_setenv(envp, "ASAN_OPTIONS", no_leaks, TRUE);
    if (!g_spawn_sync(NULL, (char **)argv, envp, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status,
                      &error))
        fail_msg("spicegl-probe: %s", error->message);
    sgl_test_diagnostic("probe over stock QEMU SPICE", out);
    assert_true(g_spawn_check_wait_status(status, NULL));
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_data(parser, out, -1, &error))
        fail_msg("no JSON from the probe: %s", out);
    JsonObject *o = json_node_get_object(json_parser_get_root(parser));
    assert_true(json_object_get_double_member(o, "frames") >= 90);
    assert_int_equal((int)json_object_get_double_member(o, "width"), 1280);
    assert_int_equal((int)json_object_get_double_member(o, "height"), 800);
    assert_true(json_object_get_double_member(o, "psnr_avg") >= 30.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_stock_virgl_gl_and_kmscube, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_gl_program_custom_mode, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_guest_failure_is_reported, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_stock_spice_pixels, sgl_e2e_test_teardown),
    };
    return cmocka_run_group_tests_name("guest-stock", tests, sgl_e2e_group_setup,
                                       sgl_e2e_group_teardown);
}
