#include "config.h"

#include "vgpu.h"

#include <linux/virtio_ring.h>
#include <string.h>
#include <virgl/virglrenderer.h>

#include "edid.h"
#include "qemu-display.h"
#include "ratelimit.h"
#include "record.h"
#include "renderer.h"
#include "vgpu-parse.h"
#include "virtq.h"

#define CONTROL_QUEUE 0
#define CURSOR_QUEUE  1
#define MAX_RESOURCES 16384
/* 3D contexts: each holds a GL context and its state in the renderer,
 * about 2.3 MiB on llvmpipe. Charged at this much against the cap, and at
 * most this many, so a guest cannot create them without end. */
#define MAX_CONTEXTS       512
#define CONTEXT_HOST_BYTES (3u << 20)
#define FENCE_POLL_MS      1
/* QEMU's console is a secondary view (its display, screendump): it gets
 * at most 10 updates a second, so it costs QEMU little. */
#define QEMU_CONSOLE_PERIOD_US 100000
/* Largest request gathered from the guest: a command, a full backing
 * table, or a command stream. */
#define MAX_REQUEST (sizeof(struct vgpu_cmd) + VGPU_MAX_MEM_ENTRIES * 16u + VGPU_MAX_SUBMIT_BYTES)

/* struct virgl_box is only declared by virglrenderer.h; its layout is
 * virtio's box. */
struct virgl_box {
    uint32_t x, y, z, w, h, d;
};

struct resource {
    uint32_t id;
    uint32_t target, width, height, depth, array_size, format, bpp;
    bool is_3d;
    uint64_t host_bytes;
    /* Backing: the guest's pages as guest addresses (owned, n_entries),
     * and their host translation while the renderer holds it (owned, NULL
     * when detached). A memory-map change detaches it; the next use
     * translates the entries again. */
    struct vgpu_mem_entry *entries;
    uint32_t n_entries;
    struct iovec *iov;
    uint64_t backing_bytes;
};

struct scanout {
    uint32_t resource_id;
    struct virtio_gpu_rect r; /* the part of the resource shown */
    uint32_t width, height;   /* display info: what the guest is offered */
    bool enabled;
    uint8_t *pixels; /* read back, r.width x r.height BGRx */
    size_t pixels_size;
    int32_t cursor_x, cursor_y;
    /* QEMU's console: damage not yet sent, and when it last was */
    struct virtio_gpu_rect qemu_damage;
    bool qemu_pending;
    int64_t qemu_sent_us;
};

/* A request whose answer waits for the renderer's fence. */
struct pending {
    struct vu_virtq *vq;
    struct vu_reply *reply;
    uint64_t host_bytes; /* this and reply, charged */
    uint32_t fence;      /* the renderer's fence id: ours, not the guest's */
    uint8_t resp[sizeof(struct virtio_gpu_ctrl_hdr)];
};

struct vgpu {
    struct vgpu_config config;
    struct vgpu_callbacks cb;
    void *user;
    struct vu_iface iface;
    struct vu_dev *dev;
    struct vgpu_renderer *renderer;
    struct vgpu_qemu_display *qemu;
    GHashTable *resources; /* id -> struct resource */
    struct scanout scanouts[VGPU_MAX_SCANOUTS];
    uint32_t events_read;
    GQueue fenced;        /* struct pending, in fence order */
    uint32_t next_fence;  /* the renderer's 32-bit fence ids, wrapping */
    GHashTable *contexts; /* the guest's 3D context ids */
    struct vgpu_ratelimit log_limit;
    GSource *fence_poll;
    GSource *qemu_flush; /* a console update held back by the period */
    uint8_t *request;    /* MAX_REQUEST bytes */
    struct vgpu_record *record;
    struct vgpu_stats stats;
};

