/* Records the requests a guest sends the GPU, as seeds for the fuzz
 * targets (tests/fuzz/record-seeds.sh, spicegl-gpu --record-commands DIR):
 *   DIR/session.bin       the requests in order, each a little-endian u32
 *                         (length, bit 31 set for the cursor queue) and its
 *                         bytes; fuzz-vgpu-device reads this format. It
 *                         stops at VGPU_RECORD_MAX_BYTES.
 *   DIR/cmd-TTTT-N.bin    the first VGPU_RECORD_PER_TYPE requests of each
 *                         command type TTTT (hex), for fuzz-vgpu-parse.
 *   DIR/vhost-user.bin    QEMU's vhost-user messages and the guest's
 *                         requests in order, as fuzz-vhost-user's
 *                         operations: memory-map messages become its own
 *                         map operations, ring addresses are left to its
 *                         preamble (both name this process's memory).
 * Files are created as requests come, so the daemon runs unsandboxed. */
#ifndef VGPU_RECORD_H
#define VGPU_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define VGPU_RECORD_MAX_BYTES (4u << 20)
#define VGPU_RECORD_PER_TYPE  3
#define VGPU_RECORD_CURSOR    (1u << 31)

struct vgpu_record;

/* Creates DIR if needed and opens session.bin there. */
struct vgpu_record *vgpu_record_create(const char *dir, GError **error);
void vgpu_record_destroy(struct vgpu_record *r);

void vgpu_record_request(struct vgpu_record *r, bool cursor_queue, const uint8_t *req, size_t len);

/* A vhost-user message from QEMU (request, flags, payload). */
void vgpu_record_message(struct vgpu_record *r, uint32_t request, uint32_t flags,
                         const uint8_t *payload, uint32_t size);

#endif
