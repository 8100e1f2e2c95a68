/* spicegl-vm's options: the table, every check, and the validated struct.
 *
 * spicegl_vm_options_parse fills a caller-allocated struct that owns its
 * strings; spicegl_vm_options_finish frees them. Main thread only. */
#ifndef SPICEGL_VM_OPTIONS_H
#define SPICEGL_VM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

enum spicegl_vm_accel {
    SPICEGL_VM_ACCEL_AUTO, /* KVM when a probe shows it works, else TCG (said at start) */
    SPICEGL_VM_ACCEL_KVM,  /* KVM or fail */
    SPICEGL_VM_ACCEL_TCG,  /* emulation: slow, for hosts without KVM */
};

enum spicegl_vm_disk_format {
    SPICEGL_VM_DISK_AUTO, /* qcow2 by its magic, else raw */
    SPICEGL_VM_DISK_RAW,
    SPICEGL_VM_DISK_QCOW2,
};

struct spicegl_vm_options {
    char *disk; /* the VM's disk image; NULL with a cdrom */
    enum spicegl_vm_disk_format disk_format;
    char *cdrom;   /* an ISO (an installer); booted first when there is no disk */
    bool snapshot; /* writes go to a temporary overlay: the disk is left as it was */
    uint64_t memory_mb;
    unsigned cpus;
    enum spicegl_vm_accel accel;
    char *addr;                /* SPICE address (default 127.0.0.1) */
    unsigned port;             /* SPICE port (default 5900) */
    char *ticket_file;         /* SPICE password file; NULL: none (loopback only) */
    unsigned width, height;    /* the GPU's preferred mode */
    bool network;              /* a user-mode NIC (virtio-net) */
    bool sound;                /* an HDA sound card, on QEMU's D-Bus audio */
    char *console;             /* the guest's serial console goes to this file; NULL: none */
    char *qemu;                /* QEMU binary (default $QEMU or qemu-system-x86_64) */
    char *daemon;              /* spicegl-gpu binary (default: beside spicegl-vm, else in PATH) */
    unsigned shutdown_timeout; /* seconds a guest has to power off on Ctrl-C; 0: none */
    char **daemon_args;        /* more spicegl-gpu arguments; NULL-terminated, may be NULL */
    char **qemu_args;          /* more QEMU arguments; NULL-terminated, may be NULL */
};

/* Parses argv. False with an error that names the option and what to change
 * (the caller prints it and exits 2); --help prints and exits 0. */
bool spicegl_vm_options_parse(struct spicegl_vm_options *o, int argc, char **argv, GError **error);

void spicegl_vm_options_finish(struct spicegl_vm_options *o);

#endif
