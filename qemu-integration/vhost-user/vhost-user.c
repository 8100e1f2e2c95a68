#include "config.h"

#include "vhost-user.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/sock.h"
#include "guest-mem.h"
#include "virtq.h"

struct vu_dev {
    int fd;
    GMainContext *context;
    GSource *source;
    struct vu_iface iface;
    void *user;
    uint64_t features, protocol_features;
    bool owned;
    struct vu_guest_mem mem;
    struct vu_virtq queues[VU_MAX_QUEUES];
    int backend_fd;
};

static void close_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

void *vu_dev_gpa_to_va(struct vu_dev *dev, uint64_t gpa, uint64_t len)
{
    return vu_guest_mem_gpa_to_va(&dev->mem, gpa, len);
}

void *vu_dev_qva_to_va(struct vu_dev *dev, uint64_t qva, uint64_t len)
{
    return vu_guest_mem_qva_to_va(&dev->mem, qva, len);
}

struct vu_virtq *vu_dev_queue(struct vu_dev *dev, uint32_t index)
{
    return index < dev->iface.num_queues ? &dev->queues[index] : NULL;
}

uint64_t vu_dev_features(const struct vu_dev *dev)
{
    return dev->features;
}

/* The device a queue belongs to: queues live in the device's array. */
static struct vu_dev *queue_dev(struct vu_virtq *vq)
{
    return (struct vu_dev *)((char *)(vq - vq->index) - offsetof(struct vu_dev, queues));
}

static gboolean on_kick(gint fd, GIOCondition cond, gpointer data)
{
    struct vu_virtq *vq = data;
    uint64_t n;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        g_debug("vhost-user: queue %u: kick read: %s", vq->index, g_strerror(errno));
    struct vu_dev *dev = queue_dev(vq);
    if (vq->started && vq->enabled && dev->iface.kick)
        dev->iface.kick(dev->user, vq);
    return G_SOURCE_CONTINUE;
}

static void queue_stop(struct vu_dev *dev, struct vu_virtq *vq)
{
    bool was = vq->started;
    if (vq->kick_source) {
        g_source_destroy(vq->kick_source);
        g_source_unref(vq->kick_source);
        vq->kick_source = NULL;
    }
    if (vq->kick_fd >= 0)
        close(vq->kick_fd);
    vq->kick_fd = -1;
    vq->started = false;
    vu_virtq_forget_inflight(vq);
    if (was && dev->iface.queue_stopped)
        dev->iface.queue_stopped(dev->user, vq->index);
}

static bool queue_start(struct vu_dev *dev, struct vu_virtq *vq, const char **why)
{
    if (!vu_virtq_map(vq, why))
        return false;
    vq->started = true;
    vq->broken = false;
    if (dev->iface.queue_started)
        dev->iface.queue_started(dev->user, vq->index, vq->last_avail == 0);
    /* Without PROTOCOL_FEATURES a ring is enabled when it starts. */
    if (!(dev->features & (1ull << VU_F_PROTOCOL_FEATURES)))
        vq->enabled = true;
    if (vq->kick_fd >= 0) {
        vq->kick_source = g_unix_fd_source_new(vq->kick_fd, G_IO_IN);
        g_source_set_callback(vq->kick_source, G_SOURCE_FUNC(on_kick), vq, NULL);
        g_source_attach(vq->kick_source, dev->context);
    }
    /* Buffers made available before the kick fd arrived. */
    if (vq->enabled && dev->iface.kick)
        dev->iface.kick(dev->user, vq);
    return true;
}

static bool send_reply(struct vu_dev *dev, uint32_t request, const void *payload, uint32_t size)
{
    struct vu_msg_header h = {request, VU_FLAG_VERSION | VU_FLAG_REPLY, size};
    struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, size}};
    return sgl_sock_send(dev->fd, iov, 2, NULL, 0);
}

/* Before any region goes: nothing may keep a pointer into it. The rings
 * are mapped again by remap_queues once the new map is in place. */
