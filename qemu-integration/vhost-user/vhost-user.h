/* The backend side of the vhost-user protocol (QEMU docs/interop/vhost-user.rst),
 * generic: a device (the GPU) plugs in through struct vu_iface.
 *
 * One connection per vu_dev. Messages, kicks and the device's work all run
 * on the GMainContext given at creation (the vhost-user thread); nothing
 * here is thread-safe. The vu_dev owns the connection fd, the mapped guest
 * memory and the rings' eventfds. Every field QEMU sends is checked before
 * use: a malformed message closes the connection (the device sees
 * disconnected) rather than being guessed at. */
#ifndef VU_VHOST_USER_H
#define VU_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <glib.h>

#include "guest-mem.h"

#define VU_MAX_QUEUES  4
#define VU_MAX_FDS     8
#define VU_MAX_PAYLOAD 4096 /* larger than any message we accept */

enum vu_request {
    VU_GET_FEATURES = 1,
    VU_SET_FEATURES = 2,
    VU_SET_OWNER = 3,
    VU_RESET_OWNER = 4,
    VU_SET_MEM_TABLE = 5,
    VU_SET_VRING_NUM = 8,
    VU_SET_VRING_ADDR = 9,
    VU_SET_VRING_BASE = 10,
    VU_GET_VRING_BASE = 11,
    VU_SET_VRING_KICK = 12,
    VU_SET_VRING_CALL = 13,
    VU_SET_VRING_ERR = 14,
    VU_GET_PROTOCOL_FEATURES = 15,
    VU_SET_PROTOCOL_FEATURES = 16,
    VU_GET_QUEUE_NUM = 17,
    VU_SET_VRING_ENABLE = 18,
    VU_SET_BACKEND_REQ_FD = 21,
    VU_GET_CONFIG = 24,
    VU_SET_CONFIG = 25,
    VU_GPU_SET_SOCKET = 33,
    VU_RESET_DEVICE = 34,
    VU_GET_MAX_MEM_SLOTS = 36,
    VU_ADD_MEM_REG = 37,
    VU_REM_MEM_REG = 38,
};

#define VU_FLAG_VERSION    0x1u
#define VU_FLAG_REPLY      0x4u
#define VU_FLAG_NEED_REPLY 0x8u

#define VU_F_PROTOCOL_FEATURES 30 /* feature bit */
#define VU_F_VERSION_1         32

enum vu_protocol_feature {
    VU_PF_MQ = 0,
    VU_PF_REPLY_ACK = 3,
    VU_PF_BACKEND_REQ = 5,
    VU_PF_CONFIG = 9,
    VU_PF_RESET_DEVICE = 13,
    VU_PF_CONFIGURE_MEM_SLOTS = 15,
};

struct vu_msg_header {
    uint32_t request;
    uint32_t flags;
    uint32_t size;
} __attribute__((packed));

struct vu_dev;
struct vu_virtq;

struct vu_iface {
    uint64_t features; /* device feature bits offered, besides VERSION_1 */
    uint32_t num_queues;
    uint32_t config_size; /* bytes of config space */
    /* Reads config space [offset, offset + size) into buf; both checked
     * against config_size already. */
    void (*get_config)(void *user, uint32_t offset, uint8_t *buf, uint32_t size);
    /* Writes; false rejects. */
    bool (*set_config)(void *user, uint32_t offset, const uint8_t *buf, uint32_t size);
    /* The guest made buffers available on a started, enabled queue. */
    void (*kick)(void *user, struct vu_virtq *vq);
    /* A request this layer does not handle (e.g. GPU_SET_SOCKET). Takes
     * the fds it keeps (sets them to -1). Returns the value for a reply-ack
     * (0 ok) or -1 when it does not know the request. */
    int (*device_request)(void *user, uint32_t request, const uint8_t *payload, uint32_t size,
                          int *fds, size_t n_fds);
    /* Every well-formed message as it arrives, before it is handled
     * (recording seeds). Optional. */
    void (*message)(void *user, const struct vu_msg_header *hdr, const uint8_t *payload);
    /* Guest memory is about to be unmapped (SET_MEM_TABLE, REM_MEM_REG):
     * forget every host pointer translated from it; keep guest addresses
     * and translate them again when needed. Optional. */
    void (*mem_unmapping)(void *user);
    /* Rings stopped (GET_VRING_BASE, reset): drop what refers to guest
     * memory of that queue. Optional. */
    void (*queue_stopped)(void *user, uint32_t index);
    /* A ring started. fresh: from index 0, which is how a newly reset
     * driver starts (a VM resumed after a pause restarts where it stopped;
     * only one in 65536 of those would look fresh). Optional. */
    void (*queue_started)(void *user, uint32_t index, bool fresh);
    /* QEMU closed the connection, or broke the protocol (why says which). */
    void (*disconnected)(void *user, const char *why);
};

/* Takes conn_fd. */
struct vu_dev *vu_dev_create(int conn_fd, GMainContext *context, const struct vu_iface *iface,
                             void *user);
void vu_dev_destroy(struct vu_dev *dev);

/* Handles one message as if read from the connection (tests; the socket
 * path uses it too). Takes the fds. False: protocol error, *why set; the
 * caller drops the connection. */
bool vu_dev_handle(struct vu_dev *dev, const struct vu_msg_header *hdr, const uint8_t *payload,
                   int *fds, size_t n_fds, const char **why);

/* Host pointer for guest-physical [gpa, gpa + len) when it lies in one
 * mapped region; NULL otherwise. Valid until the next memory-map change:
 * keep it no longer than the current callback (mem_unmapping above). */
void *vu_dev_gpa_to_va(struct vu_dev *dev, uint64_t gpa, uint64_t len);

/* The same for an address in QEMU's own address space (ring addresses). */
void *vu_dev_qva_to_va(struct vu_dev *dev, uint64_t qva, uint64_t len);

struct vu_virtq *vu_dev_queue(struct vu_dev *dev, uint32_t index);
uint64_t vu_dev_features(const struct vu_dev *dev);

#endif
