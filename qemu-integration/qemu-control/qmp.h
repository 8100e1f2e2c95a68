/* A QMP connection to the VM's QEMU, used once to obtain its D-Bus display
 * (qemu-control.h). Commands are fire-and-forget: QMP runs them in order,
 * replies are read and dropped, refusals logged. Main context only. */
#ifndef QEMU_QMP_H
#define QEMU_QMP_H

#include <stdbool.h>

#include <glib.h>

struct qemu_qmp;

/* Connects and negotiates; NULL with an error when QEMU is not listening
 * there (yet: a socket is bound before it listens). */
struct qemu_qmp *qemu_qmp_connect(const char *path, GError **error);
void qemu_qmp_destroy(struct qemu_qmp *q);

/* command: one JSON object. fd >= 0 goes along (SCM_RIGHTS), for getfd;
 * it stays the caller's. False when it could not be sent. */
bool qemu_qmp_send(struct qemu_qmp *q, const char *command, int fd);

#endif
