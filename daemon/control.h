/* The control socket (--control PATH): a unix stream socket, mode 0600,
 * on which operators' tools send one JSON request a line and read one
 * reply a line (control-protocol.h, docs/control.md).
 *
 * Each connection is served in order: the next request is read once the
 * reply to the one before is written, so a client that does not read
 * holds only its own reply. A line over SGL_CONTROL_MAX_LINE, or a client
 * of another user, is answered with an error and disconnected; at most
 * SGL_CONTROL_MAX_CLIENTS connections are served at once.
 *
 * Create (before the sandbox: it binds), run and destroy on the main
 * context; the handler runs there too. */
#ifndef SGL_CONTROL_H
#define SGL_CONTROL_H

#include <glib.h>

#include "control-protocol.h"

#define SGL_CONTROL_MAX_CLIENTS 8
/* After its last reply, a client's unread input is discarded, this much
 * at most, before the connection closes. */
#define SGL_CONTROL_MAX_DRAIN (1u << 20)

/* One request being answered. The handler finishes it exactly once, at
 * once or later (from the main context): the reply goes to the client,
 * or nowhere if the client has gone meanwhile. */
struct sgl_control_call;
void sgl_control_call_return(struct sgl_control_call *call, JsonObject *ret); /* takes ret */
void sgl_control_call_fail(struct sgl_control_call *call, const GError *error);

struct sgl_control_handler {
    /* Carries out a valid request (which lives only during the call). */
    void (*execute)(const struct sgl_control_request *request, struct sgl_control_call *call,
                    void *user);
};

/* Binds and listens on path: a stale socket there (no one listening) is
 * replaced; a live one is an error that names the process holding it. */
struct sgl_control *sgl_control_create(const char *path, const struct sgl_control_handler *handler,
                                       void *user, GError **error);

/* Closes every connection and removes the socket. Accepts NULL. */
void sgl_control_destroy(struct sgl_control *control);

#endif
