#include "config.h"

#include "qemu-chardev.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <glib-unix.h>

#define CHARDEV_IFACE "org.qemu.Display1.Chardev"
/* QEMU refuses a Register while it still holds the previous socket (it
 * notices the close on its next poll): tries, RETRY_MS apart. */
#define RETRY_MS 100
#define RETRIES  50
/* A reset keeps QEMU's side closed until the guest's program has let go
 * of its end (FEOpened false): it saw the close and dropped what it held.
 * A close and reopen in one instant can pass unseen, or be seen late, while
 * the next client's requests are under way (spice-webdavd then drops
 * those). A guest whose program keeps its end open regardless gets the
 * port back after RESET_MAX_MS; one with no program on it after
 * RESET_IDLE_MS. */
#define RESET_MAX_MS  10000
#define RESET_IDLE_MS 1000

struct qemu_chardev {
    enum qemu_chardev_kind kind;
    const struct qemu_chardev_callbacks *cb;
    void *data;
    char *id, *path;
    char *what, *name; /* for the log: "agent port", and the port's name */
    GDBusConnection *display;
    char *bus_name;
    GCancellable *cancel;
    GDBusProxy *proxy; /* for FEOpened */
    int fd;            /* our end, registered; -1 when not */
    int pending_fd;    /* our end while QEMU answers Register */
    guint in_watch, out_watch, retry;
    int retries;
    bool hold, open, registering;
    bool reset_pending;   /* reset while registering */
    bool resetting;       /* closed until the guest lets go of its end */
    bool said_registered; /* the first registration is logged */
    bool wanted;          /* QEMU_CHARDEV_USB_REDIR: registered while true */
};

static void register_port(struct qemu_chardev *ch);

/* A port is registered whenever attached; a usb-redir device while the
 * daemon wants it. */
static bool wants_registration(const struct qemu_chardev *ch)
{
    return ch->display && (ch->kind == QEMU_CHARDEV_PORT || ch->wanted);
}

static void set_open(struct qemu_chardev *ch, bool open)
{
    if (open == ch->open)
        return;
    ch->open = open;
    ch->cb->opened(open, ch->data);
}

static void close_fd(struct qemu_chardev *ch)
{
    g_clear_handle_id(&ch->in_watch, g_source_remove);
    g_clear_handle_id(&ch->out_watch, g_source_remove);
    if (ch->fd >= 0)
        close(ch->fd);
    ch->fd = -1;
}

/* Drops the socket and registers a fresh one: QEMU's end then holds no
 * stale bytes for the guest's next opening. */
static void read_fe_opened(struct qemu_chardev *ch);

static void renew(struct qemu_chardev *ch)
{
    close_fd(ch);
    set_open(ch, false); /* again once the new socket is registered */
    if (wants_registration(ch) && !ch->registering && !ch->retry) {
        ch->retries = 0;
        register_port(ch);
    }
}

static gboolean on_in(int fd, GIOCondition cond, gpointer data)
{
    struct qemu_chardev *ch = data;
    uint8_t buf[QEMU_CHARDEV_READ_SIZE];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
        ch->cb->received(buf, (size_t)n, ch->data);
        return G_SOURCE_CONTINUE;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    g_message("%s %s: QEMU closed it (%s); registering again", ch->what, ch->id,
              n == 0 ? "end of stream" : g_strerror(errno));
    ch->in_watch = 0;
    renew(ch);
    return G_SOURCE_REMOVE;
}

static void watch_in(struct qemu_chardev *ch)
{
    if (ch->fd >= 0 && !ch->hold && !ch->in_watch)
        ch->in_watch = g_unix_fd_add(ch->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_in, ch);
}

static gboolean on_out(int fd, GIOCondition cond, gpointer data)
{
    struct qemu_chardev *ch = data;
    ch->out_watch = 0;
    ch->cb->writable(ch->data);
    return G_SOURCE_REMOVE;
}

static gboolean on_retry(gpointer data)
{
    struct qemu_chardev *ch = data;
    ch->retry = 0;
    if (wants_registration(ch))
        register_port(ch);
    return G_SOURCE_REMOVE;
}

/* The guest's side as QEMU last said: its program has the port open. */
static bool guest_holds(const struct qemu_chardev *ch)
{
    g_autoptr(GVariant) v =
        ch->proxy ? g_dbus_proxy_get_cached_property(ch->proxy, "FEOpened") : NULL;
    return v && g_variant_is_of_type(v, G_VARIANT_TYPE_BOOLEAN) && g_variant_get_boolean(v);
}

