#include "config.h"

#include "gpu-thread.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/invoke.h"

struct vgpu_thread {
    struct sgl_source base;
    struct vgpu_thread_config config;
    struct sgl_source_listener cb;
    void *user;
    int listen_fd, conn_fd;
    GMainContext *main_context, *context;
    GMainLoop *loop;
    GThread *thread;
    /* GPU thread only */
    struct vgpu *gpu;
    struct vu_dev *dev;
    GSource *accept_source;
    /* start-up hand-shake and stats, under lock */
    GMutex lock;
    GCond started;
    bool start_done, serving;
    GError *start_error;
    char *renderer;
    struct vgpu_stats stats;
    /* The guest's latest cursor shape not yet taken by the main context:
     * one at most, the newest wins (under lock). */
    struct cursor_msg *cursor_shape;
};

/* ---- to the main context ------------------------------------------------ */

struct cursor_msg {
    struct vgpu_thread *b;
    uint32_t scanout, width, height, hot_x, hot_y;
    int32_t x, y;
    uint32_t *argb; /* NULL: a move */
};

static void cursor_msg_free(gpointer data)
{
    struct cursor_msg *m = data;
    if (m) {
        g_free(m->argb);
        g_free(m);
    }
}

static void deliver_cursor_move(void *data)
{
    struct cursor_msg *m = data;
    if (m->b->cb.cursor_move)
        m->b->cb.cursor_move(m->b->user, m->scanout, m->x, m->y);
}

static void deliver_cursor_shape(void *data)
{
    struct vgpu_thread *b = data;
    g_mutex_lock(&b->lock);
    struct cursor_msg *m = b->cursor_shape;
    b->cursor_shape = NULL;
    g_mutex_unlock(&b->lock);
    if (m && b->cb.cursor_set)
        b->cb.cursor_set(b->user, m->scanout, m->width, m->height, m->hot_x, m->hot_y, m->argb);
    cursor_msg_free(m);
}

static void post(struct vgpu_thread *b, void (*fn)(void *), void *data, GDestroyNotify free_fn)
{
    sgl_invoke(b->main_context, fn, data, free_fn);
}

/* Shapes are up to 256 KiB and the guest sends them as fast as it likes:
 * the main context gets the newest, and one delivery is queued at most. */
static void on_cursor_set(void *user, uint32_t scanout, uint32_t w, uint32_t h, uint32_t hot_x,
                          uint32_t hot_y, const uint32_t *argb)
{
    struct vgpu_thread *b = user;
    struct cursor_msg *m = g_new0(struct cursor_msg, 1);
    *m = (struct cursor_msg){
        b, scanout, w, h, hot_x, hot_y, 0, 0, g_memdup2(argb, (gsize)w * h * 4)};
    g_mutex_lock(&b->lock);
    struct cursor_msg *old = b->cursor_shape;
    b->cursor_shape = m;
    g_mutex_unlock(&b->lock);
    if (old)
        cursor_msg_free(old); /* a delivery is already queued: it takes m */
    else
        post(b, deliver_cursor_shape, b, NULL);
}

static void on_cursor_move(void *user, uint32_t scanout, int32_t x, int32_t y)
{
    struct vgpu_thread *b = user;
    struct cursor_msg *m = g_new0(struct cursor_msg, 1);
    *m = (struct cursor_msg){.b = b, .scanout = scanout, .x = x, .y = y};
    post(b, deliver_cursor_move, m, cursor_msg_free);
}

struct gone_msg {
    struct vgpu_thread *b;
    char *why;
};

static void deliver_gone(void *data)
{
    struct gone_msg *m = data;
    if (m->b->cb.gone)
        m->b->cb.gone(m->b->user, m->why);
}

static void gone_msg_free(gpointer data)
{
    struct gone_msg *m = data;
    g_free(m->why);
    g_free(m);
}

static void deliver_connected(void *data)
{
    struct vgpu_thread *b = data;
    if (b->cb.connected)
        b->cb.connected(b->user);
}

static void on_frame(void *user, uint32_t scanout, const struct sgl_frame *frame)
{
    struct vgpu_thread *b = user;
    if (b->cb.frame)
        b->cb.frame(b->user, scanout, frame);
}

static void on_disconnected(void *user, const char *why)
{
    struct vgpu_thread *b = user;
    struct gone_msg *m = g_new0(struct gone_msg, 1);
    m->b = b;
    m->why = g_strdup(why);
    post(b, deliver_gone, m, gone_msg_free);
}

