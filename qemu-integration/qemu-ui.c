#include "config.h"

#include "qemu-ui.h"

#include <gio/gio.h>
#include <sys/socket.h>
#include <unistd.h>

struct vgpu_qemu_ui {
    struct vgpu_qmp *qmp;
    GDBusConnection *bus; /* NULL until connected */
    GCancellable *cancel;
    bool connecting;
    /* per head, the size to set once connected; width 0: none */
    struct {
        uint32_t width, height;
    } pending[4];
};

static void apply(struct vgpu_qemu_ui *ui)
{
    for (uint32_t head = 0; ui->bus && head < G_N_ELEMENTS(ui->pending); head++) {
        uint32_t w = ui->pending[head].width, h = ui->pending[head].height;
        if (!w)
            continue;
        /* QEMU's console N is head N of the one GPU. */
        g_autofree char *path = g_strdup_printf("/org/qemu/Display1/Console_%u", head);
        /* Physical size for ~96 dpi. */
        uint16_t wmm = (uint16_t)MIN(w * 254 / 960, 65535u);
        uint16_t hmm = (uint16_t)MIN(h * 254 / 960, 65535u);
        g_dbus_connection_call(ui->bus, NULL, path, "org.qemu.Display1.Console", "SetUIInfo",
                               g_variant_new("(qqiiuu)", wmm, hmm, 0, 0, w, h), NULL,
                               G_DBUS_CALL_FLAGS_NONE, 5000, ui->cancel, NULL, NULL);
        g_message("display: asked QEMU for %ux%u on head %u", w, h, head);
        ui->pending[head].width = 0;
    }
}

static void on_closed(GDBusConnection *bus, gboolean remote, GError *error, gpointer data)
{
    struct vgpu_qemu_ui *ui = data;
    g_message("display: QEMU's D-Bus display connection closed");
    g_signal_handlers_disconnect_by_data(ui->bus, ui);
    g_clear_object(&ui->bus);
}

/* ui is alive here even when cancelled: destroy waits for this. */
static void on_connected(GObject *source, GAsyncResult *res, gpointer data)
{
    struct vgpu_qemu_ui *ui = data;
    g_autoptr(GError) error = NULL;
    GDBusConnection *bus = g_dbus_connection_new_finish(res, &error);
    ui->connecting = false;
    if (!bus) {
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_warning("display: QEMU's D-Bus display did not answer (%s): is QEMU running with "
                      "-display dbus,p2p=yes?",
                      error->message);
        return;
    }
    if (g_cancellable_is_cancelled(ui->cancel)) {
        g_object_unref(bus);
        return;
    }
    ui->bus = bus;
    g_signal_connect(bus, "closed", G_CALLBACK(on_closed), ui);
    apply(ui);
}

static void connect_bus(struct vgpu_qemu_ui *ui)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    /* QEMU takes one end over QMP and serves its display on it. */
    bool sent = vgpu_qmp_send(ui->qmp,
                              "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":"
                              "\"spicegl-dbus\"}}",
                              sv[1]) &&
                vgpu_qmp_send(ui->qmp,
                              "{\"execute\":\"add_client\",\"arguments\":{\"protocol\":"
                              "\"@dbus-display\",\"fdname\":\"spicegl-dbus\"}}",
                              -1);
    close(sv[1]);
    if (!sent) {
        close(sv[0]);
        return;
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocket) sock = g_socket_new_from_fd(sv[0], &error);
    if (!sock) {
        close(sv[0]);
        return;
    }
    g_autoptr(GSocketConnection) stream = g_socket_connection_factory_create_connection(sock);
    ui->connecting = true;
    g_dbus_connection_new(G_IO_STREAM(stream), NULL, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                          NULL, ui->cancel, on_connected, ui);
}

struct vgpu_qemu_ui *vgpu_qemu_ui_create(struct vgpu_qmp *qmp)
{
    struct vgpu_qemu_ui *ui = g_new0(struct vgpu_qemu_ui, 1);
    ui->qmp = qmp;
    ui->cancel = g_cancellable_new();
    return ui;
}

void vgpu_qemu_ui_destroy(struct vgpu_qemu_ui *ui)
{
    if (!ui)
        return;
    g_cancellable_cancel(ui->cancel);
    if (ui->bus) {
        g_signal_handlers_disconnect_by_data(ui->bus, ui);
        g_dbus_connection_close_sync(ui->bus, NULL, NULL);
        g_object_unref(ui->bus);
    }
    /* A cancelled connect still completes on the context: let it. */
    while (ui->connecting && g_main_context_iteration(NULL, FALSE))
        ;
    g_object_unref(ui->cancel);
    g_free(ui);
}

void vgpu_qemu_ui_set_size(struct vgpu_qemu_ui *ui, uint32_t head, uint32_t width, uint32_t height)
{
    if (head >= G_N_ELEMENTS(ui->pending))
        return;
    ui->pending[head].width = width;
    ui->pending[head].height = height;
    if (ui->bus)
        apply(ui);
    else if (!ui->connecting)
        connect_bus(ui);
}
