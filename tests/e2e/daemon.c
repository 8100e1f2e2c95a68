#include "config.h"

#include "daemon.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "tests/harness/delivery.h"
#include "tests/harness/net.h"
#include "tests/test-util.h"

unsigned sgl_e2e_guest_fps(void)
{
    return sgl_test_sanitizers() ? 15 : 30;
}

char *sgl_e2e_daemon_log(const struct sgl_e2e_daemon *d)
{
    char *text = NULL;
    g_file_get_contents(d->log, &text, NULL, NULL);
    return text ? text : g_strdup("");
}

unsigned sgl_e2e_log_count(const char *log, const char *text)
{
    unsigned n = 0;
    for (const char *p = log; (p = strstr(p, text)); p += strlen(text))
        n++;
    return n;
}

unsigned sgl_e2e_daemon_log_count(const struct sgl_e2e_daemon *d, const char *text)
{
    g_autofree char *log = sgl_e2e_daemon_log(d);
    return sgl_e2e_log_count(log, text);
}

gboolean sgl_e2e_daemon_log_wait_count(const struct sgl_e2e_daemon *d, const char *text, unsigned n,
                                       int timeout_ms)
{
    gint64 end = g_get_monotonic_time() + timeout_ms * 1000ll;
    do {
        if (sgl_e2e_daemon_log_count(d, text) >= n)
            return TRUE;
        g_usleep(100 * 1000);
    } while (g_get_monotonic_time() < end);
    return FALSE;
}

gboolean sgl_e2e_daemon_log_wait(const struct sgl_e2e_daemon *d, const char *text, int timeout_ms)
{
    return sgl_e2e_daemon_log_wait_count(d, text, 1, timeout_ms);
}

static void daemon_free_cb(void *data)
{
    struct sgl_e2e_daemon *d = data;
    if (!d)
        return;
    /* It ended before the teardown stopped it (a test stops QEMU first,
     * and then the daemon exits 0 by itself): say how, when not cleanly. */
    if (d->proc && !g_subprocess_get_identifier(d->proc)) {
        if (!g_subprocess_get_if_exited(d->proc))
            print_message("# the daemon had ended: killed by signal %d (%s)\n",
                          g_subprocess_get_term_sig(d->proc),
                          g_strsignal(g_subprocess_get_term_sig(d->proc)));
        else if (g_subprocess_get_exit_status(d->proc) != 0)
            print_message("# the daemon had ended: exit status %d\n",
                          g_subprocess_get_exit_status(d->proc));
    }
    if (d->proc) {
        g_subprocess_send_signal(d->proc, SIGTERM);
        g_subprocess_wait(d->proc, NULL, NULL);
        g_object_unref(d->proc);
    }
    if (d->bus) {
        g_subprocess_send_signal(d->bus, SIGTERM);
        g_subprocess_wait(d->bus, NULL, NULL);
        g_object_unref(d->bus);
    }
    g_autofree char *bus_socket = g_build_filename(d->dir, "bus.sock", NULL);
    g_autofree char *bus_config = g_build_filename(d->dir, "bus.conf", NULL);
    g_unlink(bus_socket);
    g_unlink(bus_config);
    g_free(d->bus_address);
    g_unlink(d->socket);
    g_unlink(d->qmp);
    g_rmdir(d->dir);
    g_free(d->qmp);
    g_free(d->dir);
    g_free(d->socket);
    g_free(d->log);
    g_free(d);
}

/* A message bus for one VM, as libvirt starts for <graphics type='dbus'/>:
 * a dbus-daemon of its own on a unix socket in the daemon's directory,
 * with the policy libvirt gives it (anyone may send, receive and own). */
static void start_bus(struct sgl_e2e_daemon *d)
{
    g_autofree char *socket = g_build_filename(d->dir, "bus.sock", NULL);
    g_autofree char *config = g_build_filename(d->dir, "bus.conf", NULL);
    g_autofree char *text = g_strdup_printf(
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
        "<busconfig>\n"
        "  <type>spicegl-test-vm</type>\n"
        "  <listen>unix:path=%s</listen>\n"
        "  <auth>EXTERNAL</auth>\n"
        "  <policy context=\"default\">\n"
        "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
        "    <allow eavesdrop=\"true\"/>\n"
        "    <allow own=\"*\"/>\n"
        "  </policy>\n"
        "</busconfig>\n",
        socket);
    assert_true(g_file_set_contents(config, text, -1, NULL));
    g_autofree char *config_arg = g_strdup_printf("--config-file=%s", config);
    g_autoptr(GError) error = NULL;
    d->bus = g_subprocess_new(G_SUBPROCESS_FLAGS_NONE, &error, "dbus-daemon", config_arg,
                              "--nofork", "--nopidfile", NULL);
    if (!d->bus)
        fail_msg("dbus-daemon: %s", error->message);
    for (int i = 0; i < 100 && !g_file_test(socket, G_FILE_TEST_EXISTS); i++)
        g_usleep(50 * 1000);
    if (!g_file_test(socket, G_FILE_TEST_EXISTS))
        fail_msg("dbus-daemon did not make %s within 5 s", socket);
    d->bus_address = g_strdup_printf("unix:path=%s", socket);
}

