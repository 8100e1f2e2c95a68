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

#include "tests/harness/guest-image.h"
#include "tests/harness/vm.h"
#include "tests/harness/net.h"
#include "tests/test-util.h"

#define BOOT_TO_RESULT_MS 60000
#define EXIT_MS           30000

struct env {
    struct sgl_guest_image image;
    char *problem; /* why the end-to-end tests cannot run here, or NULL */
    const char *builddir;
    struct sgl_vm *vm;
};

static gboolean qemu_usable(char **problem)
{
    const char *qemu = g_getenv("QEMU");
    if (!qemu || !*qemu)
        qemu = "qemu-system-x86_64";
    g_autofree char *out = NULL;
    const char *argv[] = {qemu, "--version", NULL};
    int status;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, &status, NULL) ||
        !g_spawn_check_wait_status(status, NULL)) {
        *problem = g_strdup_printf("%s does not run: run scripts/setup as root", qemu);
        return FALSE;
    }
    unsigned major = 0;
    const char *v = strstr(out, "version ");
    if (!v || sscanf(v, "version %u.", &major) != 1 || major < 10) {
        *problem = g_strdup_printf("%s is older than 10.0: run scripts/setup as root", qemu);
        return FALSE;
    }
    return TRUE;
}

static int group_setup(void **state)
{
    sgl_test_heavy_lock();
    struct env *env = g_new0(struct env, 1);
    const char *srcdir = g_getenv("SGL_SRCDIR"), *builddir = g_getenv("SGL_BUILDDIR");
    env->builddir = builddir ? builddir : ".";
    g_autoptr(GError) error = NULL;
    if (!srcdir || !builddir)
        env->problem = g_strdup("SGL_SRCDIR/SGL_BUILDDIR unset: run through make check");
    else if (qemu_usable(&env->problem) &&
             !sgl_guest_image_init(&env->image, srcdir, builddir, &error))
        env->problem = g_strdup_printf("no test guest: %s", error->message);
    *state = env;
    return 0;
}

static int group_teardown(void **state)
{
    struct env *env = *state;
    sgl_guest_image_finish(&env->image);
    g_free(env->problem);
    g_free(env);
    return 0;
}

static int test_teardown(void **state)
{
    struct env *env = *state;
    g_clear_pointer(&env->vm, sgl_vm_destroy);
    return 0;
}

static struct sgl_vm *boot_spice(struct env *env, const char *name, const char *guest_args,
                                 guint xres, guint yres, guint spice_port);

static struct sgl_vm *boot(struct env *env, const char *name, const char *guest_args, guint xres,
                           guint yres)
{
    return boot_spice(env, name, guest_args, xres, yres, 0);
}

static struct sgl_vm *boot_spice(struct env *env, const char *name, const char *guest_args,
                                 guint xres, guint yres, guint spice_port)
{
    SGL_REQUIRE(env->problem == NULL, "%s", env->problem);
    g_autofree char *log = g_strdup_printf("%s/tests/e2e/%s.console.log", env->builddir, name);
    struct sgl_vm_config config = {
        .kernel = env->image.kernel,
        .initrd = env->image.initrd,
        .guest_args = guest_args,
        .gpu = SGL_VM_GPU_STOCK_VIRGL,
        .xres = xres,
        .yres = yres,
        .spice_port = spice_port,
        .log_path = log,
    };
    g_autoptr(GError) error = NULL;
    env->vm = sgl_vm_create(&config, &error);
    if (!env->vm)
        fail_msg("QEMU did not start: %s", error->message);
    print_message("# %s: console log %s\n", name, log);
    return env->vm;
}

static const struct sgl_console_event *expect(struct sgl_vm *vm, const char *name, int timeout_ms)
{
    g_autoptr(GError) error = NULL;
    const struct sgl_console_event *ev = sgl_vm_wait(vm, name, timeout_ms, &error);
    if (!ev)
        fail_msg("%s", error->message);
    return ev;
}

static guint64 expect_uint(const struct sgl_console_event *ev, const char *key)
{
    guint64 v = 0;
    if (!sgl_console_event_get_uint(ev, key, &v))
        fail_msg("'%s' has no number %s: %s", ev->name, key, ev->line);
    return v;
}

static void expect_field(const struct sgl_console_event *ev, const char *key, const char *want)
{
    const char *got = sgl_console_event_get(ev, key);
    if (!got || !g_str_equal(got, want))
        fail_msg("'%s' wants %s=%s: %s", ev->name, key, want, ev->line);
}

static void expect_contains(const struct sgl_console_event *ev, const char *key, const char *want)
{
    const char *got = sgl_console_event_get(ev, key);
    if (!got || !strstr(got, want))
        fail_msg("'%s' wants %s containing '%s': %s", ev->name, key, want, ev->line);
}

static void expect_clean_exit(struct sgl_vm *vm)
{
    int status = -1;
    g_autoptr(GError) error = NULL;
    if (!sgl_vm_wait_exit(vm, EXIT_MS, &status, &error))
        fail_msg("%s", error->message);
    assert_int_equal(status, 0);
}

/* The project's GL program and kmscube render through virgl; every frame the
 * GL program presents is reported, numbered without gaps. */
