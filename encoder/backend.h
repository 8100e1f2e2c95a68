/* Internal: what encoder.c asks of a backend. The core validates frames,
 * clips damage, skips unchanged frames, handles size changes (close + open)
 * and keyframe requests; a backend only encodes. */
#ifndef SGL_ENCODER_BACKEND_H
#define SGL_ENCODER_BACKEND_H

#include "encoder.h"

struct sgl_encoder_backend;

struct sgl_encoder_backend_ops {
    const char *family; /* "x264" or "gst" */
    /* Opens an encoder for frames of this size. element: the GStreamer
     * element for "gst" (NULL: choose), unused by x264. */
    struct sgl_encoder_backend *(*open)(const struct sgl_encoder_config *config,
                                        const char *element, uint32_t width, uint32_t height,
                                        GError **error);
    void (*close)(struct sgl_encoder_backend *backend);
    /* frame: pixels (a dmabuf only when accepts_dmabuf said yes); damage is
     * clipped and non-empty unless force_idr re-sends an unchanged frame. */
    enum sgl_encode_result (*encode)(struct sgl_encoder_backend *backend,
                                     const struct sgl_frame *frame, const struct sgl_rect *damage,
                                     uint32_t n_damage, bool force_idr, struct sgl_encoder_au *au,
                                     GError **error);
    /* Codes the last picture again at this QP (see sgl_encoder_refine);
     * *settled: the pass coded next to nothing. NULL: the backend cannot. */
    enum sgl_encode_result (*refine)(struct sgl_encoder_backend *backend, uint32_t qp,
                                     int64_t pts_us, struct sgl_encoder_au *au, bool *settled,
                                     GError **error);
    bool (*set_bitrate)(struct sgl_encoder_backend *backend, uint32_t kbps, GError **error);
    bool (*accepts_dmabuf)(struct sgl_encoder_backend *backend, uint32_t fourcc, uint64_t modifier);
    const char *(*name)(struct sgl_encoder_backend *backend);
};

extern const struct sgl_encoder_backend_ops sgl_encoder_x264_ops;
extern const struct sgl_encoder_backend_ops sgl_encoder_gst_ops;
extern const struct sgl_encoder_backend_ops sgl_encoder_mjpeg_ops;

/* GStreamer encoder elements this host has, hardware first. */
GStrv sgl_encoder_gst_available(void);

/* Maps a linear dmabuf for reading as a pixels frame; *out gets the mapping.
 * Unmap with sgl_encoder_frame_unmap. */
struct sgl_encoder_mapping {
    void *addr;
    size_t length;
    int fd;
};
bool sgl_encoder_frame_map(const struct sgl_frame *in, struct sgl_frame *out,
                           struct sgl_encoder_mapping *mapping, GError **error);
void sgl_encoder_frame_unmap(struct sgl_encoder_mapping *mapping);

/* The pixel layout a dmabuf fourcc stands for; false if unsupported. */
bool sgl_encoder_fourcc_format(uint32_t fourcc, enum sgl_format *format);

#endif
