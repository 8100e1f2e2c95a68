#include "config.h"

#include "vm-identity.h"

#include <dirent.h>
#include <errno.h>
#include <gio/gio.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

#define fail(error, ...) sgl_error_set(error, G_IO_ERROR, G_IO_ERROR_FAILED, __VA_ARGS__)

bool spicegl_vm_identity_listen(int fd, GError **error)
{
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
        return fail(error, "fd %d: cannot ask for the sender's credentials: %s", fd,
                    g_strerror(errno));
    return true;
}

/* QEMU's option syntax (QemuOpts): comma-separated key=value, ",," is a
 * comma, and a first element without '=' is the implied key's value. */
static char *opt_value(const char *arg, const char *implied, const char *key)
{
    g_autoptr(GString) item = g_string_new(NULL);
    bool first = true;
    for (const char *p = arg;; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(item, ',');
            p++;
            continue;
        }
        if (*p && *p != ',') {
            g_string_append_c(item, *p);
            continue;
        }
        const char *eq = strchr(item->str, '=');
        if (!eq && first && implied && g_str_equal(implied, key))
            return g_strdup(item->str);
        if (eq && (size_t)(eq - item->str) == strlen(key) &&
            strncmp(item->str, key, strlen(key)) == 0)
            return g_strdup(eq + 1);
        if (!*p)
            return NULL;
        first = false;
        g_string_truncate(item, 0);
    }
}

/* A D-Bus chardev (its id owned from here) of a port the daemon relays. */
static void take_dbus_chardev(struct spicegl_vm_identity *id, const char *port, char *chardev)
{
    char **dest = g_str_equal(port, "com.redhat.spice.0")         ? &id->agent_chardev
                  : g_str_equal(port, "org.spice-space.webdav.0") ? &id->webdav_chardev
                                                                  : NULL;
    if (dest) {
        g_free(*dest);
        *dest = chardev;
    } else if (chardev && g_str_equal(port, "org.qemu.usbredir")) {
        if (!id->usb_redir_chardevs)
            id->usb_redir_chardevs = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(id->usb_redir_chardevs, chardev);
    } else {
        g_free(chardev);
    }
}

void spicegl_vm_identity_parse_cmdline(struct spicegl_vm_identity *id, const char *cmdline,
                                       size_t len)
{
    const char *end = cmdline + len;
    for (const char *a = cmdline; a < end; a += strlen(a) + 1) {
        const char *next = a + strlen(a) + 1;
        if (next >= end)
            break;
        if (g_str_equal(a, "-name") || g_str_equal(a, "--name")) {
            g_free(id->name);
            id->name = opt_value(next, "guest", "guest");
        } else if (g_str_equal(a, "-display") || g_str_equal(a, "--display")) {
            g_autofree char *type = opt_value(next, "type", "type");
            if (type && g_str_equal(type, "dbus")) {
                g_free(id->display_address);
                id->display_address = opt_value(next, "type", "addr");
            }
        } else if (g_str_equal(a, "-chardev") || g_str_equal(a, "--chardev")) {
            g_autofree char *backend = opt_value(next, "backend", "backend");
            g_autofree char *port = opt_value(next, "backend", "name");
            if (backend && g_str_equal(backend, "dbus") && port)
                take_dbus_chardev(id, port, opt_value(next, "backend", "id"));
        }
    }
}

/* Fills id's name and display from the command line of process id->pid. */
static bool read_cmdline(struct spicegl_vm_identity *id, GError **error)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)id->pid);
    g_autofree char *cmdline = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &cmdline, &len, error))
        return false;
    spicegl_vm_identity_parse_cmdline(id, cmdline, len);
    return true;
}

/* The sender of the first queued message, which stays queued. */
static bool first_sender(int fd, pid_t *pid, GError **error)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, -1);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return fail(error, "fd %d: %s", fd, g_strerror(errno));
    char byte;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof(control.buf)};
    ssize_t r;
    do
        r = recvmsg(fd, &m, MSG_PEEK | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return fail(error, "fd %d: %s", fd, g_strerror(errno));
    if (r == 0)
        return fail(error, "QEMU closed the GPU socket (fd %d) before its first message", fd);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS)
            continue;
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof(cred));
        if (cred.pid > 0) {
            *pid = cred.pid;
            return true;
        }
    }
    *pid = 0; /* sent before _listen: no sender */
    return true;
}

