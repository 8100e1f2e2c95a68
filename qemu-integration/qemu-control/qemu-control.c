#include "config.h"

#include "qemu-control.h"

#include <errno.h>
#include <gio/gio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qemu-audio.h"
#include "qemu-chardev.h"
#include "qmp.h"

/* How long QMP stays open waiting for the D-Bus display to answer. */
#define DBUS_TIMEOUT_S 5
/* QEMU makes its QMP socket after the GPU's: wait this long for it. */
#define QMP_WAIT_MS  15000
#define QMP_RETRY_MS 100
#define MAX_HEADS    4

/* QEMU's InputButton numbers, in SPICE's button-mask order. */
enum { BUTTON_WHEEL_UP = 3, BUTTON_WHEEL_DOWN = 4, N_BUTTONS = 7 };

/* QEMU's name on a message bus (ui/dbus.c); on a p2p connection, none. */
#define QEMU_BUS_NAME "org.qemu"

struct qemu_control {
    char *qmp_path;       /* p2p: the display's socket is obtained over QMP */
    char *bus_address;    /* or: QEMU's display is on this message bus */
    struct qemu_qmp *qmp; /* only while obtaining the display */
    GDBusConnection *bus; /* NULL until QEMU's display answers */
    guint name_watch;     /* on a bus: QEMU_BUS_NAME owned or not */
    bool named;           /* on a bus: QEMU owns QEMU_BUS_NAME */
    bool lost_logged;
    GCancellable *cancel;
    guint timeout, retry;
    int64_t qmp_deadline_us;
    bool started, connecting, refused_logged;
    struct qemu_audio *audio;                           /* borrowed; NULL: no sound */
    struct qemu_chardev *ports[QEMU_CONTROL_MAX_PORTS]; /* borrowed */
    unsigned n_ports;
    uint32_t buttons;
    /* The VM's Mouse: whether QEMU routes positions to an absolute device. */
    void (*absolute)(bool absolute, void *user);
    void *user;
    GDBusProxy *mouse;
    bool proxying;      /* the proxy is being made */
    int known_absolute; /* -1 not known yet, else 0 or 1 */
    /* per head, the size to set once connected; width 0: none */
    struct {
        uint32_t width, height;
    } pending[MAX_HEADS];
};

static void close_qmp(struct qemu_control *c)
{
    if (c->timeout)
        g_source_remove(c->timeout);
    c->timeout = 0;
    if (c->qmp)
        g_message("QMP: closed; the daemon holds no QMP connection from here on");
    g_clear_pointer(&c->qmp, qemu_qmp_destroy);
}

static void on_call_done(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) v = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
    if (!v && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        struct qemu_control *c = data;
        if (!c->refused_logged)
            g_message("display: QEMU refused a call (%s); further refusals are not logged",
                      error->message);
        c->refused_logged = true;
    }
}

static void call(struct qemu_control *c, uint32_t head, const char *iface, const char *method,
                 GVariant *args)
{
    if (!c->bus || (c->bus_address && !c->named)) {
        g_variant_unref(g_variant_ref_sink(args));
        return;
    }
    /* QEMU's console N is head N of the one GPU. */
    g_autofree char *path = g_strdup_printf("/org/qemu/Display1/Console_%u", head);
    g_autofree char *name = g_strdup_printf("org.qemu.Display1.%s", iface);
    g_dbus_connection_call(c->bus, c->bus_address ? QEMU_BUS_NAME : NULL, path, name, method, args,
                           NULL, G_DBUS_CALL_FLAGS_NONE, 5000, c->cancel, on_call_done, c);
}

