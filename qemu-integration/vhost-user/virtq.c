#include "config.h"

#include "virtq.h"

#include <linux/virtio_ring.h>
#include <string.h>
#include <unistd.h>

bool vu_virtq_map(struct vu_virtq *vq, const char **why)
{
    uint64_t n = vq->num;
    if (!n || n > VU_VIRTQ_MAX_SIZE || (n & (n - 1))) {
        vu_virtq_unmap(vq);
        *why = "ring size is not a power of two up to 1024";
        return false;
    }
    if ((vq->desc_qva & 15) || (vq->avail_qva & 1) || (vq->used_qva & 3)) {
        vu_virtq_unmap(vq);
        *why = "ring address misaligned";
        return false;
    }
    void *desc = vu_guest_mem_qva_to_va(vq->mem, vq->desc_qva, 16 * n);
    void *avail = vu_guest_mem_qva_to_va(vq->mem, vq->avail_qva, 6 + 2 * n);
    void *used = vu_guest_mem_qva_to_va(vq->mem, vq->used_qva, 6 + 8 * n);
    if (!desc || !avail || !used) {
        vu_virtq_unmap(vq);
        *why = "ring outside guest memory";
        return false;
    }
    vq->desc = desc;
    vq->avail = avail;
    vq->used = used;
    return true;
}

void vu_virtq_unmap(struct vu_virtq *vq)
{
    vq->desc = NULL;
    vq->avail = NULL;
    vq->used = NULL;
}

void vu_virtq_forget_inflight(struct vu_virtq *vq)
{
    memset(vq->inflight, 0, sizeof(vq->inflight));
    vq->n_inflight = 0;
}

static bool inflight(const struct vu_virtq *vq, uint16_t head)
{
    return vq->inflight[head / 64] & (1ull << (head % 64));
}

/* avail_event sits after the used ring's entries; writing it is harmless
 * when EVENT_IDX was not negotiated (the guest lays the slot out anyway). */
static void set_avail_event(struct vu_virtq *vq)
{
    volatile uint16_t *avail_event = (volatile uint16_t *)&vq->used->ring[vq->num];
    *avail_event = vq->last_avail;
}

static enum vu_pop_result broken(struct vu_virtq *vq, const char *reason, const char **why)
{
    vq->broken = true;
    *why = reason;
    return VU_POP_BROKEN;
}

enum vu_pop_result vu_virtq_pop(struct vu_virtq *vq, struct vu_elem *elem, const char **why)
{
    if (vq->broken || !vq->started || !vq->enabled || !vq->avail)
        return VU_POP_EMPTY;
    uint16_t avail_idx = vq->avail->idx;
    if (avail_idx == vq->last_avail) {
        /* With EVENT_IDX the guest kicks only when it passes avail_event:
         * ask for the next one, then look again in case it came between. */
        set_avail_event(vq);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        avail_idx = vq->avail->idx;
        if (avail_idx == vq->last_avail)
            return VU_POP_EMPTY;
    }
    if ((uint16_t)(avail_idx - vq->last_avail) > vq->num)
        return broken(vq, "available index ran more than a ring ahead", why);
    __atomic_thread_fence(__ATOMIC_ACQUIRE); /* ring entries after the index */
    uint16_t head = vq->avail->ring[vq->last_avail % vq->num];
    if (head >= vq->num)
        return broken(vq, "head descriptor index out of range", why);
    /* The same head again before it was used: more requests than the ring
     * holds, which a guest can repeat without end. */
    if (inflight(vq, head))
        return broken(vq, "descriptor head made available again while in flight", why);
    elem->head = head;
    elem->out_num = elem->in_num = 0;
    elem->out_len = elem->in_len = 0;
    volatile struct vring_desc *table = vq->desc;
    uint32_t table_size = vq->num;
    bool indirect = false;
    uint16_t i = head;
    /* A chain visits each descriptor once at most: more steps is a loop. */
    for (uint32_t steps = 0;; steps++) {
        if (steps >= table_size)
            return broken(vq, "descriptor chain loops or overruns the ring", why);
        struct vring_desc d = {table[i].addr, table[i].len, table[i].flags, table[i].next};
        if (d.flags & VRING_DESC_F_INDIRECT) {
            /* One level: the chain continues in a table in guest memory. */
            if (indirect || (d.flags & VRING_DESC_F_NEXT) || !d.len || d.len % 16 ||
                d.len / 16 > VU_VIRTQ_MAX_SIZE)
                return broken(vq, "bad indirect descriptor", why);
            table = vu_guest_mem_gpa_to_va(vq->mem, d.addr, d.len);
            if (!table)
                return broken(vq, "indirect table outside guest memory", why);
            table_size = d.len / 16;
            indirect = true;
            i = 0;
            steps = UINT32_MAX; /* counts again from 0 in the table */
            continue;
        }
        if (elem->out_num + elem->in_num >= VU_VIRTQ_MAX_SIZE)
            return broken(vq, "too many buffers in one chain", why);
        bool write = d.flags & VRING_DESC_F_WRITE;
        if (!write && elem->in_num)
            return broken(vq, "device-readable descriptor after a writable one", why);
        void *p = d.len ? vu_guest_mem_gpa_to_va(vq->mem, d.addr, d.len) : NULL;
        if (d.len && !p)
            return broken(vq, "buffer outside guest memory", why);
        if (d.len) {
            elem->addr[elem->out_num + elem->in_num] = d.addr;
            elem->iov[elem->out_num + elem->in_num] = (struct iovec){p, d.len};
            if (write) {
                elem->in_num++;
                elem->in_len += d.len;
            } else {
                elem->out_num++;
                elem->out_len += d.len;
            }
        }
        if (!(d.flags & VRING_DESC_F_NEXT))
            break;
        if (d.next >= table_size)
            return broken(vq, "next descriptor index out of range", why);
        i = d.next;
    }
    vq->last_avail++;
    vq->inflight[head / 64] |= 1ull << (head % 64);
    vq->n_inflight++;
    return VU_POP_OK;
}

