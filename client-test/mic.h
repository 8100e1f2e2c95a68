/* spicegl-probe's microphone: a sine sent on a SPICE record channel.
 *
 * When the server asks the client to record (record-start), a sine of the
 * given frequency at half full scale (-6 dBFS) goes out at real time, in
 * the format and channel count the server asked for, until it asks to stop.
 * The report says how often it was asked and how much was sent.
 *
 * Owned by the probe; main context (spice-gtk's signals) only. */
#ifndef PROBE_MIC_H
#define PROBE_MIC_H

#include <json-glib/json-glib.h>
#include <spice-client.h>

struct probe_mic;

struct probe_mic *probe_mic_create(double hz);
/* Accepts NULL. */
void probe_mic_destroy(struct probe_mic *m);

/* A record channel: its signals are followed from here on. */
void probe_mic_attach(struct probe_mic *m, SpiceRecordChannel *channel);

/* Adds the member "mic" to an object being built. */
void probe_mic_report(struct probe_mic *m, JsonBuilder *b);

#endif
