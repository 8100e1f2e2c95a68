#include "config.h"

#include "vgpu-private.h"

#include <string.h>
#include <virgl/virglrenderer.h>

#include <linux/virtio_ring.h>

#include "qemu-integration/vhost-user/virtq.h"

static uint32_t cmd_capset_info(struct vgpu *g, const struct vgpu_cmd *cmd, struct vgpu_response *r)
{
    uint32_t id = cmd->u.capset_info.capset_index + 1, max_ver = 0, max_size = 0;
    virgl_renderer_get_cap_set(id, &max_ver, &max_size);
    struct {
        uint32_t id, max_version, max_size, padding;
    } body = {id, max_ver, max_size, 0};
    vgpu_respond(r, cmd, VIRTIO_GPU_RESP_OK_CAPSET_INFO, &body, sizeof(body));
    return 0;
}

static uint32_t cmd_capset(struct vgpu *g, const struct vgpu_cmd *cmd, struct vgpu_response *r)
{
    uint32_t max_ver = 0, max_size = 0;
    virgl_renderer_get_cap_set(cmd->u.capset.capset_id, &max_ver, &max_size);
    if (!max_size || cmd->u.capset.capset_version > max_ver || max_size > 65536)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, "capset version unknown");
    g_autofree uint8_t *caps = g_malloc0(max_size);
    virgl_renderer_fill_caps(cmd->u.capset.capset_id, cmd->u.capset.capset_version, caps);
    vgpu_respond(r, cmd, VIRTIO_GPU_RESP_OK_CAPSET, caps, max_size);
    return 0;
}

static uint32_t execute(struct vgpu *g, const struct vgpu_cmd *cmd, struct vgpu_response *r)
{
    /* virglrenderer leaves the GL context of the last guest context it ran
     * current, and only SUBMIT_3D and transfers switch. Creating, attaching
     * or freeing a resource in that context would change the texture and
     * buffer bindings behind the guest's back; its next draw then fails
     * (GL_INVALID_OPERATION) and the context is dead. Every other command
     * runs in the renderer's own context, as QEMU's virtio-gpu does it. */
    if (cmd->hdr.type != VIRTIO_GPU_CMD_SUBMIT_3D)
        virgl_renderer_force_ctx_0();
    switch (cmd->hdr.type) {
    case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
        vgpu_cmd_display_info(g, cmd, r);
        return 0;
    case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
        return vgpu_cmd_create_2d(g, cmd);
    case VIRTIO_GPU_CMD_RESOURCE_UNREF:
        return vgpu_cmd_unref(g, cmd);
    case VIRTIO_GPU_CMD_SET_SCANOUT:
        return vgpu_cmd_set_scanout(g, cmd);
    case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
        return vgpu_cmd_flush(g, cmd);
    case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
        return vgpu_cmd_transfer_2d(g, cmd);
    case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
        return vgpu_cmd_attach_backing(g, cmd);
    case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
        return vgpu_cmd_detach_backing(g, cmd);
    case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
        return cmd_capset_info(g, cmd, r);
    case VIRTIO_GPU_CMD_GET_CAPSET:
        return cmd_capset(g, cmd, r);
    case VIRTIO_GPU_CMD_GET_EDID:
        return vgpu_cmd_edid(g, cmd, r);
    case VIRTIO_GPU_CMD_CTX_CREATE:
        return vgpu_cmd_ctx_create(g, cmd);
    case VIRTIO_GPU_CMD_CTX_DESTROY:
        return vgpu_cmd_ctx_destroy(g, cmd);
    case VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:
        return vgpu_cmd_ctx_resource(g, cmd, true);
    case VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:
        return vgpu_cmd_ctx_resource(g, cmd, false);
    case VIRTIO_GPU_CMD_RESOURCE_CREATE_3D:
        return vgpu_cmd_create_3d(g, cmd);
    case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:
        return vgpu_cmd_transfer_3d(g, cmd, true);
    case VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D:
        return vgpu_cmd_transfer_3d(g, cmd, false);
    case VIRTIO_GPU_CMD_SUBMIT_3D:
        return vgpu_cmd_submit(g, cmd);
    default:
        return VIRTIO_GPU_RESP_ERR_UNSPEC;
    }
}

