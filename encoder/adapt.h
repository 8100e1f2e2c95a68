/* Bitrate adaptation from back-pressure. The encoder thread tells it, for
 * every frame, whether the frame was dropped because the consumer had not
 * yet sent the previous access unit; it answers with the bitrate to use.
 *
 * Policy: over a window of ADAPT_WINDOW_US, if more than a fifth of the
 * frames were dropped for back-pressure, the bitrate steps down to 3/4
 * (never below target/8 or 100 kbit/s); after RECOVER_US without such
 * drops it steps up by 1/8 until it is back at the target. Pure: time comes
 * from the caller, no allocation, no threads. */
#ifndef SGL_ADAPT_H
#define SGL_ADAPT_H

#include <stdbool.h>
#include <stdint.h>

#define SGL_ADAPT_WINDOW_US  1000000
#define SGL_ADAPT_RECOVER_US 2000000

struct sgl_adapt {
    uint32_t target_kbps, current_kbps, floor_kbps;
    int64_t window_start_us, last_pressure_us, last_change_us;
    uint32_t window_frames, window_dropped;
};

void sgl_adapt_init(struct sgl_adapt *adapt, uint32_t target_kbps, int64_t now_us);

/* Records one frame; returns the bitrate to use from now on (changed or not). */
uint32_t sgl_adapt_frame(struct sgl_adapt *adapt, int64_t now_us, bool dropped_for_pressure);

/* A new target (the user's setting); the current rate moves to it at once. */
void sgl_adapt_set_target(struct sgl_adapt *adapt, uint32_t target_kbps, int64_t now_us);

#endif
