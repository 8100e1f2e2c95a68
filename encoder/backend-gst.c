/* GStreamer encoder elements: appsrc ! videoconvert ! <encoder> ! h264parse
 * ! appsink. Hardware encoders are preferred when their plugin registered
 * them (plugins register hardware elements only where a device exists).
 * Frames are wrapped, never copied: pixels as read-only memory, a dmabuf as
 * GstDmaBufMemory that hardware encoders import and software ones map. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <gst/allocators/allocators.h>
#include <gst/app/app.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "backend.h"

/* Preference order for "gst" and "auto": hardware first. */
static const struct element_info {
    const char *name;
    bool hardware;
    const char *input_format; /* what videoconvert hands the encoder */
} elements[] = {
    {"vah264enc", true, "NV12"},    {"vaapih264enc", true, "NV12"}, {"nvh264enc", true, "NV12"},
    {"msdkh264enc", true, "NV12"},  {"qsvh264enc", true, "NV12"},   {"x264enc", false, "I420"},
    {"openh264enc", false, "I420"},
};

static const struct element_info *element_info(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(elements); i++)
        if (g_str_equal(elements[i].name, name))
            return &elements[i];
    return NULL;
}

static bool gst_ready(GError **error)
{
    GError *e = NULL;
    if (!gst_init_check(NULL, NULL, &e)) {
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_UNAVAILABLE,
                    "GStreamer did not initialise: %s", e ? e->message : "?");
        g_clear_error(&e);
        return false;
    }
    return true;
}

GStrv sgl_encoder_gst_available(void)
{
    GStrvBuilder *b = g_strv_builder_new();
    if (gst_ready(NULL)) {
        for (size_t i = 0; i < G_N_ELEMENTS(elements); i++) {
            GstElementFactory *f = gst_element_factory_find(elements[i].name);
            if (f) {
                g_strv_builder_add(b, elements[i].name);
                gst_object_unref(f);
            }
        }
    }
    GStrv list = g_strv_builder_end(b);
    g_strv_builder_unref(b);
    return list;
}

struct sgl_encoder_backend {
    const struct element_info *info;
    GstElement *pipeline, *appsrc, *encoder, *appsink;
    GstAllocator *dmabuf_allocator;
    GstSample *sample; /* the last access unit's, kept until the next call */
    GstBuffer *au_buffer;
    GstMapInfo au_map;
    struct sgl_encoder_config config;
    uint32_t width, height;
    int caps_format; /* the appsrc caps' format, -1 before the first frame */
    GMutex lock;     /* wrapped input release */
    GCond released;
    guint in_flight;
    char name[64];
};

/* Sets a property by string if the element has it: each element names its
 * knobs differently, and versions differ. */
static void set_arg(GstElement *e, const char *prop, const char *value)
{
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(e), prop))
        gst_util_set_object_arg(G_OBJECT(e), prop, value);
}

static void set_uint(GstElement *e, const char *prop, guint64 value)
{
    g_autofree char *s = g_strdup_printf("%" G_GUINT64_FORMAT, value);
    set_arg(e, prop, s);
}

static void configure_bitrate(struct sgl_encoder_backend *b, uint32_t kbps)
{
    GstElement *e = b->encoder;
    if (g_str_equal(b->info->name, "openh264enc"))
        set_uint(e, "bitrate", (guint64)kbps * 1000);
    else
        set_uint(e, "bitrate", kbps);
    /* x264enc: a VBV of one frame interval, as the x264 backend. */
    set_uint(e, "vbv-buf-capacity", MAX(1u, 1000u / b->config.max_fps));
}

