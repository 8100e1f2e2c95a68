#include "config.h"

#include "daemon.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>

#include <spice/vd_agent.h>

#include "qemu-integration/qemu-control/qemu-audio.h"
#include "qemu-integration/qemu-control/qemu-chardev.h"
#include "qemu-integration/qemu-control/qemu-control.h"
#include "qemu-integration/virtio-gpu/gpu-thread.h"
#include "sandbox.h"
#include "spice-gl/playback.h"
#include "spice-gl/record.h"
#include "spice-gl/agent-mux.h"
#include "spice-gl/port.h"
#include "spice-gl/input.h"
#include "spice-gl/local.h"
#include "spice-gl/pointer.h"
#include "spice-gl/remote.h"
#include "spice-gl/server.h"
#include "synthetic.h"
#include "usb-redir.h"
#include "daemon-private.h"

/* ---- from the frame source ---------------------------------------------- */

/* Any thread (see frame-source.h): pixels go to the encoders, which copy
 * them before returning; a dmabuf (main context) goes to the local GL
 * path too. */
static void on_frame(void *user, uint32_t output, const struct sgl_frame *frame)
{
    struct spicegl_daemon *d = user;
    if (frame->dmabuf.fd >= 0)
        for (guint i = 0; i < d->locals->len; i++)
            sgl_local_submit(g_ptr_array_index(d->locals, i), frame);
    if (!frame->pixels)
        return;
    /* The encoders copy pixels at once; a buffer's fd would be read later,
     * after the source may have reused it. */
    struct sgl_frame pixels = *frame;
    pixels.dmabuf.fd = -1;
    for (guint i = output; i < d->remotes->len; i += d->outputs)
        sgl_remote_submit(g_ptr_array_index(d->remotes, i), &pixels);
}

static bool on_ready(void *user)
{
    struct spicegl_daemon *d = user;
    for (guint i = 0; i < d->locals->len; i++)
        if (sgl_local_busy(g_ptr_array_index(d->locals, i)))
            return false;
    return true;
}

/* Sources bound cursors to 256x256 (frame-source.h). */
static void on_cursor_set(void *user, uint32_t output, uint32_t w, uint32_t h, uint32_t hot_x,
                          uint32_t hot_y, const uint32_t *argb)
{
    struct spicegl_daemon *d = user;
    for (guint i = output; i < d->remotes->len; i += d->outputs)
        sgl_remote_cursor_set(g_ptr_array_index(d->remotes, i), (uint16_t)w, (uint16_t)h,
                              (uint16_t)hot_x, (uint16_t)hot_y, argb);
}

static void on_cursor_move(void *user, uint32_t output, int32_t x, int32_t y)
{
    struct spicegl_daemon *d = user;
    for (guint i = output; i < d->remotes->len; i += d->outputs)
        sgl_remote_cursor_move(g_ptr_array_index(d->remotes, i), x, y);
}

static void on_connected(void *user)
{
    struct spicegl_daemon *d = user;
    g_message("QEMU connected: the guest's GPU is up");
    d->qemu_connected = true;
    if (d->qemu)
        qemu_control_start(d->qemu);
}

static void on_gone(void *user, const char *why)
{
    struct spicegl_daemon *d = user;
    g_message("QEMU went away (%s): exiting", why);
    g_main_loop_quit(d->loop);
}

static const struct sgl_source_listener source_listener = {
    .frame = on_frame,
    .cursor_set = on_cursor_set,
    .cursor_move = on_cursor_move,
    .ready = on_ready,
    .connected = on_connected,
    .gone = on_gone,
};

/* ---- from the clients ----------------------------------------------------- */

/* Input goes to the guest through QEMU's D-Bus display (--qmp or
 * --dbus-address). It is also
 * logged at debug level (keystrokes are private), which is how tests of
 * the synthetic source, with no guest, see it. */
static void on_key(uint32_t code, bool down, void *user)
{
    struct spicegl_daemon *d = user;
    g_debug("input: key 0x%x %s", code, down ? "down" : "up");
    if (d->qemu)
        qemu_control_key(d->qemu, code, down);
}

