/* What libvirt reads to find and vet the backend: the descriptor installed
 * in /usr/share/qemu/vhost-user/ and --print-capabilities (vhost-user.rst,
 * "Backend program conventions"). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <json-glib/json-glib.h>

static const char *builddir(void)
{
    const char *b = g_getenv("SGL_BUILDDIR");
    return b ? b : ".";
}

static void test_descriptor(void **state)
{
    g_autofree char *path =
        g_build_filename(builddir(), "qemu-integration", "50-spicegl-gpu.json", NULL);
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
    g_autofree char *bin = g_build_filename(builddir(), "spice-gl", "spicegl-gpu", NULL);
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_print_capabilities),
    };
    return cmocka_run_group_tests_name("descriptor", tests, NULL, NULL);
}
