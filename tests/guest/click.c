#include "config.h"

#include "click.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

#include <alsa/asoundlib.h>

#define RATE 48000u
/* The card's buffer: twice the fill kept, so that a guest late by up to
 * SGL_GUEST_CLICK_AHEAD_US still finds room and the card never waits. */
#define BUFFER_US (2 * SGL_GUEST_CLICK_AHEAD_US)
/* A click: 10 ms of 1 kHz at -4 dBFS, from a rising zero crossing. */
#define CLICK_SAMPLES (RATE / 100u)
#define CLICK_HZ      1000.0
#define CLICK_PEAK    20000.0
/* Written per call to snd_pcm_writei. */
#define CHUNK 2400u

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int sgl_guest_click_init(struct sgl_guest_click *c, const char *device)
{
    *c = (struct sgl_guest_click){.rate = RATE};
    snd_pcm_t *pcm = NULL;
    snd_pcm_sw_params_t *sw = NULL;
    int r = snd_pcm_open(&pcm, device, SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK);
    if (r < 0)
        goto fail;
    r = snd_pcm_set_params(pcm, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED, 1, RATE, 1,
                           BUFFER_US);
    if (r < 0)
        goto fail;
    /* Play from the first sample written, not once the buffer is full. */
    r = snd_pcm_sw_params_malloc(&sw);
    if (r < 0)
        goto fail;
    if ((r = snd_pcm_sw_params_current(pcm, sw)) < 0 ||
        (r = snd_pcm_sw_params_set_start_threshold(pcm, sw, 1)) < 0 ||
        (r = snd_pcm_sw_params(pcm, sw)) < 0)
        goto fail;
    snd_pcm_sw_params_free(sw);
    c->pcm = pcm;
    sgl_guest_click_pump(c);
    return 0;
fail:
    fprintf(stderr, "sgl-guest-gl: ALSA %s: %s\n", device, snd_strerror(r));
    snd_pcm_sw_params_free(sw);
    if (pcm)
        snd_pcm_close(pcm);
    return -1;
}

void sgl_guest_click_finish(struct sgl_guest_click *c)
{
    if (c->pcm)
        snd_pcm_close(c->pcm);
    c->pcm = NULL;
}

void sgl_guest_click_at(struct sgl_guest_click *c, uint64_t at_us)
{
    c->due_us = at_us;
}

/* The sample played at t: the click's, once its instant has come. */
static int16_t next_sample(struct sgl_guest_click *c, uint64_t t, bool *started)
{
    if (!c->bursting && c->due_us && t >= c->due_us) {
        c->bursting = true;
        c->burst_at = 0;
        c->clicked_us = t;
        c->due_us = 0;
        *started = true;
    }
    if (!c->bursting)
        return 0;
    double v = CLICK_PEAK * sin(2 * M_PI * CLICK_HZ * c->burst_at / c->rate);
    if (++c->burst_at >= CLICK_SAMPLES)
        c->bursting = false;
    return (int16_t)lrint(v);
}

bool sgl_guest_click_pump(struct sgl_guest_click *c)
{
    snd_pcm_t *pcm = c->pcm;
    bool started = false;
    /* Bounded: a card that keeps failing leaves the caller to go on. */
    for (int round = 0; pcm && round < 16; round++) {
        snd_pcm_sframes_t avail = 0, delay = 0;
        int r = snd_pcm_avail_delay(pcm, &avail, &delay);
        if (r == -EPIPE || r == -ESTRPIPE) {
            c->xruns++;
            snd_pcm_prepare(pcm);
            continue;
        }
        if (r < 0)
            break;
        uint64_t now = mono_us();
        snd_pcm_sframes_t want =
            (snd_pcm_sframes_t)(SGL_GUEST_CLICK_AHEAD_US * (uint64_t)c->rate / 1000000u) - delay;
        snd_pcm_sframes_t n = want < avail ? want : avail;
        if (n > (snd_pcm_sframes_t)CHUNK)
            n = CHUNK;
        if (n <= 0)
            break;
        /* Sample j plays once the delay and the j before it have. */
        int16_t buf[CHUNK];
        struct sgl_guest_click before = *c;
        bool chunk_started = false;
        for (snd_pcm_sframes_t j = 0; j < n; j++)
            buf[j] =
                next_sample(c, now + (uint64_t)(delay + j) * 1000000u / c->rate, &chunk_started);
        snd_pcm_sframes_t w = snd_pcm_writei(pcm, buf, (snd_pcm_uframes_t)n);
        if (w < 0) {
            /* Not written (the card ran dry meanwhile): the click waits. */
            uint32_t xruns = c->xruns;
            *c = before;
            c->xruns = xruns;
            if (w == -EPIPE || w == -ESTRPIPE) {
                c->xruns++;
                snd_pcm_prepare(pcm);
                continue;
            }
            break;
        }
        started |= chunk_started;
        if (w < n)
            break; /* the card took less than it had room for: next time */
    }
    return started;
}
