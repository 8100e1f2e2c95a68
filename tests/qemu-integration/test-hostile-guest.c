/* A hostile guest against the virtio-gpu device over vhost-user, with a
 * real virglrenderer: one test per class of defect that lets a guest reach
 * host memory or grow it without bound.
 *
 * - fences: the guest's 64-bit fence ids never reach the renderer's 32-bit
 *   ones, so ids past 2^32 retire like any other;
 * - in flight: one request per descriptor head, so a queue holds at most
 *   its ring size of requests;
 * - memory-map changes: nothing translated from an old map is used after
 *   it (rings, backing, the answers of waiting requests);
 * - accounting: 3D contexts and scanout read-back buffers are charged;
 * - a reboot drops 3D contexts even when the guest made no resources;
 * - rejected commands are logged at a bounded rate;
 * - QEMU's console socket never makes the GPU thread wait for QEMU;
 * - 3D transfers to array layers and cube faces are taken;
 * - the host's own GL work (resources) never runs in a guest's GL context,
 *   whose state it would change behind the guest's back. */
#include "config.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <EGL/egl.h>
#include <cmocka.h>
#include <linux/virtio_gpu.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qemu-integration/virtio-gpu/qemu-display.h"
#include "qemu-integration/virtio-gpu/ratelimit.h"
#include "qemu-integration/virtio-gpu/vgpu.h"
#include "qemu-integration/vhost-user/virtq.h"
#include "tests/qemu-integration/vu-test-guest.h"
#include "tests/test-util.h"

#define REQ_OFF   0x10000       /* request of head h at REQ_OFF + h * 0x1000 */
#define RESP_OFF  0x30000       /* its answer at RESP_OFF + h * 0x100 */
#define BACK_GPA  0x10000000ull /* a second region, for backing */
#define BACK_QVA  0x7f1000000000ull
#define BACK_SIZE (1u << 20)
#define MAX_HEADS 8

struct fixture {
    struct vu_test_guest g;
    struct vgpu *gpu;
    int kick;
    unsigned frames;
    uint32_t first_pixel;
};

/* Warnings logged by the device, counted by the log writer below. */
static unsigned warnings;

static GLogWriterOutput count_warnings(GLogLevelFlags level, const GLogField *fields,
                                       gsize n_fields, gpointer user)
{
    if (level & G_LOG_LEVEL_WARNING)
        warnings++;
    return g_log_writer_default(level, fields, n_fields, user);
}

static void on_frame(void *user, uint32_t scanout, const struct sgl_frame *frame)
{
    struct fixture *f = user;
    (void)scanout;
    f->frames++;
    memcpy(&f->first_pixel, frame->pixels, 4);
}

static struct fixture *gpu_fixture_with(const struct vgpu_config *c)
{
    struct fixture *f = g_new0(struct fixture, 1);
    static const struct sgl_source_listener cb = {.frame = on_frame};
    g_autoptr(GError) error = NULL;
    f->gpu = vgpu_create(c, &cb, f, &error);
    if (!f->gpu)
        fail_msg("vgpu_create: %s", error->message);
    vu_test_guest_init(&f->g, vgpu_vu_iface(f->gpu), f->gpu);
    vgpu_set_dev(f->gpu, f->g.dev);
    f->kick = vu_test_start_queue(&f->g, 0);
    return f;
}

static struct fixture *gpu_fixture(uint64_t cap, uint32_t scanouts)
{
    struct vgpu_config c = {.num_scanouts = scanouts,
                            .width = 1280,
                            .height = 800,
                            .max_host_bytes = cap,
                            .virgl = true};
    return gpu_fixture_with(&c);
}

static void gpu_fixture_free(struct fixture *f)
{
    close(f->kick);
    vgpu_set_dev(f->gpu, NULL);
    vu_test_guest_finish(&f->g);
    vgpu_destroy(f->gpu);
    g_free(f);
}

/* Lays out a request on head h (h < MAX_HEADS): its bytes, then room for
 * the answer; makes it available. */
static void post(struct fixture *f, uint16_t h, const void *req, size_t len)
{
    memcpy(f->g.ram + REQ_OFF + h * 0x1000, req, len);
    memset(f->g.ram + RESP_OFF + h * 0x100, 0, 0x100);
    vu_test_desc(&f->g)[h] = (struct vring_desc){RAM_GPA + REQ_OFF + h * 0x1000, (uint32_t)len,
                                                 VRING_DESC_F_NEXT, h + MAX_HEADS};
    vu_test_desc(&f->g)[h + MAX_HEADS] =
        (struct vring_desc){RAM_GPA + RESP_OFF + h * 0x100, 0x100, VRING_DESC_F_WRITE, 0};
    vu_test_make_available(&f->g, h);
}

