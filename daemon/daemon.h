/* The daemon spicegl-gpu: one frame source (the VM's GPU or the synthetic
 * source, common/frame-source.h) wired to the SPICE servers (spice-gl/):
 * frames to each display's stream or GL scanout, the cursor to the cursor
 * channel, clients' input and monitor sizes back to the VM (through QEMU's
 * D-Bus display, qemu-control.h) and to the source, and stats lines.
 *
 * Created, run and destroyed on the main thread, whose default main
 * context is the daemon's. */
#ifndef SPICEGL_DAEMON_H
#define SPICEGL_DAEMON_H

#include <glib.h>

#include "options.h"

struct spicegl_daemon;

/* Builds everything the options ask for and starts listening. Nothing
 * from QEMU or the guest is read yet. options must outlive the daemon. */
struct spicegl_daemon *spicegl_daemon_create(const struct spicegl_options *options, GError **error);

/* Confines the daemon (user drop, sandbox), starts the source and runs
 * until SIGINT, SIGTERM or the source is gone. False when confinement
 * failed (nothing ran). */
bool spicegl_daemon_run(struct spicegl_daemon *daemon, GError **error);

/* Accepts NULL. */
void spicegl_daemon_destroy(struct spicegl_daemon *daemon);

#endif
