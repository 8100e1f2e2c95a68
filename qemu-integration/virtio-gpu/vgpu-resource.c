#include "config.h"

#include "vgpu-private.h"

#include <string.h>
#include <virgl/virglrenderer.h>

void vgpu_resource_free(gpointer p)
{
    struct vgpu_resource *res = p;
    if (res->iov) {
        struct iovec *iov = NULL;
        int n = 0;
        virgl_renderer_resource_detach_iov((int)res->id, &iov, &n);
    }
    virgl_renderer_resource_unref(res->id);
    g_free(res->iov);
    g_free(res->entries);
    g_free(res);
}

void vgpu_context_free(gpointer key)
{
    virgl_renderer_context_destroy(GPOINTER_TO_UINT(key));
}

struct vgpu_resource *vgpu_lookup(struct vgpu *g, uint32_t id)
{
    return id ? g_hash_table_lookup(g->resources, GUINT_TO_POINTER(id)) : NULL;
}

/* Every host allocation the guest causes goes through here. */
bool vgpu_charge(struct vgpu *g, uint64_t bytes)
{
    if (bytes > g->config.max_host_bytes - g->stats.host_bytes)
        return false;
    g->stats.host_bytes += bytes;
    return true;
}

void vgpu_uncharge(struct vgpu *g, uint64_t bytes)
{
    g->stats.host_bytes -= MIN(bytes, g->stats.host_bytes);
}

static uint32_t add_resource(struct vgpu *g, const struct vgpu_cmd *cmd, struct vgpu_resource *res,
                             struct virgl_renderer_resource_create_args *args)
{
    if (vgpu_lookup(g, res->id)) {
        g_free(res);
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "resource id in use");
    }
    if (g_hash_table_size(g->resources) >= MAX_RESOURCES || !vgpu_charge(g, res->host_bytes)) {
        g_free(res);
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
                           "over the host memory cap (--gpu-memory-mb)");
    }
    if (virgl_renderer_resource_create(args, NULL, 0) != 0) {
        vgpu_uncharge(g, res->host_bytes);
        g_free(res);
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                           "the renderer refused the resource");
    }
    g_hash_table_insert(g->resources, GUINT_TO_POINTER(res->id), res);
    return 0;
}

uint32_t vgpu_cmd_create_2d(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_resource_create_2d *c = &cmd->u.create_2d;
    struct vgpu_resource *res = g_new0(struct vgpu_resource, 1);
    *res = (struct vgpu_resource){.id = c->resource_id,
                                  .target = 2,
                                  .width = c->width,
                                  .height = c->height,
                                  .depth = 1,
                                  .array_size = 1,
                                  .format = c->format,
                                  .bpp = vgpu_format_bpp(c->format),
                                  .host_bytes = (uint64_t)c->width * c->height * 4};
    struct virgl_renderer_resource_create_args args = {
        .handle = c->resource_id,
        .target = 2, /* PIPE_TEXTURE_2D */
        .format = c->format,
        .bind = 1 << 1, /* render target */
        .width = c->width,
        .height = c->height,
        .depth = 1,
        .array_size = 1,
        .flags = VIRTIO_GPU_RESOURCE_FLAG_Y_0_TOP,
    };
    return add_resource(g, cmd, res, &args);
}

uint32_t vgpu_cmd_create_3d(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_resource_create_3d *c = &cmd->u.create_3d;
    struct vgpu_resource *res = g_new0(struct vgpu_resource, 1);
    *res = (struct vgpu_resource){.id = c->resource_id,
                                  .target = c->target,
                                  .width = c->width,
                                  .height = c->height,
                                  .depth = c->depth,
                                  .array_size = c->array_size,
                                  .format = c->format,
                                  .bpp = 4,
                                  .is_3d = true,
                                  .host_bytes = vgpu_resource_3d_bytes(c)};
    struct virgl_renderer_resource_create_args args = {
        .handle = c->resource_id,
        .target = c->target,
        .format = c->format,
        .bind = c->bind,
        .width = c->width,
        .height = c->height,
        .depth = c->depth,
        .array_size = c->array_size,
        .last_level = c->last_level,
        .nr_samples = c->nr_samples,
        .flags = c->flags,
    };
    return add_resource(g, cmd, res, &args);
}