/* Runs the device until the used ring reaches idx (fences are polled
 * every millisecond); false after two seconds. */
static bool wait_used(struct fixture *f, uint16_t idx)
{
    for (int i = 0; i < 2000; i++) {
        vu_test_iterate(&f->g, 5);
        if ((uint16_t)(vu_test_used(&f->g)->idx - idx) < 0x8000)
            return true;
        g_usleep(1000);
    }
    return false;
}

static struct virtio_gpu_ctrl_hdr answer(const uint8_t *ram, uint16_t h)
{
    struct virtio_gpu_ctrl_hdr r;
    memcpy(&r, ram + RESP_OFF + h * 0x100, sizeof(r));
    return r;
}

static uint32_t transfer_2d(struct vgpu *g, uint32_t id, uint32_t w, uint32_t h)
{
    struct virtio_gpu_transfer_to_host_2d t = {
        .hdr.type = VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, .r = {0, 0, w, h}, .resource_id = id};
    return vu_test_gpu_cmd(g, &t, sizeof(t));
}

static uint32_t ctx_create(struct vgpu *g, uint32_t ctx)
{
    struct virtio_gpu_ctx_create cc = {
        .hdr = {.type = VIRTIO_GPU_CMD_CTX_CREATE, .ctx_id = ctx}, .nlen = 4, .debug_name = "test"};
    return vu_test_gpu_cmd(g, &cc, sizeof(cc));
}

static struct virtio_gpu_resource_flush fenced_flush(uint32_t id, uint64_t fence)
{
    return (struct virtio_gpu_resource_flush){.hdr = {.type = VIRTIO_GPU_CMD_RESOURCE_FLUSH,
                                                      .flags = VIRTIO_GPU_FLAG_FENCE,
                                                      .fence_id = fence},
                                              .r = {0, 0, 16, 16},
                                              .resource_id = id};
}

/* A second region of guest RAM at BACK_GPA, filled with byte. */
static int add_region(struct fixture *f, uint8_t byte)
{
    int fd = memfd_create("guest-ram-2", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, BACK_SIZE), 0);
    uint8_t *p = mmap(NULL, BACK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(p != MAP_FAILED);
    memset(p, byte, BACK_SIZE);
    munmap(p, BACK_SIZE);
    struct {
        uint64_t pad, gpa, size, qva, offset;
    } m = {0, BACK_GPA, BACK_SIZE, BACK_QVA, 0};
    vu_test_send(&f->g, VU_ADD_MEM_REG, 0, &m, sizeof(m), &fd, 1);
    return fd;
}

static void rem_region(struct fixture *f, uint64_t gpa, uint64_t size, uint64_t qva)
{
    struct {
        uint64_t pad, gpa, size, qva, offset;
    } m = {0, gpa, size, qva, 0};
    vu_test_send(&f->g, VU_REM_MEM_REG, 0, &m, sizeof(m), NULL, 0);
}

/* Replaces the memory table with one region: a copy of guest RAM in a
 * new memfd, with byte at RAM_GPA + 0x200000 for 64x64x4 bytes. Returns
 * the test's mapping of it (RAM_SIZE bytes). */
static uint8_t *move_ram(struct fixture *f, uint8_t byte)
{
    int fd = memfd_create("guest-ram-moved", MFD_CLOEXEC);
    assert_int_equal(ftruncate(fd, RAM_SIZE), 0);
    assert_int_equal(pwrite(fd, f->g.ram, RAM_SIZE, 0), RAM_SIZE);
    uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(ram != MAP_FAILED);
    memset(ram + 0x200000, byte, 64 * 64 * 4);
    vu_test_map_ram(&f->g, fd);
    close(fd);
    return ram;
}

/* ---- fences --------------------------------------------------------------- */

/* An honest guest's fence counter passes 2^32: every fenced request is
 * still answered, in order, with the guest's own 64-bit id. */