static gboolean poll_fences(gpointer data)
{
    struct vgpu *g = data;
    vgpu_renderer_poll(g->renderer);
    if (g_queue_is_empty(&g->fenced)) {
        g_source_unref(g->fence_poll);
        g->fence_poll = NULL;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void pending_free(struct vgpu *g, struct vgpu_pending *p)
{
    vgpu_uncharge(g, p->host_bytes);
    g_free(p->reply);
    g_free(p);
}

/* Answers the waiting requests from the oldest on, while their work is
 * done: a request is done when its fence is at or before `fence` (a
 * signed 32-bit difference: the renderer's ids are 32 bits, ours wrap, and
 * at most two rings of requests wait), or when it is ready (it has no
 * fence). One not done holds back those after it, so answers keep the
 * order of the requests. */
static void answer_done(struct vgpu *g, bool signalled, uint32_t fence)
{
    while (!g_queue_is_empty(&g->fenced)) {
        struct vgpu_pending *p = g_queue_peek_head(&g->fenced);
        if (!p->ready && (!signalled || (int32_t)(p->fence - fence) > 0))
            break;
        g_queue_pop_head(&g->fenced);
        vu_virtq_reply(p->vq, p->reply, p->resp, sizeof(p->resp));
        g->stats.fences++;
        pending_free(g, p);
    }
    vgpu_scanouts_work_done(g, g_queue_is_empty(&g->fenced), fence);
}

/* The renderer's fences signal in the order they were created, and it
 * reports the latest. */
static void on_write_fence(void *user, uint32_t fence)
{
    answer_done(user, true, fence);
}

/* The guest's fence ids are 64 bits and its own business: the renderer
 * gets ids of ours, in request order, and the answer carries the guest's.
 * False when the request cannot wait (over the memory cap). */
static bool wait_for_fence(struct vgpu *g, struct vu_virtq *vq, struct vu_elem *elem,
                           const uint8_t *resp)
{
    size_t reply_bytes = 0;
    struct vu_reply *reply = vu_reply_create(elem, &reply_bytes);
    uint64_t bytes = reply_bytes + sizeof(struct vgpu_pending);
    if (!vgpu_charge(g, bytes)) {
        g_free(reply);
        return false;
    }
    struct vgpu_pending *p = g_new0(struct vgpu_pending, 1);
    *p = (struct vgpu_pending){
        .vq = vq, .reply = reply, .host_bytes = bytes, .fence = g->next_fence++};
    memcpy(p->resp, resp, sizeof(p->resp));
    g_queue_push_tail(&g->fenced, p);
    if (virgl_renderer_create_fence((int)p->fence, 0) != 0) {
        /* Nothing will signal it: answer it as soon as the requests before
         * it are, rather than never (and never before them). */
        p->ready = true;
        answer_done(g, false, 0);
        return true;
    }
    if (!g->fence_poll) {
        g->fence_poll = g_timeout_source_new(FENCE_POLL_MS);
        g_source_set_callback(g->fence_poll, poll_fences, g, NULL);
        g_source_attach(g->fence_poll, g_main_context_get_thread_default());
    }
    return true;
}

size_t vgpu_process(struct vgpu *g, bool cursor_queue, const uint8_t *req, size_t len,
                    uint8_t *resp, size_t resp_size)
{
    struct vgpu_limits lim = {g->config.num_scanouts, vgpu_renderer_num_capsets(g->renderer),
                              g->config.virgl};
    struct vgpu_cmd cmd;
    struct vgpu_response r = {resp, resp_size, 0};
    const char *why = NULL;
    g->stats.commands++;
    uint32_t code = vgpu_parse(req, len, &lim, &cmd, &why);
    bool is_cursor =
        cmd.hdr.type == VIRTIO_GPU_CMD_UPDATE_CURSOR || cmd.hdr.type == VIRTIO_GPU_CMD_MOVE_CURSOR;
    if (!code && is_cursor != cursor_queue) {
        code = VIRTIO_GPU_RESP_ERR_UNSPEC;
        why = "command on the wrong queue";
    }
    if (code) {
        vgpu_reject(g, &cmd, code, why);
    } else if (is_cursor) {
        vgpu_cmd_cursor(g, &cmd);
        return 0; /* the cursor queue has no responses */
    } else {
        code = execute(g, &cmd, &r);
    }
    if (code || !r.len)
        vgpu_respond(&r, &cmd, code ? code : VIRTIO_GPU_RESP_OK_NODATA, NULL, 0);
    return r.len;
}

static void on_kick(void *user, struct vu_virtq *vq)
{
    struct vgpu *g = user;
    bool cursor_queue = vq->index == CURSOR_QUEUE;
    for (;;) {
        struct vu_elem *elem = g_new(struct vu_elem, 1);
        const char *why = NULL;
        enum vu_pop_result pr = vu_virtq_pop(vq, elem, &why);
        if (pr != VU_POP_OK) {
            if (pr == VU_POP_BROKEN) {
                g->stats.errors++;
                g_warning("virtio-gpu: queue %u is broken (%s): no more requests are taken "
                          "from it until the guest resets the device",
                          vq->index, why);
            }
            g_free(elem);
            return;
        }
        size_t len = elem->out_len;
        if (len > MAX_REQUEST) {
            g->stats.errors++;
            vgpu_guest_warning(g, VGPU_LOG_KIND_QUEUE, "request", "dropped", "over the size limit");
            len = sizeof(struct virtio_gpu_ctrl_hdr); /* answered as unknown */
        }
        vu_iov_to_buf(elem->iov, elem->out_num, 0, g->request, len);
        if (g->record)
            vgpu_record_request(g->record, cursor_queue, g->request, len);
        uint8_t resp_small[2048];
        size_t resp_size = MIN(elem->in_len, (size_t)65536 + sizeof(struct virtio_gpu_ctrl_hdr));
        uint8_t *resp = resp_size <= sizeof(resp_small) ? resp_small : g_malloc(resp_size);
        size_t n = vgpu_process(g, cursor_queue, g->request, len, resp, resp_size);
        struct virtio_gpu_ctrl_hdr h = {0};
        memcpy(&h, g->request, MIN(len, sizeof(h)));
        const struct virtio_gpu_ctrl_hdr *rh = (const struct virtio_gpu_ctrl_hdr *)resp;
        bool fenced = !cursor_queue && n >= sizeof(h) && (h.flags & VIRTIO_GPU_FLAG_FENCE) &&
                      rh->type == VIRTIO_GPU_RESP_OK_NODATA;
        /* The guest waits for the renderer's work, not for our parsing. */
        if (fenced && !wait_for_fence(g, vq, elem, resp)) {
            g->stats.errors++;
            vgpu_guest_warning(g, VGPU_LOG_KIND_QUEUE, "fenced request", "answered at once",
                               "waiting requests over the host memory cap");
            fenced = false;
            struct virtio_gpu_ctrl_hdr oom = {.type = VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
                                              .flags = VIRTIO_GPU_FLAG_FENCE,
                                              .fence_id = h.fence_id,
                                              .ctx_id = h.ctx_id};
            memcpy(resp, &oom, sizeof(oom));
        }
        if (!fenced) {
            n = vu_iov_from_buf(elem->iov + elem->out_num, elem->in_num, 0, resp, n);
            vu_virtq_push(vq, elem, (uint32_t)n);
        }
        g_free(elem);
        if (resp != resp_small)
            g_free(resp);
    }
}

/* The guest's memory for this queue is going away: answers waiting for a
 * fence can no longer be written. */
static void on_queue_stopped(void *user, uint32_t index)
{
    struct vgpu *g = user;
    GList *l = g->fenced.head;
    while (l) {
        GList *next = l->next;
        struct vgpu_pending *p = l->data;
        if (p->vq->index == index) {
            pending_free(g, p);
            g_queue_delete_link(&g->fenced, l);
        }
        l = next;
    }
}

/* A driver starting afresh (the guest rebooted): nothing it made before
 * exists for it any more. */
static void on_queue_started(void *user, uint32_t index, bool fresh)
{
    struct vgpu *g = user;
    if (index != CONTROL_QUEUE || !fresh ||
        (!g_hash_table_size(g->resources) && !g_hash_table_size(g->contexts)))
        return;
    g_message("virtio-gpu: the guest's driver restarted (reset or reboot): dropping its %u "
              "resources and %u 3D contexts",
              g_hash_table_size(g->resources), g_hash_table_size(g->contexts));
    vgpu_reset(g);
}

void vgpu_reset(struct vgpu *g)
{
    for (uint32_t i = 0; i < g->config.num_scanouts; i++) {
        struct vgpu_scanout *so = &g->scanouts[i];
        so->resource_id = 0;
        so->flush_waiting = false;
        so->qemu_pending = false;
        vgpu_scanout_free_buffers(g, so);
        so->r = (struct virtio_gpu_rect){0};
    }
    GHashTableIter it;
    gpointer value;
    virgl_renderer_force_ctx_0();
    g_hash_table_iter_init(&it, g->resources);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct vgpu_resource *res = value;
        vgpu_backing_detach(g, res);
        vgpu_uncharge(g, res->host_bytes);
        g_hash_table_iter_remove(&it);
    }
    vgpu_uncharge(g, (uint64_t)g_hash_table_size(g->contexts) * CONTEXT_HOST_BYTES);
    g_hash_table_remove_all(g->contexts);
    virgl_renderer_reset();
}

/* Guest memory is being unmapped: the renderer must not keep a pointer
 * into it. Each backing is translated again when next used. */
static void on_mem_unmapping(void *user)
{
    struct vgpu *g = user;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, g->resources);
    while (g_hash_table_iter_next(&it, NULL, &value))
        vgpu_backing_unmap(value);
}

