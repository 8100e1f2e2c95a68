/* libFuzzer: the virtio-gpu command parser and the state checks the device
 * makes with what it parsed. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "qemu-integration/virtio-gpu/vgpu-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct vgpu_limits lim = {.num_scanouts = 2, .num_capsets = 2, .virgl = true};
    struct vgpu_cmd cmd;
    const char *why;
    if (vgpu_parse(data, size, &lim, &cmd, &why) != 0)
        return 0;
    /* What the device then checks against a resource of some size. */
    uint32_t w = 1 + (size % 4096), h = 1 + (size % 2048);
    switch (cmd.hdr.type) {
    case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
        vgpu_check_transfer_2d(&cmd.u.transfer_2d, w, h, 4, (uint64_t)w * h * 4);
        break;
    case VIRTIO_GPU_CMD_SET_SCANOUT:
        vgpu_check_rect(&cmd.u.set_scanout.r, w, h);
        break;
    case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:
    case VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D: {
        /* Any target, with layers and depth. */
        struct vgpu_texture t = {(uint32_t)(size % 9), w, h, 1 + (uint32_t)(size % 5),
                                 1 + (uint32_t)(size % 7)};
        vgpu_check_box(&cmd.u.transfer_3d.box, cmd.u.transfer_3d.level, &t);
        break;
    }
    default:
        break;
    }
    return 0;
}
