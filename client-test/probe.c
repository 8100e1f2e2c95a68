/* spicegl-probe: a headless SPICE client (spice-client-glib) that measures
 * what a user would see. It reads the frame markers (common/marker.h) from
 * every display update and reports frames received and lost, fps, PSNR
 * against the regenerated frame (common/scene.h), latency from the marker's
 * timestamp to display, and bytes received; --json prints one line.
 *
 * Latency is host wall clock at display minus the marker's timestamp: valid
 * as is for a source on the same host (--synthetic); for a guest, its clock
 * offset has to be taken out (not yet done here). With spice-server <= 0.15
 * it includes the client's media-clock delay (~400 ms on this path). */
#include "config.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <spice-client.h>

#include "common/psnr.h"
#include "common/scene.h"

struct probe {
    GMainLoop *loop;
    SpiceSession *session;
    SpiceChannel *display;
    char *failure;
    /* measurements */
    bool have_first;
    uint32_t first, last, frames;
    int64_t first_us, last_us;
    GArray *latency_ms; /* double */
    double psnr_sum, psnr_min;
    uint32_t psnr_n, unreadable, width, height;
    uint8_t *reference;
    size_t reference_size;
    const char *screenshot;
    bool shot_taken;
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

static void on_invalidate(SpiceChannel *channel, gint x, gint y, gint w, gint h, gpointer data)
{
    struct probe *p = data;
    SpiceDisplayPrimary primary;
    if (!spice_display_channel_get_primary(channel, 0, &primary) || !primary.data)
        return;
    if (primary.format != SPICE_SURFACE_FMT_32_xRGB && primary.format != SPICE_SURFACE_FMT_32_ARGB)
        return;
    struct sgl_marker_image im = {primary.data, (uint32_t)primary.width, (uint32_t)primary.height,
                                  (uint32_t)primary.stride};
    struct sgl_marker m;
    if (!sgl_marker_read(&im, SGL_SCENE_MARKER_X, SGL_SCENE_MARKER_Y, SGL_SCENE_MARKER_BLOCK, &m)) {
        p->unreadable++;
        return;
    }
    if (p->have_first && m.frame == p->last)
        return;
    int64_t now = g_get_real_time();
    if (!p->have_first) {
        p->have_first = true;
        p->first = m.frame;
        p->first_us = now;
    }
    p->last = m.frame;
    p->last_us = now;
    p->frames++;
    double lat = (now - (int64_t)m.timestamp_us) / 1000.0;
    g_array_append_val(p->latency_ms, lat);
    p->width = im.width;
    p->height = im.height;
    size_t need = (size_t)im.width * im.height * 4;
    if (p->reference_size != need) {
        g_free(p->reference);
        p->reference = g_malloc(need);
        p->reference_size = need;
    }
    sgl_scene_render(p->reference, im.width, im.height, im.width * 4, SGL_SCENE_BGRX, &m);
    double psnr =
        sgl_psnr(primary.data, im.stride, p->reference, im.width * 4, im.width, im.height);
    if (psnr > 99)
        psnr = 99;
    p->psnr_sum += psnr;
    p->psnr_min = p->psnr_n ? MIN(p->psnr_min, psnr) : psnr;
    p->psnr_n++;
    if (p->screenshot && !p->shot_taken && p->frames >= 10) {
        p->shot_taken = write_png(p->screenshot, primary.data, im.width, im.height, im.stride);
        if (!p->shot_taken)
            g_warning("could not write %s", p->screenshot);
    }
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
    default:
        break;
    }
}

static void on_channel_new(SpiceSession *s, SpiceChannel *channel, gpointer data)
{
    struct probe *p = data;
    g_signal_connect(channel, "channel-event", G_CALLBACK(on_channel_event), p);
    if (SPICE_IS_DISPLAY_CHANNEL(channel)) {
        gint id;
        g_object_get(channel, "channel-id", &id, NULL);
        if (id != 0)
            return;
        p->display = channel;
        g_signal_connect(channel, "display-invalidate", G_CALLBACK(on_invalidate), p);
        spice_channel_connect(channel);
    } else if (!SPICE_IS_MAIN_CHANNEL(channel)) {
        spice_channel_connect(channel);
    }
}

