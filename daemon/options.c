#include "config.h"

#include "options.h"

#include <gio/gio.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "qemu-integration/virtio-gpu/vgpu.h"
#include "synthetic.h"

/* What g_option_context_parse writes into. */
struct raw {
    char *synthetic, *size, *qemu_console, *sandbox, *unix_gl, *ticket_file;
    gint gpu_fd, gpu_fps, gpu_memory_mb, scanouts, port, tls_port, ticket_lifetime, bitrate,
        stats_interval, refine_after, refine_qp, usb_redir;
    gboolean print_capabilities, print_version, insecure, no_tcp, single_client, synthetic_memfd,
        audio_clock, virgl;
};

/* A bad option: sets *error, returns false. */
#define bad(error, ...) sgl_error_set(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, __VA_ARGS__)

static bool on_off(const char *value, const char *name, bool *out, GError **error)
{
    if (value && !g_str_equal(value, "on") && !g_str_equal(value, "off"))
        return bad(error, "--%s is on or off (got '%s')", name, value);
    *out = !(value && g_str_equal(value, "off"));
    return true;
}

/* The option table, writing into o and r; g_free it. */
static GOptionEntry *option_entries(struct spicegl_options *o, struct raw *r)
{
    const GOptionEntry entries[] = {
        {"socket-path", 0, 0, G_OPTION_ARG_FILENAME, &o->socket_path,
         "Be the VM's GPU: listen here for QEMU's vhost-user-gpu connection", "PATH"},
        {"fd", 0, 0, G_OPTION_ARG_INT, &r->gpu_fd,
         "Be the VM's GPU on this inherited socket (listening or connected)", "FD"},
        {"print-capabilities", 0, 0, G_OPTION_ARG_NONE, &r->print_capabilities,
         "Print the backend's capabilities as JSON (vhost-user convention) and exit", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &r->print_version, "Print the version and exit", NULL},
        {"render-node", 0, 0, G_OPTION_ARG_FILENAME, &o->render_node,
         "Render on this DRM render node (default /dev/dri/renderD128 when present); one that "
         "cannot be used falls back to llvmpipe, as does a host without one",
         "PATH"},
        {"virgl", 0, 0, G_OPTION_ARG_NONE, &r->virgl,
         "Offer 3D (virgl) to the guest: always on, accepted for libvirt", NULL},
        {"size", 0, 0, G_OPTION_ARG_STRING, &r->size,
         "The GPU's preferred mode (default 1280x800); clients may ask for others", "WxH"},
        {"scanouts", 0, 0, G_OPTION_ARG_INT, &r->scanouts,
         "The GPU's outputs, each a SPICE display (default 2; QEMU: max_outputs)", "N"},
        {"fps", 0, 0, G_OPTION_ARG_INT, &r->gpu_fps,
         "Most frames a second streamed from the GPU (default 60)", "N"},
        {"gpu-memory-mb", 0, 0, G_OPTION_ARG_INT, &r->gpu_memory_mb,
         "Host memory the guest may make the GPU hold (default 1024)", "MB"},
        {"qmp", 0, 0, G_OPTION_ARG_FILENAME, &o->qmp,
         "QEMU's QMP socket (-qmp unix:PATH,server=on,wait=off), used once QEMU is up to "
         "attach to its D-Bus display (-display dbus,p2p=yes; QEMU 7.2+), then closed: "
         "clients' keyboard, mouse and monitor sizes reach the guest through that display",
         "PATH"},
        {"dbus-address", 0, 0, G_OPTION_ARG_STRING, &o->dbus_address,
         "Or: QEMU's D-Bus display is on this message bus (-display dbus,addr=ADDRESS; "
         "libvirt's <graphics type='dbus'/>), e.g. unix:path=/run/vm1/bus.sock; no QMP is used",
         "ADDRESS"},
        {"usb-redir", 0, 0, G_OPTION_ARG_INT, &r->usb_redir,
         "USB devices clients can redirect at once (default 0, at most " G_STRINGIFY(
             SPICEGL_MAX_USB_REDIR) "): QEMU needs -device qemu-xhci and, for each, "
                                    "-chardev dbus,id=usbredirK,name=org.qemu.usbredir and -device "
                                    "usb-redir,chardev=usbredirK (K from 0); under libvirt, "
                                    "the VM's own (<redirdev bus='usb' type='dbus'/>)",
         "N"},
        {"agent-chardev", 0, 0, G_OPTION_ARG_STRING, &o->agent_chardev,
         "The id of QEMU's D-Bus chardev for the guest agent's port (-chardev "
         "dbus,id=ID,name=com.redhat.spice.0; default vdagent, or what QEMU's command line "
         "says under libvirt)",
         "ID"},
        {"qemu-console", 0, 0, G_OPTION_ARG_STRING, &r->qemu_console,
         "Also feed QEMU's own console (its display, screendump): on (default) or off", "on|off"},
        {"sandbox", 0, 0, G_OPTION_ARG_STRING, &r->sandbox,
         "Once started, confine the daemon with no_new_privs and a seccomp filter: on "
         "(default) or off",
         "on|off"},
        {"user", 0, 0, G_OPTION_ARG_STRING, &o->user,
         "Once started (sockets open), run as this unprivileged user (needs root)", "NAME"},
        {"record-commands", 0, 0, G_OPTION_ARG_FILENAME, &o->record_dir,
         "Record the guest's GPU requests in DIR as fuzzing seeds (needs --sandbox off)", "DIR"},
        {"synthetic", 0, 0, G_OPTION_ARG_STRING, &r->synthetic,
         "Built-in animated source, e.g. 1280x720@30", "WxH@FPS"},
        {"synthetic-memfd", 0, 0, G_OPTION_ARG_NONE, &r->synthetic_memfd,
         "Synthetic frames in a memfd, standing in for a GPU's dmabuf (tests the local path)",
         NULL},
        {"addr", 0, 0, G_OPTION_ARG_STRING, &o->addr, "TCP address (default 127.0.0.1)", "ADDR"},
        {"port", 0, 0, G_OPTION_ARG_INT, &r->port, "TCP port (default 5900)", "PORT"},
        {"no-tcp", 0, 0, G_OPTION_ARG_NONE, &r->no_tcp, "Do not listen on TCP", NULL},
        {"unix", 0, 0, G_OPTION_ARG_FILENAME, &o->unix_path, "Also listen on this unix socket",
         "PATH"},
        {"unix-gl", 0, 0, G_OPTION_ARG_STRING, &r->unix_gl,
         "Unix socket clients get GL scanouts (zero copy; GL-capable clients only): auto "
         "(default: when the frames are dmabufs), on, off (the H.264 stream)",
         "auto|on|off"},
        {"ticket", 0, 0, G_OPTION_ARG_STRING, &o->ticket,
         "SPICE password (visible in ps: prefer --ticket-file)", "TEXT"},
        {"ticket-file", 0, 0, G_OPTION_ARG_FILENAME, &r->ticket_file,
         "Read the SPICE password from a file", "FILE"},
        {"ticket-lifetime", 0, 0, G_OPTION_ARG_INT, &r->ticket_lifetime,
         "Seconds the ticket stays valid (0: no expiry)", "S"},
        {"tls-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->tls_dir,
         "x509 directory: ca-cert.pem, server-cert.pem, server-key.pem", "DIR"},
        {"tls-port", 0, 0, G_OPTION_ARG_INT, &r->tls_port, "TLS port", "PORT"},
        {"insecure", 0, 0, G_OPTION_ARG_NONE, &r->insecure,
         "Allow a non-loopback address without a ticket (any client gets the VM)", NULL},
        {"single-client", 0, 0, G_OPTION_ARG_NONE, &r->single_client,
         "A new client replaces the connected one (spice-server's default)", NULL},
        {"audio-clock", 0, 0, G_OPTION_ARG_NONE, &r->audio_clock,
         "Stream silence so clients' media clocks follow their audio output: ~120 ms instead of "
         "~385 ms through remote-viewer's appsink (Wayland), ~160 instead of ~22 through its X11 "
         "overlay",
         NULL},
        {"encoder", 0, 0, G_OPTION_ARG_STRING, &o->encoder_name,
         "auto (default), x264, gst or gst:<element>", "NAME"},
        {"bitrate", 0, 0, G_OPTION_ARG_INT, &r->bitrate, "Target bitrate in kbit/s (default 8000)",
         "KBPS"},
        {"preset", 0, 0, G_OPTION_ARG_STRING, &o->preset, "x264 preset (default ultrafast)",
         "NAME"},
        {"refine-after", 0, 0, G_OPTION_ARG_INT, &r->refine_after,
         "A picture unchanged this long is sent again near lossless, within the stream's "
         "bitrate (x264; default 500, 0: never)",
         "MS"},
        {"refine-qp", 0, 0, G_OPTION_ARG_INT, &r->refine_qp,
         "The quantizer that refining aims at: lower is sharper and costs more (default 16)",
         "1..51"},
        {"stats-interval", 0, 0, G_OPTION_ARG_INT, &r->stats_interval,
         "Seconds between stats lines (0: none)", "S"},
        {"control", 0, 0, G_OPTION_ARG_FILENAME, &o->control_path,
         "Serve the control socket here (mode 0600): tickets, clients, stats, screenshots; "
         "see spicegl-ctl",
         "PATH"},
        {"log-file", 0, 0, G_OPTION_ARG_FILENAME, &o->log_file,
         "Append the log to FILE (default: stderr; the journal or syslog when stderr is "
         "/dev/null, as under libvirt)",
         "FILE"},
        {"vm-config-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->vm_config_dir,
         "With --fd: per-VM settings are in DIR/NAME.conf, NAME the VM's (QEMU's -name; "
         "default " SPICEGL_VM_CONFIG_DIR ")",
         "DIR"},
        {NULL},
    };
    return g_memdup2(entries, sizeof(entries));
}