static void resource_free(gpointer p)
{
    struct resource *res = p;
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

static void context_free(gpointer key)
{
    virgl_renderer_context_destroy(GPOINTER_TO_UINT(key));
}

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

/* ---- responses ---------------------------------------------------------- */

struct response {
    uint8_t *buf;
    size_t size, len;
};

static void respond(struct response *r, const struct vgpu_cmd *cmd, uint32_t type, const void *body,
                    size_t body_len)
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
static void guest_warning(struct vgpu *g, uint32_t kind, const char *subject, const char *event,
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
static uint32_t log_kind(uint32_t type)
{
    return ((type >> 8) & 3) * 16 + (type & 15);
}

#define LOG_KIND_QUEUE (VGPU_RATELIMIT_KINDS - 1)

static uint32_t reject(struct vgpu *g, const struct vgpu_cmd *cmd, uint32_t code, const char *why)
{
    g->stats.errors++;
    guest_warning(g, log_kind(cmd->hdr.type), cmd_name(cmd->hdr.type), "rejected", why);
    return code;
}

/* ---- commands ----------------------------------------------------------- */

static struct resource *lookup(struct vgpu *g, uint32_t id)
{
    return id ? g_hash_table_lookup(g->resources, GUINT_TO_POINTER(id)) : NULL;
}

/* Every host allocation the guest causes goes through here. */
static bool charge(struct vgpu *g, uint64_t bytes)
{
    if (bytes > g->config.max_host_bytes - g->stats.host_bytes)
        return false;
    g->stats.host_bytes += bytes;
    return true;
}

static void uncharge(struct vgpu *g, uint64_t bytes)
{
    g->stats.host_bytes -= MIN(bytes, g->stats.host_bytes);
}

static uint32_t add_resource(struct vgpu *g, const struct vgpu_cmd *cmd, struct resource *res,
                             struct virgl_renderer_resource_create_args *args)
{
    if (lookup(g, res->id)) {
        g_free(res);
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "resource id in use");
    }
    if (g_hash_table_size(g->resources) >= MAX_RESOURCES || !charge(g, res->host_bytes)) {
        g_free(res);
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
                      "over the host memory cap (--gpu-memory-mb)");
    }
    if (virgl_renderer_resource_create(args, NULL, 0) != 0) {
        uncharge(g, res->host_bytes);
        g_free(res);
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                      "the renderer refused the resource");
    }
    g_hash_table_insert(g->resources, GUINT_TO_POINTER(res->id), res);
    return 0;
}

static uint32_t create_2d(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_resource_create_2d *c = &cmd->u.create_2d;
    struct resource *res = g_new0(struct resource, 1);
    *res = (struct resource){.id = c->resource_id,
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

static uint32_t create_3d(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_resource_create_3d *c = &cmd->u.create_3d;
    struct resource *res = g_new0(struct resource, 1);
    *res = (struct resource){.id = c->resource_id,
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
static void unmap_backing(struct resource *res)
{
    if (!res->iov)
        return;
    struct iovec *iov = NULL;
    int n = 0;
    virgl_renderer_resource_detach_iov((int)res->id, &iov, &n);
    g_clear_pointer(&res->iov, g_free);
}

static void detach(struct vgpu *g, struct resource *res)
{
    if (!res->entries)
        return;
    unmap_backing(res);
    uncharge(g, backing_host_bytes(res->n_entries));
    g_clear_pointer(&res->entries, g_free);
    res->n_entries = 0;
    res->backing_bytes = 0;
}

/* The backing translated in today's memory map and attached to the
 * renderer, or false when a page is no longer in guest memory (the
 * backing is then detached, and the guest must attach it again). */
static bool map_backing(struct vgpu *g, struct resource *res)
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
            guest_warning(g, LOG_KIND_QUEUE, "backing", "lost",
                          "a resource's pages left guest memory; its backing is detached");
            detach(g, res);
            return false;
        }
        iov[i] = (struct iovec){p, res->entries[i].length};
    }
    if (virgl_renderer_resource_attach_iov((int)res->id, iov, (int)res->n_entries) != 0) {
        g_free(iov);
        detach(g, res);
        return false;
    }
    res->iov = iov;
    return true;
}

static uint32_t unref(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    struct resource *res = lookup(g, cmd->u.unref.resource_id);
    if (!res)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    for (uint32_t i = 0; i < g->config.num_scanouts; i++)
        if (g->scanouts[i].resource_id == res->id)
            g->scanouts[i].resource_id = 0;
    detach(g, res);
    uncharge(g, res->host_bytes);
    g_hash_table_remove(g->resources, GUINT_TO_POINTER(res->id));
    return 0;
}

static uint32_t attach_backing(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    struct resource *res = lookup(g, cmd->u.attach.resource_id);
    if (!res)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    if (res->entries)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_UNSPEC, "resource already has backing");
    uint32_t n = cmd->u.attach.nr_entries;
    if (!charge(g, backing_host_bytes(n)))
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, "over the host memory cap");
    /* Kept as guest addresses: host pointers die with the memory map. */
    res->entries = g_memdup2(cmd->entries, (gsize)n * sizeof(struct vgpu_mem_entry));
    res->n_entries = n;
    res->backing_bytes = cmd->backing_bytes;
    for (uint32_t i = 0; i < n; i++)
        if (!g->dev || !vu_dev_gpa_to_va(g->dev, res->entries[i].addr, res->entries[i].length)) {
            detach(g, res);
            return reject(g, cmd, VIRTIO_GPU_RESP_ERR_UNSPEC, "backing page outside guest RAM");
        }
    if (!map_backing(g, res))
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_UNSPEC, "the renderer refused the backing");
    return 0;
}

