#include "config.h"

#include "input.h"

#include <limits.h>

#include <string.h>

#include <gio/gio.h>
#include <spice/vd_agent.h>

/* spice-server hands back the instance: each is first in its wrapper. */
struct kbd {
    SpiceKbdInstance sin;
    struct sgl_input *input;
};
struct mouse {
    SpiceMouseInstance sin;
    struct sgl_input *input;
};
struct tablet {
    SpiceTabletInstance sin;
    struct sgl_input *input;
};
struct agent {
    SpiceCharDeviceInstance sin;
    struct sgl_input *input;
};

struct sgl_input {
    struct sgl_input_callbacks cb;
    void *user;
    struct kbd kbd;
    struct mouse mouse;
    struct tablet tablet;
    struct agent agent;
    struct sgl_scancode scancode;
    int tablet_width, tablet_height;
    struct sgl_agent_parser parser; /* the daemon's part of the agent stream */
    struct sgl_agent_link *link;    /* the stream, relayed (agent-mux.h) */
};

static void kbd_push(SpiceKbdInstance *sin, uint8_t frag)
{
    struct sgl_input *in = ((struct kbd *)sin)->input;
    uint32_t code;
    bool down;
    if (sgl_scancode_feed(&in->scancode, frag, &code, &down) && in->cb.key)
        in->cb.key(code, down, in->user);
}

static uint8_t kbd_leds(SpiceKbdInstance *sin)
{
    return 0;
}

static void mouse_motion(SpiceMouseInstance *sin, int dx, int dy, int dz, uint32_t buttons)
{
    struct sgl_input *in = ((struct mouse *)sin)->input;
    if (in->cb.pointer_rel)
        in->cb.pointer_rel(dx, dy, dz, buttons, in->user);
}

static void mouse_buttons(SpiceMouseInstance *sin, uint32_t buttons)
{
    struct sgl_input *in = ((struct mouse *)sin)->input;
    if (in->cb.buttons)
        in->cb.buttons(buttons, in->user);
}

static void tablet_size(SpiceTabletInstance *sin, int width, int height)
{
    struct sgl_input *in = ((struct tablet *)sin)->input;
    in->tablet_width = width;
    in->tablet_height = height;
}

static void tablet_position(SpiceTabletInstance *sin, int x, int y, uint32_t buttons)
{
    struct sgl_input *in = ((struct tablet *)sin)->input;
    /* Positions outside the logical size are a client's error: clamp. */
    if (in->cb.pointer_abs && in->tablet_width > 0 && in->tablet_height > 0)
        in->cb.pointer_abs(0, CLAMP(x, 0, in->tablet_width - 1), CLAMP(y, 0, in->tablet_height - 1),
                           buttons, in->user);
}

static void tablet_wheel(SpiceTabletInstance *sin, int wheel, uint32_t buttons)
{
    struct sgl_input *in = ((struct tablet *)sin)->input;
    if (in->cb.pointer_rel)
        in->cb.pointer_rel(0, 0, wheel, buttons, in->user);
}

static void tablet_buttons(SpiceTabletInstance *sin, uint32_t buttons)
{
    struct sgl_input *in = ((struct tablet *)sin)->input;
    if (in->cb.buttons)
        in->cb.buttons(buttons, in->user);
}

/* Client mouse mode: the agent's button bits are SPICE's shifted up by
 * one; a wheel step is the U or D bit in one state. Positions past the
 * display are the guest's to clip. */
static void on_mouse_state(struct sgl_input *in, const struct sgl_agent_in *msg)
{
    uint32_t buttons =
        (msg->mouse_buttons >> 1) & ~(SPICE_MOUSE_BUTTON_MASK_UP | SPICE_MOUSE_BUTTON_MASK_DOWN);
    int dz = (msg->mouse_buttons & VD_AGENT_UBUTTON_MASK)   ? -1
             : (msg->mouse_buttons & VD_AGENT_DBUTTON_MASK) ? 1
                                                            : 0;
    if (in->cb.pointer_abs)
        in->cb.pointer_abs(msg->mouse_display, (int)MIN(msg->mouse_x, (uint32_t)INT_MAX),
                           (int)MIN(msg->mouse_y, (uint32_t)INT_MAX), buttons, in->user);
    if (dz && in->cb.pointer_rel)
        in->cb.pointer_rel(0, 0, dz, buttons, in->user);
}

static void on_agent_message(const struct sgl_agent_in *msg, void *user)
{
    struct sgl_input *in = user;
    switch (msg->kind) {
    case SGL_AGENT_IN_CAPABILITIES:
        sgl_agent_link_client_caps(in->link, msg->request);
        break;
    case SGL_AGENT_IN_MONITORS:
        sgl_agent_link_client_monitors(in->link, msg->monitors, msg->n_monitors);
        if (in->cb.monitors)
            in->cb.monitors(msg->monitors, msg->n_monitors, in->user);
        break;
    case SGL_AGENT_IN_CLIENT_GONE:
        sgl_agent_link_client_gone(in->link);
        break;
    case SGL_AGENT_IN_MOUSE:
        on_mouse_state(in, msg);
        break;
    case SGL_AGENT_IN_OTHER:
        break; /* the guest's agent's, relayed by the link */
    }
}

