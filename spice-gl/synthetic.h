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

typedef void (*sgl_synthetic_frame_fn)(const struct sgl_encoder_frame *frame, void *user);

struct sgl_synthetic;

/* Parses "WxH@FPS" (e.g. 1280x720@30): sizes 16..8192, 1..240 fps. */
bool sgl_synthetic_parse(const char *spec, uint32_t *width, uint32_t *height, uint32_t *fps,
                         GError **error);

/* Starts producing on the thread-default main context. */
struct sgl_synthetic *sgl_synthetic_create(uint32_t width, uint32_t height, uint32_t fps,
                                           sgl_synthetic_frame_fn fn, void *user);
void sgl_synthetic_destroy(struct sgl_synthetic *synthetic);

uint64_t sgl_synthetic_frames(const struct sgl_synthetic *synthetic);

#endif
