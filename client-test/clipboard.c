#include "config.h"

#include "client-test/clipboard.h"

#include <stdbool.h>
#include <string.h>

#include <spice/vd_agent.h>

/* The guest's text kept: at most this (a clipboard is unbounded). */
#define MAX_RECEIVED (1u << 20)

struct probe_clipboard {
    char *send;
    SpiceMainChannel *main;
    bool agent_clipboard, grabbed;
    unsigned requests;
    GString *received; /* NULL: nothing came */
};

static const guint32 utf8_type = VD_AGENT_CLIPBOARD_UTF8_TEXT;

static void on_agent_update(SpiceMainChannel *main, gpointer data)
{
    struct probe_clipboard *c = data;
    gboolean connected = FALSE;
    g_object_get(main, "agent-connected", &connected, NULL);
    c->agent_clipboard = connected && spice_main_channel_agent_test_capability(
                                          main, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND);
    if (!c->agent_clipboard)
        c->grabbed = false; /* a new agent starts with nothing of ours */
    if (c->send && c->agent_clipboard && !c->grabbed) {
        spice_main_channel_clipboard_selection_grab(main, VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD,
                                                    (guint32 *)&utf8_type, 1);
        c->grabbed = true;
    }
}

static gboolean on_request(SpiceMainChannel *main, guint selection, guint type, gpointer data)
{
    struct probe_clipboard *c = data;
    if (!c->send || selection != VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD ||
        type != VD_AGENT_CLIPBOARD_UTF8_TEXT)
        return FALSE;
    spice_main_channel_clipboard_selection_notify(main, selection, type, (const guchar *)c->send,
                                                  strlen(c->send));
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
    const guint32 *t = types;
    for (guint i = 0; i < ntypes; i++)
        if (t[i] == VD_AGENT_CLIPBOARD_UTF8_TEXT) {
            spice_main_channel_clipboard_selection_request(main, selection, t[i]);
            return TRUE;
        }
    return TRUE;
}

static void on_selection(SpiceMainChannel *main, guint selection, guint type, gpointer bytes,
                         guint size, gpointer data)
{
    struct probe_clipboard *c = data;
    if (selection != VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD || type != VD_AGENT_CLIPBOARD_UTF8_TEXT)
        return;
    if (!c->received)
        c->received = g_string_new(NULL);
    g_string_truncate(c->received, 0);
    g_string_append_len(c->received, bytes, MIN(size, MAX_RECEIVED));
}

struct probe_clipboard *probe_clipboard_create(const char *send)
{
    struct probe_clipboard *c = g_new0(struct probe_clipboard, 1);
    c->send = g_strdup(send);
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
}
