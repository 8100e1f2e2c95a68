#include "config.h"

#include "synthetic-daemon.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "net.h"

const char *sgl_test_builddir(void)
{
    const char *b = g_getenv("SGL_BUILDDIR");
    return b ? b : ".";
}

static bool can_connect(const struct sgl_synthetic_daemon *d)
{
    g_autoptr(GSocketClient) c = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = NULL;
    if (d->unix_path) {
        addr = g_unix_socket_address_new(d->unix_path);
    } else {
        g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
        addr = g_inet_socket_address_new(lo, d->port);
    }
    g_autoptr(GSocketConnection) conn =
        g_socket_client_connect(c, G_SOCKET_CONNECTABLE(addr), NULL, NULL);
    return conn != NULL;
}

struct sgl_synthetic_daemon *sgl_synthetic_daemon_start(const char *spec, bool use_unix,
                                                        const char *const *extra, GError **error)
{
    struct sgl_synthetic_daemon *d = g_new0(struct sgl_synthetic_daemon, 1);
    d->dir = g_dir_make_tmp("sgl-spice-XXXXXX", NULL);
    d->log = g_build_filename(d->dir, "daemon.log", NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_build_filename(sgl_test_builddir(), "daemon", "spicegl-gpu", NULL));
    g_ptr_array_add(argv, g_strdup("--synthetic"));
    g_ptr_array_add(argv, g_strdup(spec));
    g_ptr_array_add(argv, g_strdup("--stats-interval"));
    g_ptr_array_add(argv, g_strdup("1"));
    const char *san = g_getenv("SGL_SANITIZERS");
    if (san && g_str_equal(san, "yes")) {
        /* LeakSanitizer checks the daemon at exit from a tracer process
         * that ptraces its threads, which the seccomp filter forbids: these
         * leak-checked daemons run unsandboxed when instrumented
         * (test-sandbox and the e2e tests cover the sandbox). */
        g_ptr_array_add(argv, g_strdup("--sandbox"));
        g_ptr_array_add(argv, g_strdup("off"));
    }
    if (use_unix) {
        d->unix_path = g_build_filename(d->dir, "spice.sock", NULL);
        g_ptr_array_add(argv, g_strdup("--no-tcp"));
        g_ptr_array_add(argv, g_strdup("--unix"));
        g_ptr_array_add(argv, g_strdup(d->unix_path));
    } else {
        d->port = sgl_test_free_port();
        g_ptr_array_add(argv, g_strdup("--port"));
        g_ptr_array_add(argv, g_strdup_printf("%u", d->port));
    }
    for (const char *const *e = extra; e && *e; e++)
        g_ptr_array_add(argv, g_strdup(*e));
    g_ptr_array_add(argv, NULL);
    /* GLib logs debug lines to stdout, the rest to stderr: keep both. */
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE);
    g_subprocess_launcher_set_stdout_file_path(l, d->log);
    g_subprocess_launcher_setenv(l, "G_MESSAGES_DEBUG", "spicegl", TRUE);
    if (!use_unix && !d->port) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "no free TCP port");
        goto fail;
    }
    d->proc = g_subprocess_launcher_spawnv(l, (const char *const *)argv->pdata, error);
    if (!d->proc)
        goto fail;
    for (int i = 0; i < 100 && !can_connect(d); i++)
        g_usleep(50 * 1000);
    if (!can_connect(d)) {
        g_autofree char *log = sgl_synthetic_daemon_log(d);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "spicegl-gpu does not accept connections:\n%s", log);
        goto fail;
    }
    return d;
fail:
    sgl_synthetic_daemon_stop(d);
    return NULL;
}

char *sgl_synthetic_daemon_log(const struct sgl_synthetic_daemon *d)
{
    char *log = NULL;
    g_file_get_contents(d->log, &log, NULL, NULL);
    return log ? log : g_strdup("");
}

char *sgl_synthetic_daemon_log_tail(const struct sgl_synthetic_daemon *d, size_t max)
{
    g_autofree char *log = sgl_synthetic_daemon_log(d);
    size_t len = strlen(log);
    return g_strdup(log + (len > max ? len - max : 0));
}

static void remove_dir(const char *dir)
{
    g_autoptr(GDir) dh = g_dir_open(dir, 0, NULL);
    for (const char *name; dh && (name = g_dir_read_name(dh));) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_unlink(path);
    }
    g_rmdir(dir);
}

int sgl_synthetic_daemon_stop(struct sgl_synthetic_daemon *d)
{
    if (!d)
        return 0;
    int status = 0;
    if (d->proc) {
        g_subprocess_send_signal(d->proc, SIGTERM);
        g_subprocess_wait(d->proc, NULL, NULL);
        status = g_subprocess_get_if_exited(d->proc) ? g_subprocess_get_exit_status(d->proc)
                                                     : 128 + g_subprocess_get_term_sig(d->proc);
        g_object_unref(d->proc);
    }
    g_autofree char *log = sgl_synthetic_daemon_log(d);
    /* The last stats line says what the daemon did. */
    char *last = g_strrstr(log, "stats[0]");
    if (last)
        printf("# daemon %.*s\n", (int)strcspn(last, "\n"), last);
    if (status != 0)
        printf("# spicegl-gpu exited with %d:\n%s\n", status, log);
    remove_dir(d->dir);
    g_free(d->log);
    g_free(d->unix_path);
    g_free(d->dir);
    g_free(d);
    return status;
}
