/* qemu-audio against a stand-in for QEMU's D-Bus audio: the listener is
 * registered on the display's connection and served on the connection
 * QEMU opens with the fd it was given; SPICE's format plays, every other
 * format, size and voice is refused and counted, and the connection (and
 * the played voice) survive each refusal. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <string.h>
#include <sys/socket.h>

#include "qemu-integration/qemu-control/qemu-audio.h"
#include "tests/test-util.h"

static const char audio_xml[] = "<node><interface name='org.qemu.Display1.Audio'>"
                                "<method name='RegisterOutListener'><arg type='h'/></method>"
                                "</interface></node>";

struct fixture {
    GDBusConnection *display_qemu, *display_daemon; /* the display's two ends */
    GDBusConnection *listener;                      /* QEMU's end of the listener's */
    GDBusNodeInfo *info;
    guint object;
    struct qemu_audio *audio;
    /* what the callbacks saw */
    int enabled; /* -1: never called */
    size_t frames, writes;
    int16_t first_sample;
    bool mute;
    uint8_t left, right;
    int volumes;
};

static void on_enabled(bool on, void *data)
{
    ((struct fixture *)data)->enabled = on;
}

static void on_volume(bool mute, uint8_t left, uint8_t right, void *data)
{
    struct fixture *f = data;
    f->mute = mute, f->left = left, f->right = right;
    f->volumes++;
}

static void on_pcm(const int16_t *frames, size_t n, void *data)
{
    struct fixture *f = data;
    if (!f->frames)
        f->first_sample = frames[0];
    f->frames += n;
    f->writes++;
}

static const struct qemu_audio_callbacks callbacks = {on_enabled, on_volume, on_pcm};

static void on_new(GObject *source, GAsyncResult *res, gpointer data)
{
    *(GDBusConnection **)data = g_dbus_connection_new_finish(res, NULL);
}

static void iterate_until(bool *done)
{
    int64_t give_up = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!*done && g_get_monotonic_time() < give_up)
        g_main_context_iteration(NULL, TRUE);
    assert_true(*done);
}

/* Both ends of a p2p connection on a socket pair; the second is the
 * authenticating server, as QEMU is for each of its peers. */
static void connect_pair(int fd_client, int fd_server, GDBusConnection **client,
                         GDBusConnection **server)
{
    g_autoptr(GSocket) sc = g_socket_new_from_fd(fd_client, NULL);
    g_autoptr(GSocket) ss = g_socket_new_from_fd(fd_server, NULL);
    g_autoptr(GSocketConnection) c = g_socket_connection_factory_create_connection(sc);
    g_autoptr(GSocketConnection) s = g_socket_connection_factory_create_connection(ss);
    g_autofree char *guid = g_dbus_generate_guid();
    *client = *server = NULL;
    g_dbus_connection_new(G_IO_STREAM(c), NULL, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL,
                          NULL, on_new, client);
    g_dbus_connection_new(G_IO_STREAM(s), guid, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER, NULL,
                          NULL, on_new, server);
    int64_t give_up = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while ((!*client || !*server) && g_get_monotonic_time() < give_up)
        g_main_context_iteration(NULL, TRUE);
    assert_non_null(*client);
    assert_non_null(*server);
}

/* QEMU's Audio.RegisterOutListener: opens the listener's connection as
 * the authenticating end on the fd it was given, as QEMU does. */
static void on_register(GDBusConnection *conn, const char *sender, const char *path,
                        const char *iface, const char *method, GVariant *args,
                        GDBusMethodInvocation *inv, gpointer data)
{
    struct fixture *f = data;
    GUnixFDList *fds = g_dbus_message_get_unix_fd_list(g_dbus_method_invocation_get_message(inv));
    gint32 h;
    g_variant_get(args, "(h)", &h);
    int fd = g_unix_fd_list_get(fds, h, NULL);
    assert_true(fd >= 0);
    g_autoptr(GSocket) sock = g_socket_new_from_fd(fd, NULL);
    g_autoptr(GSocketConnection) stream = g_socket_connection_factory_create_connection(sock);
    g_autofree char *guid = g_dbus_generate_guid();
    g_dbus_connection_new(G_IO_STREAM(stream), guid, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER,
                          NULL, NULL, on_new, &f->listener);
    g_dbus_method_invocation_return_value(inv, NULL);
}

static const GDBusInterfaceVTable audio_vtable = {.method_call = on_register};

static int setup(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);
    f->enabled = -1;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    connect_pair(sv[0], sv[1], &f->display_daemon, &f->display_qemu);
    f->info = g_dbus_node_info_new_for_xml(audio_xml, NULL);
    f->object =
        g_dbus_connection_register_object(f->display_qemu, "/org/qemu/Display1/Audio",
                                          f->info->interfaces[0], &audio_vtable, f, NULL, NULL);
    assert_true(f->object > 0);
    f->audio = qemu_audio_create(&callbacks, f);
    qemu_audio_attach(f->audio, f->display_daemon, NULL);
    int64_t give_up = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!f->listener && g_get_monotonic_time() < give_up)
        g_main_context_iteration(NULL, TRUE);
    assert_non_null(f->listener);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    qemu_audio_destroy(f->audio);
    g_dbus_connection_unregister_object(f->display_qemu, f->object);
    g_dbus_node_info_unref(f->info);
    g_clear_object(&f->listener);
    g_object_unref(f->display_qemu);
    g_object_unref(f->display_daemon);
    /* Cancelled calls and closed connections finish on the context. */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_free(f);
    return 0;
}

