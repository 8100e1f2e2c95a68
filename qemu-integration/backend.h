/* The vhost-user-gpu backend as the daemon runs it: a listening socket (or
 * an inherited fd), a thread of its own that owns the GL context and runs
 * the vhost-user connection and the virtio-gpu device, and the hand-off of
 * what the guest shows to the SPICE side.
 *
 * One QEMU connection per backend: when it ends (QEMU quit or was killed)
 * the backend reports gone and takes no other, as vhost-user backends do.
 * Created and destroyed on the daemon's main context, which is where
 * cursor and gone are called; frame is called on the backend thread. */
#ifndef VGPU_BACKEND_H
#define VGPU_BACKEND_H

#include <gio/gio.h>

#include "vgpu.h"

struct vgpu_backend_config {
    const char *socket_path; /* listen here, or */
    int fd;                  /* -1, or a listening or connected socket to take */
    struct vgpu_config gpu;
};

struct vgpu_backend_callbacks {
    void (*frame)(void *user, const struct vgpu_frame *frame);
    void (*cursor_set)(void *user, uint32_t scanout, uint32_t width, uint32_t height,
                       uint32_t hot_x, uint32_t hot_y, const uint32_t *argb);
    void (*cursor_move)(void *user, uint32_t scanout, int32_t x, int32_t y);
    void (*connected)(void *user);
    void (*gone)(void *user, const char *why);
};

struct vgpu_backend;

/* Starts listening and the renderer (errors here are start-up errors).
 * Nothing from QEMU is read until vgpu_backend_start. */
struct vgpu_backend *vgpu_backend_create(const struct vgpu_backend_config *config,
                                         const struct vgpu_backend_callbacks *cb, void *user,
                                         GError **error);
void vgpu_backend_destroy(struct vgpu_backend *b);

/* Accepts QEMU's connection (or takes the inherited one) and serves it:
 * call once the daemon's sandbox and user drop are in place, so that no
 * byte from QEMU or the guest is parsed before them. The listening path
 * stays (the sandboxed daemon may not remove files); the next start on
 * the same path removes it. */
void vgpu_backend_start(struct vgpu_backend *b);

/* From any thread. */
void vgpu_backend_request_mode(struct vgpu_backend *b, uint32_t scanout, uint32_t width,
                               uint32_t height);

/* "surfaceless EGL" and the like. */
const char *vgpu_backend_renderer(const struct vgpu_backend *b);

void vgpu_backend_get_stats(struct vgpu_backend *b, struct vgpu_stats *stats);

#endif
