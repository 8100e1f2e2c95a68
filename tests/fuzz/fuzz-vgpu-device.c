/* libFuzzer: the virtio-gpu device with a real virglrenderer (surfaceless
 * EGL, llvmpipe): a sequence of requests, each a little-endian u32 (length,
 * bit 31 for the cursor queue) and its bytes -- the format spicegl-gpu
 * --record-commands writes, so guest sessions are the seeds. 2D and 3D
 * resources, transfers, contexts and command-stream submission all reach
 * virglrenderer after our checks. Each input starts from a reset device.
 *
 * The device has guest RAM: a sparse memfd of GUEST_RAM bytes at guest
 * address 0, mapped through a vhost-user connection as QEMU maps it (the
 * recorded sessions' backing addresses are the test guest's, whose RAM
 * starts at 0), so attach-backing, transfers both ways, read-back for
 * scanouts and cursors all run on real pages. The pages an input touched
 * are given back after it. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/le.h"
#include "qemu-integration/virtio-gpu/record.h"
#include "qemu-integration/virtio-gpu/vgpu.h"
#include "tests/fuzz/fuzz-gpu.h"
#include "qemu-integration/vhost-user/vhost-user.h"

#define GUEST_RAM (2ull << 30) /* the test guest's -m 2048 */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* virglrenderer keeps its state in globals: one device for the process. */
static struct vgpu *device;
static struct vu_dev *connection;
static int ram_fd = -1;

/* The guest's RAM, given to the device as SET_MEM_TABLE gives it. */
static void map_guest_ram(void)
{
    int sv[2];
    ram_fd = memfd_create("guest-ram", MFD_CLOEXEC);
    if (ram_fd < 0 || ftruncate(ram_fd, (off_t)GUEST_RAM) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    connection = vu_dev_create(sv[0], g_main_context_default(), vgpu_vu_iface(device), device);
    struct {
        uint32_t n, pad;
        uint64_t gpa, size, qva, offset;
    } table = {1, 0, 0, GUEST_RAM, 0x7f0000000000ull, 0};
    struct vu_msg_header h = {VU_SET_MEM_TABLE, VU_FLAG_VERSION, sizeof(table)};
    int fds[1] = {dup(ram_fd)};
    const char *why = NULL;
    if (!vu_dev_handle(connection, &h, (const uint8_t *)&table, fds, 1, &why))
        abort();
    vgpu_set_dev(device, connection);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    device = fuzz_gpu_create("fuzz-vgpu-device", 256u << 20, false);
    map_guest_ram();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t resp[65536 + 64];
    size_t off = 0;
    while (size - off >= 4) {
        uint32_t head = sgl_le32_get(data + off);
        size_t len = head & ~VGPU_RECORD_CURSOR;
        off += 4;
        if (len > size - off)
            len = size - off;
        vgpu_process(device, head & VGPU_RECORD_CURSOR, data + off, len, resp, sizeof(resp));
        off += len;
    }
    vgpu_reset(device);
    /* Sparse again: what the input wrote into guest RAM goes. */
    fallocate(ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)GUEST_RAM);
    return 0;
}