static uint32_t detach_backing(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    struct resource *res = lookup(g, cmd->u.detach.resource_id);
    if (!res)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    detach(g, res);
    return 0;
}

static uint32_t transfer_2d(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_transfer_to_host_2d *t = &cmd->u.transfer_2d;
    struct resource *res = lookup(g, t->resource_id);
    if (!res)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    if (!map_backing(g, res))
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_UNSPEC, "resource has no backing");
    if (!vgpu_check_transfer_2d(t, res->width, res->height, res->bpp, res->backing_bytes))
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                      "transfer outside the resource or its backing");
    struct virgl_box box = {t->r.x, t->r.y, 0, t->r.width, t->r.height, 1};
    virgl_renderer_transfer_write_iov(res->id, 0, 0, 0, 0, &box, t->offset, NULL, 0);
    return 0;
}

static uint32_t transfer_3d(struct vgpu *g, const struct vgpu_cmd *cmd, bool to_host)
{
    const struct virtio_gpu_transfer_host_3d *t = &cmd->u.transfer_3d;
    struct resource *res = lookup(g, t->resource_id);
    if (!res)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    if (!map_backing(g, res))
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_UNSPEC, "resource has no backing");
    struct vgpu_texture tex = {res->target, res->width, res->height, res->depth, res->array_size};
    if (!vgpu_check_box(&t->box, t->level, &tex))
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, "box outside the resource");
    /* virglrenderer checks the bytes against the attached backing. */
    struct virgl_box box = {t->box.x, t->box.y, t->box.z, t->box.w, t->box.h, t->box.d};
    int rc = to_host ? virgl_renderer_transfer_write_iov(t->resource_id, cmd->hdr.ctx_id,
                                                         (int)t->level, t->stride, t->layer_stride,
                                                         &box, t->offset, NULL, 0)
                     : virgl_renderer_transfer_read_iov(t->resource_id, cmd->hdr.ctx_id, t->level,
                                                        t->stride, t->layer_stride, &box, t->offset,
                                                        NULL, 0);
    if (rc != 0)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                      "the renderer refused the transfer");
    return 0;
}

