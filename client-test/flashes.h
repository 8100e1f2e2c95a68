/* spicegl-probe's eye for A/V sync (--av-every N): when each Nth marked
 * frame arrived whole (spice-gtk handed it to GStreamer: a client that shows
 * frames as they come, remote-viewer's X11 overlay, shows it a decode
 * later), when it came out of the decoder, and when the display showed it
 * (after spice-gtk's media clock held it). The sound's side, the click
 * that goes with each such frame, is in sound.h.
 *
 * Owned by the probe; probe_flashes_decoded from GStreamer's streaming
 * thread, the rest from the main context. */
#ifndef PROBE_FLASHES_H
#define PROBE_FLASHES_H

#include <stdint.h>

#include <json-glib/json-glib.h>

struct probe_flashes;

/* Each every-th frame (1..100000). */
struct probe_flashes *probe_flashes_create(uint32_t every);
void probe_flashes_destroy(struct probe_flashes *f);

/* A frame reached the display's sink: it arrived at arrived_us and came
 * out of the decoder at decoded_us (real time; 0: unknown). Others than each
 * every-th are left. */
void probe_flashes_decoded(struct probe_flashes *f, uint32_t frame, int64_t arrived_us,
                           int64_t decoded_us);
/* The display showed a frame now. */
void probe_flashes_shown(struct probe_flashes *f, uint32_t frame);

/* Adds the member "flashes": [{frame, arrived_us, decoded_us, shown_us}]
 * (real time, µs; null when unknown or not shown). */
void probe_flashes_report(struct probe_flashes *f, JsonBuilder *b);

#endif
