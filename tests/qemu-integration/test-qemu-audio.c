/* qemu-audio against a stand-in for QEMU's D-Bus audio: the output and
 * input listeners are registered on the display's connection and served on
 * the connections QEMU opens with the fds it was given; SPICE's format
 * plays, every other format, size and voice is refused and counted, and the
 * connection (and the served voice) survive each refusal; the VM's
 * recording gets the clients' samples at real time, and silence without
 * them. */
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
                                "<method name='RegisterInListener'><arg type='h'/></method>"
                                "</interface></node>";

struct fixture {
    GDBusConnection *display_qemu, *display_daemon; /* the display's two ends */
    GDBusConnection *listener, *in_listener;        /* QEMU's ends of the listeners' */
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
    /* the recording side */
    int capture_enabled; /* -1: never called */
    int capture_volumes;
    bool client;     /* a client sends: capture() gives all it is asked */
    size_t captured; /* frames capture() gave */
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

static void on_capture_enabled(bool on, void *data)
{
    ((struct fixture *)data)->capture_enabled = on;
}

static void on_capture_volume(bool mute, uint8_t left, uint8_t right, void *data)
{
    struct fixture *f = data;
    f->mute = mute, f->left = left, f->right = right;
    f->capture_volumes++;
}

/* A client's microphone: 0x2222 in every sample, as much as is asked. */
static size_t on_capture(int16_t *frames, size_t n, void *data)
{
    struct fixture *f = data;
    if (!f->client)
        return 0;
    for (size_t i = 0; i < 2 * n; i++)
        frames[i] = 0x2222;
    f->captured += n;
    return n;
}

static const struct qemu_audio_callbacks callbacks = {
    on_enabled, on_volume, on_pcm, on_capture_enabled, on_capture_volume, on_capture};

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

/* QEMU's Audio.Register{Out,In}Listener: opens the listener's connection
 * as the authenticating end on the fd it was given, as QEMU does. */
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
                          NULL, NULL, on_new,
                          strcmp(method, "RegisterInListener") ? &f->listener : &f->in_listener);
    g_dbus_method_invocation_return_value(inv, NULL);
}

static const GDBusInterfaceVTable audio_vtable = {.method_call = on_register};

static int setup(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);
    f->enabled = f->capture_enabled = -1;
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
    while ((!f->listener || !f->in_listener) && g_get_monotonic_time() < give_up)
        g_main_context_iteration(NULL, TRUE);
    assert_non_null(f->listener);
    assert_non_null(f->in_listener);
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
    g_clear_object(&f->in_listener);
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

static void on_called_keep(GObject *source, GAsyncResult *res, gpointer data)
{
    GVariant **out = data;
    *out = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, NULL);
    g_assert(*out);
}

/* QEMU calls an input listener method; returns the daemon's answer. */
static GVariant *call_in(struct fixture *f, const char *method, GVariant *args)
{
    GVariant *out = NULL;
    g_dbus_connection_call(f->in_listener, NULL, "/org/qemu/Display1/AudioInListener",
                           "org.qemu.Display1.AudioInListener", method, args, NULL,
                           G_DBUS_CALL_FLAGS_NONE, 5000, NULL, on_called_keep, &out);
    int64_t give_up = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!out && g_get_monotonic_time() < give_up)
        g_main_context_iteration(NULL, TRUE);
    assert_non_null(out);
    return out;
}

/* QEMU reads up to size bytes of voice id: the frames answered, each
 * sample checked to be `sample`. */
static size_t read_in(struct fixture *f, guint64 id, guint64 size, int16_t sample)
{
    g_autoptr(GVariant) v = call_in(f, "Read", g_variant_new("(tt)", id, size));
    g_autoptr(GVariant) ay = g_variant_get_child_value(v, 0);
    gsize len = 0;
    const int16_t *p = g_variant_get_fixed_array(ay, &len, 1);
    assert_int_equal(len % 4, 0);
    for (gsize i = 0; i < len / 2; i++)
        if (p[i] != sample)
            fail_msg("sample %zu is %d, not %d", (size_t)i, p[i], sample);
    return len / 4;
}

static void init_in(struct fixture *f, guint64 id, guint32 freq)
{
    g_variant_unref(call_in(f, "Init",
                            g_variant_new("(tybbuyuub)", id, (guint8)16, TRUE, FALSE, freq,
                                          (guint8)2, (guint32)4, 4 * freq, FALSE)));
}

