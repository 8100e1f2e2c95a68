/* libx264 driven directly: zerolatency (no lookahead, no B-frames, sliced
 * threads), colour conversion with libyuv into persistent I420 planes, of
 * the damaged rectangles only. x264 is told which macroblocks the damage
 * leaves unchanged (X264_MBINFO_CONSTANT), and skips them without
 * analysis where the last frame coded them at least as finely. */
#include "config.h"

#include <stdint.h> /* x264.h needs it first */
#include <string.h>
#include <x264.h>

#include <libyuv.h>

#include "backend.h"

struct sgl_encoder_backend {
    x264_t *x264;
    x264_param_t param;
    x264_picture_t picture; /* persistent I420: undamaged areas keep the last frame */
    uint32_t width, height; /* even */
    uint32_t fps;
    int slices;       /* sliced threads: one slice each */
    uint8_t *mb_info; /* one flag a macroblock, for the frame being coded */
    uint32_t mb_width, mb_height;
};

static void set_rate(x264_param_t *p, const struct sgl_encoder_config *c, uint32_t kbps)
{
    /* A VBV of one frame's bits: no frame may take longer than a frame
     * interval to send at the target rate. */
    uint32_t per_frame = kbps / (c->max_fps ? c->max_fps : 30);
    if (c->rc == SGL_ENCODER_RC_QUALITY) {
        p->rc.i_rc_method = X264_RC_CRF;
        p->rc.f_rf_constant = (float)c->quality;
    } else {
        p->rc.i_rc_method = X264_RC_ABR;
        p->rc.i_bitrate = (int)kbps;
    }
    if (kbps) {
        p->rc.i_vbv_max_bitrate = (int)kbps;
        p->rc.i_vbv_buffer_size = (int)(per_frame ? per_frame : 1);
    }
}

static struct sgl_encoder_backend *x264_open(const struct sgl_encoder_config *c,
                                             const char *element, uint32_t width, uint32_t height,
                                             GError **error)
{
    struct sgl_encoder_backend *b = g_new0(struct sgl_encoder_backend, 1);
    x264_param_t *p = &b->param;
    if (x264_param_default_preset(p, c->preset, "zerolatency") < 0) {
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_INVALID,
                    "unknown x264 preset '%s' (ultrafast, superfast, veryfast, faster, fast, "
                    "medium, ...)",
                    c->preset);
        g_free(b);
        return NULL;
    }
    b->width = width;
    b->height = height;
    b->fps = c->max_fps;
    /* encoder.c hands over even sizes only (4:2:0). */
    uint32_t cw = width, ch = height;
    p->i_log_level = X264_LOG_ERROR;
    p->i_csp = X264_CSP_I420;
    p->i_width = (int)cw;
    p->i_height = (int)ch;
    p->i_fps_num = c->max_fps;
    p->i_fps_den = 1;
    p->i_timebase_num = 1;
    p->i_timebase_den = 1000000;
    /* VFR input makes x264 hold each frame until the next one's timestamp
     * gives its duration: one frame of latency. Rate control assumes
     * max_fps instead; skipped unchanged frames only lower the rate. */
    p->b_vfr_input = 0;
    p->i_threads = c->threads ? (int)c->threads : X264_THREADS_AUTO;
    p->b_repeat_headers = 1;
    p->b_annexb = 1;
    p->b_aud = 0;
    p->i_keyint_max = c->keyint ? (int)c->keyint : X264_KEYINT_MAX_INFINITE;
    p->b_intra_refresh = c->intra_refresh;
    if (c->intra_refresh && !c->keyint)
        p->i_keyint_max = (int)(2 * c->max_fps); /* the refresh wave's period */
    /* libyuv converts with BT.601 full range (JPEG's); say so, so that
     * clients convert back with the same matrix and range. Full range, not
     * limited: GStreamer 1.22's videoconvert, which spice-gtk decodes
     * through, maps limited-range Y 16..235 to 0..253, 2 to 3 levels dark
     * across the board (40 dB at best); full range comes back exact
     * (docs/colour.md). Primaries and transfer are sRGB's. */
    p->vui.i_colorprim = 1;
    p->vui.i_transfer = 13;
    p->vui.i_colmatrix = 6;
    p->vui.b_fullrange = 1;
    p->analyse.b_mb_info = 1;
    set_rate(p, c, c->bitrate_kbps);

    b->x264 = x264_encoder_open(p);
    if (!b->x264) {
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_FAILED,
                    "x264_encoder_open failed for %ux%u", width, height);
        g_free(b);
        return NULL;
    }
    x264_param_t resolved;
    x264_encoder_parameters(b->x264, &resolved);
    b->slices = MAX(1, MAX(resolved.i_threads, resolved.i_slice_count));
    if (x264_picture_alloc(&b->picture, X264_CSP_I420, (int)cw, (int)ch) < 0) {
        x264_encoder_close(b->x264);
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_FAILED, "out of memory");
        g_free(b);
        return NULL;
    }
    b->mb_width = (cw + 15) / 16;
    b->mb_height = (ch + 15) / 16;
    b->mb_info = g_malloc((size_t)b->mb_width * b->mb_height);
    return b;
}