static void apply_sizes(struct qemu_control *c)
{
    if (c->bus_address && !c->named)
        return;
    for (uint32_t head = 0; c->bus && head < MAX_HEADS; head++) {
        uint32_t w = c->pending[head].width, h = c->pending[head].height;
        if (!w)
            continue;
        /* Physical size for ~96 dpi. */
        uint16_t wmm = (uint16_t)MIN(w * 254 / 960, 65535u);
        uint16_t hmm = (uint16_t)MIN(h * 254 / 960, 65535u);
        call(c, head, "Console", "SetUIInfo", g_variant_new("(qqiiuu)", wmm, hmm, 0, 0, w, h));
        g_message("display: asked QEMU for %ux%u on head %u", w, h, head);
        c->pending[head].width = 0;
    }
}

/* QEMU's Mouse.IsAbsolute: whether a client's positions can reach the
 * guest (a tablet, virtio-tablet-pci or usb-tablet, is its active pointing
 * device). It changes as the guest's drivers start. */
static void report_absolute(struct qemu_control *c)
{
    g_autoptr(GVariant) v =
        c->mouse ? g_dbus_proxy_get_cached_property(c->mouse, "IsAbsolute") : NULL;
    if (!v || !g_variant_is_of_type(v, G_VARIANT_TYPE_BOOLEAN))
        return;
    int absolute = g_variant_get_boolean(v) ? 1 : 0;
    if (absolute == c->known_absolute)
        return;
    c->known_absolute = absolute;
    if (absolute)
        g_message("display: the VM's pointing device is absolute: clients get client mouse "
                  "mode, positions without a pointer grab");
    else
        g_message("display: the VM's active pointing device is not absolute: clients are in "
                  "server mouse mode, their pointer grabbed (a VM without a tablet needs -device "
                  "virtio-tablet-pci; a tablet counts once the guest's driver starts)");
    if (c->absolute)
        c->absolute(absolute, c->user);
}

static void on_mouse_properties(GDBusProxy *proxy, GVariant *changed, GStrv invalidated,
                                gpointer data)
{
    report_absolute(data);
}

/* c is alive here even when cancelled: destroy waits for this. */
static void on_mouse_proxy(GObject *source, GAsyncResult *res, gpointer data)
{
    struct qemu_control *c = data;
    g_autoptr(GError) error = NULL;
    GDBusProxy *mouse = g_dbus_proxy_new_finish(res, &error);
    c->proxying = false;
    if (!mouse) {
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_message("display: QEMU's Mouse is not there (%s): clients stay in server mouse "
                      "mode",
                      error->message);
        return;
    }
    c->mouse = mouse;
    g_signal_connect(mouse, "g-properties-changed", G_CALLBACK(on_mouse_properties), c);
    report_absolute(c);
}

/* Follows the Mouse of QEMU's first console; name: QEMU's on a message
 * bus, NULL on the p2p connection. */
static void watch_mouse(struct qemu_control *c, const char *name)
{
    if (c->mouse || c->proxying)
        return;
    c->proxying = true;
    g_dbus_proxy_new(c->bus, G_DBUS_PROXY_FLAGS_NONE, NULL, name, "/org/qemu/Display1/Console_0",
                     "org.qemu.Display1.Mouse", c->cancel, on_mouse_proxy, c);
}

static void forget_mouse(struct qemu_control *c)
{
    if (c->mouse) {
        g_signal_handlers_disconnect_by_data(c->mouse, c);
        g_clear_object(&c->mouse);
    }
}

static void on_closed(GDBusConnection *bus, gboolean remote, GError *error, gpointer data)
{
    struct qemu_control *c = data;
    g_message("display: QEMU's D-Bus display connection closed");
    if (c->audio)
        qemu_audio_detach(c->audio);
    for (unsigned i = 0; i < c->n_ports; i++)
        qemu_chardev_detach(c->ports[i]);
    if (c->name_watch)
        g_bus_unwatch_name(c->name_watch);
    c->name_watch = 0;
    c->named = false;
    g_signal_handlers_disconnect_by_data(c->bus, c);
    g_clear_object(&c->bus);
    forget_mouse(c);
}

static void say_what_is_lost(const char *why)
{
    g_warning("display: QEMU's D-Bus display did not answer (%s): it needs QEMU 7.2 or later "
              "with -display dbus,p2p=yes. Until QEMU is started that way, clients' keyboard "
              "and mouse do not reach the guest and their monitor sizes do not resize it",
              why);
}

