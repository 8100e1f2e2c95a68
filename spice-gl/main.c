/* spicegl-gpu: the per-VM daemon. Its frames come from the VM's GPU (the
 * vhost-user-gpu backend: --socket-path or --fd, QEMU connects) or from the
 * built-in synthetic source (--synthetic WxH@FPS, for tests). Serves SPICE
 * on TCP (127.0.0.1:5900 by default) and/or a unix socket. */
#include "config.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "audio-clock.h"
#include "qemu-integration/backend.h"
#include "qemu-integration/qemu-control.h"
#include "input.h"
#include "local.h"
#include "remote.h"
#include "server.h"
#include "sandbox.h"
#include "synthetic.h"

struct daemon {
    GMainLoop *loop;
    GPtrArray *remotes; /* struct sgl_remote * */
    GPtrArray *locals;  /* struct sgl_local *, freed after the servers */
    GPtrArray *clocks;  /* struct sgl_audio_clock *, freed after the servers */
    GPtrArray *inputs;  /* struct sgl_input *, freed after the servers */
    struct sgl_synthetic *synthetic;
    struct vgpu_backend *gpu;
    /* Remotes per server: one per scanout, remotes[server * scanouts + k]
     * streams scanout k as the server's display k. */
    uint32_t scanouts;
    struct vgpu_qemu_control *qemu; /* --qmp: input and display sizes to QEMU */
};

/* The remotes that stream scanout k: one per server (see struct daemon).
 * With one scanout (--synthetic), every remote. */
static void remotes_submit(struct daemon *d, uint32_t scanout, const struct sgl_encoder_frame *f)
{
    for (guint i = scanout; i < d->remotes->len; i += d->scanouts)
        sgl_remote_submit(g_ptr_array_index(d->remotes, i), f);
}

static void remotes_cursor_set(struct daemon *d, uint32_t scanout, uint16_t w, uint16_t h,
                               uint16_t hot_x, uint16_t hot_y, const uint32_t *argb)
{
    for (guint i = scanout; i < d->remotes->len; i += d->scanouts)
        sgl_remote_cursor_set(g_ptr_array_index(d->remotes, i), w, h, hot_x, hot_y, argb);
}

static void remotes_cursor_move(struct daemon *d, uint32_t scanout, int32_t x, int32_t y)
{
    for (guint i = scanout; i < d->remotes->len; i += d->scanouts)
        sgl_remote_cursor_move(g_ptr_array_index(d->remotes, i), x, y);
}

/* The backend thread: what the guest shows goes to the encoders (which
 * copy it before returning). */
static void on_gpu_frame(void *user, const struct vgpu_frame *f)
{
    struct daemon *d = user;
    struct sgl_encoder_rect damage = {f->damage_x, f->damage_y, f->damage_w, f->damage_h};
    struct sgl_encoder_frame frame = {.width = f->width,
                                      .height = f->height,
                                      .format = SGL_ENCODER_BGRX,
                                      .pixels = f->pixels,
                                      .stride = f->stride,
                                      .dmabuf.fd = -1,
                                      .damage = &damage,
                                      .n_damage = 1,
                                      .pts_us = g_get_monotonic_time()};
    remotes_submit(d, f->scanout, &frame);
}

/* vgpu bounds cursors to 256x256 (vgpu.c). */
static void on_gpu_cursor_set(void *user, uint32_t scanout, uint32_t w, uint32_t h, uint32_t hot_x,
                              uint32_t hot_y, const uint32_t *argb)
{
    remotes_cursor_set(user, scanout, (uint16_t)w, (uint16_t)h, (uint16_t)hot_x, (uint16_t)hot_y,
                       argb);
}

static void on_gpu_cursor_move(void *user, uint32_t scanout, int32_t x, int32_t y)
{
    remotes_cursor_move(user, scanout, x, y);
}

static void on_gpu_connected(void *user)
{
    struct daemon *d = user;
    g_message("QEMU connected: the guest's GPU is up");
    if (d->qemu)
        vgpu_qemu_control_start(d->qemu);
}

