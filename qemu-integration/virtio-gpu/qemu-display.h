/* The vhost-user-gpu display socket (QEMU docs/interop/vhost-user-gpu.rst):
 * feeds QEMU's own console with what the guest shows, so QEMU's display
 * and screendump keep working. Backend to QEMU; QEMU answers the GET_*
 * requests only.
 *
 * Owns the socket and a thread of its own that writes to it. The calls
 * below run on the vhost-user thread and never wait for QEMU: they queue
 * the message for that writer, and picture updates and cursor messages are
 * refused (false) while QEMU is behind, so the caller keeps their damage
 * for later. QEMU may be waiting for the GPU meanwhile (a vCPU reading its
 * config space holds QEMU's lock): a GPU thread waiting for QEMU would
 * deadlock both. The writer does wait: QEMU reads a message whole once it
 * began, with its lock held, so the rest must follow as fast as it reads. */
#ifndef VGPU_QEMU_DISPLAY_H
#define VGPU_QEMU_DISPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

struct vgpu_qemu_display;

/* Takes fd; asks QEMU's protocol features and answers on the context's
 * loop (QEMU is waiting for our reply to GPU_SET_SOCKET when this runs, so
 * nothing here may wait for it). NULL (fd closed) if the socket is dead. */
struct vgpu_qemu_display *vgpu_qemu_display_create(int fd, GMainContext *context);
void vgpu_qemu_display_destroy(struct vgpu_qemu_display *d);

/* width 0 disables the scanout. */
bool vgpu_qemu_display_scanout(struct vgpu_qemu_display *d, uint32_t scanout, uint32_t width,
                               uint32_t height);
/* BGRx pixels of the rectangle, stride bytes a row. */
bool vgpu_qemu_display_update(struct vgpu_qemu_display *d, uint32_t scanout, uint32_t x, uint32_t y,
                              uint32_t width, uint32_t height, const uint8_t *pixels,
                              uint32_t stride);
/* 64x64 ARGB at most. */
bool vgpu_qemu_display_cursor(struct vgpu_qemu_display *d, uint32_t scanout, uint32_t x, uint32_t y,
                              uint32_t hot_x, uint32_t hot_y, uint32_t width, uint32_t height,
                              const uint32_t *argb);
bool vgpu_qemu_display_cursor_pos(struct vgpu_qemu_display *d, uint32_t scanout, uint32_t x,
                                  uint32_t y);

#endif
