#include "config.h"

#include "qemu-audio.h"

#include <errno.h>
#include <gio/gunixfdlist.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define AUDIO_PATH     "/org/qemu/Display1/Audio"
#define AUDIO_IFACE    "org.qemu.Display1.Audio"
#define LISTENER_PATH  "/org/qemu/Display1/AudioOutListener"
#define LISTENER_IFACE "org.qemu.Display1.AudioOutListener"
/* A kind of bad call is logged at most once in this many seconds. */
#define LOG_INTERVAL_S 10

static const char listener_xml[] =
    "<node><interface name='" LISTENER_IFACE "'>"
    "<method name='Init'><arg type='t'/><arg type='y'/><arg type='b'/><arg type='b'/>"
    "<arg type='u'/><arg type='y'/><arg type='u'/><arg type='u'/><arg type='b'/></method>"
    "<method name='Fini'><arg type='t'/></method>"
    "<method name='SetEnabled'><arg type='t'/><arg type='b'/></method>"
    "<method name='SetVolume'><arg type='t'/><arg type='b'/><arg type='ay'/></method>"
    "<method name='Write'><arg type='t'/><arg type='ay'/></method>"
    "</interface></node>";

enum bad_kind { BAD_FORMAT, BAD_VOICE, BAD_SIZE, BAD_VOLUME, N_BAD };

struct qemu_audio {
    const struct qemu_audio_callbacks *cb;
    void *data;
    GDBusNodeInfo *info;
    GDBusConnection *listener; /* our end of QEMU's listener connection */
    guint object;
    GCancellable *cancel;
    bool registered, conn_failed; /* QEMU took the listener; our end failed */
    bool has_voice;               /* a voice in SPICE's format is the played one */
    uint64_t voice;
    bool enabled;
    uint64_t frames, rejected;
    struct {
        int64_t last_us;
        uint64_t held;
    } log[N_BAD];
    int16_t buf[QEMU_AUDIO_MAX_WRITE / 2]; /* aligned copy of one write */
};

