/* spicegl-probe: a headless SPICE client (spice-client-glib) that measures
 * what a user would see. It reads the frame markers (common/marker.h) from
 * every display update and reports frames received and lost, fps, PSNR
 * against the regenerated frame (common/scene.h), latency from the marker's
 * timestamp to display, and bytes received; --json prints one line.
 *
 * Latency is host wall clock at display minus the marker's timestamp: valid
 * as is for a source on the same host (--synthetic); for a guest, its clock
 * offset has to be taken out. It includes the time a decoded frame waits for
 * the client's media clock (spice-server <= 0.15 starts it 400 ms behind):
 * the probe watches spice-gtk's decoder pipeline and reports the margin the
 * client's media clock gives each arriving frame (mmtime_offset_ms), and the
 * stages: marker to arrival at the client (transport), decode, and the wait
 * for the media clock after decoding.
 *
 * Also: --gl takes GL scanouts (a unix socket's fd-passing path) and maps
 * each buffer; --input sends keys, the pointer (a position in client mouse
 * mode, motion in server mode) and buttons; --resize asks
 * the server for a new monitor size through the agent; cursor shape and
 * moves from the cursor channel are counted. */
#include "config.h"

#include <dlfcn.h>
#include <glib-unix.h>
#include <math.h>
#include <png.h>
#include <signal.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <spice-client.h>
#include <spice/vd_agent.h>

#include "common/frame-hash.h"
#include "common/scene.h"
#include "common/percentile.h"
#include "client-test/reference.h"
#include "client-test/clipboard.h"
#include "client-test/flashes.h"
#include "client-test/mic.h"
#include "client-test/sound.h"
#include "client-test/transfer.h"

#define RING_LEN 64
/* Frame numbers remembered out of the decoder: an hour at 60 fps. */
#define PROBE_MAX_DECODED (60u * 3600u)

/* Where --input puts the pointer in client mouse mode, on the display
 * measured. */
#define SGL_PROBE_POINTER_X 100
#define SGL_PROBE_POINTER_Y 50

/* When a buffer with this timestamp passed a point in spice-gtk's pipeline. */
struct stamp {
    GstClockTime pts;
    int64_t us;        /* wall clock; 0: empty */
    int64_t margin_us; /* pushes only: how far ahead its media time lay then */
};

struct probe {
    GMainLoop *loop;
    SpiceSession *session;
    SpiceChannel *display;
    gint display_id; /* the display (monitor) measured, --display */
    char *failure;
    bool ending;       /* the probe is disconnecting itself */
    bool until_closed; /* --until-closed: the server ending the session ends the window */
    bool server_closed;
    bool stopped;          /* SIGUSR1 ended the window before --seconds did */
    bool webdav_channel;   /* the server offered folder sharing's channel */
    int usbredir_channels; /* USB redirection channels the server offered */
    GPtrArray *usb_errors; /* char *: what spice-gtk said of a redirection that failed */
    guint64 settle_bytes;  /* read on the display channel before --settle ended */
    guint64 closed_bytes;  /* read on the display channel, if the server closed it */
    /* measurements */
    bool have_first;
    uint32_t first, last, frames;
    int64_t first_us, last_us;
    int64_t max_gap_us; /* longest time between two marked frames after the first */
    int64_t warmup_us;  /* --warmup: frames this soon after the first one count for nothing */
    int64_t warm_from_us;
    int64_t connect_us, first_picture_us; /* the session started; the first marked frame came */
    gint seconds; /* the window, from connect or (with --warmup) from the warm-up's end */
    guint end_timer;
    GArray *latency_ms; /* double */
    double psnr_sum, psnr_min;
    uint32_t psnr_n, psnr_every, unreadable, width, height;
    /* A sample is due: taken on the picture once complete (GL scanouts and
     * stream frames arrive whole; a 2D picture is many draws, sampled when
     * its burst of updates ends, as a VNC client samples at the end of a
     * framebuffer update). */
    bool psnr_due;
    struct sgl_reference reference;
    const char *screenshot;
    bool shot_taken;
    const char *codec;
    /* decoder output times by frame number (streaming thread -> main) */
    GMutex lock;
    /* Rings, oldest overwritten: each message spice-gtk pushed to GStreamer,
     * and each access unit going into the decoder (its bytes all arrived and
     * parsed) and coming out. The decoder keeps an access unit's timestamp,
     * whichever message the parser took it from. */
    struct stamp pushed[RING_LEN], decoder_in[RING_LEN], decoder_out[RING_LEN];
    uint32_t n_pushed, n_decoder_in, n_decoder_out;
    struct {
        uint32_t frame;
        int64_t in_us, out_us, margin_us; /* out_us 0: empty */
    } decoded[256];                       /* by frame % 256 */
    /* Every frame number out of the decoder, shown or not: spice-gtk drops
     * a decoded picture it got too late to show, and these tell its drops
     * from frames that never reached the client. At most PROBE_MAX_DECODED. */
    GHashTable *decoded_frames;
    GArray *margin_ms, *transport_ms, *decode_ms, *wait_ms; /* double */
    /* distinct pictures on the display, counted once per burst of updates */
    uint32_t pictures;
    uint64_t picture_hash;
    guint picture_idle;
    /* GL scanouts */
    uint32_t gl_draws, gl_unreadable;
    int live_channels;
    /* cursor channel */
    int cursor_w, cursor_h, cursor_hot_x, cursor_hot_y;
    uint32_t cursor_opaque, cursor_moves;
    /* inputs and resize */
    SpiceChannel *main, *inputs;
    bool send_input, input_sent;
    bool no_markers;             /* --no-markers: act on pictures, not marked frames */
    gint input_mouse_mode;       /* the mouse mode the input was sent in */
    uint32_t resize_w, resize_h; /* the measured display's requested size */
    uint32_t resize_n;           /* monitors asked for */
    uint32_t resize_all[4][2];
    int64_t resize_sent_us, resized_us;
    struct probe_sound *sound;     /* the playback channel's audio */
    struct probe_flashes *flashes; /* --av-every: each Nth frame's times, or NULL */
    struct probe_mic *mic;         /* --mic: a tone on the record channel, or NULL */
    struct probe_clipboard *clipboard;
    struct probe_transfer *transfer; /* --send-file, or NULL */
};

