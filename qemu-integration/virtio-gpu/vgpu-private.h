/* The virtio-gpu device's own parts, shared by vgpu.c (dispatch, fences,
 * queues, config space), vgpu-scanout.c, vgpu-resource.c and vgpu-reply.c,
 * each of which uses only those after it in that list. Nothing outside
 * the device includes it. One thread: the GPU thread.
 * Every command reaching these functions was checked by vgpu-parse.h. */
#ifndef VGPU_PRIVATE_H
#define VGPU_PRIVATE_H

#include <glib.h>
#include <linux/virtio_gpu.h>
#include <sys/uio.h>

#include "qemu-display.h"
#include "ratelimit.h"
#include "record.h"
#include "renderer.h"
#include "vgpu-parse.h"
#include "vgpu.h"

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

struct vgpu_resource {
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

/* Rectangles a compared picture's damage may have: more scattered changes
 * merge into the last (diff.h). Below the encoder's SGL_ENCODER_MAX_RECTS. */
#define VGPU_MAX_DAMAGE 16u

struct vgpu_scanout {
    uint32_t resource_id;
    struct virtio_gpu_rect r; /* the part of the resource shown */
    uint32_t width, height;   /* display info: what the guest is offered */
    bool enabled;
    uint8_t *pixels; /* read back, r.width x r.height BGRx */
    size_t pixels_size;
    /* pixels holds another picture than the resource's (a new buffer, or
     * another resource or part of one shown): the next read-back reads it
     * all, not just the flushed rectangle. */
    bool read_all;
    /* pixels holds the last picture handed on, at this size: a whole
     * read-back is compared with it, and only what differs is damage. */
    bool shown;
    /* Where a whole read-back goes before the comparison (then it swaps
     * with pixels): pixels_size bytes, charged, made at the first flip. */
    uint8_t *incoming;
    int32_t cursor_x, cursor_y;
    /* QEMU's console: damage not yet sent, and when it last was */
    struct virtio_gpu_rect qemu_damage;
    bool qemu_pending;
    int64_t qemu_sent_us;
    /* A flush that came while rendering before it was in flight: read back
     * once the renderer's fence flush_fence (the last made before it) has
     * signalled. Later flushes merge into it: nothing a guest does grows it. */
    struct virtio_gpu_rect flush_damage;
    uint32_t flush_fence;
    bool flush_waiting;
};

/* A request whose answer waits for the renderer's fence. */
struct vgpu_pending {
    struct vu_virtq *vq;
    struct vu_reply *reply;
    uint64_t host_bytes; /* this and reply, charged */
    uint32_t fence;      /* the renderer's fence id: ours, not the guest's */
    bool ready;          /* no fence to wait for: answered after those before it */
    uint8_t resp[sizeof(struct virtio_gpu_ctrl_hdr)];
};

struct vgpu {
    struct vgpu_config config;
    struct sgl_source_listener cb;
    void *user;
    struct vu_iface iface;
    struct vu_dev *dev;
    struct vgpu_renderer *renderer;
    struct vgpu_qemu_display *qemu;
    GHashTable *resources; /* id -> struct vgpu_resource */
    struct vgpu_scanout scanouts[VGPU_MAX_SCANOUTS];
    uint32_t events_read;
    GQueue fenced;        /* struct vgpu_pending, in fence order */
    uint32_t next_fence;  /* the renderer's 32-bit fence ids, wrapping */
    GHashTable *contexts; /* the guest's 3D context ids */
    struct vgpu_ratelimit log_limit;
    GSource *fence_poll;
    GSource *qemu_flush; /* a console update held back by the period */
    uint8_t *request;    /* MAX_REQUEST bytes */
    struct vgpu_record *record;
    struct vgpu_stats stats;
};

/* An answer being written: buf holds size bytes, len are written. */
struct vgpu_response {
    uint8_t *buf;
    size_t size, len;
};

/* vgpu-reply.c: answers, and the log lines a guest causes. */
void vgpu_respond(struct vgpu_response *r, const struct vgpu_cmd *cmd, uint32_t type,
                  const void *body, size_t body_len);
/* "virtio-gpu: SUBJECT EVENT: WHY", rate-limited per kind and formatted
 * only when it is logged: a flood of rejections costs nothing each. */
void vgpu_guest_warning(struct vgpu *g, uint32_t kind, const char *subject, const char *event,
                        const char *why);
/* Command types 0x100.., 0x200.., 0x300..: one log kind each. */
uint32_t vgpu_log_kind(uint32_t type);
#define VGPU_LOG_KIND_QUEUE (VGPU_RATELIMIT_KINDS - 1)
/* Counts and logs a refused command; returns code for the answer. */
uint32_t vgpu_reject(struct vgpu *g, const struct vgpu_cmd *cmd, uint32_t code, const char *why);

/* vgpu-resource.c: resources, backing, transfers, 3D contexts, and the
 * accounting of every host allocation the guest causes. */
void vgpu_resource_free(gpointer res);
void vgpu_context_free(gpointer key);
struct vgpu_resource *vgpu_lookup(struct vgpu *g, uint32_t id);
/* Every host allocation the guest causes is charged here first; false:
 * over config.max_host_bytes, and nothing is charged. */
bool vgpu_charge(struct vgpu *g, uint64_t bytes);
void vgpu_uncharge(struct vgpu *g, uint64_t bytes);
/* Takes the backing's host translation back from the renderer (guest
 * memory is being unmapped); the guest addresses stay. */
void vgpu_backing_unmap(struct vgpu_resource *res);
/* Drops the backing and its charge. */
void vgpu_backing_detach(struct vgpu *g, struct vgpu_resource *res);
uint32_t vgpu_cmd_create_2d(struct vgpu *g, const struct vgpu_cmd *cmd);
uint32_t vgpu_cmd_create_3d(struct vgpu *g, const struct vgpu_cmd *cmd);
uint32_t vgpu_cmd_unref(struct vgpu *g, const struct vgpu_cmd *cmd);
uint32_t vgpu_cmd_attach_backing(struct vgpu *g, const struct vgpu_cmd *cmd);
uint32_t vgpu_cmd_detach_backing(struct vgpu *g, const struct vgpu_cmd *cmd);
uint32_t vgpu_cmd_transfer_2d(struct vgpu *g, const struct vgpu_cmd *cmd);
uint32_t vgpu_cmd_transfer_3d(struct vgpu *g, const struct vgpu_cmd *cmd, bool to_host);
uint32_t vgpu_cmd_ctx_create(struct vgpu *g, const struct vgpu_cmd *cmd);
uint32_t vgpu_cmd_ctx_destroy(struct vgpu *g, const struct vgpu_cmd *cmd);
uint32_t vgpu_cmd_ctx_resource(struct vgpu *g, const struct vgpu_cmd *cmd, bool attach);
uint32_t vgpu_cmd_submit(struct vgpu *g, const struct vgpu_cmd *cmd);

/* vgpu-scanout.c: scanouts, their read-back and frames, the cursor, and
 * QEMU's console. */
uint32_t vgpu_cmd_set_scanout(struct vgpu *g, const struct vgpu_cmd *cmd);
uint32_t vgpu_cmd_flush(struct vgpu *g, const struct vgpu_cmd *cmd);
/* The renderer's work up to fence is done (all: every fence made so far):
 * the flushes that waited for it are read back. */
void vgpu_scanouts_work_done(struct vgpu *g, bool all, uint32_t fence);
/* Frees a scanout's read-back buffers and gives their charge back. */
void vgpu_scanout_free_buffers(struct vgpu *g, struct vgpu_scanout *so);
void vgpu_cmd_display_info(struct vgpu *g, const struct vgpu_cmd *cmd, struct vgpu_response *r);
uint32_t vgpu_cmd_edid(struct vgpu *g, const struct vgpu_cmd *cmd, struct vgpu_response *r);
void vgpu_cmd_cursor(struct vgpu *g, const struct vgpu_cmd *cmd);

#endif