static void x264_close(struct sgl_encoder_backend *b)
{
    if (!b)
        return;
    x264_encoder_close(b->x264);
    x264_picture_clean(&b->picture);
    g_free(b->mb_info);
    g_free(b);
}

/* Converts one damaged rectangle, widened to even coordinates so that
 * chroma samples are whole. */
static void convert_rect(struct sgl_encoder_backend *b, const struct sgl_frame *f,
                         const struct sgl_rect *r)
{
    uint32_t x0 = r->x & ~1u, y0 = r->y & ~1u;
    uint32_t x1 = MIN((r->x + r->width + 1) & ~1u, f->width);
    uint32_t y1 = MIN((r->y + r->height + 1) & ~1u, f->height);
    const x264_image_t *img = &b->picture.img;
    const uint8_t *src = f->pixels + (size_t)y0 * f->stride + (size_t)x0 * 4;
    uint8_t *dy = img->plane[0] + (size_t)y0 * img->i_stride[0] + x0;
    uint8_t *du = img->plane[1] + (size_t)(y0 / 2) * img->i_stride[1] + x0 / 2;
    uint8_t *dv = img->plane[2] + (size_t)(y0 / 2) * img->i_stride[2] + x0 / 2;
    int w = (int)(x1 - x0), h = (int)(y1 - y0);
    /* libyuv names formats by 32-bit word: its "ARGB" is B,G,R,A in memory. */
    if (f->format == SGL_FORMAT_BGRX || f->format == SGL_FORMAT_BGRA)
        ARGBToJ420(src, (int)f->stride, dy, img->i_stride[0], du, img->i_stride[1], dv,
                   img->i_stride[2], w, h);
    else
        ABGRToJ420(src, (int)f->stride, dy, img->i_stride[0], du, img->i_stride[1], dv,
                   img->i_stride[2], w, h);
}

/* Marks every macroblock constant but those the damage touches. */
static void mark_constant(struct sgl_encoder_backend *b, const struct sgl_rect *damage,
                          uint32_t n_damage)
{
    memset(b->mb_info, X264_MBINFO_CONSTANT, (size_t)b->mb_width * b->mb_height);
    for (uint32_t i = 0; i < n_damage; i++) {
        const struct sgl_rect *r = &damage[i];
        uint32_t x0 = r->x / 16, x1 = MIN((r->x + r->width + 15) / 16, b->mb_width);
        uint32_t y1 = MIN((r->y + r->height + 15) / 16, b->mb_height);
        for (uint32_t y = r->y / 16; y < y1; y++)
            memset(b->mb_info + (size_t)y * b->mb_width + x0, 0, x1 - x0);
    }
}

/* Codes the persistent picture: the last frame, with what changed since.
 * constant: b->mb_info says which macroblocks did not change (NULL: any
 * may have). */
