/* Boots the test guest under QEMU (TCG) and follows its serial console.
 *
 * The VM owns the QEMU process: sgl_vm_destroy stops it. Console lines are
 * read on a thread of the VM's own; events (console.h) are kept in order and
 * handed out by sgl_vm_wait, which returns pointers the VM keeps owning. */
#ifndef SGL_VM_H
#define SGL_VM_H

#include <glib.h>

#include "console.h"

enum sgl_vm_gpu {
    SGL_VM_GPU_STOCK_VIRGL, /* QEMU's own virtio-vga-gl, rendering in QEMU */
    SGL_VM_GPU_NONE,        /* extra_args attach the GPU */
    SGL_VM_GPU_VHOST_USER,  /* vhost-user-vga on gpu_socket (spicegl-gpu) */
};

struct sgl_vm_config {
    const char *qemu; /* NULL: $QEMU, else qemu-system-x86_64 */
    const char *kernel;
    const char *initrd;
    const char *guest_args; /* appended to the kernel command line (sgl.* options) */
    enum sgl_vm_gpu gpu;
    const char *gpu_socket;        /* SGL_VM_GPU_VHOST_USER: the backend's socket */
    const char *display_bus;       /* NULL: the D-Bus display p2p; else on this bus address */
    guint xres, yres;              /* the GPU's preferred mode; 0: QEMU's default */
    gboolean sound;                /* SGL_VM_GPU_VHOST_USER: an HDA card on the D-Bus audio */
    guint memory_mb;               /* 0: 2048 */
    guint smp;                     /* 0: 2 */
    guint spice_port;              /* 0: no SPICE server; else 127.0.0.1:port, no ticket */
    const char *spice_streaming;   /* with spice_port: QEMU's streaming-video (off, all, filter) */
    guint vnc_port;                /* 0: no VNC server; else 127.0.0.1:port (5900..) */
    gboolean allow_reset;          /* a reset reboots the guest (default: QEMU exits, -no-reboot) */
    const char *qmp_socket;        /* NULL: none; else QEMU's QMP listens here (qmp.h) */
    const char *log_path;          /* NULL: none; else console lines and QEMU's stderr */
    gboolean log_times;            /* each log line starts with the host's time, "[SECONDS] " */
    const char *const *extra_args; /* NULL-terminated, appended to QEMU's arguments */
    gboolean echo;                 /* copy console lines to stdout */
    gboolean no_tablet;            /* SGL_VM_GPU_VHOST_USER: no virtio-tablet (server mouse mode) */
    guint usb_redir;               /* SGL_VM_GPU_VHOST_USER: usb-redir devices (usbredir0..) */
};

struct sgl_vm;

struct sgl_vm *sgl_vm_create(const struct sgl_vm_config *config, GError **error);

/* Stops QEMU (SIGTERM, then SIGKILL) if it still runs. Accepts NULL. */
void sgl_vm_destroy(struct sgl_vm *vm);

/* Where the events stand now, for sgl_vm_wait_from. */
guint sgl_vm_position(struct sgl_vm *vm);
/* The first event called name at or after position from (events that come
 * in no fixed order), leaving sgl_vm_wait's place as it is. */
const struct sgl_console_event *sgl_vm_wait_from(struct sgl_vm *vm, guint from, const char *name,
                                                 int timeout_ms, GError **error);
/* Waits for the next event called name after the last one returned, for at
 * most timeout_ms. NULL with an error that quotes the console's last lines
 * on timeout or when QEMU exits first. */
const struct sgl_console_event *sgl_vm_wait(struct sgl_vm *vm, const char *name, int timeout_ms,
                                            GError **error);

/* Waits for QEMU to exit; its exit status in *status. */
gboolean sgl_vm_wait_exit(struct sgl_vm *vm, int timeout_ms, int *status, GError **error);

/* Sends QEMU a signal (SIGKILL: QEMU dies without a word to its backends). */
void sgl_vm_kill(struct sgl_vm *vm, int sig);

/* Seconds since QEMU was started. */
double sgl_vm_elapsed(const struct sgl_vm *vm);

#endif