static void on_gpu_gone(void *user, const char *why)
{
    struct daemon *d = user;
    g_message("QEMU went away (%s): exiting", why);
    g_main_loop_quit(d->loop);
}

static void on_frame(const struct sgl_encoder_frame *frame, void *user)
{
    struct daemon *d = user;
    for (guint i = 0; i < d->locals->len; i++)
        sgl_local_submit(g_ptr_array_index(d->locals, i), frame);
    /* The encoders copy pixels at once; a buffer's fd would be read later,
     * after the source may have reused it. */
    struct sgl_encoder_frame pixels = *frame;
    if (pixels.pixels)
        pixels.dmabuf.fd = -1;
    remotes_submit(d, 0, &pixels);
}

static bool on_ready(void *user)
{
    struct daemon *d = user;
    for (guint i = 0; i < d->locals->len; i++)
        if (sgl_local_busy(g_ptr_array_index(d->locals, i)))
            return false;
    return true;
}

static void on_cursor_set(uint16_t w, uint16_t h, uint16_t hot_x, uint16_t hot_y,
                          const uint32_t *argb, void *user)
{
    remotes_cursor_set(user, 0, w, h, hot_x, hot_y, argb);
}

static void on_cursor_move(int32_t x, int32_t y, void *user)
{
    remotes_cursor_move(user, 0, x, y);
}

/* Input goes to the guest through QEMU's D-Bus display (--qmp). It is also logged at debug
 * level (keystrokes are private), which is how tests of the synthetic
 * source, with no guest, see it; the synthetic source takes a client's
 * monitor size as its new frame size. */
static void on_key(uint32_t code, bool down, void *user)
{
    struct daemon *d = user;
    g_debug("input: key 0x%x %s", code, down ? "down" : "up");
    if (d->qemu)
        vgpu_qemu_control_key(d->qemu, code, down);
}

static void on_pointer_rel(int dx, int dy, int dz, uint32_t buttons, void *user)
{
    struct daemon *d = user;
    g_debug("input: pointer moved %+d,%+d wheel %+d buttons 0x%x", dx, dy, dz, buttons);
    if (d->qemu) {
        vgpu_qemu_control_motion(d->qemu, dx, dy);
        if (dz)
            vgpu_qemu_control_wheel(d->qemu, dz);
        vgpu_qemu_control_buttons(d->qemu, buttons);
    }
}

static void on_pointer_abs(int x, int y, int w, int h, uint32_t buttons, void *user)
{
    struct daemon *d = user;
    g_debug("input: pointer at %d,%d of %dx%d buttons 0x%x", x, y, w, h, buttons);
    if (d->qemu) {
        vgpu_qemu_control_position(d->qemu, 0, x, y);
        vgpu_qemu_control_buttons(d->qemu, buttons);
    }
}

static void on_buttons(uint32_t buttons, void *user)
{
    struct daemon *d = user;
    g_debug("input: buttons 0x%x", buttons);
    if (d->qemu)
        vgpu_qemu_control_buttons(d->qemu, buttons);
}

static void on_monitors(const struct sgl_agent_monitor *m, uint32_t n, void *user)
{
    struct daemon *d = user;
    if (d->gpu) {
        for (uint32_t i = 0; i < n && i < d->scanouts; i++) {
            if (!m[i].width || !m[i].height)
                continue;
            g_message("a client asks for %ux%u on monitor %u: telling the guest", m[i].width,
                      m[i].height, i);
            vgpu_backend_request_mode(d->gpu, i, m[i].width, m[i].height);
            if (d->qemu)
                vgpu_qemu_control_set_size(d->qemu, i, m[i].width, m[i].height);
        }
        if (!d->qemu)
            g_message("without --qmp the guest cannot be told: it keeps its mode");
        return;
    }
    if (!d->synthetic || !m[0].width || !m[0].height)
        return;
    sgl_synthetic_resize(d->synthetic, m[0].width, m[0].height);
    uint32_t w, h;
    sgl_synthetic_size(d->synthetic, &w, &h);
    g_message("a client asks for %ux%u (%u monitor%s): the source is now %ux%u", m[0].width,
              m[0].height, n, n == 1 ? "" : "s", w, h);
}

