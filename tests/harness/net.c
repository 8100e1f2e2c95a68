#include "config.h"

#include "net.h"

#include <gio/gio.h>

guint16 sgl_test_free_port(void)
{
    g_autoptr(GSocket) s =
        g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
    if (!s || !g_socket_bind(s, any, TRUE, NULL))
        return 0;
    g_autoptr(GSocketAddress) bound = g_socket_get_local_address(s, NULL);
    return bound ? g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)) : 0;
}
