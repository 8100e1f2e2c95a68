/* A QMP client for tests: connects to QEMU's QMP unix socket, negotiates,
 * runs one command and returns QEMU's answer. Blocking, short-lived. */
#ifndef SGL_QMP_H
#define SGL_QMP_H

#include <glib.h>

/* command: a JSON object such as {"execute":"system_reset"}. Returns the
 * reply line (caller frees) or NULL with an error; an {"error":...} reply
 * is an error too. */
char *sgl_qmp_run(const char *socket_path, const char *command, GError **error);

#endif
