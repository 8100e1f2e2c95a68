/* The local path: a QXL display in GL mode for clients on the unix socket
 * (spice_qxl_gl_scanout + spice_qxl_gl_draw_async). The client gets the
 * frame's buffer as an fd and reads it directly: nothing is copied or
 * encoded. Used when the frame source offers fd-backed frames (a dmabuf
 * from the GPU; a memfd in tests). spice-server 0.15.1 disconnects a display
 * channel that cannot take GL scanouts, so a server with this has no stream
 * path: plain unix clients need the stream path instead (--unix-gl off).
 *
 * One draw is in flight at a time: until its client has shown it,
 * sgl_local_busy() is true and the source must not reuse the buffer.
 * Create, submit and destroy on the server's main context; destroy after
 * spice_server_destroy(). */
#ifndef SGL_LOCAL_H
#define SGL_LOCAL_H

#include <stdbool.h>

#include <glib.h>
#include <spice.h>

#include "encoder/encoder.h"
#include "input.h"

struct sgl_local;

/* monitors: a client's resize request (spice-server routes it to the QXL
 * display in this mode); may be NULL. */
struct sgl_local *sgl_local_create(SpiceServer *server,
                                   void (*monitors)(const struct sgl_agent_monitor *m, uint32_t n,
                                                    void *user),
                                   void *user, GError **error);
void sgl_local_destroy(struct sgl_local *local);

/* A frame whose dmabuf.fd is set (the fd is dup'ed; the caller keeps its
 * own). False, doing nothing, while a draw is in flight or when the frame
 * has no fd. */
bool sgl_local_submit(struct sgl_local *local, const struct sgl_frame *frame);
bool sgl_local_busy(struct sgl_local *local);

struct sgl_local_stats {
    uint64_t scanouts, draws, done;
};
void sgl_local_get_stats(struct sgl_local *local, struct sgl_local_stats *stats);

#endif