static void on_pointer_rel(int dx, int dy, int dz, uint32_t buttons, void *user)
{
    struct spicegl_daemon *d = user;
    g_debug("input: pointer moved %+d,%+d wheel %+d buttons 0x%x", dx, dy, dz, buttons);
    if (d->qemu) {
        qemu_control_motion(d->qemu, dx, dy);
        if (dz)
            qemu_control_wheel(d->qemu, dz);
        qemu_control_buttons(d->qemu, buttons);
    }
}

static void on_pointer_abs(uint32_t display, int x, int y, uint32_t buttons, void *user)
{
    struct spicegl_daemon *d = user;
    g_debug("input: pointer at %d,%d on display %u buttons 0x%x", x, y, display, buttons);
    if (d->qemu && display < d->outputs) {
        qemu_control_position(d->qemu, display, x, y);
        qemu_control_buttons(d->qemu, buttons);
    }
}

static void on_buttons(uint32_t buttons, void *user)
{
    struct spicegl_daemon *d = user;
    g_debug("input: buttons 0x%x", buttons);
    if (d->qemu)
        qemu_control_buttons(d->qemu, buttons);
}

/* A client's monitor sizes: the source offers them (the GPU to the guest,
 * the synthetic source draws at them), and QEMU tells the guest. */
static void on_monitors(const struct sgl_agent_monitor *m, uint32_t n, void *user)
{
    struct spicegl_daemon *d = user;
    for (uint32_t i = 0; i < n && i < d->outputs; i++) {
        if (!m[i].width || !m[i].height)
            continue;
        sgl_source_request_mode(d->source, i, m[i].width, m[i].height);
        if (d->qemu)
            qemu_control_set_size(d->qemu, i, m[i].width, m[i].height);
    }
    if (!d->qemu && d->options->source == SPICEGL_SOURCE_GPU)
        g_message("without --qmp or --dbus-address the guest cannot be told: it keeps its mode");
}

/* QEMU says whether the VM's pointing device is absolute: client mouse
 * mode only then. */
static void on_absolute(bool absolute, void *user)
{
    struct spicegl_daemon *d = user;
    for (guint i = 0; i < d->pointers->len; i++)
        sgl_pointer_set_enabled(g_ptr_array_index(d->pointers, i), absolute);
}

/* The guest agent's port and the multiplexer, wired together. */
static size_t on_agent_guest_write(const uint8_t *bytes, size_t n, void *user)
{
    struct spicegl_daemon *d = user;
    return qemu_chardev_write(d->agent_port, bytes, n);
}

static void on_agent_guest_hold(bool hold, void *user)
{
    struct spicegl_daemon *d = user;
    qemu_chardev_hold(d->agent_port, hold);
}

static void on_agent_guest_reset(void *user)
{
    struct spicegl_daemon *d = user;
    qemu_chardev_reset(d->agent_port);
}

static const struct sgl_agent_mux_callbacks agent_callbacks = {
    on_agent_guest_write, on_agent_guest_hold, on_agent_guest_reset};

static void on_agent_port_opened(bool open, void *user)
{
    struct spicegl_daemon *d = user;
    sgl_agent_mux_guest_opened(d->agent, open);
}

static void on_agent_port_received(const uint8_t *bytes, size_t n, void *user)
{
    struct spicegl_daemon *d = user;
    sgl_agent_mux_guest_received(d->agent, bytes, n);
}

static void on_agent_port_writable(void *user)
{
    struct spicegl_daemon *d = user;
    sgl_agent_mux_guest_writable(d->agent);
}

static const struct qemu_chardev_callbacks agent_port_callbacks = {
    on_agent_port_opened, on_agent_port_received, on_agent_port_writable};

/* Folder sharing's port, relayed to the first server's clients. */
static size_t on_webdav_to_guest(const uint8_t *bytes, size_t n, void *user)
{
    struct spicegl_daemon *d = user;
    return qemu_chardev_write(d->webdav_port, bytes, n);
}

static void on_webdav_hold_guest(bool hold, void *user)
{
    struct spicegl_daemon *d = user;
    qemu_chardev_hold(d->webdav_port, hold);
}

/* A client left: the guest's spice-webdavd drops its requests. */
static void on_webdav_client(bool connected, void *user)
{
    struct spicegl_daemon *d = user;
    if (!connected)
        qemu_chardev_reset(d->webdav_port);
}

