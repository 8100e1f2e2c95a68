/* The VM's GPU as the daemon runs it, a frame source (common/frame-source.h):
 * a listening socket (or an inherited fd) for QEMU's vhost-user-gpu
 * connection, and the GPU thread, which owns the GL context and runs the
 * vhost-user connection and the virtio-gpu device.
 *
 * One QEMU connection: when it ends (QEMU quit or was killed) the source
 * reports gone and takes no other, as vhost-user backends do. Created,
 * started and destroyed on the daemon's main context, where the listener's
 * cursor_set, cursor_move, connected and gone are called; frame is called
 * on the GPU thread (the frames are pixels read back from the renderer). */
#ifndef VGPU_THREAD_H
#define VGPU_THREAD_H

#include <gio/gio.h>

#include "common/frame-source.h"
#include "vgpu.h"

struct vgpu_thread_config {
    const char *socket_path; /* listen here, or */
    int fd;                  /* -1, or a listening or connected socket to take */
    struct vgpu_config gpu;
};

/* Starts listening and the renderer (errors here are start-up errors).
 * Nothing from QEMU is read until sgl_source_start: call it once the
 * daemon's sandbox and user drop are in place, so that no byte from QEMU
 * or the guest is parsed before them. The listening path stays (the
 * sandboxed daemon may not remove files); the next start on the same
 * path removes it. Destroy with sgl_source_destroy. */
struct sgl_source *vgpu_thread_create(const struct vgpu_thread_config *config,
                                      const struct sgl_source_listener *listener, void *user,
                                      GError **error);

/* "surfaceless EGL" and the like. */
const char *vgpu_thread_renderer(struct sgl_source *source);

#endif
