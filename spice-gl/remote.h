/* The remote path: frames -> encoder thread -> stream device -> clients.
 *
 * Nothing is encoded while no client watches (the server's START_STOP with
 * no codecs); a new set of clients gets a keyframe. H.264 when every client
 * can show it, else MJPEG (libjpeg-turbo). The encoder waits for the server to take each access
 * unit before it encodes the next (back-pressure), dropping frames meanwhile and lowering the
 * bitrate when that persists.
 *
 * Create and destroy on the server's main context; sgl_remote_submit may be
 * called from any one producer thread. */
#ifndef SGL_REMOTE_H
#define SGL_REMOTE_H

#include <glib.h>
#include <spice.h>

#include "encoder/encoder-thread.h"

struct sgl_remote;

struct sgl_remote *sgl_remote_create(SpiceServer *server, const struct sgl_encoder_config *config,
                                     GError **error);
void sgl_remote_destroy(struct sgl_remote *remote);

/* A frame from the producer: whole pixels, damage relative to the last
 * frame submitted. Never blocks. */
void sgl_remote_submit(struct sgl_remote *remote, const struct sgl_frame *frame);

/* The cursor, for the cursor channel (main context; see stream-device.h). */
void sgl_remote_cursor_set(struct sgl_remote *remote, uint16_t width, uint16_t height,
                           uint16_t hot_x, uint16_t hot_y, const uint32_t *argb);
void sgl_remote_cursor_move(struct sgl_remote *remote, int32_t x, int32_t y);

struct sgl_remote_stats {
    struct sgl_encoder_stats encoder;
    uint64_t sent;   /* access units taken by the server */
    uint64_t starts; /* client sets that started a stream */
    uint8_t codec;   /* SpiceVideoCodecType in use, 0 when stopped */
    /* The server's own share of latency, over the last new pictures sent
     * (at most 256; refine passes left out): from the frame's pts (when
     * the producer had it, before its read-back) to the server taking the
     * access unit's last byte. */
    uint32_t latency_samples;
    int64_t latency_p50_us, latency_p95_us;
};
/* Main context. */
void sgl_remote_get_stats(struct sgl_remote *remote, struct sgl_remote_stats *stats);

/* The newest picture of the display (see sgl_encoder_thread_snapshot). */
bool sgl_remote_snapshot(struct sgl_remote *remote, uint8_t **pixels, uint32_t *width,
                         uint32_t *height, enum sgl_format *format);

#endif
