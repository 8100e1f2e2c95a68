#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/harness/console.h"

static void test_parse_fields(void **state)
{
    struct sgl_console_event *ev = sgl_console_event_parse(
        "@@SGL gl-result status=ok presented=90 fps=30.01 renderer=\"virgl (LLVMPIPE)\"\r\n");
    assert_non_null(ev);
    assert_string_equal(ev->name, "gl-result");
    assert_string_equal(sgl_console_event_get(ev, "status"), "ok");
    assert_string_equal(sgl_console_event_get(ev, "fps"), "30.01");
    assert_string_equal(sgl_console_event_get(ev, "renderer"), "virgl (LLVMPIPE)");
    guint64 v = 0;
    assert_true(sgl_console_event_get_uint(ev, "presented", &v));
    assert_int_equal(v, 90);
    assert_false(sgl_console_event_get_uint(ev, "fps", &v));
    assert_false(sgl_console_event_get_uint(ev, "status", &v));
    assert_false(sgl_console_event_get_uint(ev, "missing", &v));
    assert_null(sgl_console_event_get(ev, "missing"));
    assert_string_equal(
        ev->line, "@@SGL gl-result status=ok presented=90 fps=30.01 renderer=\"virgl (LLVMPIPE)\"");
    sgl_console_event_destroy(ev);
}

/* Kernel messages can land on the same line before our output. */
static void test_prefix_mid_line_and_no_fields(void **state)
{
    struct sgl_console_event *ev = sgl_console_event_parse("[   3.1] random: x@@SGL done");
    assert_non_null(ev);
    assert_string_equal(ev->name, "done");
    assert_int_equal(g_hash_table_size(ev->fields), 0);
    sgl_console_event_destroy(ev);
    ev = sgl_console_event_parse("@@SGL drm-features value=\"\"");
    assert_non_null(ev);
    assert_string_equal(sgl_console_event_get(ev, "value"), "");
    sgl_console_event_destroy(ev);
}

/* A reset cut an event short: the next boot's event on the same line is
 * the one read. */
static void test_event_cut_by_reset(void **state)
{
    struct sgl_console_event *ev = sgl_console_event_parse(
        "@@SGL gl-renderer renderer=\"virgl (LLVMPIPE (LLVM 15.@@SGL boot kernel=6.1.0-57-amd64");
    assert_non_null(ev);
    assert_string_equal(ev->name, "boot");
    assert_string_equal(sgl_console_event_get(ev, "kernel"), "6.1.0-57-amd64");
    sgl_console_event_destroy(ev);
}

static void test_not_events(void **state)
{
    const char *lines[] = {
        "",
        "[    8.8] reboot: Power down",
        "@@SGL",
        "@@SGL ",
        "@@SGLdone",
        "@@SGL x key",
        "@@SGL x =v",
        "@@SGL x key=\"unterminated",
        "@@SGL x k=\"a\"b",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        assert_null(sgl_console_event_parse(lines[i]));
    assert_null(sgl_console_event_parse(NULL));
    sgl_console_event_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_prefix_mid_line_and_no_fields),
        cmocka_unit_test(test_event_cut_by_reset),
        cmocka_unit_test(test_not_events),
    };
    return cmocka_run_group_tests_name("console", tests, NULL, NULL);
}
