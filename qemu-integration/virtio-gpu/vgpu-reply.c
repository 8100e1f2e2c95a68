#include "config.h"

#include "vgpu-private.h"

#include <string.h>

static const char *cmd_name(uint32_t type)
{
    switch (type) {
    case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
        return "GET_DISPLAY_INFO";
    case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
        return "RESOURCE_CREATE_2D";
    case VIRTIO_GPU_CMD_RESOURCE_UNREF:
        return "RESOURCE_UNREF";
    case VIRTIO_GPU_CMD_SET_SCANOUT:
        return "SET_SCANOUT";
    case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
        return "RESOURCE_FLUSH";
    case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
        return "TRANSFER_TO_HOST_2D";
    case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
        return "RESOURCE_ATTACH_BACKING";
    case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
        return "RESOURCE_DETACH_BACKING";
    case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
        return "GET_CAPSET_INFO";
    case VIRTIO_GPU_CMD_GET_CAPSET:
        return "GET_CAPSET";
    case VIRTIO_GPU_CMD_GET_EDID:
        return "GET_EDID";
    case VIRTIO_GPU_CMD_CTX_CREATE:
        return "CTX_CREATE";
    case VIRTIO_GPU_CMD_CTX_DESTROY:
        return "CTX_DESTROY";
    case VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:
        return "CTX_ATTACH_RESOURCE";
    case VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:
        return "CTX_DETACH_RESOURCE";
    case VIRTIO_GPU_CMD_RESOURCE_CREATE_3D:
        return "RESOURCE_CREATE_3D";
    case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:
        return "TRANSFER_TO_HOST_3D";
    case VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D:
        return "TRANSFER_FROM_HOST_3D";
    case VIRTIO_GPU_CMD_SUBMIT_3D:
        return "SUBMIT_3D";
    case VIRTIO_GPU_CMD_UPDATE_CURSOR:
        return "UPDATE_CURSOR";
    case VIRTIO_GPU_CMD_MOVE_CURSOR:
        return "MOVE_CURSOR";
    default:
        return "unknown";
    }
}

void vgpu_respond(struct vgpu_response *r, const struct vgpu_cmd *cmd, uint32_t type,
                  const void *body, size_t body_len)
{
    struct virtio_gpu_ctrl_hdr h = {
        .type = type,
        .flags = cmd->hdr.flags & VIRTIO_GPU_FLAG_FENCE,
        .fence_id = cmd->hdr.fence_id,
        .ctx_id = cmd->hdr.ctx_id,
        .ring_idx = cmd->hdr.ring_idx,
    };
    size_t n = MIN(sizeof(h), r->size);
    memcpy(r->buf, &h, n);
    r->len = n;
    if (body_len && r->size > sizeof(h)) {
        size_t k = MIN(body_len, r->size - sizeof(h));
        memcpy(r->buf + sizeof(h), body, k);
        r->len += k;
    }
}

/* Logs a guest-caused problem, at most a few lines a second per kind. */
/* "virtio-gpu: SUBJECT EVENT: WHY", formatted only when it is logged: a
 * flood of rejections costs no allocation each. */
void vgpu_guest_warning(struct vgpu *g, uint32_t kind, const char *subject, const char *event,
                        const char *why)
{
    uint64_t held_back = 0;
    if (!vgpu_ratelimit_allow(&g->log_limit, kind, g_get_monotonic_time(), &held_back))
        return;
    if (held_back)
        g_warning("virtio-gpu: %s %s: %s (and %" G_GUINT64_FORMAT " more not logged)", subject,
                  event, why, held_back);
    else
        g_warning("virtio-gpu: %s %s: %s", subject, event, why);
}

/* Command types 0x100.., 0x200.., 0x300..: one log kind each. */
uint32_t vgpu_log_kind(uint32_t type)
{
    return ((type >> 8) & 3) * 16 + (type & 15);
}

#define VGPU_LOG_KIND_QUEUE (VGPU_RATELIMIT_KINDS - 1)

uint32_t vgpu_reject(struct vgpu *g, const struct vgpu_cmd *cmd, uint32_t code, const char *why)
{
    g->stats.errors++;
    vgpu_guest_warning(g, vgpu_log_kind(cmd->hdr.type), cmd_name(cmd->hdr.type), "rejected", why);
    return code;
}
