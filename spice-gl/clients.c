#include "config.h"

#include "clients.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <gio/gio.h>

#define CLIENTS_ERROR (g_quark_from_static_string("sgl-clients"))

/* One channel's connection, as its events describe it. */
struct channel {
    const SpiceChannelEventInfo *key; /* spice-server's, valid until DISCONNECTED */
    uint32_t connection_id;
    int type, id;
    bool initialized, tls;
    struct sockaddr_storage laddr, paddr;
    socklen_t llen, plen;
    int64_t since_us;
};

/* The one table: see clients.h for why it is per process. */
G_LOCK_DEFINE_STATIC(table);
static GPtrArray *table_channels; /* struct channel *, in connection order */

static struct channel *find_locked(const SpiceChannelEventInfo *info, guint *index)
{
    for (guint i = 0; table_channels && i < table_channels->len; i++) {
        struct channel *c = g_ptr_array_index(table_channels, i);
        if (c->key == info) {
            if (index)
                *index = i;
            return c;
        }
    }
    return NULL;
}

static void copy_addr(struct sockaddr_storage *dst, socklen_t *dst_len,
                      const struct sockaddr_storage *src, socklen_t src_len)
{
    *dst_len = MIN(src_len, (socklen_t)sizeof(*dst));
    memcpy(dst, src, *dst_len);
}

void sgl_clients_channel_event(int event, const SpiceChannelEventInfo *info)
{
    G_LOCK(table);
    guint index;
    struct channel *c = find_locked(info, &index);
    if (event == SPICE_CHANNEL_EVENT_DISCONNECTED) {
        if (c)
            g_ptr_array_remove_index(table_channels, index);
        G_UNLOCK(table);
        return;
    }
    if (!c) {
        if (!table_channels)
            table_channels = g_ptr_array_new_with_free_func(g_free);
        c = g_new0(struct channel, 1);
        c->key = info;
        c->since_us = g_get_monotonic_time();
        g_ptr_array_add(table_channels, c);
    }
    c->connection_id = (uint32_t)info->connection_id;
    c->type = info->type;
    c->id = info->id;
    c->tls = info->flags & SPICE_CHANNEL_EVENT_FLAG_TLS;
    if (event == SPICE_CHANNEL_EVENT_INITIALIZED)
        c->initialized = true;
    if (info->flags & SPICE_CHANNEL_EVENT_FLAG_ADDR_EXT) {
        copy_addr(&c->laddr, &c->llen, &info->laddr_ext, info->llen_ext);
        copy_addr(&c->paddr, &c->plen, &info->paddr_ext, info->plen_ext);
    }
    G_UNLOCK(table);
}

static char *addr_string(const struct sockaddr_storage *addr, socklen_t len)
{
    if (len >= sizeof(sa_family_t) && addr->ss_family == AF_UNIX && len <= sizeof(sa_family_t) + 1)
        return g_strdup("unix");
    g_autoptr(GSocketAddress) a = g_socket_address_new_from_native((gpointer)addr, len);
    if (!a)
        return g_strdup("?");
    char *s = g_socket_connectable_to_string(G_SOCKET_CONNECTABLE(a));
    if (addr->ss_family == AF_UNIX && (!s || !*s)) {
        g_free(s);
        return g_strdup("unix");
    }
    return s ? s : g_strdup("?");
}

static void client_clear(gpointer p)
{
    struct sgl_client *c = p;
    g_free(c->peer);
    g_free(c->local);
    g_array_unref(c->channels);
}

