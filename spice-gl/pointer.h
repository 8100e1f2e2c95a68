/* Client mouse mode for a server whose displays are streams.
 *
 * spice-server grants client mouse mode (the client sends absolute
 * positions and never grabs the pointer) only while a QXL display can
 * take them: one in GL mode with a scanout. With the stream displays
 * beside it, positions then reach the agent device as
 * VD_AGENT_MOUSE_STATE {x, y, buttons, display_id} (input.h), where
 * display_id is the stream display the pointer is over.
 *
 * This is that QXL display: GL mode, while enabled a 64x64 scanout of a
 * memfd, never drawn (disabled: a scanout without an fd, and clients are
 * back in server mouse mode). It takes the display id after the stream
 * displays'; monitor configs are left to the agent. A client that cannot
 * take GL scanouts (every remote one) has this display's channel closed by
 * spice-server: it shows nothing of it. Not for a unix socket's server,
 * whose GL-capable clients would show the scanout as a display.
 *
 * Create on the server's main context after the stream displays; destroy
 * after spice_server_destroy(). */
#ifndef SGL_POINTER_H
#define SGL_POINTER_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <spice.h>

struct sgl_pointer;

/* qxl_id: the display id after the stream displays (their count). Enable
 * it only when positions can reach the guest (an absolute pointing
 * device). */
struct sgl_pointer *sgl_pointer_create(SpiceServer *server, uint32_t qxl_id, bool enabled,
                                       GError **error);
void sgl_pointer_destroy(struct sgl_pointer *pointer);

/* Client mouse mode on or off, for clients connected and to come. */
void sgl_pointer_set_enabled(struct sgl_pointer *pointer, bool enabled);

#endif
