#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <pixman.h>

#include "adapt.h"
#include "encoder-thread.h"

/* Intervals of credit the max_fps schedule keeps: a frame that comes early
 * goes at once while the credit lasts, instead of waiting in the mailbox
 * for its due time. The long-run rate stays at most max_fps; a burst after
 * a quiet spell is at most this many frames. */
#define SGL_ENCODER_PACING_CREDIT 2

/* The frame waiting in the mailbox, or the last one the thread encoded:
 * pixels in a buffer of our own, or a dmabuf we hold a dup of. Taking a
 * pixel frame swaps the two buffers rather than copying: the mailbox then
 * holds the picture before, behind where the taken frame changed
 * (stale), and the next submit copies those areas too. */
struct held_frame {
    uint8_t *pixels;
    size_t size;
    uint32_t width, height, stride;
    enum sgl_format format;
    struct sgl_dmabuf dmabuf; /* fd -1: pixels */
    bool valid;               /* pixels hold a whole frame of this size */
};

struct sgl_encoder_thread {
    struct sgl_encoder *encoder;
    struct sgl_encoder_thread_callbacks cb;
    void *user;
    bool wait_for_consumer;
    uint32_t max_fps;
    int64_t refine_after_us; /* 0: never refine */
    GThread *thread;

    GMutex lock; /* everything below */
    GCond changed;
    bool stop;
    struct held_frame mailbox;
    pixman_region32_t damage; /* the mailbox against the work frame */
    pixman_region32_t stale;  /* where the mailbox is behind the work frame */
    bool pending;
    int64_t pts_us;
    int64_t submitted_us; /* when the pending frame came */
    bool keyframe;
    bool awaiting_consumer;
    bool paused;
    bool encoding; /* the encoder has a frame (the lock is dropped meanwhile) */
    int64_t next_encode_us;
    int64_t refine_at_us;   /* 0: nothing to refine */
    uint32_t refine_passes; /* of the picture now shown */
    uint32_t quiet_passes;  /* the last passes in a row that coded nothing */
    uint32_t new_target;    /* 0: none */
    struct sgl_adapt adapt;
    struct sgl_encoder_stats stats;

    struct held_frame work; /* the encoder thread's own */
};

static void held_release_dmabuf(struct held_frame *h)
{
    if (h->dmabuf.fd >= 0)
        close(h->dmabuf.fd);
    h->dmabuf.fd = -1;
}

static void held_finish(struct held_frame *h)
{
    held_release_dmabuf(h);
    g_free(h->pixels);
    *h = (struct held_frame){.dmabuf.fd = -1};
}

/* h holds a whole pixel frame of this size and format. */
static bool held_is_pixels(const struct held_frame *h, uint32_t width, uint32_t height,
                           enum sgl_format format)
{
    return h->pixels && h->width == width && h->height == height && h->format == format &&
           h->dmabuf.fd < 0 && h->valid;
}

/* Makes h a pixel frame of this size; false if its old content is void. */
static bool held_ensure_pixels(struct held_frame *h, uint32_t width, uint32_t height,
                               enum sgl_format format)
{
    bool same = held_is_pixels(h, width, height, format);
    held_release_dmabuf(h);
    size_t size = (size_t)width * 4 * height;
    if (h->size != size) {
        g_free(h->pixels);
        h->pixels = g_malloc(size);
        h->size = size;
    }
    h->width = width;
    h->height = height;
    h->stride = width * 4;
    h->format = format;
    return same;
}

static void copy_rect(struct held_frame *dst, const uint8_t *src, uint32_t src_stride,
                      const pixman_box32_t *b)
{
    size_t bytes = (size_t)(b->x2 - b->x1) * 4;
    for (int32_t y = b->y1; y < b->y2; y++)
        memcpy(dst->pixels + (size_t)y * dst->stride + (size_t)b->x1 * 4,
               src + (size_t)y * src_stride + (size_t)b->x1 * 4, bytes);
}

static int64_t now_us(void)
{
    return g_get_monotonic_time();
}

