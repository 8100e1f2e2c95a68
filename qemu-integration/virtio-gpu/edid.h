/* A 128-byte EDID 1.4 block describing one mode as the display's preferred
 * (and native) timing, for VIRTIO_GPU_CMD_GET_EDID: the guest builds its
 * mode list from it. */
#ifndef VGPU_EDID_H
#define VGPU_EDID_H

#include <stdbool.h>
#include <stdint.h>

#define VGPU_EDID_SIZE 128

/* width and height up to 4095 (what a detailed timing can say); false
 * otherwise. Physical size for ~96 dpi; 60 Hz (less for modes whose pixel
 * clock would not fit the field), short blanking. */
bool vgpu_edid_generate(uint8_t out[VGPU_EDID_SIZE], uint32_t width, uint32_t height);

#endif
