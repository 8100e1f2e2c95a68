#include "config.h"

#include "local.h"

#include "common/invoke.h"
#include "qxl.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>

struct sgl_local {
    QXLInstance qxl; /* first: spice-server hands it back to us */
    GMainContext *context;
    void (*monitors)(const struct sgl_agent_monitor *m, uint32_t n, void *user);
    void *user;
    gint busy; /* atomic: a draw is in flight */
    dev_t dev;
    ino_t ino; /* of the buffer the clients have now */
    uint32_t width, height, stride, fourcc;
    struct sgl_local_stats stats;
};

#define COOKIE_GL_DRAW 0x5367446cu /* any value: only our async_complete reads it */

static struct sgl_local *from_qxl(QXLInstance *qxl)
{
    return (struct sgl_local *)qxl;
}

static void draw_done(void *data)
{
    struct sgl_local *l = data;
    l->stats.done++;
    g_atomic_int_set(&l->busy, 0);
}

/* Worker thread: the client has shown the draw. */
static void qxl_async_complete(QXLInstance *qin, uint64_t cookie)
{
    struct sgl_local *l = from_qxl(qin);
    if (cookie == COOKIE_GL_DRAW)
        sgl_invoke(l->context, draw_done, l, NULL);
}

struct monitors_msg {
    struct sgl_local *local;
    uint32_t n;
    struct sgl_agent_monitor m[SGL_AGENT_MAX_MONITORS];
};

static void deliver_monitors(void *data)
{
    struct monitors_msg *msg = data;
    msg->local->monitors(msg->m, msg->n, msg->local->user);
}

/* spice-server has checked the message's length against its count. */
static int qxl_client_monitors_config(QXLInstance *qin, VDAgentMonitorsConfig *mc)
{
    struct sgl_local *l = from_qxl(qin);
    if (!l->monitors)
        return 0;
    if (!mc || mc->num_of_monitors == 0)
        return 1; /* NULL: spice-server asks whether we take monitor configs */
    struct monitors_msg *msg = g_new0(struct monitors_msg, 1);
    msg->local = l;
    msg->n = MIN(mc->num_of_monitors, SGL_AGENT_MAX_MONITORS);
    for (uint32_t i = 0; i < msg->n; i++)
        msg->m[i] = (struct sgl_agent_monitor){MIN(mc->monitors[i].width, 16384u),
                                               MIN(mc->monitors[i].height, 16384u),
                                               mc->monitors[i].x, mc->monitors[i].y};
    sgl_invoke(l->context, deliver_monitors, msg, g_free);
    return 1;
}

static const QXLInterface interface = {
    .base = {.type = SPICE_INTERFACE_QXL,
             .description = "spicegl GL display",
             .major_version = SPICE_INTERFACE_QXL_MAJOR,
             .minor_version = SPICE_INTERFACE_QXL_MINOR},
    SGL_QXL_NOOP_CALLBACKS,
    .async_complete = qxl_async_complete,
    .client_monitors_config = qxl_client_monitors_config,
};

struct sgl_local *sgl_local_create(SpiceServer *server,
                                   void (*monitors)(const struct sgl_agent_monitor *m, uint32_t n,
                                                    void *user),
                                   void *user, GError **error)
{
    struct sgl_local *l = g_new0(struct sgl_local, 1);
    l->qxl.base.sif = &interface.base;
    l->qxl.id = 0;
    GMainContext *c = g_main_context_get_thread_default();
    l->context = g_main_context_ref(c ? c : g_main_context_default());
    l->monitors = monitors;
    l->user = user;
    if (spice_server_add_interface(server, &l->qxl.base) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "spice-server refused the GL display");
        g_main_context_unref(l->context);
        g_free(l);
        return NULL;
    }
    return l;
}

void sgl_local_destroy(struct sgl_local *l)
{
    if (!l)
        return;
    /* The server is gone: so is its worker; drop completions it posted. */
    while (g_main_context_iteration(l->context, FALSE))
        ;
    g_main_context_unref(l->context);
    g_free(l);
}

bool sgl_local_busy(struct sgl_local *l)
{
    return g_atomic_int_get(&l->busy) != 0;
}

bool sgl_local_submit(struct sgl_local *l, const struct sgl_frame *f)
{
    struct stat st;
    if (f->dmabuf.fd < 0 || sgl_local_busy(l) || fstat(f->dmabuf.fd, &st) != 0)
        return false;
    /* A new buffer or layout: pass the fd (spice-server owns the dup). */
    if (st.st_dev != l->dev || st.st_ino != l->ino || f->width != l->width ||
        f->height != l->height || f->dmabuf.stride != l->stride || f->dmabuf.fourcc != l->fourcc) {
        int fd = dup(f->dmabuf.fd);
        if (fd < 0)
            return false;
        /* Row 0 at the top, as in memory. */
        spice_qxl_gl_scanout(&l->qxl, fd, f->width, f->height, f->dmabuf.stride, f->dmabuf.fourcc,
                             1);
        l->dev = st.st_dev;
        l->ino = st.st_ino;
        l->width = f->width;
        l->height = f->height;
        l->stride = f->dmabuf.stride;
        l->fourcc = f->dmabuf.fourcc;
        l->stats.scanouts++;
    }
    g_atomic_int_set(&l->busy, 1);
    l->stats.draws++;
    spice_qxl_gl_draw_async(&l->qxl, 0, 0, f->width, f->height, COOKIE_GL_DRAW);
    return true;
}

void sgl_local_get_stats(struct sgl_local *l, struct sgl_local_stats *stats)
{
    *stats = l->stats;
}
