#include "config.h"

#include "pointer.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gio/gio.h>

#include "qxl.h"

#define SIZE            64
#define FOURCC_XRGB8888 0x34325258

struct sgl_pointer {
    QXLInstance qxl;
    int fd; /* the scanout's memfd (spice-server gets dups) */
    bool enabled;
};

static void qxl_async_complete(QXLInstance *qin, uint64_t cookie)
{
}

/* 0: monitor configs are not this display's (the agent takes them). */
static int qxl_client_monitors_config(QXLInstance *qin, VDAgentMonitorsConfig *mc)
{
    return 0;
}

static const QXLInterface interface = {
    .base = {.type = SPICE_INTERFACE_QXL,
             .description = "spicegl pointer (client mouse mode)",
             .major_version = SPICE_INTERFACE_QXL_MAJOR,
             .minor_version = SPICE_INTERFACE_QXL_MINOR},
    SGL_QXL_NOOP_CALLBACKS,
    .async_complete = qxl_async_complete,
    .client_monitors_config = qxl_client_monitors_config,
};

void sgl_pointer_set_enabled(struct sgl_pointer *p, bool enabled)
{
    if (enabled == p->enabled)
        return;
    /* spice-server takes the fd it is given, and looks at whether there is
     * one to allow client mouse mode. */
    int fd = enabled ? fcntl(p->fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (enabled && fd < 0) {
        g_warning("client mouse mode: %s: clients stay in server mouse mode", g_strerror(errno));
        return;
    }
    if (enabled)
        spice_qxl_gl_scanout(&p->qxl, fd, SIZE, SIZE, SIZE * 4, FOURCC_XRGB8888, 0);
    else
        spice_qxl_gl_scanout(&p->qxl, -1, 0, 0, 0, 0, 0);
    p->enabled = enabled;
}

struct sgl_pointer *sgl_pointer_create(SpiceServer *server, uint32_t qxl_id, bool enabled,
                                       GError **error)
{
    int fd = memfd_create("spicegl-pointer", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, SIZE * SIZE * 4) != 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "client mouse mode: cannot make its buffer: %s", g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct sgl_pointer *p = g_new0(struct sgl_pointer, 1);
    p->qxl.base.sif = &interface.base;
    p->qxl.id = (int)qxl_id;
    p->fd = fd;
    if (spice_server_add_interface(server, &p->qxl.base) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "spice-server refused the client mouse mode display");
        close(fd);
        g_free(p);
        return NULL;
    }
    sgl_pointer_set_enabled(p, enabled);
    return p;
}

void sgl_pointer_destroy(struct sgl_pointer *p)
{
    if (!p)
        return;
    close(p->fd);
    g_free(p);
}
