/* Writing whole messages to unix sockets (vhost-user, QEMU's display
 * socket, QMP, and the tests that play QEMU): short writes resumed, EINTR
 * retried, SIGPIPE never raised, and fds passed along with the first bytes
 * when asked. */
#ifndef SGL_SOCK_H
#define SGL_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#define SGL_SOCK_MAX_FDS 8

/* Sends every byte of iov[0..n) (which it consumes); fds[0..n_fds) go with
 * them as SCM_RIGHTS (the caller keeps its own). False when the socket
 * fails, or would block if it is non-blocking, or n_fds is over
 * SGL_SOCK_MAX_FDS. */
bool sgl_sock_send(int fd, struct iovec *iov, int n, const int *fds, size_t n_fds);

#endif
