/* spicegl-vm: runs a VM from your disk image with spicegl-gpu as its GPU
 * and SPICE server: parse, start both, follow them, tear down. */
#include "config.h"

#include <stdio.h>

#include "launcher.h"
#include "vm-options.h"

int main(int argc, char **argv)
{
    struct spicegl_vm_options options;
    g_autoptr(GError) error = NULL;
    if (!spicegl_vm_options_parse(&options, argc, argv, &error)) {
        fprintf(stderr, "spicegl-vm: %s (see --help)\n", error->message);
        return 2;
    }
    struct spicegl_vm_launcher *launcher = spicegl_vm_launcher_create(&options, argv[0], &error);
    if (!launcher) {
        fprintf(stderr, "spicegl-vm: %s\n", error->message);
        spicegl_vm_options_finish(&options);
        return 1;
    }
    int status = spicegl_vm_launcher_run(launcher);
    spicegl_vm_launcher_destroy(launcher);
    spicegl_vm_options_finish(&options);
    return status;
}
