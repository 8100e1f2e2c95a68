#include "config.h"

#include "vu-test-guest.h"

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>
#include <linux/virtio_gpu.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/sock.h"
#include "qemu-integration/virtio-gpu/vgpu.h"

void vu_test_guest_init(struct vu_test_guest *g, const struct vu_iface *iface, void *user)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    g->peer = sv[1];
    g->ram_fd = memfd_create("guest-ram", MFD_CLOEXEC);
    assert_true(g->ram_fd >= 0);
    assert_int_equal(ftruncate(g->ram_fd, RAM_SIZE), 0);
    g->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->ram_fd, 0);
    assert_true(g->ram != MAP_FAILED);
    g->context = g_main_context_new();
    g_main_context_push_thread_default(g->context);
    g->dev = vu_dev_create(sv[0], g->context, iface, user);
}

void vu_test_guest_finish(struct vu_test_guest *g)
{
    vu_dev_destroy(g->dev);
    g_main_context_pop_thread_default(g->context);
    g_main_context_unref(g->context);
    munmap(g->ram, RAM_SIZE);
    close(g->ram_fd);
    close(g->peer);
}

void vu_test_iterate(struct vu_test_guest *g, int n)
{
    for (int i = 0; i < n; i++)
        g_main_context_iteration(g->context, FALSE);
}

void vu_test_send(struct vu_test_guest *g, uint32_t request, uint32_t flags, const void *payload,
                  uint32_t size, const int *fds, size_t n_fds)
{
    struct vu_msg_header h = {request, VU_FLAG_VERSION | flags, size};
    struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, size}};
    assert_true(sgl_sock_send(g->peer, iov, size ? 2 : 1, fds, n_fds));
    vu_test_iterate(g, 10);
}

void vu_test_set_u64(struct vu_test_guest *g, uint32_t request, uint64_t v)
{
    vu_test_send(g, request, 0, &v, sizeof(v), NULL, 0);
}

uint64_t vu_test_reply_u64(struct vu_test_guest *g, uint32_t request)
{
    struct {
        struct vu_msg_header h;
        uint64_t v;
    } __attribute__((packed)) r;
    assert_int_equal(recv(g->peer, &r, sizeof(r), 0), sizeof(r));
    assert_int_equal(r.h.request, request);
    assert_true(r.h.flags & VU_FLAG_REPLY);
    return r.v;
}

void vu_test_map_ram(struct vu_test_guest *g, int fd)
{
    struct {
        uint32_t n, pad;
        uint64_t gpa, size, qva, offset;
    } t = {1, 0, RAM_GPA, RAM_SIZE, RAM_QVA, 0};
    vu_test_send(g, VU_SET_MEM_TABLE, 0, &t, sizeof(t), &fd, 1);
}

int vu_test_start_queue(struct vu_test_guest *g, uint32_t index)
{
    vu_test_set_u64(g, VU_SET_FEATURES,
                    (1ull << VU_F_PROTOCOL_FEATURES) | (1ull << VU_F_VERSION_1));
    vu_test_set_u64(g, VU_SET_PROTOCOL_FEATURES, 1ull << VU_PF_REPLY_ACK);
    vu_test_map_ram(g, g->ram_fd);
    uint32_t num[2] = {index, QSIZE};
    vu_test_send(g, VU_SET_VRING_NUM, 0, num, sizeof(num), NULL, 0);
    struct {
        uint32_t index, flags;
        uint64_t desc, used, avail, log;
    } a = {index, 0, RAM_QVA + DESC_OFF, RAM_QVA + USED_OFF, RAM_QVA + AVAIL_OFF, 0};
    vu_test_send(g, VU_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
    int call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), kick = eventfd(0, EFD_CLOEXEC);
    uint64_t idx = index;
    vu_test_send(g, VU_SET_VRING_CALL, 0, &idx, 8, &call, 1);
    vu_test_send(g, VU_SET_VRING_KICK, 0, &idx, 8, &kick, 1);
    uint32_t enable[2] = {index, 1};
    vu_test_send(g, VU_SET_VRING_ENABLE, 0, enable, sizeof(enable), NULL, 0);
    close(call);
    return kick;
}

volatile struct vring_desc *vu_test_desc(struct vu_test_guest *g)
{
    return (volatile struct vring_desc *)(g->ram + DESC_OFF);
}

volatile struct vring_used *vu_test_used(struct vu_test_guest *g)
{
    return (volatile struct vring_used *)(g->ram + USED_OFF);
}

void vu_test_make_available(struct vu_test_guest *g, uint16_t head)
{
    volatile struct vring_avail *avail = (volatile struct vring_avail *)(g->ram + AVAIL_OFF);
    avail->ring[avail->idx % QSIZE] = head;
    avail->idx++;
}

void vu_test_kick(int kick_fd)
{
    uint64_t one = 1;
    assert_int_equal(write(kick_fd, &one, 8), 8);
}

uint32_t vu_test_gpu_cmd(struct vgpu *g, const void *req, size_t len)
{
    uint8_t out[2048];
    size_t n = vgpu_process(g, false, req, len, out, sizeof(out));
    assert_true(n >= sizeof(struct virtio_gpu_ctrl_hdr));
    struct virtio_gpu_ctrl_hdr r;
    memcpy(&r, out, sizeof(r));
    return r.type;
}

uint32_t vu_test_attach(struct vgpu *g, uint32_t id, uint64_t gpa, uint32_t len)
{
    struct {
        struct virtio_gpu_resource_attach_backing a;
        struct virtio_gpu_mem_entry e;
    } __attribute__((packed)) att = {.a = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
                                           .resource_id = id,
                                           .nr_entries = 1},
                                     .e = {gpa, len, 0}};
    return vu_test_gpu_cmd(g, &att, sizeof(att));
}

uint32_t vu_test_create_2d(struct vgpu *g, uint32_t id, uint32_t width, uint32_t height)
{
    struct virtio_gpu_resource_create_2d c = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
                                              .resource_id = id,
                                              .format = VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
                                              .width = width,
                                              .height = height};
    return vu_test_gpu_cmd(g, &c, sizeof(c));
}
