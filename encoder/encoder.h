/* encoder/: 32-bit frames (pixels or a dmabuf) in, H.264 Annex-B access
 * units out (SPS/PPS repeated on every IDR). Backends: libx264 driven
 * directly ("x264"), or a GStreamer encoder element ("gst:<element>", with
 * hardware encoders preferred by "gst" and "auto"). "mjpeg" (libjpeg-turbo)
 * makes one JPEG per frame instead, for clients without H.264.
 *
 * This header is the synchronous core: one call encodes one frame on the
 * caller's thread. encoder-thread.h runs it on a thread of its own behind a
 * latest-frame-wins mailbox.
 *
 * Ownership: the caller owns frames and their pixels/fds; the encoder only
 * reads them during sgl_encoder_encode. An access unit's data belongs to the
 * encoder and stays valid until the next call on the same encoder. */
#ifndef SGL_ENCODER_H
#define SGL_ENCODER_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "common/frame.h"

#define SGL_ENCODER_MAX_DIM   8192u /* per side; larger frames are rejected */
#define SGL_ENCODER_MAX_RECTS 64u   /* damage rectangles per frame */

enum sgl_encoder_rc {
    SGL_ENCODER_RC_BITRATE, /* target bitrate_kbps, VBV of one frame */
    SGL_ENCODER_RC_QUALITY, /* constant quality (CRF/QP 0..51), bitrate_kbps caps it if set */
};

struct sgl_encoder_config {
    const char *backend; /* "auto" (default), "x264", "gst", "gst:<element>" or "mjpeg" */
    enum sgl_encoder_rc rc;
    uint32_t bitrate_kbps; /* default 8000 */
    uint32_t quality;      /* default 23 */
    uint32_t max_fps;      /* default 30; sizes the VBV and paces rate control */
    const char *preset;    /* x264 preset, default "ultrafast" */
    uint32_t keyint;       /* frames between IDRs; 0 = only on demand */
    bool intra_refresh;    /* periodic intra refresh waves instead of IDRs */
    uint32_t threads;      /* encoder threads; 0 = backend default */
    /* A picture that stopped changing is coded again at refine_qp
     * (sgl_encoder_refine): a static desktop ends up near lossless rather
     * than at the stream's quality. 0 = SGL_ENCODER_REFINE_QP. */
    uint32_t refine_qp;
    /* encoder-thread.h only: how long a picture must stay unchanged before
     * it is refined; 0 = never. */
    uint32_t refine_ms;
};

#define SGL_ENCODER_REFINE_QP 16u
/* Refining one picture costs at most this many seconds of the stream: a
 * pass is held to one frame's budget, so passes <= seconds x max_fps. A low
 * bitrate takes many (500 kbit/s at 1280x800: about 40); at 8 Mbit/s the
 * first pass settles it. */
#define SGL_ENCODER_REFINE_SECONDS 2u
/* A picture is settled when this many passes in a row found nothing left to
 * code. One is not enough: with sliced threads, x264's VBV accounts the
 * slices' bits as they run, and a pass it starves comes out as skipped
 * macroblocks too, long before the picture is refined. */
#define SGL_ENCODER_REFINE_QUIET 3u

struct sgl_encoder_au {
    const uint8_t *data; /* Annex-B, SPS/PPS before every IDR */
    size_t size;
    int64_t pts_us;
    bool keyframe;
    bool refined; /* a refine pass over an unchanged picture (encoder-thread.h), not a new one */
    /* The coded size a decoder outputs: the frame's, rounded up to even and
     * to at least 16 (4:2:0 cannot code odd sizes; some encoders refuse less
     * than a macroblock). The padding repeats the frame's last column/row. */
    uint32_t width, height;
};

enum sgl_encode_result {
    SGL_ENCODE_ERROR = -1,
    SGL_ENCODE_UNCHANGED = 0, /* nothing changed: no access unit */
    SGL_ENCODE_OK = 1,        /* *au holds one access unit */
};

struct sgl_encoder;

/* Chooses and opens the backend. A named backend that is not available is
 * an error, never a silent fallback. */
struct sgl_encoder *sgl_encoder_create(const struct sgl_encoder_config *config, GError **error);

void sgl_encoder_destroy(struct sgl_encoder *encoder); /* accepts NULL */

/* Validates and encodes one frame. Invalid frames (zero or absurd sizes,
 * stride < width * 4, no data, damage outside the frame) are an error and
 * leave the encoder as it was. A size change starts a new stream (IDR). */
enum sgl_encode_result sgl_encoder_encode(struct sgl_encoder *encoder,
                                          const struct sgl_frame *frame, struct sgl_encoder_au *au,
                                          GError **error);

/* The next frame is an IDR with SPS/PPS, even if nothing changed. */
void sgl_encoder_request_keyframe(struct sgl_encoder *encoder);

/* Codes the last encoded picture again at the config's refine_qp: a
 * P-frame of corrections to what the stream showed of it. For a picture
 * that stopped changing. The rate control still holds the pass to one
 * frame's budget, so it may take several; *settled says this one coded
 * next to nothing (every macroblock was already as good as the QP makes
 * it), and more passes would add nothing. SGL_ENCODE_UNCHANGED where
 * nothing was encoded yet or the backend cannot (only x264 can:
 * sgl_encoder_can_refine). */
enum sgl_encode_result sgl_encoder_refine(struct sgl_encoder *encoder, int64_t pts_us,
                                          struct sgl_encoder_au *au, bool *settled, GError **error);

bool sgl_encoder_can_refine(const struct sgl_encoder *encoder);

/* Changes the target bitrate from the next frame on. */
bool sgl_encoder_set_bitrate(struct sgl_encoder *encoder, uint32_t kbps, GError **error);

uint32_t sgl_encoder_get_bitrate(const struct sgl_encoder *encoder);

/* "x264", "gst:x264enc", "gst:vah264enc", ... */
const char *sgl_encoder_backend_name(const struct sgl_encoder *encoder);

/* Backends this build and host offer, in "auto" order of preference. */
GStrv sgl_encoder_list_backends(void);

/* Validates a frame as sgl_encoder_encode would (exposed for the fuzz and
 * unit tests and for callers that queue frames). */
bool sgl_encoder_frame_validate(const struct sgl_frame *frame, GError **error);

#define SGL_ENCODER_ERROR (sgl_encoder_error_quark())
GQuark sgl_encoder_error_quark(void);

enum sgl_encoder_error_code {
    SGL_ENCODER_ERROR_INVALID,     /* bad frame or configuration */
    SGL_ENCODER_ERROR_UNAVAILABLE, /* backend not present on this host */
    SGL_ENCODER_ERROR_FAILED,      /* the backend failed */
};

#endif