static void get_config(void *user, uint32_t offset, uint8_t *buf, uint32_t size)
{
    struct vgpu *g = user;
    struct virtio_gpu_config c = {
        .events_read = g->events_read,
        .num_scanouts = g->config.num_scanouts,
        .num_capsets = vgpu_renderer_num_capsets(g->renderer),
    };
    memcpy(buf, (uint8_t *)&c + offset, size);
}

static bool set_config(void *user, uint32_t offset, const uint8_t *buf, uint32_t size)
{
    struct vgpu *g = user;
    /* Only events_clear is writable. */
    if (offset != offsetof(struct virtio_gpu_config, events_clear) || size != 4)
        return false;
    uint32_t clear;
    memcpy(&clear, buf, 4);
    g->events_read &= ~clear;
    return true;
}

static int device_request(void *user, uint32_t request, const uint8_t *payload, uint32_t size,
                          int *fds, size_t n_fds)
{
    struct vgpu *g = user;
    if (request != VU_GPU_SET_SOCKET)
        return -1;
    if (n_fds != 1)
        return 1;
    if (!g->config.qemu_console)
        return 0; /* --qemu-console off: the fd is closed unused */
    vgpu_qemu_display_destroy(g->qemu);
    g->qemu = vgpu_qemu_display_create(fds[0], g_main_context_get_thread_default());
    fds[0] = -1;
    if (!g->qemu) {
        g_warning("virtio-gpu: QEMU's display socket is closed; its console stays blank");
        return 0;
    }
    /* A new socket comes with a device reset, after which QEMU holds no
     * surface for any scanout, and QEMU's vhost-user-gpu draws a picture
     * update into the scanout's surface without checking it has one: an
     * update before a scanout message crashes QEMU. A scanout still shown
     * (the guest's new driver has not started yet) is announced again
     * before anything else. */
    for (uint32_t i = 0; i < g->config.num_scanouts; i++) {
        const struct vgpu_scanout *so = &g->scanouts[i];
        if (so->resource_id)
            vgpu_qemu_display_scanout(g->qemu, i, so->r.width, so->r.height);
    }
    return 0;
}