static const struct sgl_port_callbacks webdav_callbacks = {on_webdav_to_guest, on_webdav_hold_guest,
                                                           on_webdav_client};

static void on_webdav_port_opened(bool open, void *user)
{
    struct spicegl_daemon *d = user;
    g_message("folder sharing: the guest's port is %s", open ? "open" : "closed");
    if (d->webdav)
        sgl_port_guest_opened(d->webdav, open);
}

static void on_webdav_port_received(const uint8_t *bytes, size_t n, void *user)
{
    struct spicegl_daemon *d = user;
    if (d->webdav)
        sgl_port_guest_received(d->webdav, bytes, n);
}

static void on_webdav_port_writable(void *user)
{
    struct spicegl_daemon *d = user;
    if (d->webdav)
        sgl_port_guest_writable(d->webdav);
}

static const struct qemu_chardev_callbacks webdav_port_callbacks = {
    on_webdav_port_opened, on_webdav_port_received, on_webdav_port_writable};

static const struct sgl_input_callbacks input_callbacks = {on_key, on_pointer_rel, on_pointer_abs,
                                                           on_buttons, on_monitors};

/* ---- the main loop -------------------------------------------------------- */

static gboolean on_signal(gpointer user)
{
    struct spicegl_daemon *d = user;
    g_message("stopping");
    g_main_loop_quit(d->loop);
    /* Kept: teardown removes it, and a second signal is harmless. */
    return G_SOURCE_CONTINUE;
}

static gboolean log_stats(gpointer user)
{
    struct spicegl_daemon *d = user;
    uint64_t frames = d->source ? sgl_source_frames(d->source) : 0;
    struct sgl_source_gpu_stats gs;
    if (d->source && sgl_source_gpu_stats(d->source, &gs))
        g_message(
            "stats[gpu]: commands %" G_GUINT64_FORMAT ", rejected %" G_GUINT64_FORMAT
            ", flushes %" G_GUINT64_FORMAT ", frames %" G_GUINT64_FORMAT
            ", fences %" G_GUINT64_FORMAT ", resources %u holding %" G_GUINT64_FORMAT
            " bytes, read back %.1f %% of the pictures' pixels (the rest unchanged), %.1f %% "
            "changed",
            gs.commands, gs.rejected, gs.flushes, gs.frames, gs.fences, gs.resources, gs.host_bytes,
            gs.shown_pixels ? 100.0 * (double)gs.read_pixels / (double)gs.shown_pixels : 100.0,
            gs.shown_pixels ? 100.0 * (double)gs.changed_pixels / (double)gs.shown_pixels : 100.0);
    for (guint i = 0; i < d->remotes->len; i++) {
        struct sgl_remote_stats st;
        sgl_remote_get_stats(g_ptr_array_index(d->remotes, i), &st);
        g_message("stats[%u]: frames %" G_GUINT64_FORMAT ", submitted %" G_GUINT64_FORMAT
                  ", encoded %" G_GUINT64_FORMAT ", sent %" G_GUINT64_FORMAT
                  ", dropped %" G_GUINT64_FORMAT " (back-pressure) + %" G_GUINT64_FORMAT
                  " (pacing) + %" G_GUINT64_FORMAT " (encoder busy) + %" G_GUINT64_FORMAT
                  " (no client), unchanged %" G_GUINT64_FORMAT
                  ", %u of %u kbit/s, %" G_GUINT64_FORMAT " bytes, refine passes %" G_GUINT64_FORMAT
                  ", frame to server p50 %.1f ms p95 %.1f ms (last %u)",
                  i, frames, st.encoder.submitted, st.encoder.encoded, st.sent,
                  st.encoder.dropped_pressure, st.encoder.dropped_rate, st.encoder.dropped_busy,
                  st.encoder.dropped_paused, st.encoder.unchanged, st.encoder.bitrate_kbps,
                  st.encoder.target_kbps, st.encoder.bytes, st.encoder.refined,
                  st.latency_p50_us / 1000.0, st.latency_p95_us / 1000.0, st.latency_samples);
    }
    for (guint i = 0; i < d->locals->len; i++) {
        struct sgl_local_stats st;
        sgl_local_get_stats(g_ptr_array_index(d->locals, i), &st);
        g_message("stats[local]: frames %" G_GUINT64_FORMAT ", GL draws %" G_GUINT64_FORMAT
                  " (%" G_GUINT64_FORMAT " shown), scanouts %" G_GUINT64_FORMAT,
                  frames, st.draws, st.done, st.scanouts);
    }
    uint64_t sound = d->audio ? qemu_audio_frames(d->audio) : 0;
    for (guint i = 0; sound && i < d->playbacks->len; i++) {
        struct sgl_playback_stats st;
        sgl_playback_get_stats(g_ptr_array_index(d->playbacks, i), &st);
        g_message("stats[sound %u]: frames %" G_GUINT64_FORMAT " from QEMU (%" G_GUINT64_FORMAT
                  " rejected), dropped %" G_GUINT64_FORMAT
                  " (jitter buffer full), ran dry %" G_GUINT64_FORMAT
                  " times, holds %u ms before sending, left out %" G_GUINT64_FORMAT
                  " silent frames to hold less",
                  i, sound, qemu_audio_rejected(d->audio), st.dropped, st.underruns,
                  st.prebuffer_ms, st.skipped);
    }
    struct qemu_audio_capture_stats cap = {0};
    if (d->audio)
        qemu_audio_get_capture_stats(d->audio, &cap);
    if (cap.heard || cap.silence)
        g_message("stats[microphone]: frames %" G_GUINT64_FORMAT
                  " to QEMU from clients, %" G_GUINT64_FORMAT " of silence without one",
                  cap.heard, cap.silence);
    return G_SOURCE_CONTINUE;
}