/* Backing costs its entries and their translation. */
static uint64_t backing_host_bytes(uint32_t n_entries)
{
    return (uint64_t)n_entries * (sizeof(struct vgpu_mem_entry) + sizeof(struct iovec));
}

/* Takes the host translation back from the renderer; the entries stay. */
void vgpu_backing_unmap(struct vgpu_resource *res)
{
    if (!res->iov)
        return;
    struct iovec *iov = NULL;
    int n = 0;
    virgl_renderer_resource_detach_iov((int)res->id, &iov, &n);
    g_clear_pointer(&res->iov, g_free);
}

void vgpu_backing_detach(struct vgpu *g, struct vgpu_resource *res)
{
    if (!res->entries)
        return;
    vgpu_backing_unmap(res);
    vgpu_uncharge(g, backing_host_bytes(res->n_entries));
    g_clear_pointer(&res->entries, g_free);
    res->n_entries = 0;
    res->backing_bytes = 0;
}

/* The backing translated in today's memory map and attached to the
 * renderer, or false when a page is no longer in guest memory (the
 * backing is then detached, and the guest must attach it again). */
static bool map_backing(struct vgpu *g, struct vgpu_resource *res)
{
    if (res->iov)
        return true;
    if (!res->entries)
        return false;
    struct iovec *iov = g_new(struct iovec, res->n_entries);
    for (uint32_t i = 0; i < res->n_entries; i++) {
        void *p =
            g->dev ? vu_dev_gpa_to_va(g->dev, res->entries[i].addr, res->entries[i].length) : NULL;
        if (!p) {
            g_free(iov);
            vgpu_guest_warning(g, VGPU_LOG_KIND_QUEUE, "backing", "lost",
                               "a resource's pages left guest memory; its backing is detached");
            vgpu_backing_detach(g, res);
            return false;
        }
        iov[i] = (struct iovec){p, res->entries[i].length};
    }
    if (virgl_renderer_resource_attach_iov((int)res->id, iov, (int)res->n_entries) != 0) {
        g_free(iov);
        vgpu_backing_detach(g, res);
        return false;
    }
    res->iov = iov;
    return true;
}

uint32_t vgpu_cmd_unref(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    struct vgpu_resource *res = vgpu_lookup(g, cmd->u.unref.resource_id);
    if (!res)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    for (uint32_t i = 0; i < g->config.num_scanouts; i++)
        if (g->scanouts[i].resource_id == res->id)
            g->scanouts[i].resource_id = 0;
    vgpu_backing_detach(g, res);
    vgpu_uncharge(g, res->host_bytes);
    g_hash_table_remove(g->resources, GUINT_TO_POINTER(res->id));
    return 0;
}

uint32_t vgpu_cmd_attach_backing(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    struct vgpu_resource *res = vgpu_lookup(g, cmd->u.attach.resource_id);
    if (!res)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    if (res->entries)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_UNSPEC, "resource already has backing");
    uint32_t n = cmd->u.attach.nr_entries;
    if (!vgpu_charge(g, backing_host_bytes(n)))
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, "over the host memory cap");
    /* Kept as guest addresses: host pointers die with the memory map. */
    res->entries = g_memdup2(cmd->entries, (gsize)n * sizeof(struct vgpu_mem_entry));
    res->n_entries = n;
    res->backing_bytes = cmd->backing_bytes;
    for (uint32_t i = 0; i < n; i++)
        if (!g->dev || !vu_dev_gpa_to_va(g->dev, res->entries[i].addr, res->entries[i].length)) {
            vgpu_backing_detach(g, res);
            return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_UNSPEC,
                               "backing page outside guest RAM");
        }
    if (!map_backing(g, res))
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_UNSPEC, "the renderer refused the backing");
    return 0;
}

uint32_t vgpu_cmd_detach_backing(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    struct vgpu_resource *res = vgpu_lookup(g, cmd->u.detach.resource_id);
    if (!res)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    vgpu_backing_detach(g, res);
    return 0;
}

uint32_t vgpu_cmd_transfer_2d(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_transfer_to_host_2d *t = &cmd->u.transfer_2d;
    struct vgpu_resource *res = vgpu_lookup(g, t->resource_id);
    if (!res)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    if (!map_backing(g, res))
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_UNSPEC, "resource has no backing");
    if (!vgpu_check_transfer_2d(t, res->width, res->height, res->bpp, res->backing_bytes))
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                           "transfer outside the resource or its backing");
    struct virgl_box box = {t->r.x, t->r.y, 0, t->r.width, t->r.height, 1};
    virgl_renderer_transfer_write_iov(res->id, 0, 0, 0, 0, &box, t->offset, NULL, 0);
    return 0;
}

