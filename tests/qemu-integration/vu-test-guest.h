/* A pretend QEMU and guest for the vhost-user tests: the connection's
 * other end, guest RAM in a memfd, and split rings laid out in it.
 *
 * Guest RAM is RAM_SIZE bytes at guest-physical RAM_GPA, and at RAM_QVA in
 * "QEMU's" address space; queue rings of QSIZE entries at DESC_OFF,
 * AVAIL_OFF and USED_OFF into it. The device runs on the guest's
 * GMainContext, which is the thread's default while the guest exists.
 * Failures are cmocka assertions. */
#ifndef VU_TEST_GUEST_H
#define VU_TEST_GUEST_H

#include <linux/virtio_ring.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "qemu-integration/vhost-user/vhost-user.h"

#define RAM_SIZE  (4u << 20)
#define RAM_GPA   0x100000ull       /* guest-physical base */
#define RAM_QVA   0x7f0000000000ull /* where "QEMU" has it */
#define QSIZE     16
#define DESC_OFF  0x0000
#define AVAIL_OFF 0x1000
#define USED_OFF  0x2000

struct vu_test_guest {
    int peer; /* QEMU's end */
    int ram_fd;
    uint8_t *ram;
    GMainContext *context;
    struct vu_dev *dev;
};

/* _init/_finish: caller-allocated. The device is created with iface and
 * user on a new context; vu_test_guest_finish destroys it. */
void vu_test_guest_init(struct vu_test_guest *g, const struct vu_iface *iface, void *user);
void vu_test_guest_finish(struct vu_test_guest *g);

/* A message from "QEMU", then a few turns of the device's loop. */
void vu_test_send(struct vu_test_guest *g, uint32_t request, uint32_t flags, const void *payload,
                  uint32_t size, const int *fds, size_t n_fds);
void vu_test_set_u64(struct vu_test_guest *g, uint32_t request, uint64_t v);
uint64_t vu_test_reply_u64(struct vu_test_guest *g, uint32_t request);

/* Runs the device's loop n turns without blocking. */
void vu_test_iterate(struct vu_test_guest *g, int n);

/* SET_MEM_TABLE with one region: fd's RAM_SIZE bytes at RAM_GPA/RAM_QVA. */
void vu_test_map_ram(struct vu_test_guest *g, int fd);

/* Negotiation as QEMU does it, guest RAM mapped, then queue index started
 * and enabled; returns its kick eventfd (the caller closes it). */
int vu_test_start_queue(struct vu_test_guest *g, uint32_t index);

volatile struct vring_desc *vu_test_desc(struct vu_test_guest *g);
volatile struct vring_used *vu_test_used(struct vu_test_guest *g);
void vu_test_make_available(struct vu_test_guest *g, uint16_t head);
void vu_test_kick(int kick_fd);

struct vgpu;

/* A control-queue command straight to the device (vgpu_process): the
 * answer's type. */
uint32_t vu_test_gpu_cmd(struct vgpu *g, const void *req, size_t len);
/* RESOURCE_CREATE_2D of a BGRX resource: the answer's type. */
uint32_t vu_test_create_2d(struct vgpu *g, uint32_t id, uint32_t width, uint32_t height);
/* ATTACH_BACKING of one entry, len bytes at gpa; the response's type. */
uint32_t vu_test_attach(struct vgpu *g, uint32_t id, uint64_t gpa, uint32_t len);

#endif