static void test_stock_virgl_gl_and_kmscube(void **state)
{
    struct env *env = *state;
    const guint frames = 90, kmscube_frames = 120;
    g_autofree char *args = g_strdup_printf(
        "sgl.run=gl,kmscube sgl.size=1280x800 sgl.fps=30 sgl.frames=%u sgl.perframe=1 "
        "sgl.kmscube_frames=%u",
        frames, kmscube_frames);
    struct sgl_vm *vm = boot(env, "stock-virgl", args, 1280, 800);

    expect(vm, "boot", BOOT_TO_RESULT_MS);
    expect_contains(expect(vm, "drm-features", BOOT_TO_RESULT_MS), "value", "+virgl");
    const struct sgl_console_event *start = expect(vm, "gl-start", BOOT_TO_RESULT_MS);
    assert_int_equal(expect_uint(start, "width"), 1280);
    assert_int_equal(expect_uint(start, "height"), 800);
    expect_contains(expect(vm, "gl-renderer", BOOT_TO_RESULT_MS), "renderer", "virgl");
    double first_frame_s = 0;
    guint64 last_ts = 0;
    for (guint n = 0; n < frames; n++) {
        const struct sgl_console_event *f = expect(vm, "gl-frame", BOOT_TO_RESULT_MS);
        assert_int_equal(expect_uint(f, "n"), n);
        guint64 ts = expect_uint(f, "ts");
        assert_true(ts > last_ts);
        last_ts = ts;
        if (n == 0)
            first_frame_s = sgl_vm_elapsed(vm);
    }
    const struct sgl_console_event *result = expect(vm, "gl-result", BOOT_TO_RESULT_MS);
    double result_s = sgl_vm_elapsed(vm);
    expect_field(result, "status", "ok");
    assert_int_equal(expect_uint(result, "presented"), frames);
    assert_int_equal(expect_uint(result, "last"), frames - 1);

    const struct sgl_console_event *cube = expect(vm, "kmscube-result", BOOT_TO_RESULT_MS);
    expect_field(cube, "status", "ok");
    expect_contains(cube, "renderer", "virgl");
    /* kmscube counts frames after its first. */
    assert_true(expect_uint(cube, "frames") >= kmscube_frames - 1);
    expect_field(expect(vm, "done", BOOT_TO_RESULT_MS), "status", "ok");
    expect_clean_exit(vm);
    print_message("# first GL frame %.1f s after QEMU start; GL result at %.1f s; guest GL fps "
                  "%s (target 30); kmscube fps %s; total %.1f s\n",
                  first_frame_s, result_s, sgl_console_event_get(result, "fps"),
                  sgl_console_event_get(cube, "fps"), sgl_vm_elapsed(vm));
}

/* A size the connector does not list: the GL program sets its own mode. */
static void test_gl_program_custom_mode(void **state)
{
    struct env *env = *state;
    struct sgl_vm *vm = boot(env, "stock-virgl-custom-mode",
                             "sgl.run=gl sgl.size=1366x768 sgl.frames=30", 1024, 768);
    const struct sgl_console_event *start = expect(vm, "gl-start", BOOT_TO_RESULT_MS);
    assert_int_equal(expect_uint(start, "width"), 1366);
    assert_int_equal(expect_uint(start, "height"), 768);
    const struct sgl_console_event *result = expect(vm, "gl-result", BOOT_TO_RESULT_MS);
    expect_field(result, "status", "ok");
    assert_int_equal(expect_uint(result, "presented"), 30);
    expect_field(expect(vm, "done", BOOT_TO_RESULT_MS), "status", "ok");
    expect_clean_exit(vm);
}

/* A workload that fails is reported as a failure, not lost. */
static void test_guest_failure_is_reported(void **state)
{
    struct env *env = *state;
    struct sgl_vm *vm = boot(env, "stock-virgl-failure", "sgl.run=gl,nosuch sgl.frames=5", 0, 0);
    expect_field(expect(vm, "gl-result", BOOT_TO_RESULT_MS), "status", "ok");
    const struct sgl_console_event *w = expect(vm, "workload", BOOT_TO_RESULT_MS);
    expect_field(w, "name", "gl");
    expect_field(w, "rc", "0");
    w = expect(vm, "workload", BOOT_TO_RESULT_MS);
    expect_field(w, "name", "nosuch");
    assert_string_not_equal(sgl_console_event_get(w, "rc"), "0");
    expect_field(expect(vm, "done", BOOT_TO_RESULT_MS), "status", "error");
    expect_clean_exit(vm);
}

/* The pixels: the guest's GL frames, rendered by virgl, read back by
 * egl-headless and sent by stock QEMU SPICE (gl off), reach spicegl-probe,
 * which decodes every marker and compares each frame with the one it
 * regenerates. PSNR can only be high if the guest drew exactly the scene. */
static void test_stock_spice_pixels(void **state)
{
    struct env *env = *state;
    guint16 port = sgl_test_free_port();
    assert_int_not_equal(port, 0);
    struct sgl_vm *vm = boot_spice(env, "stock-virgl-spice",
                                   "sgl.run=gl sgl.size=1280x800 sgl.frames=0", 1280, 800, port);
    expect(vm, "gl-start", BOOT_TO_RESULT_MS);
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
    print_message("# probe over stock QEMU SPICE: %s", out);
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
        cmocka_unit_test_teardown(test_stock_virgl_gl_and_kmscube, test_teardown),
        cmocka_unit_test_teardown(test_gl_program_custom_mode, test_teardown),
        cmocka_unit_test_teardown(test_guest_failure_is_reported, test_teardown),
        cmocka_unit_test_teardown(test_stock_spice_pixels, test_teardown),
    };
    return cmocka_run_group_tests_name("guest-stock", tests, group_setup, group_teardown);
}