static void fail(struct probe *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void fail(struct probe *p, const char *fmt, ...)
{
    if (!p->failure) {
        va_list ap;
        va_start(ap, fmt);
        p->failure = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    g_main_loop_quit(p->loop);
}

static bool write_png(const char *path, const uint8_t *bgrx, uint32_t w, uint32_t h,
                      uint32_t stride)
{
    png_image image = {
        .version = PNG_IMAGE_VERSION, .width = w, .height = h, .format = PNG_FORMAT_BGRA};
    /* BGRx: the padding byte would read as alpha; write it opaque. */
    g_autofree uint8_t *copy = g_malloc((size_t)w * h * 4);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            memcpy(copy + ((size_t)y * w + x) * 4, bgrx + (size_t)y * stride + x * 4, 3);
            copy[((size_t)y * w + x) * 4 + 3] = 0xff;
        }
    return png_image_write_to_file(&image, path, 0, copy, (png_int_32)w * 4, NULL) != 0;
}

static void maybe_act(struct probe *p);

/* The due PSNR sample, on a complete picture: against the scene its own
 * marker names (a picture whose marker cannot be read is not sampled). */
static void sample_psnr(struct probe *p, const struct sgl_marker_image *im)
{
    if (!p->psnr_due)
        return;
    p->psnr_due = false;
    double psnr = sgl_reference_psnr_marked(&p->reference, im);
    if (isnan(psnr))
        return;
    p->psnr_sum += psnr;
    p->psnr_min = p->psnr_n ? MIN(p->psnr_min, psnr) : psnr;
    p->psnr_n++;
}
static gboolean on_timeout(gpointer data);

static void measure(struct probe *p, const uint8_t *pixels, uint32_t w, uint32_t h, uint32_t stride)
{
    struct sgl_marker_image im = {pixels, w, h, stride};
    struct sgl_marker m;
    if (!sgl_marker_read(&im, SGL_SCENE_MARKER_X, SGL_SCENE_MARKER_Y, SGL_SCENE_MARKER_BLOCK, &m)) {
        p->unreadable++;
        return;
    }
    if (p->have_first && m.frame == p->last)
        return;
    if (p->flashes)
        probe_flashes_shown(p->flashes, m.frame);
    int64_t now = g_get_real_time();
    /* A new client's decoder and media clock start with a burst of late
     * pictures that spice-gtk drops: --warmup leaves them out. */
    if (!p->warm_from_us) {
        p->warm_from_us = now + p->warmup_us;
        p->first_picture_us = now;
        /* With --warmup the window is the steady state: it starts when
         * the warm-up ends, however long the first picture took. */
        if (p->warmup_us) {
            if (p->end_timer)
                g_source_remove(p->end_timer);
            p->end_timer =
                g_timeout_add((guint)(p->warmup_us / 1000 + p->seconds * 1000), on_timeout, p);
        }
    }
    if (now < p->warm_from_us)
        return;
    if (!p->have_first) {
        p->have_first = true;
        p->first = m.frame;
        p->first_us = now;
    } else {
        if (m.frame > p->last + 1)
            g_debug("frames %u..%u not seen (%.2f s in)", p->last + 1, m.frame - 1,
                    (now - p->first_us) / 1e6);
        p->max_gap_us = MAX(p->max_gap_us, now - p->last_us);
    }
    p->last = m.frame;
    p->last_us = now;
    p->frames++;
    double lat = (now - (int64_t)m.timestamp_us) / 1000.0;
    g_array_append_val(p->latency_ms, lat);
    g_mutex_lock(&p->lock);
    uint32_t slot = m.frame % G_N_ELEMENTS(p->decoded);
    bool known = p->decoded[slot].frame == m.frame && p->decoded[slot].out_us;
    int64_t in = p->decoded[slot].in_us, out = p->decoded[slot].out_us;
    int64_t margin = p->decoded[slot].margin_us;
    g_mutex_unlock(&p->lock);
    if (known && in) {
        double v[4] = {margin / 1000.0, (in - (int64_t)m.timestamp_us) / 1000.0,
                       (out - in) / 1000.0, (now - out) / 1000.0};
        g_array_append_val(p->margin_ms, v[0]);
        g_array_append_val(p->transport_ms, v[1]);
        g_array_append_val(p->decode_ms, v[2]);
        g_array_append_val(p->wait_ms, v[3]);
    }
    if (p->resize_sent_us && !p->resized_us && w == p->resize_w && h == p->resize_h)
        p->resized_us = now;
    p->width = w;
    p->height = h;
    /* Sampling keeps a slow (sanitizer-instrumented) probe from falling
     * behind the stream, which would count as frames lost. */
    if ((p->frames - 1) % p->psnr_every == 0)
        p->psnr_due = true;
    maybe_act(p);
}

static bool get_primary(SpiceChannel *channel, SpiceDisplayPrimary *primary)
{
    return spice_display_channel_get_primary(channel, 0, primary) && primary->data &&
           (primary->format == SPICE_SURFACE_FMT_32_xRGB ||
            primary->format == SPICE_SURFACE_FMT_32_ARGB);
}

/* After a burst of updates (a 2D frame is many draws; a stream frame one):
 * a new picture if it differs from the last. */
static gboolean count_picture(gpointer data)
{
    struct probe *p = data;
    SpiceDisplayPrimary primary;
    p->picture_idle = 0;
    if (p->display && get_primary(p->display, &primary)) {
        uint64_t h = sgl_frame_hash(primary.data, (uint32_t)primary.width, (uint32_t)primary.height,
                                    (uint32_t)primary.stride);
        if (!p->pictures || h != p->picture_hash)
            p->pictures++;
        p->picture_hash = h;
        if (p->screenshot && !p->shot_taken && p->pictures >= 10) {
            p->shot_taken = write_png(p->screenshot, primary.data, (uint32_t)primary.width,
                                      (uint32_t)primary.height, (uint32_t)primary.stride);
            if (!p->shot_taken)
                g_warning("could not write %s", p->screenshot);
        }
        struct sgl_marker_image im = {primary.data, (uint32_t)primary.width,
                                      (uint32_t)primary.height, (uint32_t)primary.stride};
        sample_psnr(p, &im);
        maybe_act(p);
    }
    return G_SOURCE_REMOVE;
}

/* The picture on the display at the end, against its marker's scene: what a
 * user looks at once the screen stopped changing. NAN: none readable. */
static double final_psnr(struct probe *p)
{
    SpiceDisplayPrimary primary;
    if (!p->display || !get_primary(p->display, &primary))
        return NAN;
    struct sgl_marker_image im = {primary.data, (uint32_t)primary.width, (uint32_t)primary.height,
                                  (uint32_t)primary.stride};
    return sgl_reference_psnr_marked(&p->reference, &im);
}

/* The picture on the display at the end, as a PNG. */
static bool write_last_screenshot(struct probe *p, const char *path)
{
    SpiceDisplayPrimary primary;
    return p->display && get_primary(p->display, &primary) &&
           write_png(path, primary.data, (uint32_t)primary.width, (uint32_t)primary.height,
                     (uint32_t)primary.stride);
}

static void on_invalidate(SpiceChannel *channel, gint x, gint y, gint w, gint h, gpointer data)
{
    struct probe *p = data;
    SpiceDisplayPrimary primary;
    if (!get_primary(channel, &primary))
        return;
    measure(p, primary.data, (uint32_t)primary.width, (uint32_t)primary.height,
            (uint32_t)primary.stride);
    if (!p->picture_idle)
        p->picture_idle = g_idle_add_full(G_PRIORITY_LOW, count_picture, p, NULL);
}

#define DRM_FORMAT_XRGB8888 0x34325258u /* 'XR24': BGRx in memory */

/* A GL scanout: the fd the server passed, mapped and read like a frame. */
static void on_gl_draw(SpiceChannel *channel, guint x, guint y, guint w, guint h, gpointer data)
{
    struct probe *p = data;
    const SpiceGlScanout *so = spice_display_channel_get_gl_scanout(SPICE_DISPLAY_CHANNEL(channel));
    p->gl_draws++;
    if (so && so->fd >= 0 && so->format == DRM_FORMAT_XRGB8888 && so->stride >= so->width * 4) {
        size_t len = (size_t)so->stride * so->height;
        void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, so->fd, 0);
        if (map != MAP_FAILED) {
            measure(p, map, so->width, so->height, so->stride);
            sample_psnr(p, &(struct sgl_marker_image){map, so->width, so->height, so->stride});
            munmap(map, len);
        } else {
            p->gl_unreadable++;
        }
    } else {
        p->gl_unreadable++;
    }
    spice_display_channel_gl_draw_done(SPICE_DISPLAY_CHANNEL(channel));
}

