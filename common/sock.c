#include "config.h"

#include "sock.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

bool sgl_sock_send(int fd, struct iovec *iov, int n, const int *fds, size_t n_fds)
{
    if (n_fds > SGL_SOCK_MAX_FDS)
        return false;
    bool fd_sent = n_fds == 0;
    for (;;) {
        while (n > 0 && iov->iov_len == 0) {
            iov++;
            n--;
        }
        if (n == 0)
            return fd_sent;
        union {
            char buf[CMSG_SPACE(SGL_SOCK_MAX_FDS * sizeof(int))];
            struct cmsghdr align;
        } control;
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        if (!fd_sent) {
            m.msg_control = control.buf;
            m.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
            struct cmsghdr *c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
            memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
        }
        ssize_t sent = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            return false;
        fd_sent = true;
        for (size_t left = (size_t)sent; left > 0;) {
            size_t k = left < iov->iov_len ? left : iov->iov_len;
            iov->iov_base = (uint8_t *)iov->iov_base + k;
            iov->iov_len -= k;
            left -= k;
            if (iov->iov_len == 0 && left > 0) {
                iov++;
                n--;
            }
        }
    }
}