static void configure_encoder(struct sgl_encoder_backend *b)
{
    const struct sgl_encoder_config *c = &b->config;
    GstElement *e = b->encoder;
    const char *name = b->info->name;
    guint64 keyint = c->keyint ? c->keyint : (c->intra_refresh ? 2u * c->max_fps : 1u << 30);
    if (g_str_equal(name, "x264enc")) {
        set_arg(e, "tune", "zerolatency");
        set_arg(e, "speed-preset", c->preset);
        set_arg(e, "pass", c->rc == SGL_ENCODER_RC_QUALITY ? "qual" : "cbr");
        if (c->rc == SGL_ENCODER_RC_QUALITY)
            set_uint(e, "quantizer", c->quality);
        set_uint(e, "key-int-max", keyint);
        set_arg(e, "intra-refresh", c->intra_refresh ? "true" : "false");
        set_arg(e, "b-adapt", "false");
        set_uint(e, "bframes", 0);
        set_uint(e, "rc-lookahead", 0);
        set_arg(e, "sliced-threads", "true");
        set_uint(e, "threads", c->threads);
    } else if (g_str_equal(name, "openh264enc")) {
        set_arg(e, "rate-control", c->rc == SGL_ENCODER_RC_QUALITY ? "quality" : "bitrate");
        set_uint(e, "gop-size", MIN(keyint, (guint64)G_MAXINT));
        set_arg(e, "complexity", "low");
        /* Its background detection skips small changes as noise: a text
         * cursor or a 4x3 patch would stay stale. */
        set_arg(e, "background-detection", "false");
        set_uint(e, "multi-thread", c->threads);
    } else {
        /* Hardware: constant bitrate, no B-frames, fastest mode. */
        set_arg(e, "rate-control", "cbr");
        set_arg(e, "rc-mode", "cbr");
        set_uint(e, "b-frames", 0);
        set_uint(e, "bframes", 0);
        set_uint(e, "max-bframes", 0);
        set_uint(e, "key-int-max", MIN(keyint, (guint64)G_MAXINT));
        set_uint(e, "gop-size", MIN(keyint, (guint64)G_MAXINT));
        set_arg(e, "zerolatency", "true");
        set_uint(e, "target-usage", 7);
        set_arg(e, "preset", "low-latency-hp");
    }
    if (c->bitrate_kbps)
        configure_bitrate(b, c->bitrate_kbps);
}

static const char *gst_format(enum sgl_format f)
{
    static const char *names[] = {"BGRx", "BGRA", "RGBx", "RGBA"};
    return names[f];
}

static void gst_close(struct sgl_encoder_backend *b)
{
    if (!b)
        return;
    if (b->au_buffer) {
        gst_buffer_unmap(b->au_buffer, &b->au_map);
        b->au_buffer = NULL;
    }
    g_clear_pointer(&b->sample, gst_sample_unref);
    if (b->pipeline) {
        gst_element_set_state(b->pipeline, GST_STATE_NULL);
        gst_object_unref(b->pipeline);
    }
    g_clear_object(&b->appsrc);
    g_clear_object(&b->encoder);
    g_clear_object(&b->appsink);
    g_clear_object(&b->dmabuf_allocator);
    g_mutex_clear(&b->lock);
    g_cond_clear(&b->released);
    g_free(b);
}

static bool bus_error(struct sgl_encoder_backend *b, GError **error, const char *what)
{
    g_autoptr(GstBus) bus = gst_element_get_bus(b->pipeline);
    g_autoptr(GstMessage) msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    g_autoptr(GError) e = NULL;
    if (msg)
        gst_message_parse_error(msg, &e, NULL);
    g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_FAILED, "%s %s: %s", b->name, what,
                e ? e->message : "no message from GStreamer");
    return false;
}

