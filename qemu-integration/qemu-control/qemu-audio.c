#include "config.h"

#include "qemu-audio.h"

#include <errno.h>
#include <gio/gunixfdlist.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define AUDIO_PATH  "/org/qemu/Display1/Audio"
#define AUDIO_IFACE "org.qemu.Display1.Audio"
/* A kind of bad call is logged at most once in this many seconds. */
#define LOG_INTERVAL_S 10
/* Recording: a client that gave nothing for this long is not there (or has
 * no microphone): the VM records silence. Shorter pauses are a network's
 * or a client's jitter, which the VM's own buffer rides out. */
#define CAPTURE_DRY_MS 100
/* What a QEMU that did not read for a while (a paused VM) gets at once
 * afterwards: no more than this (frames), not the whole pause; as much as
 * spice-server holds of a client's samples (8192 frames), so that a stall
 * shorter than that loses none. */
#define CAPTURE_MAX_BACKLOG (QEMU_AUDIO_RATE / 5)
/* A client's clock a little faster than ours would fill spice-server's
 * buffer until it drops: its samples go up to this much faster than real
 * time while it has them (QEMU asks only for the room its buffer has). */
#define CAPTURE_CATCH_UP 1.05

/* Both listeners have these; the input listener also answers Read. */
#define VOICE_METHODS                                                                              \
    "<method name='Init'><arg type='t'/><arg type='y'/><arg type='b'/><arg type='b'/>"             \
    "<arg type='u'/><arg type='y'/><arg type='u'/><arg type='u'/><arg type='b'/></method>"         \
    "<method name='Fini'><arg type='t'/></method>"                                                 \
    "<method name='SetEnabled'><arg type='t'/><arg type='b'/></method>"                            \
    "<method name='SetVolume'><arg type='t'/><arg type='b'/><arg type='ay'/></method>"

enum dir { OUT, IN, N_DIR };

static const struct {
    const char *name; /* in log lines */
    const char *register_method, *path, *iface, *xml;
} dirs[N_DIR] = {
    [OUT] = {"sound", "RegisterOutListener", "/org/qemu/Display1/AudioOutListener",
             "org.qemu.Display1.AudioOutListener",
             "<node><interface name='org.qemu.Display1.AudioOutListener'>" VOICE_METHODS
             "<method name='Write'><arg type='t'/><arg type='ay'/></method>"
             "</interface></node>"},
    [IN] = {"microphone", "RegisterInListener", "/org/qemu/Display1/AudioInListener",
            "org.qemu.Display1.AudioInListener",
            "<node><interface name='org.qemu.Display1.AudioInListener'>" VOICE_METHODS
            "<method name='Read'><arg type='t'/><arg type='t'/>"
            "<arg type='ay' direction='out'/></method>"
            "</interface></node>"},
};

enum bad_kind { BAD_FORMAT, BAD_VOICE, BAD_SIZE, BAD_VOLUME, N_BAD };

struct qemu_audio;

/* One listener connection and the one voice served on it. */
struct listener {
    struct qemu_audio *a;
    enum dir dir;
    GDBusNodeInfo *info;
    GDBusConnection *conn; /* our end of QEMU's listener connection */
    guint object;
    bool registered, conn_failed; /* QEMU took the listener; our end failed */
    bool has_voice;               /* a voice in SPICE's format is the served one */
    uint64_t voice;
    bool enabled;
};