static void on_message(void *user, const struct vu_msg_header *hdr, const uint8_t *payload)
{
    struct vgpu *g = user;
    if (g->record)
        vgpu_record_message(g->record, hdr->request, hdr->flags, payload, hdr->size);
}

static void on_disconnected(void *user, const char *why)
{
    struct vgpu *g = user;
    if (g->cb.gone)
        g->cb.gone(g->user, why ? why : "connection lost");
}

struct vgpu *vgpu_create(const struct vgpu_config *config, const struct sgl_source_listener *cb,
                         void *user, GError **error)
{
    if (!config->num_scanouts || config->num_scanouts > VGPU_MAX_SCANOUTS || config->width < 16 ||
        config->height < 16 || config->width > VGPU_MAX_DIM || config->height > VGPU_MAX_DIM) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "scanouts 1..%d and a mode of 16x16..%dx%d wanted", VGPU_MAX_SCANOUTS,
                    VGPU_MAX_DIM, VGPU_MAX_DIM);
        return NULL;
    }
    struct vgpu *g = g_new0(struct vgpu, 1);
    g->config = *config;
    if (cb)
        g->cb = *cb;
    g->user = user;
    g->resources = g_hash_table_new_full(NULL, NULL, NULL, vgpu_resource_free);
    g->contexts = g_hash_table_new_full(NULL, NULL, vgpu_context_free, NULL);
    g->request = g_malloc(MAX_REQUEST);
    g_queue_init(&g->fenced);
    g->scanouts[0].width = config->width;
    g->scanouts[0].height = config->height;
    g->scanouts[0].enabled = true;
    for (uint32_t i = 1; i < config->num_scanouts; i++) {
        g->scanouts[i].width = config->width;
        g->scanouts[i].height = config->height;
    }
    if (config->record_dir && !(g->record = vgpu_record_create(config->record_dir, error))) {
        vgpu_destroy(g);
        return NULL;
    }
    g->renderer = vgpu_renderer_create(config->render_node, on_write_fence, g, error);
    if (!g->renderer) {
        vgpu_destroy(g);
        return NULL;
    }
    g->iface = (struct vu_iface){
        .features = (config->virgl ? 1ull << VIRTIO_GPU_F_VIRGL : 0) | (1ull << VIRTIO_GPU_F_EDID) |
                    (1ull << VIRTIO_RING_F_INDIRECT_DESC),
        .num_queues = 2,
        .config_size = sizeof(struct virtio_gpu_config),
        .get_config = get_config,
        .set_config = set_config,
        .kick = on_kick,
        .device_request = device_request,
        .message = on_message,
        .mem_unmapping = on_mem_unmapping,
        .queue_stopped = on_queue_stopped,
        .queue_started = on_queue_started,
        .disconnected = on_disconnected,
    };
    return g;
}

