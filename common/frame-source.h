/* The frame-source interface: where a VM's pictures come from. The VM's
 * GPU (qemu-integration/virtio-gpu/gpu-thread.h) and the built-in
 * synthetic source (daemon/synthetic.h) implement it, and the daemon
 * consumes any of them the same way (in the style of wlroots'
 * backend/interface.h).
 *
 * A source embeds struct sgl_source, fills impl, and reports through the
 * listener its creator gave it. It owns everything it hands out: a frame,
 * a cursor image and a reason are valid during the call only.
 *
 * Threads: the source is created, started and destroyed on the daemon's
 * main context, where cursor_set, cursor_move, connected and gone are
 * called too. frame may come from the source's own thread (the GPU thread)
 * when the frame is in pixels; a frame with a dmabuf comes on the main
 * context, which is where the local GL path reads it. */
#ifndef SGL_FRAME_SOURCE_H
#define SGL_FRAME_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/* Set by the consumer; user is the first argument of each. */
struct sgl_source_listener {
    /* A picture of display output (0..outputs-1). */
    void (*frame)(void *user, uint32_t output, const struct sgl_frame *frame);
    /* The pointer's image: ARGB, width x height (at most 256 each), top row
     * first, and its hot spot. */
    void (*cursor_set)(void *user, uint32_t output, uint32_t width, uint32_t height, uint32_t hot_x,
                       uint32_t hot_y, const uint32_t *argb);
    void (*cursor_move)(void *user, uint32_t output, int32_t x, int32_t y);
    /* False while the consumer still reads the last dmabuf: a source
     * that reuses its buffers skips this picture. NULL: always ready. */
    bool (*ready)(void *user);
    /* The source is up (QEMU connected), and gone for good: why says how.
     * NULL: not told. */
    void (*connected)(void *user);
    void (*gone)(void *user, const char *why);
};

struct sgl_source;

/* What a source that is a GPU counts. */
struct sgl_source_gpu_stats {
    uint64_t commands, rejected, flushes, frames, fences;
    uint64_t read_pixels, shown_pixels; /* read back, of the pictures they were part of */
    uint64_t changed_pixels;            /* of those, handed on as changed */
    uint32_t resources, contexts;
    uint64_t host_bytes, max_host_bytes; /* host memory the guest is charged for, and its cap */
};

struct sgl_source_impl {
    /* Begins reading what the source reads (QEMU's connection): called
     * once the daemon is sandboxed. NULL: it began at creation. */
    void (*start)(struct sgl_source *source);
    /* A client asks for this size of display output: the source offers it
     * to the guest (or, synthetic, draws at it). From the main context. */
    void (*request_mode)(struct sgl_source *source, uint32_t output, uint32_t width,
                         uint32_t height);
    /* Pictures made so far, and the GPU's counters (NULL: not a GPU).
     * From any thread. */
    uint64_t (*frames)(struct sgl_source *source);
    void (*gpu_stats)(struct sgl_source *source, struct sgl_source_gpu_stats *stats);
    void (*destroy)(struct sgl_source *source);
};

struct sgl_source {
    const struct sgl_source_impl *impl;
    uint32_t outputs; /* display outputs, each its own SPICE display */
    bool dmabufs;     /* its frames come as dmabufs: the local GL path can show them */
};

static inline void sgl_source_start(struct sgl_source *source)
{
    if (source->impl->start)
        source->impl->start(source);
}

static inline void sgl_source_request_mode(struct sgl_source *source, uint32_t output,
                                           uint32_t width, uint32_t height)
{
    if (output < source->outputs)
        source->impl->request_mode(source, output, width, height);
}

static inline uint64_t sgl_source_frames(struct sgl_source *source)
{
    return source->impl->frames(source);
}

/* False when the source is not a GPU. */
static inline bool sgl_source_gpu_stats(struct sgl_source *source,
                                        struct sgl_source_gpu_stats *stats)
{
    if (!source->impl->gpu_stats)
        return false;
    source->impl->gpu_stats(source, stats);
    return true;
}

/* Accepts NULL. */
static inline void sgl_source_destroy(struct sgl_source *source)
{
    if (source)
        source->impl->destroy(source);
}

#endif
