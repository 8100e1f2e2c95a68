/* The probe's clipboard, through the SPICE agent (the main channel), as
 * remote-viewer's is: text (UTF-8) and PNG images.
 *   - send: once the agent can take the clipboard (VD_AGENT_CAP_CLIPBOARD_
 *     BY_DEMAND), the probe owns the clipboard with the text or the image
 *     and answers each request with it;
 *   - receive: when the guest takes the clipboard with text or a PNG, the
 *     probe asks for it and keeps what came (the last of each).
 * Main context only. */
#ifndef PROBE_CLIPBOARD_H
#define PROBE_CLIPBOARD_H

#include <json-glib/json-glib.h>
#include <spice-client.h>

struct probe_clipboard;

/* send: the text to offer, or NULL (copied); png: an image to offer
 * instead, or NULL (referenced). */
struct probe_clipboard *probe_clipboard_create(const char *send, GBytes *png);
/* Accepts NULL. */
void probe_clipboard_destroy(struct probe_clipboard *c);
void probe_clipboard_attach(struct probe_clipboard *c, SpiceMainChannel *main);
/* Members: agent_clipboard (the agent could take it), clipboard_grabbed
 * (the probe took it), clipboard_requests (answered), clipboard_received
 * (the guest's text or null), clipboard_png ({size, sha256} of the guest's
 * image, or null). */
void probe_clipboard_report(const struct probe_clipboard *c, JsonBuilder *b);

#endif
