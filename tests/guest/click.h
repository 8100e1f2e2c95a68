/* In the test guest: clicks on the first sound card at chosen instants, for
 * the A/V sync test. The card plays silence from sgl_guest_click_init on,
 * kept filled a little ahead of now (SGL_GUEST_CLICK_AHEAD_US); a click is
 * a 10 ms burst of 1 kHz written where the card will play it at the
 * instant asked for, as far as ALSA's delay (snd_pcm_delay) tells. The
 * caller pumps it at least every SGL_GUEST_CLICK_AHEAD_US / 2.
 *
 * The caller owns the struct (_init/_finish); one thread only. */
#ifndef SGL_GUEST_CLICK_H
#define SGL_GUEST_CLICK_H

#include <stdbool.h>
#include <stdint.h>

#define SGL_GUEST_CLICK_AHEAD_US 150000u

struct sgl_guest_click {
    void *pcm; /* snd_pcm_t */
    uint32_t rate;
    uint64_t due_us;     /* the next click's instant (CLOCK_MONOTONIC); 0: none */
    uint32_t burst_at;   /* samples of the current click written so far */
    bool bursting;       /* a click is being written */
    uint64_t clicked_us; /* when the card plays the last click started */
    uint32_t xruns;      /* the card ran dry (a late guest): refilled */
};

/* Opens ALSA device (e.g. "plughw:0,0") for 48 kHz mono playback and starts
 * it with silence. -1 with a message on stderr when it cannot. */
int sgl_guest_click_init(struct sgl_guest_click *c, const char *device);
void sgl_guest_click_finish(struct sgl_guest_click *c);

/* The next click plays at at_us (CLOCK_MONOTONIC); one pending at a time.
 * An instant the card has already been filled past clicks at once, and
 * clicked_us says when. */
void sgl_guest_click_at(struct sgl_guest_click *c, uint64_t at_us);

/* Fills the card up to SGL_GUEST_CLICK_AHEAD_US past now; never blocks.
 * True when a click's first sample was written this time (clicked_us). */
bool sgl_guest_click_pump(struct sgl_guest_click *c);

#endif
