#include "config.h"

#include "sound.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* At most this much audio is kept: 2 min of 48 kHz. */
#define MAX_FRAMES (48000 * 120)
/* At most this many volume and mute changes are kept. */
#define MAX_LEVEL_CHANGES 64
/* Clicks (A/V sync): the first sample of a channel over CLICK_QUIET after
 * at least CLICK_QUIET_MS under it starts one if a sample within CLICK_RISE
 * is over CLICK_LOUD; at most MAX_CLICKS are reported. */
#define CLICK_RISE     240u
#define CLICK_LOUD     6000.0
#define CLICK_QUIET    1000.0
#define CLICK_QUIET_MS 100
#define MAX_CLICKS     4096

struct packet {
    int64_t at_us;   /* arrival */
    int64_t real_us; /* the same, in real time (for sound.h's clicks) */
    uint64_t offset; /* its first frame's index */
    uint32_t frames;
};

/* The volume and mute the server set, as a change left them. */
struct level_change {
    int64_t at_us;
    int volume; /* the first channel's, 0..65535; -1 before the server set one */
    bool mute;
};

struct probe_sound {
    SpicePlaybackChannel *channel;
    int rate, channels;
    bool started;
    uint32_t starts, stops;
    GArray *mono;    /* float, the channels' sum */
    GArray *packets; /* struct packet */
    GArray *levels;  /* struct level_change */
    int64_t attached_us;
    int64_t start_us;
    guint64 bytes_at_start;
};

static void on_start(SpicePlaybackChannel *ch, gint format, gint channels, gint rate, gpointer data)
{
    struct probe_sound *s = data;
    s->starts++;
    s->channels = channels;
    s->rate = rate;
    if (!s->started) {
        s->started = true;
        s->start_us = g_get_monotonic_time();
        g_object_get(ch, "total-read-bytes", &s->bytes_at_start, NULL);
    }
}

static void on_stop(SpicePlaybackChannel *ch, gpointer data)
{
    struct probe_sound *s = data;
    s->stops++;
}

static void on_data(SpicePlaybackChannel *ch, gpointer audio, gint size, gpointer data)
{
    struct probe_sound *s = data;
    if (s->channels < 1 || s->channels > 8 || size <= 0)
        return;
    uint32_t n = (uint32_t)size / (2u * (uint32_t)s->channels);
    if (!n || s->mono->len + n > MAX_FRAMES)
        return;
    struct packet pk = {g_get_monotonic_time(), g_get_real_time(), s->mono->len, n};
    g_array_append_val(s->packets, pk);
    const uint8_t *bytes = audio;
    for (uint32_t i = 0; i < n; i++) {
        float sum = 0;
        for (int c = 0; c < s->channels; c++) {
            int16_t v;
            memcpy(&v, bytes + ((size_t)i * (size_t)s->channels + (size_t)c) * 2, 2);
            sum += v;
        }
        g_array_append_val(s->mono, sum);
    }
}

struct probe_sound *probe_sound_create(void)
{
    struct probe_sound *s = g_new0(struct probe_sound, 1);
    s->mono = g_array_new(FALSE, FALSE, sizeof(float));
    s->packets = g_array_new(FALSE, FALSE, sizeof(struct packet));
    s->levels = g_array_new(FALSE, FALSE, sizeof(struct level_change));
    return s;
}

void probe_sound_destroy(struct probe_sound *s)
{
    if (!s)
        return;
    if (s->channel)
        g_signal_handlers_disconnect_by_data(s->channel, s);
    g_clear_object(&s->channel);
    g_array_unref(s->mono);
    g_array_unref(s->packets);
    g_array_unref(s->levels);
    g_free(s);
}

/* The channel's volume and mute as they are now. */
static struct level_change current_level(SpicePlaybackChannel *ch)
{
    gboolean mute = FALSE;
    guint nch = 0;
    gpointer vol = NULL;
    g_object_get(ch, "mute", &mute, "nchannels", &nch, "volume", &vol, NULL);
    return (struct level_change){g_get_monotonic_time(),
                                 vol && nch ? ((const guint16 *)vol)[0] : -1, mute};
}

