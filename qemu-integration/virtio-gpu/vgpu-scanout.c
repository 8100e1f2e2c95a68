#include "config.h"

#include "vgpu-private.h"

#include <string.h>
#include <virgl/virglrenderer.h>

#include "diff.h"
#include "edid.h"

/* What a scanout's read-back buffers are charged: pixels, and incoming
 * once a flip made it. */
static uint64_t buffers_charged(const struct vgpu_scanout *so)
{
    return (uint64_t)so->pixels_size * (so->incoming ? 2 : 1);
}

uint32_t vgpu_cmd_set_scanout(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_set_scanout *s = &cmd->u.set_scanout;
    struct vgpu_scanout *so = &g->scanouts[s->scanout_id];
    if (!s->resource_id || !s->r.width || !s->r.height) {
        so->resource_id = 0;
        if (g->qemu)
            vgpu_qemu_display_scanout(g->qemu, s->scanout_id, 0, 0);
        return 0;
    }
    struct vgpu_resource *res = vgpu_lookup(g, s->resource_id);
    if (!res)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    if (!vgpu_check_rect(&s->r, res->width, res->height) || s->r.width < 16 || s->r.height < 16)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                           "scanout rectangle outside the resource");
    /* The read-back buffer is host memory the guest sizes: charged. */
    size_t need = (size_t)s->r.width * s->r.height * 4;
    if (so->pixels_size != need) {
        uint64_t held = buffers_charged(so);
        if (need > held && !vgpu_charge(g, need - held))
            return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
                               "scanout read-back buffer over the host memory cap");
        if (need < held)
            vgpu_uncharge(g, held - need);
        g_free(so->pixels);
        g_clear_pointer(&so->incoming, g_free);
        so->pixels = g_malloc0(need);
        so->pixels_size = need;
        so->shown = false;
    }
    /* A new buffer comes with a new size, so with a new rectangle. */
    if (so->resource_id != s->resource_id || memcmp(&so->r, &s->r, sizeof(so->r)) != 0)
        so->read_all = true;
    bool resized = so->r.width != s->r.width || so->r.height != s->r.height || !so->resource_id;
    so->resource_id = s->resource_id;
    so->r = s->r;
    /* A flush still waiting for rendering reads what is shown now: all of it. */
    if (so->flush_waiting)
        so->flush_damage = (struct virtio_gpu_rect){0, 0, s->r.width, s->r.height};
    if (resized) {
        /* Zero copy needs the buffer as a dmabuf; llvmpipe has none to give. */
        g_message("virtio-gpu: scanout %u shows resource %u at %ux%u (%s)", s->scanout_id,
                  s->resource_id, s->r.width, s->r.height,
                  vgpu_renderer_can_export(g->renderer, s->resource_id)
                      ? "exportable as a dmabuf; read back for now"
                      : "not exportable as a dmabuf: read back");
        /* The held damage was for the old size, and QEMU's console needs
         * the whole new picture. */
        so->qemu_pending = false;
        so->shown = false;
        if (g->qemu)
            vgpu_qemu_display_scanout(g->qemu, s->scanout_id, s->r.width, s->r.height);
    }
    return 0;
}

static gboolean flush_qemu(gpointer data);

static void schedule_qemu_flush(struct vgpu *g, int64_t in_us)
{
    if (g->qemu_flush)
        return;
    g->qemu_flush = g_timeout_source_new((guint)((in_us + 999) / 1000));
    g_source_set_callback(g->qemu_flush, flush_qemu, g, NULL);
    g_source_attach(g->qemu_flush, g_main_context_get_thread_default());
}

/* Sends scanout index's held damage to QEMU's console, or schedules it. */
static void qemu_update(struct vgpu *g, uint32_t index)
{
    struct vgpu_scanout *so = &g->scanouts[index];
    if (!g->qemu || !so->qemu_pending || !so->resource_id)
        return;
    int64_t now = g_get_monotonic_time(), due = so->qemu_sent_us + QEMU_CONSOLE_PERIOD_US;
    if (now < due) {
        schedule_qemu_flush(g, due - now);
        return;
    }
    const struct virtio_gpu_rect *d = &so->qemu_damage;
    uint32_t stride = so->r.width * 4;
    so->qemu_sent_us = now;
    if (vgpu_qemu_display_update(g->qemu, index, d->x, d->y, d->width, d->height,
                                 so->pixels + (size_t)d->y * stride + d->x * 4, stride))
        so->qemu_pending = false;
    else
        schedule_qemu_flush(g, QEMU_CONSOLE_PERIOD_US); /* QEMU is behind: try again */
}

static gboolean flush_qemu(gpointer data)
{
    struct vgpu *g = data;
    g_source_unref(g->qemu_flush);
    g->qemu_flush = NULL;
    for (uint32_t i = 0; i < g->config.num_scanouts; i++)
        qemu_update(g, i);
    return G_SOURCE_REMOVE;
}