static void mem_unmapping(struct vu_dev *dev)
{
    for (uint32_t i = 0; i < dev->iface.num_queues; i++)
        vu_virtq_unmap(&dev->queues[i]);
    if (dev->iface.mem_unmapping)
        dev->iface.mem_unmapping(dev->user);
}

static void unmap_all(struct vu_dev *dev)
{
    mem_unmapping(dev);
    vu_guest_mem_finish(&dev->mem);
}

/* After every change of the memory map: started rings are mapped in the
 * new one. A ring the new map lacks takes nothing until a later change
 * maps it (or the queue is set up again). */
static void remap_queues(struct vu_dev *dev)
{
    for (uint32_t i = 0; i < dev->iface.num_queues; i++) {
        struct vu_virtq *vq = &dev->queues[i];
        const char *why = NULL;
        if (vq->started && !vu_virtq_map(vq, &why))
            g_warning("vhost-user: queue %u: %s after a memory-map change; it is paused until "
                      "its rings are mapped again",
                      i, why);
    }
}

/* One message being handled: what each handler reads and what it answers. */
struct msg {
    const struct vu_msg_header *hdr;
    const uint8_t *p;
    uint32_t size;
    int *fds; /* a handler that keeps one sets it to -1 */
    size_t n_fds;
    uint64_t u64;    /* the first 8 payload bytes, when there are 8 */
    bool replied;    /* the handler sent the answer itself */
    int ack;         /* otherwise the reply-ack value (0: done) */
    const char *why; /* a protocol error: the connection is dropped */
};

static bool fail(struct msg *m, const char *why)
{
    m->why = why;
    return false;
}

static bool reply(struct vu_dev *dev, struct msg *m, const void *payload, uint32_t size)
{
    m->replied = true;
    return send_reply(dev, m->hdr->request, payload, size) || fail(m, "reply failed");
}

static bool reply_u64(struct vu_dev *dev, struct msg *m, uint64_t v)
{
    return reply(dev, m, &v, sizeof(v));
}

static bool get_features(struct vu_dev *dev, struct msg *m)
{
    return reply_u64(
        dev, m, dev->iface.features | (1ull << VU_F_VERSION_1) | (1ull << VU_F_PROTOCOL_FEATURES));
}

static bool set_features(struct vu_dev *dev, struct msg *m)
{
    if (m->size != 8)
        return fail(m, "SET_FEATURES wants 8 bytes");
    dev->features = m->u64;
    return true;
}

static bool get_protocol_features(struct vu_dev *dev, struct msg *m)
{
    return reply_u64(dev, m,
                     (1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_BACKEND_REQ) |
                         (1ull << VU_PF_CONFIG) | (1ull << VU_PF_RESET_DEVICE) |
                         (1ull << VU_PF_CONFIGURE_MEM_SLOTS));
}

static bool set_protocol_features(struct vu_dev *dev, struct msg *m)
{
    if (m->size != 8)
        return fail(m, "SET_PROTOCOL_FEATURES wants 8 bytes");
    dev->protocol_features = m->u64;
    return true;
}

static bool set_owner(struct vu_dev *dev, struct msg *m)
{
    (void)m;
    dev->owned = true;
    return true;
}

/* RESET_OWNER and RESET_DEVICE: every ring stops and starts from 0. */
static bool reset(struct vu_dev *dev, struct msg *m)
{
    (void)m;
    for (uint32_t i = 0; i < dev->iface.num_queues; i++) {
        queue_stop(dev, &dev->queues[i]);
        dev->queues[i].enabled = false;
        dev->queues[i].last_avail = dev->queues[i].used_idx = 0;
    }
    return true;
}

static bool get_queue_num(struct vu_dev *dev, struct msg *m)
{
    return reply_u64(dev, m, dev->iface.num_queues);
}

static bool get_max_mem_slots(struct vu_dev *dev, struct msg *m)
{
    return reply_u64(dev, m, VU_MAX_MEM_SLOTS);
}

