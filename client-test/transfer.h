/* The probe's file transfer to the guest, through the SPICE agent, as
 * remote-viewer's drag and drop does (spice_main_channel_file_copy_async):
 * started once the agent is connected, once; cancelled, as a user's click
 * on remote-viewer's "Cancel" does, once a given number of bytes went.
 * Main context only. */
#ifndef PROBE_TRANSFER_H
#define PROBE_TRANSFER_H

#include <json-glib/json-glib.h>
#include <spice-client.h>

struct probe_transfer;

/* path: the file to send (copied); cancel_after: cancel once this many
 * bytes went (0: never). */
struct probe_transfer *probe_transfer_create(const char *path, gint64 cancel_after);
/* Accepts NULL; cancels a transfer under way. */
void probe_transfer_destroy(struct probe_transfer *t);
void probe_transfer_attach(struct probe_transfer *t, SpiceMainChannel *main);
/* Member "transfer": {started, done, cancelled (by the probe), bytes,
 * started_ms and cancelled_ms (from create, as the probe connects; null
 * when it did not happen), error (null when it succeeded or has not
 * ended)}. */
void probe_transfer_report(const struct probe_transfer *t, JsonBuilder *b);

#endif
