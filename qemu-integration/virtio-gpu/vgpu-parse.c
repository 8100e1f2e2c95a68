#include "config.h"

#include "vgpu-parse.h"

#include <string.h>

static uint32_t fail(const char **why, const char *reason, uint32_t code)
{
    *why = reason;
    return code;
}

#define BAD_PARAM    VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER
#define BAD_SCANOUT  VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID
#define BAD_RESOURCE VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID
#define BAD_CONTEXT  VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID

uint32_t vgpu_format_bpp(uint32_t format)
{
    switch (format) {
    case VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM:
    case VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM:
    case VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM:
    case VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM:
    case VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM:
    case VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM:
    case VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM:
    case VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM:
        return 4;
    default:
        return 0;
    }
}

static bool rect_overflows(const struct virtio_gpu_rect *r)
{
    return (uint64_t)r->x + r->width > UINT32_MAX || (uint64_t)r->y + r->height > UINT32_MAX;
}

bool vgpu_check_rect(const struct virtio_gpu_rect *r, uint32_t width, uint32_t height)
{
    return !rect_overflows(r) && r->x + r->width <= width && r->y + r->height <= height;
}

bool vgpu_check_transfer_2d(const struct virtio_gpu_transfer_to_host_2d *t, uint32_t width,
                            uint32_t height, uint32_t bpp, uint64_t backing_bytes)
{
    if (!vgpu_check_rect(&t->r, width, height) || !t->r.width || !t->r.height)
        return false;
    /* The guest's stride is the resource's width; the last byte read is on
     * the rectangle's last row. */
    uint64_t stride = (uint64_t)width * bpp;
    uint64_t end = t->offset + stride * (t->r.height - 1) + (uint64_t)t->r.width * bpp;
    return t->offset <= backing_bytes && end <= backing_bytes && end >= t->offset;
}

#define PIPE_TEXTURE_3D       3
#define PIPE_TEXTURE_1D_ARRAY 6

static uint64_t at_level(uint32_t size, uint32_t level)
{
    return size >> level ? size >> level : 1;
}

bool vgpu_check_box(const struct virtio_gpu_box *b, uint32_t level, const struct vgpu_texture *t)
{
    if (level > 15)
        return false;
    uint64_t layers = t->array_size ? t->array_size : 1;
    uint64_t w = at_level(t->width, level), h = at_level(t->height, level);
    /* Only a 3D texture's depth shrinks with the level. */
    uint64_t d =
        t->target == PIPE_TEXTURE_3D ? at_level(t->depth, level) : (t->depth ? t->depth : 1);
    if (t->target == PIPE_TEXTURE_1D_ARRAY)
        h = layers;
    else
        d *= layers;
    return (uint64_t)b->x + b->w <= w && (uint64_t)b->y + b->h <= h && (uint64_t)b->z + b->d <= d;
}

uint64_t vgpu_resource_3d_bytes(const struct virtio_gpu_resource_create_3d *c)
{
    /* Buffers are width bytes; textures 16 bytes a texel at most; all mip
     * levels together stay under twice the base level. */
    uint64_t per = c->target == 0 /* PIPE_BUFFER */ ? 1 : 16;
    uint64_t texels = (uint64_t)c->width * c->height * (c->depth ? c->depth : 1) *
                      (c->array_size ? c->array_size : 1);
    uint64_t samples = c->nr_samples ? c->nr_samples : 1;
    if (texels > (1ull << 40) || samples > 32)
        return 0;
    return texels * per * samples * (c->last_level ? 2 : 1);
}

struct shape {
    uint32_t type;
    size_t size;
    bool needs_3d;
};

