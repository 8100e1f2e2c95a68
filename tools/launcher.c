#include "config.h"

#include "launcher.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>

#include "kvm-probe.h"
#include "qemu-command.h"
#include "qemu-integration/qemu-control/qmp.h"

#define KVM_PROBE_MS     5000
#define DAEMON_SOCKET_MS 30000 /* spicegl-gpu listening for QEMU */
#define DAEMON_GRACE_S   10    /* the daemon exits by itself once QEMU is gone */
#define KILL_GRACE_S     10    /* SIGTERM, then SIGKILL */

struct spicegl_vm_launcher {
    const struct spicegl_vm_options *o;
    char *dir, *gpu_socket, *daemon_qmp, *control_qmp;
    GSubprocess *daemon, *qemu;
    struct qemu_qmp *qmp; /* open from the power-off request on: closing it would drop it */
    bool daemon_done, qemu_done, failed;
    bool stopping; /* QEMU was asked to stop: the daemon may go first */
    int stop_requests;
    guint signals[3], timer;
    GMainLoop *loop;
};

static void say(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    printf("spicegl-vm: %s\n", msg);
    fflush(stdout);
}

/* --daemon; else spicegl-gpu beside this program (installed), or in the
 * build tree's daemon/ (run from tools/); else in PATH. */
static char *find_daemon(const struct spicegl_vm_options *o, const char *argv0)
{
    if (o->daemon)
        return g_strdup(o->daemon);
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = g_path_get_dirname(self ? self : argv0);
    const char *const near[] = {"spicegl-gpu", "../daemon/spicegl-gpu"};
    for (size_t i = 0; i < G_N_ELEMENTS(near); i++) {
        g_autofree char *path = g_build_filename(dir, near[i], NULL);
        if (g_file_test(path, G_FILE_TEST_IS_EXECUTABLE))
            return g_steal_pointer(&path);
    }
    return g_find_program_in_path("spicegl-gpu");
}

static bool choose_kvm(const struct spicegl_vm_options *o, const char *qemu, GError **error)
{
    if (o->accel == SPICEGL_VM_ACCEL_TCG)
        return false;
    g_autofree char *why = NULL;
    if (spicegl_kvm_probe(KVM_PROBE_MS, &why) && spicegl_kvm_probe_qemu(qemu, KVM_PROBE_MS, &why))
        return true;
    if (o->accel == SPICEGL_VM_ACCEL_KVM) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                    "--accel kvm, but KVM does not work here (%s): use --accel tcg or auto", why);
        return false;
    }
    say("KVM does not work here (%s): emulating the CPU with TCG, which is many times slower", why);
    return false;
}

static GSubprocess *start_daemon(struct spicegl_vm_launcher *l, const char *bin, GError **error)
{
    const struct spicegl_vm_options *o = l->o;
    g_autofree char *port = g_strdup_printf("%u", o->port);
    g_autofree char *size = g_strdup_printf("%ux%u", o->width, o->height);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    const char *fixed[] = {bin,           "--socket-path", l->gpu_socket, "--qmp",
                           l->daemon_qmp, "--addr",        o->addr,       "--port",
                           port,          "--size",        size};
    for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++)
        g_ptr_array_add(argv, (char *)fixed[i]);
    /* As many usb-redir devices as the QEMU command line has. */
    g_autofree char *usb_redir = g_strdup_printf("%u", SPICEGL_VM_USB_REDIR);
    g_ptr_array_add(argv, "--usb-redir");
    g_ptr_array_add(argv, usb_redir);
    if (o->ticket_file) {
        g_ptr_array_add(argv, "--ticket-file");
        g_ptr_array_add(argv, o->ticket_file);
    }
    for (char **a = o->daemon_args; a && *a; a++)
        g_ptr_array_add(argv, *a);
    g_ptr_array_add(argv, NULL);
    GSubprocess *d =
        g_subprocess_newv((const char *const *)argv->pdata, G_SUBPROCESS_FLAGS_NONE, error);
    if (!d)
        return NULL;
    /* QEMU connects to the socket at once: it must be there first. */
    for (int waited = 0; waited < DAEMON_SOCKET_MS; waited += 50) {
        if (g_file_test(l->gpu_socket, G_FILE_TEST_EXISTS))
            return d;
        if (!g_subprocess_get_identifier(d))
            break;
        g_usleep(50 * 1000);
    }
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                g_subprocess_get_identifier(d)
                    ? "spicegl-gpu did not open its socket in %d s"
                    : "spicegl-gpu exited at start (its message is above)",
                DAEMON_SOCKET_MS / 1000);
    g_subprocess_force_exit(d);
    g_subprocess_wait(d, NULL, NULL);
    g_object_unref(d);
    return NULL;
}

