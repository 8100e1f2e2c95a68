/* USB redirection relayed between QEMU and SPICE clients (usb-redir.h). */
#include "config.h"

#include "daemon/usb-redir.h"

#include "qemu-integration/qemu-control/qemu-chardev.h"
#include "qemu-integration/qemu-control/qemu-control.h"
#include "spice-gl/port.h"

struct device {
    char *id;
    struct qemu_chardev *qemu;
    struct sgl_port *spice; /* NULL until added to a server */
};

struct spicegl_usb_redir {
    struct device *devices;
    uint32_t n;
};

/* ---- client to QEMU ------------------------------------------------------ */

static size_t to_qemu(const uint8_t *bytes, size_t n, void *data)
{
    struct device *d = data;
    return qemu_chardev_write(d->qemu, bytes, n);
}

static void hold_qemu(bool hold, void *data)
{
    struct device *d = data;
    qemu_chardev_hold(d->qemu, hold);
}

static void on_client(bool connected, void *data)
{
    struct device *d = data;
    g_message("USB redirection %s: a client's channel %s; QEMU's side %s", d->id,
              connected ? "connected" : "left", connected ? "opens" : "closes");
    qemu_chardev_connect(d->qemu, connected);
}

static const struct sgl_port_callbacks spice_callbacks = {to_qemu, hold_qemu, on_client};

/* ---- QEMU to client ------------------------------------------------------ */

static void on_opened(bool open, void *data)
{
    struct device *d = data;
    if (d->spice)
        sgl_port_guest_opened(d->spice, open);
}

static void on_received(const uint8_t *bytes, size_t n, void *data)
{
    struct device *d = data;
    if (d->spice)
        sgl_port_guest_received(d->spice, bytes, n);
}

static void on_writable(void *data)
{
    struct device *d = data;
    if (d->spice)
        sgl_port_guest_writable(d->spice);
}

static const struct qemu_chardev_callbacks qemu_callbacks = {on_opened, on_received, on_writable};

struct spicegl_usb_redir *spicegl_usb_redir_create(uint32_t n, const char *const *ids)
{
    struct spicegl_usb_redir *u = g_new0(struct spicegl_usb_redir, 1);
    u->devices = g_new0(struct device, n);
    u->n = n;
    for (uint32_t i = 0; i < n; i++) {
        struct device *d = &u->devices[i];
        d->id = ids ? g_strdup(ids[i]) : g_strdup_printf("usbredir%u", i);
        d->qemu = qemu_chardev_create(QEMU_CHARDEV_USB_REDIR, "USB redirection", d->id,
                                      "org.qemu.usbredir", &qemu_callbacks, d);
    }
    return u;
}

void spicegl_usb_redir_destroy(struct spicegl_usb_redir *u)
{
    if (!u)
        return;
    for (uint32_t i = 0; i < u->n; i++) {
        /* The channel leaves its server before the chardev it writes to. */
        sgl_port_destroy(u->devices[i].spice);
        qemu_chardev_destroy(u->devices[i].qemu);
        g_free(u->devices[i].id);
    }
    g_free(u->devices);
    g_free(u);
}

bool spicegl_usb_redir_add_server(struct spicegl_usb_redir *u, SpiceServer *server, GError **error)
{
    for (uint32_t i = 0; i < u->n; i++) {
        struct device *d = &u->devices[i];
        if (d->spice)
            continue;
        d->spice = sgl_port_create_usbredir(server, &spice_callbacks, d, error);
        if (!d->spice) {
            g_prefix_error(error, "USB redirection %s: ", d->id);
            return false;
        }
    }
    return true;
}

void spicegl_usb_redir_add_to_qemu(struct spicegl_usb_redir *u, struct qemu_control *qemu)
{
    for (uint32_t i = 0; i < u->n; i++)
        qemu_control_add_port(qemu, u->devices[i].qemu);
}
