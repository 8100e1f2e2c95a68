/* The daemon's line to the VM's QEMU: its D-Bus display, for the clients'
 * input and monitor sizes. Either obtained once through QMP (a p2p
 * connection), or found on a message bus QEMU serves it on (-display
 * dbus,addr=ADDRESS; libvirt's <graphics type='dbus'/> gives each VM such a
 * bus), where the daemon needs no QMP at all.
 *
 * With vhost-user-gpu, QEMU owns the guest's input devices and display
 * events: a backend's config-change message is "unhandled"
 * (hw/display/vhost-user-gpu.c), and only a QEMU UI setting a console's
 * UI info makes QEMU tell the guest to re-read the display info. So the
 * daemon attaches to QEMU's D-Bus display as a peer (QEMU 7.2+ with
 * -display dbus,p2p=yes): the socket goes to QEMU over QMP (getfd +
 * add_client), and the daemon then calls Console.SetUIInfo, Keyboard and
 * Mouse on it.
 *
 * QMP is a full control channel into QEMU (migrate to a command, human
 * monitor commands): it is held only until the D-Bus display answers, or
 * for DBUS_TIMEOUT at most, and closed then, whatever happened; a QEMU
 * without a D-Bus display is logged with what the VM lacks for it.
 *
 * Input before the display answers is dropped (it is live); sizes asked
 * for meanwhile are applied once it answers (the latest wins). Main
 * context only. */
#ifndef QEMU_CONTROL_H
#define QEMU_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

struct qemu_control;

/* Connects nothing yet. Exactly one of qmp_path (QEMU's QMP socket) and
 * bus_address (a D-Bus address) is given. absolute (may be NULL) is told,
 * once the display answers and whenever it changes, whether the VM's active
 * pointing device is absolute (a tablet): only then can clients' positions
 * reach the guest. */
struct qemu_control *qemu_control_create(const char *qmp_path, const char *bus_address,
                                         void (*absolute)(bool absolute, void *user), void *user);
void qemu_control_destroy(struct qemu_control *c);

/* Obtains the D-Bus display (QEMU is up: its GPU connected); the first
 * use does it too. Once only. On a bus, QEMU's display is used from when
 * QEMU owns the name org.qemu there, and again after QEMU comes back. */
void qemu_control_start(struct qemu_control *c);

/* The VM's sound: registered with QEMU's display each time it is attached
 * (qemu-audio.h), detached when it goes. Borrowed; set before start,
 * destroyed after c. */
struct qemu_audio;
void qemu_control_set_audio(struct qemu_control *c, struct qemu_audio *audio);

/* A chardev (qemu-chardev.h: the agent's and folder sharing's ports,
 * usb-redir devices): attached to QEMU's display each time there is one,
 * detached when it goes.
 * Borrowed; added before start, destroyed after c. */
#define QEMU_CONTROL_MAX_PORTS 10
struct qemu_chardev;
void qemu_control_add_port(struct qemu_control *c, struct qemu_chardev *port);

/* Whether the QMP connection is still open (tests, stats). */
bool qemu_control_holds_qmp(const struct qemu_control *c);

void qemu_control_set_size(struct qemu_control *c, uint32_t head, uint32_t width, uint32_t height);

/* scancode: set 1, 0xe0xx for extended keys (input.h). */
void qemu_control_key(struct qemu_control *c, uint32_t scancode, bool down);
void qemu_control_motion(struct qemu_control *c, int dx, int dy);
void qemu_control_wheel(struct qemu_control *c, int dz);
/* (x, y) in head's pixels. */
void qemu_control_position(struct qemu_control *c, uint32_t head, int x, int y);
/* SPICE_MOUSE_BUTTON_MASK_* bits: sends what changed. */
void qemu_control_buttons(struct qemu_control *c, uint32_t buttons);

#endif