/* The launcher's one timer: what happens next if nothing else does. */
static void set_timer(struct spicegl_vm_launcher *l, guint seconds, GSourceFunc fn)
{
    if (l->timer)
        g_source_remove(l->timer);
    l->timer = g_timeout_add_seconds(seconds, fn, l);
}

static gboolean on_grace_over(gpointer data);

/* QEMU is asked to stop (SIGTERM), and killed with the daemon if either
 * is still there after the grace period. */
static void stop_qemu(struct spicegl_vm_launcher *l)
{
    l->stopping = true;
    if (!l->qemu_done)
        g_subprocess_send_signal(l->qemu, SIGTERM);
    set_timer(l, KILL_GRACE_S, on_grace_over);
}

/* The last resort: whatever still runs after the grace period is killed. */
static gboolean on_grace_over(gpointer data)
{
    struct spicegl_vm_launcher *l = data;
    l->timer = 0;
    if (!l->qemu_done) {
        say("QEMU did not stop: killing it");
        g_subprocess_force_exit(l->qemu);
        l->failed = true;
    }
    if (!l->daemon_done) {
        say("spicegl-gpu did not stop: killing it");
        g_subprocess_force_exit(l->daemon);
        l->failed = true;
    }
    return G_SOURCE_REMOVE;
}

/* After the shutdown timeout: the guest did not power off in time. */
static gboolean on_shutdown_timeout(gpointer data)
{
    struct spicegl_vm_launcher *l = data;
    l->timer = 0;
    if (!l->qemu_done) {
        say("the guest did not power off within %u s: stopping QEMU", l->o->shutdown_timeout);
        stop_qemu(l);
    }
    return G_SOURCE_REMOVE;
}

static void maybe_quit(struct spicegl_vm_launcher *l)
{
    if (l->qemu_done && l->daemon_done)
        g_main_loop_quit(l->loop);
}

static void describe_exit(const char *who, GSubprocess *p, bool *failed)
{
    if (g_subprocess_get_if_exited(p)) {
        int status = g_subprocess_get_exit_status(p);
        if (status != 0)
            *failed = true;
        say("%s exited with status %d", who, status);
    } else {
        *failed = true;
        say("%s was killed by signal %d", who, g_subprocess_get_term_sig(p));
    }
}

static void on_qemu_exit(GObject *source, GAsyncResult *res, gpointer data)
{
    struct spicegl_vm_launcher *l = data;
    g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
    l->qemu_done = true;
    describe_exit("QEMU", l->qemu, &l->failed);
    /* With its QEMU gone, the daemon exits by itself. */
    if (!l->daemon_done)
        set_timer(l, DAEMON_GRACE_S, on_grace_over);
    maybe_quit(l);
}

static void on_daemon_exit(GObject *source, GAsyncResult *res, gpointer data)
{
    struct spicegl_vm_launcher *l = data;
    g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
    l->daemon_done = true;
    describe_exit("spicegl-gpu", l->daemon, &l->failed);
    if (!l->qemu_done && !l->stopping) {
        /* The VM lost its GPU and its display: it cannot go on. */
        l->failed = true;
        say("the VM lost its GPU: stopping QEMU");
        stop_qemu(l);
    }
    maybe_quit(l);
}

static gboolean on_stop_signal(gpointer data)
{
    struct spicegl_vm_launcher *l = data;
    if (l->qemu_done)
        return G_SOURCE_CONTINUE;
    if (l->stop_requests++ || l->o->shutdown_timeout == 0) {
        say("stopping QEMU");
        stop_qemu(l);
        return G_SOURCE_CONTINUE;
    }
    g_autoptr(GError) error = NULL;
    l->qmp = qemu_qmp_connect(l->control_qmp, &error);
    if (!l->qmp || !qemu_qmp_send(l->qmp, "{\"execute\":\"system_powerdown\"}", -1)) {
        say("cannot ask the guest to power off (%s): stopping QEMU",
            error ? error->message : "QMP refused");
        stop_qemu(l);
    } else {
        say("asking the guest to power off (up to %u s; again to stop it now)",
            l->o->shutdown_timeout);
        l->stopping = true;
        set_timer(l, l->o->shutdown_timeout, on_shutdown_timeout);
    }
    return G_SOURCE_CONTINUE;
}

static void print_address(const struct spicegl_vm_options *o)
{
    const char *host = o->addr;
    g_autofree char *name = NULL;
    if (g_str_equal(host, "0.0.0.0") || g_str_equal(host, "::"))
        host = name = g_strdup(g_get_host_name());
    bool v6 = strchr(host, ':') != NULL;
    say("the VM's display: spice://%s%s%s:%u%s — connect with: remote-viewer spice://%s%s%s:%u",
        v6 ? "[" : "", host, v6 ? "]" : "", o->port,
        o->ticket_file ? " (password in --ticket-file)" : "", v6 ? "[" : "", host, v6 ? "]" : "",
        o->port);
}

