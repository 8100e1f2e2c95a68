/* spice-server's core interface (timers, fd watches, channel events) on a
 * GLib main context. spice-server calls it from the thread that runs the
 * server's main loop; timers and watches attach to that thread's default
 * context (g_main_context_get_thread_default()), so several servers on
 * different threads each get their own. Channel events go to the table of
 * connected clients (clients.h). */
#ifndef SGL_SPICE_CORE_H
#define SGL_SPICE_CORE_H

#include <spice.h>

/* The interface to pass to spice_server_init. Static and immutable. */
const SpiceCoreInterface *sgl_spice_core_interface(void);

#endif
