#include "config.h"

#include "playback.h"

#include <string.h>

#include <gio/gio.h>

#define RATE    48000 /* the VM's sound is validated to it (qemu-audio.h) */
#define TICK_MS 5
/* The jitter buffer: what QEMU hands over comes in bursts (its audio
 * timer, an emulated guest late to refill its card); the clients get it
 * at the real-time rate, which spice-server wants (a frame put before the
 * one before it was sent replaces it). Playing starts once PREBUFFER_MS
 * are there; each time the buffer runs dry that grows by PREBUFFER_MS, up
 * to MAX_PREBUFFER_MS; after each STEADY_S in which it never ran lower
 * than PREBUFFER_MS / 2 it steps back down by that much, to PREBUFFER_MS
 * (a cushion a guest's one late start grew, not one its sound needs). What the buffer
 * holds beyond its cushion goes in the VM's silences: silent frames at its
 * head are skipped, so the sound's delay comes back down without cutting
 * any sound (the A/V sync test measures the delay against the picture's).
 * RING_FRAMES bounds what a VM can have the daemon hold: beyond it the
 * oldest frames go. */
#define PREBUFFER_MS     40
#define PREBUFFER_FRAMES (RATE * PREBUFFER_MS / 1000)
#define MAX_PREBUFFER_MS 320
#define STEADY_S         5
/* A frame whose samples are all within +-SILENCE is silent. */
#define SILENCE     8
#define RING_FRAMES (RATE / 2) /* 500 ms */
/* How far the sending pace follows the VM's own (pace()). */
#define MAX_DRIFT 0.05

struct sgl_playback {
    SpicePlaybackInstance sin; /* first: spice-server hands it back to us */
    bool clock;                /* silence while the VM is quiet */
    bool running;              /* spice_server_playback_start'ed */
    bool active;               /* the VM is playing */
    bool ended;                /* it stopped; what the ring holds still goes out */
    /* The buffer being filled: spice-server's, of n frames. */
    uint32_t *buf, n, filled;
    /* The jitter buffer: RING_FRAMES stereo S16 frames. */
    uint32_t *ring;
    uint32_t head, count; /* oldest frame, frames held */
    bool flowing;         /* sending from the ring (prebuffered) */
    uint32_t prebuffer;   /* frames to hold before flowing */
    int64_t steady_us;    /* flowing without running dry since */
    uint32_t low;         /* the fewest frames held since steady_us */
    struct sgl_playback_stats stats;
    GSource *timer;
    int64_t last_us; /* the last tick */
    double credit;   /* frames due and not yet sent */
};

static const SpicePlaybackInterface interface = {
    .base = {.type = SPICE_INTERFACE_PLAYBACK,
             .description = "spicegl playback",
             .major_version = SPICE_INTERFACE_PLAYBACK_MAJOR,
             .minor_version = SPICE_INTERFACE_PLAYBACK_MINOR},
};

static void set_running(struct sgl_playback *p, bool on)
{
    if (p->running == on)
        return;
    p->running = on;
    if (on)
        spice_server_playback_start(&p->sin);
    else
        spice_server_playback_stop(&p->sin);
}

/* Puts frames (NULL: silence) into spice-server's buffers, sending each
 * as it fills. Without a client there is no buffer: the frames go. */
static void put(struct sgl_playback *p, const uint32_t *frames, size_t n)
{
    while (n) {
        if (!p->buf) {
            spice_server_playback_get_buffer(&p->sin, &p->buf, &p->n);
            p->filled = 0;
            if (!p->buf || !p->n) {
                p->buf = NULL;
                return;
            }
        }
        size_t k = MIN(n, (size_t)(p->n - p->filled));
        if (frames)
            memcpy(p->buf + p->filled, frames, k * 4);
        else
            memset(p->buf + p->filled, 0, k * 4);
        p->filled += k;
        n -= k;
        if (frames)
            frames += k;
        if (p->filled == p->n) {
            spice_server_playback_put_samples(&p->sin, p->buf);
            p->buf = NULL;
        }
    }
}

