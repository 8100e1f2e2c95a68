/* The control socket's messages: every command's request parsed into its
 * fields; each malformed request refused with its class and exact message;
 * replies carry the request's id. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/control-protocol.h"

static void parse_ok(const char *line, struct sgl_control_request *req)
{
    g_autoptr(GError) error = NULL;
    bool ok = sgl_control_parse(line, strlen(line), req, &error);
    if (!ok)
        fail_msg("%s: %s", line, error->message);
}

static void test_commands(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        enum sgl_control_command command;
    } plain[] = {
        {"{\"execute\":\"status\"}", SGL_CONTROL_STATUS},
        {"{\"execute\":\"clients\",\"arguments\":{}}", SGL_CONTROL_CLIENTS},
        {"{\"execute\":\"stats\",\"id\":\"x\"}", SGL_CONTROL_STATS},
        {"{\"execute\":\"metrics\"}", SGL_CONTROL_METRICS},
    };
    struct sgl_control_request req;
    for (size_t i = 0; i < G_N_ELEMENTS(plain); i++) {
        parse_ok(plain[i].line, &req);
        assert_int_equal(req.command, plain[i].command);
        sgl_control_request_finish(&req);
    }

    parse_ok("{\"execute\":\"set-ticket\",\"arguments\":{\"ticket\":\"s3cret\",\"lifetime\":60,"
             "\"disconnect\":true},\"id\":1}",
             &req);
    assert_int_equal(req.command, SGL_CONTROL_SET_TICKET);
    assert_string_equal(req.set_ticket.ticket, "s3cret");
    assert_int_equal(req.set_ticket.lifetime_s, 60);
    assert_true(req.set_ticket.disconnect);
    assert_int_equal(json_node_get_int(req.id), 1);
    sgl_control_request_finish(&req);
    assert_string_equal(req.set_ticket.ticket, ""); /* not kept */

    parse_ok("{\"execute\":\"set-ticket\",\"arguments\":{\"ticket\":\"t\"}}", &req);
    assert_int_equal(req.set_ticket.lifetime_s, 0);
    assert_false(req.set_ticket.disconnect);
    assert_null(req.id);
    sgl_control_request_finish(&req);

    parse_ok("{\"execute\":\"expire-ticket\"}", &req);
    assert_int_equal(req.expire_ticket.in_s, 0);
    sgl_control_request_finish(&req);
    parse_ok("{\"execute\":\"expire-ticket\",\"arguments\":{\"in\":30}}", &req);
    assert_int_equal(req.expire_ticket.in_s, 30);
    sgl_control_request_finish(&req);

    parse_ok("{\"execute\":\"disconnect\",\"arguments\":{\"id\":4294967295}}", &req);
    assert_int_equal(req.disconnect.connection_id, 4294967295u);
    sgl_control_request_finish(&req);

    parse_ok("{\"execute\":\"screenshot\"}", &req);
    assert_int_equal(req.screenshot.display, 0);
    sgl_control_request_finish(&req);
    parse_ok("{\"execute\":\"screenshot\",\"arguments\":{\"display\":1}}", &req);
    assert_int_equal(req.screenshot.display, 1);
    sgl_control_request_finish(&req);
}

struct bad_case {
    const char *line;
    enum sgl_control_error code;
    const char *message;
};