static void note(struct probe *p, struct stamp *ring, uint32_t *n, GstClockTime pts,
                 int64_t margin_us)
{
    g_mutex_lock(&p->lock);
    ring[(*n)++ % RING_LEN] = (struct stamp){pts, g_get_real_time(), margin_us};
    g_mutex_unlock(&p->lock);
}

/* Under p->lock. */
static const struct stamp *find(const struct stamp *ring, GstClockTime pts)
{
    static const struct stamp none = {0};
    for (size_t i = 0; i < RING_LEN; i++)
        if (ring[i].us && ring[i].pts == pts)
            return &ring[i];
    return &none;
}

static GstPadProbeReturn on_decoder_in(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
    struct probe *p = data;
    note(p, p->decoder_in, &p->n_decoder_in, GST_BUFFER_PTS(GST_PAD_PROBE_INFO_BUFFER(info)), 0);
    return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn on_decoder_out(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
    struct probe *p = data;
    note(p, p->decoder_out, &p->n_decoder_out, GST_BUFFER_PTS(GST_PAD_PROBE_INFO_BUFFER(info)), 0);
    return GST_PAD_PROBE_OK;
}

/* Streaming thread: each decoded frame at spice-gtk's sink, which holds it
 * (back-pressure up to the decoder) until its media time nears. */
static GstPadProbeReturn on_decoded(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
    struct probe *p = data;
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
    int w = 0, h = 0;
    GstMapInfo map;
    if (!buf || !caps || !gst_structure_get_int(gst_caps_get_structure(caps, 0), "width", &w) ||
        !gst_structure_get_int(gst_caps_get_structure(caps, 0), "height", &h) ||
        !gst_buffer_map(buf, &map, GST_MAP_READ))
        return GST_PAD_PROBE_OK;
    struct sgl_marker m;
    struct sgl_marker_image im = {map.data, (uint32_t)w, (uint32_t)h, (uint32_t)w * 4};
    if (map.size >= (size_t)w * h * 4 &&
        sgl_marker_read(&im, SGL_SCENE_MARKER_X, SGL_SCENE_MARKER_Y, SGL_SCENE_MARKER_BLOCK, &m)) {
        uint32_t slot = m.frame % G_N_ELEMENTS(p->decoded);
        g_mutex_lock(&p->lock);
        GstClockTime pts = GST_BUFFER_PTS(buf);
        p->decoded[slot].frame = m.frame;
        p->decoded[slot].in_us = find(p->decoder_in, pts)->us;
        p->decoded[slot].out_us = find(p->decoder_out, pts)->us;
        const struct stamp *pushed = find(p->pushed, pts);
        p->decoded[slot].margin_us = pushed->margin_us;
        int64_t arrived_us = pushed->us, decoded_us = p->decoded[slot].out_us;
        if (g_hash_table_size(p->decoded_frames) < PROBE_MAX_DECODED)
            g_hash_table_add(p->decoded_frames, GUINT_TO_POINTER(m.frame));
        g_mutex_unlock(&p->lock);
        if (p->flashes)
            probe_flashes_decoded(p->flashes, m.frame, arrived_us, decoded_us);
    }
    gst_buffer_unmap(buf, &map);
    return GST_PAD_PROBE_OK;
}

/* spice-gtk hands each encoded frame to GStreamer with this call, stamped
 * with the running time at which its media clock wants it shown. The probe's
 * definition comes first (the executable exports it): it notes when the
 * frame arrived and how far ahead its media time lay, then calls GStreamer's. */
GstFlowReturn gst_app_src_push_buffer(GstAppSrc *appsrc, GstBuffer *buffer)
{
    static GstFlowReturn (*real)(GstAppSrc *, GstBuffer *);
    if (!real)
        real = (GstFlowReturn(*)(GstAppSrc *, GstBuffer *))dlsym(RTLD_NEXT, __func__);
    struct probe *p = g_object_get_data(G_OBJECT(appsrc), "sgl-probe");
    g_autoptr(GstClock) clock = p ? gst_element_get_clock(GST_ELEMENT(appsrc)) : NULL;
    if (clock && GST_BUFFER_PTS_IS_VALID(buffer)) {
        GstClockTime running =
            gst_clock_get_time(clock) - gst_element_get_base_time(GST_ELEMENT(appsrc));
        note(p, p->pushed, &p->n_pushed, GST_BUFFER_PTS(buffer),
             ((int64_t)GST_BUFFER_PTS(buffer) - (int64_t)running) / 1000);
    }
    return real(appsrc, buffer);
}

static void on_element_added(GstBin *bin, GstBin *sub, GstElement *element, gpointer data)
{
    const char *klass = gst_element_get_metadata(element, GST_ELEMENT_METADATA_KLASS);
    if (klass && strstr(klass, "Decoder") && strstr(klass, "Video")) {
        g_autoptr(GstPad) in = gst_element_get_static_pad(element, "sink");
        g_autoptr(GstPad) out = gst_element_get_static_pad(element, "src");
        if (in && out) {
            gst_pad_add_probe(in, GST_PAD_PROBE_TYPE_BUFFER, on_decoder_in, data, NULL);
            gst_pad_add_probe(out, GST_PAD_PROBE_TYPE_BUFFER, on_decoder_out, data, NULL);
        }
        return;
    }
    if (!GST_IS_APP_SINK(element))
        return;
    g_autoptr(GstPad) pad = gst_element_get_static_pad(element, "sink");
    if (pad)
        gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_decoded, data, NULL);
}