static bool parse_table(struct spicegl_options *o, struct raw *r, int argc, char **argv,
                        GError **error)
{
    g_autofree GOptionEntry *entries = option_entries(o, r);
    g_autoptr(GOptionContext) ctx = g_option_context_new("- spicegl: a VM's GPU and SPICE display");
    g_option_context_add_main_entries(ctx, entries, NULL);
    /* GOption removes what it parsed: give it a copy of the vector. */
    g_autofree char **args = g_new0(char *, argc + 1);
    for (int i = 0; i < argc; i++)
        args[i] = argv[i];
    int n = argc;
    char **v = args;
    g_autoptr(GError) e = NULL;
    if (!g_option_context_parse(ctx, &n, &v, &e))
        return bad(error, "%s (see --help)", e->message);
    if (n > 1)
        return bad(error, "unexpected argument '%s' (see --help)", v[1]);
    return true;
}

/* QEMU exports the chardev at /org/qemu/Display1/Chardev_ID: the id is
 * part of an object path. */
static bool chardev_id_ok(const char *id)
{
    if (!*id || strlen(id) > 64)
        return false;
    for (const char *c = id; *c; c++)
        if (!g_ascii_isalnum(*c) && *c != '_')
            return false;
    return true;
}

/* A port's chardev id from QEMU's command line (NULL: none) into *dest,
 * unless the options gave one, or what the port lacks into said. */
