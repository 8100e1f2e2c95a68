#include "config.h"

#include "stream-protocol.h"

#include <stdio.h>
#include <string.h>

#include <spice/enums.h>
#include <spice/stream-device.h>

#include "common/le.h"

void sgl_stream_parser_init(struct sgl_stream_parser *p)
{
    p->len = 0;
    p->broken = false;
    p->error[0] = '\0';
}

static bool fail(struct sgl_stream_parser *p, const char *what, uint32_t value)
{
    snprintf(p->error, sizeof(p->error), "%s (%u)", what, value);
    p->broken = true;
    return false;
}

/* One complete message in p->buf. */
static bool dispatch(struct sgl_stream_parser *p, uint16_t type, uint32_t size, sgl_stream_in_fn fn,
                     void *user)
{
    const uint8_t *payload = p->buf + SGL_STREAM_HEADER_SIZE;
    struct sgl_stream_in msg = {
        .type = type, .payload = payload, .size = size, .kind = SGL_STREAM_IN_OTHER};
    switch (type) {
    case STREAM_TYPE_START_STOP:
        if (size < 1 || payload[0] + 1u != size)
            return fail(p, "START_STOP whose codec count does not match its size", size);
        msg.kind = SGL_STREAM_IN_START_STOP;
        msg.n_codecs = payload[0];
        msg.codecs = payload + 1;
        break;
    case STREAM_TYPE_CAPABILITIES:
        msg.kind = SGL_STREAM_IN_CAPABILITIES;
        break;
    case STREAM_TYPE_NOTIFY_ERROR:
        if (size < 4)
            return fail(p, "NOTIFY_ERROR shorter than its error code", size);
        msg.kind = SGL_STREAM_IN_NOTIFY_ERROR;
        break;
    case STREAM_TYPE_INVALID:
        return fail(p, "message type 0", type);
    default:
        break;
    }
    fn(&msg, user);
    return true;
}

bool sgl_stream_parser_feed(struct sgl_stream_parser *p, const uint8_t *data, size_t len,
                            sgl_stream_in_fn fn, void *user)
{
    if (p->broken)
        return false;
    while (len > 0) {
        size_t want = SGL_STREAM_HEADER_SIZE;
        if (p->len >= SGL_STREAM_HEADER_SIZE)
            want += sgl_le32_get(p->buf + 4);
        size_t take = want - p->len < len ? want - p->len : len;
        memcpy(p->buf + p->len, data, take);
        p->len += take;
        data += take;
        len -= take;
        if (p->len == SGL_STREAM_HEADER_SIZE) {
            if (p->buf[0] != STREAM_DEVICE_PROTOCOL)
                return fail(p, "unknown protocol version", p->buf[0]);
            uint32_t size = sgl_le32_get(p->buf + 4);
            if (size > SGL_STREAM_MAX_IN)
                return fail(p, "message larger than the server ever sends", size);
        }
        if (p->len >= SGL_STREAM_HEADER_SIZE &&
            p->len == SGL_STREAM_HEADER_SIZE + sgl_le32_get(p->buf + 4)) {
            uint16_t type = (uint16_t)(p->buf[2] | p->buf[3] << 8);
            uint32_t size = sgl_le32_get(p->buf + 4);
            p->len = 0;
            if (!dispatch(p, type, size, fn, user))
                return false;
        }
    }
    return true;
}

size_t sgl_stream_write_header(uint8_t *out, uint16_t type, uint32_t size)
{
    out[0] = STREAM_DEVICE_PROTOCOL;
    out[1] = 0;
    out[2] = (uint8_t)type;
    out[3] = (uint8_t)(type >> 8);
    sgl_le32_put(out + 4, size);
    return SGL_STREAM_HEADER_SIZE;
}

size_t sgl_stream_write_format(uint8_t *out, uint32_t width, uint32_t height, uint8_t codec)
{
    size_t n = sgl_stream_write_header(out, STREAM_TYPE_FORMAT, SGL_STREAM_FORMAT_SIZE);
    sgl_le32_put(out + n, width);
    sgl_le32_put(out + n + 4, height);
    out[n + 8] = codec;
    out[n + 9] = out[n + 10] = out[n + 11] = 0;
    return n + SGL_STREAM_FORMAT_SIZE;
}

size_t sgl_stream_write_cursor_set(uint8_t *out, uint16_t width, uint16_t height, uint16_t hot_x,
                                   uint16_t hot_y)
{
    uint32_t data = (uint32_t)width * height * 4;
    size_t n =
        sgl_stream_write_header(out, STREAM_TYPE_CURSOR_SET, SGL_STREAM_CURSOR_SET_SIZE + data);
    sgl_le16_put(out + n, width);
    sgl_le16_put(out + n + 2, height);
    sgl_le16_put(out + n + 4, hot_x);
    sgl_le16_put(out + n + 6, hot_y);
    out[n + 8] = SPICE_CURSOR_TYPE_ALPHA;
    out[n + 9] = out[n + 10] = out[n + 11] = 0;
    return n + SGL_STREAM_CURSOR_SET_SIZE;
}

size_t sgl_stream_write_cursor_move(uint8_t *out, int32_t x, int32_t y)
{
    size_t n = sgl_stream_write_header(out, STREAM_TYPE_CURSOR_MOVE, SGL_STREAM_CURSOR_MOVE_SIZE);
    sgl_le32_put(out + n, (uint32_t)x);
    sgl_le32_put(out + n + 4, (uint32_t)y);
    return n + SGL_STREAM_CURSOR_MOVE_SIZE;
}