static bool set_mem_table(struct vu_dev *dev, struct msg *m)
{
    uint32_t n = 0;
    if (m->size >= 8)
        memcpy(&n, m->p, 4);
    if (m->size < 8 || n > VU_MAX_MEM_SLOTS || n > m->n_fds ||
        m->size != 8 + n * sizeof(struct vu_mem_region_msg))
        return fail(m, "SET_MEM_TABLE: region count, fds and size disagree");
    unmap_all(dev);
    bool ok = true;
    for (uint32_t i = 0; i < n && ok; i++) {
        struct vu_mem_region_msg r;
        memcpy(&r, m->p + 8 + i * sizeof(r), sizeof(r));
        ok = vu_guest_mem_add(&dev->mem, &r, m->fds[i], &m->why);
    }
    remap_queues(dev);
    return ok;
}

static bool add_mem_reg(struct vu_dev *dev, struct msg *m)
{
    struct vu_mem_region_msg r;
    if (m->size != 8 + sizeof(r) || m->n_fds != 1)
        return fail(m, "ADD_MEM_REG wants one region and one fd");
    memcpy(&r, m->p + 8, sizeof(r));
    bool ok = vu_guest_mem_add(&dev->mem, &r, m->fds[0], &m->why);
    remap_queues(dev);
    return ok;
}

static bool rem_mem_reg(struct vu_dev *dev, struct msg *m)
{
    struct vu_mem_region_msg r;
    if (m->size != 8 + sizeof(r))
        return fail(m, "REM_MEM_REG wants one region");
    memcpy(&r, m->p + 8, sizeof(r));
    mem_unmapping(dev);
    m->ack = !vu_guest_mem_remove(&dev->mem, r.gpa, r.size);
    remap_queues(dev);
    return true;
}

/* SET_VRING_NUM, _BASE and _ENABLE: a ring index and a number. */
static struct vu_virtq *vring_state(struct vu_dev *dev, struct msg *m, uint32_t *num)
{
    uint32_t index = 0;
    if (m->size != 8) {
        fail(m, "vring state wants 8 bytes");
        return NULL;
    }
    memcpy(&index, m->p, 4);
    memcpy(num, m->p + 4, 4);
    struct vu_virtq *vq = vu_dev_queue(dev, index);
    if (!vq)
        fail(m, "vring index out of range");
    return vq;
}

static bool set_vring_num(struct vu_dev *dev, struct msg *m)
{
    uint32_t num;
    struct vu_virtq *vq = vring_state(dev, m, &num);
    if (!vq)
        return false;
    if (!num || num > VU_VIRTQ_MAX_SIZE || (num & (num - 1)))
        return fail(m, "vring size is not a power of two up to 1024");
    vq->num = (uint16_t)num;
    return true;
}

static bool set_vring_base(struct vu_dev *dev, struct msg *m)
{
    uint32_t num;
    struct vu_virtq *vq = vring_state(dev, m, &num);
    if (!vq)
        return false;
    if (num > 0xffff)
        return fail(m, "vring base out of range");
    vq->last_avail = vq->used_idx = (uint16_t)num;
    return true;
}

static bool set_vring_enable(struct vu_dev *dev, struct msg *m)
{
    uint32_t num;
    struct vu_virtq *vq = vring_state(dev, m, &num);
    if (!vq)
        return false;
    vq->enabled = num != 0;
    if (vq->enabled && vq->started && dev->iface.kick)
        dev->iface.kick(dev->user, vq);
    return true;
}

static bool set_vring_addr(struct vu_dev *dev, struct msg *m)
{
    struct {
        uint32_t index, flags;
        uint64_t desc, used, avail, log;
    } a;
    if (m->size != sizeof(a))
        return fail(m, "SET_VRING_ADDR wants 40 bytes");
    memcpy(&a, m->p, sizeof(a));
    struct vu_virtq *vq = vu_dev_queue(dev, a.index);
    if (!vq)
        return fail(m, "vring index out of range");
    vq->desc_qva = a.desc;
    vq->used_qva = a.used;
    vq->avail_qva = a.avail;
    return !vq->started || vu_virtq_map(vq, &m->why);
}