static void take_chardev(char **dest, const char *id, const char *vm_name, const char *what,
                         GPtrArray *said)
{
    if (!id || *dest)
        return;
    if (chardev_id_ok(id)) {
        *dest = g_strdup(id);
        return;
    }
    g_ptr_array_add(said, g_strdup_printf("VM '%s': the chardev '%s' of %s cannot be reached on "
                                          "D-Bus (its id is part of an object path: letters, "
                                          "digits and '_'); %s stays off",
                                          vm_name ? vm_name : "?", id, what, what));
}

/* The usb-redir devices on QEMU's command line (libvirt's <redirdev
 * type='dbus'>, chardevs charredirK), in place of --usb-redir's own ids;
 * what they lack into said. */
static void take_usb_redir(struct spicegl_options *o, const GPtrArray *ids, const char *vm_name,
                           GPtrArray *said)
{
    if (!ids || !ids->len)
        return;
    const char *vm = vm_name ? vm_name : "?";
    g_autoptr(GPtrArray) taken = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < ids->len; i++) {
        const char *id = g_ptr_array_index(ids, i);
        if (!chardev_id_ok(id))
            g_ptr_array_add(said, g_strdup_printf("VM '%s': the chardev '%s' of a usb-redir device "
                                                  "cannot be reached on D-Bus (its id is part of "
                                                  "an object path: letters, digits and '_'); that "
                                                  "device stays off",
                                                  vm, id));
        else if (taken->len == SPICEGL_MAX_USB_REDIR)
            g_ptr_array_add(said, g_strdup_printf("VM '%s': usb-redir device on chardev '%s' "
                                                  "stays off: at most %d are relayed",
                                                  vm, id, SPICEGL_MAX_USB_REDIR));
        else
            g_ptr_array_add(taken, g_strdup(id));
    }
    if (o->usb_redir && o->usb_redir != taken->len)
        g_ptr_array_add(said, g_strdup_printf("VM '%s': usb-redir=%u gives way to the VM's own "
                                              "%u usb-redir device(s) on QEMU's command line",
                                              vm, o->usb_redir, taken->len));
    o->usb_redir = taken->len;
    g_ptr_array_add(taken, NULL);
    g_strfreev(o->usb_redir_chardevs);
    o->usb_redir_chardevs = (char **)g_ptr_array_free(g_steal_pointer(&taken), FALSE);
    if (o->usb_redir)
        g_ptr_array_add(said, g_strdup_printf("VM '%s': USB redirection on %u usb-redir "
                                              "device(s) (QEMU's command line)",
                                              vm, o->usb_redir));
}

