#include "config.h"

#include "qmp.h"

#include <errno.h>
#include <stdint.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/sock.h"

struct qemu_qmp {
    char *path;
    int fd;
    GSource *drain; /* reads and drops QEMU's replies and events */
};

static void disconnect(struct qemu_qmp *q)
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
    struct qemu_qmp *q = data;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        g_message("QMP: QEMU's socket closed");
        g_source_unref(q->drain);
        q->drain = NULL;
        close(q->fd);
        q->fd = -1;
        return G_SOURCE_REMOVE;
    }
    if (n > 0 && g_strstr_len(buf, n, "\"error\""))
        g_warning("QMP: QEMU refused a command: %.*s", (int)MIN(n, 300), buf);
    return G_SOURCE_CONTINUE;
}

static bool send_all(int fd, const char *line, int pass_fd)
{
    struct iovec iov = {(char *)line, strlen(line)};
    return sgl_sock_send(fd, &iov, 1, &pass_fd, pass_fd >= 0 ? 1 : 0);
}

struct qemu_qmp *qemu_qmp_connect(const char *path, GError **error)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "QMP path %s is too long",
                    path);
        return NULL;
    }
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    struct qemu_qmp *q = g_new0(struct qemu_qmp, 1);
    q->path = g_strdup(path);
    q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot reach QEMU at %s: %s",
                    path, g_strerror(errno));
        qemu_qmp_destroy(q);
        return NULL;
    }
    /* QMP answers in order: no need to wait for the greeting. */
    if (!send_all(q->fd, "{\"execute\":\"qmp_capabilities\"}\n", -1)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "QEMU at %s closed QMP", path);
        qemu_qmp_destroy(q);
        return NULL;
    }
    q->drain = g_unix_fd_source_new(q->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(q->drain, G_SOURCE_FUNC(on_readable), q, NULL);
    g_source_attach(q->drain, NULL);
    g_message("QMP: connected to QEMU at %s", path);
    return q;
}

void qemu_qmp_destroy(struct qemu_qmp *q)
{
    if (!q)
        return;
    disconnect(q);
    g_free(q->path);
    g_free(q);
}

bool qemu_qmp_send(struct qemu_qmp *q, const char *command, int fd)
{
    if (q->fd < 0)
        return false;
    g_autofree char *line = g_strdup_printf("%s\n", command);
    if (send_all(q->fd, line, fd))
        return true;
    disconnect(q);
    return false;
}
