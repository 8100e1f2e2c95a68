#include "config.h"

#include "input.h"

bool sgl_scancode_feed(struct sgl_scancode *sc, uint8_t byte, uint32_t *code, bool *down)
{
    if (sc->pending) {
        /* Pause: e1 1d 45 (make), e1 9d c5 (break); the byte after e1 says which. */
        if (--sc->pending == 0) {
            *code = 0xe11d;
            *down = !(byte & 0x80);
            sc->prefix = 0;
            return true;
        }
        return false;
    }
    if (byte == 0xe0 || byte == 0xe1) {
        sc->prefix = byte;
        if (byte == 0xe1)
            sc->pending = 2;
        return false;
    }
    *down = !(byte & 0x80);
    *code = (sc->prefix == 0xe0 ? 0xe000u : 0) | (byte & 0x7fu);
    sc->prefix = 0;
    return true;
}
