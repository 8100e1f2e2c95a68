/* sgl-connect-cycles: connects to a SPICE server, waits for the first
 * decoded picture of display 0, disconnects, and does it again, N times in
 * one process (the fault test for what a server keeps per client). Prints
 * one JSON line: cycles done, the mean and slowest cycle. Exit 0 when every
 * cycle saw its picture; a failed cycle ends the run, named on stderr with
 * spice-gtk's own account of it. Nothing is tried twice.
 *
 * A cycle ends only when every object of its client is gone: spice-gtk
 * runs a channel's coroutine on after the session dropped the channel, so
 * without that wait one cycle's late socket work overlaps the next
 * cycle's links, which no real client does. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <spice-client.h>

/* spice-gtk's debug and info lines (domains GSpice and Spice) of the
 * current cycle, the latest last: what a failed cycle prints. */
struct gtk_said {
    GQueue lines;
};

#define GTK_SAID_KEEP 80

static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                   gpointer data)
{
    struct gtk_said *said = data;
    const char *domain = NULL, *message = NULL;
    for (gsize i = 0; i < n_fields; i++) {
        if (g_str_equal(fields[i].key, "GLIB_DOMAIN"))
            domain = fields[i].value;
        else if (g_str_equal(fields[i].key, "MESSAGE"))
            message = fields[i].value;
    }
    if (!(level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) ||
        (g_strcmp0(domain, "GSpice") != 0 && g_strcmp0(domain, "Spice") != 0))
        return g_log_writer_default(level, fields, n_fields, NULL);
    /* The time as tcpdump -tttt prints it, to match a packet capture. */
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *at = g_date_time_format(now, "%H:%M:%S.%f");
    g_queue_push_tail(&said->lines, g_strdup_printf("%s %s", at, message ? message : ""));
    while (said->lines.length > GTK_SAID_KEEP)
        g_free(g_queue_pop_head(&said->lines));
    return G_LOG_WRITER_HANDLED;
}

static void gtk_said_print(struct gtk_said *said, int cycle)
{
    for (GList *l = said->lines.head; l; l = l->next)
        fprintf(stderr, "sgl-connect-cycles: cycle %d: spice-gtk: %s\n", cycle, (char *)l->data);
}

static void gtk_said_clear(struct gtk_said *said)
{
    g_queue_clear_full(&said->lines, g_free);
}

struct cycle {
    SpiceChannel *display;
    int live_channels;
    int live_objects;  /* the session and its channels, until finalized */
    unsigned pictures; /* decoded pictures drawn on display 0 */
    bool failed;
    char why[96]; /* what failed, when failed */
};

static void on_channel_event(SpiceChannel *channel, SpiceChannelEvent event, gpointer data)
{
    struct cycle *c = data;
    if (event != SPICE_CHANNEL_OPENED && event != SPICE_CHANNEL_SWITCHING &&
        event != SPICE_CHANNEL_CLOSED && event != SPICE_CHANNEL_NONE &&
        (SPICE_IS_MAIN_CHANNEL(channel) || channel == c->display)) {
        c->failed = true;
        g_snprintf(c->why, sizeof(c->why), "the %s channel reported event %d (SpiceChannelEvent)",
                   SPICE_IS_MAIN_CHANNEL(channel) ? "main" : "display", event);
    }
}

/* spice-gtk decoded a picture of the stream and drew it on the display's
 * primary surface: one that is not all black (the surface's colour before
 * any picture) counts. */
static void on_invalidate(SpiceChannel *channel, gint x, gint y, gint w, gint h, gpointer data)
{
    struct cycle *c = data;
    SpiceDisplayPrimary p;
    if (!spice_display_channel_get_primary(channel, 0, &p) || !p.data || x < 0 || y < 0 || w <= 0 ||
        h <= 0 || x + w > p.width || y + h > p.height)
        return;
    for (gint row = y; row < y + h; row++) {
        const guint32 *px = (const guint32 *)(p.data + (gsize)row * p.stride) + x;
        for (gint i = 0; i < w; i++)
            if (px[i] & 0xffffff) {
                c->pictures++;
                return;
            }
    }
}

static void on_finalized(gpointer data, GObject *gone)
{
    ((struct cycle *)data)->live_objects--;
}

