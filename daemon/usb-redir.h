/* USB redirection: each of the VM's usb-redir devices (QEMU's
 * -chardev dbus,id=ID,name=org.qemu.usbredir with
 * -device usb-redir,chardev=ID) relayed to a usbredir channel of one
 * SPICE server. While a client's channel is connected, QEMU's side of the
 * chardev is open and the client's USB device is attached in the guest;
 * when the channel goes, QEMU's side closes and the device is detached, as
 * with QEMU's own spicevmc chardev. The bytes (the usbredir protocol) are
 * QEMU's to check; the host holds at most SGL_PORT_MAX_BUFFERED of them per
 * device (port.h).
 *
 * Owned by the daemon; the chardevs are added to its qemu_control, which
 * must go first. Main context only. */
#ifndef SPICEGL_USB_REDIR_H
#define SPICEGL_USB_REDIR_H

#include <stdbool.h>
#include <stdint.h>

#include <gio/gio.h>
#include <spice.h>

struct qemu_control;
struct spicegl_usb_redir;

/* n devices on the chardevs ids[0..n-1] (copied), or with ids NULL on
 * usbredir0..usbredir(n-1). */
struct spicegl_usb_redir *spicegl_usb_redir_create(uint32_t n, const char *const *ids);
/* Accepts NULL. */
void spicegl_usb_redir_destroy(struct spicegl_usb_redir *u);

/* The usbredir channels, on server (once). */
bool spicegl_usb_redir_add_server(struct spicegl_usb_redir *u, SpiceServer *server, GError **error);
/* The chardevs, attached whenever qemu has QEMU's display. */
void spicegl_usb_redir_add_to_qemu(struct spicegl_usb_redir *u, struct qemu_control *qemu);

#endif
