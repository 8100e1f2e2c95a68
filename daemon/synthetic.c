#include "config.h"

#include "synthetic.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gio/gio.h>

#include "common/scene.h"

struct sgl_synthetic {
    struct sgl_source base;
    uint32_t width, height, fps;
    uint8_t *pixels; /* heap, or the memfd's mapping */
    bool memfd;
    int fd;
    size_t mapped;
    uint32_t frame;
    int64_t start_us;
    GSource *source;
    GMainContext *context; /* NULL: the global default */
    uint32_t next_width, next_height;
    struct sgl_source_listener cb;
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

static void free_pixels(struct sgl_synthetic *s)
{
    if (s->memfd && s->pixels)
        munmap(s->pixels, s->mapped);
    else
        g_free(s->pixels);
    if (s->fd >= 0)
        close(s->fd);
    s->pixels = NULL;
    s->fd = -1;
}

/* A new buffer, never a resized one: a consumer may still hold the old fd. */
static bool alloc_pixels(struct sgl_synthetic *s, uint32_t width, uint32_t height, GError **error)
{
    size_t size = (size_t)width * height * 4;
    if (!s->memfd) {
        free_pixels(s);
        s->pixels = g_malloc0(size);
        return true;
    }
    int fd = memfd_create("spicegl-synthetic", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "memfd: %s",
                    g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "mmap: %s", g_strerror(errno));
        close(fd);
        return false;
    }
    free_pixels(s);
    s->fd = fd;
    s->pixels = map;
    s->mapped = size;
    return true;
}

#define CURSOR_SIZE 32

/* An arrow: opaque white with a black outline, hot spot at its tip. */
static void draw_cursor(uint32_t *argb)
{
    for (int y = 0; y < CURSOR_SIZE; y++)
        for (int x = 0; x < CURSOR_SIZE; x++) {
            uint32_t v = 0;
            if (x <= y / 2 + 1 && y < 24)
                v = (x == 0 || x >= y / 2 || y == 23) ? 0xff000000 : 0xffffffff;
            argb[y * CURSOR_SIZE + x] = v;
        }
}

static void move_cursor(struct sgl_synthetic *s)
{
    if (!s->cb.cursor_move)
        return;
    double t = s->frame * 2 * G_PI / (4.0 * s->fps); /* one turn in 4 s */
    s->cb.cursor_move(s->user, 0, (int32_t)(s->width / 2 + s->width / 4 * cos(t)),
                      (int32_t)(s->height / 2 + s->height / 4 * sin(t)));
}

static gboolean produce(gpointer data)
{
    struct sgl_synthetic *s = data;
    if (s->cb.ready && !s->cb.ready(s->user)) {
        s->frame++;
        schedule(s);
        return G_SOURCE_REMOVE;
    }
    if (s->next_width != s->width || s->next_height != s->height) {
        g_autoptr(GError) error = NULL;
        if (alloc_pixels(s, s->next_width, s->next_height, &error)) {
            s->width = s->next_width;
            s->height = s->next_height;
        } else {
            g_warning("synthetic: cannot resize to %ux%u: %s", s->next_width, s->next_height,
                      error->message);
            s->next_width = s->width;
            s->next_height = s->height;
        }
    }
    struct sgl_marker m = {.frame = s->frame, .timestamp_us = (uint64_t)g_get_real_time()};
    sgl_scene_render(s->pixels, s->width, s->height, s->width * 4, SGL_SCENE_BGRX, &m);
    struct sgl_scene_rect changed[2];
    struct sgl_rect damage[2];
    uint32_t n = sgl_scene_changes(s->width, s->height, changed);
    for (uint32_t k = 0; k < n; k++)
        damage[k] = (struct sgl_rect){changed[k].x, changed[k].y, changed[k].w, changed[k].h};
    struct sgl_frame f = {.width = s->width,
                          .height = s->height,
                          .format = SGL_FORMAT_BGRX,
                          .pixels = s->pixels,
                          .stride = s->width * 4,
                          .dmabuf = {.fd = s->memfd ? s->fd : -1,
                                     .fourcc = 0x34325258, /* XRGB8888 */
                                     .stride = s->width * 4},
                          .damage_all = s->frame == 0,
                          .damage = damage,
                          .n_damage = n,
                          .pts_us = g_get_monotonic_time()};
    s->cb.frame(s->user, 0, &f);
    move_cursor(s);
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

static const struct sgl_source_impl synthetic_impl;

static struct sgl_synthetic *from_source(struct sgl_source *source)
{
    g_assert(source->impl == &synthetic_impl);
    return (struct sgl_synthetic *)source;
}

static void synthetic_start(struct sgl_source *source)
{
    struct sgl_synthetic *s = from_source(source);
    if (s->source)
        return;
    s->start_us = g_get_monotonic_time();
    schedule(s);
}

static void synthetic_destroy(struct sgl_source *source)
{
    struct sgl_synthetic *s = from_source(source);
    if (s->source) {
        g_source_destroy(s->source);
        g_source_unref(s->source);
    }
    free_pixels(s);
    g_free(s);
}

static uint64_t synthetic_frames(struct sgl_source *source)
{
    return from_source(source)->frame;
}

/* The next frame has this size, clamped to 16..8192 and rounded down to
 * even, as a guest's mode would be. */
static void synthetic_request_mode(struct sgl_source *source, uint32_t output, uint32_t width,
                                   uint32_t height)
{
    struct sgl_synthetic *s = from_source(source);
    (void)output;
    s->next_width = CLAMP(width, 16u, 8192u) & ~1u;
    s->next_height = CLAMP(height, 16u, 8192u) & ~1u;
    g_message("a client asks for %ux%u: the source is now %ux%u", width, height, s->next_width,
              s->next_height);
}

static const struct sgl_source_impl synthetic_impl = {
    .start = synthetic_start,
    .request_mode = synthetic_request_mode,
    .frames = synthetic_frames,
    .destroy = synthetic_destroy,
};

struct sgl_source *sgl_synthetic_create(const struct sgl_synthetic_config *config,
                                        const struct sgl_source_listener *listener, void *user,
                                        GError **error)
{
    struct sgl_synthetic *s = g_new0(struct sgl_synthetic, 1);
    s->base = (struct sgl_source){&synthetic_impl, 1, config->memfd};
    s->fd = -1;
    s->memfd = config->memfd;
    if (!alloc_pixels(s, config->width, config->height, error)) {
        g_free(s);
        return NULL;
    }
    s->width = s->next_width = config->width;
    s->height = s->next_height = config->height;
    s->fps = config->fps;
    s->cb = *listener;
    s->user = user;
    if (s->cb.cursor_set) {
        uint32_t argb[CURSOR_SIZE * CURSOR_SIZE];
        draw_cursor(argb);
        s->cb.cursor_set(user, 0, CURSOR_SIZE, CURSOR_SIZE, 0, 0, argb);
    }
    s->context = g_main_context_get_thread_default();
    return &s->base;
}