/* The frame source and the GPU's settings. */
static bool check_source(struct spicegl_options *o, struct raw *r, GError **error)
{
    bool gpu = o->socket_path || r->gpu_fd >= 0;
    if ((o->socket_path && r->gpu_fd >= 0) || (gpu && r->synthetic))
        return bad(error, "give one frame source: --socket-path, --fd or --synthetic");
    if (!gpu && !r->synthetic)
        return bad(error, "no frame source: give --socket-path PATH (QEMU's vhost-user-gpu "
                          "chardev) or --synthetic WxH@FPS");
    if (!gpu && o->render_node)
        return bad(error, "--render-node is for the VM's GPU (--socket-path or --fd)");
    if (o->qmp && o->dbus_address)
        return bad(error, "--qmp and --dbus-address both say where QEMU's display is: give one "
                          "(--dbus-address when QEMU serves it on a message bus, as under "
                          "libvirt's <graphics type='dbus'/>)");
    if (o->dbus_address && !g_dbus_is_address(o->dbus_address))
        return bad(error,
                   "--dbus-address wants a D-Bus address such as unix:path=/run/vm1/bus.sock "
                   "(got '%s')",
                   o->dbus_address);
    if (o->agent_chardev && !chardev_id_ok(o->agent_chardev))
        return bad(error,
                   "--agent-chardev wants the chardev's id: letters, digits and '_' (got "
                   "'%s')",
                   o->agent_chardev);
    if (r->usb_redir < 0 || r->usb_redir > SPICEGL_MAX_USB_REDIR)
        return bad(error, "--usb-redir is 0..%d (got %d)", SPICEGL_MAX_USB_REDIR, r->usb_redir);
    if (r->usb_redir && !o->qmp && !o->dbus_address)
        return bad(error, "--usb-redir relays QEMU's usb-redir devices through its D-Bus "
                          "display: give --qmp or --dbus-address too");
    o->usb_redir = (uint32_t)r->usb_redir;
    o->source = gpu ? SPICEGL_SOURCE_GPU : SPICEGL_SOURCE_SYNTHETIC;
    o->gpu_fd = r->gpu_fd;
    o->fps = (uint32_t)r->gpu_fps;
    if (r->synthetic && !sgl_synthetic_parse(r->synthetic, &o->width, &o->height, &o->fps, error))
        return false;
    char tail;
    if (r->size && (sscanf(r->size, "%ux%u%c", &o->width, &o->height, &tail) != 2 ||
                    o->width < 16 || o->height < 16 || o->width > 16384 || o->height > 16384))
        return bad(error, "--size wants WIDTHxHEIGHT, 16..16384 (got '%s')", r->size);
    if (gpu && (r->gpu_fps < 1 || r->gpu_fps > 240 || r->gpu_memory_mb < 64 ||
                r->gpu_memory_mb > 65536 || r->scanouts < 1 || r->scanouts > VGPU_MAX_SCANOUTS))
        return bad(error, "--fps is 1..240, --gpu-memory-mb 64..65536 and --scanouts 1..%d",
                   VGPU_MAX_SCANOUTS);
    o->scanouts = gpu ? (uint32_t)r->scanouts : 1;
    o->gpu_memory_bytes = (uint64_t)r->gpu_memory_mb << 20;
    o->synthetic_memfd = r->synthetic_memfd;
    return on_off(r->qemu_console, "qemu-console", &o->qemu_console, error);
}

