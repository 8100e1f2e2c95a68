/* The built-in animated frame source (spicegl-gpu --synthetic WxH@FPS), a
 * frame source (common/frame-source.h): the frames of common/scene.h with
 * the frame number and the host's wall clock (µs) in the marker, paced on
 * the main context, so the whole SPICE side can be measured without a VM.
 * One output. A 32x32 ARGB arrow, set once at creation, circles the frame:
 * for the cursor channel, never drawn into the frames.
 *
 * Created, started and destroyed on the daemon's main context; the
 * listener is called there too. A client's size request resizes the next
 * frame. */
#ifndef SGL_SYNTHETIC_H
#define SGL_SYNTHETIC_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "common/frame-source.h"

struct sgl_synthetic_config {
    uint32_t width, height, fps;
    /* Frames live in a memfd (frame.dmabuf.fd, XRGB8888, with pixels
     * mapped too) standing in for a GPU's dmabuf, to drive the local GL
     * path; a tick on which the listener is not ready renders nothing
     * (its frame number is skipped). */
    bool memfd;
};

/* Parses "WxH@FPS" (e.g. 1280x720@30): sizes 16..8192, 1..240 fps. */
bool sgl_synthetic_parse(const char *spec, uint32_t *width, uint32_t *height, uint32_t *fps,
                         GError **error);

/* Frames begin at sgl_source_start; NULL on failure. */
struct sgl_source *sgl_synthetic_create(const struct sgl_synthetic_config *config,
                                        const struct sgl_source_listener *listener, void *user,
                                        GError **error);

#endif
