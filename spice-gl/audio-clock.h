/* An optional playback stream of silence that sets SPICE clients' media
 * clock. spice-server <= 0.15 starts a client's clock 400 ms behind; with a
 * playback channel running, spice-gtk follows its audio clock instead, and
 * clients on its appsink path (Wayland, DISABLE_GSTVIDEOOVERLAY, headless
 * spice-client-glib) show frames ~50 ms after they arrive instead of ~420.
 * It costs remote-viewer's X11 overlay path some latency (measured in
 * the README), so it is an option (--audio-clock).
 * Main context only; destroy after spice_server_destroy(). */
#ifndef SGL_AUDIO_CLOCK_H
#define SGL_AUDIO_CLOCK_H

#include <glib.h>
#include <spice.h>

struct sgl_audio_clock;

struct sgl_audio_clock *sgl_audio_clock_create(SpiceServer *server, GError **error);
void sgl_audio_clock_destroy(struct sgl_audio_clock *clock);

#endif
