/* Finds (building or reusing from its cache) the test guest image through
 * tests/guest/build-guest. */
#ifndef SGL_GUEST_IMAGE_H
#define SGL_GUEST_IMAGE_H

#include <glib.h>

struct sgl_guest_image {
    char *kernel;
    char *initrd;
    char *key;
    char *kernel_version;
};

/* srcdir/builddir: the source and build trees (the builder script and the
 * guest GL program are found there); profile: "base" (the GL workloads) or
 * "desktop" (those and an X.Org desktop). Fills *image; free its fields with
 * sgl_guest_image_finish. */
gboolean sgl_guest_image_init(struct sgl_guest_image *image, const char *srcdir,
                              const char *builddir, const char *profile, GError **error);

void sgl_guest_image_finish(struct sgl_guest_image *image);

#endif
