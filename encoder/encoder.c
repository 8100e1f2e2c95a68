/* The encoder core: backend choice, frame validation, damage, size changes
 * and keyframe requests. Backends only encode (backend.h). */
#include "config.h"

#include <string.h>

#include "backend.h"

struct sgl_encoder {
    struct sgl_encoder_config config;
    char *backend_spec; /* config.backend, owned */
    char *preset;       /* config.preset, owned */
    const struct sgl_encoder_backend_ops *ops;
    char *element; /* gst element, or NULL */
    struct sgl_encoder_backend *backend;
    uint32_t width, height; /* of the frames the backend was opened for; 0: none yet */
    bool force_idr;
    uint8_t *even; /* frames not of their coded size, padded (coded_dim) */
    size_t even_size;
};

static bool config_check(const struct sgl_encoder_config *c, GError **error)
{
    if (c->bitrate_kbps > 1000000 || c->quality > 51 || c->max_fps > 1000 || c->threads > 128 ||
        c->refine_qp > 51 || c->refine_ms > 60000 ||
        (c->rc != SGL_ENCODER_RC_BITRATE && c->rc != SGL_ENCODER_RC_QUALITY)) {
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_INVALID,
                    "encoder settings out of range: bitrate %u kbit/s (max 1000000), quality %u "
                    "(0..51), max_fps %u (max 1000), threads %u (max 128), refine QP %u (0..51), "
                    "refine after %u ms (max 60000)",
                    c->bitrate_kbps, c->quality, c->max_fps, c->threads, c->refine_qp,
                    c->refine_ms);
        return false;
    }
    return true;
}

GStrv sgl_encoder_list_backends(void)
{
    g_auto(GStrv) gst = sgl_encoder_gst_available();
    GStrvBuilder *b = g_strv_builder_new();
    /* Hardware encoders come first in gst's list; x264 beats GStreamer's
     * software encoders (make bench-encode), so it goes before them. */
    bool x264_added = false;
    for (char **e = gst; e && *e; e++) {
        bool hw = !g_str_equal(*e, "x264enc") && !g_str_equal(*e, "openh264enc");
        if (!hw && !x264_added) {
            g_strv_builder_add(b, "x264");
            x264_added = true;
        }
        g_autofree char *name = g_strconcat("gst:", *e, NULL);
        g_strv_builder_add(b, name);
    }
    if (!x264_added)
        g_strv_builder_add(b, "x264");
    GStrv list = g_strv_builder_end(b);
    g_strv_builder_unref(b);
    return list;
}

/* Resolves "auto", "x264", "gst" and "gst:<element>" to ops + element. */
static bool choose_backend(struct sgl_encoder *enc, GError **error)
{
    const char *spec = enc->backend_spec;
    if (g_str_equal(spec, "x264")) {
        enc->ops = &sgl_encoder_x264_ops;
        return true;
    }
    if (g_str_equal(spec, "mjpeg")) {
        enc->ops = &sgl_encoder_mjpeg_ops;
        return true;
    }
    g_auto(GStrv) gst = sgl_encoder_gst_available();
    if (g_str_equal(spec, "auto") || g_str_equal(spec, "gst")) {
        g_auto(GStrv) all = sgl_encoder_list_backends();
        for (char **b = all; *b; b++) {
            if (g_str_equal(spec, "gst") && !g_str_has_prefix(*b, "gst:"))
                continue;
            if (g_str_equal(*b, "x264")) {
                enc->ops = &sgl_encoder_x264_ops;
                return true;
            }
            enc->ops = &sgl_encoder_gst_ops;
            enc->element = g_strdup(*b + 4);
            return true;
        }
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_UNAVAILABLE,
                    "no GStreamer H.264 encoder on this host: install gstreamer1.0-plugins-ugly "
                    "(x264enc) or a hardware encoder's plugin");
        return false;
    }
    if (g_str_has_prefix(spec, "gst:") && spec[4]) {
        if (!gst || !g_strv_contains((const char *const *)gst, spec + 4)) {
            g_autofree char *have = gst && *gst ? g_strjoinv(", ", gst) : g_strdup("none");
            g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_UNAVAILABLE,
                        "encoder backend '%s' is not available on this host (GStreamer H.264 "
                        "encoders here: %s)",
                        spec, have);
            return false;
        }
        enc->ops = &sgl_encoder_gst_ops;
        enc->element = g_strdup(spec + 4);
        return true;
    }
    g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_INVALID,
                "unknown encoder backend '%s': use auto, x264, gst, gst:<element> or mjpeg", spec);
    return false;
}