static void say_what_is_lost_on_bus(struct qemu_control *c, const char *why)
{
    if (c->lost_logged)
        return;
    c->lost_logged = true;
    g_warning("display: no QEMU D-Bus display on the bus %s (%s): it needs QEMU 7.2 or later "
              "with -display dbus,addr=%s (libvirt: <graphics type='dbus'/>). Until it is "
              "there, clients' keyboard and mouse do not reach the guest and their monitor "
              "sizes do not resize it",
              c->bus_address, why, c->bus_address);
}

static gboolean on_name_timeout(gpointer data)
{
    struct qemu_control *c = data;
    c->timeout = 0;
    if (!c->named)
        say_what_is_lost_on_bus(c, "nothing owns " QEMU_BUS_NAME
                                   " after " G_STRINGIFY(DBUS_TIMEOUT_S) " s; still watching");
    return G_SOURCE_REMOVE;
}

static void on_name_appeared(GDBusConnection *bus, const char *name, const char *owner,
                             gpointer data)
{
    struct qemu_control *c = data;
    c->named = true;
    g_message("display: attached to QEMU's D-Bus display (%s on the bus %s): input and monitor "
              "sizes go there; no QMP is used",
              owner, c->bus_address);
    apply_sizes(c);
    if (c->audio)
        qemu_audio_attach(c->audio, c->bus, QEMU_BUS_NAME);
    for (unsigned i = 0; i < c->n_ports; i++)
        qemu_chardev_attach(c->ports[i], c->bus, QEMU_BUS_NAME);
    watch_mouse(c, QEMU_BUS_NAME);
}

static void on_name_vanished(GDBusConnection *bus, const char *name, gpointer data)
{
    struct qemu_control *c = data;
    if (c->named)
        g_message("display: QEMU left the bus %s", c->bus_address);
    c->named = false;
    if (c->audio)
        qemu_audio_detach(c->audio);
    for (unsigned i = 0; i < c->n_ports; i++)
        qemu_chardev_detach(c->ports[i]);
    forget_mouse(c);
}

/* c is alive here even when cancelled: destroy waits for this. */
static void on_bus_connected(GObject *source, GAsyncResult *res, gpointer data)
{
    struct qemu_control *c = data;
    g_autoptr(GError) error = NULL;
    GDBusConnection *bus = g_dbus_connection_new_for_address_finish(res, &error);
    c->connecting = false;
    if (!bus) {
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            say_what_is_lost_on_bus(c, error->message);
        return;
    }
    c->bus = bus;
    g_signal_connect(bus, "closed", G_CALLBACK(on_closed), c);
    /* QEMU may take its name after its GPU connected (it sets its displays
     * up last): watch for it, and say so if it is long in coming. */
    c->name_watch =
        g_bus_watch_name_on_connection(bus, QEMU_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                       on_name_appeared, on_name_vanished, c, NULL);
    c->timeout = g_timeout_add_seconds(DBUS_TIMEOUT_S, on_name_timeout, c);
}

static gboolean on_timeout(gpointer data)
{
    struct qemu_control *c = data;
    c->timeout = 0;
    g_cancellable_cancel(c->cancel); /* on_connected reports it */
    return G_SOURCE_REMOVE;
}

