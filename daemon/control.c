#define _GNU_SOURCE
#include "config.h"

#include "control.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>

#include "qemu-integration/virtio-gpu/ratelimit.h"

struct connection {
    struct sgl_control *control;
    int fd;
    guint watch;
    char in[SGL_CONTROL_MAX_LINE];
    size_t in_len;
    char *out; /* the reply being written */
    size_t out_len, out_done;
    bool close_after; /* once out is written */
    bool draining;    /* the last reply went out: discarding input until EOF */
    size_t drained;
    struct sgl_control_call *call; /* the request being answered, or NULL */
};

struct sgl_control_call {
    struct connection *conn; /* NULL once the client is gone */
    JsonNode *id;
    enum sgl_control_command command;
};

struct sgl_control {
    struct sgl_control_handler handler;
    void *user;
    int listen_fd;
    guint listen_watch;
    GPtrArray *connections;          /* struct connection * */
    struct vgpu_ratelimit log_limit; /* refused requests' log lines, per error class */
};

/* Kinds of log line a control client can cause, beside the error codes. */
enum { LOG_OTHER_USER = 32, LOG_TOO_MANY };

/* A log line a client can cause: at most a few a second of each kind. */
static void log_limited(struct sgl_control *ctl, uint32_t kind, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
static void log_limited(struct sgl_control *ctl, uint32_t kind, const char *fmt, ...)
{
    uint64_t held_back;
    if (!vgpu_ratelimit_allow(&ctl->log_limit, kind, g_get_monotonic_time(), &held_back))
        return;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (held_back)
        g_message("control: %s (%" G_GUINT64_FORMAT " more like it not logged)", msg, held_back);
    else
        g_message("control: %s", msg);
}

static void connection_free(gpointer p)
{
    struct connection *c = p;
    if (c->call)
        c->call->conn = NULL; /* its answer is dropped */
    if (c->watch)
        g_source_remove(c->watch);
    close(c->fd);
    g_free(c->out);
    g_free(c);
}

static void connection_close(struct connection *c)
{
    g_ptr_array_remove(c->control->connections, c);
}

static gboolean on_connection_io(gint fd, GIOCondition cond, gpointer data);

/* cond 0: no watch (while a call is answered). */
static void watch_for(struct connection *c, GIOCondition cond)
{
    if (c->watch)
        g_source_remove(c->watch);
    c->watch = cond ? g_unix_fd_add(c->fd, cond, on_connection_io, c) : 0;
}

/* A reply is being made or written: the next request waits. */
static bool busy(const struct connection *c)
{
    return c->out || c->call;
}

/* Queues one reply line (taken); reading stops until it is written. */
static void send_line(struct connection *c, char *line, bool close_after)
{
    g_assert(!c->out);
    c->out = line;
    c->out_len = strlen(line);
    c->out_done = 0;
    c->close_after = close_after;
    watch_for(c, G_IO_OUT);
}

static void send_error(struct connection *c, JsonNode *id, int code, const char *message,
                       bool close_after)
{
    g_autoptr(GError) error = g_error_new_literal(SGL_CONTROL_ERROR, code, message);
    send_line(c, sgl_control_reply_error(id, error), close_after);
}

static void call_finish(struct sgl_control_call *call, char *reply)
{
    struct connection *c = call->conn;
    if (c) {
        c->call = NULL;
        send_line(c, reply, false);
    } else {
        g_free(reply);
    }
    if (call->id)
        json_node_unref(call->id);
    g_free(call);
}

void sgl_control_call_return(struct sgl_control_call *call, JsonObject *ret)
{
    call_finish(call, sgl_control_reply_return(call->id, ret));
}

void sgl_control_call_fail(struct sgl_control_call *call, const GError *error)
{
    if (call->conn)
        log_limited(call->conn->control, SGL_CONTROL_ERROR_FAILED, "%s failed: %s",
                    sgl_control_command_name(call->command), error->message);
    call_finish(call, sgl_control_reply_error(call->id, error));
}

static void handle_line(struct connection *c, const char *line, size_t len)
{
    struct sgl_control_request req;
    g_autoptr(GError) error = NULL;
    if (!sgl_control_parse(line, len, &req, &error)) {
        log_limited(c->control, (uint32_t)error->code, "request refused: %s", error->message);
        send_line(c, sgl_control_reply_error(req.id, error), false);
    } else {
        struct sgl_control_call *call = g_new0(struct sgl_control_call, 1);
        *call = (struct sgl_control_call){
            .conn = c, .id = req.id ? json_node_ref(req.id) : NULL, .command = req.command};
        c->call = call;
        /* Nothing is read while the answer is made. */
        watch_for(c, 0);
        c->control->handler.execute(&req, call, c->control->user);
    }
    sgl_control_request_finish(&req);
}

/* The first whole line in the buffer, handled (an empty one is skipped);
 * false when there is none. */
static bool take_line(struct connection *c)
{
    char *nl = memchr(c->in, '\n', c->in_len);
    if (!nl)
        return false;
    size_t len = (size_t)(nl - c->in);
    size_t line_len = len && c->in[len - 1] == '\r' ? len - 1 : len;
    if (line_len)
        handle_line(c, c->in, line_len);
    memmove(c->in, nl + 1, c->in_len - len - 1);
    c->in_len -= len + 1;
    return true;
}

/* Input after the last reply: discarded, up to a bound, until the client
 * closes. */
static bool drain(struct connection *c)
{
    char buf[4096];
    ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n > 0)
        c->drained += (size_t)n;
    return n > 0 && c->drained < SGL_CONTROL_MAX_DRAIN;
}

