#include "config.h"

#include "remote.h"

#include <spice/enums.h>

#include "stream-device.h"

struct sgl_remote {
    GMainContext *context;
    struct sgl_stream_device *device;
    struct sgl_encoder_thread *encoder;
    gint streaming;  /* atomic: read by the producer */
    gint full_frame; /* atomic: the next submitted frame counts as all damaged */
    uint8_t codec;
    uint64_t sent, starts;
};

struct pending_au {
    struct sgl_remote *remote;
    GBytes *data;
    uint32_t width, height;
};

static void pending_au_free(gpointer p)
{
    struct pending_au *a = p;
    g_bytes_unref(a->data);
    g_free(a);
}

/* Main context: hand the access unit to the server. */
static gboolean deliver(gpointer p)
{
    struct pending_au *a = p;
    struct sgl_remote *r = a->remote;
    gsize size;
    const uint8_t *data = g_bytes_get_data(a->data, &size);
    if (!g_atomic_int_get(&r->streaming) ||
        !sgl_stream_device_send(r->device, r->codec, a->width, a->height, data, size))
        sgl_encoder_thread_au_done(r->encoder); /* dropped: let the encoder go on */
    return G_SOURCE_REMOVE;
}

/* Encoder thread. */
static void on_access_unit(const struct sgl_encoder_au *au, void *user)
{
    struct sgl_remote *r = user;
    struct pending_au *a = g_new0(struct pending_au, 1);
    a->remote = r;
    a->data = g_bytes_new(au->data, au->size);
    a->width = au->width;
    a->height = au->height;
    g_main_context_invoke_full(r->context, G_PRIORITY_DEFAULT, deliver, a, pending_au_free);
}

static void on_encode_error(const GError *error, void *user)
{
    g_warning("encoder: %s", error->message);
}

static void on_sent(void *user)
{
    struct sgl_remote *r = user;
    r->sent++;
    sgl_encoder_thread_au_done(r->encoder);
}

static const char *codec_name(uint8_t c)
{
    static const char *names[] = {"none", "MJPEG", "VP8", "H.264", "VP9", "H.265"};
    return c < G_N_ELEMENTS(names) ? names[c] : "unknown";
}

static void on_start_stop(const uint8_t *codecs, uint8_t n, void *user)
{
    struct sgl_remote *r = user;
    GString *list = g_string_new(NULL);
    bool h264 = false;
    for (uint8_t i = 0; i < n; i++) {
        g_string_append_printf(list, "%s%s", i ? ", " : "", codec_name(codecs[i]));
        h264 |= codecs[i] == SPICE_VIDEO_CODEC_TYPE_H264;
    }
    if (n == 0) {
        g_message("stream: no client watches; encoding stops");
        r->codec = 0;
        g_atomic_int_set(&r->streaming, 0);
    } else if (h264) {
        g_message("stream: clients accept %s; streaming H.264 from an IDR", list->str);
        r->codec = SPICE_VIDEO_CODEC_TYPE_H264;
        r->starts++;
        g_atomic_int_set(&r->full_frame, 1);
        sgl_encoder_thread_request_keyframe(r->encoder);
        g_atomic_int_set(&r->streaming, 1);
    } else {
        g_warning("stream: clients accept only %s; not streaming (H.264 is needed)", list->str);
        r->codec = 0;
        g_atomic_int_set(&r->streaming, 0);
    }
    g_string_free(list, TRUE);
}

struct sgl_remote *sgl_remote_create(SpiceServer *server, const struct sgl_encoder_config *config,
                                     GError **error)
{
    struct sgl_remote *r = g_new0(struct sgl_remote, 1);
    GMainContext *c = g_main_context_get_thread_default();
    r->context = g_main_context_ref(c ? c : g_main_context_default());
    static const struct sgl_encoder_thread_callbacks encoder_cb = {on_access_unit, on_encode_error};
    r->encoder = sgl_encoder_thread_create(config, true, &encoder_cb, r, error);
    if (!r->encoder)
        goto fail;
    static const struct sgl_stream_device_callbacks device_cb = {on_start_stop, on_sent};
    r->device = sgl_stream_device_create(&device_cb, r);
    if (!sgl_stream_device_attach(r->device, server, error))
        goto fail;
    g_message("stream: encoder %s", sgl_encoder_thread_backend_name(r->encoder));
    return r;
fail:
    sgl_remote_destroy(r);
    return NULL;
}

void sgl_remote_destroy(struct sgl_remote *r)
{
    if (!r)
        return;
    /* The encoder first: it may still post access units to the context. */
    sgl_encoder_thread_destroy(r->encoder);
    while (g_main_context_iteration(r->context, FALSE))
        ;
    sgl_stream_device_destroy(r->device);
    g_main_context_unref(r->context);
    g_free(r);
}

void sgl_remote_submit(struct sgl_remote *r, const struct sgl_encoder_frame *frame)
{
    if (!g_atomic_int_get(&r->streaming))
        return;
    struct sgl_encoder_frame f = *frame;
    if (g_atomic_int_compare_and_exchange(&r->full_frame, 1, 0))
        f.damage_all = true;
    g_autoptr(GError) error = NULL;
    if (!sgl_encoder_thread_submit(r->encoder, &f, &error))
        g_warning("stream: frame rejected: %s", error->message);
}

bool sgl_remote_streaming(struct sgl_remote *r)
{
    return g_atomic_int_get(&r->streaming);
}

void sgl_remote_get_stats(struct sgl_remote *r, struct sgl_remote_stats *stats)
{
    sgl_encoder_thread_get_stats(r->encoder, &stats->encoder);
    stats->sent = r->sent;
    stats->starts = r->starts;
    stats->codec = r->codec;
}
