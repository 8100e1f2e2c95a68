#include "config.h"

#include "remote.h"

#include "common/invoke.h"
#include "common/percentile.h"

#include <spice/enums.h>

#include "stream-device.h"

/* The server's share of latency is taken over the last this many new
 * pictures sent. */
#define LATENCY_SAMPLES 256

/* One encoder thread per codec a client set may ask for. */
struct path {
    struct sgl_remote *remote;
    uint8_t codec; /* SpiceVideoCodecType */
    struct sgl_encoder_thread *thread;
};

struct sgl_remote {
    GMainContext *context;
    struct sgl_stream_device *device;
    struct sgl_encoder_config config;
    struct path h264, mjpeg;  /* mjpeg.thread made on first need */
    gint codec;               /* atomic: the codec streamed now, 0 when stopped */
    gint full_frame;          /* atomic: the next submitted frame counts as all damaged */
    struct path *in_flight;   /* whose access unit the server is reading */
    int64_t in_flight_pts_us; /* its picture's time, 0 for a refine pass */
    int64_t latency_us[LATENCY_SAMPLES]; /* picture's time -> taken by the server */
    uint32_t latency_n, latency_next;
    GMutex submit_lock;  /* codec and parked, against submitters */
    struct path *parked; /* stopped: the path that takes frames, paused */
    uint64_t sent, starts;
};

struct pending_au {
    struct path *path;
    GBytes *data;
    uint32_t width, height;
    int64_t pts_us; /* 0 for a refine pass */
};

static void pending_au_free(gpointer p)
{
    struct pending_au *a = p;
    g_bytes_unref(a->data);
    g_free(a);
}

/* Main context: hand the access unit to the server, unless the codec
 * changed meanwhile or one is still in flight. */
static void deliver(void *p)
{
    struct pending_au *a = p;
    struct sgl_remote *r = a->path->remote;
    gsize size;
    const uint8_t *data = g_bytes_get_data(a->data, &size);
    /* Set before sending: the server may read the whole message, and call
     * on_sent, inside the send's wakeup. */
    r->in_flight = a->path;
    r->in_flight_pts_us = a->pts_us;
    if (g_atomic_int_get(&r->codec) != a->path->codec ||
        !sgl_stream_device_send(r->device, a->path->codec, a->width, a->height, data, size)) {
        r->in_flight = NULL;
        sgl_encoder_thread_au_done(a->path->thread); /* dropped: let it go on */
    }
}

/* Encoder threads. */
static void on_access_unit(const struct sgl_encoder_au *au, void *user)
{
    struct path *path = user;
    struct pending_au *a = g_new0(struct pending_au, 1);
    a->path = path;
    a->data = g_bytes_new(au->data, au->size);
    a->width = au->width;
    a->height = au->height;
    a->pts_us = au->refined ? 0 : au->pts_us;
    sgl_invoke(path->remote->context, deliver, a, pending_au_free);
}

static void on_encode_error(const GError *error, void *user)
{
    g_warning("encoder: %s", error->message);
}

static void on_sent(bool delivered, void *user)
{
    struct sgl_remote *r = user;
    r->sent += delivered;
    if (delivered && r->in_flight && r->in_flight_pts_us > 0) {
        r->latency_us[r->latency_next] = g_get_monotonic_time() - r->in_flight_pts_us;
        r->latency_next = (r->latency_next + 1) % LATENCY_SAMPLES;
        r->latency_n = MIN(r->latency_n + 1, LATENCY_SAMPLES);
    }
    if (r->in_flight)
        sgl_encoder_thread_au_done(r->in_flight->thread);
    r->in_flight = NULL;
}

static bool path_start(struct sgl_remote *r, struct path *path, GError **error)
{
    static const struct sgl_encoder_thread_callbacks cb = {on_access_unit, on_encode_error};
    if (path->thread)
        return true;
    struct sgl_encoder_config c = r->config;
    if (path->codec == SPICE_VIDEO_CODEC_TYPE_MJPEG)
        c.backend = "mjpeg";
    path->thread = sgl_encoder_thread_create(&c, true, &cb, path, error);
    return path->thread != NULL;
}

static const char *codec_name(uint8_t c)
{
    static const char *names[] = {"none", "MJPEG", "VP8", "H.264", "VP9", "H.265"};
    return c < G_N_ELEMENTS(names) ? names[c] : "unknown";
}

static struct path *current(struct sgl_remote *r);

/* No client watches: the path streamed last keeps taking frames, paused,
 * so the next client starts from the newest picture. */
static void park(struct sgl_remote *r)
{
    g_mutex_lock(&r->submit_lock);
    struct path *was = current(r);
    if (was)
        r->parked = was;
    g_atomic_int_set(&r->codec, 0);
    g_mutex_unlock(&r->submit_lock);
    if (r->parked)
        sgl_encoder_thread_set_paused(r->parked->thread, true);
}

