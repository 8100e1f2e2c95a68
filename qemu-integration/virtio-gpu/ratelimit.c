#include "config.h"

#include "ratelimit.h"

#define WINDOW_US 1000000

bool vgpu_ratelimit_allow(struct vgpu_ratelimit *rl, uint32_t kind, int64_t now_us,
                          uint64_t *held_back)
{
    kind %= VGPU_RATELIMIT_KINDS;
    if (now_us - rl->window_start_us[kind] >= WINDOW_US || now_us < rl->window_start_us[kind]) {
        rl->window_start_us[kind] = now_us;
        rl->in_window[kind] = 0;
    }
    if (rl->in_window[kind] >= VGPU_RATELIMIT_BURST) {
        rl->held_back[kind]++;
        return false;
    }
    rl->in_window[kind]++;
    *held_back = rl->held_back[kind];
    rl->held_back[kind] = 0;
    return true;
}
