/* spicegl-gpu: the per-VM daemon, both the VM's GPU (a vhost-user-gpu
 * backend for QEMU) and its SPICE server. Parses and checks the options,
 * builds the daemon, runs it, tears it down. */
#include "config.h"

#include <stdio.h>

#include "daemon.h"
#include "options.h"

int main(int argc, char **argv)
{
    struct spicegl_options options;
    g_autoptr(GError) error = NULL;
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
    status = 1;
    struct spicegl_daemon *daemon = spicegl_daemon_create(&options, &error);
    if (daemon && spicegl_daemon_run(daemon, &error))
        status = 0;
    spicegl_daemon_destroy(daemon);
out:
    if (error)
        fprintf(stderr, "spicegl-gpu: %s\n", error->message);
    spicegl_options_finish(&options);
    return status;
}
