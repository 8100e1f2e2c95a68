/* Split virtqueues in guest memory, device side.
 *
 * The rings live in guest RAM, which the guest may change at any time:
 * every index read from them is checked, descriptor chains are walked with
 * a bound (a loop or an overrun marks the queue broken, the guest is told
 * nothing more on it and the rest of the device goes on), and every buffer
 * must lie inside guest memory mapped by vhost-user.
 *
 * At most one request per descriptor head is in flight, so a queue holds at
 * most its ring size of requests: a guest that makes a head available
 * again before it was used breaks the queue (QEMU: "Virtqueue size
 * exceeded").
 *
 * Host pointers into guest memory die when vhost-user changes the memory
 * map. The ring pointers are mapped again after every change (or cleared,
 * and the queue takes nothing until a later change maps them). A request
 * that outlives the call that popped it keeps its writable buffers as
 * guest addresses (struct vu_reply) and translates them when it answers. */
#ifndef VU_VIRTQ_H
#define VU_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <glib.h>

#include "guest-mem.h"

#define VU_VIRTQ_MAX_SIZE 1024

struct vu_virtq {
    const struct vu_guest_mem *mem; /* the connection's, never NULL */
    uint32_t index;
    uint16_t num; /* ring size, a power of two */
    /* QEMU's addresses of the rings (translated when the ring starts) */
    uint64_t desc_qva, avail_qva, used_qva;
    volatile struct vring_desc *desc;
    volatile struct vring_avail *avail;
    volatile struct vring_used *used;
    uint16_t last_avail, used_idx;
    bool started, enabled, broken;
    /* heads popped and not yet pushed: one bit each */
    uint64_t inflight[VU_VIRTQ_MAX_SIZE / 64];
    uint32_t n_inflight;
    int kick_fd, call_fd;
    GSource *kick_source;
};

/* One available buffer: out (device-readable) iovecs first, then in. The
 * iovecs are valid until the caller returns to the main loop (the next
 * vhost-user message may change the memory map); addr holds each one's
 * guest-physical address. */
struct vu_elem {
    uint16_t head;
    uint32_t out_num, in_num;
    size_t out_len, in_len;
    struct iovec iov[VU_VIRTQ_MAX_SIZE];
    uint64_t addr[VU_VIRTQ_MAX_SIZE];
};

/* What answering a request later needs: its head and writable buffers as
 * guest addresses. Allocated by vu_reply_create, freed with g_free. */
struct vu_reply {
    uint16_t head;
    uint32_t n;
    struct {
        uint64_t addr;
        uint32_t len;
    } buf[];
};

enum vu_pop_result {
    VU_POP_EMPTY,
    VU_POP_OK,
    VU_POP_BROKEN, /* the queue is marked broken; *why says how */
};

/* Maps the ring addresses; false (and *why) when they are not in guest
 * memory or misaligned. */
bool vu_virtq_map(struct vu_virtq *vq, const char **why);

/* Forgets the ring pointers: the memory behind them is going away. */
void vu_virtq_unmap(struct vu_virtq *vq);

/* The queue stopped or reset: nothing is in flight any more. */
void vu_virtq_forget_inflight(struct vu_virtq *vq);

enum vu_pop_result vu_virtq_pop(struct vu_virtq *vq, struct vu_elem *elem, const char **why);

/* Returns the buffer to the guest with len bytes written, and interrupts
 * it unless it asked not to be. */
void vu_virtq_push(struct vu_virtq *vq, const struct vu_elem *elem, uint32_t len);

/* The part of elem that vu_virtq_reply needs; *bytes says its size (for
 * the device's memory accounting). */
struct vu_reply *vu_reply_create(const struct vu_elem *elem, size_t *bytes);

/* Writes buf into the request's writable buffers, translated now, and
 * returns the request to the guest. Buffers no longer in guest memory get
 * nothing written (the guest moved its memory away under the request). */
void vu_virtq_reply(struct vu_virtq *vq, const struct vu_reply *reply, const void *buf, size_t len);

/* Copies between an iovec array and a flat buffer, starting offset bytes
 * in; returns the bytes copied. */
size_t vu_iov_to_buf(const struct iovec *iov, uint32_t n, size_t offset, void *buf, size_t len);
size_t vu_iov_from_buf(const struct iovec *iov, uint32_t n, size_t offset, const void *buf,
                       size_t len);

#endif