struct sgl_e2e_daemon *sgl_e2e_daemon_start(struct sgl_e2e *e, const char *name,
                                            const struct sgl_e2e_daemon_options *options)
{
    static const struct sgl_e2e_daemon_options none = {0};
    const struct sgl_e2e_daemon_options *o = options ? options : &none;
    struct sgl_e2e_daemon *d = g_new0(struct sgl_e2e_daemon, 1);
    d->sound = o->sound;
    d->dir = g_dir_make_tmp("sgl-e2e-XXXXXX", NULL);
    d->socket = g_build_filename(d->dir, "gpu.sock", NULL);
    d->qmp = g_build_filename(d->dir, "qmp.sock", NULL);
    d->no_tablet = options && options->no_tablet;
    d->usb_redir = o->usb_redir;
    d->log = g_strdup_printf("%s/tests/e2e/%s.daemon.log", e->builddir, name);
    d->port = sgl_test_free_port();
    assert_int_not_equal(d->port, 0);
    e->helper = d;
    e->helper_free = daemon_free_cb;
    g_autofree char *bin = g_build_filename(e->builddir, "daemon", "spicegl-gpu", NULL);
    g_autofree char *port = g_strdup_printf("%u", d->port);
    g_autofree char *fps = g_strdup_printf("%u", sgl_e2e_guest_fps());
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    for (const char *const *w = o->wrapper; w && *w; w++)
        g_ptr_array_add(argv, (char *)*w);
    const char *args[] = {bin, "--socket-path", d->socket, "--port", port, "--stats-interval",
                          "2", "--fps",         fps};
    for (size_t i = 0; i < G_N_ELEMENTS(args); i++)
        g_ptr_array_add(argv, (char *)args[i]);
    if (o->qmp) {
        g_ptr_array_add(argv, "--qmp");
        g_ptr_array_add(argv, d->qmp);
    }
    if (o->bus) {
        start_bus(d);
        g_ptr_array_add(argv, "--dbus-address");
        g_ptr_array_add(argv, d->bus_address);
    }
    if (o->user) {
        g_ptr_array_add(argv, "--user");
        g_ptr_array_add(argv, (char *)o->user);
    }
    if (o->no_sandbox) {
        g_ptr_array_add(argv, "--sandbox");
        g_ptr_array_add(argv, "off");
    }
    g_autofree char *usb_redir = g_strdup_printf("%u", o->usb_redir);
    if (o->usb_redir) {
        g_ptr_array_add(argv, "--usb-redir");
        g_ptr_array_add(argv, usb_redir);
    }
    for (const char *const *a = o->args; a && *a; a++)
        g_ptr_array_add(argv, (char *)*a);
    g_ptr_array_add(argv, NULL);
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
    g_subprocess_launcher_set_stdout_file_path(l, d->log);
    g_subprocess_launcher_setenv(l, "G_MESSAGES_DEBUG", "spicegl", TRUE);
    if (sgl_test_sanitizers())
        /* ASan's slow unwinder (which the leak suppressions need) deadlocks
         * in libgcc when llvmpipe's JIT registers frames: malloc under
         * libgcc's object lock unwinds into the same lock. Fast unwinding
         * cannot see through the unloaded Mesa driver's frames, so leaks
         * are checked under valgrind in the plain build (test-guest-faults)
         * and by the unit tests, not here. */
        /* ASan holds up to 256 MiB of freed memory back (its quarantine):
         * where a test reads the daemon's RSS, 16 MiB, so RSS stays what
         * the daemon holds. */
        g_subprocess_launcher_setenv(l, "ASAN_OPTIONS",
                                     o->measured_memory ? "fast_unwind_on_malloc=1:detect_leaks=0:"
                                                          "quarantine_size_mb=16"
                                                        : "fast_unwind_on_malloc=1:detect_leaks=0",
                                     TRUE);
    g_autoptr(GError) error = NULL;
    g_unlink(d->log); /* an older run's "waiting for QEMU" must not count */
    d->proc = g_subprocess_launcher_spawnv(l, (const char *const *)argv->pdata, &error);
    if (!d->proc)
        fail_msg("spicegl-gpu: %s", error->message);
    int timeout = o->start_timeout_ms ? o->start_timeout_ms : 30000;
    if (!sgl_e2e_daemon_log_wait(d, "waiting for QEMU", timeout) ||
        !g_file_test(d->socket, G_FILE_TEST_EXISTS)) {
        g_autofree char *log = sgl_e2e_daemon_log(d);
        fail_msg("spicegl-gpu did not start:\n%s", log);
    }
    return d;
}

