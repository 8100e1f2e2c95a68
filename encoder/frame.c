/* Frame validation (the one place a frame is checked) and dmabuf mapping
 * for the CPU backends. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <linux/dma-buf.h>

#include "backend.h"

G_DEFINE_QUARK(sgl - encoder - error - quark, sgl_encoder_error)

bool sgl_encoder_fourcc_format(uint32_t fourcc, enum sgl_format *format)
{
    switch (fourcc) {
    case DRM_FORMAT_XRGB8888:
        *format = SGL_FORMAT_BGRX;
        return true;
    case DRM_FORMAT_ARGB8888:
        *format = SGL_FORMAT_BGRA;
        return true;
    case DRM_FORMAT_XBGR8888:
        *format = SGL_FORMAT_RGBX;
        return true;
    case DRM_FORMAT_ABGR8888:
        *format = SGL_FORMAT_RGBA;
        return true;
    default:
        return false;
    }
}

static bool invalid(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static bool invalid(GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_INVALID, msg);
    return false;
}

bool sgl_encoder_frame_validate(const struct sgl_frame *f, GError **error)
{
    if (!f)
        return invalid(error, "no frame");
    if (f->width == 0 || f->height == 0 || f->width > SGL_ENCODER_MAX_DIM ||
        f->height > SGL_ENCODER_MAX_DIM)
        return invalid(error, "frame size %ux%u outside 1x1..%ux%u", f->width, f->height,
                       SGL_ENCODER_MAX_DIM, SGL_ENCODER_MAX_DIM);
    if (f->dmabuf.fd >= 0) {
        enum sgl_format fmt;
        if (f->pixels)
            return invalid(error, "a frame has pixels or a dmabuf, not both");
        if (!sgl_encoder_fourcc_format(f->dmabuf.fourcc, &fmt))
            return invalid(error, "unsupported dmabuf fourcc 0x%08x", f->dmabuf.fourcc);
        if ((uint64_t)f->dmabuf.stride < (uint64_t)f->width * 4)
            return invalid(error, "dmabuf stride %u < width %u x 4", f->dmabuf.stride, f->width);
        /* Every reader, CPU or GStreamer, relies on the buffer being this
         * large; a dmabuf's size is what seeking to its end says. */
        uint64_t need = (uint64_t)f->dmabuf.offset + (uint64_t)f->dmabuf.stride * f->height;
        off_t size = lseek(f->dmabuf.fd, 0, SEEK_END);
        if (size < 0)
            return invalid(error, "dmabuf fd %d: cannot tell its size (%s)", f->dmabuf.fd,
                           g_strerror(errno));
        if ((uint64_t)size < need)
            return invalid(error,
                           "dmabuf of %lld bytes is smaller than offset + stride x height "
                           "= %" G_GUINT64_FORMAT,
                           (long long)size, need);
    } else {
        if (!f->pixels)
            return invalid(error, "frame has neither pixels nor a dmabuf");
        if ((unsigned)f->format > SGL_FORMAT_RGBA)
            return invalid(error, "unknown pixel format %d", (int)f->format);
        if ((uint64_t)f->stride < (uint64_t)f->width * 4)
            return invalid(error, "stride %u < width %u x 4", f->stride, f->width);
    }
    if (!f->damage_all) {
        if (f->n_damage > SGL_ENCODER_MAX_RECTS)
            return invalid(error, "%u damage rectangles (at most %u)", f->n_damage,
                           SGL_ENCODER_MAX_RECTS);
        if (f->n_damage && !f->damage)
            return invalid(error, "n_damage %u with no rectangles", f->n_damage);
        for (uint32_t i = 0; i < f->n_damage; i++) {
            const struct sgl_rect *r = &f->damage[i];
            if (r->width == 0 || r->height == 0 || (uint64_t)r->x + r->width > f->width ||
                (uint64_t)r->y + r->height > f->height)
                return invalid(error, "damage %u,%u %ux%u outside the %ux%u frame", r->x, r->y,
                               r->width, r->height, f->width, f->height);
        }
    }
    return true;
}

/* CPU reads of a dmabuf are bracketed by DMA_BUF_IOCTL_SYNC; a plain memfd
 * (the tests' stand-in for a dmabuf) answers ENOTTY, which is fine. */
static void dmabuf_sync(int fd, uint64_t flags)
{
    struct dma_buf_sync sync = {.flags = flags | DMA_BUF_SYNC_READ};
    while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0 && errno == EINTR)
        ;
}

bool sgl_encoder_frame_map(const struct sgl_frame *in, struct sgl_frame *out,
                           struct sgl_encoder_mapping *m, GError **error)
{
    *m = (struct sgl_encoder_mapping){.fd = -1};
    if (in->dmabuf.modifier != DRM_FORMAT_MOD_LINEAR)
        return invalid(error,
                       "dmabuf modifier 0x%" G_GINT64_MODIFIER "x is not linear: a CPU "
                       "encoder cannot read it",
                       (guint64)in->dmabuf.modifier);
    /* Validation checked the buffer holds this much. */
    uint64_t length = (uint64_t)in->dmabuf.offset + (uint64_t)in->dmabuf.stride * in->height;
    void *addr = mmap(NULL, (size_t)length, PROT_READ, MAP_SHARED, in->dmabuf.fd, 0);
    if (addr == MAP_FAILED) {
        g_set_error(error, SGL_ENCODER_ERROR, SGL_ENCODER_ERROR_FAILED, "mmap of dmabuf: %s",
                    g_strerror(errno));
        return false;
    }
    dmabuf_sync(in->dmabuf.fd, DMA_BUF_SYNC_START);
    *m = (struct sgl_encoder_mapping){.addr = addr, .length = (size_t)length, .fd = in->dmabuf.fd};
    *out = *in;
    sgl_encoder_fourcc_format(in->dmabuf.fourcc, &out->format);
    out->pixels = (const uint8_t *)addr + in->dmabuf.offset;
    out->stride = in->dmabuf.stride;
    out->dmabuf.fd = -1;
    return true;
}

void sgl_encoder_frame_unmap(struct sgl_encoder_mapping *m)
{
    if (!m->addr)
        return;
    dmabuf_sync(m->fd, DMA_BUF_SYNC_END);
    munmap(m->addr, m->length);
    m->addr = NULL;
}