static bool get_vring_base(struct vu_dev *dev, struct msg *m)
{
    uint32_t index = 0;
    if (m->size == 8)
        memcpy(&index, m->p, 4);
    struct vu_virtq *vq = m->size == 8 ? vu_dev_queue(dev, index) : NULL;
    if (!vq)
        return fail(m, "GET_VRING_BASE: bad index");
    queue_stop(dev, vq);
    vq->enabled = false;
    uint32_t state[2] = {index, vq->last_avail};
    return reply(dev, m, state, sizeof(state));
}

/* SET_VRING_KICK, _CALL and _ERR: a ring index, and an fd unless bit 8
 * says there is none. Takes the fd (-1 for none). */
static struct vu_virtq *vring_fd(struct vu_dev *dev, struct msg *m, int *fd)
{
    bool nofd = m->u64 & (1ull << 8);
    struct vu_virtq *vq = m->size == 8 ? vu_dev_queue(dev, m->u64 & 0xff) : NULL;
    if (!vq || nofd != (m->n_fds == 0) || m->n_fds > 1) {
        fail(m, "vring fd message: bad index or fd");
        return NULL;
    }
    *fd = m->n_fds ? m->fds[0] : -1;
    if (m->n_fds)
        m->fds[0] = -1;
    return vq;
}

static bool set_vring_kick(struct vu_dev *dev, struct msg *m)
{
    int fd;
    struct vu_virtq *vq = vring_fd(dev, m, &fd);
    if (!vq)
        return false;
    queue_stop(dev, vq);
    vq->kick_fd = fd;
    /* Polling (no fd) is not supported: the ring waits for kicks. */
    if (fd < 0)
        return fail(m, "polled rings (no kick fd) are not supported");
    return queue_start(dev, vq, &m->why);
}

static bool set_vring_call(struct vu_dev *dev, struct msg *m)
{
    int fd;
    struct vu_virtq *vq = vring_fd(dev, m, &fd);
    if (!vq)
        return false;
    if (vq->call_fd >= 0)
        close(vq->call_fd);
    vq->call_fd = fd;
    return true;
}

/* Errors are reported in the log, not by eventfd: the fd is closed. */
static bool set_vring_err(struct vu_dev *dev, struct msg *m)
{
    int fd;
    if (!vring_fd(dev, m, &fd))
        return false;
    if (fd >= 0)
        close(fd);
    return true;
}

static bool set_backend_req_fd(struct vu_dev *dev, struct msg *m)
{
    if (m->n_fds != 1)
        return fail(m, "SET_BACKEND_REQ_FD wants one fd");
    if (dev->backend_fd >= 0)
        close(dev->backend_fd);
    dev->backend_fd = m->fds[0];
    m->fds[0] = -1;
    return true;
}

/* GET_CONFIG and SET_CONFIG: offset, size, flags, then the bytes. */
static bool config_range(struct vu_dev *dev, struct msg *m, uint32_t *off, uint32_t *len)
{
    *off = *len = 0;
    if (m->size >= 12) {
        memcpy(off, m->p, 4);
        memcpy(len, m->p + 4, 4);
    }
    if (m->size < 12 || *len > m->size - 12 || *off > dev->iface.config_size ||
        *len > dev->iface.config_size - *off)
        return fail(m, "config access out of range");
    return true;
}

static bool get_config(struct vu_dev *dev, struct msg *m)
{
    uint32_t off, len;
    if (!config_range(dev, m, &off, &len))
        return false;
    uint8_t out[12 + 256] = {0};
    if (len > 256)
        return fail(m, "config read too large");
    memcpy(out, m->p, 12);
    if (dev->iface.get_config)
        dev->iface.get_config(dev->user, off, out + 12, len);
    return reply(dev, m, out, 12 + len);
}

