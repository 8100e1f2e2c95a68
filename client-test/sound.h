/* spicegl-probe's ear: what a SPICE playback channel delivers.
 *
 * Keeps the channel's decoded PCM (spice-gtk decodes Opus before handing
 * it out) with each packet's arrival time, and reports: the tone's
 * frequency (rising zero crossings, interpolated), its level (RMS, dBFS),
 * discontinuities (a crossing interval off the median by over 10 %: lost
 * or repeated samples), the longest gap in arrival beyond what the packet
 * before covered, the codec, the channel's bytes per second, and the
 * volume and mute the server set, at the end and each change on the way, and
 * where each click in silence starts (A/V sync, with flashes.h). The first
 * PROBE_SOUND_SKIP_MS of audio are left out of the figures (the stream starting).
 *
 * Owned by the probe; main context (spice-gtk's signals) only. */
#ifndef PROBE_SOUND_H
#define PROBE_SOUND_H

#include <json-glib/json-glib.h>
#include <spice-client.h>

#define PROBE_SOUND_SKIP_MS 200

struct probe_sound;

struct probe_sound *probe_sound_create(void);
void probe_sound_destroy(struct probe_sound *s);

/* A playback channel: its signals are followed from here on. */
void probe_sound_attach(struct probe_sound *s, SpicePlaybackChannel *channel);

/* Adds the member "sound" (null when no audio came) to an object being built. */
void probe_sound_report(struct probe_sound *s, JsonBuilder *b);

#endif
