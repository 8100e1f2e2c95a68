#include "config.h"

#include "stream-device.h"

#include <string.h>

#include <gio/gio.h>
#include <spice/protocol.h>
#include <spice/stream-device.h>

#include "common/le.h"
#include "stream-protocol.h"

struct sgl_stream_device {
    SpiceCharDeviceInstance sin; /* first: spice-server hands it back to us */
    struct sgl_stream_device_callbacks cb;
    void *user;
    struct sgl_stream_parser parser;
    GByteArray *out; /* the frame's messages in flight: FORMAT, delimiters, DATA */
    size_t out_pos;
    size_t out_starts[3]; /* where each of out's messages starts */
    unsigned n_out_starts;
    bool out_cut;     /* out was cut short: its access unit is not delivered */
    GByteArray *ctrl; /* cursor messages, sent between frame messages */
    size_t ctrl_pos;
    uint32_t width, height; /* of the last FORMAT sent */
    uint8_t codec;
    bool attached;
};

static struct sgl_stream_device *from_sin(SpiceCharDeviceInstance *sin)
{
    return (struct sgl_stream_device *)sin;
}

static void out_done(struct sgl_stream_device *dev, bool delivered)
{
    g_clear_pointer(&dev->out, g_byte_array_unref);
    dev->out_pos = 0;
    if (dev->cb.sent)
        dev->cb.sent(delivered, dev->user);
}

/* An access unit the server has not begun to read was encoded for the old
 * client set: sent now it would show a stale picture first (and a P-frame
 * before the new stream's keyframe). Its stream's FORMAT and delimiters go
 * too, if not begun: a client that has just joined has no such stream, and
 * its data would only draw a complaint from it. A message begun is
 * finished; the server reads each whole. */
static void drop_unread(struct sgl_stream_device *dev)
{
    if (!dev->out)
        return;
    for (unsigned i = 0; i < dev->n_out_starts; i++) {
        if (dev->out_starts[i] < dev->out_pos)
            continue;
        if (dev->out_starts[i] == dev->out_pos) {
            out_done(dev, false);
        } else {
            g_byte_array_set_size(dev->out, (guint)dev->out_starts[i]);
            dev->out_cut = true;
        }
        return;
    }
}

static void on_message(const struct sgl_stream_in *msg, void *user)
{
    struct sgl_stream_device *dev = user;
    switch (msg->kind) {
    case SGL_STREAM_IN_START_STOP:
        /* A stop, or a new client set: the next FORMAT must be sent again. */
        dev->width = dev->height = 0;
        drop_unread(dev);
        if (dev->cb.start_stop)
            dev->cb.start_stop(msg->codecs, msg->n_codecs, dev->user);
        break;
    case SGL_STREAM_IN_NOTIFY_ERROR:
        g_warning("stream device: the server reports an error: %.*s", (int)(msg->size - 4),
                  (const char *)msg->payload + 4);
        break;
    default:
        break;
    }
}

static int dev_write(SpiceCharDeviceInstance *sin, const uint8_t *buf, int len)
{
    struct sgl_stream_device *dev = from_sin(sin);
    if (len <= 0)
        return 0;
    if (!sgl_stream_parser_feed(&dev->parser, buf, (size_t)len, on_message, dev)) {
        g_warning("stream device: protocol error from the server: %s; resynchronising",
                  dev->parser.error);
        sgl_stream_parser_init(&dev->parser);
    }
    return len;
}

static int dev_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
    struct sgl_stream_device *dev = from_sin(sin);
    if (len <= 0)
        return 0;
    /* Cursor messages go between frame messages, never inside one. */
    if (dev->ctrl && (!dev->out || dev->out_pos == 0)) {
        size_t n = MIN((size_t)len, dev->ctrl->len - dev->ctrl_pos);
        memcpy(buf, dev->ctrl->data + dev->ctrl_pos, n);
        dev->ctrl_pos += n;
        if (dev->ctrl_pos == dev->ctrl->len) {
            g_clear_pointer(&dev->ctrl, g_byte_array_unref);
            dev->ctrl_pos = 0;
        }
        return (int)n;
    }
    if (!dev->out)
        return 0;
    size_t n = MIN((size_t)len, dev->out->len - dev->out_pos);
    memcpy(buf, dev->out->data + dev->out_pos, n);
    dev->out_pos += n;
    if (dev->out_pos == dev->out->len)
        out_done(dev, !dev->out_cut);
    return (int)n;
}

static void dev_state(SpiceCharDeviceInstance *sin, int connected)
{
}

static void dev_event(SpiceCharDeviceInstance *sin, uint8_t event)
{
}

static const SpiceCharDeviceInterface interface = {
    .base = {.type = SPICE_INTERFACE_CHAR_DEVICE,
             .description = "spicegl stream device",
             .major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
             .minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR},
    .state = dev_state,
    .write = dev_write,
    .read = dev_read,
    .event = dev_event,
};

struct sgl_stream_device *sgl_stream_device_create(const struct sgl_stream_device_callbacks *cb,
                                                   void *user)
{
    struct sgl_stream_device *dev = g_new0(struct sgl_stream_device, 1);
    dev->sin.base.sif = &interface.base;
    dev->sin.subtype = "port";
    /* spice-server knows the stream device by this exact name. */
    dev->sin.portname = "org.spice-space.stream.0";
    dev->cb = *cb;
    dev->user = user;
    sgl_stream_parser_init(&dev->parser);
    return dev;
}

void sgl_stream_device_destroy(struct sgl_stream_device *dev)
{
    if (!dev)
        return;
    if (dev->attached)
        spice_server_remove_interface(&dev->sin.base);
    if (dev->out)
        g_byte_array_unref(dev->out);
    if (dev->ctrl)
        g_byte_array_unref(dev->ctrl);
    g_free(dev);
}