static const struct shape shapes[] = {
    {VIRTIO_GPU_CMD_GET_DISPLAY_INFO, sizeof(struct virtio_gpu_ctrl_hdr), false},
    {VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, sizeof(struct virtio_gpu_resource_create_2d), false},
    {VIRTIO_GPU_CMD_RESOURCE_UNREF, sizeof(struct virtio_gpu_resource_unref), false},
    {VIRTIO_GPU_CMD_SET_SCANOUT, sizeof(struct virtio_gpu_set_scanout), false},
    {VIRTIO_GPU_CMD_RESOURCE_FLUSH, sizeof(struct virtio_gpu_resource_flush), false},
    {VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, sizeof(struct virtio_gpu_transfer_to_host_2d), false},
    {VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, sizeof(struct virtio_gpu_resource_attach_backing),
     false},
    {VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, sizeof(struct virtio_gpu_resource_detach_backing),
     false},
    {VIRTIO_GPU_CMD_GET_CAPSET_INFO, sizeof(struct virtio_gpu_get_capset_info), false},
    {VIRTIO_GPU_CMD_GET_CAPSET, sizeof(struct virtio_gpu_get_capset), false},
    {VIRTIO_GPU_CMD_GET_EDID, sizeof(struct virtio_gpu_cmd_get_edid), false},
    {VIRTIO_GPU_CMD_CTX_CREATE, sizeof(struct virtio_gpu_ctx_create), true},
    {VIRTIO_GPU_CMD_CTX_DESTROY, sizeof(struct virtio_gpu_ctx_destroy), true},
    {VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, sizeof(struct virtio_gpu_ctx_resource), true},
    {VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE, sizeof(struct virtio_gpu_ctx_resource), true},
    {VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, sizeof(struct virtio_gpu_resource_create_3d), true},
    {VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, sizeof(struct virtio_gpu_transfer_host_3d), true},
    {VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, sizeof(struct virtio_gpu_transfer_host_3d), true},
    {VIRTIO_GPU_CMD_SUBMIT_3D, sizeof(struct virtio_gpu_cmd_submit), true},
    {VIRTIO_GPU_CMD_UPDATE_CURSOR, sizeof(struct virtio_gpu_update_cursor), false},
    {VIRTIO_GPU_CMD_MOVE_CURSOR, sizeof(struct virtio_gpu_update_cursor), false},
};

