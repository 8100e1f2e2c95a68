/* The in-process SPICE stream device ("port" char device named
 * org.spice-space.stream.0): spice-server's stream channel reads encoded
 * frames from it, and writes the codecs its clients accept into it.
 *
 * At most one message is in flight: spice-server reads the device only
 * while its send queue is empty, so "the last access unit was read" is the
 * back-pressure signal (callbacks.sent). Runs on the server's main context;
 * not thread-safe. The device belongs to its creator; destroy it after the
 * server. */
#ifndef SGL_STREAM_DEVICE_H
#define SGL_STREAM_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <spice.h>

struct sgl_stream_device_callbacks {
    /* Clients can show these codecs (SpiceVideoCodecType); n == 0: stop. */
    void (*start_stop)(const uint8_t *codecs, uint8_t n, void *user);
    /* The last queued access unit was taken by the server (delivered), or
     * dropped unread because the clients it was for went away. */
    void (*sent)(bool delivered, void *user);
};

struct sgl_stream_device;

struct sgl_stream_device *sgl_stream_device_create(const struct sgl_stream_device_callbacks *cb,
                                                   void *user);
void sgl_stream_device_destroy(struct sgl_stream_device *dev);

/* Adds the device to the server and opens its port. */
bool sgl_stream_device_attach(struct sgl_stream_device *dev, SpiceServer *server, GError **error);

/* Queues one access unit (with a FORMAT message first when the size or
 * codec changed). False, queuing nothing, while the previous one is still
 * in flight. */
bool sgl_stream_device_send(struct sgl_stream_device *dev, uint8_t codec, uint32_t width,
                            uint32_t height, const uint8_t *data, size_t size);

/* Cursor shape (ARGB, 1..1024 square, hot spot inside) and position, for
 * the cursor channel: clients draw it, it is never in the video. False when
 * invalid, or when a client is so far behind that the queue is full (the
 * next shape or position replaces what was lost). */
bool sgl_stream_device_cursor_set(struct sgl_stream_device *dev, uint16_t width, uint16_t height,
                                  uint16_t hot_x, uint16_t hot_y, const uint32_t *argb);
bool sgl_stream_device_cursor_move(struct sgl_stream_device *dev, int32_t x, int32_t y);

#endif
