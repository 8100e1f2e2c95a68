/* spicegl-ctl's side of the control socket: connect, read the daemon's
 * greeting, send one request line, read its reply line. */
#ifndef SPICEGL_CTL_CLIENT_H
#define SPICEGL_CTL_CLIENT_H

#include <glib.h>

/* The reply line, without its newline (g_free); NULL with error when the
 * daemon cannot be reached or closed the connection without a reply. */
char *spicegl_ctl_exchange(const char *path, const char *request, GError **error);

#endif
