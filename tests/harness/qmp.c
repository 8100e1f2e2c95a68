#include "config.h"

#include "qmp.h"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <string.h>

/* The next line that is not an asynchronous event. */
static char *read_reply(GDataInputStream *in, GError **error)
{
    for (;;) {
        char *line = g_data_input_stream_read_line(in, NULL, NULL, error);
        if (!line) {
            if (error && !*error)
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "QMP closed");
            return NULL;
        }
        if (!strstr(line, "\"event\""))
            return line;
        g_free(line);
    }
}

char *sgl_qmp_run(const char *socket_path, const char *command, GError **error)
{
    g_autoptr(GSocketClient) client = g_socket_client_new();
    /* QEMU serves one QMP client at a time: a second one waits for a
     * greeting that never comes. */
    g_socket_client_set_timeout(client, 10);
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(socket_path);
    g_autoptr(GSocketConnection) conn =
        g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, error);
    if (!conn)
        return NULL;
    g_autoptr(GDataInputStream) in =
        g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
    g_autofree char *greeting = read_reply(in, error);
    if (!greeting)
        return NULL;
    const char *caps = "{\"execute\":\"qmp_capabilities\"}\n";
    if (!g_output_stream_write_all(out, caps, strlen(caps), NULL, NULL, error))
        return NULL;
    g_autofree char *ok = read_reply(in, error);
    if (!ok)
        return NULL;
    g_autofree char *line = g_strdup_printf("%s\n", command);
    if (!g_output_stream_write_all(out, line, strlen(line), NULL, NULL, error))
        return NULL;
    char *reply = read_reply(in, error);
    if (reply && strstr(reply, "\"error\"")) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "QMP: %s", reply);
        g_free(reply);
        return NULL;
    }
    return reply;
}
