/* A QMP connection to the VM's QEMU, for the daemon's side channels
 * (input, display size). Commands are fire-and-forget: QMP runs them in
 * order, replies are read and dropped, refusals logged. Connects on first
 * use and again after QEMU went away (at most once a second); what cannot
 * be sent is dropped, since input and sizes are live. Main context only. */
#ifndef QEMU_QMP_H
#define QEMU_QMP_H

#include <stdbool.h>

struct qemu_qmp;

/* Does not connect yet. */
struct qemu_qmp *qemu_qmp_create(const char *path);
void qemu_qmp_destroy(struct qemu_qmp *q);

/* command: one JSON object. fd >= 0 goes along (SCM_RIGHTS), for getfd;
 * it stays the caller's. False when it could not be sent. */
bool qemu_qmp_send(struct qemu_qmp *q, const char *command, int fd);

#endif