/* The inode of the other end of the unix socket fd (sock_diag), or 0. */
static ino_t peer_inode(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return 0;
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return 0;
    struct {
        struct nlmsghdr h;
        struct unix_diag_req r;
    } q = {.h = {.nlmsg_len = sizeof(q),
                 .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                 .nlmsg_flags = NLM_F_REQUEST},
           .r = {.sdiag_family = AF_UNIX,
                 .udiag_states = ~0u,
                 .udiag_ino = (uint32_t)st.st_ino,
                 .udiag_show = UDIAG_SHOW_PEER,
                 .udiag_cookie = {~0u, ~0u}}}; /* no cookie: look up by inode */
    union {
        struct nlmsghdr align;
        char buf[8192];
    } a;
    ino_t peer = 0;
    ssize_t n = -1;
    if (send(nl, &q, sizeof(q), 0) == (ssize_t)sizeof(q))
        n = recv(nl, a.buf, sizeof(a.buf), 0);
    for (struct nlmsghdr *h = &a.align; n > 0 && NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
            h->nlmsg_len < NLMSG_LENGTH(sizeof(struct unix_diag_msg)))
            break;
        struct unix_diag_msg *m = NLMSG_DATA(h);
        int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
        for (struct rtattr *at = (struct rtattr *)(m + 1); RTA_OK(at, len); at = RTA_NEXT(at, len))
            if (at->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(at) >= sizeof(uint32_t))
                peer = *(uint32_t *)RTA_DATA(at);
        break;
    }
    close(nl);
    return peer;
}

/* Whether process pid holds the socket with inode ino. */
static bool holds_socket(const char *pid, ino_t ino)
{
    g_autofree char *dir = g_strdup_printf("/proc/%s/fd", pid);
    g_autofree char *want = g_strdup_printf("socket:[%lu]", (unsigned long)ino);
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        char link[64];
        g_autofree char *path = g_strdup_printf("%s/%s", dir, e->d_name);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        found = n > 0 && (link[n] = 0, g_str_equal(link, want));
    }
    closedir(d);
    return found;
}

/* When the first message came without a sender: the process holding the
 * other end; where several do (libvirtd may, while it starts QEMU), the one
 * that runs as QEMU does (a -name or a -display). 0 if none or unclear. */
static pid_t peer_process(int fd)
{
    ino_t peer = peer_inode(fd);
    DIR *proc = peer ? opendir("/proc") : NULL;
    if (!proc)
        return 0;
    pid_t any = 0, qemu = 0;
    int holders = 0, qemus = 0;
    for (struct dirent *e; (e = readdir(proc));) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid == getpid() || !holds_socket(e->d_name, peer))
            continue;
        any = (pid_t)pid;
        holders++;
        struct spicegl_vm_identity id = {.pid = (pid_t)pid};
        if (read_cmdline(&id, NULL) && (id.name || id.display_address)) {
            qemu = (pid_t)pid;
            qemus++;
        }
        spicegl_vm_identity_finish(&id);
    }
    closedir(proc);
    return holders == 1 ? any : qemus == 1 ? qemu : 0;
}

bool spicegl_vm_identity_init(struct spicegl_vm_identity *id, int fd, GError **error)
{
    *id = (struct spicegl_vm_identity){0};
    bool ok = first_sender(fd, &id->pid, error);
    int off = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &off, sizeof(off)) < 0 && ok)
        ok = fail(error, "fd %d: %s", fd, g_strerror(errno));
    if (!ok)
        return false;
    if (!id->pid)
        id->pid = peer_process(fd);
    if (!id->pid)
        return fail(error,
                    "cannot tell which VM the GPU socket (fd %d) serves: QEMU's first message "
                    "carries no sender, and no one QEMU process holds the other end",
                    fd);
    g_autoptr(GError) e = NULL;
    if (!read_cmdline(id, &e))
        return fail(error, "QEMU (pid %d) on fd %d: %s", (int)id->pid, fd, e->message);
    return true;
}

void spicegl_vm_identity_finish(struct spicegl_vm_identity *id)
{
    g_free(id->name);
    g_free(id->display_address);
    g_free(id->agent_chardev);
    g_free(id->webdav_chardev);
    if (id->usb_redir_chardevs)
        g_ptr_array_unref(id->usb_redir_chardevs);
    *id = (struct spicegl_vm_identity){0};
}