/* *held becomes the bounding box of itself and d (d alone when !*have). */
static void merge_damage(struct virtio_gpu_rect *held, bool *have, const struct virtio_gpu_rect *d)
{
    if (!*have) {
        *held = *d;
        *have = true;
        return;
    }
    uint32_t x0 = MIN(held->x, d->x), y0 = MIN(held->y, d->y);
    uint32_t x1 = MAX(held->x + held->width, d->x + d->width);
    uint32_t y1 = MAX(held->y + held->height, d->y + d->height);
    *held = (struct virtio_gpu_rect){x0, y0, x1 - x0, y1 - y0};
}

static void hold_damage(struct vgpu_scanout *so, const struct virtio_gpu_rect *d)
{
    merge_damage(&so->qemu_damage, &so->qemu_pending, d);
}

/* The buffer a whole read-back of a flipped-to picture goes to before it is
 * compared: made at the first flip, charged like pixels. NULL when the cap
 * refuses it (the picture is then read into pixels, all of it damage). */
static uint8_t *incoming(struct vgpu *g, struct vgpu_scanout *so)
{
    if (!so->incoming && vgpu_charge(g, so->pixels_size))
        so->incoming = g_malloc(so->pixels_size);
    return so->incoming;
}

void vgpu_scanout_free_buffers(struct vgpu *g, struct vgpu_scanout *so)
{
    vgpu_uncharge(g, buffers_charged(so));
    g_clear_pointer(&so->pixels, g_free);
    g_clear_pointer(&so->incoming, g_free);
    so->pixels_size = 0;
    so->shown = false;
}

/* Reads the flushed rectangle (the scanout's coordinates) back into the
 * scanout's pixels, which keep the rest: the guest's flush says what
 * changed. All of it when the pixels hold another picture; then, when they
 * hold the picture shown before (a page flip), the two are compared and
 * only what differs is damage. */
static void read_back(struct vgpu *g, uint32_t index, const struct virtio_gpu_rect *damage)
{
    struct vgpu_scanout *so = &g->scanouts[index];
    uint32_t stride = so->r.width * 4;
    const struct virtio_gpu_rect all = {0, 0, so->r.width, so->r.height};
    const struct virtio_gpu_rect *d = so->read_all ? &all : damage;
    uint8_t *into = so->read_all && so->shown ? incoming(g, so) : NULL;
    struct iovec iov = {into ? into : so->pixels, so->pixels_size};
    struct virgl_box box = {so->r.x + d->x, so->r.y + d->y, 0, d->width, d->height, 1};
    uint64_t offset = (uint64_t)d->y * stride + (uint64_t)d->x * 4;
    int64_t flushed_us = g_get_monotonic_time(); /* the read-back is part of the latency */
    if (virgl_renderer_transfer_read_iov(so->resource_id, 0, 0, stride, 0, &box, offset, &iov, 1) !=
        0) {
        g_warning("virtio-gpu: scanout %u: read back of resource %u failed", index,
                  so->resource_id);
        so->shown = false; /* pixels may hold part of it */
        return;
    }
    struct sgl_rect rects[VGPU_MAX_DAMAGE];
    uint32_t n = 1;
    rects[0] = (struct sgl_rect){d->x, d->y, d->width, d->height};
    if (into) {
        n = vgpu_diff(so->pixels, into, so->r.width, so->r.height, stride, rects, VGPU_MAX_DAMAGE);
        so->incoming = so->pixels;
        so->pixels = into;
    }
    so->read_all = false;
    so->shown = true;
    g->stats.frames++;
    g->stats.read_pixels += (uint64_t)d->width * d->height;
    g->stats.shown_pixels += (uint64_t)so->r.width * so->r.height;
    for (uint32_t i = 0; i < n; i++)
        g->stats.changed_pixels += (uint64_t)rects[i].width * rects[i].height;
    struct sgl_frame f = {.width = so->r.width,
                          .height = so->r.height,
                          .format = SGL_FORMAT_BGRX,
                          .pixels = so->pixels,
                          .stride = stride,
                          .dmabuf.fd = -1,
                          .damage = rects,
                          .n_damage = n,
                          .pts_us = flushed_us};
    if (g->cb.frame)
        g->cb.frame(g->user, index, &f);
    for (uint32_t i = 0; i < n; i++)
        hold_damage(
            so, &(struct virtio_gpu_rect){rects[i].x, rects[i].y, rects[i].width, rects[i].height});
    qemu_update(g, index);
}

uint32_t vgpu_cmd_flush(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_resource_flush *f = &cmd->u.flush;
    struct vgpu_resource *res = vgpu_lookup(g, f->resource_id);
    if (!res)
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    g->stats.flushes++;
    for (uint32_t i = 0; i < g->config.num_scanouts; i++) {
        struct vgpu_scanout *so = &g->scanouts[i];
        if (so->resource_id != res->id)
            continue;
        /* The flushed rectangle, clipped to the scanout, in its coordinates. */
        uint64_t x0 = MAX(f->r.x, so->r.x), y0 = MAX(f->r.y, so->r.y);
        uint64_t x1 = MIN((uint64_t)f->r.x + f->r.width, (uint64_t)so->r.x + so->r.width);
        uint64_t y1 = MIN((uint64_t)f->r.y + f->r.height, (uint64_t)so->r.y + so->r.height);
        if (x1 <= x0 || y1 <= y0)
            continue;
        struct virtio_gpu_rect d = {(uint32_t)(x0 - so->r.x), (uint32_t)(y0 - so->r.y),
                                    (uint32_t)(x1 - x0), (uint32_t)(y1 - y0)};
        /* Rendering the guest submitted before this flush may still run
         * (llvmpipe rasterizes on threads of its own, and a read from
         * another context does not wait for it): a read now could show a
         * half-drawn picture. It waits for the fence made last. */
        if (!g_queue_is_empty(&g->fenced)) {
            merge_damage(&so->flush_damage, &so->flush_waiting, &d);
            so->flush_fence = g->next_fence - 1;
            continue;
        }
        read_back(g, i, &d);
    }
    return 0;
}