/* Caller holds the lock. A frame still waiting is being replaced: count why. */
static void count_drop(struct sgl_encoder_thread *t)
{
    if (t->paused) {
        t->stats.dropped_paused++;
    } else if (t->awaiting_consumer) {
        t->stats.dropped_pressure++;
        sgl_adapt_frame(&t->adapt, now_us(), true);
    } else if (!t->encoding && now_us() < t->next_encode_us) {
        t->stats.dropped_rate++; /* held back by the max_fps schedule */
    } else {
        t->stats.dropped_busy++; /* due, but the encoder had not got to it */
    }
}

bool sgl_encoder_thread_submit(struct sgl_encoder_thread *t, const struct sgl_frame *f,
                               GError **error)
{
    if (!sgl_encoder_frame_validate(f, error))
        return false;
    g_mutex_lock(&t->lock);
    t->stats.submitted++;
    struct held_frame *m = &t->mailbox;
    bool resized = f->width != m->width || f->height != m->height;
    if (!resized && !f->damage_all && f->n_damage == 0) {
        t->stats.unchanged++;
        g_mutex_unlock(&t->lock);
        return true;
    }
    if (t->pending)
        count_drop(t);
    t->submitted_us = now_us();

    pixman_region32_t frame_damage;
    if (resized || f->damage_all) {
        pixman_region32_init_rect(&frame_damage, 0, 0, f->width, f->height);
    } else {
        pixman_box32_t boxes[SGL_ENCODER_MAX_RECTS];
        for (uint32_t i = 0; i < f->n_damage; i++)
            boxes[i] = (pixman_box32_t){(int32_t)f->damage[i].x, (int32_t)f->damage[i].y,
                                        (int32_t)(f->damage[i].x + f->damage[i].width),
                                        (int32_t)(f->damage[i].y + f->damage[i].height)};
        pixman_region32_init_rects(&frame_damage, boxes, (int)f->n_damage);
    }

    if (f->dmabuf.fd >= 0) {
        /* Zero copy: the dmabuf's content is read when it is encoded. */
        int fd = dup(f->dmabuf.fd);
        if (fd < 0) {
            pixman_region32_fini(&frame_damage);
            g_mutex_unlock(&t->lock);
            g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_FAILED, "dup: %s",
                        g_strerror(errno));
            return false;
        }
        held_release_dmabuf(m);
        m->dmabuf = f->dmabuf;
        m->dmabuf.fd = fd;
        m->width = f->width;
        m->height = f->height;
        m->valid = false;
    } else {
        /* f holds a whole picture: what the mailbox lacks comes from it. */
        pixman_region32_t copy;
        pixman_region32_init(&copy);
        if (!held_ensure_pixels(m, f->width, f->height, f->format))
            pixman_region32_reset(&copy,
                                  &(pixman_box32_t){0, 0, (int32_t)f->width, (int32_t)f->height});
        else
            pixman_region32_union(&copy, &frame_damage, &t->stale);
        int n;
        const pixman_box32_t *b = pixman_region32_rectangles(&copy, &n);
        for (int i = 0; i < n; i++)
            copy_rect(m, f->pixels, f->stride, &b[i]);
        pixman_region32_fini(&copy);
        m->valid = true;
    }
    pixman_region32_clear(&t->stale);
    if (resized)
        pixman_region32_clear(&t->damage);
    pixman_region32_union(&t->damage, &t->damage, &frame_damage);
    pixman_region32_fini(&frame_damage);
    t->pending = true;
    t->pts_us = f->pts_us;
    g_cond_signal(&t->changed);
    g_mutex_unlock(&t->lock);
    return true;
}

bool sgl_encoder_thread_snapshot(struct sgl_encoder_thread *t, uint8_t **pixels, uint32_t *width,
                                 uint32_t *height, enum sgl_format *format)
{
    g_mutex_lock(&t->lock);
    /* The newest whole frame: the mailbox, and the work frame where the
     * mailbox is stale. */
    const struct held_frame *m = &t->mailbox;
    bool ok = m->pixels && m->valid && m->dmabuf.fd < 0;
    if (ok) {
        *pixels = g_memdup2(m->pixels, (gsize)m->stride * m->height);
        /* Where the mailbox is stale, the work frame is newer (the
         * encoder only reads it meanwhile). */
        struct held_frame copy = *m;
        copy.pixels = *pixels;
        int n;
        const pixman_box32_t *b = pixman_region32_rectangles(&t->stale, &n);
        for (int i = 0; i < n; i++)
            copy_rect(&copy, t->work.pixels, t->work.stride, &b[i]);
        *width = m->width;
        *height = m->height;
        *format = m->format;
    }
    g_mutex_unlock(&t->lock);
    return ok;
}