/* The last buffer of a sound, completed with silence. */
static void flush(struct sgl_playback *p)
{
    if (p->buf)
        put(p, NULL, p->n - p->filled);
}

/* Up to n frames from the ring to the clients. */
static uint32_t put_from_ring(struct sgl_playback *p, uint32_t n)
{
    uint32_t done = 0;
    while (done < n && p->count) {
        uint32_t k = MIN(MIN(n - done, p->count), RING_FRAMES - p->head);
        put(p, p->ring + p->head, k);
        p->head = (p->head + k) % RING_FRAMES;
        p->count -= k;
        done += k;
    }
    return done;
}

static void restart_clock(struct sgl_playback *p, int64_t now)
{
    p->last_us = now;
    p->credit = 0;
}

static bool silent(uint32_t frame)
{
    int16_t s[2];
    memcpy(s, &frame, sizeof(s));
    return ABS(s[0]) <= SILENCE && ABS(s[1]) <= SILENCE;
}

/* While flowing: the cushion steps down once the VM's sound has come in
 * time for STEADY_S, and what is held beyond it goes where it is silence. */
static void settle(struct sgl_playback *p, int64_t now)
{
    const uint32_t step = PREBUFFER_FRAMES / 2;
    p->low = MIN(p->low, p->count);
    if (now - p->steady_us >= STEADY_S * G_USEC_PER_SEC) {
        if (p->prebuffer > PREBUFFER_FRAMES && p->low >= step) {
            p->prebuffer = MAX(PREBUFFER_FRAMES, p->prebuffer - step);
            g_message("sound: the VM's sound came in time; %u ms are held from now on",
                      p->prebuffer * 1000 / RATE);
        }
        p->steady_us = now;
        p->low = p->count;
    }
    while (p->count > p->prebuffer && silent(p->ring[p->head])) {
        p->head = (p->head + 1) % RING_FRAMES;
        p->count--;
        p->stats.skipped++;
    }
}

/* How fast the ring is sent, relative to real time: faster when it holds
 * more than its cushion, slower when less, so that it follows a VM whose
 * sound comes a little slower or faster than 48 kHz (an emulated guest)
 * instead of running dry or full. */
static double pace(const struct sgl_playback *p)
{
    if (!p->active)
        return 1.0; /* the end of a sound: as it is */
    double level = ((double)p->count - p->prebuffer) / p->prebuffer;
    return CLAMP(1.0 + level / 2, 1.0 - MAX_DRIFT, 1.0 + MAX_DRIFT);
}

/* Every TICK_MS: what time says is due, from the ring while the VM plays
 * (silence with the clock on while it does not). */
static gboolean tick(gpointer data)
{
    struct sgl_playback *p = data;
    int64_t now = g_get_monotonic_time();
    double elapsed_s = MIN(now - p->last_us, G_USEC_PER_SEC / 2) / 1e6; /* stalled: no burst */
    p->last_us = now;
    p->credit += elapsed_s * RATE * (p->flowing ? pace(p) : 1.0);
    uint32_t want = (uint32_t)p->credit;
    if (!want)
        return G_SOURCE_CONTINUE;
    p->credit -= want;
    if (p->flowing) {
        if (p->active)
            settle(p, now);
        uint32_t got = put_from_ring(p, want);
        if (got < want) {
            /* Ran dry: hold a larger cushion before flowing again. */
            p->flowing = false;
            if (p->active) {
                p->stats.underruns++;
                uint32_t more = MIN(p->prebuffer + PREBUFFER_FRAMES,
                                    (uint32_t)(RATE * MAX_PREBUFFER_MS / 1000));
                if (more > p->prebuffer) /* a few lines at most */
                    g_message("sound: the VM's sound came late; %u ms are held from now on",
                              more * 1000 / RATE);
                p->prebuffer = more;
            }
            restart_clock(p, now);
        }
        return G_SOURCE_CONTINUE;
    }
    /* Flow once the cushion is there, or the sound has ended. */
    if (p->count && (p->count >= p->prebuffer || !p->active)) {
        p->flowing = true;
        p->steady_us = now;
        p->low = p->count;
        restart_clock(p, now);
        return G_SOURCE_CONTINUE;
    }
    if (p->ended) { /* the sound's end, played out */
        p->ended = false;
        flush(p);
        if (!p->clock)
            set_running(p, false);
        restart_clock(p, now);
        return G_SOURCE_CONTINUE;
    }
    if (p->clock && !p->active)
        put(p, NULL, want);
    else
        restart_clock(p, now);
    return G_SOURCE_CONTINUE;
}

