/* The frame the guest drew, regenerated from its marker (common/scene.h),
 * for the measuring clients to compare what they were shown against. */
#ifndef SGL_CLIENT_REFERENCE_H
#define SGL_CLIENT_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/marker.h"

/* Caller-allocated, zeroed to start; the buffer is reused frame to frame. */
struct sgl_reference {
    uint8_t *pixels;
    size_t size;
};

void sgl_reference_finish(struct sgl_reference *ref);

/* PSNR of a BGRX picture against the scene for marker m, 99 when
 * identical. */
double sgl_reference_psnr(struct sgl_reference *ref, const struct sgl_marker_image *im,
                          const struct sgl_marker *m);

/* The same for a picture whose own marker says which scene: NAN when the
 * marker cannot be read. */
double sgl_reference_psnr_marked(struct sgl_reference *ref, const struct sgl_marker_image *im);

#endif