/* ---- the GPU thread ------------------------------------------------- */

static void take_connection(struct vgpu_thread *b, int fd)
{
    b->conn_fd = -1;
    b->dev = vu_dev_create(fd, b->context, vgpu_vu_iface(b->gpu), b->gpu);
    vgpu_set_dev(b->gpu, b->dev);
    post(b, deliver_connected, b, NULL);
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data)
{
    struct vgpu_thread *b = data;
    int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return G_SOURCE_CONTINUE;
        on_disconnected(b, g_strerror(errno));
        b->accept_source = NULL;
        return G_SOURCE_REMOVE;
    }
    take_connection(b, conn);
    b->accept_source = NULL;
    return G_SOURCE_REMOVE; /* one QEMU per backend */
}

static gboolean copy_stats(gpointer data)
{
    struct vgpu_thread *b = data;
    struct vgpu_stats st;
    vgpu_get_stats(b->gpu, &st);
    g_mutex_lock(&b->lock);
    b->stats = st;
    g_mutex_unlock(&b->lock);
    return G_SOURCE_CONTINUE;
}

static gpointer run(gpointer data)
{
    struct vgpu_thread *b = data;
    g_main_context_push_thread_default(b->context);
    static const struct sgl_source_listener gpu_cb = {.frame = on_frame,
                                                      .cursor_set = on_cursor_set,
                                                      .cursor_move = on_cursor_move,
                                                      .gone = on_disconnected};
    GError *error = NULL;
    b->gpu = vgpu_create(&b->config.gpu, &gpu_cb, b, &error);
    g_mutex_lock(&b->lock);
    b->start_error = error;
    b->renderer = b->gpu ? g_strdup(vgpu_renderer_description(b->gpu)) : NULL;
    b->start_done = true;
    g_cond_signal(&b->started);
    g_mutex_unlock(&b->lock);
    if (!b->gpu)
        goto out;
    GSource *stats = g_timeout_source_new(250);
    g_source_set_callback(stats, copy_stats, b, NULL);
    g_source_attach(stats, b->context);
    g_main_loop_run(b->loop);
    g_source_destroy(stats);
    g_source_unref(stats);
    if (b->accept_source)
        g_source_destroy(b->accept_source);
    /* The connection first: its rings point into memory it unmaps, and
     * the device's fenced answers into those rings. */
    vgpu_set_dev(b->gpu, NULL);
    vu_dev_destroy(b->dev);
    vgpu_destroy(b->gpu);
out:
    g_main_context_pop_thread_default(b->context);
    return NULL;
}

/* Starts serving QEMU: runs on the GPU thread once the source is started
 * (the sandbox is in place). */
static void start_serving(void *data)
{
    struct vgpu_thread *b = data;
    if (b->conn_fd >= 0) {
        take_connection(b, b->conn_fd);
    } else {
        b->accept_source = g_unix_fd_source_new(b->listen_fd, G_IO_IN);
        g_source_set_callback(b->accept_source, G_SOURCE_FUNC(on_accept), b, NULL);
        g_source_attach(b->accept_source, b->context);
        g_source_unref(b->accept_source);
    }
}

/* ---- main side ---------------------------------------------------------- */

static int listen_on(const char *path, GError **error)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "--socket-path is longer than %zu bytes", sizeof(sa.sun_path) - 1);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(path); /* a stale socket of an earlier run */
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot listen on --socket-path %s: %s", path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static const struct sgl_source_impl gpu_source_impl;

static struct vgpu_thread *from_source(struct sgl_source *source)
{
    g_assert(source->impl == &gpu_source_impl);
    return (struct vgpu_thread *)source;
}

static void gpu_source_destroy(struct sgl_source *source)
{
    struct vgpu_thread *b = from_source(source);
    if (b->thread) {
        g_main_loop_quit(b->loop);
        g_thread_join(b->thread);
    }
    if (b->listen_fd >= 0)
        close(b->listen_fd);
    if (b->conn_fd >= 0)
        close(b->conn_fd);
    /* Messages posted to the main context hold b: run them out first. */
    while (g_main_context_iteration(b->main_context, FALSE))
        ;
    cursor_msg_free(b->cursor_shape);
    g_free(b->renderer);
    g_clear_error(&b->start_error);
    g_main_loop_unref(b->loop);
    g_main_context_unref(b->context);
    g_main_context_unref(b->main_context);
    g_mutex_clear(&b->lock);
    g_cond_clear(&b->started);
    g_free(b);
}