GArray *sgl_clients_list(void)
{
    GArray *clients = g_array_new(FALSE, TRUE, sizeof(struct sgl_client));
    g_array_set_clear_func(clients, client_clear);
    G_LOCK(table);
    for (guint i = 0; table_channels && i < table_channels->len; i++) {
        const struct channel *ch = g_ptr_array_index(table_channels, i);
        if (!ch->initialized)
            continue;
        struct sgl_client *cl = NULL;
        for (guint k = 0; k < clients->len && !cl; k++)
            if (g_array_index(clients, struct sgl_client, k).connection_id == ch->connection_id)
                cl = &g_array_index(clients, struct sgl_client, k);
        if (!cl) {
            g_array_append_val(
                clients,
                ((struct sgl_client){
                    .connection_id = ch->connection_id,
                    .peer = addr_string(&ch->paddr, ch->plen),
                    .local = addr_string(&ch->laddr, ch->llen),
                    .since_us = ch->since_us,
                    .channels = g_array_new(FALSE, FALSE, sizeof(struct sgl_client_channel)),
                }));
            cl = &g_array_index(clients, struct sgl_client, clients->len - 1);
        }
        if (ch->type == SPICE_CHANNEL_MAIN)
            cl->tls = ch->tls;
        cl->since_us = MIN(cl->since_us, ch->since_us);
        g_array_append_val(cl->channels, ((struct sgl_client_channel){ch->type, ch->id}));
    }
    G_UNLOCK(table);
    return clients;
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen,
                      const struct sockaddr_storage *b, socklen_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* The two ends of a channel's connection, as getsockname and getpeername
 * give them. */
struct ends {
    struct sockaddr_storage l, p;
    socklen_t llen, plen;
};

/* Shuts down every socket this process holds whose two ends are one of
 * the given pairs; how many. A TCP pair names one socket; a unix-socket
 * pair (the socket path, an unnamed peer) names every connection on that
 * socket, which the caller allows only when one client is on it. */
static guint shutdown_matching(const GArray *ends)
{
    struct rlimit rl;
    int max_fd =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
    guint n = 0;
    for (int fd = 0; fd < max_fd; fd++) {
        struct ends e = {.llen = sizeof(e.l), .plen = sizeof(e.p)};
        if (getsockname(fd, (struct sockaddr *)&e.l, &e.llen) < 0 ||
            getpeername(fd, (struct sockaddr *)&e.p, &e.plen) < 0)
            continue;
        for (guint i = 0; i < ends->len; i++) {
            const struct ends *want = &g_array_index(ends, struct ends, i);
            if (same_addr(&e.l, e.llen, &want->l, want->llen) &&
                same_addr(&e.p, e.plen, &want->p, want->plen)) {
                /* spice-server keeps the fd and closes it when it sees it end. */
                shutdown(fd, SHUT_RDWR);
                n++;
                break;
            }
        }
    }
    return n;
}

bool sgl_clients_disconnect(uint32_t connection_id, GError **error)
{
    g_autoptr(GArray) ends = g_array_new(FALSE, FALSE, sizeof(struct ends));
    bool found = false, ambiguous = false;
    G_LOCK(table);
    for (guint i = 0; table_channels && i < table_channels->len; i++) {
        const struct channel *ch = g_ptr_array_index(table_channels, i);
        if (ch->connection_id != connection_id)
            continue;
        found |= ch->initialized;
        /* Unix-socket peers are unnamed: the addresses single out the
         * client's connections only when no other client shares its socket. */
        for (guint k = 0; k < table_channels->len && ch->paddr.ss_family == AF_UNIX; k++) {
            const struct channel *other = g_ptr_array_index(table_channels, k);
            if (other->connection_id != connection_id &&
                same_addr(&other->laddr, other->llen, &ch->laddr, ch->llen))
                ambiguous = true;
        }
        /* Every channel on a unix socket has the same pair: shutdown_matching
         * stops at the first pair a socket matches. */
        g_array_append_val(ends, ((struct ends){ch->laddr, ch->paddr, ch->llen, ch->plen}));
    }
    G_UNLOCK(table);
    if (!found) {
        g_set_error(error, CLIENTS_ERROR, 0, "no client %u is connected", connection_id);
        return false;
    }
    if (ambiguous) {
        g_set_error(error, CLIENTS_ERROR, 0,
                    "client %u shares the unix socket with another client and cannot be told "
                    "apart from it",
                    connection_id);
        return false;
    }
    guint closed = shutdown_matching(ends);
    if (!closed) {
        g_set_error(error, CLIENTS_ERROR, 0, "client %u: none of its sockets was found",
                    connection_id);
        return false;
    }
    g_message("client %u disconnected on request (%u channels, %u sockets)", connection_id,
              ends->len, closed);
    return true;
}

const char *sgl_clients_channel_name(int type)
{
    static const char *const names[] = {
        [SPICE_CHANNEL_MAIN] = "main",         [SPICE_CHANNEL_DISPLAY] = "display",
        [SPICE_CHANNEL_INPUTS] = "inputs",     [SPICE_CHANNEL_CURSOR] = "cursor",
        [SPICE_CHANNEL_PLAYBACK] = "playback", [SPICE_CHANNEL_RECORD] = "record",
        [SPICE_CHANNEL_TUNNEL] = "tunnel",     [SPICE_CHANNEL_SMARTCARD] = "smartcard",
        [SPICE_CHANNEL_USBREDIR] = "usbredir", [SPICE_CHANNEL_PORT] = "port",
        [SPICE_CHANNEL_WEBDAV] = "webdav",
    };
    if (type >= 0 && type < (int)G_N_ELEMENTS(names) && names[type])
        return names[type];
    return "unknown";
}