/* A volume or mute message from the server (spice-gtk notifies each). */
static void on_level(GObject *ch, GParamSpec *pspec, gpointer data)
{
    struct probe_sound *s = data;
    struct level_change c = current_level(SPICE_PLAYBACK_CHANNEL(ch));
    const struct level_change *last =
        s->levels->len ? &g_array_index(s->levels, struct level_change, s->levels->len - 1) : NULL;
    if ((last && last->volume == c.volume && last->mute == c.mute) ||
        s->levels->len >= MAX_LEVEL_CHANGES)
        return;
    g_array_append_val(s->levels, c);
}

void probe_sound_attach(struct probe_sound *s, SpicePlaybackChannel *channel)
{
    if (s->channel)
        return; /* one playback channel per session */
    s->channel = g_object_ref(channel);
    g_signal_connect(channel, "playback-start", G_CALLBACK(on_start), s);
    g_signal_connect(channel, "playback-stop", G_CALLBACK(on_stop), s);
    g_signal_connect(channel, "playback-data", G_CALLBACK(on_data), s);
    g_signal_connect(channel, "notify::volume", G_CALLBACK(on_level), s);
    g_signal_connect(channel, "notify::mute", G_CALLBACK(on_level), s);
    s->attached_us = g_get_monotonic_time();
}

/* Rising zero crossings after skip, at fractional sample positions. */
static GArray *crossings(const float *x, uint64_t skip, uint64_t n)
{
    GArray *at = g_array_new(FALSE, FALSE, sizeof(double));
    for (uint64_t i = skip + 1; i < n; i++)
        if (x[i - 1] < 0 && x[i] >= 0) {
            double t = (double)(i - 1) + x[i - 1] / (x[i - 1] - x[i]);
            g_array_append_val(at, t);
        }
    return at;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Where each click starts, as the time its sample reached the client: its
 * packet's arrival plus its place in the packet (as a client that plays each
 * packet as it comes would play it). */
static void report_clicks(struct probe_sound *s, JsonBuilder *b)
{
    const float *x = (const float *)s->mono->data;
    const struct packet *pk = (const struct packet *)s->packets->data;
    uint64_t quiet = 0, need = (uint64_t)s->rate * CLICK_QUIET_MS / 1000;
    guint packet = 0, clicks = 0;
    json_builder_set_member_name(b, "clicks_at_us");
    json_builder_begin_array(b);
    for (uint64_t i = 0; i < s->mono->len && clicks < MAX_CLICKS; i++) {
        double a = fabs(x[i]) / s->channels;
        if (a < CLICK_QUIET) {
            quiet++;
            continue;
        }
        /* It starts where a quiet stretch ends, if it is loud soon after. */
        bool loud = false;
        for (uint64_t j = i; quiet >= need && j < s->mono->len && j < i + CLICK_RISE && !loud; j++)
            loud = fabs(x[j]) / s->channels > CLICK_LOUD;
        if (loud) {
            while (packet + 1 < s->packets->len && pk[packet + 1].offset <= i)
                packet++;
            json_builder_add_int_value(
                b, pk[packet].real_us + (int64_t)((i - pk[packet].offset) * 1000000u / s->rate));
            clicks++;
        }
        quiet = 0;
    }
    json_builder_end_array(b);
}

