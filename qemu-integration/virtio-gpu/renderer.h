/* virglrenderer, set up for this host: EGL on a render node when there is
 * one, surfaceless EGL (Mesa's llvmpipe) otherwise. render_node names the
 * node to use (libvirt's --render-node); NULL: /dev/dri/renderD128 when it
 * is there. A node that cannot be opened, or is not a DRM render node, is
 * logged and rendering falls back to llvmpipe.
 *
 * virglrenderer keeps its state in globals, so a process has one renderer
 * at a time (a second create fails); it must be created, used and
 * destroyed on one thread, the one that then owns the GL context. Fences
 * signal through write_fence during vgpu_renderer_poll. */
#ifndef VGPU_RENDERER_H
#define VGPU_RENDERER_H

#include <stdbool.h>
#include <stdint.h>

#include <gio/gio.h>

struct vgpu_renderer;

struct vgpu_renderer *vgpu_renderer_create(const char *render_node,
                                           void (*write_fence)(void *user, uint32_t fence),
                                           void *user, GError **error);
void vgpu_renderer_destroy(struct vgpu_renderer *r);

/* "EGL on /dev/dri/renderD128" or "surfaceless EGL". */
const char *vgpu_renderer_describe(const struct vgpu_renderer *r);

/* Capsets 1 (virgl) and 2 (virgl2) when the renderer has them. */
uint32_t vgpu_renderer_num_capsets(const struct vgpu_renderer *r);

/* Signals finished fences. */
void vgpu_renderer_poll(struct vgpu_renderer *r);

/* Whether a resource can be exported as a dmabuf: asked, never tried
 * (trying segfaults on surfaceless llvmpipe). */
bool vgpu_renderer_can_export(struct vgpu_renderer *r, uint32_t resource_id);

#endif