/* Caller holds the lock. Moves the mailbox into the work frame; fills the
 * frame to encode and its damage. */
static void take_frame(struct sgl_encoder_thread *t, struct sgl_frame *f, struct sgl_rect *rects,
                       uint32_t *n_rects)
{
    struct held_frame *m = &t->mailbox, *w = &t->work;
    int n = 0;
    const pixman_box32_t *b = pixman_region32_rectangles(&t->damage, &n);
    pixman_box32_t extents = *pixman_region32_extents(&t->damage);
    if (n > (int)SGL_ENCODER_MAX_RECTS) {
        b = &extents;
        n = 1;
    }
    if (m->dmabuf.fd >= 0) {
        held_release_dmabuf(w);
        w->dmabuf = m->dmabuf;
        w->width = m->width;
        w->height = m->height;
        w->valid = false;
        m->dmabuf.fd = -1; /* the work frame owns the fd now */
    } else if (held_is_pixels(w, m->width, m->height, m->format)) {
        struct held_frame older = *w;
        *w = *m;
        *m = older;
        pixman_region32_copy(&t->stale, &t->damage);
    } else {
        if (!held_ensure_pixels(w, m->width, m->height, m->format)) {
            extents = (pixman_box32_t){0, 0, (int32_t)m->width, (int32_t)m->height};
            b = &extents;
            n = 1;
        }
        for (int i = 0; i < n; i++)
            copy_rect(w, m->pixels, m->stride, &b[i]);
        w->valid = true;
    }
    for (int i = 0; i < n; i++)
        rects[i] = (struct sgl_rect){(uint32_t)b[i].x1, (uint32_t)b[i].y1,
                                     (uint32_t)(b[i].x2 - b[i].x1), (uint32_t)(b[i].y2 - b[i].y1)};
    *n_rects = (uint32_t)n;
    pixman_region32_clear(&t->damage);
    t->pending = false;
    *f = (struct sgl_frame){.width = w->width,
                            .height = w->height,
                            .format = w->format,
                            .pixels = w->dmabuf.fd >= 0 ? NULL : w->pixels,
                            .stride = w->stride,
                            .dmabuf = w->dmabuf,
                            .damage = rects,
                            .n_damage = *n_rects,
                            .pts_us = t->pts_us};
}

/* The last encoded frame again, unchanged (for a keyframe on demand). */
static bool last_frame(struct sgl_encoder_thread *t, struct sgl_frame *f)
{
    struct held_frame *w = &t->work;
    if (!w->valid && w->dmabuf.fd < 0)
        return false;
    *f = (struct sgl_frame){.width = w->width,
                            .height = w->height,
                            .format = w->format,
                            .pixels = w->dmabuf.fd >= 0 ? NULL : w->pixels,
                            .stride = w->stride,
                            .dmabuf = w->dmabuf,
                            .pts_us = t->pts_us};
    return true;
}

/* Caller holds the lock. When the thread may next encode: INT64_MAX while
 * there is nothing to do or it may not. */
static int64_t due_us(struct sgl_encoder_thread *t)
{
    if (t->paused || (t->wait_for_consumer && t->awaiting_consumer))
        return INT64_MAX;
    if (t->pending || (t->keyframe && (t->work.valid || t->work.dmabuf.fd >= 0)))
        return t->next_encode_us;
    if (t->refine_at_us)
        return MAX(t->refine_at_us, t->next_encode_us);
    return INT64_MAX;
}

/* Caller holds the lock. A refine goes out only to a consumer that has kept
 * up: while adaptation holds the bitrate down, a burst would only add to
 * the backlog. */
static bool may_refine(struct sgl_encoder_thread *t)
{
    return t->stats.bitrate_kbps >= t->stats.target_kbps;
}

