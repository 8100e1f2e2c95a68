/* In the test guest: a 64x64 hardware cursor (a KMS cursor plane on a dumb
 * buffer) that the GL program moves each frame, so a test can see the
 * guest's cursor reach a SPICE client's cursor channel. */
#ifndef SGL_GUEST_CURSOR_H
#define SGL_GUEST_CURSOR_H

#include <stdbool.h>
#include <stdint.h>

#define SGL_GUEST_CURSOR_SIZE 64

struct sgl_guest_cursor {
    int fd;
    uint32_t crtc_id, handle;
};

/* Makes the cursor image (an opaque square with a transparent border) and
 * shows it on crtc_id; prints "@@SGL cursor status=...". */
bool sgl_guest_cursor_init(struct sgl_guest_cursor *c, int fd, uint32_t crtc_id);
void sgl_guest_cursor_move(struct sgl_guest_cursor *c, int x, int y);
void sgl_guest_cursor_finish(struct sgl_guest_cursor *c);

#endif