int sgl_e2e_daemon_wait(struct sgl_e2e_daemon *d, int timeout_ms)
{
    /* GSubprocess reaps on GLib's worker thread: the identifier goes when
     * the process has exited. */
    gint64 end = g_get_monotonic_time() + timeout_ms * 1000ll;
    while (g_subprocess_get_identifier(d->proc) && g_get_monotonic_time() < end)
        g_usleep(50 * 1000);
    if (g_subprocess_get_identifier(d->proc))
        return -1;
    return g_subprocess_get_if_exited(d->proc) ? g_subprocess_get_exit_status(d->proc)
                                               : 128 + g_subprocess_get_term_sig(d->proc);
}

int sgl_e2e_daemon_pid(const struct sgl_e2e_daemon *d)
{
    const char *id = g_subprocess_get_identifier(d->proc);
    return id ? atoi(id) : 0;
}

void sgl_e2e_daemon_expect_clean_log(const struct sgl_e2e_daemon *d)
{
    g_autofree char *log = sgl_e2e_daemon_log(d);
    const char *bad[] = {"rejected:", "sandbox: denied"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        const char *at = strstr(log, bad[i]);
        if (at)
            fail_msg("daemon log: %.200s", at);
    }
}

struct sgl_vm *sgl_e2e_daemon_boot(struct sgl_e2e *e, const struct sgl_e2e_daemon *d,
                                   const char *name, const char *guest_args, const char *qmp)
{
    g_autofree char *args = g_strdup_printf("%s sgl.fps=%u", guest_args, sgl_e2e_guest_fps());
    struct sgl_vm_config config = {
        .guest_args = args,
        .gpu = SGL_VM_GPU_VHOST_USER,
        .gpu_socket = d->socket,
        .display_bus = d->bus_address,
        .xres = 1280,
        .yres = 800,
        .qmp_socket = qmp,
        .allow_reset = qmp != NULL,
        .sound = d->sound,
        .no_tablet = d->no_tablet,
        .usb_redir = d->usb_redir,
    };
    return sgl_e2e_boot(e, name, &config);
}

double sgl_e2e_num(JsonObject *o, const char *key)
{
    JsonNode *n = json_object_get_member(o, key);
    if (!n || JSON_NODE_HOLDS_NULL(n))
        fail_msg("probe JSON has no %s", key);
    return json_node_get_double(n);
}

/* The probe's arguments on the daemon's TCP port, NULL-terminated. */
static GPtrArray *probe_args(const struct sgl_e2e_daemon *d, int seconds, const char *const *extra)
{
    GPtrArray *args = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(args, g_strdup_printf("spice://127.0.0.1:%u", d->port));
    g_ptr_array_add(args, g_strdup("--seconds"));
    g_ptr_array_add(args, g_strdup_printf("%d", seconds));
    for (; extra && *extra; extra++)
        g_ptr_array_add(args, g_strdup(*extra));
    g_ptr_array_add(args, NULL);
    return args;
}

JsonObject *sgl_e2e_probe_run(const struct sgl_e2e *e, const struct sgl_e2e_daemon *d, int seconds,
                              const char *const *extra, JsonParser **parser)
{
    g_autoptr(GPtrArray) args = probe_args(d, seconds, extra);
    int status;
    JsonObject *o = sgl_e2e_probe(e->builddir, (const char *const *)args->pdata, &status, parser);
    assert_int_equal(status, 0);
    return o;
}

GSubprocess *sgl_e2e_probe_spawn_on(const struct sgl_e2e *e, const struct sgl_e2e_daemon *d,
                                    int seconds, const char *const *extra)
{
    g_autoptr(GPtrArray) args = probe_args(d, seconds, extra);
    return sgl_e2e_probe_spawn(e->builddir, (const char *const *)args->pdata);
}

JsonObject *sgl_e2e_expect_guest_frames_on(const struct sgl_e2e *e, const struct sgl_e2e_daemon *d,
                                           int seconds, const char *display, int width, int height,
                                           JsonParser **parser)
{
    return sgl_e2e_expect_guest_frames_psnr(e, d, seconds, display, width, height, SGL_E2E_MIN_PSNR,
                                            parser);
}

