#include "config.h"

#include "client-test/clipboard.h"

#include <stdbool.h>
#include <string.h>

#include <spice/vd_agent.h>

/* The guest's text kept: at most this (a clipboard is unbounded). */
#define MAX_RECEIVED (1u << 20)

struct probe_clipboard {
    char *send;
    GBytes *png; /* offered instead of text, or NULL */
    SpiceMainChannel *main;
    bool agent_clipboard, grabbed;
    unsigned requests;
    GString *received; /* NULL: nothing came */
    GBytes *received_png;
};

static guint32 offered_type(const struct probe_clipboard *c)
{
    return c->png ? VD_AGENT_CLIPBOARD_IMAGE_PNG : VD_AGENT_CLIPBOARD_UTF8_TEXT;
}

static void on_agent_update(SpiceMainChannel *main, gpointer data)
{
    struct probe_clipboard *c = data;
    gboolean connected = FALSE;
    g_object_get(main, "agent-connected", &connected, NULL);
    c->agent_clipboard = connected && spice_main_channel_agent_test_capability(
                                          main, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND);
    if (!c->agent_clipboard)
        c->grabbed = false; /* a new agent starts with nothing of ours */
    if ((c->send || c->png) && c->agent_clipboard && !c->grabbed) {
        guint32 type = offered_type(c);
        spice_main_channel_clipboard_selection_grab(main, VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD,
                                                    &type, 1);
        c->grabbed = true;
    }
}

static gboolean on_request(SpiceMainChannel *main, guint selection, guint type, gpointer data)
{
    struct probe_clipboard *c = data;
    if ((!c->send && !c->png) || selection != VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD ||
        type != offered_type(c))
        return FALSE;
    gsize size = c->png ? g_bytes_get_size(c->png) : strlen(c->send);
    const guchar *bytes = c->png ? g_bytes_get_data(c->png, NULL) : (const guchar *)c->send;
    spice_main_channel_clipboard_selection_notify(main, selection, type, bytes, size);
    c->requests++;
    return TRUE;
}

static gboolean on_grab(SpiceMainChannel *main, guint selection, gpointer types, guint ntypes,
                        gpointer data)
{
    struct probe_clipboard *c = data;
    if (selection != VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD)
        return FALSE;
    c->grabbed = false; /* the guest owns it now */
    /* Text first, as remote-viewer prefers it. */
    const guint32 *t = types;
    guint32 want = VD_AGENT_CLIPBOARD_NONE;
    for (guint i = 0; i < ntypes; i++)
        if (t[i] == VD_AGENT_CLIPBOARD_UTF8_TEXT ||
            (t[i] == VD_AGENT_CLIPBOARD_IMAGE_PNG && want == VD_AGENT_CLIPBOARD_NONE))
            want = t[i];
    if (want != VD_AGENT_CLIPBOARD_NONE)
        spice_main_channel_clipboard_selection_request(main, selection, want);
    return TRUE;
}

static void on_selection(SpiceMainChannel *main, guint selection, guint type, gpointer bytes,
                         guint size, gpointer data)
{
    struct probe_clipboard *c = data;
    if (selection != VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD)
        return;
    if (type == VD_AGENT_CLIPBOARD_IMAGE_PNG) {
        g_clear_pointer(&c->received_png, g_bytes_unref);
        c->received_png = g_bytes_new(bytes, size);
        return;
    }
    if (type != VD_AGENT_CLIPBOARD_UTF8_TEXT)
        return;
    if (!c->received)
        c->received = g_string_new(NULL);
    g_string_truncate(c->received, 0);
    g_string_append_len(c->received, bytes, MIN(size, MAX_RECEIVED));
}

struct probe_clipboard *probe_clipboard_create(const char *send, GBytes *png)
{
    struct probe_clipboard *c = g_new0(struct probe_clipboard, 1);
    c->send = g_strdup(send);
    c->png = png ? g_bytes_ref(png) : NULL;
    return c;
}

void probe_clipboard_destroy(struct probe_clipboard *c)
{
    if (!c)
        return;
    if (c->main) {
        g_signal_handlers_disconnect_by_data(c->main, c);
        g_object_remove_weak_pointer(G_OBJECT(c->main), (gpointer *)&c->main);
    }
    g_free(c->send);
    g_clear_pointer(&c->png, g_bytes_unref);
    g_clear_pointer(&c->received_png, g_bytes_unref);
    if (c->received)
        g_string_free(c->received, TRUE);
    g_free(c);
}

void probe_clipboard_attach(struct probe_clipboard *c, SpiceMainChannel *main)
{
    c->main = main;
    g_object_add_weak_pointer(G_OBJECT(main), (gpointer *)&c->main);
    g_signal_connect(main, "main-agent-update", G_CALLBACK(on_agent_update), c);
    g_signal_connect(main, "main-clipboard-selection-request", G_CALLBACK(on_request), c);
    g_signal_connect(main, "main-clipboard-selection-grab", G_CALLBACK(on_grab), c);
    g_signal_connect(main, "main-clipboard-selection", G_CALLBACK(on_selection), c);
}

void probe_clipboard_report(const struct probe_clipboard *c, JsonBuilder *b)
{
    json_builder_set_member_name(b, "agent_clipboard");
    json_builder_add_boolean_value(b, c->agent_clipboard);
    json_builder_set_member_name(b, "clipboard_grabbed");
    json_builder_add_boolean_value(b, c->grabbed);
    json_builder_set_member_name(b, "clipboard_requests");
    json_builder_add_int_value(b, c->requests);
    json_builder_set_member_name(b, "clipboard_received");
    if (c->received && g_utf8_validate(c->received->str, (gssize)c->received->len, NULL))
        json_builder_add_string_value(b, c->received->str);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "clipboard_png");
    if (c->received_png) {
        g_autofree char *sha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, c->received_png);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "size");
        json_builder_add_int_value(b, (gint64)g_bytes_get_size(c->received_png));
        json_builder_set_member_name(b, "sha256");
        json_builder_add_string_value(b, sha);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }
}
