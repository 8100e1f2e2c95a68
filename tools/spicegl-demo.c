/* spicegl-demo: boots the test guest under QEMU (TCG) and shows its console
 * reports. With --gpu spicegl (scripts/demo) its GPU is spicegl-gpu, started
 * here, which serves it over SPICE on --spice-port; with --gpu stock, QEMU's
 * own virtio-vga-gl and, given --spice-port, stock QEMU SPICE. Used by
 * scripts/demo and by hand. Exits 0 when the guest reports "done status=ok". */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/harness/guest-image.h"
#include "tests/harness/vm.h"
#include "tools/qemu-command.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = sig;
}

static gboolean check_size(const char *size)
{
    guint w = 0, h = 0;
    char tail;
    return sscanf(size, "%ux%u%c", &w, &h, &tail) == 2 && w > 0 && h > 0 && w <= 8192 && h <= 8192;
}

/* spicegl-gpu as the VM's GPU, serving SPICE on 127.0.0.1:port; returns
 * once its socket is there for QEMU. */
static GSubprocess *start_spicegl(const char *build, const char *socket, const char *qmp, int port,
                                  guint w, guint h, int fps, unsigned usb_redir, char **extra,
                                  GError **error)
{
    g_autofree char *usb = g_strdup_printf("%u", usb_redir);
    g_autofree char *f = g_strdup_printf("%d", fps);
    g_autofree char *bin = g_build_filename(build, "daemon", "spicegl-gpu", NULL);
    g_autofree char *p = g_strdup_printf("%d", port);
    g_autofree char *size = g_strdup_printf("%ux%u", w, h);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    const char *fixed[] = {bin,  "--socket-path", socket, "--port", p,  "--size",
                           size, "--fps",         f,      "--qmp",  qmp};
    for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++)
        g_ptr_array_add(argv, (char *)fixed[i]);
    if (usb_redir) {
        g_ptr_array_add(argv, "--usb-redir");
        g_ptr_array_add(argv, usb);
    }
    for (char **a = extra; a && *a; a++)
        g_ptr_array_add(argv, *a);
    g_ptr_array_add(argv, NULL);
    GSubprocess *d =
        g_subprocess_newv((const char *const *)argv->pdata, G_SUBPROCESS_FLAGS_NONE, error);
    if (!d)
        return NULL;
    for (int i = 0; i < 300 && !g_file_test(socket, G_FILE_TEST_EXISTS); i++) {
        if (!g_subprocess_get_identifier(d))
            break;
        g_usleep(100 * 1000);
    }
    if (!g_file_test(socket, G_FILE_TEST_EXISTS)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "spicegl-gpu did not start (see above)");
        g_subprocess_force_exit(d);
        g_object_unref(d);
        return NULL;
    }
    return d;
}

