#include "config.h"

#include "qmp-input.h"

#include <glib.h>

struct vgpu_qmp_input {
    struct vgpu_qmp *qmp; /* not ours */
    uint32_t buttons;
};

static void send_events(struct vgpu_qmp_input *q, const char *events)
{
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[%s]}}", events);
    vgpu_qmp_send(q->qmp, cmd, -1);
}

struct vgpu_qmp_input *vgpu_qmp_input_create(struct vgpu_qmp *qmp)
{
    struct vgpu_qmp_input *q = g_new0(struct vgpu_qmp_input, 1);
    q->qmp = qmp;
    return q;
}

void vgpu_qmp_input_destroy(struct vgpu_qmp_input *q)
{
    g_free(q);
}

void vgpu_qmp_input_key(struct vgpu_qmp_input *q, uint32_t scancode, bool down)
{
    /* QEMU numbers extended keys 0x80 | code; Pause has a qcode of its own. */
    uint32_t number;
    if (scancode < 0x80)
        number = scancode;
    else if ((scancode & 0xff00) == 0xe000 && (scancode & 0xff) < 0x80)
        number = 0x80 | (scancode & 0x7f);
    else if (scancode == 0xe11d) {
        g_autofree char *ev = g_strdup_printf(
            "{\"type\":\"key\",\"data\":{\"down\":%s,\"key\":{\"type\":\"qcode\",\"data\":"
            "\"pause\"}}}",
            down ? "true" : "false");
        send_events(q, ev);
        return;
    } else {
        g_debug("input: scancode 0x%x has no QEMU number; dropped", scancode);
        return;
    }
    g_autofree char *ev = g_strdup_printf(
        "{\"type\":\"key\",\"data\":{\"down\":%s,\"key\":{\"type\":\"number\",\"data\":%u}}}",
        down ? "true" : "false", number);
    send_events(q, ev);
}

void vgpu_qmp_input_motion(struct vgpu_qmp_input *q, int dx, int dy)
{
    if (!dx && !dy)
        return;
    g_autofree char *ev =
        g_strdup_printf("{\"type\":\"rel\",\"data\":{\"axis\":\"x\",\"value\":%d}},"
                        "{\"type\":\"rel\",\"data\":{\"axis\":\"y\",\"value\":%d}}",
                        dx, dy);
    send_events(q, ev);
}

void vgpu_qmp_input_wheel(struct vgpu_qmp_input *q, int dz)
{
    const char *button = dz < 0 ? "wheel-up" : "wheel-down";
    for (int i = 0; i < ABS(dz) && i < 16; i++) {
        g_autofree char *ev =
            g_strdup_printf("{\"type\":\"btn\",\"data\":{\"down\":true,\"button\":\"%s\"}},"
                            "{\"type\":\"btn\",\"data\":{\"down\":false,\"button\":\"%s\"}}",
                            button, button);
        send_events(q, ev);
    }
}

void vgpu_qmp_input_position(struct vgpu_qmp_input *q, int x, int y, int width, int height)
{
    if (width <= 0 || height <= 0)
        return;
    long ax = (long)CLAMP(x, 0, width - 1) * 0x7fff / MAX(width - 1, 1);
    long ay = (long)CLAMP(y, 0, height - 1) * 0x7fff / MAX(height - 1, 1);
    g_autofree char *ev =
        g_strdup_printf("{\"type\":\"abs\",\"data\":{\"axis\":\"x\",\"value\":%ld}},"
                        "{\"type\":\"abs\",\"data\":{\"axis\":\"y\",\"value\":%ld}}",
                        ax, ay);
    send_events(q, ev);
}

void vgpu_qmp_input_buttons(struct vgpu_qmp_input *q, uint32_t buttons)
{
    static const struct {
        uint32_t mask;
        const char *name;
    } map[] = {{1u << 0, "left"}, {1u << 1, "middle"}, {1u << 2, "right"}};
    uint32_t changed = buttons ^ q->buttons;
    q->buttons = buttons;
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
        if (!(changed & map[i].mask))
            continue;
        g_autofree char *ev =
            g_strdup_printf("{\"type\":\"btn\",\"data\":{\"down\":%s,\"button\":\"%s\"}}",
                            buttons & map[i].mask ? "true" : "false", map[i].name);
        send_events(q, ev);
    }
}