/* c is alive here even when cancelled: destroy waits for this. */
static void on_connected(GObject *source, GAsyncResult *res, gpointer data)
{
    struct qemu_control *c = data;
    g_autoptr(GError) error = NULL;
    GDBusConnection *bus = g_dbus_connection_new_finish(res, &error);
    c->connecting = false;
    bool timed_out = c->qmp && !c->timeout;
    close_qmp(c);
    if (!bus) {
        if (timed_out)
            say_what_is_lost("no answer in " G_STRINGIFY(DBUS_TIMEOUT_S) " s");
        else if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            say_what_is_lost(error->message);
        /* A later call may use a new cancellable; this one is spent. */
        g_object_unref(c->cancel);
        c->cancel = g_cancellable_new();
        return;
    }
    c->bus = bus;
    g_signal_connect(bus, "closed", G_CALLBACK(on_closed), c);
    g_message("display: attached to QEMU's D-Bus display: input and monitor sizes go there");
    apply_sizes(c);
    if (c->audio)
        qemu_audio_attach(c->audio, c->bus, NULL);
    for (unsigned i = 0; i < c->n_ports; i++)
        qemu_chardev_attach(c->ports[i], c->bus, NULL);
    watch_mouse(c, NULL);
}

static void attach(struct qemu_control *c);

static gboolean on_retry(gpointer data)
{
    struct qemu_control *c = data;
    c->retry = 0;
    attach(c);
    return G_SOURCE_REMOVE;
}

/* Hands one end of a socket pair to QEMU over QMP and speaks D-Bus on the
 * other, once QEMU's QMP socket is there. */
static void attach(struct qemu_control *c)
{
    /* QEMU binds its QMP socket before it listens on it: until the
     * deadline, a socket not there or refusing is QEMU still starting. */
    g_autoptr(GError) qmp_error = NULL;
    c->qmp = qemu_qmp_connect(c->qmp_path, &qmp_error);
    if (!c->qmp) {
        if (g_get_monotonic_time() < c->qmp_deadline_us) {
            c->retry = g_timeout_add(QMP_RETRY_MS, on_retry, c);
            return;
        }
        say_what_is_lost(qmp_error->message);
        return;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        say_what_is_lost(g_strerror(errno));
        close_qmp(c);
        return;
    }
    /* QEMU takes one end over QMP and serves its display on it. */
    bool sent = qemu_qmp_send(c->qmp,
                              "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":"
                              "\"spicegl-dbus\"}}",
                              sv[1]) &&
                qemu_qmp_send(c->qmp,
                              "{\"execute\":\"add_client\",\"arguments\":{\"protocol\":"
                              "\"@dbus-display\",\"fdname\":\"spicegl-dbus\"}}",
                              -1);
    close(sv[1]);
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocket) sock = sent ? g_socket_new_from_fd(sv[0], &error) : NULL;
    if (!sock) {
        close(sv[0]);
        close_qmp(c);
        say_what_is_lost(sent ? error->message : "QMP did not take the commands");
        return;
    }
    g_autoptr(GSocketConnection) stream = g_socket_connection_factory_create_connection(sock);
    c->connecting = true;
    c->timeout = g_timeout_add_seconds(DBUS_TIMEOUT_S, on_timeout, c);
    g_dbus_connection_new(G_IO_STREAM(stream), NULL, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                          NULL, c->cancel, on_connected, c);
}

void qemu_control_start(struct qemu_control *c)
{
    if (c->started)
        return;
    c->started = true;
    if (c->bus_address) {
        c->connecting = true;
        g_dbus_connection_new_for_address(c->bus_address,
                                          G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                              G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                          NULL, c->cancel, on_bus_connected, c);
        return;
    }
    c->qmp_deadline_us = g_get_monotonic_time() + QMP_WAIT_MS * 1000;
    attach(c);
}

struct qemu_control *qemu_control_create(const char *qmp_path, const char *bus_address,
                                         void (*absolute)(bool absolute, void *user), void *user)
{
    g_return_val_if_fail(!qmp_path != !bus_address, NULL);
    struct qemu_control *c = g_new0(struct qemu_control, 1);
    c->qmp_path = g_strdup(qmp_path);
    c->bus_address = g_strdup(bus_address);
    c->absolute = absolute;
    c->user = user;
    c->known_absolute = -1;
    c->cancel = g_cancellable_new();
    return c;
}