static bool set_config(struct vu_dev *dev, struct msg *m)
{
    uint32_t off, len;
    if (!config_range(dev, m, &off, &len))
        return false;
    m->ack = dev->iface.set_config && dev->iface.set_config(dev->user, off, m->p + 12, len) ? 0 : 1;
    return true;
}

/* What this layer does not know goes to the device (GPU_SET_SOCKET). */
static bool device_request(struct vu_dev *dev, struct msg *m)
{
    m->ack = dev->iface.device_request ? dev->iface.device_request(dev->user, m->hdr->request, m->p,
                                                                   m->size, m->fds, m->n_fds)
                                       : -1;
    if (m->ack < 0) {
        g_message("vhost-user: request %u not supported; answered as failed", m->hdr->request);
        m->ack = 1;
    }
    return true;
}

typedef bool (*handler_fn)(struct vu_dev *dev, struct msg *m);

static const handler_fn handlers[] = {
    [VU_GET_FEATURES] = get_features,
    [VU_SET_FEATURES] = set_features,
    [VU_SET_OWNER] = set_owner,
    [VU_RESET_OWNER] = reset,
    [VU_SET_MEM_TABLE] = set_mem_table,
    [VU_SET_VRING_NUM] = set_vring_num,
    [VU_SET_VRING_ADDR] = set_vring_addr,
    [VU_SET_VRING_BASE] = set_vring_base,
    [VU_GET_VRING_BASE] = get_vring_base,
    [VU_SET_VRING_KICK] = set_vring_kick,
    [VU_SET_VRING_CALL] = set_vring_call,
    [VU_SET_VRING_ERR] = set_vring_err,
    [VU_GET_PROTOCOL_FEATURES] = get_protocol_features,
    [VU_SET_PROTOCOL_FEATURES] = set_protocol_features,
    [VU_GET_QUEUE_NUM] = get_queue_num,
    [VU_SET_VRING_ENABLE] = set_vring_enable,
    [VU_SET_BACKEND_REQ_FD] = set_backend_req_fd,
    [VU_GET_CONFIG] = get_config,
    [VU_SET_CONFIG] = set_config,
    [VU_RESET_DEVICE] = reset,
    [VU_GET_MAX_MEM_SLOTS] = get_max_mem_slots,
    [VU_ADD_MEM_REG] = add_mem_reg,
    [VU_REM_MEM_REG] = rem_mem_reg,
};

bool vu_dev_handle(struct vu_dev *dev, const struct vu_msg_header *hdr, const uint8_t *p, int *fds,
                   size_t n_fds, const char **why)
{
    struct msg m = {.hdr = hdr, .p = p, .size = hdr->size, .fds = fds, .n_fds = n_fds};
    if (m.size >= 8)
        memcpy(&m.u64, p, 8);
    *why = NULL;
    g_debug("vhost-user: request %u, %u bytes, %zu fds%s", hdr->request, m.size, n_fds,
            hdr->flags & VU_FLAG_NEED_REPLY ? ", reply wanted" : "");
    if ((hdr->flags & 0x3) != VU_FLAG_VERSION || m.size > VU_MAX_PAYLOAD) {
        *why = "bad version or payload size";
        close_fds(fds, n_fds);
        return false;
    }
    if (dev->iface.message)
        dev->iface.message(dev->user, hdr, p);
    handler_fn fn = hdr->request < G_N_ELEMENTS(handlers) && handlers[hdr->request]
                        ? handlers[hdr->request]
                        : device_request;
    bool ok = fn(dev, &m);
    close_fds(fds, n_fds);
    if (!ok) {
        *why = m.why;
        return false;
    }
    if (!m.replied && (hdr->flags & VU_FLAG_NEED_REPLY) &&
        (dev->protocol_features & (1ull << VU_PF_REPLY_ACK)) &&
        !send_reply(dev, hdr->request, &(uint64_t){(uint64_t)m.ack}, sizeof(uint64_t))) {
        *why = "reply failed";
        return false;
    }
    return true;
}