static gboolean on_signal(gpointer user)
{
    struct daemon *d = user;
    g_message("stopping");
    g_main_loop_quit(d->loop);
    /* Kept: teardown removes it, and a second signal is harmless. */
    return G_SOURCE_CONTINUE;
}

static gboolean log_stats(gpointer user)
{
    struct daemon *d = user;
    /* Frames the source made: the guest's (read back), or the synthetic ones. */
    uint64_t frames = d->synthetic ? sgl_synthetic_frames(d->synthetic) : 0;
    if (d->gpu) {
        struct vgpu_stats st;
        vgpu_backend_get_stats(d->gpu, &st);
        frames = st.frames;
        g_message(
            "stats[gpu]: commands %" G_GUINT64_FORMAT ", rejected %" G_GUINT64_FORMAT
            ", flushes %" G_GUINT64_FORMAT ", frames %" G_GUINT64_FORMAT
            ", fences %" G_GUINT64_FORMAT ", resources %u holding %" G_GUINT64_FORMAT " bytes",
            st.commands, st.errors, st.flushes, st.frames, st.fences, st.resources, st.host_bytes);
    }
    for (guint i = 0; i < d->remotes->len; i++) {
        struct sgl_remote_stats st;
        sgl_remote_get_stats(g_ptr_array_index(d->remotes, i), &st);
        g_message("stats[%u]: frames %" G_GUINT64_FORMAT ", submitted %" G_GUINT64_FORMAT
                  ", encoded %" G_GUINT64_FORMAT ", sent %" G_GUINT64_FORMAT
                  ", dropped %" G_GUINT64_FORMAT " (back-pressure) + %" G_GUINT64_FORMAT
                  " (pacing) + %" G_GUINT64_FORMAT " (no client), unchanged %" G_GUINT64_FORMAT
                  ", %u of %u kbit/s, %" G_GUINT64_FORMAT
                  " bytes, refine passes %" G_GUINT64_FORMAT,
                  i, frames, st.encoder.submitted, st.encoder.encoded, st.sent,
                  st.encoder.dropped_pressure, st.encoder.dropped_rate, st.encoder.dropped_paused,
                  st.encoder.unchanged, st.encoder.bitrate_kbps, st.encoder.target_kbps,
                  st.encoder.bytes, st.encoder.refined);
    }
    for (guint i = 0; i < d->locals->len; i++) {
        struct sgl_local_stats st;
        sgl_local_get_stats(g_ptr_array_index(d->locals, i), &st);
        g_message("stats[local]: frames %" G_GUINT64_FORMAT ", GL draws %" G_GUINT64_FORMAT
                  " (%" G_GUINT64_FORMAT " shown), scanouts %" G_GUINT64_FORMAT,
                  frames, st.draws, st.done, st.scanouts);
    }
    return G_SOURCE_CONTINUE;
}

static char *read_ticket_file(const char *path, GError **error)
{
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, error))
        return NULL;
    g_strstrip(text);
    return text;
}