uint32_t vgpu_parse(const uint8_t *buf, size_t len, const struct vgpu_limits *lim,
                    struct vgpu_cmd *cmd, const char **why)
{
    memset(cmd, 0, sizeof(*cmd));
    if (len < sizeof(cmd->hdr))
        return fail(why, "request shorter than its header", VIRTIO_GPU_RESP_ERR_UNSPEC);
    memcpy(&cmd->hdr, buf, sizeof(cmd->hdr));
    const struct shape *s = NULL;
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]) && !s; i++)
        if (shapes[i].type == cmd->hdr.type)
            s = &shapes[i];
    if (!s)
        return fail(why, "unknown command", VIRTIO_GPU_RESP_ERR_UNSPEC);
    if (s->needs_3d && !lim->virgl)
        return fail(why, "3D command without virgl", VIRTIO_GPU_RESP_ERR_UNSPEC);
    if (len < s->size)
        return fail(why, "request shorter than its command", VIRTIO_GPU_RESP_ERR_UNSPEC);
    memcpy(&cmd->u, buf, s->size);

    switch (cmd->hdr.type) {
    case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: {
        const struct virtio_gpu_resource_create_2d *c = &cmd->u.create_2d;
        if (!c->resource_id)
            return fail(why, "resource id 0", BAD_RESOURCE);
        if (!vgpu_format_bpp(c->format))
            return fail(why, "unknown 2D format", BAD_PARAM);
        if (!c->width || !c->height || c->width > VGPU_MAX_DIM || c->height > VGPU_MAX_DIM)
            return fail(why, "2D size out of range", BAD_PARAM);
        break;
    }
    case VIRTIO_GPU_CMD_SET_SCANOUT:
        if (cmd->u.set_scanout.scanout_id >= lim->num_scanouts)
            return fail(why, "scanout id out of range", BAD_SCANOUT);
        if (rect_overflows(&cmd->u.set_scanout.r))
            return fail(why, "scanout rectangle overflows", BAD_PARAM);
        break;
    case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
        if (rect_overflows(&cmd->u.flush.r))
            return fail(why, "flush rectangle overflows", BAD_PARAM);
        break;
    case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
        if (rect_overflows(&cmd->u.transfer_2d.r))
            return fail(why, "transfer rectangle overflows", BAD_PARAM);
        break;
    case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: {
        uint32_t n = cmd->u.attach.nr_entries;
        if (!n || n > VGPU_MAX_MEM_ENTRIES)
            return fail(why, "backing entry count out of range", BAD_PARAM);
        if ((len - s->size) / sizeof(struct vgpu_mem_entry) < n)
            return fail(why, "backing entries beyond the request", BAD_PARAM);
        cmd->entries = (const struct vgpu_mem_entry *)(buf + s->size);
        for (uint32_t i = 0; i < n; i++) {
            struct vgpu_mem_entry e;
            memcpy(&e, buf + s->size + i * sizeof(e), sizeof(e));
            if (!e.length || e.addr + e.length < e.addr)
                return fail(why, "backing entry empty or wrapping", BAD_PARAM);
            cmd->backing_bytes += e.length;
        }
        break;
    }
    case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
        if (cmd->u.capset_info.capset_index >= lim->num_capsets)
            return fail(why, "capset index out of range", BAD_PARAM);
        break;
    case VIRTIO_GPU_CMD_GET_CAPSET:
        if (cmd->u.capset.capset_id < 1 || cmd->u.capset.capset_id > lim->num_capsets)
            return fail(why, "unknown capset", BAD_PARAM);
        break;
    case VIRTIO_GPU_CMD_GET_EDID:
        if (cmd->u.edid.scanout >= lim->num_scanouts)
            return fail(why, "scanout id out of range", BAD_SCANOUT);
        break;
    case VIRTIO_GPU_CMD_CTX_CREATE:
        if (!cmd->hdr.ctx_id)
            return fail(why, "context id 0", BAD_CONTEXT);
        if (cmd->u.ctx_create.nlen > sizeof(cmd->u.ctx_create.debug_name))
            return fail(why, "context name too long", BAD_PARAM);
        break;
    case VIRTIO_GPU_CMD_CTX_DESTROY:
    case VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:
    case VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:
        if (!cmd->hdr.ctx_id)
            return fail(why, "context id 0", BAD_CONTEXT);
        break;
    case VIRTIO_GPU_CMD_RESOURCE_CREATE_3D: {
        const struct virtio_gpu_resource_create_3d *c = &cmd->u.create_3d;
        if (!c->resource_id)
            return fail(why, "resource id 0", BAD_RESOURCE);
        if (c->target > 8 /* PIPE_MAX_TEXTURE_TYPES */)
            return fail(why, "unknown 3D target", BAD_PARAM);
        if (c->width > VGPU_MAX_DIM * (c->target == 0 ? 4096u : 1u) || c->height > VGPU_MAX_DIM ||
            c->depth > 2048 || c->array_size > 2048 || c->last_level > 15 || c->nr_samples > 32)
            return fail(why, "3D size out of range", BAD_PARAM);
        if (!vgpu_resource_3d_bytes(c))
            return fail(why, "3D size overflows", BAD_PARAM);
        break;
    }
    case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:
    case VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D: {
        const struct virtio_gpu_box *b = &cmd->u.transfer_3d.box;
        if ((uint64_t)b->x + b->w > UINT32_MAX || (uint64_t)b->y + b->h > UINT32_MAX ||
            (uint64_t)b->z + b->d > UINT32_MAX || cmd->u.transfer_3d.level > 15)
            return fail(why, "transfer box overflows", BAD_PARAM);
        break;
    }
    case VIRTIO_GPU_CMD_SUBMIT_3D: {
        uint32_t size = cmd->u.submit.size;
        if (size > VGPU_MAX_SUBMIT_BYTES || size % 4)
            return fail(why, "command stream size out of range", BAD_PARAM);
        if (len - s->size < size)
            return fail(why, "command stream beyond the request", BAD_PARAM);
        cmd->data = buf + s->size;
        break;
    }
    case VIRTIO_GPU_CMD_UPDATE_CURSOR:
    case VIRTIO_GPU_CMD_MOVE_CURSOR:
        if (cmd->u.cursor.pos.scanout_id >= lim->num_scanouts)
            return fail(why, "scanout id out of range", BAD_SCANOUT);
        break;
    default:
        break;
    }
    return 0;
}

/* virgl's command stream (virgl_protocol.h): each command is one header
 * word, length << 16 | command, and length words. */
#define VIRGL_CCMD_NOP         0
#define VIRGL_CCMD_LINK_SHADER 52

size_t vgpu_filter_stream(uint32_t *words, size_t n)
{
    size_t neutralised = 0;
    for (size_t i = 0; i < n; i += 1 + (words[i] >> 16)) {
        uint32_t cmd = words[i] & 0xff, len = words[i] >> 16;
        /* LINK_SHADER only asks the renderer to link a program ahead of
         * the draw that needs it, and its state changes are undone after.
         * virglrenderer (0.10.4, and 1.3 alike) runs it without the error check its
         * draw path makes: given a shader that failed to translate, it
         * reads through the failed shader's NULL variant and the daemon
         * dies (a guest-triggered crash, found by fuzz-vgpu-device). The
         * draw links the same program itself, so the guest loses only the
         * head start. */
        if (cmd == VIRGL_CCMD_LINK_SHADER) {
            words[i] = len << 16 | VIRGL_CCMD_NOP;
            neutralised++;
        }
    }
    return neutralised;
}