void probe_sound_report(struct probe_sound *s, JsonBuilder *b)
{
    json_builder_set_member_name(b, "sound");
    uint64_t skip = (uint64_t)s->rate * PROBE_SOUND_SKIP_MS / 1000;
    if (!s->started || !s->rate || s->mono->len <= skip + (uint64_t)s->rate / 10) {
        json_builder_add_null_value(b);
        return;
    }
    const float *x = (const float *)s->mono->data;
    uint64_t n = s->mono->len;
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "rate");
    json_builder_add_int_value(b, s->rate);
    json_builder_set_member_name(b, "channels");
    json_builder_add_int_value(b, s->channels);
    json_builder_set_member_name(b, "seconds");
    json_builder_add_double_value(b, (double)n / s->rate);
    json_builder_set_member_name(b, "starts");
    json_builder_add_int_value(b, s->starts);
    json_builder_set_member_name(b, "stops");
    json_builder_add_int_value(b, s->stops);
    /* The mode spice-server picks: Opus when both ends have it. */
    json_builder_set_member_name(b, "codec");
    json_builder_add_string_value(
        b, spice_channel_test_capability(SPICE_CHANNEL(s->channel), SPICE_PLAYBACK_CAP_OPUS)
               ? "opus"
               : "raw");
    guint64 bytes = 0;
    g_object_get(s->channel, "total-read-bytes", &bytes, NULL);
    double span_s = (g_get_monotonic_time() - s->start_us) / 1e6;
    json_builder_set_member_name(b, "bytes_per_s");
    json_builder_add_double_value(b, span_s > 0 ? (bytes - s->bytes_at_start) / span_s : 0);

    /* Level: RMS of the sum, in dB below a full-scale sine of one channel. */
    double sq = 0;
    for (uint64_t i = skip; i < n; i++)
        sq += (double)x[i] * x[i];
    double rms = sqrt(sq / (double)(n - skip));
    json_builder_set_member_name(b, "level_dbfs");
    json_builder_add_double_value(b, rms > 0 ? 20 * log10(rms / (32767 / sqrt(2))) : -200);

    g_autoptr(GArray) at = crossings(x, skip, n);
    double hz = 0;
    uint32_t discontinuities = 0;
    double where_s[10]; /* the first few, in seconds of audio */
    if (at->len >= 3) {
        const double *t = (const double *)at->data;
        hz = (double)(at->len - 1) * s->rate / (t[at->len - 1] - t[0]);
        g_autofree double *d = g_new(double, at->len - 1);
        for (guint i = 1; i < at->len; i++)
            d[i - 1] = t[i] - t[i - 1];
        qsort(d, at->len - 1, sizeof(double), cmp_double);
        double median = d[(at->len - 1) / 2];
        for (guint i = 1; i < at->len; i++)
            if (fabs((t[i] - t[i - 1]) - median) > 0.1 * median) {
                if (discontinuities < G_N_ELEMENTS(where_s))
                    where_s[discontinuities] = t[i] / s->rate;
                discontinuities++;
            }
    }
    json_builder_set_member_name(b, "frequency_hz");
    json_builder_add_double_value(b, hz);
    json_builder_set_member_name(b, "discontinuities");
    json_builder_add_int_value(b, discontinuities);
    json_builder_set_member_name(b, "discontinuities_at_s");
    json_builder_begin_array(b);
    for (uint32_t i = 0; i < MIN(discontinuities, G_N_ELEMENTS(where_s)); i++)
        json_builder_add_double_value(b, where_s[i]);
    json_builder_end_array(b);

    /* Arrival: how long past the end of what the packet before covered. */
    double max_gap_ms = 0;
    const struct packet *pk = (const struct packet *)s->packets->data;
    for (guint i = 1; i < s->packets->len; i++) {
        if (pk[i].offset < skip)
            continue;
        double covered_ms = pk[i - 1].frames * 1000.0 / s->rate;
        double gap_ms = (pk[i].at_us - pk[i - 1].at_us) / 1000.0 - covered_ms;
        max_gap_ms = MAX(max_gap_ms, gap_ms);
    }
    json_builder_set_member_name(b, "max_gap_ms");
    json_builder_add_double_value(b, max_gap_ms);

    struct level_change now = current_level(s->channel);
    json_builder_set_member_name(b, "mute");
    json_builder_add_boolean_value(b, now.mute);
    json_builder_set_member_name(b, "volume");
    json_builder_add_int_value(b, now.volume);
    /* Each change, s from the channel's start. */
    json_builder_set_member_name(b, "level_changes");
    json_builder_begin_array(b);
    for (guint i = 0; i < s->levels->len; i++) {
        const struct level_change *c = &g_array_index(s->levels, struct level_change, i);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "at_s");
        json_builder_add_double_value(b, (c->at_us - s->attached_us) / 1e6);
        json_builder_set_member_name(b, "volume");
        json_builder_add_int_value(b, c->volume);
        json_builder_set_member_name(b, "mute");
        json_builder_add_boolean_value(b, c->mute);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    report_clicks(s, b);
    json_builder_end_object(b);
}