/* Confinement. */
static bool check_sandbox(struct spicegl_options *o, struct raw *r, GError **error)
{
    if (!on_off(r->sandbox, "sandbox", &o->sandbox, error))
        return false;
    if (o->record_dir && o->sandbox)
        return bad(error, "--record-commands writes files while the guest runs, which the "
                          "sandbox forbids: add --sandbox off");
    if (o->user && geteuid() != 0)
        return bad(error, "--user needs the daemon started as root: start it as that user "
                          "instead, without --user");
    return true;
}

/* Listeners, the local GL path, and authentication. */
static bool check_server(struct spicegl_options *o, struct raw *r, GError **error)
{
    /* The GPU's frames are read back into memory: only the synthetic
     * source's memfd stands in for a dmabuf. */
    o->frames_in_fds = o->source == SPICEGL_SOURCE_SYNTHETIC && o->synthetic_memfd;
    const char *unix_gl = r->unix_gl;
    if (unix_gl && !g_str_equal(unix_gl, "auto") && !g_str_equal(unix_gl, "on") &&
        !g_str_equal(unix_gl, "off"))
        return bad(error, "--unix-gl is auto, on or off (got '%s')", unix_gl);
    if (unix_gl && g_str_equal(unix_gl, "on") && !o->frames_in_fds)
        return bad(error, "--unix-gl on needs frames in dmabufs, and this source has none (no "
                          "GPU here): use --unix-gl auto or off");
    o->local_gl = o->unix_path && o->frames_in_fds && !(unix_gl && g_str_equal(unix_gl, "off"));
    if (o->ticket && r->ticket_file)
        return bad(error, "give --ticket or --ticket-file, not both");
    if (r->ticket_file) {
        g_autoptr(GError) e = NULL;
        if (!g_file_get_contents(r->ticket_file, &o->ticket, NULL, &e))
            return bad(error, "--ticket-file: %s", e->message);
        g_strstrip(o->ticket);
    }
    o->single_client = r->single_client;
    o->audio_clock = r->audio_clock;
    o->server = (struct sgl_server_options){.addr = o->addr,
                                            .port = r->no_tcp ? 0 : r->port,
                                            .unix_path = o->unix_path,
                                            .ticket = o->ticket,
                                            .ticket_lifetime_s = r->ticket_lifetime,
                                            .tls_dir = o->tls_dir,
                                            .tls_port = r->tls_port,
                                            .insecure = r->insecure};
    o->listen_tcp = o->server.port || o->server.tls_port;
    o->listen_unix = o->unix_path != NULL;
    if (o->control_path && !*o->control_path)
        return bad(error, "--control wants the path of a socket to create");
    return sgl_server_options_check(&o->server, error);
}

/* The stream's encoder: one that cannot open is an option error, said
 * before anything listens. */
