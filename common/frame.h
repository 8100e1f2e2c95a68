/* A frame: one picture of a display, as pixels in memory or as a dmabuf,
 * with what changed since the previous one. Every frame source makes them
 * (frame-source.h), the encoders and the local GL path take them.
 *
 * A frame owns nothing: pixels and the dmabuf's fd belong to whoever made
 * the frame, and stay valid only during the call that passes it on. */
#ifndef SGL_FRAME_H
#define SGL_FRAME_H

#include <stdbool.h>
#include <stdint.h>

enum sgl_format {
    SGL_FORMAT_BGRX, /* bytes in memory: B G R X (DRM XRGB8888) */
    SGL_FORMAT_BGRA,
    SGL_FORMAT_RGBX,
    SGL_FORMAT_RGBA,
};

struct sgl_rect {
    uint32_t x, y, width, height;
};

struct sgl_dmabuf {
    int fd;            /* -1: the frame is in pixels */
    uint32_t fourcc;   /* DRM_FORMAT_XRGB8888, ARGB8888, XBGR8888 or ABGR8888 */
    uint64_t modifier; /* DRM_FORMAT_MOD_LINEAR for the CPU backends */
    uint32_t offset;
    uint32_t stride;
};

struct sgl_frame {
    uint32_t width, height;
    enum sgl_format format; /* for pixels; a dmabuf's fourcc decides for it */
    const uint8_t *pixels;  /* NULL when dmabuf.fd >= 0 */
    uint32_t stride;        /* bytes per row of pixels, >= width * 4 */
    struct sgl_dmabuf dmabuf;
    /* What changed since the previous frame. damage_all: everything; else
     * the n_damage rectangles (n_damage == 0: nothing, the frame costs no
     * encode and no bytes). The first frame and a new size count as full. */
    bool damage_all;
    const struct sgl_rect *damage;
    uint32_t n_damage;
    int64_t pts_us; /* when the producer had it (g_get_monotonic_time; the remote path
                     * measures its latency from here) */
};

#endif