void vgpu_scanouts_work_done(struct vgpu *g, bool all, uint32_t fence)
{
    for (uint32_t i = 0; i < g->config.num_scanouts; i++) {
        struct vgpu_scanout *so = &g->scanouts[i];
        if (!so->flush_waiting || (!all && (int32_t)(fence - so->flush_fence) < 0))
            continue;
        so->flush_waiting = false;
        /* The scanout may have changed meanwhile: what it shows now. */
        if (so->resource_id && vgpu_lookup(g, so->resource_id) && so->pixels)
            read_back(g, i, &so->flush_damage);
    }
}

void vgpu_cmd_display_info(struct vgpu *g, const struct vgpu_cmd *cmd, struct vgpu_response *r)
{
    struct virtio_gpu_resp_display_info info = {0};
    for (uint32_t i = 0; i < g->config.num_scanouts; i++) {
        struct vgpu_scanout *so = &g->scanouts[i];
        info.pmodes[i].enabled = so->enabled;
        info.pmodes[i].r = (struct virtio_gpu_rect){0, 0, so->width, so->height};
    }
    vgpu_respond(r, cmd, VIRTIO_GPU_RESP_OK_DISPLAY_INFO, (uint8_t *)&info + sizeof(info.hdr),
                 sizeof(info) - sizeof(info.hdr));
}

uint32_t vgpu_cmd_edid(struct vgpu *g, const struct vgpu_cmd *cmd, struct vgpu_response *r)
{
    const struct vgpu_scanout *so = &g->scanouts[cmd->u.edid.scanout];
    struct virtio_gpu_resp_edid e = {.size = VGPU_EDID_SIZE};
    if (!vgpu_edid_generate(e.edid, so->width, so->height))
        return vgpu_reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                           "no EDID for a mode over 4095 pixels");
    vgpu_respond(r, cmd, VIRTIO_GPU_RESP_OK_EDID, (uint8_t *)&e + sizeof(e.hdr),
                 sizeof(e) - sizeof(e.hdr));
    return 0;
}

void vgpu_cmd_cursor(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_update_cursor *c = &cmd->u.cursor;
    struct vgpu_scanout *so = &g->scanouts[c->pos.scanout_id];
    so->cursor_x = (int32_t)c->pos.x;
    so->cursor_y = (int32_t)c->pos.y;
    if (cmd->hdr.type == VIRTIO_GPU_CMD_UPDATE_CURSOR) {
        uint32_t w = 0, h = 0;
        void *data = c->resource_id && vgpu_lookup(g, c->resource_id)
                         ? virgl_renderer_get_cursor_data(c->resource_id, &w, &h)
                         : NULL;
        if (data && w && h && w <= 256 && h <= 256 && c->hot_x < w && c->hot_y < h) {
            if (g->cb.cursor_set)
                g->cb.cursor_set(g->user, c->pos.scanout_id, w, h, c->hot_x, c->hot_y, data);
            if (g->qemu)
                vgpu_qemu_display_cursor(g->qemu, c->pos.scanout_id, c->pos.x, c->pos.y, c->hot_x,
                                         c->hot_y, w, h, data);
        } else if (c->resource_id) {
            g->stats.errors++;
            vgpu_guest_warning(g, vgpu_log_kind(cmd->hdr.type), "UPDATE_CURSOR", "rejected",
                               "no usable cursor image");
        }
        free(data);
    } else if (g->qemu) {
        vgpu_qemu_display_cursor_pos(g->qemu, c->pos.scanout_id, c->pos.x, c->pos.y);
    }
    if (g->cb.cursor_move)
        g->cb.cursor_move(g->user, c->pos.scanout_id, so->cursor_x, so->cursor_y);
}

void vgpu_request_mode(struct vgpu *g, uint32_t scanout, uint32_t width, uint32_t height)
{
    if (scanout >= g->config.num_scanouts || width < 16 || height < 16 || width > VGPU_MAX_DIM ||
        height > VGPU_MAX_DIM)
        return;
    struct vgpu_scanout *so = &g->scanouts[scanout];
    if (so->width == width && so->height == height && so->enabled)
        return;
    so->width = width;
    so->height = height;
    so->enabled = true;
    /* The guest learns of it from QEMU (qemu-control.h), whose config space
     * events it is; it then asks for the display info, which says this. */
    g->events_read |= VIRTIO_GPU_EVENT_DISPLAY;
}
