/* The SPICE server's start-up checks: every listener another host can
 * reach, plain or TLS, needs a ticket unless --insecure says otherwise (TLS
 * authenticates no client), a ticket fits spice-server, and the messages say
 * what to change. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "spice-gl/server.h"

/* Refused, with each phrase in the message. */
static void refused(const struct sgl_server_options *o, const char *const *phrases)
{
    g_autoptr(GError) error = NULL;
    bool ok = sgl_server_options_check(o, &error);
    if (ok)
        fail_msg("accepted: addr %s port %d tls-port %d ticket %s insecure %d",
                 o->addr ? o->addr : "(default)", o->port, o->tls_port, o->ticket ? "set" : "none",
                 o->insecure);
    assert_non_null(error);
    print_message("# %s\n", error->message);
    for (const char *const *p = phrases; *p; p++)
        if (!strstr(error->message, *p))
            fail_msg("'%s' not in: %s", *p, error->message);
}

static void accepted(const struct sgl_server_options *o)
{
    g_autoptr(GError) error = NULL;
    if (!sgl_server_options_check(o, &error))
        fail_msg("refused: %s", error->message);
}

static void test_tls_without_ticket_refused(void **state)
{
    (void)state;
    const struct sgl_server_options tls_only = {
        .addr = "0.0.0.0", .tls_port = 5901, .tls_dir = "/etc/spicegl/tls"};
    refused(&tls_only,
            (const char *const[]){"refusing to serve 0.0.0.0 (TLS port 5901) without a password",
                                  "TLS encrypts but does not authenticate clients",
                                  "set --ticket-file (or --ticket), or say --insecure", NULL});
    const struct sgl_server_options both = {
        .addr = "192.0.2.7", .port = 5900, .tls_port = 5901, .tls_dir = "/etc/spicegl/tls"};
    refused(&both, (const char *const[]){
                       "refusing to serve 192.0.2.7:5900 (TLS port 5901) without a password",
                       "TLS encrypts but does not authenticate clients", NULL});
    const struct sgl_server_options v6 = {
        .addr = "::", .tls_port = 5901, .tls_dir = "/etc/spicegl/tls"};
    refused(&v6, (const char *const[]){"without a password", NULL});
}

static void test_plain_without_ticket_refused(void **state)
{
    (void)state;
    const struct sgl_server_options plain = {.addr = "0.0.0.0", .port = 5900};
    refused(&plain,
            (const char *const[]){"refusing to serve 0.0.0.0:5900 without a password",
                                  "set --ticket-file (or --ticket), or say --insecure", NULL});
    /* TLS is no substitute for a ticket, and the message does not say it is. */
    g_autoptr(GError) error = NULL;
    assert_false(sgl_server_options_check(&plain, &error));
    assert_null(strstr(error->message, "--tls-port"));
    assert_null(strstr(error->message, "--tls-dir"));
}

static void test_ticket_length(void **state)
{
    (void)state;
    assert_int_equal(SGL_SERVER_TICKET_MAX, 59);
    char longest[SGL_SERVER_TICKET_MAX + 1];
    char too_long[SGL_SERVER_TICKET_MAX + 2];
    memset(longest, 'a', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = 0;
    memset(too_long, 'a', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = 0;
    const struct sgl_server_options fits = {.addr = "0.0.0.0", .port = 5900, .ticket = longest};
    accepted(&fits);
    const struct sgl_server_options over = {.addr = "0.0.0.0", .port = 5900, .ticket = too_long};
    refused(
        &over,
        (const char *const[]){
            "--ticket is 60 bytes; spice-server takes at most 59: use a shorter password", NULL});
    /* On loopback too: the ticket is refused, not silently cut. */
    const struct sgl_server_options local = {.port = 5900, .ticket = too_long};
    refused(&local, (const char *const[]){"--ticket is 60 bytes", NULL});
    const struct sgl_server_options empty = {.addr = "0.0.0.0", .port = 5900, .ticket = ""};
    refused(&empty, (const char *const[]){"empty ticket", NULL});
}

/* A ticket spice-server refuses stops the server from starting (here one
 * that bypassed the check). */
static void test_create_refused_ticket(void **state)
{
    (void)state;
    char too_long[SPICE_MAX_PASSWORD_LENGTH + 2];
    memset(too_long, 'a', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = 0;
    const struct sgl_server_options o = {.unix_path = "/nonexistent/sgl-test.sock",
                                         .ticket = too_long};
    g_autoptr(GError) error = NULL;
    SpiceServer *s = sgl_server_create(&o, true, &error);
    if (s)
        spice_server_destroy(s);
    assert_null(s);
    assert_non_null(error);
    assert_non_null(
        strstr(error->message, "spice-server refused the ticket (61 bytes; at most 59)"));
}

static void test_accepted(void **state)
{
    (void)state;
    /* Loopback (the default address, v4 and v6) needs no ticket. */
    const struct sgl_server_options local_default = {.port = 5900};
    accepted(&local_default);
    const struct sgl_server_options local_tls = {
        .addr = "127.0.0.1", .port = 5900, .tls_port = 5901, .tls_dir = "/etc/spicegl/tls"};
    accepted(&local_tls);
    const struct sgl_server_options local_v6 = {
        .addr = "::1", .tls_port = 5901, .tls_dir = "/etc/spicegl/tls"};
    accepted(&local_v6);
    /* A unix socket only: local. */
    const struct sgl_server_options unix_only = {.addr = "0.0.0.0", .unix_path = "/run/x.sock"};
    accepted(&unix_only);
    /* Elsewhere with a ticket, plain or TLS. */
    const struct sgl_server_options plain_ticket = {
        .addr = "0.0.0.0", .port = 5900, .ticket = "secret"};
    accepted(&plain_ticket);
    const struct sgl_server_options tls_ticket = {
        .addr = "0.0.0.0", .tls_port = 5901, .tls_dir = "/etc/spicegl/tls", .ticket = "secret"};
    accepted(&tls_ticket);
    /* Elsewhere without one, when asked for. */
    const struct sgl_server_options plain_insecure = {
        .addr = "0.0.0.0", .port = 5900, .insecure = true};
    accepted(&plain_insecure);
    const struct sgl_server_options tls_insecure = {
        .addr = "0.0.0.0", .tls_port = 5901, .tls_dir = "/etc/spicegl/tls", .insecure = true};
    accepted(&tls_insecure);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_without_ticket_refused),
        cmocka_unit_test(test_plain_without_ticket_refused),
        cmocka_unit_test(test_ticket_length),
        cmocka_unit_test(test_create_refused_ticket),
        cmocka_unit_test(test_accepted),
    };
    return cmocka_run_group_tests_name("server-options", tests, NULL, NULL);
}
