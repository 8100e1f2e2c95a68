/* Setting a GError from a printf-style message and failing in one step:
 * `return sgl_error_set(error, DOMAIN, CODE, "... %s", x);`. Any thread. */
#ifndef SGL_ERROR_H
#define SGL_ERROR_H

#include <glib.h>
#include <stdbool.h>

/* Sets *error (when error is not NULL) to a new error of this domain and
 * code with the formatted message; always returns false. */
bool sgl_error_set(GError **error, GQuark domain, gint code, const char *format, ...)
    G_GNUC_PRINTF(4, 5);

#endif