struct sgl_encoder *sgl_encoder_create(const struct sgl_encoder_config *config, GError **error)
{
    struct sgl_encoder_config c = config ? *config : (struct sgl_encoder_config){0};
    if (!config_check(&c, error))
        return NULL;
    struct sgl_encoder *enc = g_new0(struct sgl_encoder, 1);
    enc->backend_spec = g_strdup(c.backend && *c.backend ? c.backend : "auto");
    enc->preset = g_strdup(c.preset && *c.preset ? c.preset : "ultrafast");
    if (!c.bitrate_kbps)
        c.bitrate_kbps = c.rc == SGL_ENCODER_RC_BITRATE ? 8000 : 0;
    if (!c.quality)
        c.quality = 23;
    if (!c.max_fps)
        c.max_fps = 30;
    if (!c.refine_qp)
        c.refine_qp = SGL_ENCODER_REFINE_QP;
    c.backend = enc->backend_spec;
    c.preset = enc->preset;
    enc->config = c;
    if (!choose_backend(enc, error))
        goto fail;
    /* Open at a small size once, so a bad preset or a broken element is an
     * error now rather than at the first frame. */
    struct sgl_encoder_backend *probe = enc->ops->open(&enc->config, enc->element, 64, 64, error);
    if (!probe)
        goto fail;
    enc->ops->close(probe);
    return enc;
fail:
    sgl_encoder_destroy(enc);
    return NULL;
}

void sgl_encoder_destroy(struct sgl_encoder *enc)
{
    if (!enc)
        return;
    if (enc->backend)
        enc->ops->close(enc->backend);
    g_free(enc->even);
    g_free(enc->element);
    g_free(enc->backend_spec);
    g_free(enc->preset);
    g_free(enc);
}

void sgl_encoder_request_keyframe(struct sgl_encoder *enc)
{
    enc->force_idr = true;
}

bool sgl_encoder_can_refine(const struct sgl_encoder *enc)
{
    return enc->ops->refine != NULL;
}

enum sgl_encode_result sgl_encoder_refine(struct sgl_encoder *enc, int64_t pts_us,
                                          struct sgl_encoder_au *au, bool *settled, GError **error)
{
    *settled = false;
    /* A keyframe owed is coded by the next encode, at the stream's quality. */
    if (!enc->backend || !enc->ops->refine || enc->force_idr)
        return SGL_ENCODE_UNCHANGED;
    return enc->ops->refine(enc->backend, enc->config.refine_qp, pts_us, au, settled, error);
}

bool sgl_encoder_set_bitrate(struct sgl_encoder *enc, uint32_t kbps, GError **error)
{
    if (kbps == 0 || kbps > 1000000) {
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_INVALID,
                    "bitrate %u kbit/s outside 1..1000000", kbps);
        return false;
    }
    if (enc->backend && !enc->ops->set_bitrate(enc->backend, kbps, error))
        return false;
    enc->config.bitrate_kbps = kbps;
    return true;
}

uint32_t sgl_encoder_get_bitrate(const struct sgl_encoder *enc)
{
    return enc->config.bitrate_kbps;
}

const char *sgl_encoder_backend_name(const struct sgl_encoder *enc)
{
    if (enc->backend)
        return enc->ops->name(enc->backend);
    return enc->ops->family;
}

/* The size a frame is coded at: H.264 4:2:0 cannot code an odd width or
 * height (crop offsets count in chroma samples), and some encoders
 * (openh264) refuse frames smaller than a macroblock. */
static uint32_t coded_dim(uint32_t v)
{
    return MAX((v + 1) & ~1u, 16u);
}

/* Copies the damaged rectangles of a frame that is not of its coded size
 * into a buffer that is, repeating the last column and row into the
 * padding. Damage touching the edge grows to cover the padding. */
