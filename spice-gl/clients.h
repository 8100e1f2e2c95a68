/* Who is connected: the SPICE channels of this process's servers, grouped
 * into clients, from spice-server's channel events; and disconnecting one.
 *
 * spice-server reports channel events through its core interface, which
 * carries no context: the table is one per process (as QEMU's is), fed by
 * core.c and read by the control socket. spice-server calls the core
 * interface from its main context only; the table's lock keeps a reader on
 * another thread safe all the same. */
#ifndef SGL_CLIENTS_H
#define SGL_CLIENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <spice.h>

/* From the core interface's channel_event (core.c). info stays valid from
 * its CONNECTED event to its DISCONNECTED one. */
void sgl_clients_channel_event(int event, const SpiceChannelEventInfo *info);

struct sgl_client_channel {
    int type, id; /* SPICE_CHANNEL_*, the channel's index */
};

struct sgl_client {
    uint32_t connection_id; /* the id spice-server gives the client's session */
    char *peer;             /* "ADDR:PORT", "[ADDR6]:PORT" or "unix" */
    char *local;            /* the address it reached: "ADDR:PORT" or the socket path */
    bool tls;               /* its main channel runs over TLS */
    int64_t since_us;       /* monotonic time its first channel connected */
    GArray *channels;       /* struct sgl_client_channel, initialized channels */
};

/* The clients with at least one initialized channel, oldest first: an
 * array of struct sgl_client, freed with g_array_unref. */
GArray *sgl_clients_list(void);

/* Closes every connection of the client (spice-server sees the sockets end
 * and drops the client). On a unix socket, whose peers are unnamed, that is
 * every connection on the socket, a newcomer's not yet linked included:
 * false with error when another client is on it, as when there is no such
 * client. */
bool sgl_clients_disconnect(uint32_t connection_id, GError **error);

/* The name of a channel type ("main", "display", ...). */
const char *sgl_clients_channel_name(int type);

#endif