static void on_channel_new(SpiceSession *s, SpiceChannel *channel, gpointer data)
{
    struct cycle *c = data;
    c->live_channels++;
    c->live_objects++;
    g_object_weak_ref(G_OBJECT(channel), on_finalized, c);
    g_signal_connect(channel, "channel-event", G_CALLBACK(on_channel_event), c);
    gint id;
    g_object_get(channel, "channel-id", &id, NULL);
    if (SPICE_IS_DISPLAY_CHANNEL(channel) && id == 0) {
        c->display = channel;
        g_signal_connect(channel, "display-invalidate", G_CALLBACK(on_invalidate), c);
    }
    if (!SPICE_IS_MAIN_CHANNEL(channel))
        spice_channel_connect(channel);
}

/* spice-gtk may still run a destroyed channel's coroutine, and emit its
 * events: they belong to no cycle. */
static void on_channel_destroy(SpiceSession *s, SpiceChannel *channel, gpointer data)
{
    g_signal_handlers_disconnect_by_data(channel, data);
    ((struct cycle *)data)->live_channels--;
}

/* Iterates the default context until done(c) or timeout. */
static bool iterate_until(struct cycle *c, bool (*done)(struct cycle *), int64_t timeout_us)
{
    int64_t end = g_get_monotonic_time() + timeout_us;
    while (!done(c) && !c->failed && g_get_monotonic_time() < end)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(2000);
    return done(c);
}

static bool have_picture(struct cycle *c)
{
    return c->pictures > 0;
}

static bool all_gone(struct cycle *c)
{
    return c->live_channels == 0;
}

static bool all_finalized(struct cycle *c)
{
    return c->live_objects == 0;
}

/* One client. A cycle whose objects outlive it is not ok, and stays
 * allocated: their weak references still point at it. */
static void one_cycle(const char *uri, int64_t *us, char *why, size_t why_size, bool *ok)
{
    int64_t t0 = g_get_monotonic_time();
    struct cycle *c = g_new0(struct cycle, 1);
    SpiceSession *s = spice_session_new();
    c->live_objects = 1;
    g_object_weak_ref(G_OBJECT(s), on_finalized, c);
    g_object_set(s, "uri", uri, NULL);
    g_signal_connect(s, "channel-new", G_CALLBACK(on_channel_new), c);
    g_signal_connect(s, "channel-destroy", G_CALLBACK(on_channel_destroy), c);
    *ok = spice_session_connect(s) && iterate_until(c, have_picture, 10 * G_USEC_PER_SEC);
    if (!*ok)
        g_strlcpy(why, c->failed ? c->why : "no decoded picture within 10 s", why_size);
    spice_session_disconnect(s);
    c->failed = false;
    if (!iterate_until(c, all_gone, 5 * G_USEC_PER_SEC) && *ok) {
        g_strlcpy(why, "channels still open 5 s after disconnecting", why_size);
        *ok = false;
    }
    g_signal_handlers_disconnect_by_data(s, c);
    g_object_unref(s);
    bool gone = iterate_until(c, all_finalized, 5 * G_USEC_PER_SEC);
    if (!gone && *ok) {
        g_snprintf(why, why_size, "%d of the client's objects still alive 5 s after disconnecting",
                   c->live_objects);
        *ok = false;
    }
    *us = g_get_monotonic_time() - t0;
    if (gone)
        g_free(c);
}

int main(int argc, char **argv)
{
    gint cycles = 200;
    GOptionEntry entries[] = {
        {"cycles", 0, 0, G_OPTION_ARG_INT, &cycles, "Connect/disconnect cycles (default 200)", "N"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("spice://HOST:PORT - connect and leave");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2 || cycles < 1) {
        fprintf(stderr, "sgl-connect-cycles: %s\n",
                error ? error->message : "give one spice:// URI and --cycles >= 1");
        return 2;
    }
    struct gtk_said said = {G_QUEUE_INIT};
    g_log_set_writer_func(log_writer, &said, NULL);
    spice_util_set_debug(TRUE);
    int done = 0;
    int64_t total = 0, slowest = 0;
    for (; done < cycles; done++) {
        int64_t us;
        char why[96] = "";
        bool ok;
        gtk_said_clear(&said);
        /* A cycle whose objects outlived it is not ok: the loop ends (and
         * leaves them to their weak references). */
        one_cycle(argv[1], &us, why, sizeof(why), &ok);
        if (!ok) {
            gtk_said_print(&said, done + 1);
            fprintf(stderr, "sgl-connect-cycles: cycle %d: %s\n", done + 1, why);
            break;
        }
        total += us;
        slowest = MAX(slowest, us);
    }
    gtk_said_clear(&said);
    printf("{\"cycles\":%d,\"mean_ms\":%.1f,\"slowest_ms\":%.1f}\n", done,
           done ? total / 1e3 / done : 0.0, slowest / 1e3);
    return done == cycles ? 0 : 1;
}
