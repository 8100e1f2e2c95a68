/* Client mouse mode for a server whose displays are streams.
 *
 * In client mouse mode a client sends absolute positions and never grabs
 * the pointer. spice-server 0.15 grants it with stream displays only
 * through the agent: its agent-mouse setting on, an agent device attached
 * (input.h: positions then arrive there as VD_AGENT_MOUSE_STATE {x, y,
 * buttons, display_id}, display_id being the stream display the pointer is
 * over), and a flag that only a QXL display sets, when it has a GL
 * scanout.
 *
 * A QXL display that clients could connect to is not safe: spice-server
 * 0.15.1's display worker reads a freed client when one disconnects while
 * its display channel starts, which rapid reconnects make happen within a
 * few cycles. So creation sets the flag with a QXL display that lives only
 * for that: added, given one GL scanout of a 64x64 memfd, and removed again
 * (its worker joined) before the server has run its main loop once, so no
 * client ever sees it. The flag stays. From then on the agent-mouse setting
 * turns client mouse mode on and off.
 *
 * Create on the server's main context after the stream displays and before
 * the main loop first runs; destroy after spice_server_destroy(). */
#ifndef SGL_POINTER_H
#define SGL_POINTER_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <spice.h>

struct sgl_pointer;

/* qxl_id: a display id no stream display takes (their count). Enable it
 * only when positions can reach the guest (an absolute pointing device). */
struct sgl_pointer *sgl_pointer_create(SpiceServer *server, uint32_t qxl_id, bool enabled,
                                       GError **error);
void sgl_pointer_destroy(struct sgl_pointer *pointer);

/* Client mouse mode on or off, for clients connected and to come. */
void sgl_pointer_set_enabled(struct sgl_pointer *pointer, bool enabled);

#endif
