/* spicegl-vm's launcher: spicegl-gpu and QEMU, started and stopped together.
 *
 * spicegl_vm_launcher_create probes the accelerator, starts the daemon,
 * waits for its vhost-user socket, then starts QEMU; run then follows both
 * until each has exited: when one exits the other is stopped, and on
 * SIGINT/SIGTERM the guest is asked to power off (ACPI, through a QMP
 * socket of the launcher's own) for up to the shutdown timeout, then QEMU
 * is stopped. The launcher owns both processes and its runtime directory;
 * destroy (NULL accepted) kills what still runs. Main thread only. */
#ifndef SPICEGL_VM_LAUNCHER_H
#define SPICEGL_VM_LAUNCHER_H

#include <glib.h>

#include "vm-options.h"

struct spicegl_vm_launcher;

/* argv0: how spicegl-vm was run (spicegl-gpu is looked for beside it).
 * The options must outlive the launcher. */
struct spicegl_vm_launcher *spicegl_vm_launcher_create(const struct spicegl_vm_options *o,
                                                       const char *argv0, GError **error);

/* Until both processes have exited. 0: the guest powered off or was
 * stopped on request, and the daemon exited cleanly; 1 otherwise. */
int spicegl_vm_launcher_run(struct spicegl_vm_launcher *l);

void spicegl_vm_launcher_destroy(struct spicegl_vm_launcher *l);

#endif