static int agent_write(SpiceCharDeviceInstance *sin, const uint8_t *buf, int len)
{
    struct sgl_input *in = ((struct agent *)sin)->input;
    if (len <= 0)
        return 0;
    size_t n = sgl_agent_link_from_server(in->link, buf, (size_t)len);
    if (n && !sgl_agent_parser_feed(&in->parser, buf, n, on_agent_message, in)) {
        g_warning("agent: malformed data from the client: %s; ignoring it and resynchronising",
                  in->parser.error);
        sgl_agent_parser_init(&in->parser);
    }
    return (int)n;
}

static int agent_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
    struct sgl_input *in = ((struct agent *)sin)->input;
    if (len <= 0)
        return 0;
    return (int)sgl_agent_link_to_server(in->link, buf, (size_t)len);
}

static void agent_state(SpiceCharDeviceInstance *sin, int connected)
{
}

static const SpiceKbdInterface kbd_interface = {
    .base = {.type = SPICE_INTERFACE_KEYBOARD,
             .description = "spicegl keyboard",
             .major_version = SPICE_INTERFACE_KEYBOARD_MAJOR,
             .minor_version = SPICE_INTERFACE_KEYBOARD_MINOR},
    .push_scan_freg = kbd_push,
    .get_leds = kbd_leds,
};

static const SpiceMouseInterface mouse_interface = {
    .base = {.type = SPICE_INTERFACE_MOUSE,
             .description = "spicegl mouse",
             .major_version = SPICE_INTERFACE_MOUSE_MAJOR,
             .minor_version = SPICE_INTERFACE_MOUSE_MINOR},
    .motion = mouse_motion,
    .buttons = mouse_buttons,
};

static const SpiceTabletInterface tablet_interface = {
    .base = {.type = SPICE_INTERFACE_TABLET,
             .description = "spicegl tablet",
             .major_version = SPICE_INTERFACE_TABLET_MAJOR,
             .minor_version = SPICE_INTERFACE_TABLET_MINOR},
    .set_logical_size = tablet_size,
    .position = tablet_position,
    .wheel = tablet_wheel,
    .buttons = tablet_buttons,
};

static const SpiceCharDeviceInterface agent_interface = {
    .base = {.type = SPICE_INTERFACE_CHAR_DEVICE,
             .description = "spicegl agent",
             .major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
             .minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR},
    .state = agent_state,
    .write = agent_write,
    .read = agent_read,
};

static bool add(SpiceServer *server, SpiceBaseInstance *base, const char *what, GError **error)
{
    if (spice_server_add_interface(server, base) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "spice-server refused the %s", what);
        return false;
    }
    return true;
}

static void agent_wakeup(void *data)
{
    struct sgl_input *in = data;
    spice_server_char_device_wakeup(&in->agent.sin);
}

struct sgl_input *sgl_input_create(SpiceServer *server, const struct sgl_input_callbacks *cb,
                                   void *user, struct sgl_agent_mux *mux, GError **error)
{
    struct sgl_input *in = g_new0(struct sgl_input, 1);
    in->cb = *cb;
    in->user = user;
    in->kbd = (struct kbd){.sin.base.sif = &kbd_interface.base, .input = in};
    in->mouse = (struct mouse){.sin.base.sif = &mouse_interface.base, .input = in};
    in->tablet = (struct tablet){.sin.base.sif = &tablet_interface.base, .input = in};
    in->agent = (struct agent){.sin.base.sif = &agent_interface.base, .input = in};
    in->agent.sin.subtype = "vdagent";
    sgl_agent_parser_init(&in->parser);
    in->link = sgl_agent_link_create(mux, agent_wakeup, in);
    if (!add(server, &in->kbd.sin.base, "keyboard", error)) {
        sgl_input_destroy(in); /* nothing was added */
        return NULL;
    }
    if (!add(server, &in->mouse.sin.base, "mouse", error) ||
        !add(server, &in->tablet.sin.base, "tablet", error) ||
        !add(server, &in->agent.sin.base, "agent device", error)) {
        /* The server holds part of it and may call it until it is
         * destroyed: it stays allocated. */
        return NULL;
    }
    return in;
}

void sgl_input_destroy(struct sgl_input *in)
{
    if (!in)
        return;
    /* No removal: spice-server cannot remove a keyboard or mouse. Its
     * spice_server_destroy() (0.15.1) frees the tablet's state but not the
     * keyboard's or the mouse's, plain g_new0() blocks it leaves in our
     * instances: free them, the server being gone. */
    g_free(in->kbd.sin.st);
    g_free(in->mouse.sin.st);
    sgl_agent_link_destroy(in->link);
    g_free(in);
}