static bool read_some(struct connection *c)
{
    if (c->draining)
        return drain(c);
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n <= 0)
        return false;
    c->in_len += (size_t)n;
    while (!busy(c) && take_line(c))
        ;
    if (!busy(c) && c->in_len == sizeof(c->in)) {
        log_limited(c->control, SGL_CONTROL_ERROR_TOO_LONG,
                    "a request line over %d bytes: disconnecting the client",
                    SGL_CONTROL_MAX_LINE - 1);
        g_autofree char *msg =
            g_strdup_printf("a request is at most %d bytes a line", SGL_CONTROL_MAX_LINE - 1);
        send_error(c, NULL, SGL_CONTROL_ERROR_TOO_LONG, msg, true);
    }
    return true;
}

static bool write_some(struct connection *c)
{
    ssize_t n =
        send(c->fd, c->out + c->out_done, c->out_len - c->out_done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n < 0)
        return false;
    c->out_done += (size_t)n;
    if (c->out_done < c->out_len)
        return true;
    g_clear_pointer(&c->out, g_free);
    if (c->close_after) {
        /* Closed with input still unread, the socket would reset and the
         * client could lose the reply: it ends its side first. */
        shutdown(c->fd, SHUT_WR);
        c->draining = true;
        watch_for(c, G_IO_IN);
        return true;
    }
    /* Requests that came in meanwhile, then more from the socket. */
    while (!busy(c) && take_line(c))
        ;
    if (!busy(c))
        watch_for(c, G_IO_IN);
    return true;
}