struct spicegl_vm_launcher *spicegl_vm_launcher_create(const struct spicegl_vm_options *o,
                                                       const char *argv0, GError **error)
{
    struct spicegl_vm_launcher *l = g_new0(struct spicegl_vm_launcher, 1);
    g_autofree char *daemon = NULL, *qemu = NULL, *tmpl = NULL;
    g_auto(GStrv) argv = NULL;
    l->o = o;
    l->loop = g_main_loop_new(NULL, FALSE);
    const char *disk_format = NULL;
    if (o->disk && !(disk_format = spicegl_vm_disk_format(o, error)))
        goto fail;
    daemon = find_daemon(o, argv0);
    if (!daemon) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "spicegl-gpu is neither beside spicegl-vm nor in PATH: give --daemon PATH");
        goto fail;
    }
    qemu = g_find_program_in_path(o->qemu);
    if (!qemu) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "QEMU (%s) not found: install qemu-system-x86 or give --qemu PATH", o->qemu);
        goto fail;
    }
    GError *probe_error = NULL;
    bool kvm = choose_kvm(o, qemu, &probe_error);
    if (probe_error) {
        g_propagate_error(error, probe_error);
        goto fail;
    }
    const char *runtime = g_get_user_runtime_dir();
    tmpl = g_build_filename(runtime, "spicegl-vm-XXXXXX", NULL);
    l->dir = g_mkdtemp(tmpl) ? g_steal_pointer(&tmpl) : NULL;
    if (!l->dir) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot make a directory in %s: %s", runtime, g_strerror(errno));
        goto fail;
    }
    l->gpu_socket = g_build_filename(l->dir, "gpu.sock", NULL);
    l->daemon_qmp = g_build_filename(l->dir, "qmp-daemon.sock", NULL);
    l->control_qmp = g_build_filename(l->dir, "qmp.sock", NULL);
    l->daemon = start_daemon(l, daemon, error);
    if (!l->daemon)
        goto fail;
    struct spicegl_vm_paths paths = {l->gpu_socket, l->daemon_qmp, l->control_qmp};
    argv = spicegl_vm_qemu_argv(o, &paths, disk_format, kvm);
    g_free(argv[0]);
    argv[0] = g_steal_pointer(&qemu);
    l->qemu = g_subprocess_newv((const char *const *)argv, G_SUBPROCESS_FLAGS_NONE, error);
    if (!l->qemu)
        goto fail;
    g_subprocess_wait_async(l->qemu, NULL, on_qemu_exit, l);
    g_subprocess_wait_async(l->daemon, NULL, on_daemon_exit, l);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++)
        l->signals[i] = g_unix_signal_add(sigs[i], on_stop_signal, l);
    say("QEMU started (%s, %" G_GUINT64_FORMAT " MiB, %u CPUs), spicegl-gpu is its GPU",
        kvm ? "KVM" : "TCG", o->memory_mb, o->cpus);
    print_address(o);
    return l;
fail:
    spicegl_vm_launcher_destroy(l);
    return NULL;
}

int spicegl_vm_launcher_run(struct spicegl_vm_launcher *l)
{
    if (!(l->qemu_done && l->daemon_done))
        g_main_loop_run(l->loop);
    return l->failed ? 1 : 0;
}

static void reap(GSubprocess *p, bool done)
{
    if (!p || done)
        return;
    g_subprocess_force_exit(p);
    g_subprocess_wait(p, NULL, NULL);
}

void spicegl_vm_launcher_destroy(struct spicegl_vm_launcher *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(l->signals); i++)
        if (l->signals[i])
            g_source_remove(l->signals[i]);
    if (l->timer)
        g_source_remove(l->timer);
    qemu_qmp_destroy(l->qmp);
    reap(l->qemu, l->qemu_done);
    reap(l->daemon, l->daemon_done);
    /* Pending waits hold their own references; let them finish. */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_clear_object(&l->qemu);
    g_clear_object(&l->daemon);
    const char *paths[] = {l->gpu_socket, l->daemon_qmp, l->control_qmp};
    for (size_t i = 0; i < G_N_ELEMENTS(paths); i++)
        if (paths[i])
            g_unlink(paths[i]);
    if (l->dir)
        g_rmdir(l->dir);
    g_free(l->gpu_socket);
    g_free(l->daemon_qmp);
    g_free(l->control_qmp);
    g_free(l->dir);
    g_main_loop_unref(l->loop);
    g_free(l);
}
