/* sgl-connect-cycles: connects to a SPICE server, waits for the display
 * stream to start, disconnects, and does it again, N times in one process
 * (the fault test for what a server keeps per client). Prints one JSON
 * line: cycles done, the mean and slowest cycle, and how many cycles had to
 * connect twice because the main channel's link failed (each is named on
 * stderr).
 * Exit 0 when every cycle saw its stream start. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <spice-client.h>

struct cycle {
    SpiceChannel *display;
    int live_channels;
    bool failed;
    bool link_failed; /* the main channel's link, before anything else ran */
    char why[96];     /* what failed, when failed */
};

static void on_channel_event(SpiceChannel *channel, SpiceChannelEvent event, gpointer data)
{
    struct cycle *c = data;
    if (event != SPICE_CHANNEL_OPENED && event != SPICE_CHANNEL_SWITCHING &&
        event != SPICE_CHANNEL_CLOSED && event != SPICE_CHANNEL_NONE &&
        (SPICE_IS_MAIN_CHANNEL(channel) || channel == c->display)) {
        c->failed = true;
        c->link_failed =
            SPICE_IS_MAIN_CHANNEL(channel) && event == SPICE_CHANNEL_ERROR_LINK && !c->display;
        g_snprintf(c->why, sizeof(c->why), "the %s channel reported event %d (SpiceChannelEvent)",
                   SPICE_IS_MAIN_CHANNEL(channel) ? "main" : "display", event);
    }
}

static void on_channel_new(SpiceSession *s, SpiceChannel *channel, gpointer data)
{
    struct cycle *c = data;
    c->live_channels++;
    g_signal_connect(channel, "channel-event", G_CALLBACK(on_channel_event), c);
    gint id;
    g_object_get(channel, "channel-id", &id, NULL);
    if (SPICE_IS_DISPLAY_CHANNEL(channel) && id == 0)
        c->display = channel;
    if (!SPICE_IS_MAIN_CHANNEL(channel))
        spice_channel_connect(channel);
}

static void on_channel_destroy(SpiceSession *s, SpiceChannel *channel, gpointer data)
{
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

/* A key frame's worth of the stream has arrived. */
static bool streaming(struct cycle *c)
{
    guint64 bytes = 0;
    if (c->display)
        g_object_get(c->display, "total-read-bytes", &bytes, NULL);
    return bytes >= 4096;
}

static bool all_gone(struct cycle *c)
{
    return c->live_channels == 0;
}

static bool one_cycle(const char *uri, int64_t *us, char *why, size_t why_size, bool *link_failed)
{
    int64_t t0 = g_get_monotonic_time();
    struct cycle c = {0};
    SpiceSession *s = spice_session_new();
    g_object_set(s, "uri", uri, NULL);
    g_signal_connect(s, "channel-new", G_CALLBACK(on_channel_new), &c);
    g_signal_connect(s, "channel-destroy", G_CALLBACK(on_channel_destroy), &c);
    bool ok = spice_session_connect(s) && iterate_until(&c, streaming, 10 * G_USEC_PER_SEC);
    if (!ok)
        g_strlcpy(why, c.failed ? c.why : "no stream within 10 s", why_size);
    *link_failed = !ok && c.link_failed;
    spice_session_disconnect(s);
    c.failed = false;
    if (!iterate_until(&c, all_gone, 5 * G_USEC_PER_SEC) && ok) {
        g_strlcpy(why, "channels still open 5 s after disconnecting", why_size);
        ok = false;
    }
    g_object_unref(s);
    *us = g_get_monotonic_time() - t0;
    return ok;
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
    int done = 0, relinked = 0;
    int64_t total = 0, slowest = 0;
    for (; done < cycles; done++) {
        int64_t us;
        char why[96] = "";
        bool link_failed = false;
        bool ok = one_cycle(argv[1], &us, why, sizeof(why), &link_failed);
        if (!ok && link_failed) {
            /* Once per cycle: the same failure twice is a failure. */
            fprintf(stderr, "sgl-connect-cycles: cycle %d: %s; connecting again\n", done + 1, why);
            relinked++;
            ok = one_cycle(argv[1], &us, why, sizeof(why), &link_failed);
        }
        if (!ok) {
            fprintf(stderr, "sgl-connect-cycles: cycle %d: %s\n", done + 1, why);
            break;
        }
        total += us;
        slowest = MAX(slowest, us);
    }
    printf("{\"cycles\":%d,\"mean_ms\":%.1f,\"slowest_ms\":%.1f,\"relinked\":%d}\n", done,
           done ? total / 1e3 / done : 0.0, slowest / 1e3, relinked);
    return done == cycles ? 0 : 1;
}
