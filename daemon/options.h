/* spicegl-gpu's options: the table, the parse, and every check, producing
 * a validated struct spicegl_options. A bad option is refused here, at
 * start, with a message that says what to change; nothing later in the
 * daemon re-checks what this says is valid.
 *
 * Caller-allocated: spicegl_options_parse fills it, spicegl_options_finish
 * frees the strings it holds (also after a failed parse). */
#ifndef SPICEGL_OPTIONS_H
#define SPICEGL_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "daemon/vm-identity.h"
#include "encoder/encoder.h"
#include "spice-gl/server.h"

enum spicegl_source_kind {
    SPICEGL_SOURCE_GPU,       /* --socket-path or --fd: the VM's GPU */
    SPICEGL_SOURCE_SYNTHETIC, /* --synthetic: the built-in animated source */
};

/* usb-redir devices a daemon relays at most. */
#define SPICEGL_MAX_USB_REDIR 8

struct spicegl_options {
    bool print_capabilities; /* print the vhost-user capabilities and exit */
    bool print_version;      /* print the version and exit */

    enum spicegl_source_kind source;
    char *socket_path;      /* GPU: listen here, or */
    int gpu_fd;             /* GPU: -1, or an inherited socket */
    uint32_t width, height; /* the GPU's preferred mode, or the synthetic size */
    uint32_t fps;           /* most frames a second streamed */
    uint32_t scanouts;      /* displays (GPU outputs); 1 for the synthetic source */
    uint64_t gpu_memory_bytes;
    bool qemu_console;         /* feed QEMU's own console */
    char *record_dir;          /* NULL, or record the guest's requests there */
    bool synthetic_memfd;      /* synthetic frames in a memfd (the local GL path) */
    char *qmp;                 /* NULL, or QEMU's QMP socket (qemu-control.h) */
    char *dbus_address;        /* NULL, or the bus QEMU's D-Bus display is on; not with qmp */
    char *render_node;         /* NULL, or the DRM render node to render on (libvirt passes it) */
    char *agent_chardev;       /* id of the D-Bus chardev of the guest agent's port */
    char *webdav_chardev;      /* id of the D-Bus chardev of folder sharing's port */
    uint32_t usb_redir;        /* usb-redir devices relayed: D-Bus chardevs usbredir0.. */
    char **usb_redir_chardevs; /* NULL, or usb_redir ids of theirs from QEMU's command line */

    bool sandbox; /* no_new_privs and seccomp once started */
    char *user;   /* NULL, or drop to this user once started */

    struct sgl_server_options server; /* strings point into this struct */
    bool listen_tcp, listen_unix;
    bool local_gl;      /* unix clients get GL scanouts (the frames are dmabufs) */
    bool frames_in_fds; /* the source's frames are dmabufs */
    bool single_client; /* a new client replaces the connected one */
    bool audio_clock;   /* stream silence so clients' clocks follow audio */

    struct sgl_encoder_config encoder; /* strings point into this struct */

    uint32_t stats_interval_s; /* 0: no stats lines */
    char *control_path;        /* NULL, or serve the control socket here */
    char *vm_config_dir;       /* per-VM settings files (--fd): DIR/NAME.conf */
    char *log_file;            /* NULL, or append the log here (log.h) */

    /* owned strings the structs above point to */
    char *addr, *unix_path, *ticket, *tls_dir, *encoder_name, *preset;
};

/* Parses argv (not changed) and checks every option. False with error:
 * error->message is the whole message to print, and the exit status is 2. */
bool spicegl_options_parse(struct spicegl_options *options, int argc, char **argv, GError **error);
void spicegl_options_finish(struct spicegl_options *options);

/* The options for the VM QEMU runs (vm, found on --fd): argv again with
 * the settings of VM_CONFIG_DIR/NAME.conf, a key file whose [spicegl-gpu]
 * keys are long options (port=5901, ticket-file=..., insecure=true); the
 * file's settings come after argv's, so they win. And where QEMU serves
 * its D-Bus display, unless --qmp or --dbus-address says. A bad file is
 * refused as a bad option is, naming the file. What was found and applied
 * is added to said (strings, for the log). */
bool spicegl_options_apply_vm(struct spicegl_options *options, int argc, char **argv,
                              const struct spicegl_vm_identity *vm, GPtrArray *said,
                              GError **error);

/* What --print-capabilities prints (QEMU's vhost-user convention). */
const char *spicegl_options_capabilities(void);

#endif
