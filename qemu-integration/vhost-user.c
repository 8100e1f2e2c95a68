#include "config.h"

#include "vhost-user.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sock.h"
#include "virtq.h"

struct region {
    uint64_t gpa, size, qva, mmap_offset;
    uint8_t *map; /* mmap of mmap_offset + size bytes */
    uint8_t *host;
};

struct vu_dev {
    int fd;
    GMainContext *context;
    GSource *source;
    struct vu_iface iface;
    void *user;
    uint64_t features, protocol_features;
    bool owned;
    struct region regions[VU_MAX_MEM_SLOTS];
    uint32_t n_regions;
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

static void region_unmap(struct region *r)
{
    if (r->map)
        munmap(r->map, r->size + r->mmap_offset);
    *r = (struct region){0};
}

/* [addr, addr + len) inside one region, addr in the guest's physical
 * space (qva false) or QEMU's (qva true). */
static void *translate(struct vu_dev *dev, uint64_t addr, uint64_t len, bool qva)
{
    for (uint32_t i = 0; i < dev->n_regions; i++) {
        struct region *r = &dev->regions[i];
        uint64_t base = qva ? r->qva : r->gpa;
        if (addr >= base && addr - base <= r->size && len <= r->size - (addr - base))
            return r->host + (addr - base);
    }
    return NULL;
}

void *vu_dev_gpa_to_va(struct vu_dev *dev, uint64_t gpa, uint64_t len)
{
    return translate(dev, gpa, len, false);
}

void *vu_dev_qva_to_va(struct vu_dev *dev, uint64_t qva, uint64_t len)
{
    return translate(dev, qva, len, true);
}

struct vu_virtq *vu_dev_queue(struct vu_dev *dev, uint32_t index)
{
    return index < dev->iface.num_queues ? &dev->queues[index] : NULL;
}

uint64_t vu_dev_features(const struct vu_dev *dev)
{
    return dev->features;
}

static gboolean on_kick(gint fd, GIOCondition cond, gpointer data)
{
    struct vu_virtq *vq = data;
    uint64_t n;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        g_debug("vhost-user: queue %u: kick read: %s", vq->index, g_strerror(errno));
    struct vu_dev *dev = vq->dev;
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
    return vgpu_sock_send(dev->fd, iov, 2, -1);
}

static bool reply_u64(struct vu_dev *dev, uint32_t request, uint64_t v)
{
    return send_reply(dev, request, &v, sizeof(v));
}

struct mem_region_msg {
    uint64_t gpa, size, qva, mmap_offset;
};

static bool map_region(struct vu_dev *dev, const struct mem_region_msg *m, int fd, const char **why)
{
    if (dev->n_regions >= VU_MAX_MEM_SLOTS) {
        *why = "too many memory regions";
        return false;
    }
    if (!m->size || m->size > (1ull << 40) || m->mmap_offset > (1ull << 40) ||
        m->gpa + m->size < m->gpa || m->qva + m->size < m->qva) {
        *why = "memory region size or offset out of range";
        return false;
    }
    /* Pages past the end of the file would fault (SIGBUS) when touched. */
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size < m->mmap_offset + m->size) {
        *why = "memory region larger than its file";
        return false;
    }
    void *map = mmap(NULL, m->size + m->mmap_offset, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        *why = "cannot map a memory region";
        return false;
    }
    dev->regions[dev->n_regions++] = (struct region){
        m->gpa, m->size, m->qva, m->mmap_offset, map, (uint8_t *)map + m->mmap_offset};
    return true;
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
    for (uint32_t i = 0; i < dev->n_regions; i++)
        region_unmap(&dev->regions[i]);
    dev->n_regions = 0;
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

static bool want(bool ok, const char *reason, const char **why)
{
    if (!ok)
        *why = reason;
    return ok;
}

bool vu_dev_handle(struct vu_dev *dev, const struct vu_msg_header *hdr, const uint8_t *p, int *fds,
                   size_t n_fds, const char **why)
{
    uint32_t size = hdr->size;
    bool ok = true, replied = false;
    int ack = 0;
    uint64_t u64 = 0;
    if (size >= 8)
        memcpy(&u64, p, 8);
    *why = NULL;
    g_debug("vhost-user: request %u, %u bytes, %zu fds%s", hdr->request, size, n_fds,
            hdr->flags & VU_FLAG_NEED_REPLY ? ", reply wanted" : "");
    if ((hdr->flags & 0x3) != VU_FLAG_VERSION || size > VU_MAX_PAYLOAD) {
        *why = "bad version or payload size";
        close_fds(fds, n_fds);
        return false;
    }
    if (dev->iface.message)
        dev->iface.message(dev->user, hdr, p);
    switch (hdr->request) {
    case VU_GET_FEATURES:
        ok = reply_u64(dev, hdr->request,
                       dev->iface.features | (1ull << VU_F_VERSION_1) |
                           (1ull << VU_F_PROTOCOL_FEATURES));
        replied = true;
        break;
    case VU_SET_FEATURES:
        ok = want(size == 8, "SET_FEATURES wants 8 bytes", why);
        dev->features = u64;
        break;
    case VU_GET_PROTOCOL_FEATURES:
        ok = reply_u64(dev, hdr->request,
                       (1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_BACKEND_REQ) |
                           (1ull << VU_PF_CONFIG) | (1ull << VU_PF_RESET_DEVICE) |
                           (1ull << VU_PF_CONFIGURE_MEM_SLOTS));
        replied = true;
        break;
    case VU_SET_PROTOCOL_FEATURES:
        ok = want(size == 8, "SET_PROTOCOL_FEATURES wants 8 bytes", why);
        dev->protocol_features = u64;
        break;
    case VU_SET_OWNER:
        dev->owned = true;
        break;
    case VU_RESET_OWNER:
    case VU_RESET_DEVICE:
        for (uint32_t i = 0; i < dev->iface.num_queues; i++) {
            queue_stop(dev, &dev->queues[i]);
            dev->queues[i].enabled = false;
            dev->queues[i].last_avail = dev->queues[i].used_idx = 0;
        }
        break;
    case VU_GET_QUEUE_NUM:
        ok = reply_u64(dev, hdr->request, dev->iface.num_queues);
        replied = true;
        break;
    case VU_GET_MAX_MEM_SLOTS:
        ok = reply_u64(dev, hdr->request, VU_MAX_MEM_SLOTS);
        replied = true;
        break;
    case VU_SET_MEM_TABLE: {
        uint32_t n = 0;
        if (size >= 8)
            memcpy(&n, p, 4);
        if (size < 8 || n > VU_MAX_MEM_SLOTS || n > n_fds ||
            size != 8 + n * sizeof(struct mem_region_msg)) {
            ok = want(false, "SET_MEM_TABLE: region count, fds and size disagree", why);
            break;
        }
        unmap_all(dev);
        for (uint32_t i = 0; i < n && ok; i++) {
            struct mem_region_msg m;
            memcpy(&m, p + 8 + i * sizeof(m), sizeof(m));
            ok = map_region(dev, &m, fds[i], why);
        }
        remap_queues(dev);
        break;
    }
    case VU_ADD_MEM_REG: {
        struct mem_region_msg m;
        if (size != 8 + sizeof(m) || n_fds != 1) {
            ok = want(false, "ADD_MEM_REG wants one region and one fd", why);
            break;
        }
        memcpy(&m, p + 8, sizeof(m));
        ok = map_region(dev, &m, fds[0], why);
        remap_queues(dev);
        break;
    }
    case VU_REM_MEM_REG: {
        struct mem_region_msg m;
        if (size != 8 + sizeof(m)) {
            ok = want(false, "REM_MEM_REG wants one region", why);
            break;
        }
        memcpy(&m, p + 8, sizeof(m));
        bool found = false;
        for (uint32_t i = 0; i < dev->n_regions && !found; i++) {
            struct region *r = &dev->regions[i];
            if (r->gpa == m.gpa && r->size == m.size) {
                mem_unmapping(dev);
                region_unmap(r);
                dev->regions[i] = dev->regions[--dev->n_regions];
                found = true;
            }
        }
        remap_queues(dev);
        ack = !found;
        break;
    }
    case VU_SET_VRING_NUM:
    case VU_SET_VRING_BASE:
    case VU_SET_VRING_ENABLE: {
        uint32_t index = 0, num = 0;
        if (size != 8) {
            ok = want(false, "vring state wants 8 bytes", why);
            break;
        }
        memcpy(&index, p, 4);
        memcpy(&num, p + 4, 4);
        struct vu_virtq *vq = vu_dev_queue(dev, index);
        if (!vq) {
            ok = want(false, "vring index out of range", why);
            break;
        }
        if (hdr->request == VU_SET_VRING_NUM) {
            ok = want(num && num <= VU_VIRTQ_MAX_SIZE && !(num & (num - 1)),
                      "vring size is not a power of two up to 1024", why);
            vq->num = (uint16_t)num;
        } else if (hdr->request == VU_SET_VRING_BASE) {
            ok = want(num <= 0xffff, "vring base out of range", why);
            vq->last_avail = vq->used_idx = (uint16_t)num;
        } else {
            vq->enabled = num != 0;
            if (vq->enabled && vq->started && dev->iface.kick)
                dev->iface.kick(dev->user, vq);
        }
        break;
    }
    case VU_SET_VRING_ADDR: {
        struct {
            uint32_t index, flags;
            uint64_t desc, used, avail, log;
        } a;
        if (size != sizeof(a)) {
            ok = want(false, "SET_VRING_ADDR wants 40 bytes", why);
            break;
        }
        memcpy(&a, p, sizeof(a));
        struct vu_virtq *vq = vu_dev_queue(dev, a.index);
        if (!vq) {
            ok = want(false, "vring index out of range", why);
            break;
        }
        vq->desc_qva = a.desc;
        vq->used_qva = a.used;
        vq->avail_qva = a.avail;
        if (vq->started)
            ok = vu_virtq_map(vq, why);
        break;
    }
    case VU_GET_VRING_BASE: {
        uint32_t index = 0;
        if (size == 8)
            memcpy(&index, p, 4);
        struct vu_virtq *vq = size == 8 ? vu_dev_queue(dev, index) : NULL;
        if (!vq) {
            ok = want(false, "GET_VRING_BASE: bad index", why);
            break;
        }
        queue_stop(dev, vq);
        vq->enabled = false;
        uint32_t state[2] = {index, vq->last_avail};
        ok = send_reply(dev, hdr->request, state, sizeof(state));
        replied = true;
        break;
    }
    case VU_SET_VRING_KICK:
    case VU_SET_VRING_CALL:
    case VU_SET_VRING_ERR: {
        bool nofd = u64 & (1ull << 8);
        struct vu_virtq *vq = size == 8 ? vu_dev_queue(dev, u64 & 0xff) : NULL;
        if (!vq || nofd != (n_fds == 0) || n_fds > 1) {
            ok = want(false, "vring fd message: bad index or fd", why);
            break;
        }
        int fd = n_fds ? fds[0] : -1;
        if (n_fds)
            fds[0] = -1;
        if (hdr->request == VU_SET_VRING_KICK) {
            queue_stop(dev, vq);
            vq->kick_fd = fd;
            /* Polling (no fd) is not supported: the ring waits for kicks. */
            ok = want(fd >= 0, "polled rings (no kick fd) are not supported", why);
            if (ok)
                ok = queue_start(dev, vq, why);
        } else if (hdr->request == VU_SET_VRING_CALL) {
            if (vq->call_fd >= 0)
                close(vq->call_fd);
            vq->call_fd = fd;
        } else if (fd >= 0) {
            close(fd); /* errors are reported in the log, not by eventfd */
        }
        break;
    }
    case VU_SET_BACKEND_REQ_FD:
        if (n_fds != 1) {
            ok = want(false, "SET_BACKEND_REQ_FD wants one fd", why);
            break;
        }
        if (dev->backend_fd >= 0)
            close(dev->backend_fd);
        dev->backend_fd = fds[0];
        fds[0] = -1;
        break;
    case VU_GET_CONFIG:
    case VU_SET_CONFIG: {
        uint32_t off = 0, len = 0;
        if (size >= 12) {
            memcpy(&off, p, 4);
            memcpy(&len, p + 4, 4);
        }
        if (size < 12 || len > size - 12 || off > dev->iface.config_size ||
            len > dev->iface.config_size - off) {
            ok = want(false, "config access out of range", why);
            break;
        }
        if (hdr->request == VU_GET_CONFIG) {
            uint8_t out[12 + 256] = {0};
            memcpy(out, p, 12);
            if (len > 256) {
                ok = want(false, "config read too large", why);
                break;
            }
            if (dev->iface.get_config)
                dev->iface.get_config(dev->user, off, out + 12, len);
            ok = send_reply(dev, hdr->request, out, 12 + len);
            replied = true;
        } else {
            ack =
                dev->iface.set_config && dev->iface.set_config(dev->user, off, p + 12, len) ? 0 : 1;
        }
        break;
    }
    default:
        ack = dev->iface.device_request
                  ? dev->iface.device_request(dev->user, hdr->request, p, size, fds, n_fds)
                  : -1;
        if (ack < 0) {
            g_message("vhost-user: request %u not supported; answered as failed", hdr->request);
            ack = 1;
        }
        break;
    }
    close_fds(fds, n_fds);
    if (!ok)
        return false;
    if (!replied && (hdr->flags & VU_FLAG_NEED_REPLY) &&
        (dev->protocol_features & (1ull << VU_PF_REPLY_ACK)))
        return reply_u64(dev, hdr->request, (uint64_t)ack) || want(false, "reply failed", why);
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
    for (uint32_t i = 0; i < VU_MAX_QUEUES; i++)
        dev->queues[i] = (struct vu_virtq){.dev = dev, .index = i, .kick_fd = -1, .call_fd = -1};
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
