/* The one place virtio-gpu commands from the guest are checked.
 *
 * vgpu_parse turns the bytes of a control or cursor queue request into a
 * struct vgpu_cmd, or rejects them with the virtio-gpu error the guest gets
 * back and a reason for the log. It checks everything that does not need
 * device state: lengths, known types, ids, sizes and their arithmetic,
 * scanout and capset indexes, rectangles that overflow. What depends on
 * state (does the resource exist, is a box inside it, is there room under
 * the memory cap) is checked by the vgpu_check_* helpers below, which the
 * device calls before acting. Nothing else reads guest command bytes.
 *
 * Pure functions; no allocation. Guest data is little-endian, as is every
 * host this builds for (configure checks). */
#ifndef VGPU_PARSE_H
#define VGPU_PARSE_H

#include <linux/virtio_gpu.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VGPU_MAX_DIM          16384
#define VGPU_MAX_MEM_ENTRIES  16384 /* backing pages of one resource */
#define VGPU_MAX_SUBMIT_BYTES (8u << 20)

struct vgpu_limits {
    uint32_t num_scanouts;
    uint32_t num_capsets;
    bool virgl; /* 3D commands allowed */
};

struct vgpu_mem_entry {
    uint64_t addr;
    uint32_t length;
    uint32_t padding;
};

struct vgpu_cmd {
    struct virtio_gpu_ctrl_hdr hdr;
    union {
        struct virtio_gpu_resource_create_2d create_2d;
        struct virtio_gpu_resource_unref unref;
        struct virtio_gpu_set_scanout set_scanout;
        struct virtio_gpu_resource_flush flush;
        struct virtio_gpu_transfer_to_host_2d transfer_2d;
        struct virtio_gpu_resource_attach_backing attach;
        struct virtio_gpu_resource_detach_backing detach;
        struct virtio_gpu_get_capset_info capset_info;
        struct virtio_gpu_get_capset capset;
        struct virtio_gpu_cmd_get_edid edid;
        struct virtio_gpu_ctx_create ctx_create;
        struct virtio_gpu_ctx_resource ctx_resource;
        struct virtio_gpu_resource_create_3d create_3d;
        struct virtio_gpu_transfer_host_3d transfer_3d;
        struct virtio_gpu_cmd_submit submit;
        struct virtio_gpu_update_cursor cursor;
    } u;
    /* attach_backing: the entries; submit_3d: the command stream. Point
     * into the parsed buffer. */
    const struct vgpu_mem_entry *entries;
    const uint8_t *data;
    uint64_t backing_bytes; /* attach_backing: sum of entry lengths */
};

/* 0 (and *cmd filled) or a VIRTIO_GPU_RESP_ERR_* code with *why. */
uint32_t vgpu_parse(const uint8_t *buf, size_t len, const struct vgpu_limits *limits,
                    struct vgpu_cmd *cmd, const char **why);

/* Bytes per pixel of a 2D format, 0 for one we do not know. */
uint32_t vgpu_format_bpp(uint32_t format);

/* A rectangle inside a width x height resource (no overflow). */
bool vgpu_check_rect(const struct virtio_gpu_rect *r, uint32_t width, uint32_t height);

/* A 2D transfer: the rectangle inside the resource, and the backing holds
 * every byte it reads (offset + rows of stride). */
bool vgpu_check_transfer_2d(const struct virtio_gpu_transfer_to_host_2d *t, uint32_t width,
                            uint32_t height, uint32_t bpp, uint64_t backing_bytes);

/* A 3D resource's shape: gallium's target (PIPE_TEXTURE_*), its base
 * level's size, and its array layers (cube faces are 6 layers). */
struct vgpu_texture {
    uint32_t target, width, height, depth, array_size;
};

/* A 3D box inside the resource at this mip level. Layers count as depth
 * (box.z), except in 1D arrays, where they are its rows (box.y). */
bool vgpu_check_box(const struct virtio_gpu_box *b, uint32_t level, const struct vgpu_texture *t);

/* Host bytes a 3D resource may take (all levels and layers, 16 bytes a
 * texel at most); 0 when the arithmetic would overflow. */
uint64_t vgpu_resource_3d_bytes(const struct virtio_gpu_resource_create_3d *c);

/* A submit_3d command stream, in the host's aligned copy of it (n words),
 * made safe for the renderer: commands it must not see become NOPs of the
 * same length, so the stream keeps its shape and the guest its answer.
 * Walks the commands exactly as virglrenderer does (header: length << 16 |
 * command), so every header it will read has been read here first.
 * Returns how many commands were neutralised. */
size_t vgpu_filter_stream(uint32_t *words, size_t n);

#endif