static void reject(struct qemu_audio *a, enum bad_kind kind, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void reject(struct qemu_audio *a, enum bad_kind kind, const char *fmt, ...)
{
    a->rejected++;
    int64_t now = g_get_monotonic_time();
    if (a->log[kind].last_us && now - a->log[kind].last_us < LOG_INTERVAL_S * G_USEC_PER_SEC) {
        a->log[kind].held++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_warning("sound: %s (dropped; %" G_GUINT64_FORMAT " like it not logged)", msg,
              a->log[kind].held);
    a->log[kind].last_us = now;
    a->log[kind].held = 0;
}

static void set_enabled(struct qemu_audio *a, bool on)
{
    if (a->enabled == on)
        return;
    a->enabled = on;
    a->cb->enabled(on, a->data);
}

/* Init: the voice plays only in the one format SPICE carries. */
static void on_init(struct qemu_audio *a, GVariant *args)
{
    guint64 id;
    guint8 bits, nch;
    gboolean is_signed, is_float, be;
    guint32 freq, bpf, bps;
    g_variant_get(args, "(tybbuyuub)", &id, &bits, &is_signed, &is_float, &freq, &nch, &bpf, &bps,
                  &be);
    bool ok = bits == 16 && is_signed && !is_float && !be && freq == QEMU_AUDIO_RATE && nch == 2 &&
              bpf == 4 && bps == QEMU_AUDIO_RATE * 4;
    if (!ok) {
        reject(a, BAD_FORMAT,
               "QEMU's voice %" G_GUINT64_FORMAT " is %u Hz, %u channel(s), %u-bit%s%s%s: SPICE "
               "plays 48000 Hz stereo signed 16-bit; start QEMU with -audiodev "
               "dbus,id=...,out.frequency=48000,in.frequency=48000",
               id, freq, nch, bits, is_signed ? " signed" : " unsigned", is_float ? " float" : "",
               be ? " big-endian" : "");
        return;
    }
    if (a->has_voice && a->voice != id) {
        reject(a, BAD_VOICE,
               "QEMU's voice %" G_GUINT64_FORMAT " is not played: voice %" G_GUINT64_FORMAT
               " is (one sound output per VM)",
               id, a->voice);
        return;
    }
    a->has_voice = true;
    a->voice = id;
    g_message("sound: QEMU's voice %" G_GUINT64_FORMAT " plays to SPICE clients (48000 Hz stereo)",
              id);
}

static bool is_voice(const struct qemu_audio *a, guint64 id)
{
    return a->has_voice && a->voice == id;
}

static void on_write(struct qemu_audio *a, GVariant *args)
{
    guint64 id;
    g_autoptr(GVariant) bytes = NULL;
    g_variant_get(args, "(t@ay)", &id, &bytes);
    if (!is_voice(a, id)) {
        /* A voice in another format was said at Init; only count it. */
        a->rejected++;
        return;
    }
    gsize len = 0;
    const void *p = g_variant_get_fixed_array(bytes, &len, 1);
    if (len % 4 || len > QEMU_AUDIO_MAX_WRITE) {
        reject(a, BAD_SIZE, "a write of %zu bytes (whole 4-byte frames, at most %d)", (size_t)len,
               QEMU_AUDIO_MAX_WRITE);
        return;
    }
    if (!len)
        return;
    memcpy(a->buf, p, len);
    a->frames += len / 4;
    set_enabled(a, true); /* QEMU writes only while enabled: a write says it is */
    a->cb->pcm(a->buf, len / 4, a->data);
}

static void on_volume(struct qemu_audio *a, GVariant *args)
{
    guint64 id;
    gboolean mute;
    g_autoptr(GVariant) vol = NULL;
    g_variant_get(args, "(tb@ay)", &id, &mute, &vol);
    if (!is_voice(a, id))
        return;
    gsize n = 0;
    const guint8 *v = g_variant_get_fixed_array(vol, &n, 1);
    if (n != 1 && n != 2) {
        reject(a, BAD_VOLUME, "a volume with %zu channels (the voice has 2)", (size_t)n);
        return;
    }
    a->cb->volume(mute, v[0], v[n - 1], a->data);
}

static void on_method(GDBusConnection *conn, const char *sender, const char *path,
                      const char *iface, const char *method, GVariant *args,
                      GDBusMethodInvocation *inv, gpointer data)
{
    struct qemu_audio *a = data;
    /* GDBus checked the signature against listener_xml. */
    if (!strcmp(method, "Write")) {
        on_write(a, args);
    } else if (!strcmp(method, "Init")) {
        on_init(a, args);
    } else if (!strcmp(method, "SetEnabled")) {
        guint64 id;
        gboolean on;
        g_variant_get(args, "(tb)", &id, &on);
        if (is_voice(a, id))
            set_enabled(a, on);
    } else if (!strcmp(method, "SetVolume")) {
        on_volume(a, args);
    } else if (!strcmp(method, "Fini")) {
        guint64 id;
        g_variant_get(args, "(t)", &id);
        if (is_voice(a, id)) {
            set_enabled(a, false);
            a->has_voice = false;
        }
    }
    g_dbus_method_invocation_return_value(inv, NULL);
}

static const GDBusInterfaceVTable vtable = {.method_call = on_method};

static void close_listener(struct qemu_audio *a)
{
    g_cancellable_cancel(a->cancel);
    g_clear_object(&a->cancel);
    if (a->listener) {
        if (a->object)
            g_dbus_connection_unregister_object(a->listener, a->object);
        g_signal_handlers_disconnect_by_data(a->listener, a);
        g_dbus_connection_close(a->listener, NULL, NULL, NULL);
        g_clear_object(&a->listener);
    }
    a->object = 0;
    a->registered = a->conn_failed = false;
    set_enabled(a, false);
    a->has_voice = false;
}

static void on_listener_closed(GDBusConnection *conn, gboolean remote, GError *error, gpointer data)
{
    struct qemu_audio *a = data;
    g_message("sound: QEMU closed the sound connection");
    close_listener(a);
}

/* a is alive when this runs uncancelled: cancelling comes first. */
static void on_registered(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) v = g_dbus_connection_call_with_unix_fd_list_finish(
        G_DBUS_CONNECTION(source), NULL, res, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    struct qemu_audio *a = data;
    if (v) {
        a->registered = true;
        if (a->conn_failed)
            g_warning("sound: off: QEMU took the sound listener, but its connection failed");
        return;
    }
    g_dbus_error_strip_remote_error(error);
    g_message("sound: off: QEMU offers no sound output on its D-Bus display (%s); it needs QEMU "
              "8.0 or later with -audiodev dbus,id=snd0,out.frequency=48000,in.frequency=48000, "
              "audiodev=snd0 on -display dbus, and a sound card such as -device intel-hda "
              "-device hda-duplex,audiodev=snd0",
              error->message);
    close_listener(a);
}

static void on_listener_ready(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    GDBusConnection *conn = g_dbus_connection_new_finish(res, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    struct qemu_audio *a = data;
    if (!conn) {
        /* QEMU closes our socket when it refuses the listener, which
         * on_registered explains. */
        a->conn_failed = true;
        if (a->registered)
            g_warning("sound: off: the sound connection to QEMU failed (%s)", error->message);
        return;
    }
    a->listener = conn;
    a->object = g_dbus_connection_register_object(conn, LISTENER_PATH, a->info->interfaces[0],
                                                  &vtable, a, NULL, &error);
    if (!a->object) {
        g_warning("sound: off: %s", error->message);
        close_listener(a);
        return;
    }
    g_signal_connect(conn, "closed", G_CALLBACK(on_listener_closed), a);
    g_dbus_connection_start_message_processing(conn);
}

void qemu_audio_attach(struct qemu_audio *a, GDBusConnection *display, const char *bus_name)
{
    close_listener(a);
    a->cancel = g_cancellable_new();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        g_warning("sound: off: socketpair: %s", g_strerror(errno));
        return;
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocket) sock = g_socket_new_from_fd(sv[0], &error);
    if (!sock) {
        close(sv[0]);
        close(sv[1]);
        g_warning("sound: off: %s", error->message);
        return;
    }
    /* QEMU answers RegisterOutListener only after authenticating this end
     * (it sets its end up synchronously), so ours is under way first; and
     * nothing is read until the listener object is there. */
    g_autoptr(GSocketConnection) stream = g_socket_connection_factory_create_connection(sock);
    g_dbus_connection_new(G_IO_STREAM(stream), NULL,
                          G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                              G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING,
                          NULL, a->cancel, on_listener_ready, a);
    g_autoptr(GUnixFDList) fds = g_unix_fd_list_new_from_array(&sv[1], 1); /* takes sv[1] */
    g_dbus_connection_call_with_unix_fd_list(
        display, bus_name, AUDIO_PATH, AUDIO_IFACE, "RegisterOutListener", g_variant_new("(h)", 0),
        NULL, G_DBUS_CALL_FLAGS_NONE, 10000, fds, a->cancel, on_registered, a);
}

void qemu_audio_detach(struct qemu_audio *a)
{
    close_listener(a);
}

struct qemu_audio *qemu_audio_create(const struct qemu_audio_callbacks *cb, void *data)
{
    struct qemu_audio *a = g_new0(struct qemu_audio, 1);
    a->cb = cb;
    a->data = data;
    a->info = g_dbus_node_info_new_for_xml(listener_xml, NULL);
    g_assert(a->info); /* a constant */
    return a;
}

void qemu_audio_destroy(struct qemu_audio *a)
{
    if (!a)
        return;
    close_listener(a);
    /* Cancelled calls still complete on the context; they only check
     * their error. */
    g_dbus_node_info_unref(a->info);
    g_free(a);
}

uint64_t qemu_audio_frames(const struct qemu_audio *a)
{
    return a->frames;
}

uint64_t qemu_audio_rejected(const struct qemu_audio *a)
{
    return a->rejected;
}