static gboolean on_connection_io(gint fd, GIOCondition cond, gpointer data)
{
    (void)fd;
    struct connection *c = data;
    bool ok = c->out ? write_some(c) : (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && read_some(c);
    if (!ok) {
        c->watch = 0; /* removed by returning G_SOURCE_REMOVE */
        connection_close(c);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

/* The greeting: what this daemon is and which commands it takes. */
static char *greeting(void)
{
    JsonObject *o = json_object_new();
    json_object_set_string_member(o, "version", PACKAGE_VERSION);
    JsonArray *cmds = json_array_new();
    for (int i = 0; i <= SGL_CONTROL_METRICS; i++)
        json_array_add_string_element(cmds, sgl_control_command_name(i));
    json_object_set_array_member(o, "commands", cmds);
    JsonObject *g = json_object_new();
    json_object_set_object_member(g, "spicegl", o);
    g_autoptr(JsonNode) root = json_node_init_object(json_node_alloc(), g);
    json_object_unref(g);
    g_autofree char *text = json_to_string(root, FALSE);
    return g_strconcat(text, "\n", NULL);
}

static gboolean on_incoming(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    struct sgl_control *ctl = data;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (cfd < 0)
        return G_SOURCE_CONTINUE;
    struct connection *c = g_new0(struct connection, 1);
    c->control = ctl;
    c->fd = cfd;
    g_ptr_array_add(ctl->connections, c);
    /* The socket's mode keeps other users out; this says so to one that
     * got in anyway (a directory's ACL, a passed fd). */
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
        (cred.uid != geteuid() && cred.uid != 0)) {
        log_limited(ctl, LOG_OTHER_USER, "refused a client of uid %d", (int)cred.uid);
        send_error(c, NULL, SGL_CONTROL_ERROR_FAILED, "the control socket serves its owner only",
                   true);
    } else if (ctl->connections->len > SGL_CONTROL_MAX_CLIENTS) {
        log_limited(ctl, LOG_TOO_MANY, "%d clients already: refusing another",
                    SGL_CONTROL_MAX_CLIENTS);
        g_autofree char *msg = g_strdup_printf(
            "%d control clients are connected already: close one", SGL_CONTROL_MAX_CLIENTS);
        send_error(c, NULL, SGL_CONTROL_ERROR_FAILED, msg, true);
    } else {
        send_line(c, greeting(), false);
    }
    return G_SOURCE_CONTINUE;
}

/* Who listens on path: "process N (comm)", or NULL when no one does. */
static char *holder(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    char *who = NULL;
    if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0) {
        struct ucred cred = {0};
        socklen_t len = sizeof(cred);
        g_autofree char *comm_path = NULL, *comm = NULL;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0) {
            comm_path = g_strdup_printf("/proc/%d/comm", (int)cred.pid);
            if (g_file_get_contents(comm_path, &comm, NULL, NULL))
                g_strchomp(comm);
            who = g_strdup_printf("process %d (%s)", (int)cred.pid, comm ? comm : "?");
        } else {
            who = g_strdup_printf("another process");
        }
    }
    close(fd);
    return who;
}

static int listen_on(const char *path, GError **error)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "--control %s: the path is over %zu bytes: choose a shorter one", path,
                    sizeof(addr.sun_path) - 1);
        return -1;
    }
    strcpy(addr.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                        "--control %s exists and is not a socket: remove it or choose another "
                        "path",
                        path);
            return -1;
        }
        g_autofree char *who = holder(&addr);
        if (who) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                        "--control %s is in use by %s: stop it or choose another path", path, who);
            return -1;
        }
        unlink(path); /* stale: a daemon that ended left it */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        goto fail;
    /* Bound, then made private, then listening: no one can connect while
     * it still has the umask's mode. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 ||
        listen(fd, SGL_CONTROL_MAX_CLIENTS) < 0)
        goto fail;
    return fd;
fail:
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                "--control %s: cannot listen there: %s", path, g_strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

struct sgl_control *sgl_control_create(const char *path, const struct sgl_control_handler *handler,
                                       void *user, GError **error)
{
    int fd = listen_on(path, error);
    if (fd < 0)
        return NULL;
    struct sgl_control *ctl = g_new0(struct sgl_control, 1);
    ctl->handler = *handler;
    ctl->user = user;
    ctl->listen_fd = fd;
    ctl->connections = g_ptr_array_new_with_free_func(connection_free);
    ctl->listen_watch = g_unix_fd_add(fd, G_IO_IN, on_incoming, ctl);
    return ctl;
}

void sgl_control_destroy(struct sgl_control *ctl)
{
    if (!ctl)
        return;
    g_ptr_array_unref(ctl->connections);
    g_source_remove(ctl->listen_watch);
    /* The socket file stays (a sandboxed daemon may not unlink): the next
     * daemon on the path replaces it. */
    close(ctl->listen_fd);
    g_free(ctl);
}