static enum sgl_encode_result code_picture(struct sgl_encoder_backend *b, int type, int qpplus1,
                                           uint8_t *constant, int64_t pts_us,
                                           struct sgl_encoder_au *au, GError **error)
{
    b->picture.i_pts = pts_us;
    b->picture.i_type = type;
    b->picture.i_qpplus1 = qpplus1;
    b->picture.prop.mb_info = constant; /* read during the call only: no frame threads */
    x264_nal_t *nals = NULL;
    int n_nals = 0;
    x264_picture_t out;
    int size = x264_encoder_encode(b->x264, &nals, &n_nals, &b->picture, &out);
    if (size <= 0 || n_nals <= 0) {
        /* zerolatency has no delayed frames: every input gives output. */
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_FAILED,
                    "x264_encoder_encode returned %d", size);
        return SGL_ENCODE_ERROR;
    }
    /* x264 documents the NAL payloads of one call as contiguous. */
    *au = (struct sgl_encoder_au){
        .data = nals[0].p_payload,
        .size = (size_t)size,
        .pts_us = out.i_pts,
        .keyframe = out.b_keyframe,
        .width = b->width,
        .height = b->height,
    };
    return SGL_ENCODE_OK;
}

static enum sgl_encode_result x264_encode(struct sgl_encoder_backend *b, const struct sgl_frame *f,
                                          const struct sgl_rect *damage, uint32_t n_damage,
                                          bool force_idr, struct sgl_encoder_au *au, GError **error)
{
    for (uint32_t i = 0; i < n_damage; i++)
        convert_rect(b, f, &damage[i]);
    if (force_idr) /* an IDR codes every macroblock anew */
        return code_picture(b, X264_TYPE_IDR, X264_QP_AUTO, NULL, f->pts_us, au, error);
    mark_constant(b, damage, n_damage);
    return code_picture(b, X264_TYPE_AUTO, X264_QP_AUTO, b->mb_info, f->pts_us, au, error);
}

/* The same picture as a P-frame at a fixed QP: x264 codes only the
 * difference between it and what the decoder shows. The VBV still raises
 * the QP row by row where the frame would not fit one frame's budget; the
 * next pass refines those rows. It raises none until 5 % of the planned
 * bits are spent, so a pass that is all skipped macroblocks (about 12
 * bytes a slice) found nothing left to code at this QP. */
static enum sgl_encode_result x264_refine(struct sgl_encoder_backend *b, uint32_t qp,
                                          int64_t pts_us, struct sgl_encoder_au *au, bool *settled,
                                          GError **error)
{
    /* x264 wants timestamps that do not go back; the picture keeps the last. */
    int64_t pts = MAX(pts_us, b->picture.i_pts + 1);
    /* Nothing is constant: every macroblock coarser than qp is coded again. */
    enum sgl_encode_result r = code_picture(b, X264_TYPE_P, (int)qp + 1, NULL, pts, au, error);
    *settled = r == SGL_ENCODE_OK && au->size <= 16 + 16 * (size_t)b->slices;
    return r;
}

static bool x264_set_bitrate(struct sgl_encoder_backend *b, uint32_t kbps, GError **error)
{
    struct sgl_encoder_config c = {
        .rc = b->param.rc.i_rc_method == X264_RC_CRF ? SGL_ENCODER_RC_QUALITY
                                                     : SGL_ENCODER_RC_BITRATE,
        .quality = (uint32_t)b->param.rc.f_rf_constant,
        .max_fps = b->fps,
    };
    set_rate(&b->param, &c, kbps);
    if (x264_encoder_reconfig(b->x264, &b->param) < 0) {
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_FAILED,
                    "x264 refused bitrate %u kbit/s", kbps);
        return false;
    }
    return true;
}

static bool x264_accepts_dmabuf(struct sgl_encoder_backend *b, uint32_t fourcc, uint64_t modifier)
{
    return false;
}

static const char *x264_name(struct sgl_encoder_backend *b)
{
    return "x264";
}

const struct sgl_encoder_backend_ops sgl_encoder_x264_ops = {
    .family = "x264",
    .open = x264_open,
    .close = x264_close,
    .encode = x264_encode,
    .refine = x264_refine,
    .set_bitrate = x264_set_bitrate,
    .accepts_dmabuf = x264_accepts_dmabuf,
    .name = x264_name,
};
