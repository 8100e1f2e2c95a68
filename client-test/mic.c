#include "config.h"

#include "mic.h"

#include <math.h>
#include <stdint.h>

#define TICK_MS 10
/* A late tick sends what is due, up to this much (ms). */
#define MAX_BURST_MS 200
#define AMPLITUDE    16384.0 /* -6 dBFS */

struct probe_mic {
    double hz;
    SpiceRecordChannel *channel;
    int rate, channels;
    uint32_t starts, stops, bad_format;
    guint timer;
    int64_t start_us;     /* this start */
    uint64_t sent, total; /* frames: since this start, and in all */
    double phase;         /* radians, carried from packet to packet */
    int16_t *buf;
};

static gboolean on_tick(gpointer data)
{
    struct probe_mic *m = data;
    int64_t now = g_get_monotonic_time();
    uint64_t due = (uint64_t)(now - m->start_us) * (uint64_t)m->rate / G_USEC_PER_SEC;
    uint64_t max = (uint64_t)m->rate * MAX_BURST_MS / 1000;
    if (due > m->sent + max)
        m->sent = due - max; /* a stall's worth is not sent at once */
    uint32_t n = (uint32_t)(due - m->sent);
    if (!n)
        return G_SOURCE_CONTINUE;
    double step = 2 * G_PI * m->hz / m->rate;
    for (uint32_t i = 0; i < n; i++) {
        int16_t v = (int16_t)lrint(AMPLITUDE * sin(m->phase));
        for (int c = 0; c < m->channels; c++)
            m->buf[i * m->channels + c] = v;
        m->phase = fmod(m->phase + step, 2 * G_PI);
    }
    spice_record_channel_send_data(m->channel, m->buf, (gsize)n * 2 * m->channels,
                                   (guint32)(now / 1000));
    m->sent += n;
    m->total += n;
    return G_SOURCE_CONTINUE;
}

static void stop_timer(struct probe_mic *m)
{
    if (m->timer)
        g_source_remove(m->timer);
    m->timer = 0;
}

static void on_start(SpiceRecordChannel *ch, gint format, gint channels, gint rate, gpointer data)
{
    struct probe_mic *m = data;
    m->starts++;
    stop_timer(m);
    if (format != SPICE_AUDIO_FMT_S16 || channels < 1 || channels > 2 || rate < 8000 ||
        rate > 48000) {
        m->bad_format++;
        return;
    }
    m->channels = channels;
    m->rate = rate;
    g_free(m->buf);
    m->buf = g_new(int16_t, (size_t)rate * MAX_BURST_MS / 1000 * channels + channels);
    m->start_us = g_get_monotonic_time();
    m->sent = 0;
    m->timer = g_timeout_add(TICK_MS, on_tick, m);
}

static void on_stop(SpiceRecordChannel *ch, gpointer data)
{
    struct probe_mic *m = data;
    m->stops++;
    stop_timer(m);
}

/* The channel went (the session closed it): nothing more is sent. */
static void on_channel_gone(gpointer data, GObject *where)
{
    struct probe_mic *m = data;
    stop_timer(m);
    m->channel = NULL;
}

static void detach(struct probe_mic *m)
{
    stop_timer(m);
    if (!m->channel)
        return;
    g_signal_handlers_disconnect_by_data(m->channel, m);
    g_object_weak_unref(G_OBJECT(m->channel), on_channel_gone, m);
    m->channel = NULL;
}

struct probe_mic *probe_mic_create(double hz)
{
    struct probe_mic *m = g_new0(struct probe_mic, 1);
    m->hz = hz;
    return m;
}

void probe_mic_destroy(struct probe_mic *m)
{
    if (!m)
        return;
    detach(m);
    g_free(m->buf);
    g_free(m);
}

void probe_mic_attach(struct probe_mic *m, SpiceRecordChannel *channel)
{
    detach(m);
    m->channel = channel;
    g_object_weak_ref(G_OBJECT(channel), on_channel_gone, m);
    g_signal_connect(channel, "record-start", G_CALLBACK(on_start), m);
    g_signal_connect(channel, "record-stop", G_CALLBACK(on_stop), m);
}

static void member_int(JsonBuilder *b, const char *name, gint64 v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

void probe_mic_report(struct probe_mic *m, JsonBuilder *b)
{
    json_builder_set_member_name(b, "mic");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "hz");
    json_builder_add_double_value(b, m->hz);
    member_int(b, "starts", m->starts);
    member_int(b, "stops", m->stops);
    member_int(b, "bad_format", m->bad_format);
    member_int(b, "rate", m->rate);
    member_int(b, "channels", m->channels);
    json_builder_set_member_name(b, "seconds_sent");
    json_builder_add_double_value(b, m->rate ? (double)m->total / m->rate : 0.0);
    json_builder_end_object(b);
}