static void end_reset(struct qemu_chardev *ch)
{
    g_clear_handle_id(&ch->retry, g_source_remove);
    ch->resetting = false;
    ch->retries = 0;
    register_port(ch);
}

static gboolean on_reset_over(gpointer data)
{
    struct qemu_chardev *ch = data;
    ch->retry = 0;
    if (guest_holds(ch))
        g_message("%s %s: the guest kept the port open %d s after a reset; registering again",
                  ch->what, ch->id, RESET_MAX_MS / 1000);
    end_reset(ch);
    return G_SOURCE_REMOVE;
}

/* QEMU's side is closed; it opens again once the guest lets go. */
static void reset_wait(struct qemu_chardev *ch)
{
    g_clear_handle_id(&ch->retry, g_source_remove);
    ch->resetting = true;
    ch->retry = g_timeout_add(guest_holds(ch) ? RESET_MAX_MS : RESET_IDLE_MS, on_reset_over, ch);
}

/* ch is alive when this runs uncancelled: cancelling comes first. */
static void on_registered(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) v = g_dbus_connection_call_with_unix_fd_list_finish(
        G_DBUS_CONNECTION(source), NULL, res, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    struct qemu_chardev *ch = data;
    int fd = ch->pending_fd;
    ch->pending_fd = -1;
    ch->registering = false;
    if (v && ch->reset_pending) {
        ch->reset_pending = false;
        close(fd);
        reset_wait(ch);
        return;
    }
    ch->reset_pending = false;
    if (v && !wants_registration(ch)) { /* let go while QEMU answered */
        close(fd);
        return;
    }
    if (v) {
        ch->fd = fd;
        if (ch->retries)
            g_message("%s %s: registered again", ch->what, ch->id);
        else if (!ch->said_registered)
            g_message("%s %s: registered on QEMU's D-Bus display", ch->what, ch->id);
        ch->said_registered = true;
        ch->retries = 0;
        watch_in(ch);
        if (ch->kind == QEMU_CHARDEV_USB_REDIR)
            set_open(ch, true);
        else if (ch->proxy)
            read_fe_opened(ch); /* a guest that kept its end open */
        return;
    }
    close(fd);
    g_dbus_error_strip_remote_error(error);
    if (++ch->retries < RETRIES &&
        !g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT) &&
        !g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD) &&
        !g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE)) {
        ch->retry = g_timeout_add(RETRY_MS, on_retry, ch);
        return;
    }
    if (ch->kind == QEMU_CHARDEV_USB_REDIR)
        g_message("%s %s: off: QEMU offers no such device on its D-Bus display (%s); it needs "
                  "-chardev dbus,id=%s,name=%s, a USB controller (-device qemu-xhci) and "
                  "-device usb-redir,chardev=%s",
                  ch->what, ch->id, error->message, ch->id, ch->name, ch->id);
    else
        g_message("%s %s: off: QEMU offers no such port on its D-Bus display (%s); it needs "
                  "-chardev dbus,id=%s,name=%s, -device virtio-serial-pci and -device "
                  "virtserialport,chardev=%s,name=%s",
                  ch->what, ch->id, error->message, ch->id, ch->name, ch->id, ch->name);
}

static void register_port(struct qemu_chardev *ch)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
        g_warning("%s %s: off: socketpair: %s", ch->what, ch->id, g_strerror(errno));
        return;
    }
    ch->registering = true;
    ch->pending_fd = sv[0];
    g_autoptr(GUnixFDList) fds = g_unix_fd_list_new_from_array(&sv[1], 1); /* takes sv[1] */
    g_dbus_connection_call_with_unix_fd_list(
        ch->display, ch->bus_name, ch->path, CHARDEV_IFACE, "Register", g_variant_new("(h)", 0),
        NULL, G_DBUS_CALL_FLAGS_NONE, 10000, fds, ch->cancel, on_registered, ch);
}

static void read_fe_opened(struct qemu_chardev *ch)
{
    if (ch->kind == QEMU_CHARDEV_USB_REDIR) /* no guest program opens it */
        return;
    if (ch->resetting && !guest_holds(ch)) { /* it let go: the reset is seen */
        end_reset(ch);
        return;
    }
    /* Open for us: the guest's end, and ours registered. */
    bool open = guest_holds(ch) && ch->fd >= 0;
    bool was = ch->open;
    set_open(ch, open);
    if (was && !open)
        renew(ch);
}

static void on_properties(GDBusProxy *proxy, GVariant *changed, GStrv invalidated, gpointer data)
{
    read_fe_opened(data);
}