static const struct bad_case bad_cases[] = {
    {"", SGL_CONTROL_ERROR_PARSE, NULL},
    {"garbage", SGL_CONTROL_ERROR_PARSE, NULL},
    {"{\"execute\":\"status\"", SGL_CONTROL_ERROR_PARSE, NULL},
    {"[1,2]", SGL_CONTROL_ERROR_PARSE, "a request is one JSON object a line"},
    {"42", SGL_CONTROL_ERROR_PARSE, "a request is one JSON object a line"},
    {"{}", SGL_CONTROL_ERROR_REQUEST, "'execute' must name a command"},
    {"{\"execute\":7}", SGL_CONTROL_ERROR_REQUEST, "'execute' must name a command"},
    {"{\"execute\":null}", SGL_CONTROL_ERROR_REQUEST, "'execute' must name a command"},
    {"{\"execute\":\"status\",\"extra\":1}", SGL_CONTROL_ERROR_REQUEST,
     "unknown member 'extra' (a request has execute, arguments and id)"},
    {"{\"execute\":\"status\",\"arguments\":[]}", SGL_CONTROL_ERROR_REQUEST,
     "'arguments' must be an object"},
    {"{\"execute\":\"reboot\"}", SGL_CONTROL_ERROR_COMMAND, "no command 'reboot'"},
    {"{\"execute\":\"status\",\"arguments\":{\"x\":1}}", SGL_CONTROL_ERROR_ARGUMENT,
     "status takes no argument 'x'"},
    {"{\"execute\":\"set-ticket\"}", SGL_CONTROL_ERROR_ARGUMENT, "set-ticket needs 'ticket'"},
    {"{\"execute\":\"set-ticket\",\"arguments\":{\"ticket\":5}}", SGL_CONTROL_ERROR_ARGUMENT,
     "set-ticket: 'ticket' must be a string"},
    {"{\"execute\":\"set-ticket\",\"arguments\":{\"ticket\":\"\"}}", SGL_CONTROL_ERROR_ARGUMENT,
     "set-ticket: 'ticket' must be 1 to 59 bytes (got 0)"},
    {"{\"execute\":\"set-ticket\",\"arguments\":{\"ticket\":"
     "\"123456789012345678901234567890123456789012345678901234567890\"}}",
     SGL_CONTROL_ERROR_ARGUMENT, "set-ticket: 'ticket' must be 1 to 59 bytes (got 60)"},
    {"{\"execute\":\"set-ticket\",\"arguments\":{\"ticket\":\"a\",\"lifetime\":-1}}",
     SGL_CONTROL_ERROR_ARGUMENT, "set-ticket: 'lifetime' must be an integer from 0 to 31622400"},
    {"{\"execute\":\"set-ticket\",\"arguments\":{\"ticket\":\"a\",\"lifetime\":1.5}}",
     SGL_CONTROL_ERROR_ARGUMENT, "set-ticket: 'lifetime' must be an integer from 0 to 31622400"},
    {"{\"execute\":\"set-ticket\",\"arguments\":{\"ticket\":\"a\",\"lifetime\":99999999}}",
     SGL_CONTROL_ERROR_ARGUMENT, "set-ticket: 'lifetime' must be an integer from 0 to 31622400"},
    {"{\"execute\":\"set-ticket\",\"arguments\":{\"ticket\":\"a\",\"disconnect\":1}}",
     SGL_CONTROL_ERROR_ARGUMENT, "set-ticket: 'disconnect' must be true or false"},
    {"{\"execute\":\"disconnect\"}", SGL_CONTROL_ERROR_ARGUMENT, "disconnect needs 'id'"},
    {"{\"execute\":\"disconnect\",\"arguments\":{\"id\":4294967296}}", SGL_CONTROL_ERROR_ARGUMENT,
     "disconnect: 'id' must be an integer from 0 to 4294967295"},
    {"{\"execute\":\"disconnect\",\"arguments\":{\"id\":\"7\"}}", SGL_CONTROL_ERROR_ARGUMENT,
     "disconnect: 'id' must be an integer from 0 to 4294967295"},
    {"{\"execute\":\"screenshot\",\"arguments\":{\"display\":16}}", SGL_CONTROL_ERROR_ARGUMENT,
     "screenshot: 'display' must be an integer from 0 to 15"},
    {"{\"execute\":\"expire-ticket\",\"arguments\":{\"in\":{}}}", SGL_CONTROL_ERROR_ARGUMENT,
     "expire-ticket: 'in' must be an integer from 0 to 31622400"},
};

static void test_bad_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct sgl_control_request req;
        g_autoptr(GError) error = NULL;
        bool ok = sgl_control_parse(c->line, strlen(c->line), &req, &error);
        sgl_control_request_finish(&req);
        if (ok)
            fail_msg("accepted: %s", c->line);
        if (error->code != (int)c->code || (c->message && strcmp(error->message, c->message)))
            fail_msg("%s: got %s '%s', want %s '%s'", c->line, sgl_control_error_class(error->code),
                     error->message, sgl_control_error_class(c->code),
                     c->message ? c->message : "(any)");
    }
}

/* A NUL inside the line, and a line at the limit. */
static void test_bytes(void **state)
{
    (void)state;
    struct sgl_control_request req;
    g_autoptr(GError) error = NULL;
    static const char nul[] = "{\"execute\":\"status\"}\0junk";
    assert_false(sgl_control_parse(nul, sizeof(nul) - 1, &req, &error));
    sgl_control_request_finish(&req);
    assert_int_equal(error->code, SGL_CONTROL_ERROR_PARSE);
    assert_string_equal(error->message, "the request holds a NUL byte");
    g_clear_error(&error);

    g_autofree char *long_line = g_malloc(SGL_CONTROL_MAX_LINE);
    memset(long_line, ' ', SGL_CONTROL_MAX_LINE);
    assert_false(sgl_control_parse(long_line, SGL_CONTROL_MAX_LINE, &req, &error));
    sgl_control_request_finish(&req);
    assert_int_equal(error->code, SGL_CONTROL_ERROR_TOO_LONG);
    g_clear_error(&error);
    /* One byte shorter (with its newline, at the limit): padding is fine. */
    const char *status = "{\"execute\":\"status\"}";
    memcpy(long_line, status, strlen(status));
    assert_true(sgl_control_parse(long_line, SGL_CONTROL_MAX_LINE - 1, &req, &error));
    sgl_control_request_finish(&req);
}

static void test_replies(void **state)
{
    (void)state;
    struct sgl_control_request req;
    parse_ok("{\"execute\":\"status\",\"id\":{\"n\":[1,\"two\"]}}", &req);
    JsonObject *ret = json_object_new();
    json_object_set_int_member(ret, "x", 1);
    g_autofree char *line = sgl_control_reply_return(req.id, ret);
    assert_string_equal(line, "{\"return\":{\"x\":1},\"id\":{\"n\":[1,\"two\"]}}\n");
    g_autofree char *empty = sgl_control_reply_return(NULL, NULL);
    assert_string_equal(empty, "{\"return\":{}}\n");
    sgl_control_request_finish(&req);

    /* An error keeps the id of a request whose arguments were wrong. */
    g_autoptr(GError) error = NULL;
    static const char bad[] = "{\"execute\":\"disconnect\",\"id\":9}";
    assert_false(sgl_control_parse(bad, strlen(bad), &req, &error));
    g_autofree char *err = sgl_control_reply_error(req.id, error);
    assert_string_equal(err, "{\"error\":{\"class\":\"InvalidArgument\",\"desc\":\"disconnect "
                             "needs 'id'\"},\"id\":9}\n");
    sgl_control_request_finish(&req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
