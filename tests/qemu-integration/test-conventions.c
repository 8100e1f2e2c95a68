/* vhost-user.rst's "Backend program conventions": the descriptor libvirt
 * finds in /usr/share/qemu/vhost-user/, --print-capabilities, and --fd (a
 * connection handed over by the parent, as libvirt does). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qemu-integration/vhost-user/vhost-user.h"
#include "tests/harness/net.h"

static const char *builddir(void)
{
    const char *b = g_getenv("SGL_BUILDDIR");
    return b ? b : ".";
}

static void test_descriptor(void **state)
{
    g_autofree char *path =
        g_build_filename(builddir(), "qemu-integration", "40-spicegl-gpu.json", NULL);
    g_autoptr(JsonParser) p = json_parser_new();
    g_autoptr(GError) error = NULL;
    if (!json_parser_load_from_file(p, path, &error))
        fail_msg("%s: %s", path, error->message);
    JsonObject *o = json_node_get_object(json_parser_get_root(p));
    assert_string_equal(json_object_get_string_member(o, "type"), "gpu");
    const char *binary = json_object_get_string_member(o, "binary");
    assert_true(g_path_is_absolute(binary));
    assert_true(g_str_has_suffix(binary, "/spicegl-gpu"));
}

static void test_print_capabilities(void **state)
{
    g_autofree char *bin = g_build_filename(builddir(), "daemon", "spicegl-gpu", NULL);
    const char *argv[] = {bin, "--print-capabilities", NULL};
    g_autofree char *out = NULL;
    int status;
    g_autoptr(GError) error = NULL;
    assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                             &status, &error));
    assert_true(g_spawn_check_wait_status(status, NULL));
    g_autoptr(JsonParser) p = json_parser_new();
    if (!json_parser_load_from_data(p, out, -1, &error))
        fail_msg("not JSON: %s", out);
    JsonObject *o = json_node_get_object(json_parser_get_root(p));
    assert_string_equal(json_object_get_string_member(o, "type"), "gpu");
    JsonArray *features = json_object_get_array_member(o, "features");
    bool virgl = false;
    for (guint i = 0; i < json_array_get_length(features); i++)
        virgl |= g_str_equal(json_array_get_string_element(features, i), "virgl");
    assert_true(virgl);
    bool render_node = false;
    for (guint i = 0; i < json_array_get_length(features); i++)
        render_node |= g_str_equal(json_array_get_string_element(features, i), "render-node");
    assert_true(render_node);
}

/* spicegl-gpu started as libvirt starts a vhost-user GPU (--fd=3
 * --render-node=PATH --virgl), on one end of a socketpair: it answers
 * vhost-user on it, and exits cleanly when the other end (QEMU) closes.
 * QEMU's first message is already waiting when the daemon starts, and it
 * is read only once the sandbox is on. A render node that is not one
 * (/dev/null here) is said, and rendering falls back to llvmpipe. */
static void test_inherited_fd(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    g_autofree char *bin = g_build_filename(builddir(), "daemon", "spicegl-gpu", NULL);
    g_autofree char *port = g_strdup_printf("%u", sgl_test_free_port());
    g_autoptr(GSubprocessLauncher) l =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
    g_subprocess_launcher_take_fd(l, sv[0], 3);
    g_subprocess_launcher_setenv(l, "G_MESSAGES_DEBUG", "all", TRUE);
    if (g_getenv("SGL_SANITIZERS") && g_str_equal(g_getenv("SGL_SANITIZERS"), "yes"))
        g_subprocess_launcher_setenv(l, "ASAN_OPTIONS", "fast_unwind_on_malloc=1:detect_leaks=0",
                                     TRUE);
    g_autoptr(GError) error = NULL;
    g_autoptr(GSubprocess) d = g_subprocess_launcher_spawn(
        l, &error, bin, "--fd=3", "--render-node=/dev/null", "--virgl", "--port", port, NULL);
    if (!d)
        fail_msg("spicegl-gpu: %s", error->message);
    struct vu_msg_header h = {VU_GET_FEATURES, VU_FLAG_VERSION, 0};
    assert_int_equal(write(sv[1], &h, sizeof(h)), sizeof(h));
    struct {
        struct vu_msg_header h;
        uint64_t features;
    } __attribute__((packed)) r;
    assert_int_equal(read(sv[1], &r, sizeof(r)), sizeof(r));
    assert_int_equal(r.h.request, VU_GET_FEATURES);
    assert_true(r.features & (1ull << VU_F_VERSION_1));
    close(sv[1]);
    g_autofree char *out = NULL;
    assert_true(g_subprocess_communicate_utf8(d, NULL, NULL, &out, NULL, &error));
    assert_true(g_subprocess_get_if_exited(d));
    assert_int_equal(g_subprocess_get_exit_status(d), 0);
    assert_non_null(strstr(out, "QEMU went away (QEMU closed the connection): exiting"));
    assert_non_null(strstr(out, "render node /dev/null is not usable (not a DRM render node): "
                                "rendering with llvmpipe"));
    assert_non_null(strstr(out, "GPU: virtio-gpu with virgl 3D (surfaceless EGL)"));
    const char *sandbox = strstr(out, "sandbox: no_new_privs and seccomp filter on");
    const char *first = strstr(out, "vhost-user: request 1,");
    assert_non_null(sandbox);
    assert_non_null(first);
    if (first < sandbox)
        fail_msg("QEMU's first message was read before the sandbox was on:\n%s", out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_print_capabilities),
        cmocka_unit_test(test_inherited_fd),
    };
    return cmocka_run_group_tests_name("conventions", tests, NULL, NULL);
}