static void disconnect(struct vu_dev *dev, const char *why)
{
    if (dev->source) {
        g_source_destroy(dev->source);
        g_source_unref(dev->source);
        dev->source = NULL;
    }
    if (dev->iface.disconnected)
        dev->iface.disconnected(dev->user, why);
}

static gboolean on_message(gint fd, GIOCondition cond, gpointer data)
{
    struct vu_dev *dev = data;
    struct vu_msg_header hdr;
    union {
        char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {&hdr, sizeof(hdr)};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof(control.buf)};
    ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
    int fds[VU_MAX_FDS];
    size_t n_fds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k && n_fds < VU_MAX_FDS; i++)
                memcpy(&fds[n_fds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        }
    if (n == 0) {
        close_fds(fds, n_fds);
        disconnect(dev, "QEMU closed the connection");
        return G_SOURCE_REMOVE;
    }
    if (n != sizeof(hdr) || (m.msg_flags & MSG_CTRUNC)) {
        close_fds(fds, n_fds);
        disconnect(dev, n < 0 ? g_strerror(errno) : "short or truncated message header");
        return G_SOURCE_REMOVE;
    }
    uint8_t payload[VU_MAX_PAYLOAD];
    size_t got = 0;
    while (hdr.size <= VU_MAX_PAYLOAD && got < hdr.size) {
        ssize_t k = read(fd, payload + got, hdr.size - got);
        if (k <= 0 && !(k < 0 && errno == EINTR))
            break;
        got += k > 0 ? (size_t)k : 0;
    }
    if (hdr.size > VU_MAX_PAYLOAD || got != hdr.size) {
        close_fds(fds, n_fds);
        disconnect(dev, "payload too large or cut short");
        return G_SOURCE_REMOVE;
    }
    const char *why = NULL;
    if (!vu_dev_handle(dev, &hdr, payload, fds, n_fds, &why)) {
        g_warning("vhost-user: request %u: %s; closing the connection", hdr.request, why);
        disconnect(dev, why);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

struct vu_dev *vu_dev_create(int conn_fd, GMainContext *context, const struct vu_iface *iface,
                             void *user)
{
    struct vu_dev *dev = g_new0(struct vu_dev, 1);
    dev->fd = conn_fd;
    dev->context = g_main_context_ref(context);
    dev->iface = *iface;
    if (dev->iface.num_queues > VU_MAX_QUEUES)
        dev->iface.num_queues = VU_MAX_QUEUES;
    dev->user = user;
    dev->backend_fd = -1;
    vu_guest_mem_init(&dev->mem);
    for (uint32_t i = 0; i < VU_MAX_QUEUES; i++)
        dev->queues[i] =
            (struct vu_virtq){.mem = &dev->mem, .index = i, .kick_fd = -1, .call_fd = -1};
    dev->source = g_unix_fd_source_new(conn_fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(dev->source, G_SOURCE_FUNC(on_message), dev, NULL);
    g_source_attach(dev->source, context);
    return dev;
}

void vu_dev_destroy(struct vu_dev *dev)
{
    if (!dev)
        return;
    if (dev->source) {
        g_source_destroy(dev->source);
        g_source_unref(dev->source);
    }
    /* The device drops what it holds for the queues before they go. */
    for (uint32_t i = 0; i < VU_MAX_QUEUES; i++) {
        struct vu_virtq *vq = &dev->queues[i];
        if (i < dev->iface.num_queues)
            queue_stop(dev, vq);
        if (vq->kick_source) {
            g_source_destroy(vq->kick_source);
            g_source_unref(vq->kick_source);
        }
        if (vq->kick_fd >= 0)
            close(vq->kick_fd);
        if (vq->call_fd >= 0)
            close(vq->call_fd);
    }
    unmap_all(dev);
    if (dev->backend_fd >= 0)
        close(dev->backend_fd);
    if (dev->fd >= 0)
        close(dev->fd);
    g_main_context_unref(dev->context);
    g_free(dev);
}
