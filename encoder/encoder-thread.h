/* Runs an sgl_encoder on a thread of its own, behind a latest-frame-wins
 * mailbox.
 *
 * Producers submit frames; submitting copies the frame's damaged pixels
 * into the mailbox (or keeps a dup of its dmabuf fd) and returns: it never
 * waits for an encode. A frame submitted while an older one still waits
 * replaces it, and the damage of both is merged, so nothing drawn is lost.
 *
 * The thread encodes at most max_fps frames a second and, with
 * wait_for_consumer, nothing new until the consumer said the previous
 * access unit was sent (sgl_encoder_thread_au_done): frames are dropped,
 * never queued. Sustained drops of that kind lower the bitrate (adapt.h),
 * which recovers when the consumer keeps up.
 *
 * With config->refine_ms, a picture that stays unchanged that long is coded
 * again at high quality (sgl_encoder_refine), in passes of one frame's
 * budget a frame interval apart until one settles it
 * (SGL_ENCODER_REFINE_SECONDS x max_fps passes at most), unless
 * back-pressure holds the bitrate down. A new frame ends the refining.
 *
 * Access units are handed to callbacks.access_unit on the encoder thread;
 * the data is valid during the call only. */
#ifndef SGL_ENCODER_THREAD_H
#define SGL_ENCODER_THREAD_H

#include "encoder.h"

struct sgl_encoder_thread_callbacks {
    void (*access_unit)(const struct sgl_encoder_au *au, void *user);
    /* A frame could not be encoded; the thread goes on with the next. */
    void (*error)(const GError *error, void *user);
};

struct sgl_encoder_stats {
    uint64_t submitted;        /* frames given to submit */
    uint64_t encoded;          /* access units produced */
    uint64_t unchanged;        /* submitted with no damage, nothing to do */
    uint64_t dropped_pressure; /* replaced while the consumer was behind */
    uint64_t dropped_rate;     /* replaced while the max_fps schedule held it back */
    uint64_t dropped_busy;     /* replaced while due: the encoder was still on the
                                * last one or not yet woken (the host too busy) */
    uint64_t dropped_paused;   /* replaced while paused (no client watching) */
    uint64_t keyframes;
    uint64_t refined; /* refine passes (refine_ms) */
    uint64_t bytes;
    uint64_t errors;
    uint32_t bitrate_kbps; /* in use now */
    uint32_t target_kbps;
    uint64_t bitrate_changes; /* adaptation steps taken */
    /* Time new pictures (encoded - refined) spent, summed: waiting in the
     * mailbox (from submit to the encode's start), and encoding. */
    uint64_t wait_us, encode_us;
};

struct sgl_encoder_thread;

/* wait_for_consumer: see above; without it every access unit is handed
 * over as soon as it is made. */
struct sgl_encoder_thread *sgl_encoder_thread_create(const struct sgl_encoder_config *config,
                                                     bool wait_for_consumer,
                                                     const struct sgl_encoder_thread_callbacks *cb,
                                                     void *user, GError **error);

/* Stops the thread (finishing an encode in progress). Accepts NULL. */
void sgl_encoder_thread_destroy(struct sgl_encoder_thread *thread);

/* Validates and takes the frame; false with an error for an invalid one
 * (the mailbox is left as it was). */
bool sgl_encoder_thread_submit(struct sgl_encoder_thread *thread, const struct sgl_frame *frame,
                               GError **error);

/* While paused (no consumer) frames still go to the mailbox, latest wins,
 * but nothing is encoded: on resume the newest picture is encoded first,
 * never one drawn before the pause. Threads start unpaused. */
void sgl_encoder_thread_set_paused(struct sgl_encoder_thread *thread, bool paused);

void sgl_encoder_thread_request_keyframe(struct sgl_encoder_thread *thread);

/* The consumer sent the last access unit. */
void sgl_encoder_thread_au_done(struct sgl_encoder_thread *thread);

/* A new target bitrate (adaptation starts from it). */
void sgl_encoder_thread_set_bitrate(struct sgl_encoder_thread *thread, uint32_t kbps);

void sgl_encoder_thread_get_stats(struct sgl_encoder_thread *thread,
                                  struct sgl_encoder_stats *stats);

/* A copy of the newest frame submitted, whole: pixels (g_free) of width x
 * height, width * 4 bytes a row, in *format. False when there is none
 * yet, or it came as a dmabuf. Any thread. */
bool sgl_encoder_thread_snapshot(struct sgl_encoder_thread *thread, uint8_t **pixels,
                                 uint32_t *width, uint32_t *height, enum sgl_format *format);

const char *sgl_encoder_thread_backend_name(struct sgl_encoder_thread *thread);

#endif
