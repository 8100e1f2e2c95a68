#include "config.h"

#include "common/error.h"

bool sgl_error_set(GError **error, GQuark domain, gint code, const char *format, ...)
{
    if (!error)
        return false;
    va_list ap;
    va_start(ap, format);
    GError *e = g_error_new_valist(domain, code, format, ap);
    va_end(ap);
    g_propagate_error(error, e);
    return false;
}