int main(int argc, char **argv)
{
    g_autofree char *run = NULL, *size = NULL, *srcdir = NULL, *builddir = NULL, *log = NULL,
                    *gpu = NULL, *streaming = NULL;
    gint fps = -1, frames = 0, spice_port = 0, vnc_port = 0, seconds = 0;
    gboolean stay = FALSE, log_times = FALSE;
    g_auto(GStrv) daemon_args = NULL, guest_args = NULL;
    GOptionEntry entries[] = {
        {"vnc-port", 0, 0, G_OPTION_ARG_INT, &vnc_port,
         "With --gpu stock: serve the VM over VNC on 127.0.0.1:PORT (5900..65535)", "PORT"},
        {"guest-arg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &guest_args,
         "One more sgl.* option for the guest (repeatable), e.g. sgl.perframe=1", "KEY=VALUE"},
        {"log-times", 0, 0, G_OPTION_ARG_NONE, &log_times,
         "Start each --log line with the host's time, [SECONDS]", NULL},
        {"daemon-arg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &daemon_args,
         "With --gpu spicegl: one more spicegl-gpu argument (repeatable)", "ARG"},
        {"run", 0, 0, G_OPTION_ARG_STRING, &run,
         "Guest workloads, comma-separated: gl, kmscube, glmark2, desktop (an X.Org desktop: "
         "the guest's desktop profile; default gl)",
         "LIST"},
        {"size", 0, 0, G_OPTION_ARG_STRING, &size, "GL program mode (default 1280x800)", "WxH"},
        {"fps", 0, 0, G_OPTION_ARG_INT, &fps,
         "GL program frame rate and the stream's cap (default 30; 60 with the desktop)", "N"},
        {"frames", 0, 0, G_OPTION_ARG_INT, &frames,
         "GL program frames, 0 = until stopped (default 0)", "N"},
        {"gpu", 0, 0, G_OPTION_ARG_STRING, &gpu,
         "The VM's GPU: spicegl (spicegl-gpu, serving SPICE itself) or stock (QEMU's "
         "virtio-vga-gl; default)",
         "spicegl|stock"},
        {"spice-port", 0, 0, G_OPTION_ARG_INT, &spice_port,
         "Serve the VM over SPICE on 127.0.0.1:PORT (spicegl-gpu's, or stock QEMU's)", "PORT"},
        {"spice-streaming", 0, 0, G_OPTION_ARG_STRING, &streaming,
         "With --gpu stock and --spice-port: QEMU's SPICE streaming-video (off, all or filter; "
         "QEMU's default: off)",
         "MODE"},
        {"stay", 0, 0, G_OPTION_ARG_NONE, &stay, "Keep the guest up after its workloads", NULL},
        {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "Stop after this many seconds (0 = never)",
         "S"},
        {"log", 0, 0, G_OPTION_ARG_FILENAME, &log, "Write the console and QEMU's messages here",
         "FILE"},
        {"srcdir", 0, 0, G_OPTION_ARG_FILENAME, &srcdir, "Source tree (default: $SGL_SRCDIR or .)",
         "DIR"},
        {"builddir", 0, 0, G_OPTION_ARG_FILENAME, &builddir,
         "Build tree (default: $SGL_BUILDDIR or .)", "DIR"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- boot the spicegl test guest");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "spicegl-demo: %s (see --help)\n", error->message);
        return 2;
    }
    if (size && !check_size(size)) {
        fprintf(stderr, "spicegl-demo: --size wants WIDTHxHEIGHT up to 8192x8192, e.g. 1280x800\n");
        return 2;
    }
    if ((fps != -1 && (fps < 1 || fps > 240)) || frames < 0 || seconds < 0 || spice_port < 0 ||
        spice_port > 65535) {
        fprintf(stderr, "spicegl-demo: --fps wants 1..240, --frames and --seconds >= 0, "
                        "--spice-port 1..65535\n");
        return 2;
    }
    bool spicegl = gpu && g_str_equal(gpu, "spicegl");
    if (vnc_port && (spicegl || vnc_port < 5900 || vnc_port > 65535)) {
        fprintf(stderr, "spicegl-demo: --vnc-port is for --gpu stock, 5900..65535\n");
        return 2;
    }
    if (streaming &&
        (spicegl || !spice_port ||
         !g_strv_contains((const char *const[]){"off", "all", "filter", NULL}, streaming))) {
        fprintf(stderr, "spicegl-demo: --spice-streaming is off, all or filter, for --gpu stock "
                        "with --spice-port\n");
        return 2;
    }
    for (char **a = guest_args; a && *a; a++)
        if (!g_regex_match_simple("^sgl\\.[a-z_0-9]+=[A-Za-z0-9,x._-]+$", *a, 0, 0)) {
            fprintf(stderr, "spicegl-demo: --guest-arg wants sgl.KEY=VALUE (got '%s')\n", *a);
            return 2;
        }
    if (gpu && !spicegl && !g_str_equal(gpu, "stock")) {
        fprintf(stderr, "spicegl-demo: --gpu is spicegl or stock (got '%s')\n", gpu);
        return 2;
    }
    if (run && !g_regex_match_simple("^[a-z0-9]+(,[a-z0-9]+)*$", run, 0, 0)) {
        fprintf(stderr, "spicegl-demo: --run wants names separated by commas, e.g. gl,kmscube\n");
        return 2;
    }
    const char *src = srcdir ? srcdir : g_getenv("SGL_SRCDIR") ? g_getenv("SGL_SRCDIR") : ".";
    const char *build = builddir                   ? builddir
                        : g_getenv("SGL_BUILDDIR") ? g_getenv("SGL_BUILDDIR")
                                                   : ".";

    struct sgl_guest_image image;
    /* The desktop workload is in the desktop profile's image only. */
    g_auto(GStrv) workloads = g_strsplit(run ? run : "gl", ",", -1);
    bool desktop = g_strv_contains((const char *const *)workloads, "desktop");
    if (fps == -1)
        fps = desktop ? 60 : 30;
    /* The desktop's image has USB storage: clients can redirect two
     * devices (remote-viewer's USB device selection, or a shared CD). */
    unsigned usb_redir = spicegl && desktop ? SPICEGL_VM_USB_REDIR : 0;
    if (!sgl_guest_image_init(&image, src, build, desktop ? "desktop" : "base", &error)) {
        fprintf(stderr, "spicegl-demo: %s\n", error->message);
        return 1;
    }
    const char *mode = size ? size : "1280x800";
    guint xres = 0, yres = 0;
    sscanf(mode, "%ux%u", &xres, &yres);
    g_autofree char *more = guest_args ? g_strjoinv(" ", guest_args) : g_strdup("");
    g_autofree char *args =
        g_strdup_printf("sgl.run=%s sgl.size=%s sgl.fps=%d sgl.frames=%d%s %s", run ? run : "gl",
                        mode, fps, frames, stay ? " sgl.stay=1" : "", more);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    g_autofree char *dir = g_dir_make_tmp("spicegl-demo-XXXXXX", NULL);
    g_autofree char *socket = g_build_filename(dir, "gpu.sock", NULL);
    /* spicegl-gpu sends input and display sizes to the guest through it. */
    g_autofree char *qmp = g_build_filename(dir, "qmp.sock", NULL);
    g_autoptr(GSubprocess) daemon = NULL;
    if (spicegl) {
        /* The stream aims at the rate the guest renders at. */
        daemon = start_spicegl(build, socket, qmp, spice_port ? spice_port : 5900, xres, yres, fps,
                               usb_redir, daemon_args, &error);
        if (!daemon) {
            fprintf(stderr, "spicegl-demo: %s\n", error->message);
            sgl_guest_image_finish(&image);
            return 1;
        }
    }
    struct sgl_vm_config config = {
        .kernel = image.kernel,
        .initrd = image.initrd,
        .guest_args = args,
        .gpu = spicegl ? SGL_VM_GPU_VHOST_USER : SGL_VM_GPU_STOCK_VIRGL,
        .gpu_socket = socket,
        .qmp_socket = spicegl ? qmp : NULL,
        .xres = xres,
        .yres = yres,
        .spice_port = spicegl ? 0 : (guint)spice_port,
        .spice_streaming = streaming,
        .vnc_port = (guint)vnc_port,
        .log_path = log,
        .log_times = log_times,
        .echo = TRUE,
        .usb_redir = usb_redir,
    };

    struct sgl_vm *vm = sgl_vm_create(&config, &error);
    if (!vm) {
        fprintf(stderr, "spicegl-demo: QEMU did not start: %s\n", error->message);
        sgl_guest_image_finish(&image);
        return 1;
    }
    if (spicegl)
        printf("spicegl-demo: guest served over SPICE by spicegl-gpu (its GPU, H.264) — connect "
               "with:\n"
               "          remote-viewer spice://127.0.0.1:%d\n",
               spice_port ? spice_port : 5900);
    else if (spice_port)
        printf("spicegl-demo: guest served over SPICE (stock QEMU, gl off) — connect with:\n"
               "          remote-viewer spice://127.0.0.1:%d\n",
               spice_port);
    printf("spicegl-demo: booting the test guest (TCG); Ctrl-C stops it\n");
    fflush(stdout);

    int status = 1;
    for (;;) {
        g_clear_error(&error);
        const struct sgl_console_event *done = sgl_vm_wait(vm, "done", 250, &error);
        if (done) {
            const char *s = sgl_console_event_get(done, "status");
            status = s && g_str_equal(s, "ok") ? 0 : 1;
            break;
        }
        if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
            fprintf(stderr, "spicegl-demo: %s\n", error->message);
            break;
        }
        if (stop_requested) {
            printf("spicegl-demo: stopping\n");
            status = 0;
            break;
        }
        if (seconds && sgl_vm_elapsed(vm) >= seconds) {
            printf("spicegl-demo: %d s elapsed, stopping\n", seconds);
            status = 0;
            break;
        }
    }
    sgl_vm_destroy(vm);
    if (daemon) {
        /* With QEMU gone it exits by itself; make sure, and do not hang on
         * a daemon that does not (10 s, then SIGKILL). */
        g_subprocess_send_signal(daemon, SIGTERM);
        for (int i = 0; i < 100 && g_subprocess_get_identifier(daemon); i++)
            g_usleep(100 * 1000);
        if (g_subprocess_get_identifier(daemon)) {
            fprintf(stderr, "spicegl-demo: spicegl-gpu did not stop on SIGTERM; killing it\n");
            g_subprocess_force_exit(daemon);
            status = 1;
        }
        g_subprocess_wait(daemon, NULL, NULL);
    }
    g_unlink(socket);
    g_unlink(qmp);
    g_rmdir(dir);
    sgl_guest_image_finish(&image);
    return status;
}