/* ---- the VM's sound, to every server's playback ----------------------------- */

static void on_sound_enabled(bool on, void *data)
{
    struct spicegl_daemon *d = data;
    g_message("sound: the VM %s playing", on ? "started" : "stopped");
    for (guint i = 0; i < d->playbacks->len; i++)
        sgl_playback_set_active(g_ptr_array_index(d->playbacks, i), on);
}

static void on_sound_volume(bool mute, uint8_t left, uint8_t right, void *data)
{
    struct spicegl_daemon *d = data;
    for (guint i = 0; i < d->playbacks->len; i++)
        sgl_playback_set_volume(g_ptr_array_index(d->playbacks, i), mute, left, right);
}

static void on_sound_pcm(const int16_t *frames, size_t n, void *data)
{
    struct spicegl_daemon *d = data;
    for (guint i = 0; i < d->playbacks->len; i++)
        sgl_playback_write(g_ptr_array_index(d->playbacks, i), frames, n);
}

/* ---- the VM's recording, from the first server's client that sends ---------- */

static void on_capture_enabled(bool on, void *data)
{
    struct spicegl_daemon *d = data;
    g_message("sound: the VM %s recording", on ? "started" : "stopped");
    for (guint i = 0; i < d->records->len; i++)
        sgl_record_set_active(g_ptr_array_index(d->records, i), on);
}

static void on_capture_volume(bool mute, uint8_t left, uint8_t right, void *data)
{
    struct spicegl_daemon *d = data;
    for (guint i = 0; i < d->records->len; i++)
        sgl_record_set_volume(g_ptr_array_index(d->records, i), mute, left, right);
}

/* One microphone per VM: a second server's client (TCP and the unix
 * socket both with a recording client) is not mixed in, and what it sends
 * is let go so that it does not pile up. */
static size_t on_capture(int16_t *frames, size_t n, void *data)
{
    struct spicegl_daemon *d = data;
    size_t got = 0;
    for (guint i = 0; i < d->records->len; i++) {
        struct sgl_record *r = g_ptr_array_index(d->records, i);
        if (!got)
            got = sgl_record_read(r, frames, n);
        else
            sgl_record_read(r, NULL, n);
    }
    return got;
}

static const struct qemu_audio_callbacks audio_callbacks = {.enabled = on_sound_enabled,
                                                            .volume = on_sound_volume,
                                                            .pcm = on_sound_pcm,
                                                            .capture_enabled = on_capture_enabled,
                                                            .capture_volume = on_capture_volume,
                                                            .capture = on_capture};

/* ---- building ------------------------------------------------------------- */

