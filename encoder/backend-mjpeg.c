/* MJPEG with libjpeg-turbo, for SPICE clients that cannot show H.264.
 * Every frame is a whole JPEG (always a "keyframe"). JPEG has no rate
 * control: the target bitrate picks the quality from the bits it leaves
 * per pixel, clamped to 30..90. */
#include "config.h"

#include <turbojpeg.h>

#include "backend.h"

struct sgl_encoder_backend {
    tjhandle tj;
    unsigned char *out;
    unsigned long out_size;
    uint32_t width, height, fps;
    int quality;
};

static int quality_for(uint32_t kbps, uint32_t w, uint32_t h, uint32_t fps)
{
    double bpp = kbps * 1000.0 / ((double)w * h * (fps ? fps : 30));
    int q = (int)(20 + bpp * 120);
    return q < 30 ? 30 : q > 90 ? 90 : q;
}

static struct sgl_encoder_backend *mjpeg_open(const struct sgl_encoder_config *c,
                                              const char *element, uint32_t width, uint32_t height,
                                              GError **error)
{
    struct sgl_encoder_backend *b = g_new0(struct sgl_encoder_backend, 1);
    b->tj = tjInitCompress();
    if (!b->tj) {
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_FAILED, "tjInitCompress: %s",
                    tjGetErrorStr2(NULL));
        g_free(b);
        return NULL;
    }
    b->width = width;
    b->height = height;
    b->fps = c->max_fps;
    b->out_size = tjBufSize((int)width, (int)height, TJSAMP_420);
    b->out = tjAlloc((int)b->out_size);
    b->quality = c->rc == SGL_ENCODER_RC_QUALITY
                     ? 95 - (int)c->quality /* CRF-like 0..51 to JPEG 95..44 */
                     : quality_for(c->bitrate_kbps, width, height, c->max_fps);
    return b;
}

static void mjpeg_close(struct sgl_encoder_backend *b)
{
    if (!b)
        return;
    tjFree(b->out);
    tjDestroy(b->tj);
    g_free(b);
}

static enum sgl_encode_result mjpeg_encode(struct sgl_encoder_backend *b, const struct sgl_frame *f,
                                           const struct sgl_rect *damage, uint32_t n_damage,
                                           bool force_idr, struct sgl_encoder_au *au,
                                           GError **error)
{
    static const int formats[] = {TJPF_BGRX, TJPF_BGRA, TJPF_RGBX, TJPF_RGBA};
    unsigned long size = b->out_size;
    /* TJFLAG_NOREALLOC: the buffer is sized for the worst case already. */
    if (tjCompress2(b->tj, f->pixels, (int)f->width, (int)f->stride, (int)f->height,
                    formats[f->format], &b->out, &size, TJSAMP_420, b->quality,
                    TJFLAG_FASTDCT | TJFLAG_NOREALLOC) != 0) {
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_FAILED, "tjCompress2: %s",
                    tjGetErrorStr2(b->tj));
        return SGL_ENCODE_ERROR;
    }
    *au = (struct sgl_encoder_au){.data = b->out,
                                  .size = size,
                                  .pts_us = f->pts_us,
                                  .keyframe = true,
                                  .width = b->width,
                                  .height = b->height};
    return SGL_ENCODE_OK;
}

static bool mjpeg_set_bitrate(struct sgl_encoder_backend *b, uint32_t kbps, GError **error)
{
    b->quality = quality_for(kbps, b->width, b->height, b->fps);
    return true;
}

static bool mjpeg_accepts_dmabuf(struct sgl_encoder_backend *b, uint32_t fourcc, uint64_t modifier)
{
    return false;
}

static const char *mjpeg_name(struct sgl_encoder_backend *b)
{
    return "mjpeg";
}

const struct sgl_encoder_backend_ops sgl_encoder_mjpeg_ops = {
    .family = "mjpeg",
    .open = mjpeg_open,
    .close = mjpeg_close,
    .encode = mjpeg_encode,
    .set_bitrate = mjpeg_set_bitrate,
    .accepts_dmabuf = mjpeg_accepts_dmabuf,
    .name = mjpeg_name,
};