static void on_source_caps(GObject *source, GParamSpec *pspec, gpointer data)
{
    struct probe *p = data;
    g_autoptr(GstCaps) caps = NULL;
    g_object_get(source, "caps", &caps, NULL);
    if (!caps || gst_caps_is_empty(caps))
        return;
    const char *name = gst_structure_get_name(gst_caps_get_structure(caps, 0));
    p->codec = g_str_equal(name, "video/x-h264")   ? "h264"
               : g_str_equal(name, "video/x-h265") ? "h265"
               : g_str_equal(name, "video/x-vp8")  ? "vp8"
               : g_str_equal(name, "video/x-vp9")  ? "vp9"
               : g_str_equal(name, "image/jpeg")   ? "mjpeg"
                                                   : "other";
}

/* spice-gtk sets the caps in its own handler, which runs after this one. */
static void on_source_setup(GstElement *playbin, GstElement *source, gpointer data)
{
    g_signal_connect(source, "notify::caps", G_CALLBACK(on_source_caps), data);
    if (GST_IS_APP_SRC(source))
        g_object_set_data(G_OBJECT(source), "sgl-probe", data);
}

/* spice-gtk offers every streaming-mode decoder here: a GStreamer pipeline,
 * or NULL for its built-in MJPEG decoder. Not handled: it renders to an
 * appsink, which the probe watches. */
static gboolean on_overlay(SpiceChannel *channel, GstPipeline *pipeline, gpointer data)
{
    struct probe *p = data;
    if (!pipeline) {
        p->codec = "mjpeg";
        return FALSE;
    }
    g_signal_connect(pipeline, "deep-element-added", G_CALLBACK(on_element_added), p);
    g_signal_connect(pipeline, "source-setup", G_CALLBACK(on_source_setup), p);
    return FALSE;
}

static void on_cursor_set(SpiceChannel *channel, gint w, gint h, gint hot_x, gint hot_y,
                          gpointer rgba, gpointer data)
{
    struct probe *p = data;
    p->cursor_w = w;
    p->cursor_h = h;
    p->cursor_hot_x = hot_x;
    p->cursor_hot_y = hot_y;
    p->cursor_opaque = 0;
    const uint8_t *px = rgba;
    for (gint i = 0; px && i < w * h; i++)
        p->cursor_opaque += px[4 * i + 3] == 0xff;
}

static void on_cursor_move(SpiceChannel *channel, gint x, gint y, gpointer data)
{
    ((struct probe *)data)->cursor_moves++;
}

/* Once frames flow (ten marked frames; with --no-markers, ten pictures):
 * inputs, then the resize request when the agent can take it. */
static void maybe_act(struct probe *p)
{
    if (p->no_markers ? p->pictures < 10 : p->frames < 10)
        return;
    if (p->send_input && !p->input_sent && p->inputs) {
        SpiceInputsChannel *in = SPICE_INPUTS_CHANNEL(p->inputs);
        spice_inputs_channel_key_press(in, 0x1e); /* A */
        spice_inputs_channel_key_release(in, 0x1e);
        spice_inputs_channel_key_press(in, 0x11d); /* right Ctrl: e0 1d */
        spice_inputs_channel_key_release(in, 0x11d);
        /* The pointer as a user's client moves it: a position in client
         * mouse mode, relative motion in server mode. */
        gint mode = 0;
        if (p->main)
            g_object_get(p->main, "mouse-mode", &mode, NULL);
        if (mode == SPICE_MOUSE_MODE_CLIENT)
            spice_inputs_channel_position(in, SGL_PROBE_POINTER_X, SGL_PROBE_POINTER_Y,
                                          p->display_id, 0);
        else
            spice_inputs_channel_motion(in, 7, -3, 0);
        spice_inputs_channel_button_press(in, SPICE_MOUSE_BUTTON_LEFT,
                                          SPICE_MOUSE_BUTTON_MASK_LEFT);
        spice_inputs_channel_button_release(in, SPICE_MOUSE_BUTTON_LEFT, 0);
        p->input_sent = true;
        p->input_mouse_mode = mode;
    }
    if (p->resize_w && !p->resize_sent_us && p->main) {
        SpiceMainChannel *mc = SPICE_MAIN_CHANNEL(p->main);
        gboolean agent = FALSE;
        g_object_get(mc, "agent-connected", &agent, NULL);
        if (!agent || !spice_main_channel_agent_test_capability(mc, VD_AGENT_CAP_MONITORS_CONFIG))
            return;
        int x = 0;
        for (uint32_t i = 0; i < p->resize_n; i++) {
            spice_main_channel_update_display_enabled(mc, (int)i, TRUE, FALSE);
            spice_main_channel_update_display(mc, (int)i, x, 0, (int)p->resize_all[i][0],
                                              (int)p->resize_all[i][1], FALSE);
            x += (int)p->resize_all[i][0];
        }
        if (spice_main_channel_send_monitor_config(mc))
            p->resize_sent_us = g_get_real_time();
    }
}

/* A redirection that failed: the host refused the device (its filter), or
 * the client could not share it. At most 16 kept. */
