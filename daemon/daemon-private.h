/* The daemon's state, shared by daemon.c (building, the frame and input
 * paths) and commands.c (the control socket's commands). Main context. */
#ifndef SPICEGL_DAEMON_PRIVATE_H
#define SPICEGL_DAEMON_PRIVATE_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "common/frame-source.h"
#include "control.h"
#include "options.h"

struct sgl_port;

/* A display stream's rates over the last second (commands.c samples). */
struct spicegl_rate {
    uint64_t encoded, bytes;
    int64_t at_us;
    double fps, kbps;
};

struct spicegl_usb_redir;

struct spicegl_daemon {
    const struct spicegl_options *options;
    GMainLoop *loop;
    GPtrArray *servers;   /* SpiceServer * */
    GPtrArray *remotes;   /* struct sgl_remote * */
    GPtrArray *locals;    /* struct sgl_local *, freed after the servers */
    GPtrArray *playbacks; /* struct sgl_playback *, freed after the servers */
    GPtrArray *records;   /* struct sgl_record *, freed after the servers */
    GPtrArray *inputs;    /* struct sgl_input *, freed after the servers */
    GPtrArray *pointers;  /* struct sgl_pointer *, freed after the servers */
    struct sgl_source *source;
    /* Remotes per server: one per output, remotes[server * outputs + k]
     * streams output k as the server's display k. */
    uint32_t outputs;
    struct qemu_control *qemu;        /* --qmp: input and display sizes to QEMU */
    struct qemu_audio *audio;         /* with qemu: the VM's sound, to playbacks and from records */
    struct qemu_chardev *agent_port;  /* with qemu: the guest agent's port */
    struct sgl_agent_mux *agent;      /* with qemu: it, shared by the servers' agent devices */
    struct qemu_chardev *webdav_port; /* with qemu: folder sharing's port */
    struct sgl_port *webdav;          /* it, on the first server */
    struct spicegl_usb_redir *usb_redir; /* with qemu and --usb-redir: on the first server */
    bool qemu_connected;

    /* --control */
    struct sgl_control *control;
    int64_t started_us;
    char *ticket;  /* the ticket in force (owned), NULL: none */
    GArray *rates; /* struct spicegl_rate, one per remote */
};

/* The control socket's handler (commands.c). */
void spicegl_daemon_execute(const struct sgl_control_request *request,
                            struct sgl_control_call *call, void *user);
/* Samples the streams' rates (commands.c); a GSourceFunc, every second. */
gboolean spicegl_daemon_sample_rates(gpointer user);

#endif
