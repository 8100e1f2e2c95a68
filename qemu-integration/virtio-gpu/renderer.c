#include "config.h"

#include "renderer.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <virgl/virglrenderer.h>

/* DRM character devices; render nodes are minors 128..255. */
#define DRM_MAJOR        226
#define DRM_RENDER_MINOR 128

struct vgpu_renderer {
    void (*write_fence)(void *user, uint32_t fence);
    void *user;
    char *describe;
    uint32_t num_capsets;
    int drm_fd; /* the render node asked for, or -1 */
};

/* virglrenderer's state is global: this only says whether it is taken. */
static gint in_use;

static void on_write_fence(void *cookie, uint32_t fence)
{
    struct vgpu_renderer *r = cookie;
    r->write_fence(r->user, fence);
}

/* virglrenderer takes the fd it is given: a new one each call. -1 lets
 * it pick a node itself. */
static int on_get_drm_fd(void *cookie)
{
    struct vgpu_renderer *r = cookie;
    return r->drm_fd >= 0 ? fcntl(r->drm_fd, F_DUPFD_CLOEXEC, 0) : -1;
}

static struct virgl_renderer_callbacks callbacks = {
    .version = 2,
    .write_fence = on_write_fence,
    .get_drm_fd = on_get_drm_fd,
};

/* The render node at path, open, or -1 and *why: it must be a DRM render
 * node (a character device, major 226, minor 128 or more) this process
 * may read and write. */
static int open_render_node(const char *path, const char **why)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        *why = g_strerror(errno);
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != DRM_MAJOR ||
        minor(st.st_rdev) < DRM_RENDER_MINOR) {
        *why = "not a DRM render node";
        close(fd);
        return -1;
    }
    return fd;
}

struct vgpu_renderer *vgpu_renderer_create(const char *render_node,
                                           void (*write_fence)(void *user, uint32_t fence),
                                           void *user, GError **error)
{
    if (!g_atomic_int_compare_and_exchange(&in_use, 0, 1)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY, "virglrenderer is already in use");
        return NULL;
    }
    struct vgpu_renderer *r = g_new0(struct vgpu_renderer, 1);
    r->write_fence = write_fence;
    r->user = user;
    r->drm_fd = -1;
    const char *node = render_node ? render_node : "/dev/dri/renderD128";
    const char *why = NULL;
    int rc = -1;
    if (render_node && (r->drm_fd = open_render_node(render_node, &why)) < 0)
        g_message("virtio-gpu: render node %s is not usable (%s): rendering with llvmpipe",
                  render_node, why);
    /* Without a render node USE_EGL alone fails: go surfaceless. */
    if (r->drm_fd >= 0 || (!render_node && access(node, R_OK | W_OK) == 0)) {
        rc = virgl_renderer_init(r, VIRGL_RENDERER_USE_EGL, &callbacks);
        if (rc == 0)
            r->describe = g_strdup_printf("EGL on %s", node);
    }
    if (rc != 0) {
        rc = virgl_renderer_init(r, VIRGL_RENDERER_USE_EGL | VIRGL_RENDERER_USE_SURFACELESS,
                                 &callbacks);
        if (rc == 0)
            r->describe = g_strdup("surfaceless EGL");
    }
    if (rc != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "virglrenderer did not start (%d): is Mesa's EGL installed (libegl-mesa0)?",
                    rc);
        if (r->drm_fd >= 0)
            close(r->drm_fd);
        g_free(r);
        g_atomic_int_set(&in_use, 0);
        return NULL;
    }
    for (uint32_t set = 1; set <= 2; set++) {
        uint32_t max_ver = 0, max_size = 0;
        virgl_renderer_get_cap_set(set, &max_ver, &max_size);
        if (max_ver && max_size)
            r->num_capsets = set;
    }
    return r;
}

void vgpu_renderer_destroy(struct vgpu_renderer *r)
{
    if (!r)
        return;
    virgl_renderer_cleanup(r);
    if (r->drm_fd >= 0)
        close(r->drm_fd);
    g_free(r->describe);
    g_free(r);
    g_atomic_int_set(&in_use, 0);
}

const char *vgpu_renderer_describe(const struct vgpu_renderer *r)
{
    return r->describe;
}

uint32_t vgpu_renderer_num_capsets(const struct vgpu_renderer *r)
{
    return r->num_capsets;
}

void vgpu_renderer_poll(struct vgpu_renderer *r)
{
    virgl_renderer_poll();
}

bool vgpu_renderer_can_export(struct vgpu_renderer *r, uint32_t resource_id)
{
    struct virgl_renderer_export_query q = {
        .hdr = {.stype = VIRGL_RENDERER_STRUCTURE_TYPE_EXPORT_QUERY,
                .stype_version = 0,
                .size = sizeof(q)},
        .in_resource_id = resource_id,
        .in_export_fds = 0,
    };
    return virgl_renderer_execute(&q, sizeof(q)) == 0 && q.out_num_fds > 0;
}
