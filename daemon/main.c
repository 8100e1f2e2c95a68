/* spicegl-gpu: the per-VM daemon, both the VM's GPU (a vhost-user-gpu
 * backend for QEMU) and its SPICE server. Parses and checks the options
 * (with the VM's own settings when libvirt starts it), builds the daemon,
 * runs it, tears it down. */
#include "config.h"

#include <stdio.h>
#include <sys/socket.h>

#include "daemon.h"
#include "log.h"
#include "options.h"
#include "vm-identity.h"

/* Started by libvirt (--fd, connected): which VM QEMU runs, and its
 * settings. A bad settings file is a bad option (status 2). */
static int apply_vm(struct spicegl_options *options, int argc, char **argv, GPtrArray *said,
                    GError **error)
{
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(options->gpu_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 &&
        listening) {
        g_ptr_array_add(said, g_strdup_printf("fd %d is a listening socket: no VM to find on it, "
                                              "no per-VM settings",
                                              options->gpu_fd));
        return 0;
    }
    struct spicegl_vm_identity vm = {0};
    int status = 0;
    if (!spicegl_vm_identity_listen(options->gpu_fd, error) ||
        !spicegl_vm_identity_init(&vm, options->gpu_fd, error))
        status = 1;
    else if (!spicegl_options_apply_vm(options, argc, argv, &vm, said, error))
        status = 2;
    spicegl_vm_identity_finish(&vm);
    return status;
}

int main(int argc, char **argv)
{
    static struct spicegl_log log; /* the log writer points to it until exit */
    spicegl_log_init(&log);
    struct spicegl_options options;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) said = g_ptr_array_new_with_free_func(g_free);
    int status = 2; /* a bad option */
    if (!spicegl_options_parse(&options, argc, argv, &error))
        goto out;
    if (options.print_version || options.print_capabilities) {
        fputs(options.print_version ? "spicegl-gpu " PACKAGE_VERSION "\n"
                                    : spicegl_options_capabilities(),
              stdout);
        status = 0;
        goto out;
    }
    if (options.gpu_fd >= 0 && (status = apply_vm(&options, argc, argv, said, &error)))
        goto out;
    status = 1;
    if (options.log_file && !spicegl_log_use_file(&log, options.log_file, &error))
        goto out;
    for (guint i = 0; i < said->len; i++)
        g_message("%s", (const char *)g_ptr_array_index(said, i));
    struct spicegl_daemon *daemon = spicegl_daemon_create(&options, &error);
    if (daemon && spicegl_daemon_run(daemon, &error))
        status = 0;
    spicegl_daemon_destroy(daemon);
out:
    if (error)
        spicegl_log_failure(&log, error->message);
    spicegl_options_finish(&options);
    spicegl_log_finish(&log);
    return status;
}