struct qemu_audio {
    const struct qemu_audio_callbacks *cb;
    void *data;
    struct listener l[N_DIR];
    GCancellable *cancel;
    uint64_t frames, rejected;
    struct {
        int64_t last_us;  /* the last Read; 0: none since the voice was enabled */
        int64_t heard_us; /* a client's last samples */
        double credit;    /* frames real time says are due */
        struct qemu_audio_capture_stats stats;
    } capture;
    struct {
        int64_t last_us;
        uint64_t held;
    } log[N_BAD];
    int16_t buf[QEMU_AUDIO_MAX_WRITE / 2]; /* aligned copy of one write or read */
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

static void set_enabled(struct listener *l, bool on)
{
    if (l->enabled == on)
        return;
    l->enabled = on;
    struct qemu_audio *a = l->a;
    if (l->dir == OUT) {
        a->cb->enabled(on, a->data);
        return;
    }
    a->capture.last_us = 0; /* paced from the next Read */
    a->capture.credit = 0;
    a->cb->capture_enabled(on, a->data);
}

/* Init: a voice is served only in the one format SPICE carries. */
static void on_init(struct listener *l, GVariant *args)
{
    struct qemu_audio *a = l->a;
    guint64 id;
    guint8 bits, nch;
    gboolean is_signed, is_float, be;
    guint32 freq, bpf, bps;
    g_variant_get(args, "(tybbuyuub)", &id, &bits, &is_signed, &is_float, &freq, &nch, &bpf, &bps,
                  &be);
    const char *kind = l->dir == OUT ? "voice" : "capture voice";
    bool ok = bits == 16 && is_signed && !is_float && !be && freq == QEMU_AUDIO_RATE && nch == 2 &&
              bpf == 4 && bps == QEMU_AUDIO_RATE * 4;
    if (!ok) {
        reject(a, BAD_FORMAT,
               "QEMU's %s %" G_GUINT64_FORMAT " is %u Hz, %u channel(s), %u-bit%s%s%s: SPICE "
               "carries 48000 Hz stereo signed 16-bit; start QEMU with -audiodev "
               "dbus,id=...,out.frequency=48000,in.frequency=48000",
               kind, id, freq, nch, bits, is_signed ? " signed" : " unsigned",
               is_float ? " float" : "", be ? " big-endian" : "");
        return;
    }
    if (l->has_voice && l->voice != id) {
        reject(a, BAD_VOICE,
               "QEMU's %s %" G_GUINT64_FORMAT " is not served: %" G_GUINT64_FORMAT
               " is (one each way per VM)",
               kind, id, l->voice);
        return;
    }
    l->has_voice = true;
    l->voice = id;
    g_message("sound: QEMU's %s %" G_GUINT64_FORMAT " %s SPICE clients (48000 Hz stereo)", kind, id,
              l->dir == OUT ? "plays to" : "records from");
}

static bool is_voice(const struct listener *l, guint64 id)
{
    return l->has_voice && l->voice == id;
}

static void on_write(struct listener *l, GVariant *args)
{
    struct qemu_audio *a = l->a;
    guint64 id;
    g_autoptr(GVariant) bytes = NULL;
    g_variant_get(args, "(t@ay)", &id, &bytes);
    if (!is_voice(l, id)) {
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
    set_enabled(l, true); /* QEMU writes only while enabled: a write says it is */
    a->cb->pcm(a->buf, len / 4, a->data);
}

/* Up to want frames for the VM's recording into a->buf, paced to real time
 * since the voice was enabled: the clients' samples, or silence when they
 * have given none for CAPTURE_DRY_MS. */
static size_t capture(struct qemu_audio *a, size_t want)
{
    int64_t now = g_get_monotonic_time();
    if (!a->capture.last_us)
        a->capture.last_us = now;
    a->capture.credit += (double)(now - a->capture.last_us) * QEMU_AUDIO_RATE / G_USEC_PER_SEC;
    a->capture.credit = MIN(a->capture.credit, CAPTURE_MAX_BACKLOG);
    a->capture.last_us = now;
    if (a->capture.credit < 1)
        return 0;
    size_t n = MIN(want, (size_t)(a->capture.credit * CAPTURE_CATCH_UP));
    size_t got = MIN(a->cb->capture(a->buf, n, a->data), n);
    if (got) {
        a->capture.heard_us = now;
        a->capture.stats.heard += got;
    } else if (now - a->capture.heard_us > CAPTURE_DRY_MS * (G_USEC_PER_SEC / 1000)) {
        got = MIN(n, (size_t)a->capture.credit); /* silence only at real time */
        memset(a->buf, 0, got * 4);
        a->capture.stats.silence += got;
    }
    a->capture.credit -= (double)got;
    return got;
}

/* Read: answered at once (QEMU waits for it on its main loop). */
static GVariant *on_read(struct listener *l, GVariant *args)
{
    struct qemu_audio *a = l->a;
    guint64 id, size;
    g_variant_get(args, "(tt)", &id, &size);
    size_t n = 0;
    if (!is_voice(l, id))
        a->rejected++; /* another format, said at Init: it records nothing */
    else if (l->enabled)
        n = capture(a, MIN(size / 4, (guint64)QEMU_AUDIO_MAX_WRITE / 4));
    return g_variant_new("(@ay)", g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, a->buf, n * 4, 1));
}

static void on_volume(struct listener *l, GVariant *args)
{
    struct qemu_audio *a = l->a;
    guint64 id;
    gboolean mute;
    g_autoptr(GVariant) vol = NULL;
    g_variant_get(args, "(tb@ay)", &id, &mute, &vol);
    if (!is_voice(l, id))
        return;
    gsize n = 0;
    const guint8 *v = g_variant_get_fixed_array(vol, &n, 1);
    if (n != 1 && n != 2) {
        reject(a, BAD_VOLUME, "a volume with %zu channels (the voice has 2)", (size_t)n);
        return;
    }
    (l->dir == OUT ? a->cb->volume : a->cb->capture_volume)(mute, v[0], v[n - 1], a->data);
}

static void on_method(GDBusConnection *conn, const char *sender, const char *path,
                      const char *iface, const char *method, GVariant *args,
                      GDBusMethodInvocation *inv, gpointer data)
{
    struct listener *l = data;
    /* GDBus checked the signature against the listener's XML. */
    if (!strcmp(method, "Read")) {
        g_dbus_method_invocation_return_value(inv, on_read(l, args));
        return;
    }
    if (!strcmp(method, "Write")) {
        on_write(l, args);
    } else if (!strcmp(method, "Init")) {
        on_init(l, args);
    } else if (!strcmp(method, "SetEnabled")) {
        guint64 id;
        gboolean on;
        g_variant_get(args, "(tb)", &id, &on);
        if (is_voice(l, id))
            set_enabled(l, on);
    } else if (!strcmp(method, "SetVolume")) {
        on_volume(l, args);
    } else if (!strcmp(method, "Fini")) {
        guint64 id;
        g_variant_get(args, "(t)", &id);
        if (is_voice(l, id)) {
            set_enabled(l, false);
            l->has_voice = false;
        }
    }
    g_dbus_method_invocation_return_value(inv, NULL);
}

static const GDBusInterfaceVTable vtable = {.method_call = on_method};

static void close_listener(struct listener *l)
{
    if (l->conn) {
        if (l->object)
            g_dbus_connection_unregister_object(l->conn, l->object);
        g_signal_handlers_disconnect_by_data(l->conn, l);
        g_dbus_connection_close(l->conn, NULL, NULL, NULL);
        g_clear_object(&l->conn);
    }
    l->object = 0;
    l->registered = l->conn_failed = false;
    set_enabled(l, false);
    l->has_voice = false;
}

static void close_all(struct qemu_audio *a)
{
    g_cancellable_cancel(a->cancel);
    g_clear_object(&a->cancel);
    for (int d = 0; d < N_DIR; d++)
        close_listener(&a->l[d]);
}

static void on_listener_closed(GDBusConnection *conn, gboolean remote, GError *error, gpointer data)
{
    struct listener *l = data;
    g_message("sound: QEMU closed the %s connection", dirs[l->dir].name);
    close_listener(l);
}

/* l is alive when this runs uncancelled: cancelling comes first. */
static void on_registered(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) v = g_dbus_connection_call_with_unix_fd_list_finish(
        G_DBUS_CONNECTION(source), NULL, res, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    struct listener *l = data;
    const char *name = dirs[l->dir].name;
    if (v) {
        l->registered = true;
        if (l->conn_failed)
            g_warning("%s: off: QEMU took the listener, but its connection failed", name);
        return;
    }
    g_dbus_error_strip_remote_error(error);
    g_message("%s: off: QEMU offers no sound on its D-Bus display (%s); it needs QEMU "
              "8.0 or later with -audiodev dbus,id=snd0,out.frequency=48000,in.frequency=48000, "
              "audiodev=snd0 on -display dbus, and a sound card such as -device intel-hda "
              "-device hda-duplex,audiodev=snd0",
              name, error->message);
    close_listener(l);
}

static void on_listener_ready(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    GDBusConnection *conn = g_dbus_connection_new_finish(res, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    struct listener *l = data;
    const char *name = dirs[l->dir].name;
    if (!conn) {
        /* QEMU closes our socket when it refuses the listener, which
         * on_registered explains. */
        l->conn_failed = true;
        if (l->registered)
            g_warning("%s: off: the connection to QEMU failed (%s)", name, error->message);
        return;
    }
    l->conn = conn;
    l->object = g_dbus_connection_register_object(conn, dirs[l->dir].path, l->info->interfaces[0],
                                                  &vtable, l, NULL, &error);
    if (!l->object) {
        g_warning("%s: off: %s", name, error->message);
        close_listener(l);
        return;
    }
    g_signal_connect(conn, "closed", G_CALLBACK(on_listener_closed), l);
    g_dbus_connection_start_message_processing(conn);
}

static void open_listener(struct listener *l, GDBusConnection *display, const char *bus_name,
                          GCancellable *cancel)
{
    const char *name = dirs[l->dir].name;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        g_warning("%s: off: socketpair: %s", name, g_strerror(errno));
        return;
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocket) sock = g_socket_new_from_fd(sv[0], &error);
    if (!sock) {
        close(sv[0]);
        close(sv[1]);
        g_warning("%s: off: %s", name, error->message);
        return;
    }
    /* QEMU answers the registration only after authenticating this end
     * (it sets its end up synchronously), so ours is under way first; and
     * nothing is read until the listener object is there. */
    g_autoptr(GSocketConnection) stream = g_socket_connection_factory_create_connection(sock);
    g_dbus_connection_new(G_IO_STREAM(stream), NULL,
                          G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                              G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING,
                          NULL, cancel, on_listener_ready, l);
    g_autoptr(GUnixFDList) fds = g_unix_fd_list_new_from_array(&sv[1], 1); /* takes sv[1] */
    g_dbus_connection_call_with_unix_fd_list(display, bus_name, AUDIO_PATH, AUDIO_IFACE,
                                             dirs[l->dir].register_method, g_variant_new("(h)", 0),
                                             NULL, G_DBUS_CALL_FLAGS_NONE, 10000, fds, cancel,
                                             on_registered, l);
}

void qemu_audio_attach(struct qemu_audio *a, GDBusConnection *display, const char *bus_name)
{
    close_all(a);
    a->cancel = g_cancellable_new();
    for (int d = 0; d < N_DIR; d++)
        open_listener(&a->l[d], display, bus_name, a->cancel);
}

void qemu_audio_detach(struct qemu_audio *a)
{
    close_all(a);
}

struct qemu_audio *qemu_audio_create(const struct qemu_audio_callbacks *cb, void *data)
{
    struct qemu_audio *a = g_new0(struct qemu_audio, 1);
    a->cb = cb;
    a->data = data;
    for (int d = 0; d < N_DIR; d++) {
        a->l[d].a = a;
        a->l[d].dir = d;
        a->l[d].info = g_dbus_node_info_new_for_xml(dirs[d].xml, NULL);
        g_assert(a->l[d].info); /* a constant */
    }
    return a;
}

void qemu_audio_destroy(struct qemu_audio *a)
{
    if (!a)
        return;
    close_all(a);
    /* Cancelled calls still complete on the context; they only check
     * their error. */
    for (int d = 0; d < N_DIR; d++)
        g_dbus_node_info_unref(a->l[d].info);
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

void qemu_audio_get_capture_stats(const struct qemu_audio *a, struct qemu_audio_capture_stats *st)
{
    *st = a->capture.stats;
}
