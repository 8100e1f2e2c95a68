/* A guest's char device relayed, byte for byte, to one SPICE server's
 * clients: a guest port as a SPICE port (a char device of subtype "port"),
 * or a USB redirection device as a usbredir channel (subtype "usbredir",
 * spice-server's spicevmc). The port in use is folder
 * sharing's org.spice-space.webdav.0, which spice-server serves as its
 * webdav channel: the guest's spice-webdavd and the client's WebDAV server
 * (phodav, in spice-gtk) speak their own protocol through it, which the
 * relay does not read.
 *
 * Guest to client: the guest's bytes wait in a buffer of at most
 * SGL_PORT_MAX_BUFFERED bytes until spice-server reads them; while it is
 * full the guest is held (cb->hold_guest), so a guest that writes faster
 * than the client reads costs no more host memory. Client to guest:
 * spice-server's own queue (bounded by its flow-control tokens) holds what
 * the guest's side does not take yet; sgl_port_guest_writable() makes it
 * try again.
 *
 * cb->client says when a client's channel connects and leaves, and what was
 * buffered for a client that left is dropped. For a port, the caller resets
 * the guest's side when it leaves (the port closes, as QEMU's spiceport
 * chardev does on a client's disconnect, and opens again once the guest has
 * seen it), so the guest drops that client's requests. For a usbredir
 * channel, the caller opens QEMU's side when it connects and closes it when
 * it leaves, as QEMU's spicevmc chardev does: QEMU's usb-redir device
 * attaches and detaches the client's USB device on those.
 *
 * The port belongs to its creator; destroy it before the server.
 * Main context only; the callbacks run there. */
#ifndef SGL_PORT_H
#define SGL_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <spice.h>

/* Guest bytes held for the client at most: then the guest waits. */
#define SGL_PORT_MAX_BUFFERED (64u * 1024u)

struct sgl_port_callbacks {
    /* Write to the guest: returns how many of the n bytes it took (0..n). */
    size_t (*to_guest)(const uint8_t *bytes, size_t n, void *data);
    /* Stop (true) or resume (false) taking the guest's bytes. */
    void (*hold_guest)(bool hold, void *data);
    /* A client's channel connected (true) or left (false). */
    void (*client)(bool connected, void *data);
};

struct sgl_port;

/* name: the port's name (static storage: spice-server keeps the pointer);
 * cb is copied. Adds the char device to server. */
struct sgl_port *sgl_port_create(SpiceServer *server, const char *name,
                                 const struct sgl_port_callbacks *cb, void *data, GError **error);
/* A usbredir channel (one per USB device a client can redirect at a
 * time); otherwise as sgl_port_create. */
struct sgl_port *sgl_port_create_usbredir(SpiceServer *server, const struct sgl_port_callbacks *cb,
                                          void *data, GError **error);
/* Accepts NULL. */
void sgl_port_destroy(struct sgl_port *p);

/* The guest opened (true) or closed (false) its end: told to the client
 * (a port), or dropped what was held for the client (either). */
void sgl_port_guest_opened(struct sgl_port *p, bool open);
/* n bytes from the guest. The caller holds the guest while the port says
 * so (hold_guest), so n never takes the buffer far past its bound. */
void sgl_port_guest_received(struct sgl_port *p, const uint8_t *bytes, size_t n);
/* The guest's side takes bytes again after a short write. */
void sgl_port_guest_writable(struct sgl_port *p);

/* Bytes relayed each way (stats, tests). */
uint64_t sgl_port_to_client_bytes(const struct sgl_port *p);
uint64_t sgl_port_to_guest_bytes(const struct sgl_port *p);

#endif
