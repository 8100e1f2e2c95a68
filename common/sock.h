/* Writing whole messages to the unix sockets QEMU reads (vhost-user, its
 * display socket, QMP): short writes resumed, EINTR retried, SIGPIPE never
 * raised, and an fd passed along with the first bytes when asked. */
#ifndef SGL_SOCK_H
#define SGL_SOCK_H

#include <stdbool.h>
#include <sys/uio.h>

/* Sends every byte of iov[0..n) (which it consumes); pass_fd >= 0 goes
 * with them as SCM_RIGHTS. False when the socket fails. */
bool sgl_sock_send(int fd, struct iovec *iov, int n, int pass_fd);

#endif