bool sgl_stream_device_attach(struct sgl_stream_device *dev, SpiceServer *server, GError **error)
{
    if (spice_server_add_interface(server, &dev->sin.base) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "spice-server refused the stream device");
        return false;
    }
    dev->attached = true;
    /* Before clients connect, so the stream channel exists for them. */
    spice_server_port_event(&dev->sin, SPICE_PORT_EVENT_OPENED);
    return true;
}

/* spice-gtk feeds H.264 to h264parse with no alignment in its caps. The
 * parser ends an access unit only at a complete NAL unit that begins the
 * next one, and a NAL unit is complete only once the next start code is
 * seen: left alone, it holds every picture until the next arrives, and a
 * lone one (a static desktop, a new client, the last keystroke) is never
 * shown. Two access unit delimiters after each picture: the first ends the
 * picture, the second ends the first. Decoders skip delimiters.
 *
 * The delimiters begin the parser's next access unit, which so takes the
 * timestamp of the message they came in. A new stream therefore opens with
 * a message of delimiters alone: from then on each picture takes the one
 * before it's timestamp, consistently, and spice-gtk matches every decoded
 * picture to a frame it queued (without it, the second picture would share
 * the first's timestamp and be dropped as unexpected). */
static const uint8_t h264_delimiters[] = {0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x09, 0xf0};

static void append_data(GByteArray *out, const uint8_t *data, size_t size, bool h264)
{
    uint8_t head[SGL_STREAM_HEADER_SIZE];
    size_t trailer = h264 ? sizeof(h264_delimiters) : 0;
    g_byte_array_append(
        out, head,
        (guint)sgl_stream_write_header(head, STREAM_TYPE_DATA, (uint32_t)(size + trailer)));
    g_byte_array_append(out, data, (guint)size);
    g_byte_array_append(out, h264_delimiters, (guint)trailer);
}

bool sgl_stream_device_send(struct sgl_stream_device *dev, uint8_t codec, uint32_t width,
                            uint32_t height, const uint8_t *data, size_t size)
{
    if (dev->out || size > UINT32_MAX - 2 * sizeof(h264_delimiters))
        return false;
    bool h264 = codec == SPICE_VIDEO_CODEC_TYPE_H264;
    dev->out = g_byte_array_sized_new((guint)size + 3 * SGL_STREAM_HEADER_SIZE +
                                      SGL_STREAM_FORMAT_SIZE + 2 * sizeof(h264_delimiters));
    dev->n_out_starts = 0;
    dev->out_cut = false;
    if (width != dev->width || height != dev->height || codec != dev->codec) {
        uint8_t head[SGL_STREAM_HEADER_SIZE + SGL_STREAM_FORMAT_SIZE];
        dev->out_starts[dev->n_out_starts++] = 0;
        g_byte_array_append(dev->out, head,
                            (guint)sgl_stream_write_format(head, width, height, codec));
        if (h264) {
            dev->out_starts[dev->n_out_starts++] = dev->out->len;
            append_data(dev->out, NULL, 0, true);
        }
        dev->width = width;
        dev->height = height;
        dev->codec = codec;
    }
    dev->out_starts[dev->n_out_starts++] = dev->out->len;
    append_data(dev->out, data, size, h264);
    dev->out_pos = 0;
    spice_server_char_device_wakeup(&dev->sin);
    return true;
}

/* A cursor message queues behind any not yet started; a client that does
 * not read cannot make the queue grow past a few shapes. */
#define CTRL_MAX (4u * (SGL_STREAM_HEADER_SIZE + SGL_STREAM_CURSOR_SET_SIZE + 64u * 64u * 4u))

static bool queue_ctrl(struct sgl_stream_device *dev, const uint8_t *head, size_t head_len,
                       const uint8_t *data, size_t data_len)
{
    if (!dev->ctrl)
        dev->ctrl = g_byte_array_new();
    if (dev->ctrl->len + head_len + data_len > MAX(CTRL_MAX, head_len + data_len))
        return false;
    g_byte_array_append(dev->ctrl, head, (guint)head_len);
    if (data_len)
        g_byte_array_append(dev->ctrl, data, (guint)data_len);
    spice_server_char_device_wakeup(&dev->sin);
    return true;
}

bool sgl_stream_device_cursor_set(struct sgl_stream_device *dev, uint16_t width, uint16_t height,
                                  uint16_t hot_x, uint16_t hot_y, const uint32_t *argb)
{
    if (!width || !height || width > SGL_STREAM_CURSOR_MAX || height > SGL_STREAM_CURSOR_MAX ||
        hot_x >= width || hot_y >= height)
        return false;
    uint8_t head[SGL_STREAM_HEADER_SIZE + SGL_STREAM_CURSOR_SET_SIZE];
    size_t n = sgl_stream_write_cursor_set(head, width, height, hot_x, hot_y);
    size_t bytes = (size_t)width * height * 4;
    g_autofree uint8_t *le = g_malloc(bytes);
    for (size_t i = 0; i < (size_t)width * height; i++)
        sgl_le32_put(le + 4 * i, argb[i]);
    return queue_ctrl(dev, head, n, le, bytes);
}

bool sgl_stream_device_cursor_move(struct sgl_stream_device *dev, int32_t x, int32_t y)
{
    uint8_t msg[SGL_STREAM_HEADER_SIZE + SGL_STREAM_CURSOR_MOVE_SIZE];
    return queue_ctrl(dev, msg, sgl_stream_write_cursor_move(msg, x, y), NULL, 0);
}
