/* The QEMU command line of a VM whose GPU and SPICE server is spicegl-gpu.
 *
 * A pure function of the options and the paths the launcher chose: what
 * QEMU needs for a vhost-user GPU (guest memory in a shared memfd, the
 * vhost-user-vga device on the daemon's socket), the D-Bus display the
 * daemon attaches to through QMP (keyboard, pointer and monitor sizes), the
 * disk, the network, and a QMP socket of the launcher's own (powering off). */
#ifndef SPICEGL_VM_QEMU_COMMAND_H
#define SPICEGL_VM_QEMU_COMMAND_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "vm-options.h"

struct spicegl_vm_paths {
    const char *gpu_socket;  /* the daemon's vhost-user socket */
    const char *daemon_qmp;  /* QMP for the daemon (it attaches to the D-Bus display) */
    const char *control_qmp; /* QMP for the launcher */
};

/* The disk's format: the option, or for auto qcow2 when the file starts
 * with qcow2's magic, else raw. NULL with an error when it cannot be read. */
const char *spicegl_vm_disk_format(const struct spicegl_vm_options *o, GError **error);

/* Appends one argument, printf-style, to an argv of g_free'd strings. */
void spicegl_vm_add_arg(GPtrArray *argv, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Appends what makes spicegl-gpu a VM's GPU: guest memory as a shared memfd
 * of memory_mb (the daemon maps it), `-machine MACHINE,memory-backend=mem`
 * (machine NULL: QEMU's default type), vhost-user-vga with two outputs on
 * gpu_socket (xres, yres 0: QEMU's default mode), the D-Bus display the
 * daemon attaches to (p2p, through QMP; or on the message bus at the D-Bus
 * address display_bus), and the keyboard and mouse it drives, with a tablet
 * for clients' absolute positions (client mouse mode) unless !tablet; with sound,
 * an HDA sound card whose sound the display hands to the daemon (48 kHz
 * stereo, SPICE's own format); and SPICE's agent port (com.redhat.spice.0 on a
 * virtio-serial bus) as the display's chardev "vdagent", which the daemon
 * relays to its clients, and folder sharing's port as "webdav"; and, with
 * usb_redir, a USB controller with that many usb-redir devices on the
 * display's chardevs usbredir0.. (the daemon's --usb-redir). The test
 * harness builds its VMs with it too. */
/* USB devices a spicegl-vm client can redirect at once. */
#define SPICEGL_VM_USB_REDIR 2

void spicegl_vm_add_gpu_args(GPtrArray *argv, const char *machine, uint64_t memory_mb,
                             const char *gpu_socket, unsigned xres, unsigned yres,
                             const char *display_bus, bool sound, bool tablet, unsigned usb_redir);

/* argv for QEMU, NULL-terminated; free with g_strfreev. kvm: the
 * accelerator chosen (the launcher probes for auto). */
char **spicegl_vm_qemu_argv(const struct spicegl_vm_options *o,
                            const struct spicegl_vm_paths *paths, const char *disk_format,
                            bool kvm);

#endif
