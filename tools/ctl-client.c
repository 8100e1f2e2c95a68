#include "config.h"

#include "ctl-client.h"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

/* A reply must come within this: a screenshot of the largest display
 * takes a second or two; a daemon that says nothing for longer is stuck. */
#define CTL_TIMEOUT_S 30

char *spicegl_ctl_exchange(const char *path, const char *request, GError **error)
{
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_socket_client_set_timeout(client, CTL_TIMEOUT_S);
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    g_autoptr(GSocketConnection) conn =
        g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, error);
    if (!conn) {
        g_prefix_error(error, "%s: ", path);
        return NULL;
    }
    g_autoptr(GDataInputStream) in =
        g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
    g_data_input_stream_set_newline_type(in, G_DATA_STREAM_NEWLINE_TYPE_LF);
    /* The greeting first: a refusal (another user, too many clients) comes
     * in its place as an error reply, which is the answer then. */
    g_autofree char *greeting = g_data_input_stream_read_line(in, NULL, NULL, error);
    if (!greeting) {
        if (error && !*error)
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                        "%s: the daemon closed the "
                        "connection",
                        path);
        return NULL;
    }
    if (!g_str_has_prefix(greeting, "{\"spicegl\""))
        return g_steal_pointer(&greeting);
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
    if (!g_output_stream_write_all(out, request, strlen(request), NULL, NULL, error))
        return NULL;
    char *reply = g_data_input_stream_read_line(in, NULL, NULL, error);
    if (!reply && error && !*error)
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                    "%s: the daemon closed the connection without replying", path);
    return reply;
}
