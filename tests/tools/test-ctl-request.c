/* spicegl-ctl's command line: the request line each command sends, and
 * each usage mistake refused with its message before anything is sent. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib/gstdio.h>

#include "tools/ctl-request.h"

/* Parses "spicegl-ctl ARGS" (space-separated). */
static bool parse(const char *args, const char *stdin_ticket, struct spicegl_ctl_invocation *inv,
                  GError **error)
{
    g_autofree char *line = g_strconcat("spicegl-ctl ", args, NULL);
    g_auto(GStrv) argv = g_strsplit(line, " ", -1);
    return spicegl_ctl_parse(inv, (int)g_strv_length(argv), argv, stdin_ticket, error);
}

static void test_requests(void **state)
{
    (void)state;
    static const struct {
        const char *args, *stdin_ticket, *request;
    } cases[] = {
        {"-c /run/x.sock status", NULL, "{\"execute\":\"status\",\"arguments\":{}}\n"},
        {"--control /run/x.sock --json clients", NULL,
         "{\"execute\":\"clients\",\"arguments\":{}}\n"},
        {"-c s stats", NULL, "{\"execute\":\"stats\",\"arguments\":{}}\n"},
        {"-c s metrics", NULL, "{\"execute\":\"metrics\",\"arguments\":{}}\n"},
        {"-c s disconnect 4294967295", NULL,
         "{\"execute\":\"disconnect\",\"arguments\":{\"id\":4294967295}}\n"},
        {"-c s set-ticket --lifetime 60 --disconnect", "s3cret\n",
         "{\"execute\":\"set-ticket\",\"arguments\":{\"lifetime\":60,\"disconnect\":true,"
         "\"ticket\":\"s3cret\"}}\n"},
        {"-c s expire-ticket", NULL, "{\"execute\":\"expire-ticket\",\"arguments\":{}}\n"},
        {"-c s expire-ticket --in 30", NULL,
         "{\"execute\":\"expire-ticket\",\"arguments\":{\"in\":30}}\n"},
        {"-c s screenshot --display 1 out.png", NULL,
         "{\"execute\":\"screenshot\",\"arguments\":{\"display\":1}}\n"},
        {"-c s send {\"execute\":\"x\"}", NULL, "{\"execute\":\"x\"}\n"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct spicegl_ctl_invocation inv;
        g_autoptr(GError) error = NULL;
        if (!parse(cases[i].args, cases[i].stdin_ticket, &inv, &error))
            fail_msg("%s: %s", cases[i].args, error->message);
        assert_string_equal(inv.request, cases[i].request);
        spicegl_ctl_finish(&inv);
    }
    struct spicegl_ctl_invocation inv;
    assert_true(parse("--json -c s screenshot out.png", NULL, &inv, NULL));
    assert_true(inv.json);
    assert_string_equal(inv.control, "s");
    assert_string_equal(inv.output, "out.png");
    spicegl_ctl_finish(&inv);

    /* The environment names the socket when --control does not. */
    g_setenv("SPICEGL_CONTROL", "/run/env.sock", TRUE);
    assert_true(parse("status", NULL, &inv, NULL));
    assert_string_equal(inv.control, "/run/env.sock");
    spicegl_ctl_finish(&inv);
    g_unsetenv("SPICEGL_CONTROL");
}

/* A ticket from a file; the command line never carries it. */
static void test_ticket_file(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("sgl-ctl-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "ticket", NULL);
    assert_true(g_file_set_contents(file, "  from-file\n", -1, NULL));
    g_autofree char *args = g_strdup_printf("-c s set-ticket --ticket-file %s", file);
    struct spicegl_ctl_invocation inv;
    assert_true(parse(args, "ignored\n", &inv, NULL));
    assert_string_equal(inv.request,
                        "{\"execute\":\"set-ticket\",\"arguments\":{\"ticket\":\"from-file\"}}\n");
    spicegl_ctl_finish(&inv);
    g_unlink(file);
    g_rmdir(dir);

    char *words_stdin[] = {"spicegl-ctl", "-c", "s", "set-ticket", NULL};
    char *words_file[] = {"spicegl-ctl", "-c", "s", "set-ticket", "--ticket-file", "f", NULL};
    char *words_other[] = {"spicegl-ctl", "-c", "s", "status", NULL};
    assert_true(spicegl_ctl_wants_stdin_ticket(4, words_stdin));
    assert_false(spicegl_ctl_wants_stdin_ticket(6, words_file));
    assert_false(spicegl_ctl_wants_stdin_ticket(4, words_other));
}

static void test_usage_errors(void **state)
{
    (void)state;
    g_unsetenv("SPICEGL_CONTROL");
    static const struct {
        const char *args, *message;
    } cases[] = {
        {"status", "which daemon? give --control PATH (its --control socket) or set "
                   "SPICEGL_CONTROL"},
        {"-c s", "no command"},
        {"-c s --bogus status", "unknown option '--bogus'"},
        {"-c s reboot", "no command 'reboot'"},
        {"-c s status extra", "status: unexpected argument 'extra'"},
        {"-c s disconnect", "disconnect needs the client's ID (see clients)"},
        {"-c s disconnect -1", "disconnect wants a number from 0 to 4294967295 (got '-1')"},
        {"-c s disconnect 12x", "disconnect wants a number from 0 to 4294967295 (got '12x')"},
        {"-c s set-ticket", "set-ticket: no ticket: give --ticket-file FILE or the ticket on "
                            "standard input"},
        {"-c s set-ticket --lifetime 99999999",
         "--lifetime wants a number from 0 to 31622400 (got '99999999')"},
        {"-c s expire-ticket --in soon", "--in wants a number from 0 to 31622400 (got 'soon')"},
        {"-c s screenshot", "screenshot needs the PNG file to write"},
        {"-c s screenshot --display 16 x.png", "--display wants a number from 0 to 15 (got '16')"},
        {"-c s send", "send needs a JSON request"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct spicegl_ctl_invocation inv;
        g_autoptr(GError) error = NULL;
        bool ok = parse(cases[i].args, NULL, &inv, &error);
        spicegl_ctl_finish(&inv);
        if (ok)
            fail_msg("accepted: %s", cases[i].args);
        if (strcmp(error->message, cases[i].message))
            fail_msg("%s: got '%s', want '%s'", cases[i].args, error->message, cases[i].message);
    }
    /* GLib's own words follow (they depend on the locale). */
    struct spicegl_ctl_invocation inv;
    g_autoptr(GError) error = NULL;
    assert_false(parse("-c s set-ticket --ticket-file /nonexistent/t", NULL, &inv, &error));
    spicegl_ctl_finish(&inv);
    assert_true(g_str_has_prefix(error->message, "--ticket-file: "));
    assert_non_null(strstr(error->message, "/nonexistent/t"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_ticket_file),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