/* One SPICE server (TCP or the unix socket) with its displays: a GL
 * display for local clients, or one stream per output; its input; and
 * its playback and record channels (the VM's sound both ways, and the
 * audio clock). */
static bool add_server(struct spicegl_daemon *d, bool use_unix, GError **error)
{
    const struct spicegl_options *o = d->options;
    SpiceServer *s = sgl_server_create(&o->server, use_unix, error);
    if (!s)
        return false;
    g_ptr_array_add(d->servers, s);
    if (use_unix && o->local_gl) {
        struct sgl_local *l = sgl_local_create(s, on_monitors, d, error);
        if (!l)
            return false;
        g_ptr_array_add(d->locals, l);
    } else {
        /* More outputs: more stream devices, each a display channel of its own. */
        for (uint32_t k = 0; k < d->outputs; k++) {
            struct sgl_remote *r = sgl_remote_create(s, &o->encoder, error);
            if (!r) {
                g_prefix_error(error, "display %u: ", k);
                return false;
            }
            g_ptr_array_add(d->remotes, r);
        }
        /* Client mouse mode: absolute positions, no pointer grab (not on
         * the unix socket, whose GL path has a display of its own). The
         * synthetic source takes any position; a VM only with a tablet,
         * which QEMU says once its display answers. */
        if (!use_unix) {
            bool absolute = o->source == SPICEGL_SOURCE_SYNTHETIC;
            struct sgl_pointer *p = sgl_pointer_create(s, d->outputs, absolute, error);
            if (!p)
                return false;
            g_ptr_array_add(d->pointers, p);
        }
    }
    /* Sound comes from QEMU's D-Bus display; the clock is for streams. */
    bool clock = o->audio_clock && !(use_unix && o->local_gl);
    if (clock || o->qmp || o->dbus_address) {
        struct sgl_playback *pb = sgl_playback_create(s, clock, error);
        if (!pb) {
            g_prefix_error(error, "%s", clock ? "--audio-clock: " : "sound: ");
            return false;
        }
        g_ptr_array_add(d->playbacks, pb);
    }
    if (o->qmp || o->dbus_address) {
        struct sgl_record *rec = sgl_record_create(s, error);
        if (!rec) {
            g_prefix_error(error, "microphone: ");
            return false;
        }
        g_ptr_array_add(d->records, rec);
    }
    /* Folder sharing: one stream of bytes to the guest, so one server's
     * clients (the first server's: TCP when it listens). */
    if (d->webdav_port && !d->webdav) {
        d->webdav = sgl_port_create(s, "org.spice-space.webdav.0", &webdav_callbacks, d, error);
        if (!d->webdav)
            return false;
    }
    /* USB redirection: one device's bytes, so one server's clients too. */
    if (d->usb_redir && !spicegl_usb_redir_add_server(d->usb_redir, s, error))
        return false;
    struct sgl_input *in = sgl_input_create(s, &input_callbacks, d, d->agent, error);
    if (!in)
        return false;
    g_ptr_array_add(d->inputs, in);
    spice_server_vm_start(s);
    if (use_unix)
        g_message("listening on spice+unix://%s: %s", o->unix_path,
                  o->local_gl ? "GL scanouts of the frame buffers, zero copy (GL-capable clients "
                                "only)"
                  : o->frames_in_fds ? "the H.264 stream (--unix-gl off)"
                                     : "the H.264 stream (the frames are not in dmabufs: no GPU)");
    else
        g_message("listening on spice://%s:%d%s", o->addr ? o->addr : "127.0.0.1", o->server.port,
                  o->ticket ? " (ticket required)" : "");
    return true;
}