static bool check_encoder(struct spicegl_options *o, struct raw *r, GError **error)
{
    if (r->bitrate < 100 || r->bitrate > 1000000 || r->stats_interval < 0)
        return bad(error, "--bitrate is 100..1000000 kbit/s, --stats-interval >= 0");
    if (r->refine_after < 0 || r->refine_after > 60000 || r->refine_qp < 1 || r->refine_qp > 51)
        return bad(error, "--refine-after is 0..60000 ms (0: never), --refine-qp 1..51");
    o->stats_interval_s = (uint32_t)r->stats_interval;
    o->encoder = (struct sgl_encoder_config){.backend = o->encoder_name,
                                             .bitrate_kbps = (uint32_t)r->bitrate,
                                             .max_fps = o->fps,
                                             .preset = o->preset,
                                             .refine_ms = (uint32_t)r->refine_after,
                                             .refine_qp = (uint32_t)r->refine_qp};
    g_autoptr(GError) e = NULL;
    struct sgl_encoder *probe = sgl_encoder_create(&o->encoder, &e);
    if (!probe)
        return bad(error, "--encoder/--preset: %s", e->message);
    sgl_encoder_destroy(probe);
    return true;
}

static void raw_finish(struct raw *r)
{
    g_free(r->synthetic);
    g_free(r->size);
    g_free(r->qemu_console);
    g_free(r->sandbox);
    g_free(r->unix_gl);
    g_free(r->ticket_file);
}

bool spicegl_options_parse(struct spicegl_options *o, int argc, char **argv, GError **error)
{
    *o = (struct spicegl_options){.gpu_fd = -1, .width = 1280, .height = 800};
    struct raw r = {.gpu_fd = -1,
                    .gpu_fps = 60,
                    .gpu_memory_mb = 1024,
                    .scanouts = 2,
                    .port = 5900,
                    .bitrate = 8000,
                    .stats_interval = 5,
                    .refine_after = 500,
                    .refine_qp = SGL_ENCODER_REFINE_QP};
    bool ok = parse_table(o, &r, argc, argv, error);
    if (!o->vm_config_dir)
        o->vm_config_dir = g_strdup(SPICEGL_VM_CONFIG_DIR);
    o->print_capabilities = r.print_capabilities;
    o->print_version = r.print_version;
    if (ok && !o->print_capabilities && !o->print_version)
        ok = check_source(o, &r, error) && check_sandbox(o, &r, error) &&
             check_server(o, &r, error) && check_encoder(o, &r, error);
    raw_finish(&r);
    return ok;
}

void spicegl_options_finish(struct spicegl_options *o)
{
    g_free(o->vm_config_dir);
    g_free(o->log_file);
    g_free(o->socket_path);
    g_free(o->record_dir);
    g_free(o->qmp);
    g_free(o->dbus_address);
    g_free(o->render_node);
    g_free(o->agent_chardev);
    g_free(o->webdav_chardev);
    g_strfreev(o->usb_redir_chardevs);
    g_free(o->user);
    g_free(o->addr);
    g_free(o->unix_path);
    g_free(o->ticket);
    g_free(o->tls_dir);
    g_free(o->encoder_name);
    g_free(o->preset);
    g_free(o->control_path);
    *o = (struct spicegl_options){.gpu_fd = -1};
}

const char *spicegl_options_capabilities(void)
{
    return "{\n  \"type\": \"gpu\",\n  \"features\": [\n    \"render-node\",\n    \"virgl\"\n  "
           "]\n}\n";
}

/* Options a VM's settings file may not give: libvirt gives the GPU, and the
 * rest is not a VM's setting. */
static const char *const not_per_vm[] = {
    "fd",
    "socket-path",
    "synthetic",
    "synthetic-memfd",
    "print-capabilities",
    "version",
    "vm-config-dir",
    "user",
    NULL,
};

/* The settings file's [spicegl-gpu] keys as long options appended to args:
 * KEY=VALUE as --KEY=VALUE; a flag's true as --KEY, false as nothing. */
