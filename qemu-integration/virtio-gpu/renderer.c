#include "config.h"

#include "renderer.h"

#include <unistd.h>
#include <virgl/virglrenderer.h>

struct vgpu_renderer {
    void (*write_fence)(void *user, uint32_t fence);
    void *user;
    char *describe;
    uint32_t num_capsets;
};

/* virglrenderer's state is global: this only says whether it is taken. */
static gint in_use;

static void on_write_fence(void *cookie, uint32_t fence)
{
    struct vgpu_renderer *r = cookie;
    r->write_fence(r->user, fence);
}

static struct virgl_renderer_callbacks callbacks = {
    .version = 1,
    .write_fence = on_write_fence,
};

struct vgpu_renderer *vgpu_renderer_create(void (*write_fence)(void *user, uint32_t fence),
                                           void *user, GError **error)
{
    if (!g_atomic_int_compare_and_exchange(&in_use, 0, 1)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY, "virglrenderer is already in use");
        return NULL;
    }
    struct vgpu_renderer *r = g_new0(struct vgpu_renderer, 1);
    r->write_fence = write_fence;
    r->user = user;
    const char *node = "/dev/dri/renderD128";
    int rc = -1;
    /* Without a render node USE_EGL alone fails: go surfaceless. */
    if (access(node, R_OK | W_OK) == 0) {
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