static void test_fence_ids_past_2_32(void **state)
{
    struct fixture *f = gpu_fixture(256u << 20, 1);
    assert_int_equal(vu_test_create_2d(f->gpu, 1, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
    uint64_t fence = (1ull << 32) - 3;
    uint16_t used = 0;
    /* One at a time across the boundary... */
    for (int i = 0; i < 6; i++, fence++) {
        struct virtio_gpu_resource_flush fl = fenced_flush(1, fence);
        post(f, 0, &fl, sizeof(fl));
        vu_test_kick(f->kick);
        if (!wait_used(f, ++used))
            fail_msg("fenced request with fence id %#llx never answered",
                     (unsigned long long)fence);
        struct virtio_gpu_ctrl_hdr r = answer(f->g.ram, 0);
        assert_int_equal(r.type, VIRTIO_GPU_RESP_OK_NODATA);
        assert_true(r.flags & VIRTIO_GPU_FLAG_FENCE);
        assert_int_equal(r.fence_id, fence);
    }
    /* ...and several in flight together, far past it. */
    fence = 0x123456789abull;
    for (uint16_t h = 0; h < 4; h++) {
        struct virtio_gpu_resource_flush fl = fenced_flush(1, fence + h);
        post(f, h, &fl, sizeof(fl));
    }
    vu_test_kick(f->kick);
    used += 4;
    assert_true(wait_used(f, used));
    for (uint16_t h = 0; h < 4; h++) {
        assert_int_equal(answer(f->g.ram, h).fence_id, fence + h);
        assert_int_equal(vu_test_used(&f->g)->ring[(used - 4 + h) % QSIZE].id, h);
    }
    struct vgpu_stats st;
    vgpu_get_stats(f->gpu, &st);
    assert_int_equal(st.pending, 0);
    gpu_fixture_free(f);
}

/* The same head made available again while its request waits for a fence:
 * the queue breaks at once instead of taking it again and again. */
static void test_head_in_flight_twice(void **state)
{
    struct fixture *f = gpu_fixture(256u << 20, 1);
    assert_int_equal(vu_test_create_2d(f->gpu, 1, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
    struct virtio_gpu_resource_flush fl = fenced_flush(1, 7);
    post(f, 0, &fl, sizeof(fl));
    for (int i = 1; i < QSIZE; i++)
        vu_test_make_available(&f->g, 0);
    vu_test_kick(f->kick);
    vu_test_iterate(&f->g, 1); /* the kick, not yet the fence */
    struct vgpu_stats st;
    vgpu_get_stats(f->gpu, &st);
    assert_true(st.pending <= 1);
    assert_true(vu_dev_queue(f->g.dev, 0)->broken);
    /* The one request taken is still answered. */
    assert_true(wait_used(f, 1));
    assert_int_equal(answer(f->g.ram, 0).fence_id, 7);
    gpu_fixture_free(f);
}

/* ---- memory-map changes --------------------------------------------------- */

/* Backing in a region that goes away: the next transfer is an error for
 * the guest, never a read of unmapped (or reused) host memory. Backing
 * attached again in a new region is read from the new one. */
static void test_backing_after_region_removed(void **state)
{
    struct fixture *f = gpu_fixture(256u << 20, 1);
    int fd = add_region(f, 0x11);
    assert_int_equal(vu_test_create_2d(f->gpu, 1, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(vu_test_attach(f->gpu, 1, BACK_GPA, 64 * 64 * 4), VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(transfer_2d(f->gpu, 1, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
    rem_region(f, BACK_GPA, BACK_SIZE, BACK_QVA);
    close(fd);
    assert_int_equal(transfer_2d(f->gpu, 1, 64, 64), VIRTIO_GPU_RESP_ERR_UNSPEC);
    struct virtio_gpu_transfer_host_3d t3 = {.hdr.type = VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D,
                                             .box = {0, 0, 0, 64, 64, 1},
                                             .resource_id = 1};
    assert_int_equal(vu_test_gpu_cmd(f->gpu, &t3, sizeof(t3)), VIRTIO_GPU_RESP_ERR_UNSPEC);

    fd = add_region(f, 0x22);
    assert_int_equal(vu_test_attach(f->gpu, 1, BACK_GPA, 64 * 64 * 4), VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(transfer_2d(f->gpu, 1, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
    struct virtio_gpu_set_scanout s = {
        .hdr.type = VIRTIO_GPU_CMD_SET_SCANOUT, .r = {0, 0, 64, 64}, .resource_id = 1};
    assert_int_equal(vu_test_gpu_cmd(f->gpu, &s, sizeof(s)), VIRTIO_GPU_RESP_OK_NODATA);
    struct virtio_gpu_resource_flush fl = {
        .hdr.type = VIRTIO_GPU_CMD_RESOURCE_FLUSH, .r = {0, 0, 64, 64}, .resource_id = 1};
    assert_int_equal(vu_test_gpu_cmd(f->gpu, &fl, sizeof(fl)), VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(f->frames, 1);
    assert_int_equal(f->first_pixel & 0xffffff, 0x222222);

    /* A new memory table without that region: the backing is lost, and
     * the guest is told on its next use. */
    uint8_t *moved = move_ram(f, 0x33);
    assert_int_equal(transfer_2d(f->gpu, 1, 64, 64), VIRTIO_GPU_RESP_ERR_UNSPEC);
    assert_int_equal(vu_test_attach(f->gpu, 1, RAM_GPA + 0x200000, 64 * 64 * 4),
                     VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(transfer_2d(f->gpu, 1, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(vu_test_gpu_cmd(f->gpu, &fl, sizeof(fl)), VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(f->first_pixel & 0xffffff, 0x333333);
    munmap(moved, RAM_SIZE);
    /* The same guest addresses in yet another table: the backing is read
     * where they are mapped now. */
    moved = move_ram(f, 0x44);
    assert_int_equal(transfer_2d(f->gpu, 1, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(vu_test_gpu_cmd(f->gpu, &fl, sizeof(fl)), VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(f->first_pixel & 0xffffff, 0x444444);
    munmap(moved, RAM_SIZE);
    close(fd);
    gpu_fixture_free(f);
}

/* The region holding the rings goes away: a kick takes nothing (and
 * touches nothing); once the region is back, the queue goes on. */
static void test_rings_after_region_removed(void **state)
{
    struct fixture *f = gpu_fixture(256u << 20, 1);
    struct virtio_gpu_ctrl_hdr info = {.type = VIRTIO_GPU_CMD_GET_DISPLAY_INFO};
    post(f, 0, &info, sizeof(info));
    vu_test_kick(f->kick);
    assert_true(wait_used(f, 1));
    rem_region(f, RAM_GPA, RAM_SIZE, RAM_QVA);
    post(f, 1, &info, sizeof(info));
    vu_test_kick(f->kick);
    vu_test_iterate(&f->g, 10);
    assert_int_equal(vu_test_used(&f->g)->idx, 1);
    struct {
        uint64_t pad, gpa, size, qva, offset;
    } m = {0, RAM_GPA, RAM_SIZE, RAM_QVA, 0};
    vu_test_send(&f->g, VU_ADD_MEM_REG, 0, &m, sizeof(m), &f->g.ram_fd, 1);
    vu_test_kick(f->kick);
    assert_true(wait_used(f, 2));
    assert_int_equal(answer(f->g.ram, 1).type, VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
    gpu_fixture_free(f);
}

/* A request waits for its fence while the memory table is replaced: its
 * answer goes to the guest's memory as it is mapped then, not to the old
 * mapping. */
static void test_pending_answer_after_new_table(void **state)
{
    struct fixture *f = gpu_fixture(256u << 20, 1);
    assert_int_equal(vu_test_create_2d(f->gpu, 1, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
    struct virtio_gpu_resource_flush fl = fenced_flush(1, 99);
    post(f, 0, &fl, sizeof(fl));
    vu_test_kick(f->kick);
    vu_test_iterate(&f->g, 1); /* the request is taken; its fence is polled later */
    struct vgpu_stats st;
    vgpu_get_stats(f->gpu, &st);
    assert_int_equal(st.pending, 1);
    int moved = memfd_create("guest-ram-moved", MFD_CLOEXEC);
    assert_int_equal(ftruncate(moved, RAM_SIZE), 0);
    assert_int_equal(pwrite(moved, f->g.ram, RAM_SIZE, 0), RAM_SIZE);
    /* Another region first, of the same size: the device maps it where
     * the old RAM was, so a stale pointer would write into it. */
    int other = memfd_create("guest-ram-other", MFD_CLOEXEC);
    assert_int_equal(ftruncate(other, RAM_SIZE), 0);
    struct {
        uint32_t n, pad;
        struct {
            uint64_t gpa, size, qva, offset;
        } r[2];
    } table = {2, 0, {{0x40000000, RAM_SIZE, 0x7f2000000000, 0}, {RAM_GPA, RAM_SIZE, RAM_QVA, 0}}};
    struct vu_msg_header h = {VU_SET_MEM_TABLE, VU_FLAG_VERSION, sizeof(table)};
    const char *why = NULL;
    int fds[2] = {dup(other), dup(moved)}; /* the device takes them */
    /* Handled at once: no loop turn in between, so the fence is still
     * pending when the old mapping goes. */
    assert_true(vu_dev_handle(f->g.dev, &h, (const uint8_t *)&table, fds, 2, &why));
    uint8_t *moved_ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, moved, 0);
    assert_true(moved_ram != MAP_FAILED);
    for (int i = 0; i < 2000 && ((volatile struct vring_used *)(moved_ram + USED_OFF))->idx != 1;
         i++) {
        vu_test_iterate(&f->g, 5);
        g_usleep(1000);
    }
    assert_int_equal(((volatile struct vring_used *)(moved_ram + USED_OFF))->idx, 1);
    assert_int_equal(answer(moved_ram, 0).fence_id, 99);
    assert_int_equal(answer(f->g.ram, 0).type, 0); /* nothing in the old mapping */
    uint8_t *other_ram = mmap(NULL, RAM_SIZE, PROT_READ, MAP_SHARED, other, 0);
    assert_true(other_ram != MAP_FAILED);
    assert_int_equal(answer(other_ram, 0).type, 0); /* nor where it was */
    munmap(other_ram, RAM_SIZE);
    munmap(moved_ram, RAM_SIZE);
    close(moved);
    close(other);
    gpu_fixture_free(f);
}

/* ---- accounting ----------------------------------------------------------- */

/* 3D contexts are charged: under a 64 MiB cap a guest gets 21 of them,
 * not as many as it asks for; destroying one makes room. */
static void test_contexts_charged(void **state)
{
    struct fixture *f = gpu_fixture(64u << 20, 1);
    uint32_t made = 0;
    while (made < 100 && ctx_create(f->gpu, made + 1) == VIRTIO_GPU_RESP_OK_NODATA)
        made++;
    assert_int_equal(made, 21); /* 3 MiB each */
    assert_int_equal(ctx_create(f->gpu, 500), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
    assert_int_equal(ctx_create(f->gpu, 1), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
    struct virtio_gpu_ctrl_hdr destroy = {.type = VIRTIO_GPU_CMD_CTX_DESTROY, .ctx_id = 1};
    assert_int_equal(vu_test_gpu_cmd(f->gpu, &destroy, sizeof(destroy)), VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(vu_test_gpu_cmd(f->gpu, &destroy, sizeof(destroy)),
                     VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
    assert_int_equal(ctx_create(f->gpu, 500), VIRTIO_GPU_RESP_OK_NODATA);
    struct vgpu_stats st;
    vgpu_get_stats(f->gpu, &st);
    assert_int_equal(st.contexts, 21);
    assert_true(st.host_bytes <= 64u << 20);
    gpu_fixture_free(f);
}

/* One resource shown on four scanouts needs four read-back buffers: they
 * count against the cap like the resource does. */
static void test_scanout_buffers_charged(void **state)
{
    struct fixture *f = gpu_fixture(64u << 20, 4);
    assert_int_equal(vu_test_create_2d(f->gpu, 1, 2048, 2048),
                     VIRTIO_GPU_RESP_OK_NODATA); /* 16 MiB */
    uint32_t shown = 0;
    for (uint32_t i = 0; i < 4; i++) {
        struct virtio_gpu_set_scanout s = {.hdr.type = VIRTIO_GPU_CMD_SET_SCANOUT,
                                           .scanout_id = i,
                                           .r = {0, 0, 2048, 2048},
                                           .resource_id = 1};
        shown += vu_test_gpu_cmd(f->gpu, &s, sizeof(s)) == VIRTIO_GPU_RESP_OK_NODATA;
    }
    assert_int_equal(shown, 3);
    struct vgpu_stats st;
    vgpu_get_stats(f->gpu, &st);
    assert_true(st.host_bytes <= 64u << 20);
    /* The guest restarting gives every byte back. */
    vgpu_reset(f->gpu);
    vgpu_get_stats(f->gpu, &st);
    assert_int_equal(st.host_bytes, 0);
    gpu_fixture_free(f);
}

/* A guest that made 3D contexts but no resources reboots: its contexts go
 * with it (the driver starts its control queue afresh). */
static void test_contexts_dropped_on_reboot(void **state)
{
    struct fixture *f = gpu_fixture(256u << 20, 1);
    assert_int_equal(ctx_create(f->gpu, 5), VIRTIO_GPU_RESP_OK_NODATA);
    uint32_t idx[2] = {0, 0};
    vu_test_send(&f->g, VU_GET_VRING_BASE, 0, idx, sizeof(idx), NULL, 0);
    char reply[sizeof(struct vu_msg_header) + 8];
    assert_int_equal(read(f->g.peer, reply, sizeof(reply)), sizeof(reply));
    close(f->kick);
    memset(f->g.ram + AVAIL_OFF, 0, 0x1000);
    memset(f->g.ram + USED_OFF, 0, 0x1000);
    f->kick = vu_test_start_queue(&f->g, 0);
    struct vgpu_stats st;
    vgpu_get_stats(f->gpu, &st);
    assert_int_equal(st.contexts, 0);
    assert_int_equal(st.host_bytes, 0);
    /* The renderer has no context 5 any more: a command stream for it
     * (one NOP) is refused, until the guest creates it again. */
    struct {
        struct virtio_gpu_cmd_submit s;
        uint32_t nop;
    } sub = {.s = {.hdr = {.type = VIRTIO_GPU_CMD_SUBMIT_3D, .ctx_id = 5}, .size = 4}};
    assert_int_equal(vu_test_gpu_cmd(f->gpu, &sub, sizeof(sub)),
                     VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    assert_int_equal(ctx_create(f->gpu, 5), VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(vu_test_gpu_cmd(f->gpu, &sub, sizeof(sub)), VIRTIO_GPU_RESP_OK_NODATA);
    gpu_fixture_free(f);
}

/* virglrenderer leaves the GL context of the command stream it ran last
 * current. Creating or freeing a resource in it would move that context's
 * texture and buffer bindings without the guest knowing; its next draw then
 * fails with GL_INVALID_OPERATION and virglrenderer gives the context up
 * for good (a desktop that stops drawing). Each resource command, right
 * after a command stream, must run in the renderer's own context. */
static void test_resources_outside_guest_contexts(void **state)
{
    struct fixture *f = gpu_fixture(256u << 20, 1);
    assert_int_equal(ctx_create(f->gpu, 5), VIRTIO_GPU_RESP_OK_NODATA);
    struct {
        struct virtio_gpu_cmd_submit s;
        uint32_t nop;
    } sub = {.s = {.hdr = {.type = VIRTIO_GPU_CMD_SUBMIT_3D, .ctx_id = 5}, .size = 4}};
    assert_int_equal(vu_test_gpu_cmd(f->gpu, &sub, sizeof(sub)), VIRTIO_GPU_RESP_OK_NODATA);
    EGLContext guest = eglGetCurrentContext();
    assert_true(guest != EGL_NO_CONTEXT);

    assert_int_equal(vu_test_create_2d(f->gpu, 1, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
    EGLContext host = eglGetCurrentContext();
    assert_true(host != EGL_NO_CONTEXT);
    assert_true(host != guest);

    assert_int_equal(vu_test_gpu_cmd(f->gpu, &sub, sizeof(sub)), VIRTIO_GPU_RESP_OK_NODATA);
    assert_true(eglGetCurrentContext() == guest);
    struct virtio_gpu_resource_unref unref = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_UNREF,
                                              .resource_id = 1};
    assert_int_equal(vu_test_gpu_cmd(f->gpu, &unref, sizeof(unref)), VIRTIO_GPU_RESP_OK_NODATA);
    assert_true(eglGetCurrentContext() == host);
    gpu_fixture_free(f);
}

/* ---- the log, and 3D transfers -------------------------------------------- */

static void test_rejections_rate_limited(void **state)
{
    struct vgpu_ratelimit rl = {0};
    uint64_t held = 0;
    unsigned allowed = 0;
    for (int i = 0; i < 100; i++)
        allowed += vgpu_ratelimit_allow(&rl, 3, 5000000, &held);
    assert_int_equal(allowed, VGPU_RATELIMIT_BURST);
    assert_true(vgpu_ratelimit_allow(&rl, 4, 5000000, &held)); /* another kind */
    assert_true(vgpu_ratelimit_allow(&rl, 3, 6000000, &held)); /* a second later */
    assert_int_equal(held, 100 - VGPU_RATELIMIT_BURST);

    struct fixture *f = gpu_fixture(256u << 20, 1);
    warnings = 0;
    for (int i = 0; i < 10000; i++) {
        struct virtio_gpu_resource_unref u = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_UNREF,
                                              .resource_id = 1000 + i};
        assert_int_equal(vu_test_gpu_cmd(f->gpu, &u, sizeof(u)),
                         VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    }
    /* 10,000 rejections in well under the few seconds this may take. */
    if (warnings > 5 * VGPU_RATELIMIT_BURST)
        fail_msg("%u warnings logged for 10000 rejected commands", warnings);
    assert_true(warnings >= 1);
    struct vgpu_stats st;
    vgpu_get_stats(f->gpu, &st);
    assert_int_equal(st.errors, 10000);
    gpu_fixture_free(f);
}

/* Layers past the first of an array texture and faces of a cube map. */
static void test_transfer_to_layers(void **state)
{
    struct fixture *f = gpu_fixture(256u << 20, 1);
    const uint32_t targets[2] = {7 /* PIPE_TEXTURE_2D_ARRAY */, 4 /* PIPE_TEXTURE_CUBE */};
    for (uint32_t k = 0; k < 2; k++) {
        uint32_t id = 10 + k;
        struct virtio_gpu_resource_create_3d c = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_3D,
                                                  .resource_id = id,
                                                  .target = targets[k],
                                                  .format = VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM,
                                                  .bind = 1 << 3, /* sampler view */
                                                  .width = 16,
                                                  .height = 16,
                                                  .depth = 1,
                                                  .array_size = 6};
        assert_int_equal(vu_test_gpu_cmd(f->gpu, &c, sizeof(c)), VIRTIO_GPU_RESP_OK_NODATA);
        assert_int_equal(vu_test_attach(f->gpu, id, RAM_GPA + 0x200000, 16 * 16 * 4 * 6),
                         VIRTIO_GPU_RESP_OK_NODATA);
        struct virtio_gpu_transfer_host_3d t = {.hdr.type = VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D,
                                                .box = {0, 0, 5, 16, 16, 1},
                                                .offset = 5 * 16 * 16 * 4,
                                                .resource_id = id,
                                                .stride = 16 * 4,
                                                .layer_stride = 16 * 16 * 4};
        assert_int_equal(vu_test_gpu_cmd(f->gpu, &t, sizeof(t)), VIRTIO_GPU_RESP_OK_NODATA);
        t.box.z = 6;
        assert_int_equal(vu_test_gpu_cmd(f->gpu, &t, sizeof(t)),
                         VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    }
    gpu_fixture_free(f);
}

/* QEMU's console socket while QEMU does not read it (a vCPU waiting for
 * the GPU holds QEMU's lock): updates are refused at once instead of
 * blocking the GPU thread, and go out again once QEMU reads. */
static void test_qemu_console_never_waits(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    GMainContext *context = g_main_context_new();
    struct vgpu_qemu_display *d = vgpu_qemu_display_create(sv[0], context);
    assert_non_null(d);
    assert_true(vgpu_qemu_display_scanout(d, 0, 1280, 800));
    uint8_t *pixels = g_malloc0(1280 * 800 * 4);
    int64_t start = g_get_monotonic_time();
    unsigned sent = 0, refused = 0;
    for (int i = 0; i < 20; i++) {
        if (vgpu_qemu_display_update(d, 0, 0, 0, 1280, 800, pixels, 1280 * 4))
            sent++;
        else
            refused++;
    }
    int64_t took_ms = (g_get_monotonic_time() - start) / 1000;
    print_message("# 20 updates of 4 MB to a QEMU that does not read: %u queued, %u refused, "
                  "%" G_GINT64_FORMAT " ms\n",
                  sent, refused, took_ms);
    assert_true(sent >= 1 && refused >= 1);
    assert_true(took_ms < 2000);
    /* QEMU reads again: the queue drains, and updates are taken. */
    char buf[65536];
    bool taken = false;
    for (int i = 0; i < 2000 && !taken; i++) {
        while (recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
            ;
        g_main_context_iteration(context, FALSE);
        taken = vgpu_qemu_display_update(d, 0, 0, 0, 16, 16, pixels, 1280 * 4);
    }
    assert_true(taken);
    vgpu_qemu_display_destroy(d);
    g_main_context_unref(context);
    close(sv[1]);
    g_free(pixels);
}

/* QEMU reads a display message whole once it has begun, with its lock
 * held, retrying until the rest arrives: a picture of megabytes must
 * follow as fast as QEMU reads, whatever the GPU thread is busy with. Here
 * the GPU thread's loop never runs while "QEMU" reads two 1080p updates. */
static void test_qemu_console_update_sent_whole(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    GMainContext *context = g_main_context_new();
    struct vgpu_qemu_display *d = vgpu_qemu_display_create(sv[0], context);
    assert_non_null(d);
    const uint32_t w = 1920, h = 1080;
    uint8_t *pixels = g_malloc((size_t)w * h * 4);
    /* Header, scanout, x, y, width, height, the pixels. */
    const size_t update = 12 + 20 + (size_t)w * h * 4;
    const size_t first = 12 + (12 + 12); /* the features request, the scanout */
    uint8_t *got = g_malloc(first + update);
    for (int k = 0; k < 2; k++) {
        memset(pixels, 0x40 + k, (size_t)w * h * 4);
        size_t want = update;
        if (!k) { /* the features request and the scanout go first */
            want += first;
            assert_true(vgpu_qemu_display_scanout(d, 0, w, h));
        }
        bool queued = false;
        for (int i = 0; i < 500 && !queued; i++) {
            queued = vgpu_qemu_display_update(d, 0, 0, 0, w, h, pixels, w * 4);
            if (!queued)
                g_usleep(2000); /* the writer is still on the one before */
        }
        assert_true(queued);
        size_t done = 0;
        int64_t start = g_get_monotonic_time();
        while (done < want) {
            struct pollfd p = {sv[1], POLLIN, 0};
            if (poll(&p, 1, 5000) != 1)
                fail_msg("update %d: %zu of %zu bytes, then nothing for 5 s", k, done, want);
            ssize_t n = recv(sv[1], got + done, want - done, MSG_DONTWAIT);
            assert_true(n > 0);
            done += (size_t)n;
        }
        print_message("# a %ux%u update read whole in %" G_GINT64_FORMAT " ms\n", w, h,
                      (g_get_monotonic_time() - start) / 1000);
        assert_int_equal(got[want - 1], 0x40 + k); /* the picture's last byte */
    }
    assert_int_equal(recv(sv[1], got, 1, MSG_DONTWAIT), -1); /* and nothing more */
    vgpu_qemu_display_destroy(d);
    g_main_context_unref(context);
    close(sv[1]);
    g_free(got);
    g_free(pixels);
}

/* The header of the next message "QEMU" reads on its display socket (the
 * device's writer thread sends it: 5 s at most). */
static void expect_display_msg(int fd, uint32_t request, const void *payload, uint32_t size)
{
    struct {
        uint32_t request, flags, size;
    } __attribute__((packed)) h;
    struct pollfd p = {fd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(recv(fd, &h, sizeof(h), MSG_DONTWAIT), sizeof(h));
    assert_int_equal(h.request, request);
    assert_int_equal(h.size, size);
    uint8_t got[64];
    assert_true(size <= sizeof(got));
    if (size)
        assert_int_equal(recv(fd, got, size, MSG_DONTWAIT), size);
    if (payload)
        assert_memory_equal(got, payload, size);
}

/* A device reset gives the backend a new display socket, and QEMU then
 * holds no surface for any scanout; QEMU's vhost-user-gpu draws a picture
 * update into that surface unchecked, so an update before a scanout
 * message crashed QEMU (it did in a reboot test). On the new socket the
 * scanout still shown is announced before anything else. */
static void test_new_display_socket_announces_scanouts(void **state)
{
    struct vgpu_config c = {.num_scanouts = 1,
                            .width = 1280,
                            .height = 800,
                            .max_host_bytes = 256u << 20,
                            .virgl = true,
                            .qemu_console = true};
    struct fixture *f = gpu_fixture_with(&c);
    int first[2], second[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, first), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, second), 0);
    vu_test_send(&f->g, VU_GPU_SET_SOCKET, 0, NULL, 0, &first[1], 1);
    close(first[1]);
    expect_display_msg(first[0], 1 /* GET_PROTOCOL_FEATURES */, NULL, 0);
    assert_int_equal(vu_test_create_2d(f->gpu, 1, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
    struct virtio_gpu_set_scanout so = {.hdr.type = VIRTIO_GPU_CMD_SET_SCANOUT,
                                        .r = {0, 0, 64, 64},
                                        .scanout_id = 0,
                                        .resource_id = 1};
    assert_int_equal(vu_test_gpu_cmd(f->gpu, &so, sizeof(so)), VIRTIO_GPU_RESP_OK_NODATA);
    const uint32_t shown[3] = {0, 64, 64};
    expect_display_msg(first[0], 7 /* SCANOUT */, shown, sizeof(shown));
    /* The reset: QEMU closes the old socket and hands over a new one. */
    close(first[0]);
    vu_test_send(&f->g, VU_GPU_SET_SOCKET, 0, NULL, 0, &second[1], 1);
    close(second[1]);
    expect_display_msg(second[0], 1 /* GET_PROTOCOL_FEATURES */, NULL, 0);
    expect_display_msg(second[0], 7 /* SCANOUT */, shown, sizeof(shown));
    close(second[0]);
    gpu_fixture_free(f);
}

int main(void)
{
    /* It takes the cores: not beside a guest or a stream (make check -j2). */
    sgl_test_heavy_lock();
    g_log_set_writer_func(count_warnings, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fence_ids_past_2_32),
        cmocka_unit_test(test_head_in_flight_twice),
        cmocka_unit_test(test_backing_after_region_removed),
        cmocka_unit_test(test_rings_after_region_removed),
        cmocka_unit_test(test_pending_answer_after_new_table),
        cmocka_unit_test(test_contexts_charged),
        cmocka_unit_test(test_scanout_buffers_charged),
        cmocka_unit_test(test_contexts_dropped_on_reboot),
        cmocka_unit_test(test_resources_outside_guest_contexts),
        cmocka_unit_test(test_rejections_rate_limited),
        cmocka_unit_test(test_transfer_to_layers),
        cmocka_unit_test(test_qemu_console_never_waits),
        cmocka_unit_test(test_qemu_console_update_sent_whole),
        cmocka_unit_test(test_new_display_socket_announces_scanouts),
    };
    return cmocka_run_group_tests_name("hostile guest", tests, NULL, NULL);
}