static void gpu_source_start(struct sgl_source *source)
{
    struct vgpu_thread *b = from_source(source);
    if (b->serving)
        return;
    b->serving = true;
    sgl_invoke(b->context, start_serving, b, NULL);
}

struct mode_msg {
    struct vgpu_thread *b;
    uint32_t scanout, width, height;
};

static void apply_mode(void *data)
{
    struct mode_msg *m = data;
    vgpu_request_mode(m->b->gpu, m->scanout, m->width, m->height);
}

static void gpu_source_request_mode(struct sgl_source *source, uint32_t scanout, uint32_t width,
                                    uint32_t height)
{
    struct vgpu_thread *b = from_source(source);
    struct mode_msg m = {b, scanout, width, height};
    g_message("a client asks for %ux%u on monitor %u: telling the guest", width, height, scanout);
    sgl_invoke_copy(b->context, apply_mode, &m, sizeof(m));
}

static void get_stats(struct vgpu_thread *b, struct vgpu_stats *stats)
{
    g_mutex_lock(&b->lock);
    *stats = b->stats;
    g_mutex_unlock(&b->lock);
}

/* The guest's frames: read back after its flushes. */
static uint64_t gpu_source_frames(struct sgl_source *source)
{
    struct vgpu_stats st;
    get_stats(from_source(source), &st);
    return st.frames;
}

static void gpu_source_gpu_stats(struct sgl_source *source, struct sgl_source_gpu_stats *stats)
{
    struct vgpu_thread *b = from_source(source);
    struct vgpu_stats st;
    get_stats(b, &st);
    *stats = (struct sgl_source_gpu_stats){.commands = st.commands,
                                           .rejected = st.errors,
                                           .flushes = st.flushes,
                                           .frames = st.frames,
                                           .fences = st.fences,
                                           .read_pixels = st.read_pixels,
                                           .shown_pixels = st.shown_pixels,
                                           .changed_pixels = st.changed_pixels,
                                           .resources = st.resources,
                                           .contexts = st.contexts,
                                           .host_bytes = st.host_bytes,
                                           .max_host_bytes = b->config.gpu.max_host_bytes};
}

static const struct sgl_source_impl gpu_source_impl = {
    .start = gpu_source_start,
    .request_mode = gpu_source_request_mode,
    .frames = gpu_source_frames,
    .gpu_stats = gpu_source_gpu_stats,
    .destroy = gpu_source_destroy,
};

struct sgl_source *vgpu_thread_create(const struct vgpu_thread_config *config,
                                      const struct sgl_source_listener *listener, void *user,
                                      GError **error)
{
    struct vgpu_thread *b = g_new0(struct vgpu_thread, 1);
    b->base = (struct sgl_source){&gpu_source_impl, config->gpu.num_scanouts, false};
    b->config = *config;
    b->cb = *listener;
    b->user = user;
    b->listen_fd = b->conn_fd = -1;
    g_mutex_init(&b->lock);
    g_cond_init(&b->started);
    GMainContext *c = g_main_context_get_thread_default();
    b->main_context = g_main_context_ref(c ? c : g_main_context_default());
    b->context = g_main_context_new();
    b->loop = g_main_loop_new(b->context, FALSE);
    if (config->socket_path) {
        b->listen_fd = listen_on(config->socket_path, error);
        if (b->listen_fd < 0)
            goto fail;
    } else {
        int listening = 0;
        socklen_t len = sizeof(listening);
        if (getsockopt(config->fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        "--fd %d is not a socket: %s", config->fd, g_strerror(errno));
            goto fail;
        }
        if (listening)
            b->listen_fd = config->fd;
        else
            b->conn_fd = config->fd;
    }
    b->thread = g_thread_new("vhost-user-gpu", run, b);
    g_mutex_lock(&b->lock);
    while (!b->start_done)
        g_cond_wait(&b->started, &b->lock);
    g_mutex_unlock(&b->lock);
    if (b->start_error) {
        g_propagate_error(error, b->start_error);
        b->start_error = NULL;
        goto fail;
    }
    return &b->base;
fail:
    gpu_source_destroy(&b->base);
    return NULL;
}

const char *vgpu_thread_renderer(struct sgl_source *source)
{
    return from_source(source)->renderer;
}
