/* A character device that QEMU's D-Bus display hands out: a guest port
 * (QEMU_CHARDEV_PORT) or a USB redirection device (QEMU_CHARDEV_USB_REDIR).
 *
 * A guest port: QEMU started with
 * -chardev dbus,id=ID,name=NAME and a port on it (-device virtserialport,
 * chardev=ID,name=NAME) exports org.qemu.Display1.Chardev at
 * /org/qemu/Display1/Chardev_ID. Once attached to the display, the daemon
 * registers one end of a socket pair there (Register(h)): QEMU's side of the
 * port is then open, and the bytes the guest writes arrive here. The
 * property FEOpened says whether the guest has the port open.
 *
 * When the guest closes the port, whatever the daemon wrote that the guest
 * did not read is stale: the socket is closed and a fresh one registered, so
 * the guest's next opening starts on a clean stream.
 *
 * A USB redirection device (-chardev dbus,id=ID,name=org.qemu.usbredir and
 * -device usb-redir,chardev=ID) is registered only while the daemon wants
 * it (qemu_chardev_connect): QEMU's usb-redir device attaches the client's
 * USB device when its chardev opens, and detaches it when it closes. It
 * counts as open while registered.
 *
 * Bytes are moved, not interpreted: the caller validates what arrives.
 * Main context only; the callbacks run there. */
#ifndef QEMU_CHARDEV_H
#define QEMU_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

/* Bytes taken from the guest per callback. */
#define QEMU_CHARDEV_READ_SIZE 4096u

struct qemu_chardev_callbacks {
    /* The guest opened (true) or closed (false) its end. */
    void (*opened)(bool open, void *data);
    /* n (1..QEMU_CHARDEV_READ_SIZE) bytes from the guest. */
    void (*received)(const uint8_t *bytes, size_t n, void *data);
    /* A write that took less than it was given can be retried. */
    void (*writable)(void *data);
};

enum qemu_chardev_kind {
    QEMU_CHARDEV_PORT,      /* a virtio-serial port: registered while attached */
    QEMU_CHARDEV_USB_REDIR, /* a usb-redir device: registered while connected */
};

struct qemu_chardev;

/* id: the -chardev id (letters, digits, '_' only: it is part of an object
 * path); what ("agent port") and name (the port's, com.redhat.spice.0)
 * are for the log. cb is borrowed. Nothing is registered until attached. */
struct qemu_chardev *qemu_chardev_create(enum qemu_chardev_kind kind, const char *what,
                                         const char *id, const char *name,
                                         const struct qemu_chardev_callbacks *cb, void *data);
/* Accepts NULL. */
void qemu_chardev_destroy(struct qemu_chardev *ch);

/* display: the connection QEMU's D-Bus display answers on (borrowed, kept
 * until detach); bus_name: QEMU's name on a message bus, NULL on p2p. */
void qemu_chardev_attach(struct qemu_chardev *ch, GDBusConnection *display, const char *bus_name);
/* QEMU's display went away: the port counts as closed. */
void qemu_chardev_detach(struct qemu_chardev *ch);

/* Drops the socket (what was in it is lost) and registers a fresh one once
 * the guest's program has closed its end, having seen QEMU's side close
 * (at most 10 s; 1 s when no program has it open). The port counts as
 * closed until then. */
void qemu_chardev_reset(struct qemu_chardev *ch);

/* QEMU_CHARDEV_USB_REDIR: registers (true) or closes (false) QEMU's side;
 * while attached, a registration that QEMU drops is renewed until false. */
void qemu_chardev_connect(struct qemu_chardev *ch, bool connect);

/* Whether the guest has its end open (a usb-redir device: registered). */
bool qemu_chardev_is_open(const struct qemu_chardev *ch);

/* Writes what the socket takes now, 0..n bytes (0 when the port is not
 * registered); after a short write, writable() says when to go on. */
size_t qemu_chardev_write(struct qemu_chardev *ch, const uint8_t *bytes, size_t n);

/* Stops (true) or resumes (false) taking bytes from the guest: the
 * receiver's backpressure. */
void qemu_chardev_hold(struct qemu_chardev *ch, bool hold);

#endif
