#include "config.h"

#include "server.h"

#include <arpa/inet.h>
#include <string.h>

#include <gio/gio.h>

#include "core.h"

static bool is_loopback(const char *addr)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, addr, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6);
    return g_str_equal(addr, "localhost");
}

bool sgl_server_options_check(const struct sgl_server_options *o, GError **error)
{
    const char *addr = o->addr ? o->addr : "127.0.0.1";
    if (o->port < 0 || o->port > 65535 || o->tls_port < 0 || o->tls_port > 65535) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "ports are 1..65535 (--port %d, --tls-port %d)", o->port, o->tls_port);
        return false;
    }
    if (!o->port && !o->tls_port && !o->unix_path) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "nothing to listen on: give --port, --tls-port or --unix");
        return false;
    }
    if (o->tls_port && !o->tls_dir) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--tls-port needs --tls-dir with ca-cert.pem, server-cert.pem and "
                    "server-key.pem");
        return false;
    }
    if (o->ticket && !*o->ticket) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "an empty ticket is no password: give a non-empty --ticket");
        return false;
    }
    if (o->ticket_lifetime_s < 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--ticket-lifetime is seconds >= 0");
        return false;
    }
    if (o->ticket && strlen(o->ticket) > SGL_SERVER_TICKET_MAX) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--ticket is %zu bytes; spice-server takes at most %d: use a shorter password",
                    strlen(o->ticket), SGL_SERVER_TICKET_MAX);
        return false;
    }
    /* The password is the only authentication: TLS proves the server to
     * the client, never the client to the server. */
    bool exposed = (o->port || o->tls_port) && !is_loopback(addr);
    if (exposed && !o->ticket && !o->insecure) {
        g_autofree char *port = o->port ? g_strdup_printf(":%d", o->port) : g_strdup("");
        g_autofree char *tls_port =
            o->tls_port ? g_strdup_printf(" (TLS port %d)", o->tls_port) : g_strdup("");
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "refusing to serve %s%s%s without a password: %s; set --ticket-file (or "
                    "--ticket), or say --insecure",
                    addr, port, tls_port,
                    o->tls_port ? "TLS encrypts but does not authenticate clients"
                                : "whoever reaches it gets the display and the keyboard");
        return false;
    }
    return true;
}

SpiceServer *sgl_server_create(const struct sgl_server_options *o, bool use_unix, GError **error)
{
    SpiceServer *s = spice_server_new();
    if (use_unix) {
        spice_server_set_addr(s, o->unix_path, SPICE_ADDR_FLAG_UNIX_ONLY);
        spice_server_set_port(s, 0);
    } else {
        spice_server_set_addr(s, o->addr ? o->addr : "127.0.0.1", 0);
        spice_server_set_port(s, o->port);
        g_autofree char *ca = o->tls_dir ? g_build_filename(o->tls_dir, "ca-cert.pem", NULL) : NULL;
        g_autofree char *cert =
            o->tls_dir ? g_build_filename(o->tls_dir, "server-cert.pem", NULL) : NULL;
        g_autofree char *key =
            o->tls_dir ? g_build_filename(o->tls_dir, "server-key.pem", NULL) : NULL;
        if (o->tls_port &&
            spice_server_set_tls(s, o->tls_port, ca, cert, key, NULL, NULL, NULL) != 0) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "TLS setup failed for %s",
                        o->tls_dir);
            goto fail;
        }
    }
    if (o->ticket) {
        if (spice_server_set_ticket(s, o->ticket, o->ticket_lifetime_s, 0, 0) != 0) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                        "spice-server refused the ticket (%zu bytes; at most %d)",
                        strlen(o->ticket), SGL_SERVER_TICKET_MAX);
            goto fail;
        }
    } else {
        spice_server_set_noauth(s);
    }
    if (spice_server_init(s, (SpiceCoreInterface *)sgl_spice_core_interface()) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "spice-server did not start on %s%s%d (in use?)",
                    use_unix ? o->unix_path : (o->addr ? o->addr : "127.0.0.1"),
                    use_unix ? "" : ":", use_unix ? 0 : o->port);
        goto fail;
    }
    return s;

fail:
    spice_server_destroy(s);
    return NULL;
}
