#include "config.h"

#include "adapt.h"

static uint32_t floor_for(uint32_t target)
{
    uint32_t f = target / 8;
    return f < 100 ? (target < 100 ? target : 100) : f;
}

void sgl_adapt_init(struct sgl_adapt *a, uint32_t target_kbps, int64_t now_us)
{
    *a = (struct sgl_adapt){.target_kbps = target_kbps,
                            .current_kbps = target_kbps,
                            .floor_kbps = floor_for(target_kbps),
                            .window_start_us = now_us,
                            .last_pressure_us = now_us,
                            .last_change_us = now_us};
}

void sgl_adapt_set_target(struct sgl_adapt *a, uint32_t target_kbps, int64_t now_us)
{
    sgl_adapt_init(a, target_kbps, now_us);
}

uint32_t sgl_adapt_frame(struct sgl_adapt *a, int64_t now_us, bool dropped)
{
    a->window_frames++;
    if (dropped) {
        a->window_dropped++;
        a->last_pressure_us = now_us;
    }
    if (now_us - a->window_start_us >= SGL_ADAPT_WINDOW_US) {
        /* More than a fifth dropped: the link or the client cannot keep up
         * with this rate. */
        if (a->window_dropped * 5 > a->window_frames && a->current_kbps > a->floor_kbps) {
            uint32_t next = a->current_kbps / 4 * 3;
            a->current_kbps = next < a->floor_kbps ? a->floor_kbps : next;
            a->last_change_us = now_us;
        }
        a->window_start_us = now_us;
        a->window_frames = a->window_dropped = 0;
    }
    if (a->current_kbps < a->target_kbps && now_us - a->last_pressure_us >= SGL_ADAPT_RECOVER_US &&
        now_us - a->last_change_us >= SGL_ADAPT_WINDOW_US) {
        uint32_t step = a->current_kbps / 8 ? a->current_kbps / 8 : 1;
        a->current_kbps =
            a->target_kbps - a->current_kbps < step ? a->target_kbps : a->current_kbps + step;
        a->last_change_us = now_us;
    }
    return a->current_kbps;
}