JsonObject *sgl_e2e_expect_guest_frames_psnr(const struct sgl_e2e *e,
                                             const struct sgl_e2e_daemon *d, int seconds,
                                             const char *display, int width, int height,
                                             double min_psnr, JsonParser **parser)
{
    /* An instrumented probe drops a burst of late frames as its decoder
     * starts (about 10): a longer window keeps that from being the figure. */
    if (sgl_test_sanitizers())
        seconds *= 3;
    /* The first second of a new client is its decoder and media clock
     * starting: spice-gtk drops a burst of late pictures there (the daemon
     * sent them all), 10-25 of them, which in a 3 s window is the whole
     * margin. The probe waits for the first picture, then counts frames
     * for `seconds` from a second after it; how long the first picture
     * took is checked on its own. PSNR on every 4th frame: a probe that
     * compares every frame falls behind the stream beside a TCG guest on
     * two cores, and spice-gtk drops what it gets late. */
    const char *extra[] = {"--display", display, "--warmup", "1000", "--psnr-every", "4", NULL};
    JsonObject *o = sgl_e2e_probe_run(e, d, seconds, extra, parser);
    JsonNode *first = json_object_get_member(o, "first_picture_ms");
    if (!first || JSON_NODE_HOLDS_NULL(first))
        fail_msg("display %s: no picture within the probe's 15 s", display);
    double first_ms = json_node_get_double(first);
    double first_want = SGL_E2E_FIRST_PICTURE_MS * (sgl_test_sanitizers() ? 3 : 1);
    print_message("# display %s: the first picture %.0f ms after connecting\n", display, first_ms);
    if (first_ms > first_want)
        fail_msg("display %s: the first picture came %.0f ms after connecting, want <= %.0f ms",
                 display, first_ms, first_want);
    double frames = sgl_e2e_num(o, "frames"), lost = sgl_e2e_num(o, "lost");
    double decoded = sgl_e2e_num(o, "decoded"), presented = frames + lost;
    /* The guest numbers every frame it presents: a gap is a frame it
     * presented that the client never showed. A frame that reached the
     * client's decoder was the daemon's job done; spice-gtk drops a decoded
     * picture that came too late to show, and a probe starved of the CPU
     * beside a TCG guest on two cores gets some late. */
    print_message("# display %s: the guest presented %.0f frames meanwhile; %.0f reached the "
                  "probe's decoder (%.1f%%), it showed %.0f (%.1f%%)\n",
                  display, presented, decoded, 100 * decoded / presented, frames,
                  100 * frames / presented);
    /* Each figure is named when it fails: a CI log may be all there is. */
    double least = sgl_e2e_guest_fps() / 3.0 * seconds;
    if (frames < least)
        fail_msg("display %s: %.0f frames in %d s, want >= %.0f", display, frames, seconds, least);
    /* Delivery is the daemon's: nearly every frame reaches the client. The
     * encoder may drop a frame the guest submitted late, right behind the
     * one before it (pacing at --fps), and an instrumented daemon falls
     * behind a little at start-up. Showing them is the client's, on a CPU
     * the guest and the daemon share: most, but a starved probe drops a run
     * of late pictures. */
    const struct sgl_delivery delivery = {frames, lost, decoded};
    g_autofree char *undelivered = sgl_delivery_check(
        &delivery, sgl_test_sanitizers() ? 0.90 : 0.95, sgl_test_sanitizers() ? 0.70 : 0.80);
    if (undelivered)
        fail_msg("display %s: %s", display, undelivered);
    /* A stream that froze partway: frames for a while, then none. An
     * instrumented daemon and probe stall longer at start-up. */
    double max_gap = sgl_e2e_num(o, "max_gap_ms"), last_age = sgl_e2e_num(o, "last_age_ms");
    double gap_want = SGL_E2E_MAX_GAP_MS * (sgl_test_sanitizers() ? 3 : 1);
    if (max_gap > gap_want || last_age > gap_want)
        fail_msg("display %s: the longest gap between frames %.0f ms, the last frame %.0f ms "
                 "before the end; want both <= %.0f ms",
                 display, max_gap, last_age, gap_want);
    /* The guest's scene at the default bitrate is coded at about 47 dB;
     * resizing and a second display cost a little. */
    if (!(sgl_e2e_num(o, "psnr_avg") >= 42.0))
        fail_msg("display %s: PSNR %.2f dB on average, want >= 42", display,
                 sgl_e2e_num(o, "psnr_avg"));
    if (!(sgl_e2e_num(o, "psnr_min") >= min_psnr))
        fail_msg("display %s: the worst picture's PSNR %.2f dB, want >= %.0f", display,
                 sgl_e2e_num(o, "psnr_min"), min_psnr);
    assert_int_equal((int)sgl_e2e_num(o, "width"), width);
    assert_int_equal((int)sgl_e2e_num(o, "height"), height);
    assert_string_equal(json_object_get_string_member(o, "codec"), "h264");
    return o;
}
