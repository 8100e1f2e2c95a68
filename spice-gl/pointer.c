#include "config.h"

#include "pointer.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gio/gio.h>

#include "qxl.h"

#define SIZE            64
#define FOURCC_XRGB8888 0x34325258

struct sgl_pointer {
    SpiceServer *server;
    bool enabled;
};

/* The short-lived QXL display (pointer.h). */
struct flag_setter {
    QXLInstance qxl;
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
             .description = "spicegl client mouse mode",
             .major_version = SPICE_INTERFACE_QXL_MAJOR,
             .minor_version = SPICE_INTERFACE_QXL_MINOR},
    SGL_QXL_NOOP_CALLBACKS,
    .async_complete = qxl_async_complete,
    .client_monitors_config = qxl_client_monitors_config,
};

/* spice-server's "a display allows client mouse mode" flag, set by a GL
 * scanout and kept after the display is gone. */
static bool set_client_mouse_allowed(SpiceServer *server, uint32_t qxl_id, GError **error)
{
    int fd = memfd_create("spicegl-pointer", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, SIZE * SIZE * 4) != 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "client mouse mode: cannot make its buffer: %s", g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    struct flag_setter f = {.qxl = {.base.sif = &interface.base, .id = (int)qxl_id}};
    if (spice_server_add_interface(server, &f.qxl.base) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "spice-server refused the client mouse mode display");
        close(fd);
        return false;
    }
    /* spice-server keeps the fd (one, for the daemon's life). */
    spice_qxl_gl_scanout(&f.qxl, fd, SIZE, SIZE, SIZE * 4, FOURCC_XRGB8888, 0);
    spice_server_remove_interface(&f.qxl.base);
    return true;
}

void sgl_pointer_set_enabled(struct sgl_pointer *p, bool enabled)
{
    if (enabled == p->enabled)
        return;
    spice_server_set_agent_mouse(p->server, enabled);
    p->enabled = enabled;
}

struct sgl_pointer *sgl_pointer_create(SpiceServer *server, uint32_t qxl_id, bool enabled,
                                       GError **error)
{
    if (!set_client_mouse_allowed(server, qxl_id, error))
        return NULL;
    struct sgl_pointer *p = g_new0(struct sgl_pointer, 1);
    p->server = server;
    /* The agent-mouse setting starts on in spice-server. */
    p->enabled = true;
    sgl_pointer_set_enabled(p, enabled);
    return p;
}

void sgl_pointer_destroy(struct sgl_pointer *p)
{
    g_free(p);
}
