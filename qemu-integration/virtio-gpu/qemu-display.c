#include "config.h"

#include "qemu-display.h"

#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib.h>

enum {
    GET_PROTOCOL_FEATURES = 1,
    SET_PROTOCOL_FEATURES = 2,
    CURSOR_POS = 4,
    CURSOR_UPDATE = 6,
    SCANOUT = 7,
    UPDATE = 8,
};
#define FLAG_REPLY 0x4u

/* Bytes queued for QEMU past this: it stopped reading, and the socket is
 * given up rather than the memory. */
#define OUT_MAX (256u << 20)

/* What the GPU thread queues, a thread of our own writes: QEMU reads a
 * message whole once it has begun, in its main loop under its lock,
 * retrying every 100 us until the rest arrives. Written from the GPU
 * thread's loop, a picture of megabytes went out a socket buffer at a
 * time, each waiting for that busy thread to come back to its loop, and
 * QEMU's vCPUs stood still meanwhile. The writer may wait for QEMU; the
 * GPU thread still never does. */
struct vgpu_qemu_display {
    int fd;
    GSource *source; /* attached; NULL once the socket closed */
    GThread *writer;
    int stop_fd; /* an eventfd: wakes the writer to stop */

    GMutex lock; /* what follows */
    GCond queued;
    GByteArray *out;   /* queued, not yet taken by the writer */
    GByteArray *spare; /* the writer's last batch, kept for its memory */
    size_t writing;    /* bytes the writer took and has not sent whole */
    bool dead, stop;
};

struct header {
    uint32_t request, flags, size;
} __attribute__((packed));

/* Caller holds the lock. */
static void give_up(struct vgpu_qemu_display *d, const char *why)
{
    if (!d->dead)
        g_message("QEMU's display socket: %s; QEMU's console is no longer fed", why);
    d->dead = true;
    g_byte_array_set_size(d->out, 0);
}

/* The writer: sends a batch whole, waiting for QEMU as long as it takes;
 * false if the socket failed or the writer is to stop. */
static bool write_all(struct vgpu_qemu_display *d, const uint8_t *data, size_t len,
                      const char **why)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(d->fd, data + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            *why = n == 0 ? "closed" : g_strerror(errno);
            return false;
        }
        struct pollfd p[2] = {{d->fd, POLLOUT, 0}, {d->stop_fd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) {
            *why = g_strerror(errno);
            return false;
        }
        if (p[1].revents) {
            *why = NULL; /* stopping */
            return false;
        }
    }
    return true;
}

static gpointer writer_run(gpointer data)
{
    struct vgpu_qemu_display *d = data;
    g_mutex_lock(&d->lock);
    while (!d->stop) {
        if (!d->out->len || d->dead) {
            g_cond_wait(&d->queued, &d->lock);
            continue;
        }
        GByteArray *batch = d->out;
        d->out = d->spare;
        d->spare = NULL;
        d->writing = batch->len;
        g_mutex_unlock(&d->lock);
        const char *why = NULL;
        bool ok = write_all(d, batch->data, batch->len, &why);
        g_byte_array_set_size(batch, 0);
        g_mutex_lock(&d->lock);
        d->spare = batch;
        d->writing = 0;
        if (!ok && why)
            give_up(d, why);
    }
    g_mutex_unlock(&d->lock);
    return NULL;
}

/* Queues one message for the writer and returns at once: the header, a_len
 * bytes of a, then rows rows of row bytes each, stride bytes apart in b. A
 * droppable message (a picture update) is refused while QEMU is behind,
 * that is while anything is still queued or being written: the caller
 * keeps its damage for later. */
static bool send_msg(struct vgpu_qemu_display *d, bool droppable, const struct header *h,
                     const void *a, size_t a_len, const uint8_t *b, size_t row, uint32_t rows,
                     size_t stride)
{
    g_mutex_lock(&d->lock);
    bool ok = !d->dead && !(droppable && (d->out->len || d->writing));
    if (ok && d->out->len + d->writing + sizeof(*h) + a_len + row * rows > OUT_MAX) {
        give_up(d, "QEMU stopped reading it");
        ok = false;
    }
    if (ok) {
        g_byte_array_append(d->out, (const guint8 *)h, sizeof(*h));
        if (a_len)
            g_byte_array_append(d->out, a, (guint)a_len);
        for (uint32_t i = 0; i < rows; i++)
            g_byte_array_append(d->out, b + (size_t)i * stride, (guint)row);
        g_cond_signal(&d->queued);
    }
    g_mutex_unlock(&d->lock);
    return ok;
}

