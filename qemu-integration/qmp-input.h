/* SPICE input to the guest through QEMU's QMP (input-send-event): keys as
 * PC scancode numbers, relative motion, wheel and buttons, absolute
 * positions scaled to QEMU's 0..32767. QEMU routes them to the VM's input
 * devices (virtio-keyboard/-mouse/-tablet, PS/2).
 *
 * Chosen over a vhost-user-input device of our own: QEMU already has the
 * devices and the routing, and libvirt can expose a QMP socket to us. What
 * cannot be sent is dropped (qmp.h). Main context only. */
#ifndef VGPU_QMP_INPUT_H
#define VGPU_QMP_INPUT_H

#include <stdbool.h>
#include <stdint.h>

struct vgpu_qmp_input;

#include "qmp.h"

/* qmp stays the caller's and must outlive this. */
struct vgpu_qmp_input *vgpu_qmp_input_create(struct vgpu_qmp *qmp);
void vgpu_qmp_input_destroy(struct vgpu_qmp_input *q);

/* scancode: set-1, 0xe0xx for extended keys (input.h). */
void vgpu_qmp_input_key(struct vgpu_qmp_input *q, uint32_t scancode, bool down);
void vgpu_qmp_input_motion(struct vgpu_qmp_input *q, int dx, int dy);
void vgpu_qmp_input_wheel(struct vgpu_qmp_input *q, int dz);
void vgpu_qmp_input_position(struct vgpu_qmp_input *q, int x, int y, int width, int height);
/* SPICE_MOUSE_BUTTON_MASK_* bits: sends what changed. */
void vgpu_qmp_input_buttons(struct vgpu_qmp_input *q, uint32_t buttons);

#endif