int main(int argc, char **argv)
{
    g_autofree char *synthetic = NULL, *addr = NULL, *unix_path = NULL, *ticket = NULL,
                    *ticket_file = NULL, *tls_dir = NULL, *encoder = NULL, *preset = NULL,
                    *unix_gl = NULL, *socket_path = NULL, *size = NULL, *qemu_console = NULL,
                    *qmp = NULL, *sandbox = NULL, *user = NULL, *record_dir = NULL;
    gint gpu_fd = -1, gpu_fps = 30, gpu_memory_mb = 1024, scanouts = 2;
    gboolean print_capabilities = FALSE;
    gint port = 5900, tls_port = 0, ticket_lifetime = 0, bitrate = 8000, stats_interval = 5,
         refine_after = 500, refine_qp = SGL_ENCODER_REFINE_QP;
    gboolean insecure = FALSE, no_tcp = FALSE, single_client = FALSE, synthetic_memfd = FALSE,
             audio_clock = FALSE;
    GOptionEntry entries[] = {
        {"socket-path", 0, 0, G_OPTION_ARG_FILENAME, &socket_path,
         "Be the VM's GPU: listen here for QEMU's vhost-user-gpu connection", "PATH"},
        {"fd", 0, 0, G_OPTION_ARG_INT, &gpu_fd,
         "Be the VM's GPU on this inherited socket (listening or connected)", "FD"},
        {"print-capabilities", 0, 0, G_OPTION_ARG_NONE, &print_capabilities,
         "Print the backend's capabilities as JSON (vhost-user convention) and exit", NULL},
        {"size", 0, 0, G_OPTION_ARG_STRING, &size,
         "The GPU's preferred mode (default 1280x800); clients may ask for others", "WxH"},
        {"scanouts", 0, 0, G_OPTION_ARG_INT, &scanouts,
         "The GPU's outputs, each a SPICE display (default 2; QEMU: max_outputs)", "N"},
        {"fps", 0, 0, G_OPTION_ARG_INT, &gpu_fps,
         "Most frames a second streamed from the GPU (default 30)", "N"},
        {"gpu-memory-mb", 0, 0, G_OPTION_ARG_INT, &gpu_memory_mb,
         "Host memory the guest may make the GPU hold (default 1024)", "MB"},
        {"qmp", 0, 0, G_OPTION_ARG_FILENAME, &qmp,
         "QEMU's QMP socket (-qmp unix:PATH,server=on,wait=off), used once QEMU is up to "
         "attach to its D-Bus display (-display dbus,p2p=yes; QEMU 7.2+), then closed: "
         "clients' keyboard, mouse and monitor sizes reach the guest through that display",
         "PATH"},
        {"qemu-console", 0, 0, G_OPTION_ARG_STRING, &qemu_console,
         "Also feed QEMU's own console (its display, screendump): on (default) or off", "on|off"},
        {"sandbox", 0, 0, G_OPTION_ARG_STRING, &sandbox,
         "Once started, confine the daemon with no_new_privs and a seccomp filter: on "
         "(default) or off",
         "on|off"},
        {"user", 0, 0, G_OPTION_ARG_STRING, &user,
         "Once started (sockets open), run as this unprivileged user (needs root)", "NAME"},
        {"record-commands", 0, 0, G_OPTION_ARG_FILENAME, &record_dir,
         "Record the guest's GPU requests in DIR as fuzzing seeds (needs --sandbox off)", "DIR"},
        {"synthetic", 0, 0, G_OPTION_ARG_STRING, &synthetic,
         "Built-in animated source, e.g. 1280x720@30", "WxH@FPS"},
        {"synthetic-memfd", 0, 0, G_OPTION_ARG_NONE, &synthetic_memfd,
         "Synthetic frames in a memfd, standing in for a GPU's dmabuf (tests the local path)",
         NULL},
        {"addr", 0, 0, G_OPTION_ARG_STRING, &addr, "TCP address (default 127.0.0.1)", "ADDR"},
        {"port", 0, 0, G_OPTION_ARG_INT, &port, "TCP port (default 5900)", "PORT"},
        {"no-tcp", 0, 0, G_OPTION_ARG_NONE, &no_tcp, "Do not listen on TCP", NULL},
        {"unix", 0, 0, G_OPTION_ARG_FILENAME, &unix_path, "Also listen on this unix socket",
         "PATH"},
        {"unix-gl", 0, 0, G_OPTION_ARG_STRING, &unix_gl,
         "Unix socket clients get GL scanouts (zero copy; GL-capable clients only): auto "
         "(default: when the frames are dmabufs), on, off (the H.264 stream)",
         "auto|on|off"},
        {"ticket", 0, 0, G_OPTION_ARG_STRING, &ticket,
         "SPICE password (visible in ps: prefer --ticket-file)", "TEXT"},
        {"ticket-file", 0, 0, G_OPTION_ARG_FILENAME, &ticket_file,
         "Read the SPICE password from a file", "FILE"},
        {"ticket-lifetime", 0, 0, G_OPTION_ARG_INT, &ticket_lifetime,
         "Seconds the ticket stays valid (0: no expiry)", "S"},
        {"tls-dir", 0, 0, G_OPTION_ARG_FILENAME, &tls_dir,
         "x509 directory: ca-cert.pem, server-cert.pem, server-key.pem", "DIR"},
        {"tls-port", 0, 0, G_OPTION_ARG_INT, &tls_port, "TLS port", "PORT"},
        {"insecure", 0, 0, G_OPTION_ARG_NONE, &insecure,
         "Allow a non-loopback address without a ticket (any client gets the VM)", NULL},
        {"single-client", 0, 0, G_OPTION_ARG_NONE, &single_client,
         "A new client replaces the connected one (spice-server's default)", NULL},
        {"audio-clock", 0, 0, G_OPTION_ARG_NONE, &audio_clock,
         "Stream silence so clients' media clocks follow audio: ~50 ms instead of ~420 ms for "
         "appsink clients (Wayland, headless), ~+25 ms for remote-viewer's X11 overlay",
         NULL},
        {"encoder", 0, 0, G_OPTION_ARG_STRING, &encoder,
         "auto (default), x264, gst or gst:<element>", "NAME"},
        {"bitrate", 0, 0, G_OPTION_ARG_INT, &bitrate, "Target bitrate in kbit/s (default 8000)",
         "KBPS"},
        {"preset", 0, 0, G_OPTION_ARG_STRING, &preset, "x264 preset (default ultrafast)", "NAME"},
        {"refine-after", 0, 0, G_OPTION_ARG_INT, &refine_after,
         "A picture unchanged this long is sent again near lossless, within the stream's "
         "bitrate (x264; default 500, 0: never)",
         "MS"},
        {"refine-qp", 0, 0, G_OPTION_ARG_INT, &refine_qp,
         "The quantizer that refining aims at: lower is sharper and costs more (default 16)",
         "1..51"},
        {"stats-interval", 0, 0, G_OPTION_ARG_INT, &stats_interval,
         "Seconds between stats lines (0: none)", "S"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- spicegl: a VM's GPU and SPICE display");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "spicegl-gpu: %s (see --help)\n", error->message);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "spicegl-gpu: unexpected argument '%s' (see --help)\n", argv[1]);
        return 2;
    }
    if (print_capabilities) {
        printf("{\n  \"type\": \"gpu\",\n  \"features\": [\n    \"virgl\"\n  ]\n}\n");
        return 0;
    }
    uint32_t width = 1280, height = 800, fps = (uint32_t)gpu_fps;
    bool gpu = socket_path || gpu_fd >= 0;
    if ((socket_path && gpu_fd >= 0) || (gpu && synthetic)) {
        fprintf(stderr, "spicegl-gpu: give one frame source: --socket-path, --fd or --synthetic\n");
        return 2;
    }
    if (!gpu && !synthetic) {
        fprintf(stderr, "spicegl-gpu: no frame source: give --socket-path PATH (QEMU's "
                        "vhost-user-gpu chardev) or --synthetic WxH@FPS\n");
        return 2;
    }
    if (synthetic && !sgl_synthetic_parse(synthetic, &width, &height, &fps, &error)) {
        fprintf(stderr, "spicegl-gpu: %s\n", error->message);
        return 2;
    }
    char tail;
    if (size && (sscanf(size, "%ux%u%c", &width, &height, &tail) != 2 || width < 16 ||
                 height < 16 || width > 16384 || height > 16384)) {
        fprintf(stderr, "spicegl-gpu: --size wants WIDTHxHEIGHT, 16..16384 (got '%s')\n", size);
        return 2;
    }
    if (gpu && (gpu_fps < 1 || gpu_fps > 240 || gpu_memory_mb < 64 || gpu_memory_mb > 65536 ||
                scanouts < 1 || scanouts > VGPU_MAX_SCANOUTS)) {
        fprintf(stderr,
                "spicegl-gpu: --fps is 1..240, --gpu-memory-mb 64..65536 and --scanouts "
                "1..%d\n",
                VGPU_MAX_SCANOUTS);
        return 2;
    }
    if (qemu_console && !g_str_equal(qemu_console, "on") && !g_str_equal(qemu_console, "off")) {
        fprintf(stderr, "spicegl-gpu: --qemu-console is on or off (got '%s')\n", qemu_console);
        return 2;
    }
    if (sandbox && !g_str_equal(sandbox, "on") && !g_str_equal(sandbox, "off")) {
        fprintf(stderr, "spicegl-gpu: --sandbox is on or off (got '%s')\n", sandbox);
        return 2;
    }
    bool sandboxed = !(sandbox && g_str_equal(sandbox, "off"));
    if (record_dir && sandboxed) {
        fprintf(stderr, "spicegl-gpu: --record-commands writes files while the guest runs, "
                        "which the sandbox forbids: add --sandbox off\n");
        return 2;
    }
    if (user && geteuid() != 0) {
        fprintf(stderr, "spicegl-gpu: --user needs the daemon started as root: start it as that "
                        "user instead, without --user\n");
        return 2;
    }
    bool fd_frames = synthetic_memfd; /* the vhost-user backend: when dmabuf export works */
    if (unix_gl && !g_str_equal(unix_gl, "auto") && !g_str_equal(unix_gl, "on") &&
        !g_str_equal(unix_gl, "off")) {
        fprintf(stderr, "spicegl-gpu: --unix-gl is auto, on or off (got '%s')\n", unix_gl);
        return 2;
    }
    if (unix_gl && g_str_equal(unix_gl, "on") && !fd_frames) {
        fprintf(stderr, "spicegl-gpu: --unix-gl on needs frames in dmabufs, and this source has "
                        "none (no GPU here): use --unix-gl auto or off\n");
        return 2;
    }
    bool local_gl = unix_path && fd_frames && !(unix_gl && g_str_equal(unix_gl, "off"));
    if (ticket && ticket_file) {
        fprintf(stderr, "spicegl-gpu: give --ticket or --ticket-file, not both\n");
        return 2;
    }
    if (ticket_file && !(ticket = read_ticket_file(ticket_file, &error))) {
        fprintf(stderr, "spicegl-gpu: --ticket-file: %s\n", error->message);
        return 2;
    }
    if (bitrate < 100 || bitrate > 1000000 || stats_interval < 0) {
        fprintf(stderr, "spicegl-gpu: --bitrate is 100..1000000 kbit/s, --stats-interval >= 0\n");
        return 2;
    }
    if (refine_after < 0 || refine_after > 60000 || refine_qp < 1 || refine_qp > 51) {
        fprintf(stderr, "spicegl-gpu: --refine-after is 0..60000 ms (0: never), --refine-qp "
                        "1..51\n");
        return 2;
    }
    struct sgl_server_options so = {.addr = addr,
                                    .port = no_tcp ? 0 : port,
                                    .unix_path = unix_path,
                                    .ticket = ticket,
                                    .ticket_lifetime_s = ticket_lifetime,
                                    .tls_dir = tls_dir,
                                    .tls_port = tls_port,
                                    .insecure = insecure};
    if (!sgl_server_options_check(&so, &error)) {
        fprintf(stderr, "spicegl-gpu: %s\n", error->message);
        return 2;
    }
    struct sgl_encoder_config ec = {.backend = encoder,
                                    .bitrate_kbps = (uint32_t)bitrate,
                                    .max_fps = fps,
                                    .preset = preset,
                                    .refine_ms = (uint32_t)refine_after,
                                    .refine_qp = (uint32_t)refine_qp};
    /* An encoder that cannot open is an option error: say so before listening. */
    struct sgl_encoder *probe = sgl_encoder_create(&ec, &error);
    if (!probe) {
        fprintf(stderr, "spicegl-gpu: --encoder/--preset: %s\n", error->message);
        return 2;
    }
    sgl_encoder_destroy(probe);

    /* spice-server serves one client at a time (a newcomer disconnects the
     * one before) unless this is in its environment when a server is made;
     * the stream channel then streams to all of them. */
    if (!single_client)
        g_setenv("SPICE_DEBUG_ALLOW_MC", "1", TRUE);

    struct daemon d = {
        .loop = g_main_loop_new(NULL, FALSE),
        .remotes = g_ptr_array_new_with_free_func((GDestroyNotify)sgl_remote_destroy),
        .locals = g_ptr_array_new_with_free_func((GDestroyNotify)sgl_local_destroy),
        .clocks = g_ptr_array_new_with_free_func((GDestroyNotify)sgl_audio_clock_destroy),
        .inputs = g_ptr_array_new_with_free_func((GDestroyNotify)sgl_input_destroy),
        .scanouts = gpu ? (uint32_t)scanouts : 1};
    static const struct sgl_input_callbacks input_cb = {on_key, on_pointer_rel, on_pointer_abs,
                                                        on_buttons, on_monitors};
    GPtrArray *servers = g_ptr_array_new();
    int status = 1;
    for (int use_unix = 0; use_unix < 2; use_unix++) {
        if (use_unix ? !unix_path : !(so.port || so.tls_port))
            continue;
        SpiceServer *s = sgl_server_create(&so, use_unix, &error);
        if (s)
            g_ptr_array_add(servers, s);
        bool gl = use_unix && local_gl;
        struct sgl_local *l = s && gl ? sgl_local_create(s, on_monitors, &d, &error) : NULL;
        struct sgl_remote *r = s && !gl ? sgl_remote_create(s, &ec, &error) : NULL;
        /* More scanouts: more stream devices, each a display channel of its own. */
        for (uint32_t k = 1; r && k < d.scanouts; k++) {
            struct sgl_remote *more = sgl_remote_create(s, &ec, &error);
            if (!more) {
                fprintf(stderr, "spicegl-gpu: display %u: %s\n", k, error->message);
                goto out;
            }
            g_ptr_array_add(d.remotes, r);
            r = more;
        }
        struct sgl_input *in = l || r ? sgl_input_create(s, &input_cb, &d, &error) : NULL;
        if (l)
            g_ptr_array_add(d.locals, l);
        if (r)
            g_ptr_array_add(d.remotes, r);
        if (!in) {
            fprintf(stderr, "spicegl-gpu: %s\n", error->message);
            goto out;
        }
        g_ptr_array_add(d.inputs, in);
        if (r && audio_clock) {
            struct sgl_audio_clock *ac = sgl_audio_clock_create(s, &error);
            if (!ac) {
                fprintf(stderr, "spicegl-gpu: --audio-clock: %s\n", error->message);
                goto out;
            }
            g_ptr_array_add(d.clocks, ac);
        }
        spice_server_vm_start(s);
        if (use_unix)
            g_message("listening on spice+unix://%s: %s", unix_path,
                      gl ? "GL scanouts of the frame buffers, zero copy (GL-capable clients only)"
                      : fd_frames ? "the H.264 stream (--unix-gl off)"
                                  : "the H.264 stream (the frames are not in dmabufs: no GPU)");
        else
            g_message("listening on spice://%s:%d%s", addr ? addr : "127.0.0.1", so.port,
                      ticket ? " (ticket required)" : "");
    }
    if (qmp)
        d.qemu = vgpu_qemu_control_create(qmp);
    /* Mesa's on-disk shader cache creates files as shaders compile, which
     * the sandbox forbids: it is off in a sandboxed daemon. */
    if (sandboxed) {
        g_setenv("MESA_SHADER_CACHE_DISABLE", "true", FALSE);
        g_setenv("MESA_GLSL_CACHE_DISABLE", "true", FALSE);
    }
    if (gpu) {
        struct vgpu_backend_config bc = {
            .socket_path = socket_path,
            .fd = gpu_fd,
            .gpu = {.num_scanouts = (uint32_t)scanouts,
                    .width = width,
                    .height = height,
                    .max_host_bytes = (uint64_t)gpu_memory_mb << 20,
                    .virgl = true,
                    .qemu_console = !(qemu_console && g_str_equal(qemu_console, "off")),
                    .record_dir = record_dir}};
        static const struct vgpu_backend_callbacks gpu_cb = {
            on_gpu_frame, on_gpu_cursor_set, on_gpu_cursor_move, on_gpu_connected, on_gpu_gone};
        d.gpu = vgpu_backend_create(&bc, &gpu_cb, &d, &error);
        if (!d.gpu) {
            fprintf(stderr, "spicegl-gpu: %s\n", error->message);
            goto out;
        }
        g_message("GPU: virtio-gpu with virgl 3D (%s), %ux%u preferred; waiting for QEMU on %s",
                  vgpu_backend_renderer(d.gpu), width, height,
                  socket_path ? socket_path : "the inherited fd");
    } else {
        static const struct sgl_synthetic_callbacks synthetic_cb = {on_frame, on_cursor_set,
                                                                    on_cursor_move, on_ready};
        d.synthetic =
            sgl_synthetic_create(width, height, fps, synthetic_memfd, &synthetic_cb, &d, &error);
        if (!d.synthetic) {
            fprintf(stderr, "spicegl-gpu: synthetic source: %s\n", error->message);
            goto out;
        }
        g_message("synthetic source %ux%u at %u fps", width, height, fps);
    }
    /* Start-up is over: what is left runs on what it opened. */
    if (user && !sgl_sandbox_drop_user(user, &error)) {
        fprintf(stderr, "spicegl-gpu: %s\n", error->message);
        goto out;
    }
    if (sandboxed) {
        if (!sgl_sandbox_enter(&error)) {
            fprintf(stderr, "spicegl-gpu: %s\n", error->message);
            goto out;
        }
        g_message("sandbox: no_new_privs and seccomp filter on%s%s", user ? ", running as " : "",
                  user ? user : "");
    }
    /* Only now is anything from QEMU or the guest read. */
    if (d.gpu)
        vgpu_backend_start(d.gpu);
    guint sources[3] = {
        g_unix_signal_add(SIGINT, on_signal, &d), g_unix_signal_add(SIGTERM, on_signal, &d),
        stats_interval ? g_timeout_add_seconds((guint)stats_interval, log_stats, &d) : 0};
    g_main_loop_run(d.loop);
    /* Teardown below iterates the context (to drain the encoders): none of
     * these may run on a half-freed daemon. */
    for (size_t i = 0; i < G_N_ELEMENTS(sources); i++)
        if (sources[i])
            g_source_remove(sources[i]);
    log_stats(&d);
    status = 0;
out:
    sgl_synthetic_destroy(d.synthetic);
    /* Before the encoders it feeds. */
    vgpu_backend_destroy(d.gpu);
    g_clear_pointer(&d.qemu, vgpu_qemu_control_destroy);
    for (guint i = 0; i < servers->len; i++)
        spice_server_vm_stop(g_ptr_array_index(servers, i));
    g_ptr_array_unref(d.remotes);
    for (guint i = 0; i < servers->len; i++)
        spice_server_destroy(g_ptr_array_index(servers, i));
    g_ptr_array_unref(servers);
    /* The clocks' timers first: destroying the locals iterates the context. */
    g_ptr_array_unref(d.clocks);
    g_ptr_array_unref(d.locals);
    g_ptr_array_unref(d.inputs);
    g_main_loop_unref(d.loop);
    return status;
}