static uint32_t set_scanout(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_set_scanout *s = &cmd->u.set_scanout;
    struct scanout *so = &g->scanouts[s->scanout_id];
    if (!s->resource_id || !s->r.width || !s->r.height) {
        so->resource_id = 0;
        if (g->qemu)
            vgpu_qemu_display_scanout(g->qemu, s->scanout_id, 0, 0);
        return 0;
    }
    struct resource *res = lookup(g, s->resource_id);
    if (!res)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    if (!vgpu_check_rect(&s->r, res->width, res->height) || s->r.width < 16 || s->r.height < 16)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                      "scanout rectangle outside the resource");
    /* The read-back buffer is host memory the guest sizes: charged. */
    size_t need = (size_t)s->r.width * s->r.height * 4;
    if (so->pixels_size != need) {
        if (need > so->pixels_size && !charge(g, need - so->pixels_size))
            return reject(g, cmd, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
                          "scanout read-back buffer over the host memory cap");
        if (need < so->pixels_size)
            uncharge(g, so->pixels_size - need);
        g_free(so->pixels);
        so->pixels = g_malloc0(need);
        so->pixels_size = need;
    }
    bool resized = so->r.width != s->r.width || so->r.height != s->r.height || !so->resource_id;
    so->resource_id = s->resource_id;
    so->r = s->r;
    if (resized) {
        /* Zero copy needs the buffer as a dmabuf; llvmpipe has none to give. */
        g_message("virtio-gpu: scanout %u shows resource %u at %ux%u (%s)", s->scanout_id,
                  s->resource_id, s->r.width, s->r.height,
                  vgpu_renderer_can_export(g->renderer, s->resource_id)
                      ? "exportable as a dmabuf; read back for now"
                      : "not exportable as a dmabuf: read back");
        /* The held damage was for the old size. */
        so->qemu_pending = false;
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
    struct scanout *so = &g->scanouts[index];
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

static void hold_damage(struct scanout *so, const struct virtio_gpu_rect *d)
{
    if (!so->qemu_pending) {
        so->qemu_damage = *d;
        so->qemu_pending = true;
        return;
    }
    struct virtio_gpu_rect *h = &so->qemu_damage;
    uint32_t x0 = MIN(h->x, d->x), y0 = MIN(h->y, d->y);
    uint32_t x1 = MAX(h->x + h->width, d->x + d->width);
    uint32_t y1 = MAX(h->y + h->height, d->y + d->height);
    *h = (struct virtio_gpu_rect){x0, y0, x1 - x0, y1 - y0};
}

static void read_back(struct vgpu *g, uint32_t index, const struct virtio_gpu_rect *damage)
{
    struct scanout *so = &g->scanouts[index];
    uint32_t stride = so->r.width * 4;
    struct iovec iov = {so->pixels, so->pixels_size};
    struct virgl_box box = {so->r.x, so->r.y, 0, so->r.width, so->r.height, 1};
    if (virgl_renderer_transfer_read_iov(so->resource_id, 0, 0, stride, 0, &box, 0, &iov, 1) != 0) {
        g_warning("virtio-gpu: scanout %u: read back of resource %u failed", index,
                  so->resource_id);
        return;
    }
    g->stats.frames++;
    struct vgpu_frame f = {index,     so->pixels, so->r.width,   so->r.height,  stride,
                           damage->x, damage->y,  damage->width, damage->height};
    if (g->cb.frame)
        g->cb.frame(g->user, &f);
    hold_damage(so, damage);
    qemu_update(g, index);
}

static uint32_t flush(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_resource_flush *f = &cmd->u.flush;
    struct resource *res = lookup(g, f->resource_id);
    if (!res)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    g->stats.flushes++;
    for (uint32_t i = 0; i < g->config.num_scanouts; i++) {
        struct scanout *so = &g->scanouts[i];
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
        read_back(g, i, &d);
    }
    return 0;
}

static void display_info(struct vgpu *g, const struct vgpu_cmd *cmd, struct response *r)
{
    struct virtio_gpu_resp_display_info info = {0};
    for (uint32_t i = 0; i < g->config.num_scanouts; i++) {
        struct scanout *so = &g->scanouts[i];
        info.pmodes[i].enabled = so->enabled;
        info.pmodes[i].r = (struct virtio_gpu_rect){0, 0, so->width, so->height};
    }
    respond(r, cmd, VIRTIO_GPU_RESP_OK_DISPLAY_INFO, (uint8_t *)&info + sizeof(info.hdr),
            sizeof(info) - sizeof(info.hdr));
}

static uint32_t capset_info(struct vgpu *g, const struct vgpu_cmd *cmd, struct response *r)
{
    uint32_t id = cmd->u.capset_info.capset_index + 1, max_ver = 0, max_size = 0;
    virgl_renderer_get_cap_set(id, &max_ver, &max_size);
    struct {
        uint32_t id, max_version, max_size, padding;
    } body = {id, max_ver, max_size, 0};
    respond(r, cmd, VIRTIO_GPU_RESP_OK_CAPSET_INFO, &body, sizeof(body));
    return 0;
}

static uint32_t capset(struct vgpu *g, const struct vgpu_cmd *cmd, struct response *r)
{
    uint32_t max_ver = 0, max_size = 0;
    virgl_renderer_get_cap_set(cmd->u.capset.capset_id, &max_ver, &max_size);
    if (!max_size || cmd->u.capset.capset_version > max_ver || max_size > 65536)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, "capset version unknown");
    g_autofree uint8_t *caps = g_malloc0(max_size);
    virgl_renderer_fill_caps(cmd->u.capset.capset_id, cmd->u.capset.capset_version, caps);
    respond(r, cmd, VIRTIO_GPU_RESP_OK_CAPSET, caps, max_size);
    return 0;
}