struct sgl_playback *sgl_playback_create(SpiceServer *server, bool clock, GError **error)
{
    struct sgl_playback *p = g_new0(struct sgl_playback, 1);
    p->sin.base.sif = &interface.base;
    p->clock = clock;
    if (spice_server_add_interface(server, &p->sin.base) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "spice-server refused the playback");
        g_free(p);
        return NULL;
    }
    p->ring = g_new(uint32_t, RING_FRAMES);
    p->prebuffer = PREBUFFER_FRAMES;
    /* Opus is offered only at a rate it has; 48 kHz is one. */
    spice_server_set_playback_rate(&p->sin, RATE);
    set_running(p, clock);
    restart_clock(p, g_get_monotonic_time());
    p->timer = g_timeout_source_new(TICK_MS);
    g_source_set_callback(p->timer, tick, p, NULL);
    g_source_attach(p->timer, g_main_context_get_thread_default());
    return p;
}

void sgl_playback_destroy(struct sgl_playback *p)
{
    if (!p)
        return;
    g_source_destroy(p->timer);
    g_source_unref(p->timer);
    g_free(p->ring);
    g_free(p);
}

void sgl_playback_set_active(struct sgl_playback *p, bool on)
{
    if (p->active == on)
        return;
    p->active = on;
    p->ended = !on;
    if (on)
        set_running(p, true);
    /* Off: what the ring holds is played out, then the channel stops
     * (tick). */
}

void sgl_playback_set_volume(struct sgl_playback *p, bool mute, uint8_t left, uint8_t right)
{
    uint16_t v[2] = {(uint16_t)(left * 257u), (uint16_t)(right * 257u)};
    spice_server_playback_set_volume(&p->sin, 2, v);
    spice_server_playback_set_mute(&p->sin, mute);
}

void sgl_playback_write(struct sgl_playback *p, const int16_t *frames, size_t n)
{
    if (!p->active)
        return;
    /* More than the ring holds: only the newest can be kept. */
    if (n > RING_FRAMES) {
        p->stats.dropped += n - RING_FRAMES;
        frames += 2 * (n - RING_FRAMES);
        n = RING_FRAMES;
    }
    uint32_t over = p->count + (uint32_t)n > RING_FRAMES ? p->count + (uint32_t)n - RING_FRAMES : 0;
    if (over) { /* the oldest go */
        p->head = (p->head + over) % RING_FRAMES;
        p->count -= over;
        p->stats.dropped += over;
    }
    uint32_t tail = (p->head + p->count) % RING_FRAMES;
    uint32_t first = MIN((uint32_t)n, RING_FRAMES - tail);
    memcpy(p->ring + tail, frames, (size_t)first * 4);
    memcpy(p->ring, frames + 2 * first, (n - first) * 4);
    p->count += (uint32_t)n;
}

void sgl_playback_get_stats(const struct sgl_playback *p, struct sgl_playback_stats *stats)
{
    *stats = p->stats;
    stats->prebuffer_ms = p->prebuffer * 1000 / RATE;
}