static void on_usb_error(SpiceUsbDeviceManager *manager, SpiceUsbDevice *device, GError *error,
                         gpointer data)
{
    struct probe *p = data;
    if (p->usb_errors->len < 16)
        g_ptr_array_add(p->usb_errors, g_strdup(error ? error->message : "(no message)"));
}

static void on_channel_event(SpiceChannel *channel, SpiceChannelEvent event, gpointer data)
{
    struct probe *p = data;
    switch (event) {
    case SPICE_CHANNEL_ERROR_AUTH:
        fail(p, "authentication failed");
        break;
    case SPICE_CHANNEL_ERROR_CONNECT:
    case SPICE_CHANNEL_ERROR_TLS:
    case SPICE_CHANNEL_ERROR_LINK:
    case SPICE_CHANNEL_ERROR_IO:
        if (SPICE_IS_MAIN_CHANNEL(channel) || channel == p->display)
            fail(p, "connection failed (channel event %d)", event);
        break;
    case SPICE_CHANNEL_CLOSED:
        /* The server ended the session (a client stops here too). */
        if (!SPICE_IS_MAIN_CHANNEL(channel) || p->ending)
            break;
        if (!p->until_closed) {
            fail(p, "the server closed the connection");
            break;
        }
        p->server_closed = true;
        g_main_loop_quit(p->loop);
        break;
    default:
        break;
    }
}

static void on_channel_destroy(SpiceSession *s, SpiceChannel *channel, gpointer data)
{
    struct probe *p = data;
    p->live_channels--;
    /* A channel the server closed alone (the session goes on): nothing may
     * read it any more. */
    if (channel == p->display) {
        g_object_get(channel, "total-read-bytes", &p->closed_bytes, NULL);
        p->display = NULL;
    }
    if (channel == p->main)
        p->main = NULL;
    if (channel == p->inputs)
        p->inputs = NULL;
}

static void on_channel_new(SpiceSession *s, SpiceChannel *channel, gpointer data)
{
    struct probe *p = data;
    p->live_channels++;
    g_signal_connect(channel, "channel-event", G_CALLBACK(on_channel_event), p);
    if (SPICE_IS_DISPLAY_CHANNEL(channel)) {
        gint id;
        g_object_get(channel, "channel-id", &id, NULL);
        if (id != p->display_id)
            return;
        p->display = channel;
        g_signal_connect(channel, "display-invalidate", G_CALLBACK(on_invalidate), p);
        g_signal_connect(channel, "gl-draw", G_CALLBACK(on_gl_draw), p);
        g_signal_connect(channel, "gst-video-overlay", G_CALLBACK(on_overlay), p);
        spice_channel_connect(channel);
    } else if (SPICE_IS_MAIN_CHANNEL(channel)) {
        p->main = channel;
        probe_clipboard_attach(p->clipboard, SPICE_MAIN_CHANNEL(channel));
        if (p->transfer)
            probe_transfer_attach(p->transfer, SPICE_MAIN_CHANNEL(channel));
    } else {
        if (SPICE_IS_INPUTS_CHANNEL(channel))
            p->inputs = channel;
        if (SPICE_IS_PLAYBACK_CHANNEL(channel))
            probe_sound_attach(p->sound, SPICE_PLAYBACK_CHANNEL(channel));
        if (SPICE_IS_RECORD_CHANNEL(channel) && p->mic)
            probe_mic_attach(p->mic, SPICE_RECORD_CHANNEL(channel));
        if (SPICE_IS_WEBDAV_CHANNEL(channel))
            p->webdav_channel = true;
        if (SPICE_IS_USBREDIR_CHANNEL(channel))
            p->usbredir_channels++;
        gint id;
        g_object_get(channel, "channel-id", &id, NULL);
        if (SPICE_IS_CURSOR_CHANNEL(channel) && id == p->display_id) {
            g_signal_connect(channel, "cursor-set", G_CALLBACK(on_cursor_set), p);
            g_signal_connect(channel, "cursor-move", G_CALLBACK(on_cursor_move), p);
        }
        spice_channel_connect(channel);
    }
}

static gboolean on_timeout(gpointer data)
{
    struct probe *p = data;
    p->end_timer = 0;
    g_main_loop_quit(p->loop);
    return G_SOURCE_REMOVE;
}

/* SIGUSR1: the window ends now, as its timer would end it. A test that
 * waits for something in the guest while this client is connected holds
 * the probe as long as that takes, then stops it. */
static gboolean on_stop(gpointer data)
{
    struct probe *p = data;
    p->stopped = true;
    g_main_loop_quit(p->loop);
    return G_SOURCE_CONTINUE;
}

/* The end of --settle: bytes from here on are the steady rate. */
static gboolean on_settled(gpointer data)
{
    struct probe *p = data;
    if (p->display)
        g_object_get(p->display, "total-read-bytes", &p->settle_bytes, NULL);
    return G_SOURCE_REMOVE;
}

/* The frames of the window (the first to the last shown) that came out of
 * the client's decoder; NAN when no GStreamer decoder was watched (MJPEG,
 * GL scanouts). */
static double count_decoded(struct probe *p)
{
    if (!p->have_first)
        return NAN;
    g_mutex_lock(&p->lock);
    double n = NAN;
    /* Empty: no decoder output was watched. */
    if (g_hash_table_size(p->decoded_frames) && p->last >= p->first) {
        n = 0;
        for (uint64_t f = p->first; f <= p->last; f++)
            n += g_hash_table_contains(p->decoded_frames, GUINT_TO_POINTER((guint)f));
    }
    g_mutex_unlock(&p->lock);
    return n;
}

static void add_number(JsonBuilder *b, const char *name, double v)
{
    json_builder_set_member_name(b, name);
    if (isfinite(v))
        json_builder_add_double_value(b, v);
    else
        json_builder_add_null_value(b);
}

