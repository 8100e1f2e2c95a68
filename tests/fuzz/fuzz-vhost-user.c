/* libFuzzer: vhost-user messages as QEMU would send them (no fds), on one
 * connection that lives across inputs until a message breaks it. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qemu-integration/vhost-user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void get_config(void *user, uint32_t offset, uint8_t *buf, uint32_t size)
{
    memset(buf, 0x5a, size);
}

static const struct vu_iface iface = {
    .features = 1,
    .num_queues = 2,
    .config_size = 16,
    .get_config = get_config,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A connection per input: the fuzzer's inputs stay independent. */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    GMainContext *context = g_main_context_new();
    struct vu_dev *dev = vu_dev_create(sv[0], context, &iface, NULL);
    /* Messages back to back: a header, then its payload. */
    while (size >= sizeof(struct vu_msg_header)) {
        struct vu_msg_header h;
        memcpy(&h, data, sizeof(h));
        data += sizeof(h);
        size -= sizeof(h);
        uint32_t n = h.size <= size ? h.size : (uint32_t)size;
        h.size = n;
        const char *why;
        bool ok = vu_dev_handle(dev, &h, data, NULL, 0, &why);
        data += n;
        size -= n;
        /* Replies go to the peer; drop them so it never fills. */
        char buf[4096];
        while (recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
            ;
        if (!ok)
            break;
    }
    vu_dev_destroy(dev);
    g_main_context_unref(context);
    close(sv[1]);
    return 0;
}
