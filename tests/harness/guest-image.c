#include "config.h"

#include "guest-image.h"

#include <gio/gio.h>
#include <string.h>

void sgl_guest_image_finish(struct sgl_guest_image *image)
{
    g_clear_pointer(&image->kernel, g_free);
    g_clear_pointer(&image->initrd, g_free);
    g_clear_pointer(&image->key, g_free);
    g_clear_pointer(&image->kernel_version, g_free);
}

gboolean sgl_guest_image_init(struct sgl_guest_image *image, const char *srcdir,
                              const char *builddir, const char *profile, GError **error)
{
    memset(image, 0, sizeof(*image));
    g_autofree char *script = g_build_filename(srcdir, "tests", "guest", "build-guest", NULL);
    g_autofree char *program = g_build_filename(builddir, "tests", "guest", "sgl-guest-gl", NULL);
    g_autofree char *out = NULL, *err = NULL;
    int status = 0;
    const char *argv[] = {script, "--gl-program", program, "--profile", profile, "--quiet", NULL};
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                      error))
        return FALSE;
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s failed: %s", script,
                    err && *err ? g_strstrip(err) : "no message");
        return FALSE;
    }
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    for (char **l = lines; *l; l++) {
        char *eq = strchr(*l, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char **slot = g_str_equal(*l, "kernel")           ? &image->kernel
                      : g_str_equal(*l, "initrd")         ? &image->initrd
                      : g_str_equal(*l, "key")            ? &image->key
                      : g_str_equal(*l, "kernel_version") ? &image->kernel_version
                                                          : NULL;
        if (slot) {
            g_free(*slot);
            *slot = g_strdup(eq + 1);
        }
    }
    if (!image->kernel || !image->initrd || !g_file_test(image->kernel, G_FILE_TEST_EXISTS) ||
        !g_file_test(image->initrd, G_FILE_TEST_EXISTS)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s gave no kernel/initrd", script);
        sgl_guest_image_finish(image);
        return FALSE;
    }
    return TRUE;
}
