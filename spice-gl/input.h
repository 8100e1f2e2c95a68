/* Input from SPICE clients, and their monitor-config (resize) requests,
 * delivered to one small set of callbacks: the frame source (the
 * virtio-gpu backend, or --synthetic) decides what to do with them.
 *
 * Keys arrive as PC set-1 scancodes assembled from spice-server's byte
 * fragments: 0x00..0x7f, 0xe0xx for extended keys, 0xe11d for Pause.
 * Buttons are SPICE_MOUSE_BUTTON_MASK_* bits. In client mouse mode (which
 * spice-server grants only with a QXL display: the local GL path, or
 * pointer.h beside the streams) positions are absolute, in the pixels of
 * the display the pointer is over; in server mouse mode the pointer moves
 * relatively. All callbacks run on the server's main context; any may be
 * NULL. */
#ifndef SGL_INPUT_H
#define SGL_INPUT_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <spice.h>

#include "agent-mux.h"
#include "agent-protocol.h"

struct sgl_input_callbacks {
    void (*key)(uint32_t scancode, bool down, void *user);
    void (*pointer_rel)(int dx, int dy, int dz, uint32_t buttons, void *user);
    void (*pointer_abs)(uint32_t display, int x, int y, uint32_t buttons, void *user);
    void (*buttons)(uint32_t buttons, void *user);
    void (*monitors)(const struct sgl_agent_monitor *monitors, uint32_t n, void *user);
};

/* Assembles set-1 scancodes from single bytes. */
struct sgl_scancode {
    uint8_t prefix;  /* 0, 0xe0 or 0xe1 */
    uint8_t pending; /* bytes of a Pause sequence still to come */
};

/* True when byte completes a key: *code and *down say which. */
bool sgl_scancode_feed(struct sgl_scancode *sc, uint8_t byte, uint32_t *code, bool *down);

struct sgl_input;

/* Registers keyboard, mouse, tablet and agent with the server; the agent
 * device is a link of mux (NULL: no guest agent; the daemon answers alone),
 * which must outlive the input. Callbacks run on the server's main context.
 * Destroy only after spice_server_destroy(): spice-server cannot remove a
 * keyboard or mouse. */
struct sgl_input *sgl_input_create(SpiceServer *server, const struct sgl_input_callbacks *cb,
                                   void *user, struct sgl_agent_mux *mux, GError **error);
void sgl_input_destroy(struct sgl_input *input);

#endif
