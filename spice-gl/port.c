/* A guest port relayed to a SPICE server's clients (port.h). */
#include "config.h"

#include "spice-gl/port.h"

#include <string.h>

#include <gio/gio.h>
#include <spice/protocol.h>

struct sgl_port {
    SpiceCharDeviceInstance sin; /* first: spice-server hands this back */
    struct sgl_port_callbacks cb;
    void *data;
    bool attached;
    bool holding;     /* the guest is held: the buffer is full */
    GByteArray *held; /* guest bytes not yet read by spice-server */
    gsize held_pos;   /* read up to here */
    uint64_t to_client, to_guest;
};

static struct sgl_port *from_sin(SpiceCharDeviceInstance *sin)
{
    return (struct sgl_port *)sin;
}

static gsize buffered(const struct sgl_port *p)
{
    return p->held->len - p->held_pos;
}

static void hold(struct sgl_port *p, bool on)
{
    if (p->holding == on)
        return;
    p->holding = on;
    p->cb.hold_guest(on, p->data);
}

static void drop_buffered(struct sgl_port *p)
{
    g_byte_array_set_size(p->held, 0);
    p->held_pos = 0;
    hold(p, false);
}

/* The client's bytes for the guest: what the guest's side takes now; the
 * rest stays in spice-server's queue until the next wakeup or its timer. */
static int port_write(SpiceCharDeviceInstance *sin, const uint8_t *buf, int len)
{
    struct sgl_port *p = from_sin(sin);
    if (len <= 0)
        return 0;
    size_t n = p->cb.to_guest(buf, (size_t)len, p->data);
    p->to_guest += n;
    return (int)n;
}

static int port_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
    struct sgl_port *p = from_sin(sin);
    gsize n = len > 0 ? MIN((gsize)len, buffered(p)) : 0;
    if (n == 0)
        return 0; /* spice-server polls: nothing held (the array may have no data yet) */
    memcpy(buf, p->held->data + p->held_pos, n);
    p->held_pos += n;
    p->to_client += n;
    if (buffered(p) == 0) {
        g_byte_array_set_size(p->held, 0);
        p->held_pos = 0;
    }
    if (buffered(p) < SGL_PORT_MAX_BUFFERED / 2)
        hold(p, false);
    return (int)n;
}

/* The client's channel connected (1) or went (0). */
static void port_state(SpiceCharDeviceInstance *sin, int connected)
{
    struct sgl_port *p = from_sin(sin);
    if (!connected)
        drop_buffered(p);
    p->cb.client(connected != 0, p->data);
}

static void port_event(SpiceCharDeviceInstance *sin, uint8_t event)
{
    if (event == SPICE_PORT_EVENT_CLOSED)
        port_state(sin, 0);
}

static const SpiceCharDeviceInterface interface = {
    .base = {.type = SPICE_INTERFACE_CHAR_DEVICE,
             .description = "spicegl guest port",
             .major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
             .minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR},
    .state = port_state,
    .write = port_write,
    .read = port_read,
    .event = port_event,
};

static struct sgl_port *create(SpiceServer *server, const char *subtype, const char *name,
                               const struct sgl_port_callbacks *cb, void *data, GError **error)
{
    struct sgl_port *p = g_new0(struct sgl_port, 1);
    p->sin.base.sif = &interface.base;
    p->sin.subtype = subtype;
    p->sin.portname = name;
    p->cb = *cb;
    p->data = data;
    p->held = g_byte_array_new();
    if (spice_server_add_interface(server, &p->sin.base) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "spice-server refused the %s %s", subtype,
                    name ? name : "channel");
        sgl_port_destroy(p);
        return NULL;
    }
    p->attached = true;
    return p;
}

struct sgl_port *sgl_port_create(SpiceServer *server, const char *name,
                                 const struct sgl_port_callbacks *cb, void *data, GError **error)
{
    return create(server, "port", name, cb, data, error);
}

struct sgl_port *sgl_port_create_usbredir(SpiceServer *server, const struct sgl_port_callbacks *cb,
                                          void *data, GError **error)
{
    return create(server, "usbredir", NULL, cb, data, error);
}

void sgl_port_destroy(struct sgl_port *p)
{
    if (!p)
        return;
    if (p->attached)
        spice_server_remove_interface(&p->sin.base);
    g_byte_array_unref(p->held);
    g_free(p);
}

void sgl_port_guest_opened(struct sgl_port *p, bool open)
{
    if (!open)
        drop_buffered(p);
    if (p->sin.portname)
        spice_server_port_event(&p->sin, open ? SPICE_PORT_EVENT_OPENED : SPICE_PORT_EVENT_CLOSED);
}

void sgl_port_guest_received(struct sgl_port *p, const uint8_t *bytes, size_t n)
{
    g_byte_array_append(p->held, bytes, (guint)n);
    if (buffered(p) >= SGL_PORT_MAX_BUFFERED)
        hold(p, true);
    spice_server_char_device_wakeup(&p->sin);
}

void sgl_port_guest_writable(struct sgl_port *p)
{
    spice_server_char_device_wakeup(&p->sin);
}

uint64_t sgl_port_to_client_bytes(const struct sgl_port *p)
{
    return p->to_client;
}

uint64_t sgl_port_to_guest_bytes(const struct sgl_port *p)
{
    return p->to_guest;
}