void qemu_control_destroy(struct qemu_control *c)
{
    if (!c)
        return;
    g_cancellable_cancel(c->cancel);
    if (c->retry)
        g_source_remove(c->retry);
    if (c->name_watch)
        g_bus_unwatch_name(c->name_watch);
    if (c->bus) {
        g_signal_handlers_disconnect_by_data(c->bus, c);
        g_dbus_connection_close_sync(c->bus, NULL, NULL);
        g_object_unref(c->bus);
    }
    /* A cancelled connect or proxy still completes on the context: let it. */
    while ((c->connecting || c->proxying) && g_main_context_iteration(NULL, FALSE))
        ;
    forget_mouse(c);
    close_qmp(c); /* and the timeout */
    g_object_unref(c->cancel);
    g_free(c->qmp_path);
    g_free(c->bus_address);
    g_free(c);
}

void qemu_control_add_port(struct qemu_control *c, struct qemu_chardev *port)
{
    g_return_if_fail(c->n_ports < QEMU_CONTROL_MAX_PORTS);
    c->ports[c->n_ports++] = port;
}

void qemu_control_set_audio(struct qemu_control *c, struct qemu_audio *audio)
{
    c->audio = audio;
}

bool qemu_control_holds_qmp(const struct qemu_control *c)
{
    return c->qmp != NULL;
}

void qemu_control_set_size(struct qemu_control *c, uint32_t head, uint32_t width, uint32_t height)
{
    if (head >= MAX_HEADS)
        return;
    c->pending[head].width = width;
    c->pending[head].height = height;
    qemu_control_start(c);
    apply_sizes(c);
}

/* QEMU's key numbers (qnum): set-1 scancodes, 0x80 | code for extended
 * ones, 0xc6 for Pause; 0 for one it has no number for. */
static uint32_t qnum(uint32_t scancode)
{
    if (scancode < 0x80)
        return scancode;
    if ((scancode & 0xff00) == 0xe000 && (scancode & 0xff) < 0x80)
        return 0x80 | (scancode & 0x7f);
    if (scancode == 0xe11d)
        return 0xc6;
    return 0;
}

void qemu_control_key(struct qemu_control *c, uint32_t scancode, bool down)
{
    qemu_control_start(c);
    uint32_t k = qnum(scancode);
    if (!k) {
        g_debug("input: scancode 0x%x has no QEMU number; dropped", scancode);
        return;
    }
    call(c, 0, "Keyboard", down ? "Press" : "Release", g_variant_new("(u)", k));
}

void qemu_control_motion(struct qemu_control *c, int dx, int dy)
{
    qemu_control_start(c);
    if (dx || dy)
        call(c, 0, "Mouse", "RelMotion", g_variant_new("(ii)", dx, dy));
}

void qemu_control_wheel(struct qemu_control *c, int dz)
{
    qemu_control_start(c);
    uint32_t button = dz < 0 ? BUTTON_WHEEL_UP : BUTTON_WHEEL_DOWN;
    for (int i = 0; i < ABS(dz) && i < 16; i++) {
        call(c, 0, "Mouse", "Press", g_variant_new("(u)", button));
        call(c, 0, "Mouse", "Release", g_variant_new("(u)", button));
    }
}

void qemu_control_position(struct qemu_control *c, uint32_t head, int x, int y)
{
    qemu_control_start(c);
    if (head < MAX_HEADS)
        call(c, head, "Mouse", "SetAbsPosition",
             g_variant_new("(uu)", (uint32_t)MAX(x, 0), (uint32_t)MAX(y, 0)));
}

void qemu_control_buttons(struct qemu_control *c, uint32_t buttons)
{
    qemu_control_start(c);
    uint32_t changed = buttons ^ c->buttons;
    c->buttons = buttons;
    /* The wheel bits are sent as clicks by qemu_control_wheel. */
    for (uint32_t b = 0; b < N_BUTTONS; b++)
        if (b != BUTTON_WHEEL_UP && b != BUTTON_WHEEL_DOWN && (changed & (1u << b)))
            call(c, 0, "Mouse", buttons & (1u << b) ? "Press" : "Release", g_variant_new("(u)", b));
}
