/* The built-in animated source (spicegl-gpu --synthetic WxH@FPS): the
 * frames of common/scene.h with the frame number and the host's wall clock
 * (µs) in the marker, paced on the main context, so the whole SPICE side
 * can be measured without a VM. */
#ifndef SGL_SYNTHETIC_H
#define SGL_SYNTHETIC_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "encoder/encoder.h"

struct sgl_synthetic_callbacks {
    void (*frame)(const struct sgl_encoder_frame *frame, void *user);
    /* A 32x32 ARGB arrow, set once, that circles the frame: for the cursor
     * channel, never drawn into the frames. NULL: no cursor. */
    void (*cursor_set)(uint16_t width, uint16_t height, uint16_t hot_x, uint16_t hot_y,
                       const uint32_t *argb, void *user);
    void (*cursor_move)(int32_t x, int32_t y, void *user);
    /* False while a consumer still reads the last frame's buffer: this
     * tick renders nothing (its frame number is skipped). NULL: always. */
    bool (*ready)(void *user);
};

struct sgl_synthetic;

/* Parses "WxH@FPS" (e.g. 1280x720@30): sizes 16..8192, 1..240 fps. */
bool sgl_synthetic_parse(const char *spec, uint32_t *width, uint32_t *height, uint32_t *fps,
                         GError **error);

/* Starts producing on the thread-default main context. memfd: frames live
 * in a memfd (frame.dmabuf.fd, XRGB8888, with pixels mapped too) standing in
 * for a GPU's dmabuf, to drive the local fd-passing path; NULL on failure. */
struct sgl_synthetic *sgl_synthetic_create(uint32_t width, uint32_t height, uint32_t fps,
                                           bool memfd, const struct sgl_synthetic_callbacks *cb,
                                           void *user, GError **error);
void sgl_synthetic_destroy(struct sgl_synthetic *synthetic);

uint64_t sgl_synthetic_frames(const struct sgl_synthetic *synthetic);

/* The next frame has this size (a client's resize request): clamped to
 * 16..8192 and rounded down to even, as a guest's mode would be. */
void sgl_synthetic_resize(struct sgl_synthetic *synthetic, uint32_t width, uint32_t height);
void sgl_synthetic_size(const struct sgl_synthetic *synthetic, uint32_t *width, uint32_t *height);

#endif