static void pad_frame(struct sgl_encoder *enc, const struct sgl_frame *in, struct sgl_frame *out,
                      struct sgl_rect *damage, uint32_t n_damage)
{
    uint32_t w = in->width, h = in->height, cw = coded_dim(w), ch = coded_dim(h);
    size_t stride = (size_t)cw * 4;
    if (enc->even_size != stride * ch) {
        g_free(enc->even);
        enc->even_size = stride * ch;
        enc->even = g_malloc0(enc->even_size);
    }
    for (uint32_t i = 0; i < n_damage; i++) {
        struct sgl_rect *r = &damage[i];
        bool right = r->x + r->width == w, bottom = r->y + r->height == h;
        for (uint32_t y = r->y; y < r->y + r->height; y++) {
            uint8_t *dst = enc->even + y * stride + (size_t)r->x * 4;
            memcpy(dst, in->pixels + (size_t)y * in->stride + (size_t)r->x * 4,
                   (size_t)r->width * 4);
            for (uint32_t x = w; right && x < cw; x++)
                memcpy(enc->even + y * stride + (size_t)x * 4,
                       enc->even + y * stride + ((size_t)w - 1) * 4, 4);
        }
        if (right)
            r->width = cw - r->x;
        for (uint32_t y = h; bottom && y < ch; y++)
            memcpy(enc->even + y * stride + (size_t)r->x * 4,
                   enc->even + (h - 1) * stride + (size_t)r->x * 4, (size_t)r->width * 4);
        if (bottom)
            r->height = ch - r->y;
    }
    *out = *in;
    out->pixels = enc->even;
    out->stride = (uint32_t)stride;
    out->width = cw;
    out->height = ch;
}

enum sgl_encode_result sgl_encoder_encode(struct sgl_encoder *enc, const struct sgl_frame *frame,
                                          struct sgl_encoder_au *au, GError **error)
{
    if (!sgl_encoder_frame_validate(frame, error))
        return SGL_ENCODE_ERROR;
    bool new_size = frame->width != enc->width || frame->height != enc->height;
    if (!new_size && !frame->damage_all && frame->n_damage == 0 && !enc->force_idr)
        return SGL_ENCODE_UNCHANGED;
    bool padded_size =
        coded_dim(frame->width) != frame->width || coded_dim(frame->height) != frame->height;

    if (new_size) {
        struct sgl_encoder_backend *b = enc->ops->open(
            &enc->config, enc->element, coded_dim(frame->width), coded_dim(frame->height), error);
        if (!b)
            return SGL_ENCODE_ERROR;
        if (enc->backend)
            enc->ops->close(enc->backend);
        enc->backend = b;
        enc->width = frame->width;
        enc->height = frame->height;
    }

    struct sgl_rect damage[SGL_ENCODER_MAX_RECTS];
    uint32_t n_damage = 1;
    damage[0] = (struct sgl_rect){0, 0, frame->width, frame->height};
    if (!new_size && !frame->damage_all) {
        n_damage = frame->n_damage;
        if (n_damage) /* an unchanged frame may carry no list at all */
            memcpy(damage, frame->damage, n_damage * sizeof(*damage));
    }

    struct sgl_frame mapped, padded;
    struct sgl_encoder_mapping mapping = {0};
    const struct sgl_frame *input = frame;
    if (frame->dmabuf.fd >= 0 &&
        (padded_size ||
         !enc->ops->accepts_dmabuf(enc->backend, frame->dmabuf.fourcc, frame->dmabuf.modifier))) {
        if (!sgl_encoder_frame_map(frame, &mapped, &mapping, error))
            return SGL_ENCODE_ERROR;
        input = &mapped;
    }
    if (padded_size) {
        pad_frame(enc, input, &padded, damage, n_damage);
        input = &padded;
    }
    /* A new stream starts with an IDR in every backend. */
    bool idr = enc->force_idr || new_size;
    enum sgl_encode_result r =
        enc->ops->encode(enc->backend, input, damage, n_damage, idr, au, error);
    sgl_encoder_frame_unmap(&mapping);
    if (r == SGL_ENCODE_OK && idr)
        enc->force_idr = false;
    return r;
}