/* QEMU's messages to us are replies; only the features one matters. */
static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
    struct vgpu_qemu_display *d = data;
    struct header h;
    ssize_t n = recv(fd, &h, sizeof(h), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || (n > 0 && n != sizeof(h)) ||
        (n > 0 && h.size > 4096)) {
        g_message("QEMU display socket closed");
        d->source = NULL;
        return G_SOURCE_REMOVE;
    }
    if (n < 0)
        return G_SOURCE_CONTINUE;
    uint8_t payload[4096];
    size_t got = 0;
    while (got < h.size) {
        ssize_t k = read(fd, payload + got, h.size - got);
        if (k <= 0 && !(k < 0 && errno == EINTR)) {
            d->source = NULL;
            return G_SOURCE_REMOVE;
        }
        got += k > 0 ? (size_t)k : 0;
    }
    if (h.request == GET_PROTOCOL_FEATURES && (h.flags & FLAG_REPLY) && h.size == 8) {
        /* Neither EDID (0) nor DMABUF_SCANOUT2 (1) are used. */
        uint64_t ours = 0;
        struct header s = {SET_PROTOCOL_FEATURES, 0, sizeof(ours)};
        send_msg(d, false, &s, &ours, sizeof(ours), NULL, 0, 0, 0);
    }
    return G_SOURCE_CONTINUE;
}

struct vgpu_qemu_display *vgpu_qemu_display_create(int fd, GMainContext *context)
{
    struct vgpu_qemu_display *d = g_new0(struct vgpu_qemu_display, 1);
    d->fd = fd;
    g_mutex_init(&d->lock);
    g_cond_init(&d->queued);
    d->out = g_byte_array_new();
    d->spare = g_byte_array_new();
    d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->stop_fd < 0) {
        g_warning("QEMU's display socket: eventfd: %s", g_strerror(errno));
        goto fail;
    }
    d->writer = g_thread_new("qemu-display", writer_run, d);
    struct header h = {GET_PROTOCOL_FEATURES, 0, 0};
    if (!send_msg(d, false, &h, NULL, 0, NULL, 0, 0, 0))
        goto fail;
    d->source = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(d->source, G_SOURCE_FUNC(on_readable), d, NULL);
    g_source_attach(d->source, context);
    g_source_unref(d->source);
    return d;
fail:
    vgpu_qemu_display_destroy(d);
    return NULL;
}

void vgpu_qemu_display_destroy(struct vgpu_qemu_display *d)
{
    if (!d)
        return;
    if (d->source)
        g_source_destroy(d->source);
    if (d->writer) {
        g_mutex_lock(&d->lock);
        d->stop = true;
        g_cond_signal(&d->queued);
        g_mutex_unlock(&d->lock);
        uint64_t one = 1;
        if (write(d->stop_fd, &one, sizeof(one)) != sizeof(one))
            g_warning("QEMU's display socket: waking its writer: %s", g_strerror(errno));
        g_thread_join(d->writer);
    }
    if (d->stop_fd >= 0)
        close(d->stop_fd);
    close(d->fd);
    g_byte_array_unref(d->out);
    if (d->spare)
        g_byte_array_unref(d->spare);
    g_mutex_clear(&d->lock);
    g_cond_clear(&d->queued);
    g_free(d);
}

bool vgpu_qemu_display_scanout(struct vgpu_qemu_display *d, uint32_t scanout, uint32_t width,
                               uint32_t height)
{
    uint32_t s[3] = {scanout, width, height};
    struct header h = {SCANOUT, 0, sizeof(s)};
    return send_msg(d, false, &h, s, sizeof(s), NULL, 0, 0, 0);
}

bool vgpu_qemu_display_update(struct vgpu_qemu_display *d, uint32_t scanout, uint32_t x, uint32_t y,
                              uint32_t width, uint32_t height, const uint8_t *pixels,
                              uint32_t stride)
{
    uint32_t u[5] = {scanout, x, y, width, height};
    size_t row = (size_t)width * 4, bytes = row * height;
    if (bytes > UINT32_MAX - sizeof(u))
        return false;
    struct header h = {UPDATE, 0, (uint32_t)(sizeof(u) + bytes)};
    return send_msg(d, true, &h, u, sizeof(u), pixels, row, height, stride);
}

bool vgpu_qemu_display_cursor(struct vgpu_qemu_display *d, uint32_t scanout, uint32_t x, uint32_t y,
                              uint32_t hot_x, uint32_t hot_y, uint32_t width, uint32_t height,
                              const uint32_t *argb)
{
    struct {
        uint32_t scanout, x, y, hot_x, hot_y;
        uint32_t data[64 * 64];
    } __attribute__((packed)) c = {scanout, x, y, hot_x, hot_y, {0}};
    for (uint32_t r = 0; r < MIN(height, 64u); r++)
        memcpy(&c.data[r * 64], argb + (size_t)r * width, MIN(width, 64u) * 4);
    struct header h = {CURSOR_UPDATE, 0, sizeof(c)};
    return send_msg(d, true, &h, &c, sizeof(c), NULL, 0, 0, 0);
}

bool vgpu_qemu_display_cursor_pos(struct vgpu_qemu_display *d, uint32_t scanout, uint32_t x,
                                  uint32_t y)
{
    uint32_t p[3] = {scanout, x, y};
    struct header h = {CURSOR_POS, 0, sizeof(p)};
    return send_msg(d, true, &h, p, sizeof(p), NULL, 0, 0, 0);
}
