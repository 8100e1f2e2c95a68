#include "config.h"

#include "client-test/transfer.h"

#include <stdbool.h>

#include <spice/vd_agent.h>

struct probe_transfer {
    GFile *file;
    SpiceMainChannel *main;
    GCancellable *cancel;
    bool started, done, cancelled;
    goffset bytes, cancel_after;
    gint64 created_us, started_us, cancelled_us; /* monotonic; 0: not yet */
    char *error;
};

static void on_progress(goffset current, goffset total, gpointer data)
{
    struct probe_transfer *t = data;
    t->bytes = current;
    if (t->cancel_after && current >= t->cancel_after && current < total && !t->cancelled) {
        t->cancelled = true;
        t->cancelled_us = g_get_monotonic_time();
        g_cancellable_cancel(t->cancel);
    }
}

/* t is alive here unless cancelled: destroy cancels and waits for nothing,
 * so the cancelled path touches nothing. */
static void on_done(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    gboolean ok = spice_main_channel_file_copy_finish(SPICE_MAIN_CHANNEL(source), res, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    struct probe_transfer *t = data;
    t->done = true;
    if (!ok)
        t->error = g_strdup(error ? error->message : "failed");
}

static void on_agent_update(SpiceMainChannel *main, gpointer data)
{
    struct probe_transfer *t = data;
    gboolean connected = FALSE;
    g_object_get(main, "agent-connected", &connected, NULL);
    /* The guest's agent, not the daemon's alone: it takes the clipboard. */
    if (t->started || !connected ||
        !spice_main_channel_agent_test_capability(main, VD_AGENT_CAP_CLIPBOARD_BY_DEMAND))
        return;
    GFile *files[] = {t->file, NULL};
    t->started = true;
    t->started_us = g_get_monotonic_time();
    spice_main_channel_file_copy_async(main, files, G_FILE_COPY_NONE, t->cancel, on_progress, t,
                                       on_done, t);
}

struct probe_transfer *probe_transfer_create(const char *path, gint64 cancel_after)
{
    struct probe_transfer *t = g_new0(struct probe_transfer, 1);
    t->cancel_after = cancel_after;
    t->file = g_file_new_for_path(path);
    t->cancel = g_cancellable_new();
    t->created_us = g_get_monotonic_time();
    return t;
}

void probe_transfer_destroy(struct probe_transfer *t)
{
    if (!t)
        return;
    g_cancellable_cancel(t->cancel);
    if (t->main) {
        g_signal_handlers_disconnect_by_data(t->main, t);
        g_object_remove_weak_pointer(G_OBJECT(t->main), (gpointer *)&t->main);
    }
    g_object_unref(t->cancel);
    g_object_unref(t->file);
    g_free(t->error);
    g_free(t);
}

void probe_transfer_attach(struct probe_transfer *t, SpiceMainChannel *main)
{
    t->main = main;
    g_object_add_weak_pointer(G_OBJECT(main), (gpointer *)&t->main);
    g_signal_connect(main, "main-agent-update", G_CALLBACK(on_agent_update), t);
}

static void add_ms_since(JsonBuilder *b, const char *name, gint64 from_us, gint64 us)
{
    json_builder_set_member_name(b, name);
    if (us)
        json_builder_add_double_value(b, (us - from_us) / 1000.0);
    else
        json_builder_add_null_value(b);
}

void probe_transfer_report(const struct probe_transfer *t, JsonBuilder *b)
{
    json_builder_set_member_name(b, "transfer");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "started");
    json_builder_add_boolean_value(b, t->started);
    json_builder_set_member_name(b, "done");
    json_builder_add_boolean_value(b, t->done);
    json_builder_set_member_name(b, "cancelled");
    json_builder_add_boolean_value(b, t->cancelled);
    json_builder_set_member_name(b, "bytes");
    json_builder_add_int_value(b, t->bytes);
    add_ms_since(b, "started_ms", t->created_us, t->started_us);
    add_ms_since(b, "cancelled_ms", t->created_us, t->cancelled_us);
    json_builder_set_member_name(b, "error");
    if (t->error)
        json_builder_add_string_value(b, t->error);
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);
}
