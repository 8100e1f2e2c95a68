/* The virtio-gpu device model behind vhost-user: control and cursor
 * queues, resources, scanouts, fences, config space; 3D through
 * virglrenderer (renderer.h).
 *
 * Runs on the GPU thread's GMainContext, which owns the GL context; the
 * listener is called there too and must not block. Guest
 * commands are checked by vgpu-parse.h before anything here uses them; a
 * bad one gets a virtio-gpu error response and a log line, and the guest
 * goes on, and the log line is rate-limited. Every host allocation the
 * guest can cause (resources, backing tables, 3D contexts, scanout
 * read-back buffers, requests waiting for a fence) is charged against
 * config.max_host_bytes, and each kind is bounded in number too. The
 * guest's fence ids are 64 bits and never reach the renderer. */
#ifndef VGPU_H
#define VGPU_H

#include <stdbool.h>
#include <stdint.h>

#include <gio/gio.h>

#include "common/frame-source.h"
#include "qemu-integration/vhost-user/vhost-user.h"

#define VGPU_MAX_SCANOUTS 4

struct vgpu_config {
    uint32_t num_scanouts;   /* 1..VGPU_MAX_SCANOUTS */
    uint32_t width, height;  /* preferred mode of scanout 0 */
    uint64_t max_host_bytes; /* cap on guest-driven host memory */
    bool virgl;              /* offer 3D (needs the renderer) */
    bool qemu_console;       /* feed QEMU's console over the display socket */
    const char *record_dir;  /* NULL, or record the guest's requests there (record.h) */
    const char *render_node; /* NULL, or the DRM render node to render on (renderer.h) */
};

struct vgpu_stats {
    uint64_t commands, errors, flushes, frames, fences;
    uint64_t host_bytes;                   /* charged against max_host_bytes */
    uint64_t read_pixels, shown_pixels;    /* read back, of the scanouts' pictures read */
    uint64_t changed_pixels;               /* of those, handed on as damage */
    uint32_t resources, contexts, pending; /* pending: requests waiting for a fence */
};

struct vgpu;

/* The device reports to a frame-source listener (common/frame-source.h),
 * on the GPU thread: frames (BGRx pixels; as damage, the flushed rectangle,
 * or where a whole read-back differs from the picture before),
 * the cursor, and gone when the vhost-user connection ends. connected and
 * ready are not called. */
struct vgpu *vgpu_create(const struct vgpu_config *config,
                         const struct sgl_source_listener *listener, void *user, GError **error);

/* Frees every resource; the renderer is cleaned up with it. Accepts NULL. */
void vgpu_destroy(struct vgpu *g);

/* The vhost-user side: the interface to create the connection with (user
 * is the vgpu), then the connection itself. */
const struct vu_iface *vgpu_vu_iface(const struct vgpu *g);
void vgpu_set_dev(struct vgpu *g, struct vu_dev *dev);

/* The renderer in use, e.g. "surfaceless EGL". */
const char *vgpu_renderer_description(const struct vgpu *g);

/* A client asked for this mode: display info says it from now on (QEMU
 * tells the guest to ask: qemu-control.h). */
void vgpu_request_mode(struct vgpu *g, uint32_t scanout, uint32_t width, uint32_t height);

void vgpu_get_stats(const struct vgpu *g, struct vgpu_stats *stats);

/* Drops every resource and 3D context, as when the guest's driver restarts
 * (a reboot); scanouts show nothing until set again. */
void vgpu_reset(struct vgpu *g);

/* Handles one request as if popped from a queue (tests): writes the
 * response into resp (resp_size bytes at most) and returns its length,
 * or 0 when the response waits for a fence. */
size_t vgpu_process(struct vgpu *g, bool cursor_queue, const uint8_t *req, size_t len,
                    uint8_t *resp, size_t resp_size);

#endif
