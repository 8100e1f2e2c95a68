#include "config.h"

#include "qmp-input.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct vgpu_qmp_input {
    char *path;
    int fd;
    GSource *drain; /* reads and drops QEMU's replies and events */
    uint32_t buttons;
    uint64_t failed; /* connection attempts */
    gint64 next_try_us;
};

static void disconnect(struct vgpu_qmp_input *q)
{
    if (q->drain) {
        g_source_destroy(q->drain);
        g_source_unref(q->drain);
        q->drain = NULL;
    }
    if (q->fd >= 0)
        close(q->fd);
    q->fd = -1;
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
    struct vgpu_qmp_input *q = data;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        g_message("input: QEMU's QMP socket closed");
        g_source_unref(q->drain);
        q->drain = NULL;
        close(q->fd);
        q->fd = -1;
        return G_SOURCE_REMOVE;
    }
    /* QEMU answers each command; a refusal is worth a line. */
    if (n > 0 && g_strstr_len(buf, n, "\"error\""))
        g_warning("input: QEMU refused an input event: %.*s", (int)MIN(n, 200), buf);
    return G_SOURCE_CONTINUE;
}

static bool send_line(struct vgpu_qmp_input *q, const char *line)
{
    size_t len = strlen(line), done = 0;
    while (done < len) {
        ssize_t n = send(q->fd, line + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

static bool connected(struct vgpu_qmp_input *q)
{
    if (q->fd >= 0)
        return true;
    gint64 now = g_get_monotonic_time();
    if (now < q->next_try_us)
        return false;
    q->next_try_us = now + G_USEC_PER_SEC; /* not more than once a second */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, q->path, sizeof(sa.sun_path));
    q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (!q->failed++)
            g_warning("input: cannot reach QEMU's QMP at %s (%s): input is dropped until it can",
                      q->path, g_strerror(errno));
        disconnect(q);
        return false;
    }
    /* QMP answers in order: no need to wait for the greeting. */
    if (!send_line(q, "{\"execute\":\"qmp_capabilities\"}\n")) {
        disconnect(q);
        return false;
    }
    q->drain = g_unix_fd_source_new(q->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(q->drain, G_SOURCE_FUNC(on_readable), q, NULL);
    g_source_attach(q->drain, NULL);
    g_message("input: sending the clients' input to the guest through QMP at %s", q->path);
    return true;
}

static void send_events(struct vgpu_qmp_input *q, const char *events)
{
    if (!connected(q))
        return;
    g_autofree char *line = g_strdup_printf(
        "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[%s]}}\n", events);
    if (!send_line(q, line))
        disconnect(q);
}

struct vgpu_qmp_input *vgpu_qmp_input_create(const char *path)
{
    struct vgpu_qmp_input *q = g_new0(struct vgpu_qmp_input, 1);
    q->path = g_strdup(path);
    q->fd = -1;
    return q;
}

void vgpu_qmp_input_destroy(struct vgpu_qmp_input *q)
{
    if (!q)
        return;
    disconnect(q);
    g_free(q->path);
    g_free(q);
}

void vgpu_qmp_input_key(struct vgpu_qmp_input *q, uint32_t scancode, bool down)
{
    /* QEMU numbers extended keys 0x80 | code; Pause has a qcode of its own. */
    uint32_t number;
    if (scancode < 0x80)
        number = scancode;
    else if ((scancode & 0xff00) == 0xe000 && (scancode & 0xff) < 0x80)
        number = 0x80 | (scancode & 0x7f);
    else if (scancode == 0xe11d) {
        g_autofree char *ev = g_strdup_printf(
            "{\"type\":\"key\",\"data\":{\"down\":%s,\"key\":{\"type\":\"qcode\",\"data\":"
            "\"pause\"}}}",
            down ? "true" : "false");
        send_events(q, ev);
        return;
    } else {
        g_debug("input: scancode 0x%x has no QEMU number; dropped", scancode);
        return;
    }
    g_autofree char *ev = g_strdup_printf(
        "{\"type\":\"key\",\"data\":{\"down\":%s,\"key\":{\"type\":\"number\",\"data\":%u}}}",
        down ? "true" : "false", number);
    send_events(q, ev);
}

void vgpu_qmp_input_motion(struct vgpu_qmp_input *q, int dx, int dy)
{
    if (!dx && !dy)
        return;
    g_autofree char *ev =
        g_strdup_printf("{\"type\":\"rel\",\"data\":{\"axis\":\"x\",\"value\":%d}},"
                        "{\"type\":\"rel\",\"data\":{\"axis\":\"y\",\"value\":%d}}",
                        dx, dy);
    send_events(q, ev);
}

void vgpu_qmp_input_wheel(struct vgpu_qmp_input *q, int dz)
{
    const char *button = dz < 0 ? "wheel-up" : "wheel-down";
    for (int i = 0; i < ABS(dz) && i < 16; i++) {
        g_autofree char *ev =
            g_strdup_printf("{\"type\":\"btn\",\"data\":{\"down\":true,\"button\":\"%s\"}},"
                            "{\"type\":\"btn\",\"data\":{\"down\":false,\"button\":\"%s\"}}",
                            button, button);
        send_events(q, ev);
    }
}

void vgpu_qmp_input_position(struct vgpu_qmp_input *q, int x, int y, int width, int height)
{
    if (width <= 0 || height <= 0)
        return;
    long ax = (long)CLAMP(x, 0, width - 1) * 0x7fff / MAX(width - 1, 1);
    long ay = (long)CLAMP(y, 0, height - 1) * 0x7fff / MAX(height - 1, 1);
    g_autofree char *ev =
        g_strdup_printf("{\"type\":\"abs\",\"data\":{\"axis\":\"x\",\"value\":%ld}},"
                        "{\"type\":\"abs\",\"data\":{\"axis\":\"y\",\"value\":%ld}}",
                        ax, ay);
    send_events(q, ev);
}

void vgpu_qmp_input_buttons(struct vgpu_qmp_input *q, uint32_t buttons)
{
    static const struct {
        uint32_t mask;
        const char *name;
    } map[] = {{1u << 0, "left"}, {1u << 1, "middle"}, {1u << 2, "right"}};
    uint32_t changed = buttons ^ q->buttons;
    q->buttons = buttons;
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
        if (!(changed & map[i].mask))
            continue;
        g_autofree char *ev =
            g_strdup_printf("{\"type\":\"btn\",\"data\":{\"down\":%s,\"button\":\"%s\"}}",
                            buttons & map[i].mask ? "true" : "false", map[i].name);
        send_events(q, ev);
    }
}