static gboolean on_timeout(gpointer data)
{
    g_main_loop_quit(((struct probe *)data)->loop);
    return G_SOURCE_REMOVE;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(GArray *a, double q)
{
    if (!a->len)
        return NAN;
    g_array_sort(a, cmp_double);
    return g_array_index(a, double, MIN(a->len - 1, (guint)(q * a->len)));
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
    g_autofree char *unix_path = NULL, *ticket = NULL, *screenshot = NULL;
    gint seconds = 5;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        {"unix", 0, 0, G_OPTION_ARG_FILENAME, &unix_path, "Connect to this unix socket", "PATH"},
        {"ticket", 0, 0, G_OPTION_ARG_STRING, &ticket, "SPICE password", "TEXT"},
        {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "How long to record (default 5)", "S"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON line", NULL},
        {"screenshot", 0, 0, G_OPTION_ARG_FILENAME, &screenshot, "Write a PNG of the 10th frame",
         "FILE"},
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
    if ((argc != 2) == !unix_path || seconds < 1) {
        fprintf(stderr,
                "spicegl-probe: give one spice:// URI or --unix PATH, and --seconds >= 1\n");
        return 2;
    }
    struct probe p = {.loop = g_main_loop_new(NULL, FALSE),
                      .session = spice_session_new(),
                      .latency_ms = g_array_new(FALSE, FALSE, sizeof(double)),
                      .screenshot = screenshot};
    if (unix_path)
        g_object_set(p.session, "unix-path", unix_path, NULL);
    else
        g_object_set(p.session, "uri", argv[1], NULL);
    if (ticket)
        g_object_set(p.session, "password", ticket, NULL);
    g_signal_connect(p.session, "channel-new", G_CALLBACK(on_channel_new), &p);
    if (!spice_session_connect(p.session)) {
        fprintf(stderr, "spicegl-probe: cannot connect\n");
        return 1;
    }
    g_timeout_add_seconds((guint)seconds, on_timeout, &p);
    g_main_loop_run(p.loop);

    guint64 bytes = 0;
    if (p.display)
        g_object_get(p.display, "total-read-bytes", &bytes, NULL);
    double span_s = (p.last_us - p.first_us) / 1e6;
    uint32_t expected = p.have_first ? p.last - p.first + 1 : 0;
    uint32_t lost = expected - MIN(expected, p.frames);
    double fps = span_s > 0 ? (p.frames - 1) / span_s : 0;
    double p50 = percentile(p.latency_ms, 0.5), p95 = percentile(p.latency_ms, 0.95);
    if (json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        add_number(b, "frames", p.frames);
        add_number(b, "lost", lost);
        add_number(b, "fps", fps);
        add_number(b, "psnr_avg", p.psnr_n ? p.psnr_sum / p.psnr_n : NAN);
        add_number(b, "psnr_min", p.psnr_n ? p.psnr_min : NAN);
        add_number(b, "latency_p50_ms", p50);
        add_number(b, "latency_p95_ms", p95);
        add_number(b, "mmtime_offset_ms", NAN);
        add_number(b, "bytes_per_s", bytes / (double)seconds);
        add_number(b, "width", p.width);
        add_number(b, "height", p.height);
        add_number(b, "unreadable", p.unreadable);
        json_builder_set_member_name(b, "codec");
        json_builder_add_null_value(b);
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
        printf("frames %u (lost %u), %.1f fps, %ux%u, PSNR avg %.2f min %.2f dB, latency p50 %.1f "
               "p95 %.1f ms, %.0f bytes/s%s%s\n",
               p.frames, lost, fps, p.width, p.height, p.psnr_n ? p.psnr_sum / p.psnr_n : 0,
               p.psnr_min, p50, p95, bytes / (double)seconds, p.failure ? "; error: " : "",
               p.failure ? p.failure : "");
    }
    spice_session_disconnect(p.session);
    g_object_unref(p.session);
    g_array_unref(p.latency_ms);
    g_free(p.reference);
    g_main_loop_unref(p.loop);
    int status = p.failure ? 1 : 0;
    g_free(p.failure);
    return status;
}
