#include "config.h"

#include "decode.h"

#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libyuv.h>

struct test_decoder {
    AVCodecContext *ctx;
    AVPacket *packet;
    AVFrame *frame;
    uint8_t *padded;
    size_t padded_size;
    uint8_t *bgrx;
    size_t bgrx_size;
};

struct test_decoder *test_decoder_create(void)
{
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    if (!codec)
        return NULL;
    struct test_decoder *d = calloc(1, sizeof(*d));
    d->ctx = avcodec_alloc_context3(codec);
    d->ctx->thread_count = 1;
    d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
    d->packet = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (avcodec_open2(d->ctx, codec, NULL) < 0) {
        test_decoder_destroy(d);
        return NULL;
    }
    return d;
}

void test_decoder_destroy(struct test_decoder *d)
{
    if (!d)
        return;
    avcodec_free_context(&d->ctx);
    av_packet_free(&d->packet);
    av_frame_free(&d->frame);
    free(d->padded);
    free(d->bgrx);
    free(d);
}

bool test_decoder_decode(struct test_decoder *d, const uint8_t *data, size_t size,
                         const uint8_t **bgrx, uint32_t *width, uint32_t *height, uint32_t *stride)
{
    /* libavcodec reads up to AV_INPUT_BUFFER_PADDING_SIZE past the end. */
    if (d->padded_size < size + AV_INPUT_BUFFER_PADDING_SIZE) {
        d->padded_size = size + AV_INPUT_BUFFER_PADDING_SIZE;
        d->padded = realloc(d->padded, d->padded_size);
    }
    memcpy(d->padded, data, size);
    memset(d->padded + size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    d->packet->data = d->padded;
    d->packet->size = (int)size;
    if (avcodec_send_packet(d->ctx, d->packet) < 0)
        return false;
    if (avcodec_receive_frame(d->ctx, d->frame) < 0)
        return false;
    AVFrame *f = d->frame;
    /* libavcodec gives full-range 4:2:0 as YUVJ420P, or YUV420P with the
     * range set. */
    bool full = f->format == AV_PIX_FMT_YUVJ420P || f->color_range == AVCOL_RANGE_JPEG;
    if (f->format != AV_PIX_FMT_YUV420P && f->format != AV_PIX_FMT_YUVJ420P)
        return false;
    size_t need = (size_t)f->width * f->height * 4;
    if (d->bgrx_size < need) {
        d->bgrx_size = need;
        d->bgrx = realloc(d->bgrx, need);
    }
    (full ? J420ToARGB : I420ToARGB)(f->data[0], f->linesize[0], f->data[1], f->linesize[1],
                                     f->data[2], f->linesize[2], d->bgrx, f->width * 4, f->width,
                                     f->height);
    *bgrx = d->bgrx;
    *width = (uint32_t)f->width;
    *height = (uint32_t)f->height;
    *stride = (uint32_t)f->width * 4;
    return true;
}

uint32_t test_nal_types(const uint8_t *p, size_t size)
{
    uint32_t mask = 0;
    for (size_t i = 0; i + 3 < size; i++) {
        if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) {
            mask |= 1u << (p[i + 3] & 0x1f);
            i += 2;
        }
    }
    return mask;
}
