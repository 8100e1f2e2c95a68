#include "config.h"

#include "synthetic.h"

#include <stdio.h>

#include "common/scene.h"

struct sgl_synthetic {
    uint32_t width, height, fps;
    uint8_t *pixels;
    uint32_t frame;
    int64_t start_us;
    GSource *source;
    GMainContext *context; /* NULL: the global default */
    sgl_synthetic_frame_fn fn;
    void *user;
};

bool sgl_synthetic_parse(const char *spec, uint32_t *width, uint32_t *height, uint32_t *fps,
                         GError **error)
{
    unsigned w = 0, h = 0, f = 0;
    char tail;
    if (!spec || sscanf(spec, "%ux%u@%u%c", &w, &h, &f, &tail) != 3 || w < 16 || h < 16 ||
        w > 8192 || h > 8192 || f < 1 || f > 240) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--synthetic wants WIDTHxHEIGHT@FPS with sizes 16..8192 and 1..240 fps, "
                    "e.g. --synthetic 1280x720@30 (got '%s')",
                    spec ? spec : "");
        return false;
    }
    *width = w;
    *height = h;
    *fps = f;
    return true;
}

static void schedule(struct sgl_synthetic *s);

static gboolean produce(gpointer data)
{
    struct sgl_synthetic *s = data;
    struct sgl_marker m = {.frame = s->frame, .timestamp_us = (uint64_t)g_get_real_time()};
    sgl_scene_render(s->pixels, s->width, s->height, s->width * 4, SGL_SCENE_BGRX, &m);
    struct sgl_scene_rect changed[2];
    struct sgl_encoder_rect damage[2];
    uint32_t n = sgl_scene_changes(s->width, s->height, changed);
    for (uint32_t k = 0; k < n; k++)
        damage[k] =
            (struct sgl_encoder_rect){changed[k].x, changed[k].y, changed[k].w, changed[k].h};
    struct sgl_encoder_frame f = {.width = s->width,
                                  .height = s->height,
                                  .format = SGL_ENCODER_BGRX,
                                  .pixels = s->pixels,
                                  .stride = s->width * 4,
                                  .dmabuf.fd = -1,
                                  .damage_all = s->frame == 0,
                                  .damage = damage,
                                  .n_damage = n,
                                  .pts_us = (int64_t)m.timestamp_us};
    s->fn(&f, s->user);
    s->frame++;
    schedule(s);
    return G_SOURCE_REMOVE;
}

/* One-shot timeouts aimed at absolute deadlines: no drift over a long run;
 * a late frame is followed at once by the next, never by a burst. */
static void schedule(struct sgl_synthetic *s)
{
    int64_t due = s->start_us + (int64_t)s->frame * 1000000 / s->fps;
    int64_t now = g_get_monotonic_time();
    if (due < now - 1000000 / s->fps) {
        /* More than a frame behind (a stalled main loop): re-anchor. */
        s->start_us = now - (int64_t)s->frame * 1000000 / s->fps;
        due = now;
    }
    if (s->source) {
        g_source_destroy(s->source);
        g_source_unref(s->source);
    }
    s->source = g_timeout_source_new((guint)MAX(0, (due - now + 999) / 1000));
    g_source_set_callback(s->source, produce, s, NULL);
    g_source_attach(s->source, s->context);
}

struct sgl_synthetic *sgl_synthetic_create(uint32_t width, uint32_t height, uint32_t fps,
                                           sgl_synthetic_frame_fn fn, void *user)
{
    struct sgl_synthetic *s = g_new0(struct sgl_synthetic, 1);
    s->width = width;
    s->height = height;
    s->fps = fps;
    s->fn = fn;
    s->user = user;
    s->pixels = g_malloc0((size_t)width * height * 4);
    s->start_us = g_get_monotonic_time();
    s->context = g_main_context_get_thread_default();
    schedule(s);
    return s;
}

void sgl_synthetic_destroy(struct sgl_synthetic *s)
{
    if (!s)
        return;
    g_source_destroy(s->source);
    g_source_unref(s->source);
    g_free(s->pixels);
    g_free(s);
}

uint64_t sgl_synthetic_frames(const struct sgl_synthetic *s)
{
    return s->frame;
}
