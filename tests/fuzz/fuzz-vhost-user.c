/* libFuzzer: the whole path from QEMU and the guest to the GPU: vhost-user
 * messages over a real socketpair with real fds (memfds for guest RAM,
 * eventfds for kicks), memory-map changes interleaved with live rings, and
 * virtio-gpu requests in those rings, on the device with a real
 * virglrenderer (surfaceless EGL, llvmpipe).
 *
 * Each input starts a new connection with a fixed preamble (features, a
 * memory table of two regions, both queues started), then runs operations,
 * each chosen by one byte:
 *   0  a vhost-user message: u32 request, u32 flags, u16 size, payload;
 *      memory-table and region messages carry the memfds, vring kick and
 *      call messages an eventfd, the backend channel and the display
 *      socket one end of a socket pair
 *   1  bytes into guest RAM: u8 region, u32 offset, u16 length, bytes
 *   2  a GPU request on a queue: u8 queue, u16 length, bytes; laid out as a
 *      readable and a writable descriptor, made available, kicked
 *   3  the same head made available again, kicked
 *   4  REM_MEM_REG of a region (u8)
 *   5  ADD_MEM_REG of a region (u8)
 *   6  SET_MEM_TABLE: both regions, or region 0 only (u8)
 *   7  turns of the loop (u8): kicks, fences
 * Replies to "QEMU" are read and dropped. */
#include "config.h"

#include <linux/virtio_ring.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/le.h"
#include "common/sock.h"
#include "qemu-integration/virtio-gpu/vgpu.h"
#include "tests/fuzz/fuzz-gpu.h"
#include "qemu-integration/vhost-user/vhost-user.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REGION_SIZE (1u << 20)
#define QSIZE       16
/* Region 0 holds the rings and the requests the harness lays out. */
#define RING_OFF(q) ((q)*0x2000u)
#define DESC(q)     RING_OFF(q)
#define AVAIL(q)    (RING_OFF(q) + 0x100)
#define USED(q)     (RING_OFF(q) + 0x1000)
#define DATA_OFF    0x10000u
#define DATA_SLOT   0x2000u /* per head: request, then 0x100 of answer */

static const uint64_t region_gpa[2] = {0, 0x10000000};
static const uint64_t region_qva[2] = {0x7f0000000000ull, 0x7f1000000000ull};

struct harness {
    int peer;    /* QEMU's end */
    int display; /* QEMU's end of the display socket, once given */
    struct vu_dev *dev;
    int kick[2];
    uint16_t next_head[2], last_head[2];
};

/* virglrenderer keeps its state in globals: one device for the process. */
static struct vgpu *device;
static int ram_fd[2];
static uint8_t *ram[2]; /* the harness's own view of guest RAM */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    device = fuzz_gpu_create("fuzz-vhost-user", 64u << 20, true);
    for (int i = 0; i < 2; i++) {
        ram_fd[i] = memfd_create("guest-ram", MFD_CLOEXEC);
        if (ram_fd[i] < 0 || ftruncate(ram_fd[i], REGION_SIZE) < 0)
            abort();
        ram[i] = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd[i], 0);
        if (ram[i] == MAP_FAILED)
            abort();
    }
    return 0;
}