static struct sgl_encoder_backend *gst_open(const struct sgl_encoder_config *c, const char *element,
                                            uint32_t width, uint32_t height, GError **error)
{
    if (!gst_ready(error))
        return NULL;
    const struct element_info *info = element ? element_info(element) : NULL;
    if (!info) {
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_UNAVAILABLE,
                    "no GStreamer encoder element '%s'", element ? element : "(none)");
        return NULL;
    }
    struct sgl_encoder_backend *b = g_new0(struct sgl_encoder_backend, 1);
    g_mutex_init(&b->lock);
    g_cond_init(&b->released);
    b->info = info;
    b->config = *c;
    b->width = width;
    b->height = height;
    b->caps_format = -1;
    g_snprintf(b->name, sizeof(b->name), "gst:%s", info->name);

    /* The converter's output says BT.601 limited range, as the x264
     * backend's libyuv conversion, so both are compared on equal terms. */
    g_autofree char *desc = g_strdup_printf(
        "appsrc name=src format=time is-live=true ! videoconvert n-threads=1 ! "
        "video/x-raw,format=%s,colorimetry=bt601 ! %s name=enc ! "
        "h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! "
        "appsink name=sink sync=false",
        info->input_format, info->name);
    GError *perr = NULL;
    b->pipeline = gst_parse_launch(desc, &perr);
    if (!b->pipeline || perr) {
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_UNAVAILABLE,
                    "cannot build the %s pipeline: %s", info->name, perr ? perr->message : "?");
        g_clear_error(&perr);
        gst_close(b);
        return NULL;
    }
    b->appsrc = gst_bin_get_by_name(GST_BIN(b->pipeline), "src");
    b->encoder = gst_bin_get_by_name(GST_BIN(b->pipeline), "enc");
    b->appsink = gst_bin_get_by_name(GST_BIN(b->pipeline), "sink");
    b->dmabuf_allocator = gst_dmabuf_allocator_new();
    configure_encoder(b);
    if (gst_element_set_state(b->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        bus_error(b, error, "did not start");
        gst_close(b);
        return NULL;
    }
    return b;
}

static void wrapped_released(gpointer data)
{
    struct sgl_encoder_backend *b = data;
    g_mutex_lock(&b->lock);
    b->in_flight--;
    g_cond_broadcast(&b->released);
    g_mutex_unlock(&b->lock);
}

static GstBuffer *wrap_frame(struct sgl_encoder_backend *b, const struct sgl_frame *f,
                             GError **error)
{
    GstBuffer *buf = gst_buffer_new();
    gsize offset, size;
    gint stride;
    if (f->dmabuf.fd >= 0) {
        int fd = dup(f->dmabuf.fd);
        offset = f->dmabuf.offset;
        stride = (gint)f->dmabuf.stride;
        size = offset + (gsize)stride * f->height;
        GstMemory *mem = fd >= 0 ? gst_dmabuf_allocator_alloc(b->dmabuf_allocator, fd, size) : NULL;
        if (!mem) {
            if (fd >= 0)
                close(fd);
            gst_buffer_unref(buf);
            g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_FAILED,
                        "cannot wrap the dmabuf");
            return NULL;
        }
        gst_buffer_append_memory(buf, mem);
    } else {
        offset = 0;
        stride = (gint)f->stride;
        size = (gsize)f->stride * (f->height - 1) + (gsize)f->width * 4;
        g_mutex_lock(&b->lock);
        b->in_flight++;
        g_mutex_unlock(&b->lock);
        gst_buffer_append_memory(buf, gst_memory_new_wrapped(GST_MEMORY_FLAG_READONLY,
                                                             (gpointer)f->pixels, size, 0, size, b,
                                                             wrapped_released));
    }
    gsize offsets[GST_VIDEO_MAX_PLANES] = {offset};
    gint strides[GST_VIDEO_MAX_PLANES] = {stride};
    GstVideoFormat vf = gst_video_format_from_string(gst_format(f->format));
    gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE, vf, f->width, f->height, 1,
                                   offsets, strides);
    GST_BUFFER_PTS(buf) = (GstClockTime)f->pts_us * GST_USECOND;
    return buf;
}