static uint32_t edid(struct vgpu *g, const struct vgpu_cmd *cmd, struct response *r)
{
    const struct scanout *so = &g->scanouts[cmd->u.edid.scanout];
    struct virtio_gpu_resp_edid e = {.size = VGPU_EDID_SIZE};
    if (!vgpu_edid_generate(e.edid, so->width, so->height))
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                      "no EDID for a mode over 4095 pixels");
    respond(r, cmd, VIRTIO_GPU_RESP_OK_EDID, (uint8_t *)&e + sizeof(e.hdr),
            sizeof(e) - sizeof(e.hdr));
    return 0;
}

static uint32_t ctx_create(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_ctx_create *c = &cmd->u.ctx_create;
    gpointer key = GUINT_TO_POINTER(cmd->hdr.ctx_id);
    if (!cmd->hdr.ctx_id || g_hash_table_contains(g->contexts, key))
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID, "context id in use");
    if (g_hash_table_size(g->contexts) >= MAX_CONTEXTS)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, "too many 3D contexts");
    if (!charge(g, CONTEXT_HOST_BYTES))
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
                      "a 3D context over the host memory cap (--gpu-memory-mb)");
    uint32_t capset = c->context_init & VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK;
    int rc = capset ? virgl_renderer_context_create_with_flags(cmd->hdr.ctx_id, c->context_init,
                                                               c->nlen, c->debug_name)
                    : virgl_renderer_context_create(cmd->hdr.ctx_id, c->nlen, c->debug_name);
    if (rc != 0) {
        uncharge(g, CONTEXT_HOST_BYTES);
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID,
                      "the renderer refused the context");
    }
    g_hash_table_add(g->contexts, key);
    return 0;
}

static uint32_t ctx_destroy(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    if (!g_hash_table_remove(g->contexts, GUINT_TO_POINTER(cmd->hdr.ctx_id)))
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID, "no such context");
    uncharge(g, CONTEXT_HOST_BYTES);
    return 0;
}

static uint32_t ctx_resource(struct vgpu *g, const struct vgpu_cmd *cmd, bool attach)
{
    if (!lookup(g, cmd->u.ctx_resource.resource_id))
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, "no such resource");
    if (attach)
        virgl_renderer_ctx_attach_resource((int)cmd->hdr.ctx_id,
                                           (int)cmd->u.ctx_resource.resource_id);
    else
        virgl_renderer_ctx_detach_resource((int)cmd->hdr.ctx_id,
                                           (int)cmd->u.ctx_resource.resource_id);
    return 0;
}

static uint32_t submit(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    uint32_t size = cmd->u.submit.size;
    if (!size)
        return 0;
    /* virglrenderer parses the stream in place; give it an aligned copy. */
    g_autofree uint32_t *words = g_malloc(size);
    memcpy(words, cmd->data, size);
    if (virgl_renderer_submit_cmd(words, (int)cmd->hdr.ctx_id, (int)(size / 4)) != 0)
        return reject(g, cmd, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
                      "the renderer rejected the command stream");
    return 0;
}

static void cursor(struct vgpu *g, const struct vgpu_cmd *cmd)
{
    const struct virtio_gpu_update_cursor *c = &cmd->u.cursor;
    struct scanout *so = &g->scanouts[c->pos.scanout_id];
    so->cursor_x = (int32_t)c->pos.x;
    so->cursor_y = (int32_t)c->pos.y;
    if (cmd->hdr.type == VIRTIO_GPU_CMD_UPDATE_CURSOR) {
        uint32_t w = 0, h = 0;
        void *data = c->resource_id && lookup(g, c->resource_id)
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
            guest_warning(g, log_kind(cmd->hdr.type), "UPDATE_CURSOR", "rejected",
                          "no usable cursor image");
        }
        free(data);
    } else if (g->qemu) {
        vgpu_qemu_display_cursor_pos(g->qemu, c->pos.scanout_id, c->pos.x, c->pos.y);
    }
    if (g->cb.cursor_move)
        g->cb.cursor_move(g->user, c->pos.scanout_id, so->cursor_x, so->cursor_y);
}