static struct sgl_source *create_source(struct spicegl_daemon *d, GError **error)
{
    const struct spicegl_options *o = d->options;
    if (o->source == SPICEGL_SOURCE_SYNTHETIC) {
        struct sgl_synthetic_config sc = {o->width, o->height, o->fps, o->synthetic_memfd};
        struct sgl_source *s = sgl_synthetic_create(&sc, &source_listener, d, error);
        if (!s) {
            g_prefix_error(error, "synthetic source: ");
            return NULL;
        }
        g_message("synthetic source %ux%u at %u fps", o->width, o->height, o->fps);
        return s;
    }
    struct vgpu_thread_config tc = {.socket_path = o->socket_path,
                                    .fd = o->gpu_fd,
                                    .gpu = {.num_scanouts = o->scanouts,
                                            .width = o->width,
                                            .height = o->height,
                                            .max_host_bytes = o->gpu_memory_bytes,
                                            .virgl = true,
                                            .qemu_console = o->qemu_console,
                                            .record_dir = o->record_dir,
                                            .render_node = o->render_node}};
    struct sgl_source *s = vgpu_thread_create(&tc, &source_listener, d, error);
    if (s)
        g_message("GPU: virtio-gpu with virgl 3D (%s), %ux%u preferred; waiting for QEMU on %s",
                  vgpu_thread_renderer(s), o->width, o->height,
                  o->socket_path ? o->socket_path : "the inherited fd");
    return s;
}

struct spicegl_daemon *spicegl_daemon_create(const struct spicegl_options *options, GError **error)
{
    /* spice-server serves one client at a time (a newcomer disconnects the
     * one before) unless this is in its environment when a server is made;
     * the stream channel then streams to all of them. */
    if (!options->single_client)
        g_setenv("SPICE_DEBUG_ALLOW_MC", "1", TRUE);
    /* spice-server writes to clients' sockets with write(2): a client gone
     * before a write (any client, before any ticket is asked) would end the
     * process by SIGPIPE, silently. Ignored, the write fails with EPIPE and
     * spice-server drops that client, as under QEMU, which ignores it too.
     * The same holds for QEMU's sockets when QEMU dies mid-message. */
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(&ignore.sa_mask);
    if (sigaction(SIGPIPE, &ignore, NULL) < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "SIGPIPE: %s",
                    g_strerror(errno));
        return NULL;
    }
    struct spicegl_daemon *d = g_new0(struct spicegl_daemon, 1);
    *d = (struct spicegl_daemon){
        .options = options,
        .loop = g_main_loop_new(NULL, FALSE),
        .servers = g_ptr_array_new(),
        .remotes = g_ptr_array_new_with_free_func((GDestroyNotify)sgl_remote_destroy),
        .locals = g_ptr_array_new_with_free_func((GDestroyNotify)sgl_local_destroy),
        .playbacks = g_ptr_array_new_with_free_func((GDestroyNotify)sgl_playback_destroy),
        .records = g_ptr_array_new_with_free_func((GDestroyNotify)sgl_record_destroy),
        .inputs = g_ptr_array_new_with_free_func((GDestroyNotify)sgl_input_destroy),
        .rates = g_array_new(FALSE, TRUE, sizeof(struct spicegl_rate)),
        .pointers = g_ptr_array_new_with_free_func((GDestroyNotify)sgl_pointer_destroy),
        .outputs = options->scanouts};
    /* First: a path in use fails before anything listens. Commands run
     * from the main loop, once everything is built. */
    if (options->control_path) {
        static const struct sgl_control_handler handler = {spicegl_daemon_execute};
        if (!(d->control = sgl_control_create(options->control_path, &handler, d, error)))
            goto fail;
        g_message("control socket on %s", options->control_path);
    }
    /* The guest's agent, relayed to the servers' agent devices. */
    if (options->qmp || options->dbus_address) {
        d->agent = sgl_agent_mux_create(&agent_callbacks, d, 1u << VD_AGENT_CAP_MONITORS_CONFIG);
        d->agent_port =
            qemu_chardev_create(QEMU_CHARDEV_PORT, "agent port",
                                options->agent_chardev ? options->agent_chardev : "vdagent",
                                "com.redhat.spice.0", &agent_port_callbacks, d);
        d->webdav_port =
            qemu_chardev_create(QEMU_CHARDEV_PORT, "folder sharing port",
                                options->webdav_chardev ? options->webdav_chardev : "webdav",
                                "org.spice-space.webdav.0", &webdav_port_callbacks, d);
        if (options->usb_redir)
            d->usb_redir = spicegl_usb_redir_create(
                options->usb_redir, (const char *const *)options->usb_redir_chardevs);
    }
    if ((options->listen_tcp && !add_server(d, false, error)) ||
        (options->listen_unix && !add_server(d, true, error)))
        goto fail;
    if (options->qmp || options->dbus_address) {
        d->qemu = qemu_control_create(options->qmp, options->dbus_address, on_absolute, d);
        d->audio = qemu_audio_create(&audio_callbacks, d);
        qemu_control_set_audio(d->qemu, d->audio);
        qemu_control_add_port(d->qemu, d->agent_port);
        qemu_control_add_port(d->qemu, d->webdav_port);
        if (d->usb_redir)
            spicegl_usb_redir_add_to_qemu(d->usb_redir, d->qemu);
    }
    d->started_us = g_get_monotonic_time();
    d->ticket = g_strdup(options->ticket);
    g_array_set_size(d->rates, d->remotes->len);
    /* Mesa's on-disk shader cache creates files as shaders compile, which
     * the sandbox forbids: it is off in a sandboxed daemon. */
    if (options->sandbox) {
        g_setenv("MESA_SHADER_CACHE_DISABLE", "true", FALSE);
        g_setenv("MESA_GLSL_CACHE_DISABLE", "true", FALSE);
    }
    if (!(d->source = create_source(d, error)))
        goto fail;
    return d;