static void update_caps(struct sgl_encoder_backend *b, const struct sgl_frame *f)
{
    if (b->caps_format == (int)f->format)
        return;
    g_autoptr(GstCaps) caps = gst_caps_new_simple(
        "video/x-raw", "format", G_TYPE_STRING, gst_format(f->format), "width", G_TYPE_INT,
        (int)f->width, "height", G_TYPE_INT, (int)f->height, "framerate", GST_TYPE_FRACTION,
        (int)b->config.max_fps, 1, "colorimetry", G_TYPE_STRING, "sRGB", NULL);
    gst_app_src_set_caps(GST_APP_SRC(b->appsrc), caps);
    b->caps_format = (int)f->format;
}

static enum sgl_encode_result gst_encode(struct sgl_encoder_backend *b, const struct sgl_frame *f,
                                         const struct sgl_rect *damage, uint32_t n_damage,
                                         bool force_idr, struct sgl_encoder_au *au, GError **error)
{
    if (b->au_buffer) {
        gst_buffer_unmap(b->au_buffer, &b->au_map);
        b->au_buffer = NULL;
    }
    g_clear_pointer(&b->sample, gst_sample_unref);
    update_caps(b, f);
    if (force_idr) {
        GstPad *pad = gst_element_get_static_pad(b->encoder, "src");
        gst_pad_send_event(
            pad, gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0));
        gst_object_unref(pad);
    }
    GstBuffer *buf = wrap_frame(b, f, error);
    if (!buf)
        return SGL_ENCODE_ERROR;
    if (gst_app_src_push_buffer(GST_APP_SRC(b->appsrc), buf) != GST_FLOW_OK) {
        bus_error(b, error, "refused a frame");
        return SGL_ENCODE_ERROR;
    }
    b->sample = gst_app_sink_try_pull_sample(GST_APP_SINK(b->appsink), 5 * GST_SECOND);
    /* The caller's pixels must be free again when encode returns. */
    g_mutex_lock(&b->lock);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (b->in_flight && g_cond_wait_until(&b->released, &b->lock, deadline))
        ;
    bool stuck = b->in_flight != 0;
    g_mutex_unlock(&b->lock);
    if (!b->sample || stuck) {
        bus_error(b, error, stuck ? "kept a frame too long" : "gave no access unit within 5 s");
        return SGL_ENCODE_ERROR;
    }
    b->au_buffer = gst_sample_get_buffer(b->sample);
    if (!gst_buffer_map(b->au_buffer, &b->au_map, GST_MAP_READ)) {
        b->au_buffer = NULL;
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_FAILED, "cannot map output");
        return SGL_ENCODE_ERROR;
    }
    *au = (struct sgl_encoder_au){
        .data = b->au_map.data,
        .size = b->au_map.size,
        .pts_us = GST_BUFFER_PTS_IS_VALID(b->au_buffer)
                      ? (int64_t)(GST_BUFFER_PTS(b->au_buffer) / GST_USECOND)
                      : f->pts_us,
        .keyframe = !GST_BUFFER_FLAG_IS_SET(b->au_buffer, GST_BUFFER_FLAG_DELTA_UNIT),
        .width = b->width,
        .height = b->height,
    };
    return SGL_ENCODE_OK;
}

static bool gst_set_bitrate(struct sgl_encoder_backend *b, uint32_t kbps, GError **error)
{
    b->config.bitrate_kbps = kbps;
    configure_bitrate(b, kbps);
    return true;
}

/* Linear buffers map for software encoders; hardware encoders import any
 * modifier their driver knows. */
static bool gst_accepts_dmabuf(struct sgl_encoder_backend *b, uint32_t fourcc, uint64_t modifier)
{
    return modifier == DRM_FORMAT_MOD_LINEAR || b->info->hardware;
}

static const char *gst_name(struct sgl_encoder_backend *b)
{
    return b->name;
}

const struct sgl_encoder_backend_ops sgl_encoder_gst_ops = {
    .family = "gst",
    .open = gst_open,
    .close = gst_close,
    .encode = gst_encode,
    .set_bitrate = gst_set_bitrate,
    .accepts_dmabuf = gst_accepts_dmabuf,
    .name = gst_name,
};
