/* One SPICE server's playback channel: the VM's sound, and the optional
 * media clock.
 *
 * The VM's sound (qemu-audio.h: validated 48 kHz stereo S16 frames) is
 * cut into the buffers spice-server asks for (480 frames, 10 ms, when
 * clients take Opus) and sent to the clients of this server; its volume
 * and mute go with it. spice-server offers the playback channel only to a
 * client that connects while no other is connected: the first keeps it.
 *
 * The media clock (--audio-clock): spice-server <= 0.15 starts a client's
 * clock 400 ms behind; with a playback channel running, spice-gtk follows
 * its audio clock instead, and remote-viewer on its appsink path (Wayland,
 * DISABLE_GSTVIDEOOVERLAY) shows frames ~120 ms after they arrive instead
 * of ~385, in step with its audio output. With the clock on, silence is
 * sent whenever the VM plays nothing, so the channel never stops. It costs
 * remote-viewer's X11 overlay path ~140 ms (docs/spice-display.md), so it
 * is an option.
 *
 * Main context only; destroy after spice_server_destroy(). */
#ifndef SGL_PLAYBACK_H
#define SGL_PLAYBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <spice.h>

struct sgl_playback;

/* clock: keep the channel running with silence while the VM is quiet. */
struct sgl_playback *sgl_playback_create(SpiceServer *server, bool clock, GError **error);
/* Accepts NULL. */
void sgl_playback_destroy(struct sgl_playback *p);

/* The VM's sound started or stopped. */
void sgl_playback_set_active(struct sgl_playback *p, bool on);
/* 0..255 per channel. */
void sgl_playback_set_volume(struct sgl_playback *p, bool mute, uint8_t left, uint8_t right);
/* n frames of interleaved stereo S16 at 48 kHz; ignored while inactive. */
void sgl_playback_write(struct sgl_playback *p, const int16_t *frames, size_t n);

struct sgl_playback_stats {
    uint64_t dropped;      /* frames the full jitter buffer let go */
    uint64_t skipped;      /* silent frames it left out, to hold less */
    uint64_t underruns;    /* times it ran dry while the VM played */
    uint32_t prebuffer_ms; /* what it now holds before sending */
};
void sgl_playback_get_stats(const struct sgl_playback *p, struct sgl_playback_stats *stats);

#endif
