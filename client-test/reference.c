#include "config.h"

#include <math.h>
#include <stdlib.h>

#include <glib.h>

#include "client-test/reference.h"
#include "common/psnr.h"
#include "common/scene.h"

void sgl_reference_finish(struct sgl_reference *ref)
{
    g_free(ref->pixels);
    *ref = (struct sgl_reference){0};
}

double sgl_reference_psnr(struct sgl_reference *ref, const struct sgl_marker_image *im,
                          const struct sgl_marker *m)
{
    size_t stride = (size_t)im->width * 4, need = stride * im->height;
    if (ref->size != need) {
        g_free(ref->pixels);
        ref->pixels = g_malloc(need);
        ref->size = need;
    }
    sgl_scene_render(ref->pixels, im->width, im->height, (uint32_t)stride, SGL_SCENE_BGRX, m);
    return MIN(99.0, sgl_psnr(im->pixels, im->stride, ref->pixels, (uint32_t)stride, im->width,
                              im->height));
}

double sgl_reference_psnr_marked(struct sgl_reference *ref, const struct sgl_marker_image *im)
{
    struct sgl_marker m;
    if (!sgl_marker_read(im, SGL_SCENE_MARKER_X, SGL_SCENE_MARKER_Y, SGL_SCENE_MARKER_BLOCK, &m))
        return NAN;
    return sgl_reference_psnr(ref, im, &m);
}