static void enable_in(struct fixture *f, guint64 id, gboolean on)
{
    g_variant_unref(call_in(f, "SetEnabled", g_variant_new("(tb)", id, on)));
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

/* The VM records what a client sends, at real time: QEMU asks for all
 * its buffer holds, each answer is what the time since the last one
 * allows (a little more while a client has samples waiting, at most
 * 100 ms), and after a pause no more than 200 ms are owed. */
static void test_records_at_real_time(void **state)
{
    struct fixture *f = *state;
    init_in(f, 9, 48000);
    enable_in(f, 9, TRUE);
    assert_int_equal(f->capture_enabled, 1);
    f->client = true;
    assert_int_equal(read_in(f, 9, 1 << 20, 0x2222), 0); /* no time yet */
    /* What is due: the time between reads, each gap counted up to the
     * 200 ms a stall is owed (a loaded machine may stall the test too). */
    int64_t last = g_get_monotonic_time();
    size_t total = 0;
    double due = 0;
    for (int i = 0; i < 30; i++) {
        g_usleep(10000);
        total += read_in(f, 9, 1 << 20, 0x2222);
        int64_t now = g_get_monotonic_time();
        due += MIN(now - last, 200000) * 48000.0 / G_USEC_PER_SEC;
        last = now;
    }
    print_message("# %zu frames in %.0f frames' time\n", total, due);
    assert_true(total + 480 >= due); /* the last read's window aside */
    assert_true(total <= due * 1.05 + 1);
    g_usleep(300000); /* QEMU stalled 300 ms: 200 ms of it are owed, 100 ms per answer */
    assert_int_equal(read_in(f, 9, 1 << 20, 0x2222), QEMU_AUDIO_MAX_WRITE / 4);
    assert_int_equal(read_in(f, 9, 1 << 20, 0x2222), QEMU_AUDIO_MAX_WRITE / 4);
    /* The rest of the stall is gone: the next answer holds only what the
     * time since these two allows. */
    int64_t before = g_get_monotonic_time();
    size_t rest = read_in(f, 9, 1 << 20, 0x2222);
    double since = (g_get_monotonic_time() - before + 20000) * 48000.0 / G_USEC_PER_SEC;
    assert_true(rest <= since * 1.05 + 1);
    assert_true(rest < QEMU_AUDIO_MAX_WRITE / 4);
    struct qemu_audio_capture_stats st;
    qemu_audio_get_capture_stats(f->audio, &st);
    assert_int_equal(st.heard, f->captured);
    assert_int_equal(st.silence, 0);
    assert_int_equal(qemu_audio_rejected(f->audio), 0);
}

/* Without a client's samples the VM records silence at real time; a
 * client's short pause (under 100 ms) is waited out, not filled. */
static void test_records_silence_without_client(void **state)
{
    struct fixture *f = *state;
    init_in(f, 9, 48000);
    enable_in(f, 9, TRUE);
    read_in(f, 9, 1 << 20, 0);
    g_usleep(50000);
    size_t quiet = read_in(f, 9, 1 << 20, 0);
    assert_true(quiet >= 2400 && quiet <= 4800);
    f->client = true;
    g_usleep(20000);
    assert_true(read_in(f, 9, 1 << 20, 0x2222) >= 960);
    f->client = false;
    int64_t heard = g_get_monotonic_time();
    g_usleep(20000);
    size_t late = read_in(f, 9, 1 << 20, 0);
    if (g_get_monotonic_time() - heard < 90000) /* a loaded machine may sleep longer */
        assert_int_equal(late, 0);              /* the client may be late: nothing yet */
    g_usleep(120000);
    assert_true(read_in(f, 9, 1 << 20, 0) >= 4800); /* it is gone: silence */
    struct qemu_audio_capture_stats st;
    qemu_audio_get_capture_stats(f->audio, &st);
    assert_int_equal(st.heard, f->captured);
    assert_true(st.silence >= quiet + 4800);
    enable_in(f, 9, FALSE);
    assert_int_equal(f->capture_enabled, 0);
    assert_int_equal(read_in(f, 9, 1 << 20, 0), 0); /* not recording: nothing */
}

/* A capture voice in another format, a second one, reads for a voice
 * never initialised, a volume of three channels: refused and counted;
 * the served voice's volume reaches the callback, and a detach stops it. */
static void test_capture_refusals(void **state)
{
    struct fixture *f = *state;
    f->client = true;
    init_in(f, 1, 44100);
    assert_int_equal(qemu_audio_rejected(f->audio), 1);
    enable_in(f, 1, TRUE);
    assert_int_equal(f->capture_enabled, -1);
    assert_int_equal(read_in(f, 1, 4096, 0), 0);
    assert_int_equal(qemu_audio_rejected(f->audio), 2);
    init_in(f, 9, 48000);
    init_in(f, 10, 48000);
    assert_int_equal(qemu_audio_rejected(f->audio), 3);
    guint8 three[3] = {1, 2, 3}, two[2] = {50, 60};
    g_variant_unref(
        call_in(f, "SetVolume",
                g_variant_new("(tb@ay)", (guint64)9, FALSE,
                              g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, three, 3, 1))));
    assert_int_equal(qemu_audio_rejected(f->audio), 4);
    g_variant_unref(
        call_in(f, "SetVolume",
                g_variant_new("(tb@ay)", (guint64)9, TRUE,
                              g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, two, 2, 1))));
    assert_int_equal(f->capture_volumes, 1);
    assert_true(f->mute);
    assert_int_equal(f->left, 50);
    assert_int_equal(f->right, 60);
    enable_in(f, 9, TRUE);
    assert_int_equal(f->capture_enabled, 1);
    qemu_audio_detach(f->audio);
    assert_int_equal(f->capture_enabled, 0);
    assert_int_equal(f->captured, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plays_spice_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_the_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detach_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_at_real_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_silence_without_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capture_refusals, setup, teardown),
    };
    return cmocka_run_group_tests_name("qemu-audio", tests, NULL, NULL);
}