void vgpu_destroy(struct vgpu *g)
{
    if (!g)
        return;
    struct vgpu_pending *p;
    while ((p = g_queue_pop_head(&g->fenced)))
        pending_free(g, p);
    if (g->fence_poll) {
        g_source_destroy(g->fence_poll);
        g_source_unref(g->fence_poll);
    }
    if (g->qemu_flush) {
        g_source_destroy(g->qemu_flush);
        g_source_unref(g->qemu_flush);
    }
    /* Resources and contexts before the renderer that holds them, in the
     * renderer's own GL context (see execute). */
    if (g->renderer)
        virgl_renderer_force_ctx_0();
    if (g->resources)
        g_hash_table_destroy(g->resources);
    if (g->contexts)
        g_hash_table_destroy(g->contexts);
    vgpu_renderer_destroy(g->renderer);
    vgpu_qemu_display_destroy(g->qemu);
    vgpu_record_destroy(g->record);
    for (uint32_t i = 0; i < VGPU_MAX_SCANOUTS; i++) {
        g_free(g->scanouts[i].pixels);
        g_free(g->scanouts[i].incoming);
    }
    g_free(g->request);
    g_free(g);
}

const struct vu_iface *vgpu_vu_iface(const struct vgpu *g)
{
    return &g->iface;
}

void vgpu_set_dev(struct vgpu *g, struct vu_dev *dev)
{
    g->dev = dev;
}

const char *vgpu_renderer_description(const struct vgpu *g)
{
    return vgpu_renderer_describe(g->renderer);
}

void vgpu_get_stats(const struct vgpu *g, struct vgpu_stats *stats)
{
    *stats = g->stats;
    stats->resources = g_hash_table_size(g->resources);
    stats->contexts = g_hash_table_size(g->contexts);
    stats->pending = g_queue_get_length((GQueue *)&g->fenced);
}