fail:
    spicegl_daemon_destroy(d);
    return NULL;
}

bool spicegl_daemon_run(struct spicegl_daemon *d, GError **error)
{
    const struct spicegl_options *o = d->options;
    /* Start-up is over: what is left runs on what it opened. */
    if (o->user && !sgl_sandbox_drop_user(o->user, error))
        return false;
    if (o->sandbox) {
        if (!sgl_sandbox_enter(error))
            return false;
        g_message("sandbox: no_new_privs and seccomp filter on%s%s", o->user ? ", running as " : "",
                  o->user ? o->user : "");
    }
    /* Only now is anything from QEMU or the guest read. */
    sgl_source_start(d->source);
    guint sources[4] = {
        g_unix_signal_add(SIGINT, on_signal, d), g_unix_signal_add(SIGTERM, on_signal, d),
        o->stats_interval_s ? g_timeout_add_seconds(o->stats_interval_s, log_stats, d) : 0,
        d->control ? g_timeout_add_seconds(1, spicegl_daemon_sample_rates, d) : 0};
    g_main_loop_run(d->loop);
    /* Teardown iterates the context (to drain the encoders): none of these
     * may run on a half-freed daemon. */
    for (size_t i = 0; i < G_N_ELEMENTS(sources); i++)
        if (sources[i])
            g_source_remove(sources[i]);
    log_stats(d);
    return true;
}

void spicegl_daemon_destroy(struct spicegl_daemon *d)
{
    if (!d)
        return;
    /* No commands during teardown; the source before the encoders it feeds. */
    sgl_control_destroy(d->control);
    sgl_source_destroy(d->source);
    g_clear_pointer(&d->qemu, qemu_control_destroy);
    g_clear_pointer(&d->audio, qemu_audio_destroy);
    g_clear_pointer(&d->agent_port, qemu_chardev_destroy);
    /* The port leaves its server before the chardev it writes to goes. */
    g_clear_pointer(&d->webdav, sgl_port_destroy);
    g_clear_pointer(&d->webdav_port, qemu_chardev_destroy);
    g_clear_pointer(&d->usb_redir, spicegl_usb_redir_destroy);
    for (guint i = 0; i < d->servers->len; i++)
        spice_server_vm_stop(g_ptr_array_index(d->servers, i));
    g_ptr_array_unref(d->remotes);
    for (guint i = 0; i < d->servers->len; i++)
        spice_server_destroy(g_ptr_array_index(d->servers, i));
    g_ptr_array_unref(d->servers);
    /* The playbacks' timers first: destroying the locals iterates the context. */
    g_ptr_array_unref(d->playbacks);
    g_ptr_array_unref(d->records);
    g_ptr_array_unref(d->locals);
    g_ptr_array_unref(d->inputs);
    g_clear_pointer(&d->agent, sgl_agent_mux_destroy);
    g_ptr_array_unref(d->pointers);
    g_main_loop_unref(d->loop);
    g_array_unref(d->rates);
    if (d->ticket)
        memset(d->ticket, 0, strlen(d->ticket));
    g_free(d->ticket);
    g_free(d);
}
