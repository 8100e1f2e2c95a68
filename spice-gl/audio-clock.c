#include "config.h"

#include "audio-clock.h"

#include <string.h>

#include <gio/gio.h>

struct sgl_audio_clock {
    SpicePlaybackInstance sin; /* first: spice-server hands it back to us */
    GSource *timer;
    int64_t start_us;
    uint64_t samples; /* put so far */
    uint32_t rate;
};

static const SpicePlaybackInterface interface = {
    .base = {.type = SPICE_INTERFACE_PLAYBACK,
             .description = "spicegl media clock",
             .major_version = SPICE_INTERFACE_PLAYBACK_MAJOR,
             .minor_version = SPICE_INTERFACE_PLAYBACK_MINOR},
};

/* Every 10 ms: as many buffers of silence as real time says are due. */
static gboolean tick(gpointer data)
{
    struct sgl_audio_clock *c = data;
    uint64_t due = (uint64_t)(g_get_monotonic_time() - c->start_us) * c->rate / G_USEC_PER_SEC;
    if (due > c->samples + c->rate / 2)
        c->samples = due; /* stalled over half a second: skip, never burst */
    while (c->samples < due) {
        uint32_t *frame = NULL, n = 0;
        spice_server_playback_get_buffer(&c->sin, &frame, &n);
        if (!frame || !n)
            break;
        memset(frame, 0, (size_t)n * 4); /* 16-bit stereo */
        spice_server_playback_put_samples(&c->sin, frame);
        c->samples += n;
    }
    return G_SOURCE_CONTINUE;
}

struct sgl_audio_clock *sgl_audio_clock_create(SpiceServer *server, GError **error)
{
    struct sgl_audio_clock *c = g_new0(struct sgl_audio_clock, 1);
    c->sin.base.sif = &interface.base;
    if (spice_server_add_interface(server, &c->sin.base) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "spice-server refused the playback");
        g_free(c);
        return NULL;
    }
    c->rate = spice_server_get_best_playback_rate(&c->sin);
    spice_server_set_playback_rate(&c->sin, c->rate);
    spice_server_playback_start(&c->sin);
    c->start_us = g_get_monotonic_time();
    c->timer = g_timeout_source_new(10);
    g_source_set_callback(c->timer, tick, c, NULL);
    g_source_attach(c->timer, g_main_context_get_thread_default());
    return c;
}

void sgl_audio_clock_destroy(struct sgl_audio_clock *c)
{
    if (!c)
        return;
    g_source_destroy(c->timer);
    g_source_unref(c->timer);
    g_free(c);
}
