/* Asks QEMU to change the size of the VM's display, as a QEMU UI would.
 *
 * With vhost-user-gpu, QEMU owns the guest's display events: a backend's
 * config-change message is "unhandled" (hw/display/vhost-user-gpu.c), and
 * only a QEMU UI setting the console's UI info makes QEMU tell the guest
 * to re-read the display info. So the daemon attaches to QEMU's D-Bus
 * display as a peer (QEMU runs with -display dbus,p2p=yes; the socket goes
 * to it over QMP: getfd + add_client) and calls Console.SetUIInfo. The
 * guest then asks the backend for display info, which answers with the
 * same size (vgpu_request_mode).
 *
 * Connects on first use; a size asked for meanwhile is applied once
 * connected (the latest wins). Main context only. */
#ifndef VGPU_QEMU_UI_H
#define VGPU_QEMU_UI_H

#include <stdint.h>

#include "qmp.h"

struct vgpu_qemu_ui;

/* qmp stays the caller's and must outlive this. */
struct vgpu_qemu_ui *vgpu_qemu_ui_create(struct vgpu_qmp *qmp);
void vgpu_qemu_ui_destroy(struct vgpu_qemu_ui *ui);

void vgpu_qemu_ui_set_size(struct vgpu_qemu_ui *ui, uint32_t head, uint32_t width, uint32_t height);

#endif