static uint32_t execute(struct vgpu *g, const struct vgpu_cmd *cmd, struct response *r)
{
    switch (cmd->hdr.type) {
    case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
        display_info(g, cmd, r);
        return 0;
    case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
        return create_2d(g, cmd);
    case VIRTIO_GPU_CMD_RESOURCE_UNREF:
        return unref(g, cmd);
    case VIRTIO_GPU_CMD_SET_SCANOUT:
        return set_scanout(g, cmd);
    case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
        return flush(g, cmd);
    case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
        return transfer_2d(g, cmd);
    case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
        return attach_backing(g, cmd);
    case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
        return detach_backing(g, cmd);
    case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
        return capset_info(g, cmd, r);
    case VIRTIO_GPU_CMD_GET_CAPSET:
        return capset(g, cmd, r);
    case VIRTIO_GPU_CMD_GET_EDID:
        return edid(g, cmd, r);
    case VIRTIO_GPU_CMD_CTX_CREATE:
        return ctx_create(g, cmd);
    case VIRTIO_GPU_CMD_CTX_DESTROY:
        return ctx_destroy(g, cmd);
    case VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:
        return ctx_resource(g, cmd, true);
    case VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:
        return ctx_resource(g, cmd, false);
    case VIRTIO_GPU_CMD_RESOURCE_CREATE_3D:
        return create_3d(g, cmd);
    case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:
        return transfer_3d(g, cmd, true);
    case VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D:
        return transfer_3d(g, cmd, false);
    case VIRTIO_GPU_CMD_SUBMIT_3D:
        return submit(g, cmd);
    default:
        return VIRTIO_GPU_RESP_ERR_UNSPEC;
    }
}

/* ---- fences ------------------------------------------------------------- */

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

static void pending_free(struct vgpu *g, struct pending *p)
{
    uncharge(g, p->host_bytes);
    g_free(p->reply);
    g_free(p);
}

/* The renderer's fences signal in the order they were created, and it
 * reports the latest: every pending request up to it is answered, in
 * order. Its ids are 32 bits and ours wrap; at most two rings of requests
 * are pending, so "up to" is a signed 32-bit difference. */
static void on_write_fence(void *user, uint32_t fence)
{
    struct vgpu *g = user;
    while (!g_queue_is_empty(&g->fenced)) {
        struct pending *p = g_queue_peek_head(&g->fenced);
        if ((int32_t)(p->fence - fence) > 0)
            break;
        g_queue_pop_head(&g->fenced);
        vu_virtq_reply(p->vq, p->reply, p->resp, sizeof(p->resp));
        g->stats.fences++;
        pending_free(g, p);
    }
}

/* The guest's fence ids are 64 bits and its own business: the renderer
 * gets ids of ours, in request order, and the answer carries the guest's.
 * False when the request cannot wait (over the memory cap). */
static bool wait_for_fence(struct vgpu *g, struct vu_virtq *vq, struct vu_elem *elem,
                           const uint8_t *resp)
{
    size_t reply_bytes = 0;
    struct vu_reply *reply = vu_reply_create(elem, &reply_bytes);
    uint64_t bytes = reply_bytes + sizeof(struct pending);
    if (!charge(g, bytes)) {
        g_free(reply);
        return false;
    }
    struct pending *p = g_new0(struct pending, 1);
    *p = (struct pending){.vq = vq, .reply = reply, .host_bytes = bytes, .fence = g->next_fence++};
    memcpy(p->resp, resp, sizeof(p->resp));
    g_queue_push_tail(&g->fenced, p);
    if (virgl_renderer_create_fence((int)p->fence, 0) != 0) {
        /* Nothing will signal it: answer now rather than never. */
        on_write_fence(g, p->fence);
        return true;
    }
    if (!g->fence_poll) {
        g->fence_poll = g_timeout_source_new(FENCE_POLL_MS);
        g_source_set_callback(g->fence_poll, poll_fences, g, NULL);
        g_source_attach(g->fence_poll, g_main_context_get_thread_default());
    }
    return true;
}