static bool file_args(const char *path, GPtrArray *args, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) e = NULL;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &e))
        return bad(error, "%s: %s", path, e->message);
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
    for (char **g = groups; *g; g++)
        if (!g_str_equal(*g, "spicegl-gpu"))
            return bad(error, "%s: unknown group [%s]: the settings go in [spicegl-gpu]", path, *g);
    if (!g_key_file_has_group(kf, "spicegl-gpu"))
        return bad(error, "%s: no [spicegl-gpu] group", path);
    struct spicegl_options dummy_o = {0};
    struct raw dummy_r = {0};
    g_autofree GOptionEntry *entries = option_entries(&dummy_o, &dummy_r);
    g_auto(GStrv) keys = g_key_file_get_keys(kf, "spicegl-gpu", NULL, NULL);
    for (char **k = keys; *k; k++) {
        const GOptionEntry *entry = NULL;
        for (const GOptionEntry *en = entries; en->long_name; en++)
            if (g_str_equal(en->long_name, *k))
                entry = en;
        if (!entry)
            return bad(error,
                       "%s: unknown setting '%s': the keys are spicegl-gpu's long options "
                       "(see spicegl-gpu --help)",
                       path, *k);
        if (g_strv_contains(not_per_vm, *k))
            return bad(error, "%s: '%s' cannot be set per VM", path, *k);
        if (entry->arg == G_OPTION_ARG_NONE) {
            gboolean on = g_key_file_get_boolean(kf, "spicegl-gpu", *k, &e);
            if (e)
                return bad(error, "%s: %s is true or false", path, *k);
            if (on)
                g_ptr_array_add(args, g_strdup_printf("--%s", *k));
            continue;
        }
        g_autofree char *value = g_key_file_get_string(kf, "spicegl-gpu", *k, &e);
        if (!value)
            return bad(error, "%s: %s: %s", path, *k, e->message);
        g_ptr_array_add(args, g_strdup_printf("--%s=%s", *k, value));
    }
    return true;
}

bool spicegl_options_apply_vm(struct spicegl_options *o, int argc, char **argv,
                              const struct spicegl_vm_identity *vm, GPtrArray *said, GError **error)
{
    const char *name = vm->name;
    if (!name)
        g_ptr_array_add(said, g_strdup_printf("QEMU (pid %d) gives the VM no name (-name): no "
                                              "per-VM settings",
                                              (int)vm->pid));
    else if (!*name || strchr(name, '/') || name[0] == '.')
        return bad(error, "the VM's name '%s' (QEMU pid %d) cannot name a settings file", name,
                   (int)vm->pid);
    g_autofree char *path = name ? g_strdup_printf("%s/%s.conf", o->vm_config_dir, name) : NULL;
    struct stat st;
    bool found = path && stat(path, &st) == 0;
    if (path && !found && errno != ENOENT)
        /* Not "no file": defaults here could serve the VM without its ticket. */
        return bad(error, "%s: %s (QEMU's user must be able to read it)", path, g_strerror(errno));
    if (path && !found) {
        g_ptr_array_add(said, g_strdup_printf("VM '%s' (QEMU pid %d): no settings at %s, defaults "
                                              "apply",
                                              name, (int)vm->pid, path));
    } else if (path) {
        g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
        for (int i = 0; i < argc; i++)
            g_ptr_array_add(args, g_strdup(argv[i]));
        if (!file_args(path, args, error))
            return false;
        spicegl_options_finish(o);
        g_autoptr(GError) e = NULL;
        if (!spicegl_options_parse(o, (int)args->len, (char **)args->pdata, &e))
            return bad(error, "%s: %s", path, e->message);
        g_ptr_array_add(said, g_strdup_printf("VM '%s' (QEMU pid %d): settings from %s", name,
                                              (int)vm->pid, path));
    }
    /* The ports are optional: an id QEMU cannot export on D-Bus leaves the
     * port off, not the VM without its GPU. */
    take_chardev(&o->agent_chardev, vm->agent_chardev, name, "the guest's agent", said);
    take_chardev(&o->webdav_chardev, vm->webdav_chardev, name, "folder sharing", said);
    take_usb_redir(o, vm->usb_redir_chardevs, name, said);
    if (!o->qmp && !o->dbus_address && vm->display_address) {
        if (!g_dbus_is_address(vm->display_address))
            return bad(error, "QEMU (pid %d) serves its display on '%s', not a D-Bus address",
                       (int)vm->pid, vm->display_address);
        o->dbus_address = g_strdup(vm->display_address);
        g_ptr_array_add(said, g_strdup_printf("VM '%s': QEMU's D-Bus display is on %s",
                                              name ? name : "?", o->dbus_address));
    }
    return true;
}
