#include "config.h"

#include "qemu-display.h"

#include <errno.h>
#include <string.h>
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

struct vgpu_qemu_display {
    int fd;
    GMainContext *context;
    GSource *source;     /* attached; NULL once the socket closed */
    GSource *out_source; /* while out holds bytes: QEMU may read again */
    GByteArray *out;     /* the rest of messages QEMU has not taken yet */
    bool dead;
};

struct header {
    uint32_t request, flags, size;
} __attribute__((packed));

static void give_up(struct vgpu_qemu_display *d, const char *why)
{
    if (!d->dead)
        g_message("QEMU's display socket: %s; QEMU's console is no longer fed", why);
    d->dead = true;
    g_byte_array_set_size(d->out, 0);
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer data);

/* Sends what is queued without waiting: the GPU thread must never wait for
 * QEMU, which may itself be waiting for the GPU (a vCPU reading the config
 * space holds QEMU's lock while it waits for our answer, and QEMU reads
 * this socket under that lock). */
static void flush_out(struct vgpu_qemu_display *d)
{
    while (d->out->len && !d->dead) {
        ssize_t n = send(d->fd, d->out->data, d->out->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            g_byte_array_remove_range(d->out, 0, (guint)n);
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!d->out_source) {
                d->out_source = g_unix_fd_source_new(d->fd, G_IO_OUT);
                g_source_set_callback(d->out_source, G_SOURCE_FUNC(on_writable), d, NULL);
                g_source_attach(d->out_source, d->context);
            }
            return;
        } else if (!(n < 0 && errno == EINTR)) {
            give_up(d, n < 0 ? g_strerror(errno) : "closed");
        }
    }
    if (d->out_source) {
        g_source_destroy(d->out_source);
        g_source_unref(d->out_source);
        d->out_source = NULL;
    }
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer data)
{
    struct vgpu_qemu_display *d = data;
    g_source_unref(d->out_source);
    d->out_source = NULL;
    flush_out(d);
    return G_SOURCE_REMOVE;
}

/* Queues one message and sends what the socket takes now. A droppable
 * message (a picture update) is refused while QEMU is behind: the caller
 * keeps its damage for later. */
static bool send_msg(struct vgpu_qemu_display *d, bool droppable, const struct header *h,
                     const void *a, size_t a_len, const void *b, size_t b_len)
{
    if (d->dead || (droppable && d->out->len))
        return false;
    if (d->out->len + sizeof(*h) + a_len + b_len > OUT_MAX) {
        give_up(d, "QEMU stopped reading it");
        return false;
    }
    g_byte_array_append(d->out, (const guint8 *)h, sizeof(*h));
    if (a_len)
        g_byte_array_append(d->out, a, (guint)a_len);
    if (b_len)
        g_byte_array_append(d->out, b, (guint)b_len);
    flush_out(d);
    return !d->dead;
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
        send_msg(d, false, &s, &ours, sizeof(ours), NULL, 0);
    }
    return G_SOURCE_CONTINUE;
}

struct vgpu_qemu_display *vgpu_qemu_display_create(int fd, GMainContext *context)
{
    struct vgpu_qemu_display *d = g_new0(struct vgpu_qemu_display, 1);
    d->fd = fd;
    d->context = g_main_context_ref(context);
    d->out = g_byte_array_new();
    struct header h = {GET_PROTOCOL_FEATURES, 0, 0};
    if (!send_msg(d, false, &h, NULL, 0, NULL, 0)) {
        vgpu_qemu_display_destroy(d);
        return NULL;
    }
    d->source = g_unix_fd_source_new(fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(d->source, G_SOURCE_FUNC(on_readable), d, NULL);
    g_source_attach(d->source, context);
    g_source_unref(d->source);
    return d;
}

void vgpu_qemu_display_destroy(struct vgpu_qemu_display *d)
{
    if (!d)
        return;
    if (d->source)
        g_source_destroy(d->source);
    if (d->out_source) {
        g_source_destroy(d->out_source);
        g_source_unref(d->out_source);
    }
    close(d->fd);
    g_byte_array_unref(d->out);
    g_main_context_unref(d->context);
    g_free(d);
}

bool vgpu_qemu_display_scanout(struct vgpu_qemu_display *d, uint32_t scanout, uint32_t width,
                               uint32_t height)
{
    uint32_t s[3] = {scanout, width, height};
    struct header h = {SCANOUT, 0, sizeof(s)};
    return send_msg(d, false, &h, s, sizeof(s), NULL, 0);
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
    if (d->dead || d->out->len)
        return false; /* QEMU is behind: the damage waits */
    if (stride == row)
        return send_msg(d, true, &h, u, sizeof(u), pixels, bytes);
    g_autofree uint8_t *packed = g_malloc(bytes);
    for (uint32_t i = 0; i < height; i++)
        memcpy(packed + i * row, pixels + (size_t)i * stride, row);
    return send_msg(d, true, &h, u, sizeof(u), packed, bytes);
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
    return send_msg(d, true, &h, &c, sizeof(c), NULL, 0);
}

bool vgpu_qemu_display_cursor_pos(struct vgpu_qemu_display *d, uint32_t scanout, uint32_t x,
                                  uint32_t y)
{
    uint32_t p[3] = {scanout, x, y};
    struct header h = {CURSOR_POS, 0, sizeof(p)};
    return send_msg(d, true, &h, p, sizeof(p), NULL, 0);
}