/* ---- queues ------------------------------------------------------------- */

size_t vgpu_process(struct vgpu *g, bool cursor_queue, const uint8_t *req, size_t len,
                    uint8_t *resp, size_t resp_size)
{
    struct vgpu_limits lim = {g->config.num_scanouts, vgpu_renderer_num_capsets(g->renderer),
                              g->config.virgl};
    struct vgpu_cmd cmd;
    struct response r = {resp, resp_size, 0};
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
        reject(g, &cmd, code, why);
    } else if (is_cursor) {
        cursor(g, &cmd);
        return 0; /* the cursor queue has no responses */
    } else {
        code = execute(g, &cmd, &r);
    }
    if (code || !r.len)
        respond(&r, &cmd, code ? code : VIRTIO_GPU_RESP_OK_NODATA, NULL, 0);
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
            guest_warning(g, LOG_KIND_QUEUE, "request", "dropped", "over the size limit");
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
            guest_warning(g, LOG_KIND_QUEUE, "fenced request", "answered at once",
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
        struct pending *p = l->data;
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
        struct scanout *so = &g->scanouts[i];
        so->resource_id = 0;
        uncharge(g, so->pixels_size);
        g_clear_pointer(&so->pixels, g_free);
        so->pixels_size = 0;
        so->r = (struct virtio_gpu_rect){0};
    }
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, g->resources);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct resource *res = value;
        detach(g, res);
        uncharge(g, res->host_bytes);
        g_hash_table_iter_remove(&it);
    }
    uncharge(g, (uint64_t)g_hash_table_size(g->contexts) * CONTEXT_HOST_BYTES);
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
        unmap_backing(value);
}

/* ---- config space and vhost-user ---------------------------------------- */

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
    if (!g->qemu)
        g_warning("virtio-gpu: QEMU's display socket is closed; its console stays blank");
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
    if (g->cb.disconnected)
        g->cb.disconnected(g->user, why ? why : "connection lost");
}

struct vgpu *vgpu_create(const struct vgpu_config *config, const struct vgpu_callbacks *cb,
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
    g->resources = g_hash_table_new_full(NULL, NULL, NULL, resource_free);
    g->contexts = g_hash_table_new_full(NULL, NULL, context_free, NULL);
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
    g->renderer = vgpu_renderer_create(on_write_fence, g, error);
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
    struct pending *p;
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
    /* Resources and contexts before the renderer that holds them. */
    if (g->resources)
        g_hash_table_destroy(g->resources);
    if (g->contexts)
        g_hash_table_destroy(g->contexts);
    vgpu_renderer_destroy(g->renderer);
    vgpu_qemu_display_destroy(g->qemu);
    vgpu_record_destroy(g->record);
    for (uint32_t i = 0; i < VGPU_MAX_SCANOUTS; i++)
        g_free(g->scanouts[i].pixels);
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

void vgpu_request_mode(struct vgpu *g, uint32_t scanout, uint32_t width, uint32_t height)
{
    if (scanout >= g->config.num_scanouts || width < 16 || height < 16 || width > VGPU_MAX_DIM ||
        height > VGPU_MAX_DIM)
        return;
    struct scanout *so = &g->scanouts[scanout];
    if (so->width == width && so->height == height && so->enabled)
        return;
    so->width = width;
    so->height = height;
    so->enabled = true;
    /* The guest learns of it from QEMU (qemu-control.h), whose config space
     * events it is; it then asks for the display info, which says this. */
    g->events_read |= VIRTIO_GPU_EVENT_DISPLAY;
}

void vgpu_get_stats(const struct vgpu *g, struct vgpu_stats *stats)
{
    *stats = g->stats;
    stats->resources = g_hash_table_size(g->resources);
    stats->contexts = g_hash_table_size(g->contexts);
    stats->pending = g_queue_get_length((GQueue *)&g->fenced);
}