static void on_start_stop(const uint8_t *codecs, uint8_t n, void *user)
{
    struct sgl_remote *r = user;
    GString *list = g_string_new(NULL);
    bool h264 = false, mjpeg = false;
    for (uint8_t i = 0; i < n; i++) {
        g_string_append_printf(list, "%s%s", i ? ", " : "", codec_name(codecs[i]));
        h264 |= codecs[i] == SPICE_VIDEO_CODEC_TYPE_H264;
        mjpeg |= codecs[i] == SPICE_VIDEO_CODEC_TYPE_MJPEG;
    }
    struct path *path = h264 ? &r->h264 : mjpeg ? &r->mjpeg : NULL;
    g_autoptr(GError) error = NULL;
    if (path && !path_start(r, path, &error)) {
        g_warning("stream: cannot start %s: %s", codec_name(path->codec), error->message);
        path = NULL;
    }
    if (!path) {
        if (n)
            g_warning("stream: clients accept only %s; nothing this daemon encodes", list->str);
        else
            g_message("stream: no client watches; encoding stops");
        park(r);
    } else {
        g_message("stream: clients accept %s; streaming %s from a keyframe", list->str,
                  codec_name(path->codec));
        r->starts++;
        g_mutex_lock(&r->submit_lock);
        /* Another path's mailbox took the frames meanwhile: this one's is
         * stale, so the next frame counts as all damaged. */
        if (r->parked != path)
            g_atomic_int_set(&r->full_frame, 1);
        r->parked = NULL;
        g_atomic_int_set(&r->codec, path->codec);
        g_mutex_unlock(&r->submit_lock);
        sgl_encoder_thread_request_keyframe(path->thread);
        sgl_encoder_thread_set_paused(path->thread, false);
    }
    g_string_free(list, TRUE);
}

struct sgl_remote *sgl_remote_create(SpiceServer *server, const struct sgl_encoder_config *config,
                                     GError **error)
{
    struct sgl_remote *r = g_new0(struct sgl_remote, 1);
    GMainContext *c = g_main_context_get_thread_default();
    r->context = g_main_context_ref(c ? c : g_main_context_default());
    r->config = *config;
    r->h264 = (struct path){r, SPICE_VIDEO_CODEC_TYPE_H264, NULL};
    r->mjpeg = (struct path){r, SPICE_VIDEO_CODEC_TYPE_MJPEG, NULL};
    g_mutex_init(&r->submit_lock);
    /* H.264 opens now, so a broken encoder setting fails at start. */
    if (!path_start(r, &r->h264, error))
        goto fail;
    r->parked = &r->h264;
    sgl_encoder_thread_set_paused(r->h264.thread, true);
    static const struct sgl_stream_device_callbacks device_cb = {on_start_stop, on_sent};
    r->device = sgl_stream_device_create(&device_cb, r);
    if (!sgl_stream_device_attach(r->device, server, error))
        goto fail;
    g_message("stream: H.264 encoder %s; MJPEG for clients without H.264",
              sgl_encoder_thread_backend_name(r->h264.thread));
    return r;
fail:
    sgl_remote_destroy(r);
    return NULL;
}

void sgl_remote_destroy(struct sgl_remote *r)
{
    if (!r)
        return;
    /* Encoders first: they may still post access units to the context. */
    sgl_encoder_thread_destroy(r->h264.thread);
    sgl_encoder_thread_destroy(r->mjpeg.thread);
    r->h264.thread = r->mjpeg.thread = NULL;
    while (g_main_context_iteration(r->context, FALSE))
        ;
    sgl_stream_device_destroy(r->device);
    g_mutex_clear(&r->submit_lock);
    g_main_context_unref(r->context);
    g_free(r);
}

static struct path *current(struct sgl_remote *r)
{
    int codec = g_atomic_int_get(&r->codec);
    return codec == SPICE_VIDEO_CODEC_TYPE_H264    ? &r->h264
           : codec == SPICE_VIDEO_CODEC_TYPE_MJPEG ? &r->mjpeg
                                                   : NULL;
}

/* The path that takes frames now: the one streaming, or the one parked
 * while no client watches; NULL when neither. */
static struct path *taking_path(struct sgl_remote *r)
{
    g_mutex_lock(&r->submit_lock);
    struct path *path = current(r);
    if (!path)
        path = r->parked;
    g_mutex_unlock(&r->submit_lock);
    return path;
}

void sgl_remote_submit(struct sgl_remote *r, const struct sgl_frame *frame)
{
    struct path *path = taking_path(r);
    if (!path)
        return;
    struct sgl_frame f = *frame;
    if (g_atomic_int_compare_and_exchange(&r->full_frame, 1, 0))
        f.damage_all = true;
    g_autoptr(GError) error = NULL;
    if (!sgl_encoder_thread_submit(path->thread, &f, &error))
        g_warning("stream: frame rejected: %s", error->message);
}

void sgl_remote_cursor_set(struct sgl_remote *r, uint16_t width, uint16_t height, uint16_t hot_x,
                           uint16_t hot_y, const uint32_t *argb)
{
    if (!sgl_stream_device_cursor_set(r->device, width, height, hot_x, hot_y, argb))
        g_debug("stream: cursor shape %ux%u not queued", width, height);
}

void sgl_remote_cursor_move(struct sgl_remote *r, int32_t x, int32_t y)
{
    sgl_stream_device_cursor_move(r->device, x, y);
}

void sgl_remote_get_stats(struct sgl_remote *r, struct sgl_remote_stats *stats)
{
    g_autoptr(GArray) us = g_array_sized_new(FALSE, FALSE, sizeof(double), r->latency_n);
    for (uint32_t i = 0; i < r->latency_n; i++) {
        double v = (double)r->latency_us[i];
        g_array_append_val(us, v);
    }
    stats->latency_samples = r->latency_n;
    stats->latency_p50_us = r->latency_n ? (int64_t)sgl_percentile(us, 0.5) : 0;
    stats->latency_p95_us = r->latency_n ? (int64_t)sgl_percentile(us, 0.95) : 0;
    struct path *path = current(r);
    sgl_encoder_thread_get_stats(path ? path->thread : r->h264.thread, &stats->encoder);
    stats->sent = r->sent;
    stats->starts = r->starts;
    stats->codec = (uint8_t)g_atomic_int_get(&r->codec);
}

bool sgl_remote_snapshot(struct sgl_remote *r, uint8_t **pixels, uint32_t *width, uint32_t *height,
                         enum sgl_format *format)
{
    struct path *path = taking_path(r);
    return path && sgl_encoder_thread_snapshot(path->thread, pixels, width, height, format);
}