/* ch is alive when this runs uncancelled. */
static void on_proxy(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    GDBusProxy *proxy = g_dbus_proxy_new_finish(res, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    struct qemu_chardev *ch = data;
    if (!proxy) {
        g_message("%s %s: its state is unknown (%s)", ch->what, ch->id, error->message);
        return;
    }
    ch->proxy = proxy;
    g_signal_connect(proxy, "g-properties-changed", G_CALLBACK(on_properties), ch);
    read_fe_opened(ch);
}

void qemu_chardev_detach(struct qemu_chardev *ch)
{
    if (ch->cancel)
        g_cancellable_cancel(ch->cancel);
    g_clear_object(&ch->cancel);
    g_clear_handle_id(&ch->retry, g_source_remove);
    if (ch->pending_fd >= 0)
        close(ch->pending_fd);
    ch->pending_fd = -1;
    ch->registering = false;
    ch->reset_pending = false;
    ch->resetting = false;
    close_fd(ch);
    if (ch->proxy)
        g_signal_handlers_disconnect_by_data(ch->proxy, ch);
    g_clear_object(&ch->proxy);
    g_clear_object(&ch->display);
    g_clear_pointer(&ch->bus_name, g_free);
    set_open(ch, false);
}

void qemu_chardev_attach(struct qemu_chardev *ch, GDBusConnection *display, const char *bus_name)
{
    qemu_chardev_detach(ch);
    ch->display = g_object_ref(display);
    ch->bus_name = g_strdup(bus_name);
    ch->cancel = g_cancellable_new();
    ch->retries = 0;
    if (ch->kind == QEMU_CHARDEV_PORT)
        g_dbus_proxy_new(display, G_DBUS_PROXY_FLAGS_NONE, NULL, bus_name, ch->path, CHARDEV_IFACE,
                         ch->cancel, on_proxy, ch);
    if (wants_registration(ch))
        register_port(ch);
}

void qemu_chardev_connect(struct qemu_chardev *ch, bool connect)
{
    if (ch->kind != QEMU_CHARDEV_USB_REDIR || ch->wanted == connect)
        return;
    ch->wanted = connect;
    if (connect) {
        if (ch->display && !ch->registering && !ch->retry && ch->fd < 0) {
            ch->retries = 0;
            register_port(ch);
        }
        return;
    }
    g_clear_handle_id(&ch->retry, g_source_remove);
    close_fd(ch); /* QEMU detaches the device; a registration under way is closed on arrival */
    set_open(ch, false);
}

void qemu_chardev_reset(struct qemu_chardev *ch)
{
    close_fd(ch);
    set_open(ch, false);
    if (!ch->display)
        return;
    if (ch->registering) /* the socket on its way is dropped too */
        ch->reset_pending = true;
    else
        reset_wait(ch);
}

bool qemu_chardev_is_open(const struct qemu_chardev *ch)
{
    return ch->open;
}

size_t qemu_chardev_write(struct qemu_chardev *ch, const uint8_t *bytes, size_t n)
{
    if (ch->fd < 0 || n == 0)
        return 0;
    ssize_t w = send(ch->fd, bytes, n, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN && errno != EINTR) {
        g_message("%s %s: write: %s; registering again", ch->what, ch->id, g_strerror(errno));
        renew(ch);
        return 0;
    }
    size_t done = w < 0 ? 0 : (size_t)w;
    if (done < n && !ch->out_watch)
        ch->out_watch = g_unix_fd_add(ch->fd, G_IO_OUT, on_out, ch);
    return done;
}

void qemu_chardev_hold(struct qemu_chardev *ch, bool hold)
{
    ch->hold = hold;
    if (hold)
        g_clear_handle_id(&ch->in_watch, g_source_remove);
    else
        watch_in(ch);
}

struct qemu_chardev *qemu_chardev_create(enum qemu_chardev_kind kind, const char *what,
                                         const char *id, const char *name,
                                         const struct qemu_chardev_callbacks *cb, void *data)
{
    struct qemu_chardev *ch = g_new0(struct qemu_chardev, 1);
    ch->kind = kind;
    ch->what = g_strdup(what);
    ch->name = g_strdup(name);
    ch->cb = cb;
    ch->data = data;
    ch->id = g_strdup(id);
    ch->path = g_strdup_printf("/org/qemu/Display1/Chardev_%s", id);
    ch->fd = ch->pending_fd = -1;
    return ch;
}

void qemu_chardev_destroy(struct qemu_chardev *ch)
{
    if (!ch)
        return;
    /* No callback from here on (opened() is not told): the caller is going
     * too. */
    ch->open = false;
    qemu_chardev_detach(ch);
    g_free(ch->id);
    g_free(ch->what);
    g_free(ch->name);
    g_free(ch->path);
    g_free(ch);
}