uint32_t vgpu_cmd_transfer_3d(struct vgpu *g, const struct vgpu_cmd *cmd, bool to_host)
{
    const struct virtio_gpu_transfer_host_3d *t = &cmd->u.transfer_3d;
    struct vgpu_resource *res = vgpu_lookup(g, t->resource_id);
    if (!res)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    if (!map_backing(g, res))
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_UNSPEC, "resource has no backing");
    struct vgpu_texture tex = {res->target, res->width, res->height, res->depth, res->array_size};
    if (!vgpu_check_box(&t->box, t->level, &tex))
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                           "box outside the resource");
    /* virglrenderer checks the bytes against the attached backing. */
    struct virgl_box box = {t->box.x, t->box.y, t->box.z, t->box.w, t->box.h, t->box.d};
    int rc = to_host ? virgl_renderer_transfer_write_iov(t->resource_id, cmd->hdr.ctx_id,
                                                         (int)t->level, t->stride, t->layer_stride,
                                                         &box, t->offset, NULL, 0)
                     : virgl_renderer_transfer_read_iov(t->resource_id, cmd->hdr.ctx_id, t->level,
                                                        t->stride, t->layer_stride, &box, t->offset,
                                                        NULL, 0);
    if (rc != 0)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                           "the renderer refused the transfer");
    return 0;
}

uint32_t vgpu_cmd_ctx_create(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_ctx_create *c = &cmd->u.ctx_create;
    gpointer key = GUINT_TO_POINTER(cmd->hdr.ctx_id);
    if (!cmd->hdr.ctx_id || g_hash_table_contains(g->contexts, key))
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID, "context id in use");
    if (g_hash_table_size(g->contexts) >= MAX_CONTEXTS)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, "too many 3D contexts");
    if (!vgpu_charge(g, CONTEXT_HOST_BYTES))
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
                           "a 3D context over the host memory cap (--gpu-memory-mb)");
    uint32_t capset = c->context_init & VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK;
    int rc = capset ? virgl_renderer_context_create_with_flags(cmd->hdr.ctx_id, c->context_init,
                                                               c->nlen, c->debug_name)
                    : virgl_renderer_context_create(cmd->hdr.ctx_id, c->nlen, c->debug_name);
    if (rc != 0) {
        vgpu_uncharge(g, CONTEXT_HOST_BYTES);
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID,
                           "the renderer refused the context");
    }
    g_hash_table_add(g->contexts, key);
    return 0;
}

uint32_t vgpu_cmd_ctx_destroy(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    if (!g_hash_table_remove(g->contexts, GUINT_TO_POINTER(cmd->hdr.ctx_id)))
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID, "no such context");
    vgpu_uncharge(g, CONTEXT_HOST_BYTES);
    return 0;
}

uint32_t vgpu_cmd_ctx_resource(struct vgpu *g, const struct vgpu_cmd *cmd, bool attach)
{
    if (!vgpu_lookup(g, cmd->u.ctx_resource.resource_id))
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    if (attach)
        virgl_renderer_ctx_attach_resource((int)cmd->hdr.ctx_id,
                                           (int)cmd->u.ctx_resource.resource_id);
    else
        virgl_renderer_ctx_detach_resource((int)cmd->hdr.ctx_id,
                                           (int)cmd->u.ctx_resource.resource_id);
    return 0;
}

uint32_t vgpu_cmd_submit(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    uint32_t size = cmd->u.submit.size;
    if (!size)
        return 0;
    /* virglrenderer parses the stream in place; give it an aligned copy. */
    g_autofree uint32_t *words = g_malloc(size);
    memcpy(words, cmd->data, size);
    /* Every context speaks virgl's protocol: the renderer starts without
     * venus or DRM contexts (renderer.c). One of those would need a walk of
     * its own. */
    vgpu_filter_stream(words, size / 4);
    if (virgl_renderer_submit_cmd(words, (int)cmd->hdr.ctx_id, (int)(size / 4)) != 0)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                           "the renderer rejected the command stream");
    return 0;
}