static void push_used(struct vu_virtq *vq, uint16_t head, uint32_t len)
{
    if (head >= VU_VIRTQ_MAX_SIZE || !inflight(vq, head))
        return; /* the queue was reset since: the guest forgot it too */
    vq->inflight[head / 64] &= ~(1ull << (head % 64));
    vq->n_inflight--;
    if (!vq->used)
        return;
    volatile struct vring_used_elem *u = &vq->used->ring[vq->used_idx % vq->num];
    u->id = head;
    u->len = len;
    __atomic_thread_fence(__ATOMIC_RELEASE); /* the entry before the index */
    vq->used_idx++;
    vq->used->idx = vq->used_idx;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!(vq->avail->flags & VRING_AVAIL_F_NO_INTERRUPT) && vq->call_fd >= 0) {
        uint64_t one = 1;
        if (write(vq->call_fd, &one, sizeof(one)) < 0)
            g_debug("vhost-user: queue %u: call eventfd write failed", vq->index);
    }
}

void vu_virtq_push(struct vu_virtq *vq, const struct vu_elem *elem, uint32_t len)
{
    push_used(vq, elem->head, len);
}

struct vu_reply *vu_reply_create(const struct vu_elem *elem, size_t *bytes)
{
    size_t size = sizeof(struct vu_reply) + elem->in_num * sizeof(((struct vu_reply *)0)->buf[0]);
    struct vu_reply *r = g_malloc(size);
    r->head = elem->head;
    r->n = elem->in_num;
    for (uint32_t i = 0; i < elem->in_num; i++) {
        r->buf[i].addr = elem->addr[elem->out_num + i];
        r->buf[i].len = (uint32_t)elem->iov[elem->out_num + i].iov_len;
    }
    *bytes = size;
    return r;
}

void vu_virtq_reply(struct vu_virtq *vq, const struct vu_reply *reply, const void *buf, size_t len)
{
    size_t done = 0;
    for (uint32_t i = 0; i < reply->n && done < len; i++) {
        size_t k = MIN((size_t)reply->buf[i].len, len - done);
        void *p = vu_guest_mem_gpa_to_va(vq->mem, reply->buf[i].addr, k);
        if (!p) {
            g_warning("vhost-user: queue %u: a reply's buffer left guest memory; the guest "
                      "gets the request back with nothing written",
                      vq->index);
            done = 0;
            break;
        }
        memcpy(p, (const uint8_t *)buf + done, k);
        done += k;
    }
    push_used(vq, reply->head, (uint32_t)done);
}

/* Copies between iov (from offset on) and buf, in the direction asked. */
static size_t iov_copy(const struct iovec *iov, uint32_t n, size_t offset, uint8_t *buf, size_t len,
                       bool to_buf)
{
    size_t done = 0;
    for (uint32_t i = 0; i < n && done < len; i++) {
        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        size_t k = MIN(iov[i].iov_len - offset, len - done);
        uint8_t *guest = (uint8_t *)iov[i].iov_base + offset;
        memcpy(to_buf ? buf + done : guest, to_buf ? guest : buf + done, k);
        done += k;
        offset = 0;
    }
    return done;
}

size_t vu_iov_to_buf(const struct iovec *iov, uint32_t n, size_t offset, void *buf, size_t len)
{
    return iov_copy(iov, n, offset, buf, len, true);
}

size_t vu_iov_from_buf(const struct iovec *iov, uint32_t n, size_t offset, const void *buf,
                       size_t len)
{
    /* Only read from buf in this direction. */
    return iov_copy(iov, n, offset, (uint8_t *)buf, len, false);
}