static void on_called(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GVariant) v = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, NULL);
    *(bool *)data = true;
}

/* QEMU calls a listener method; returns once the daemon answered. */
static void call(struct fixture *f, const char *method, GVariant *args)
{
    bool done = false;
    g_dbus_connection_call(f->listener, NULL, "/org/qemu/Display1/AudioOutListener",
                           "org.qemu.Display1.AudioOutListener", method, args, NULL,
                           G_DBUS_CALL_FLAGS_NONE, 5000, NULL, on_called, &done);
    iterate_until(&done);
}

static GVariant *bytes(size_t len, guint8 fill)
{
    g_autofree guint8 *b = g_malloc(len ? len : 1);
    memset(b, fill, len);
    return g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, b, len, 1);
}

static void init(struct fixture *f, guint64 id, guint8 bits, gboolean is_signed, guint32 freq,
                 guint8 nch)
{
    guint32 bpf = bits / 8 * nch;
    call(f, "Init",
         g_variant_new("(tybbuyuub)", id, bits, is_signed, FALSE, freq, nch, bpf, bpf * freq,
                       FALSE));
}

static void write_bytes(struct fixture *f, guint64 id, size_t len)
{
    GVariant *args[] = {g_variant_new_uint64(id), bytes(len, 0x11)};
    call(f, "Write", g_variant_new_tuple(args, 2));
}

/* SPICE's format plays: frames, enabled, volume and mute reach the callbacks. */
static void test_plays_spice_format(void **state)
{
    struct fixture *f = *state;
    init(f, 7, 16, TRUE, 48000, 2);
    write_bytes(f, 7, 480 * 4);
    assert_int_equal(f->frames, 480);
    assert_int_equal(f->first_sample, 0x1111);
    assert_int_equal(f->enabled, 1);
    GVariant *vol[] = {g_variant_new_uint64(7), g_variant_new_boolean(TRUE), NULL};
    guint8 levels[2] = {200, 100};
    vol[2] = g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, levels, 2, 1);
    call(f, "SetVolume", g_variant_new_tuple(vol, 3));
    assert_int_equal(f->volumes, 1);
    assert_true(f->mute);
    assert_int_equal(f->left, 200);
    assert_int_equal(f->right, 100);
    call(f, "SetEnabled", g_variant_new("(tb)", (guint64)7, FALSE));
    assert_int_equal(f->enabled, 0);
    call(f, "Fini", g_variant_new("(t)", (guint64)7));
    assert_int_equal(qemu_audio_frames(f->audio), 480);
    assert_int_equal(qemu_audio_rejected(f->audio), 0);
}

/* Another rate, width or channel count, a second voice, writes of broken
 * frames or over 100 ms, calls for a voice never initialised: refused and
 * counted; the played voice goes on playing. */
static void test_refuses_the_rest(void **state)
{
    struct fixture *f = *state;
    init(f, 1, 16, TRUE, 44100, 2); /* QEMU's default rate */
    init(f, 2, 8, FALSE, 48000, 2);
    init(f, 3, 16, TRUE, 48000, 1);
    write_bytes(f, 1, 441 * 4);
    assert_int_equal(f->frames, 0);
    assert_int_equal(qemu_audio_rejected(f->audio), 4);
    init(f, 4, 16, TRUE, 48000, 2); /* the played voice */
    init(f, 5, 16, TRUE, 48000, 2); /* a second one in the same format */
    write_bytes(f, 5, 480 * 4);
    write_bytes(f, 4, 6);                        /* a frame and a half */
    write_bytes(f, 4, QEMU_AUDIO_MAX_WRITE + 4); /* over 100 ms */
    write_bytes(f, 99, 480 * 4);                 /* never initialised */
    GVariant *vol[] = {g_variant_new_uint64(4), g_variant_new_boolean(FALSE), bytes(3, 9)};
    call(f, "SetVolume", g_variant_new_tuple(vol, 3)); /* three channels */
    assert_int_equal(f->frames, 0);
    assert_int_equal(f->volumes, 0);
    assert_int_equal(qemu_audio_rejected(f->audio), 10);
    /* Still connected, still playing voice 4. */
    write_bytes(f, 4, QEMU_AUDIO_MAX_WRITE);
    assert_int_equal(f->frames, QEMU_AUDIO_MAX_WRITE / 4);
    assert_int_equal(f->enabled, 1);
}

/* QEMU goes (the display closed): the voice stops; a new display gets a
 * new listener. */
static void test_detach_stops(void **state)
{
    struct fixture *f = *state;
    init(f, 4, 16, TRUE, 48000, 2);
    write_bytes(f, 4, 480 * 4);
    assert_int_equal(f->enabled, 1);
    qemu_audio_detach(f->audio);
    assert_int_equal(f->enabled, 0);
    g_clear_object(&f->listener);
    qemu_audio_attach(f->audio, f->display_daemon, NULL);
    int64_t give_up = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!f->listener && g_get_monotonic_time() < give_up)
        g_main_context_iteration(NULL, TRUE);
    assert_non_null(f->listener);
    init(f, 4, 16, TRUE, 48000, 2);
    write_bytes(f, 4, 480 * 4);
    assert_int_equal(f->frames, 960);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plays_spice_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_the_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detach_stops, setup, teardown),
    };
    return cmocka_run_group_tests_name("qemu-audio", tests, NULL, NULL);
}