/* Caller holds the lock, after an access unit. Refine passes go a frame
 * interval apart until SGL_ENCODER_REFINE_QUIET in a row settle the
 * picture, or the passes reach SGL_ENCODER_REFINE_SECONDS of frames. */
static void schedule_refine(struct sgl_encoder_thread *t, bool refine, bool settled,
                            int64_t started)
{
    if (!t->refine_after_us || t->pending)
        return;
    if (!refine) {
        t->refine_at_us = started + t->refine_after_us;
        t->refine_passes = 0;
        t->quiet_passes = 0;
        return;
    }
    t->quiet_passes = settled ? t->quiet_passes + 1 : 0;
    /* A frame interval after this pass started, whatever credit the
     * frame schedule holds: refine passes never go back to back. */
    if (t->quiet_passes < SGL_ENCODER_REFINE_QUIET &&
        ++t->refine_passes < SGL_ENCODER_REFINE_SECONDS * t->max_fps)
        t->refine_at_us = started + 1000000 / t->max_fps;
}

static gpointer run(gpointer data)
{
    struct sgl_encoder_thread *t = data;
    struct sgl_rect rects[SGL_ENCODER_MAX_RECTS];
    g_mutex_lock(&t->lock);
    for (;;) {
        int64_t due;
        while (!t->stop && (due = due_us(t)) > now_us()) {
            if (due == INT64_MAX)
                g_cond_wait(&t->changed, &t->lock);
            else
                g_cond_wait_until(&t->changed, &t->lock, due);
        }
        if (t->stop)
            break;
        bool refine = !t->pending && !t->keyframe;
        int64_t submitted = t->pending ? t->submitted_us : 0;
        t->refine_at_us = 0;
        if (refine && !may_refine(t))
            continue;
        struct sgl_frame frame;
        uint32_t n_rects = 0;
        if (t->pending)
            take_frame(t, &frame, rects, &n_rects);
        else if (!refine)
            last_frame(t, &frame);
        bool keyframe = t->keyframe;
        t->keyframe = false;
        if (t->new_target) {
            sgl_adapt_set_target(&t->adapt, t->new_target, now_us());
            t->stats.target_kbps = t->new_target;
            t->new_target = 0;
        }
        uint32_t kbps = sgl_adapt_frame(&t->adapt, now_us(), false);
        int64_t started = now_us();
        /* Due times follow from the last due time, not from when the
         * encode started: a frame a little late (arrival jitter, a slow
         * wake-up) does not push the next one into the same interval,
         * where it would replace it. At most SGL_ENCODER_PACING_CREDIT
         * intervals of credit are kept, so an idle stream bursts no more
         * than that. */
        int64_t interval = 1000000 / t->max_fps;
        t->next_encode_us =
            MAX(t->next_encode_us + interval, started - (SGL_ENCODER_PACING_CREDIT - 1) * interval);
        t->encoding = true;
        g_mutex_unlock(&t->lock);

        g_autoptr(GError) error = NULL;
        bool bitrate_changed = false;
        if (kbps != sgl_encoder_get_bitrate(t->encoder)) {
            bitrate_changed = sgl_encoder_set_bitrate(t->encoder, kbps, &error);
            g_clear_error(&error);
        }
        if (keyframe)
            sgl_encoder_request_keyframe(t->encoder);
        struct sgl_encoder_au au;
        bool settled = false;
        enum sgl_encode_result r =
            refine ? sgl_encoder_refine(t->encoder, started, &au, &settled, &error)
                   : sgl_encoder_encode(t->encoder, &frame, &au, &error);

        g_mutex_lock(&t->lock);
        t->encoding = false;
        t->stats.bitrate_kbps = sgl_encoder_get_bitrate(t->encoder);
        t->stats.bitrate_changes += bitrate_changed;
        if (r == SGL_ENCODE_OK) {
            t->stats.encoded++;
            t->stats.refined += refine;
            t->stats.bytes += au.size;
            t->stats.keyframes += au.keyframe;
            if (!refine) {
                int64_t done = now_us();
                t->stats.encode_us += (uint64_t)(done - started);
                if (submitted)
                    t->stats.wait_us += (uint64_t)MAX(started - submitted, 0);
            }
            t->awaiting_consumer = t->wait_for_consumer;
            schedule_refine(t, refine, settled, started);
        } else if (r == SGL_ENCODE_ERROR) {
            t->stats.errors++;
        }
        g_mutex_unlock(&t->lock);
        au.refined = refine;
        /* Outside the lock: a consumer may call au_done from here. */
        if (r == SGL_ENCODE_OK && t->cb.access_unit)
            t->cb.access_unit(&au, t->user);
        else if (r == SGL_ENCODE_ERROR && t->cb.error)
            t->cb.error(error, t->user);
        g_mutex_lock(&t->lock);
    }
    g_mutex_unlock(&t->lock);
    return NULL;
}

