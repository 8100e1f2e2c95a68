/* Which VM a GPU socket serves: libvirt starts spicegl-gpu with only
 * --fd=N (its end of a socketpair) and no word of the VM. When QEMU sends
 * its first vhost-user message, the kernel names the sender (SO_PASSCRED);
 * QEMU's command line then gives the VM's name (-name guest=NAME) and where
 * its D-Bus display is (-display dbus,addr=ADDRESS, libvirt's
 * <graphics type='dbus'/>). Nothing of the message itself is read: the
 * first message stays queued for the vhost-user layer.
 *
 * Caller-allocated: spicegl_vm_identity_init fills it, _finish frees the
 * strings (also after a failed init). The main thread calls both, before
 * the daemon is built. */
#ifndef SPICEGL_VM_IDENTITY_H
#define SPICEGL_VM_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <glib.h>

struct spicegl_vm_identity {
    pid_t pid;                     /* QEMU, the sender of the first message */
    char *name;                    /* NULL, or the VM's name (-name) */
    char *display_address;         /* NULL, or the bus of QEMU's D-Bus display */
    char *agent_chardev;           /* NULL, or the id of the D-Bus chardev of the agent's port
                                    * (-chardev dbus,id=ID,name=com.redhat.spice.0) */
    char *webdav_chardev;          /* NULL, or folder sharing's (name=org.spice-space.webdav.0) */
    GPtrArray *usb_redir_chardevs; /* NULL, or the ids of the usb-redir devices' D-Bus
                                    * chardevs (name=org.qemu.usbredir), in order */
};

/* Turns on sender credentials on fd. Call at once after start, before
 * QEMU can send: a message sent earlier carries none. */
bool spicegl_vm_identity_listen(int fd, GError **error);

/* Waits for QEMU's first message on fd (set up by _listen) and fills id.
 * When the message carries no sender (it came before _listen), the process
 * holding the other end (sock_diag, then /proc/PID/fd; where several do,
 * the one with QEMU's options). False with error when QEMU closed the
 * socket first or no such process is found. Turns the credentials off
 * again: later messages are the vhost-user layer's alone. */
bool spicegl_vm_identity_init(struct spicegl_vm_identity *id, int fd, GError **error);
void spicegl_vm_identity_finish(struct spicegl_vm_identity *id);

/* Reads -name, -display dbus,addr= and the ports' -chardev dbus from a NUL-separated command line
 * (/proc/PID/cmdline) of len bytes; cmdline[len] must be readable and 0.
 * Exposed for the tests. */
void spicegl_vm_identity_parse_cmdline(struct spicegl_vm_identity *id, const char *cmdline,
                                       size_t len);

#endif
