/* Log lines a guest can cause, rate-limited per kind.
 *
 * A hostile guest can send millions of bad commands a second; each one is
 * still rejected, but only VGPU_RATELIMIT_BURST lines per kind are logged
 * in any one second. How many were held back is said with the next line
 * of that kind. Caller-allocated (zeroed is ready); one thread. */
#ifndef VGPU_RATELIMIT_H
#define VGPU_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define VGPU_RATELIMIT_KINDS 64
#define VGPU_RATELIMIT_BURST 5

struct vgpu_ratelimit {
    int64_t window_start_us[VGPU_RATELIMIT_KINDS];
    uint32_t in_window[VGPU_RATELIMIT_KINDS];
    uint64_t held_back[VGPU_RATELIMIT_KINDS];
};

/* Whether a line of this kind (taken modulo VGPU_RATELIMIT_KINDS) may be
 * logged at now_us. When it may, *held_back says how many lines of the
 * kind were not logged since the last one that was. */
bool vgpu_ratelimit_allow(struct vgpu_ratelimit *rl, uint32_t kind, int64_t now_us,
                          uint64_t *held_back);

#endif