struct sgl_encoder_thread *sgl_encoder_thread_create(const struct sgl_encoder_config *config,
                                                     bool wait_for_consumer,
                                                     const struct sgl_encoder_thread_callbacks *cb,
                                                     void *user, GError **error)
{
    struct sgl_encoder *enc = sgl_encoder_create(config, error);
    if (!enc)
        return NULL;
    struct sgl_encoder_thread *t = g_new0(struct sgl_encoder_thread, 1);
    t->encoder = enc;
    t->cb = cb ? *cb : (struct sgl_encoder_thread_callbacks){0};
    t->user = user;
    t->wait_for_consumer = wait_for_consumer;
    t->max_fps = config && config->max_fps ? config->max_fps : 30;
    if (config && config->refine_ms && sgl_encoder_can_refine(enc))
        t->refine_after_us = (int64_t)config->refine_ms * 1000;
    t->mailbox.dmabuf.fd = t->work.dmabuf.fd = -1;
    g_mutex_init(&t->lock);
    g_cond_init(&t->changed);
    pixman_region32_init(&t->damage);
    pixman_region32_init(&t->stale);
    uint32_t kbps = sgl_encoder_get_bitrate(enc);
    sgl_adapt_init(&t->adapt, kbps, now_us());
    t->stats.bitrate_kbps = t->stats.target_kbps = kbps;
    t->thread = g_thread_new("sgl-encoder", run, t);
    return t;
}

void sgl_encoder_thread_destroy(struct sgl_encoder_thread *t)
{
    if (!t)
        return;
    g_mutex_lock(&t->lock);
    t->stop = true;
    g_cond_signal(&t->changed);
    g_mutex_unlock(&t->lock);
    g_thread_join(t->thread);
    sgl_encoder_destroy(t->encoder);
    held_finish(&t->mailbox);
    held_finish(&t->work);
    pixman_region32_fini(&t->damage);
    pixman_region32_fini(&t->stale);
    g_mutex_clear(&t->lock);
    g_cond_clear(&t->changed);
    g_free(t);
}

void sgl_encoder_thread_set_paused(struct sgl_encoder_thread *t, bool paused)
{
    g_mutex_lock(&t->lock);
    t->paused = paused;
    g_cond_signal(&t->changed);
    g_mutex_unlock(&t->lock);
}

void sgl_encoder_thread_request_keyframe(struct sgl_encoder_thread *t)
{
    g_mutex_lock(&t->lock);
    t->keyframe = true;
    g_cond_signal(&t->changed);
    g_mutex_unlock(&t->lock);
}

void sgl_encoder_thread_au_done(struct sgl_encoder_thread *t)
{
    g_mutex_lock(&t->lock);
    t->awaiting_consumer = false;
    g_cond_signal(&t->changed);
    g_mutex_unlock(&t->lock);
}

void sgl_encoder_thread_set_bitrate(struct sgl_encoder_thread *t, uint32_t kbps)
{
    g_mutex_lock(&t->lock);
    t->new_target = kbps ? kbps : 1;
    g_mutex_unlock(&t->lock);
}

void sgl_encoder_thread_get_stats(struct sgl_encoder_thread *t, struct sgl_encoder_stats *stats)
{
    g_mutex_lock(&t->lock);
    *stats = t->stats;
    g_mutex_unlock(&t->lock);
}

const char *sgl_encoder_thread_backend_name(struct sgl_encoder_thread *t)
{
    return sgl_encoder_backend_name(t->encoder);
}
