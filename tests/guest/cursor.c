#include "config.h"

#include "cursor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

bool sgl_guest_cursor_init(struct sgl_guest_cursor *c, int fd, uint32_t crtc_id)
{
    *c = (struct sgl_guest_cursor){.fd = fd, .crtc_id = crtc_id};
    struct drm_mode_create_dumb create = {
        .width = SGL_GUEST_CURSOR_SIZE, .height = SGL_GUEST_CURSOR_SIZE, .bpp = 32};
    if (drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &create)) {
        printf("@@SGL cursor status=error reason=\"create dumb: %s\"\n", strerror(errno));
        return false;
    }
    c->handle = create.handle;
    struct drm_mode_map_dumb map = {.handle = create.handle};
    uint32_t *px = MAP_FAILED;
    if (!drmIoctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &map))
        px = mmap(NULL, create.size, PROT_WRITE, MAP_SHARED, fd, (off_t)map.offset);
    if (px == MAP_FAILED) {
        printf("@@SGL cursor status=error reason=\"map dumb: %s\"\n", strerror(errno));
        return false;
    }
    for (uint32_t y = 0; y < SGL_GUEST_CURSOR_SIZE; y++)
        for (uint32_t x = 0; x < SGL_GUEST_CURSOR_SIZE; x++) {
            bool inside = x >= 8 && x < 40 && y >= 8 && y < 40;
            px[y * (create.pitch / 4) + x] = inside ? 0xff20c040u : 0;
        }
    munmap(px, create.size);
    if (drmModeSetCursor(fd, crtc_id, create.handle, SGL_GUEST_CURSOR_SIZE,
                         SGL_GUEST_CURSOR_SIZE)) {
        printf("@@SGL cursor status=error reason=\"set cursor: %s\"\n", strerror(errno));
        return false;
    }
    printf("@@SGL cursor status=ok width=%u height=%u\n", SGL_GUEST_CURSOR_SIZE,
           SGL_GUEST_CURSOR_SIZE);
    return true;
}

void sgl_guest_cursor_move(struct sgl_guest_cursor *c, int x, int y)
{
    if (c->handle)
        drmModeMoveCursor(c->fd, c->crtc_id, x, y);
}

void sgl_guest_cursor_finish(struct sgl_guest_cursor *c)
{
    if (!c->handle)
        return;
    drmModeSetCursor(c->fd, c->crtc_id, 0, 0, 0);
    struct drm_mode_destroy_dumb destroy = {.handle = c->handle};
    drmIoctl(c->fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
    c->handle = 0;
}