int main(int argc, char **argv)
{
    g_autofree char *unix_path = NULL, *ticket = NULL, *screenshot = NULL, *resize = NULL,
                    *last_screenshot = NULL, *clipboard = NULL, *send_file = NULL,
                    *clipboard_png = NULL, *share_dir = NULL, *share_cd = NULL;
    gint64 cancel_after = 0;
    gint seconds = 5, settle = 0, psnr_every = 1, display_id = 0, warmup_ms = 0;
    gint first_within = 15, av_every = 0;
    gdouble mic_hz = 0;
    gboolean json = FALSE, gl = FALSE, input = FALSE, audio = FALSE, until_closed = FALSE,
             no_markers = FALSE, no_audio = FALSE;
    GOptionEntry entries[] = {
        {"unix", 0, 0, G_OPTION_ARG_FILENAME, &unix_path, "Connect to this unix socket", "PATH"},
        {"ticket", 0, 0, G_OPTION_ARG_STRING, &ticket, "SPICE password", "TEXT"},
        {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds,
         "How long to record (default 5; SIGUSR1 ends it sooner)", "S"},
        {"settle", 0, 0, G_OPTION_ARG_INT, &settle,
         "Leave the first S seconds (a new client's first picture) out of bytes_per_s", "S"},
        {"warmup", 0, 0, G_OPTION_ARG_INT, &warmup_ms,
         "Count frames (seen, lost, gaps, PSNR, latency) from MS after the first one, for "
         "--seconds from there (default 0: from connecting)",
         "MS"},
        {"first-within", 0, 0, G_OPTION_ARG_INT, &first_within,
         "With --warmup: give up on a first frame after S seconds (default 15)", "S"},
        {"until-closed", 0, 0, G_OPTION_ARG_NONE, &until_closed,
         "Stop when the server ends the session (no failure then), at most --seconds", NULL},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON line", NULL},
        {"av-every", 0, 0, G_OPTION_ARG_INT, &av_every,
         "A/V sync: report when each Nth frame was decoded and shown (\"flashes\"), to set "
         "against the clicks heard",
         "N"},
        {"psnr-every", 0, 0, G_OPTION_ARG_INT, &psnr_every,
         "Compare every Nth frame with its reference (default 1: all)", "N"},
        {"last-screenshot", 0, 0, G_OPTION_ARG_FILENAME, &last_screenshot,
         "Write a PNG of the picture on the display at the end", "FILE"},
        {"screenshot", 0, 0, G_OPTION_ARG_FILENAME, &screenshot,
         "Write a PNG of the 10th picture (marked or not)", "FILE"},
        {"gl", 0, 0, G_OPTION_ARG_NONE, &gl, "Ask for GL scanouts (unix socket only)", NULL},
        {"audio", 0, 0, G_OPTION_ARG_NONE, &audio,
         "Play the server's audio (as remote-viewer does), e.g. its --audio-clock", NULL},
        {"no-audio", 0, 0, G_OPTION_ARG_NONE, &no_audio,
         "Open no sound channel (a client without audio: spice-gtk's enable-audio off)", NULL},
        {"mic", 0, 0, G_OPTION_ARG_DOUBLE, &mic_hz,
         "Send a sine of HZ (at -6 dBFS) whenever the server records", "HZ"},
        {"input", 0, 0, G_OPTION_ARG_NONE, &input,
         "Send keys (A, right Ctrl), a motion and a click once frames flow", NULL},
        {"no-markers", 0, 0, G_OPTION_ARG_NONE, &no_markers,
         "The display shows no frame markers (a desktop): --input and --resize go out after 10 "
         "pictures, not 10 marked frames",
         NULL},
        {"display", 0, 0, G_OPTION_ARG_INT, &display_id,
         "Measure this display (monitor) channel (default 0)", "N"},
        /* As bytes: the text is UTF-8 whatever the locale. */
        {"clipboard", 0, 0, G_OPTION_ARG_FILENAME, &clipboard,
         "Take the clipboard with this UTF-8 text once the agent can (the guest's text is "
         "reported either way)",
         "TEXT"},
        {"clipboard-png", 0, 0, G_OPTION_ARG_FILENAME, &clipboard_png,
         "Or take the clipboard with this PNG image (the guest's image is reported either way)",
         "PATH"},
        {"send-file", 0, 0, G_OPTION_ARG_FILENAME, &send_file,
         "Send this file to the guest's agent once it is there (as a drag and drop)", "PATH"},
        {"share-dir", 0, 0, G_OPTION_ARG_FILENAME, &share_dir,
         "Share this folder with the guest, read-only (spice-gtk's folder sharing, over WebDAV)",
         "PATH"},
        {"share-cd", 0, 0, G_OPTION_ARG_FILENAME, &share_cd,
         "Redirect an emulated USB CD-ROM holding this file (spice-gtk's shared CD) as soon as "
         "the server's USB redirection channel is there",
         "PATH"},
        {"cancel-after", 0, 0, G_OPTION_ARG_INT64, &cancel_after,
         "Cancel --send-file's transfer once this many bytes went", "BYTES"},
        {"resize", 0, 0, G_OPTION_ARG_STRING, &resize,
         "Ask for these monitor sizes once frames flow (WxH[,WxH...]: monitor 0, 1...)", "WxH"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("[spice://HOST:PORT] - measure a SPICE display");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "spicegl-probe: %s\n", error->message);
        return 2;
    }
    if (psnr_every < 1 || psnr_every > 1000) {
        fprintf(stderr, "spicegl-probe: --psnr-every wants 1..1000 (got %d)\n", psnr_every);
        return 2;
    }
    if (av_every < 0 || av_every > 100000) {
        fprintf(stderr, "spicegl-probe: --av-every wants 1..100000 (got %d)\n", av_every);
        return 2;
    }
    if ((argc != 2) == !unix_path || seconds < 1 || settle < 0 || settle >= seconds ||
        warmup_ms < 0 || first_within < 1) {
        fprintf(stderr, "spicegl-probe: give one spice:// URI or --unix PATH, --seconds >= 1, "
                        "--settle below it, --warmup >= 0 and --first-within >= 1\n");
        return 2;
    }
    unsigned sizes[4][2] = {{0}}, n_sizes = 0;
    if (resize) {
        g_auto(GStrv) parts = g_strsplit(resize, ",", 0);
        for (unsigned i = 0; parts[i]; i++) {
            char tail;
            if (i >= 4 || sscanf(parts[i], "%ux%u%c", &sizes[i][0], &sizes[i][1], &tail) != 2 ||
                sizes[i][0] < 16 || sizes[i][1] < 16 || sizes[i][0] > 8192 || sizes[i][1] > 8192) {
                fprintf(stderr,
                        "spicegl-probe: --resize wants WIDTHxHEIGHT[,WIDTHxHEIGHT...] for up to "
                        "4 monitors, 16..8192 (got '%s')\n",
                        resize);
                return 2;
            }
            n_sizes = i + 1;
        }
    }
    if (clipboard && !g_utf8_validate(clipboard, -1, NULL)) {
        fprintf(stderr, "spicegl-probe: --clipboard wants UTF-8 text\n");
        return 2;
    }
    g_autoptr(GBytes) png = NULL;
    if (clipboard_png) {
        g_autoptr(GMappedFile) f = g_mapped_file_new(clipboard_png, FALSE, &error);
        static const guchar magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        if (!f || g_mapped_file_get_length(f) < sizeof(magic) ||
            memcmp(g_mapped_file_get_contents(f), magic, sizeof(magic)) != 0 || clipboard) {
            fprintf(stderr,
                    "spicegl-probe: --clipboard-png wants a PNG file, without --clipboard "
                    "(%s)\n",
                    error ? error->message : clipboard_png);
            return 2;
        }
        png = g_mapped_file_get_bytes(f);
    }
    if (cancel_after < 0 || (cancel_after && !send_file)) {
        fprintf(stderr, "spicegl-probe: --cancel-after wants a byte count, with --send-file\n");
        return 2;
    }
    if (mic_hz < 0 || mic_hz > 20000 || (mic_hz > 0 && audio)) {
        fprintf(stderr, "spicegl-probe: --mic is 1..20000 Hz, without --audio (which records "
                        "from this host's own microphone)\n");
        return 2;
    }
    if (no_audio && (audio || mic_hz > 0)) {
        fprintf(stderr, "spicegl-probe: --no-audio goes without --audio and --mic\n");
        return 2;
    }
    if (display_id < 0 || display_id > 3 || (n_sizes && (unsigned)display_id >= n_sizes)) {
        fprintf(stderr, "spicegl-probe: --display is 0..3, and one --resize asks for\n");
        return 2;
    }
    unsigned rw = n_sizes ? sizes[display_id][0] : 0, rh = n_sizes ? sizes[display_id][1] : 0;
    gst_init(NULL, NULL);
    struct probe p = {.loop = g_main_loop_new(NULL, FALSE),
                      .session = spice_session_new(),
                      .latency_ms = g_array_new(FALSE, FALSE, sizeof(double)),
                      .margin_ms = g_array_new(FALSE, FALSE, sizeof(double)),
                      .transport_ms = g_array_new(FALSE, FALSE, sizeof(double)),
                      .decode_ms = g_array_new(FALSE, FALSE, sizeof(double)),
                      .wait_ms = g_array_new(FALSE, FALSE, sizeof(double)),
                      .screenshot = screenshot,
                      .psnr_every = (uint32_t)psnr_every,
                      .send_input = input,
                      .no_markers = no_markers,
                      .resize_w = rw,
                      .resize_h = rh,
                      .resize_n = n_sizes,
                      .display_id = display_id,
                      .warmup_us = (int64_t)warmup_ms * 1000,
                      .until_closed = until_closed,
                      .seconds = seconds};
    memcpy(p.resize_all, sizes, sizeof(sizes));
    p.decoded_frames = g_hash_table_new(g_direct_hash, NULL);
    p.sound = probe_sound_create();
    if (av_every)
        p.flashes = probe_flashes_create((uint32_t)av_every);
    p.clipboard = probe_clipboard_create(clipboard, png);
    if (send_file)
        p.transfer = probe_transfer_create(send_file, cancel_after);
    if (mic_hz > 0)
        p.mic = probe_mic_create(mic_hz);
    g_mutex_init(&p.lock);
    if (gl)
        g_object_set(p.session, "gl-scanout", TRUE, NULL);
    if (no_audio)
        g_object_set(p.session, "enable-audio", FALSE, NULL);
    if (share_dir)
        g_object_set(p.session, "shared-dir", share_dir, "share-dir-ro", TRUE, NULL);
    p.usb_errors = g_ptr_array_new_with_free_func(g_free);
    if (share_cd) {
        /* Redirected on connect: the filter takes every device, and the CD
         * is the only one the probe's manager has. */
        SpiceUsbDeviceManager *usb = spice_usb_device_manager_get(p.session, &error);
        if (usb) {
            g_object_set(usb, "redirect-on-connect", "-1,-1,-1,-1,1", NULL);
            g_signal_connect(usb, "device-error", G_CALLBACK(on_usb_error), &p);
        }
        if (!usb || !spice_usb_device_manager_create_shared_cd_device(usb, share_cd, &error)) {
            fprintf(stderr, "spicegl-probe: --share-cd %s: %s\n", share_cd,
                    error ? error->message : "no USB support in spice-gtk");
            return 2;
        }
    }
    if (audio && !spice_audio_get(p.session, NULL))
        g_warning("no audio backend: the playback channel stays off");
    if (unix_path)
        g_object_set(p.session, "unix-path", unix_path, NULL);
    else
        g_object_set(p.session, "uri", argv[1], NULL);
    if (ticket)
        g_object_set(p.session, "password", ticket, NULL);
    g_signal_connect(p.session, "channel-new", G_CALLBACK(on_channel_new), &p);
    g_signal_connect(p.session, "channel-destroy", G_CALLBACK(on_channel_destroy), &p);
    if (!spice_session_connect(p.session)) {
        fprintf(stderr, "spicegl-probe: cannot connect\n");
        return 1;
    }
    p.connect_us = g_get_real_time();
    p.end_timer =
        g_timeout_add_seconds((guint)(warmup_ms ? first_within : seconds), on_timeout, &p);
    if (settle)
        g_timeout_add_seconds((guint)settle, on_settled, &p);
    guint stop_source = g_unix_signal_add(SIGUSR1, on_stop, &p);
    g_main_loop_run(p.loop);
    g_source_remove(stop_source);
    int64_t end_us = g_get_real_time();

    guint64 bytes = p.closed_bytes;
    if (p.display)
        g_object_get(p.display, "total-read-bytes", &bytes, NULL);
    double span_s = (p.last_us - p.first_us) / 1e6;
    uint32_t expected = p.have_first ? p.last - p.first + 1 : 0;
    uint32_t lost = expected - MIN(expected, p.frames);
    double decoded = count_decoded(&p);
    double fps = span_s > 0 ? (p.frames - 1) / span_s : 0;
    if (last_screenshot && !write_last_screenshot(&p, last_screenshot))
        g_warning("no picture for %s", last_screenshot);
    double watched_s = (end_us - p.connect_us) / 1e6 - settle;
    double bytes_per_s = watched_s > 0 ? (bytes - p.settle_bytes) / watched_s : NAN;
    double p50 = sgl_percentile(p.latency_ms, 0.5), p95 = sgl_percentile(p.latency_ms, 0.95);
    if (json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        add_number(b, "frames", p.frames);
        add_number(b, "lost", lost);
        add_number(b, "decoded", decoded);
        add_number(b, "fps", fps);
        add_number(b, "psnr_avg", p.psnr_n ? p.psnr_sum / p.psnr_n : NAN);
        add_number(b, "psnr_min", p.psnr_n ? p.psnr_min : NAN);
        add_number(b, "latency_p50_ms", p50);
        add_number(b, "latency_p95_ms", p95);
        add_number(b, "mmtime_offset_ms", sgl_percentile(p.margin_ms, 0.5));
        add_number(b, "transport_p50_ms", sgl_percentile(p.transport_ms, 0.5));
        add_number(b, "decode_p50_ms", sgl_percentile(p.decode_ms, 0.5));
        add_number(b, "clock_wait_p50_ms", sgl_percentile(p.wait_ms, 0.5));
        add_number(b, "bytes_per_s", bytes_per_s);
        add_number(b, "settle_bytes", p.settle_bytes);
        add_number(b, "width", p.width);
        add_number(b, "height", p.height);
        add_number(b, "unreadable", p.unreadable);
        add_number(b, "pictures", p.pictures);
        add_number(b, "last_frame", p.have_first ? p.last : NAN);
        /* A stream that froze partway: the longest gap between marked
         * frames, and how long before the end the last one came. */
        add_number(b, "max_gap_ms", p.have_first ? p.max_gap_us / 1000.0 : NAN);
        add_number(b, "last_age_ms", p.have_first ? (end_us - p.last_us) / 1000.0 : NAN);
        add_number(b, "final_psnr", final_psnr(&p));
        add_number(b, "first_picture_ms",
                   p.first_picture_us ? (p.first_picture_us - p.connect_us) / 1000.0 : NAN);
        json_builder_set_member_name(b, "codec");
        if (p.codec)
            json_builder_add_string_value(b, p.codec);
        else
            json_builder_add_null_value(b);
        add_number(b, "gl_draws", p.gl_draws);
        add_number(b, "gl_unreadable", p.gl_unreadable);
        add_number(b, "cursor_width", p.cursor_w);
        add_number(b, "cursor_height", p.cursor_h);
        add_number(b, "cursor_hot_x", p.cursor_hot_x);
        add_number(b, "cursor_hot_y", p.cursor_hot_y);
        add_number(b, "cursor_opaque", p.cursor_opaque);
        add_number(b, "cursor_moves", p.cursor_moves);
        json_builder_set_member_name(b, "server_closed");
        json_builder_add_boolean_value(b, p.server_closed);
        json_builder_set_member_name(b, "stopped");
        json_builder_add_boolean_value(b, p.stopped);
        json_builder_set_member_name(b, "webdav_channel");
        json_builder_add_boolean_value(b, p.webdav_channel);
        add_number(b, "usbredir_channels", p.usbredir_channels);
        json_builder_set_member_name(b, "usb_errors");
        json_builder_begin_array(b);
        for (guint i = 0; i < p.usb_errors->len; i++)
            json_builder_add_string_value(b, g_ptr_array_index(p.usb_errors, i));
        json_builder_end_array(b);
        /* 1: server mode (the client grabs the pointer), 2: client mode;
         * at the end, and when --input was sent. */
        gint mouse_mode = 0;
        if (p.main)
            g_object_get(p.main, "mouse-mode", &mouse_mode, NULL);
        add_number(b, "mouse_mode", mouse_mode);
        add_number(b, "input_mouse_mode", p.input_mouse_mode);
        json_builder_set_member_name(b, "input_sent");
        json_builder_add_boolean_value(b, p.input_sent);
        add_number(b, "resize_ms", p.resized_us ? (p.resized_us - p.resize_sent_us) / 1000.0 : NAN);
        probe_sound_report(p.sound, b);
        if (p.flashes)
            probe_flashes_report(p.flashes, b);
        probe_clipboard_report(p.clipboard, b);
        if (p.transfer)
            probe_transfer_report(p.transfer, b);
        if (p.mic)
            probe_mic_report(p.mic, b);
        json_builder_set_member_name(b, "error");
        if (p.failure)
            json_builder_add_string_value(b, p.failure);
        else
            json_builder_add_null_value(b);
        json_builder_end_object(b);
        g_autoptr(JsonGenerator) gen = json_generator_new();
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        json_generator_set_root(gen, root);
        g_autofree char *text = json_generator_to_data(gen, NULL);
        printf("%s\n", text);
    } else {
        printf("frames %u (lost %u, decoded %.0f), %.1f fps, %ux%u, PSNR avg %.2f min %.2f dB, "
               "latency p50 %.1f p95 %.1f ms, %.0f bytes/s%s%s\n",
               p.frames, lost, decoded, fps, p.width, p.height,
               p.psnr_n ? p.psnr_sum / p.psnr_n : 0, p.psnr_min, p50, p95, bytes_per_s,
               p.failure ? "; error: " : "", p.failure ? p.failure : "");
    }
    /* Decoder threads call back into p: let the channels go first. A
     * channel's coroutine still running at exit holds the message it was
     * reading, which an instrumented probe reports as leaked: on a loaded
     * machine under ASan, ending takes more than a second. */
    p.ending = true;
    spice_session_disconnect(p.session);
    int64_t give_up = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (p.live_channels > 0 && g_get_monotonic_time() < give_up)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(1000);
    /* The channels' coroutines end in what is still dispatched. */
    while (g_get_monotonic_time() < give_up && g_main_context_iteration(NULL, FALSE))
        ;
    if (p.picture_idle)
        g_source_remove(p.picture_idle);
    probe_sound_destroy(p.sound);
    probe_flashes_destroy(p.flashes);
    g_ptr_array_unref(p.usb_errors);
    probe_clipboard_destroy(p.clipboard);
    probe_transfer_destroy(p.transfer);
    probe_mic_destroy(p.mic);
    g_object_unref(p.session);
    g_array_unref(p.latency_ms);
    g_array_unref(p.margin_ms);
    g_array_unref(p.transport_ms);
    g_array_unref(p.decode_ms);
    g_array_unref(p.wait_ms);
    g_hash_table_unref(p.decoded_frames);
    g_mutex_clear(&p.lock);
    sgl_reference_finish(&p.reference);
    g_main_loop_unref(p.loop);
    int status = p.failure ? 1 : 0;
    g_free(p.failure);
    return status;
}