static void drain(struct harness *h)
{
    for (int i = 0; i < 4; i++)
        g_main_context_iteration(NULL, FALSE);
    char buf[4096];
    while (recv(h->peer, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
    while (h->display >= 0 && recv(h->display, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}

static void send_msg(struct harness *h, uint32_t request, uint32_t flags, const void *payload,
                     uint32_t size, const int *fds, size_t n_fds)
{
    struct vu_msg_header hdr = {request, flags, size};
    struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)payload, size}};
    /* The peer is non-blocking: a device that stopped reading fails the
     * send rather than hanging the run. */
    if (!sgl_sock_send(h->peer, iov, size ? 2 : 1, fds, n_fds))
        return;
    drain(h);
}

struct region_msg {
    uint64_t gpa, size, qva, offset;
};

static void mem_table(struct harness *h, uint32_t n)
{
    struct {
        uint32_t n, pad;
        struct region_msg r[2];
    } t = {n,
           0,
           {{region_gpa[0], REGION_SIZE, region_qva[0], 0},
            {region_gpa[1], REGION_SIZE, region_qva[1], 0}}};
    send_msg(h, VU_SET_MEM_TABLE, VU_FLAG_VERSION, &t, 8 + n * sizeof(struct region_msg), ram_fd,
             n);
}

static void region(struct harness *h, uint32_t request, uint32_t i)
{
    struct {
        uint64_t pad;
        struct region_msg r;
    } m = {0, {region_gpa[i], REGION_SIZE, region_qva[i], 0}};
    send_msg(h, request, VU_FLAG_VERSION, &m, sizeof(m), &ram_fd[i],
             request == VU_ADD_MEM_REG ? 1 : 0);
}

static void set_u64(struct harness *h, uint32_t request, uint64_t v)
{
    send_msg(h, request, VU_FLAG_VERSION, &v, sizeof(v), NULL, 0);
}

static void start_queue(struct harness *h, uint32_t q)
{
    uint32_t num[2] = {q, QSIZE};
    send_msg(h, VU_SET_VRING_NUM, VU_FLAG_VERSION, num, sizeof(num), NULL, 0);
    struct {
        uint32_t index, flags;
        uint64_t desc, used, avail, log;
    } a = {q, 0, region_qva[0] + DESC(q), region_qva[0] + USED(q), region_qva[0] + AVAIL(q), 0};
    send_msg(h, VU_SET_VRING_ADDR, VU_FLAG_VERSION, &a, sizeof(a), NULL, 0);
    int call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    h->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int kick = dup(h->kick[q]);
    uint64_t idx = q;
    send_msg(h, VU_SET_VRING_CALL, VU_FLAG_VERSION, &idx, 8, &call, 1);
    send_msg(h, VU_SET_VRING_KICK, VU_FLAG_VERSION, &idx, 8, &kick, 1);
    close(call);
    close(kick);
    uint32_t enable[2] = {q, 1};
    send_msg(h, VU_SET_VRING_ENABLE, VU_FLAG_VERSION, enable, sizeof(enable), NULL, 0);
}

static void kick(struct harness *h, uint32_t q)
{
    uint64_t one = 1;
    if (write(h->kick[q], &one, 8) < 0)
        return;
    drain(h);
}

static void make_available(struct harness *h, uint32_t q, uint16_t head)
{
    volatile struct vring_avail *avail = (volatile struct vring_avail *)(ram[0] + AVAIL(q));
    avail->ring[avail->idx % QSIZE] = head;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    avail->idx++;
    kick(h, q);
}

/* A request on head next_head: its bytes, then room for the answer. */
static void post(struct harness *h, uint32_t q, const uint8_t *req, size_t len)
{
    uint16_t head = h->next_head[q];
    h->next_head[q] = (uint16_t)((head + 2) % QSIZE);
    len = MIN(len, (size_t)DATA_SLOT - 0x100);
    uint32_t slot = DATA_OFF + (q * QSIZE + head) * DATA_SLOT;
    memcpy(ram[0] + slot, req, len);
    volatile struct vring_desc *d = (volatile struct vring_desc *)(ram[0] + DESC(q));
    d[head] = (struct vring_desc){region_gpa[0] + slot, (uint32_t)len, VRING_DESC_F_NEXT,
                                  (uint16_t)(head + 1)};
    d[head + 1] =
        (struct vring_desc){region_gpa[0] + slot + DATA_SLOT - 0x100, 0x100, VRING_DESC_F_WRITE, 0};
    h->last_head[q] = head;
    make_available(h, q, head);
}

/* Takes n bytes off the input, or fewer when it ends. */
static const uint8_t *take(const uint8_t **data, size_t *size, size_t n, size_t *got)
{
    const uint8_t *p = *data;
    *got = MIN(n, *size);
    *data += *got;
    *size -= *got;
    return p;
}

static uint32_t take_u(const uint8_t **data, size_t *size, size_t n)
{
    uint8_t buf[4] = {0};
    size_t got;
    memcpy(buf, take(data, size, n, &got), got);
    return sgl_le32_get(buf);
}

static void message(struct harness *h, const uint8_t **data, size_t *size)
{
    uint32_t request = take_u(data, size, 4), flags = take_u(data, size, 4);
    size_t len;
    const uint8_t *payload = take(data, size, take_u(data, size, 2) % 512, &len);
    int fds[2] = {-1, -1};
    size_t n_fds = 0;
    int pair[2] = {-1, -1};
    if (request == VU_SET_MEM_TABLE) {
        fds[n_fds++] = ram_fd[0];
        fds[n_fds++] = ram_fd[1];
    } else if (request == VU_ADD_MEM_REG) {
        fds[n_fds++] = ram_fd[1];
    } else if ((request == VU_SET_BACKEND_REQ_FD || request == VU_GPU_SET_SOCKET) &&
               socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
        /* QEMU's end of the backend channel or the display socket. The
         * harness reads the display socket only between operations: room
         * for a whole picture (the cap bounds it) keeps a send from
         * waiting for it. */
        int room = 128 << 20;
        setsockopt(pair[1], SOL_SOCKET, SO_SNDBUFFORCE, &room, sizeof(room));
        fds[n_fds++] = pair[1];
    } else if (request == VU_SET_VRING_KICK && len) {
        /* The harness's own kick eventfd, so that its kicks still land. */
        fds[n_fds++] = dup(h->kick[payload[0] & 1]);
    } else if (request == VU_SET_VRING_KICK || request == VU_SET_VRING_CALL ||
               request == VU_SET_VRING_ERR) {
        fds[n_fds++] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    send_msg(h, request, flags, payload, (uint32_t)len, fds, n_fds);
    if (request == VU_SET_VRING_KICK || request == VU_SET_VRING_CALL ||
        request == VU_SET_VRING_ERR || pair[1] >= 0)
        close(fds[0]);
    if (pair[0] >= 0 && request == VU_GPU_SET_SOCKET && h->display < 0)
        h->display = pair[0]; /* QEMU's console: read and dropped */
    else if (pair[0] >= 0)
        close(pair[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    fcntl(sv[1], F_SETFL, O_NONBLOCK); /* QEMU's end: see send_msg */
    memset(ram[0], 0, 0x10000);        /* fresh rings */
    struct harness h = {.peer = sv[1], .display = -1};
    h.dev = vu_dev_create(sv[0], g_main_context_default(), vgpu_vu_iface(device), device);
    vgpu_set_dev(device, h.dev);
    set_u64(&h, VU_SET_FEATURES, (1ull << VU_F_PROTOCOL_FEATURES) | (1ull << VU_F_VERSION_1));
    set_u64(&h, VU_SET_PROTOCOL_FEATURES,
            (1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_CONFIGURE_MEM_SLOTS));
    mem_table(&h, 2);
    start_queue(&h, 0);
    start_queue(&h, 1);
    while (size) {
        size_t got;
        uint8_t op = *take(&data, &size, 1, &got) % 8;
        uint32_t arg;
        switch (op) {
        case 0:
            message(&h, &data, &size);
            break;
        case 1: {
            uint32_t r = take_u(&data, &size, 1) & 1, off = take_u(&data, &size, 4) % REGION_SIZE;
            size_t n = MIN((size_t)take_u(&data, &size, 2), (size_t)REGION_SIZE - off);
            const uint8_t *bytes = take(&data, &size, n, &n);
            memcpy(ram[r] + off, bytes, n);
            break;
        }
        case 2: {
            uint32_t q = take_u(&data, &size, 1) & 1;
            size_t n = take_u(&data, &size, 2);
            const uint8_t *req = take(&data, &size, n, &n);
            post(&h, q, req, n);
            break;
        }
        case 3:
            arg = take_u(&data, &size, 1) & 1;
            make_available(&h, arg, h.last_head[arg]);
            break;
        case 4:
            region(&h, VU_REM_MEM_REG, take_u(&data, &size, 1) & 1);
            break;
        case 5:
            region(&h, VU_ADD_MEM_REG, take_u(&data, &size, 1) & 1);
            break;
        case 6:
            mem_table(&h, 1 + (take_u(&data, &size, 1) & 1));
            break;
        default:
            arg = take_u(&data, &size, 1) % 32;
            for (uint32_t i = 0; i < arg; i++)
                g_main_context_iteration(NULL, FALSE);
            break;
        }
    }
    drain(&h);
    vgpu_set_dev(device, NULL);
    vu_dev_destroy(h.dev);
    close(h.kick[0]);
    close(h.kick[1]);
    close(sv[1]);
    if (h.display >= 0)
        close(h.display);
    /* The next input's control queue starts from index 0, as a rebooted
     * guest's does: the device drops this input's resources then. */
    return 0;
}
