#include "config.h"

#include "edid.h"

#include <glib.h>
#include <string.h>

/* Blanking of the modes we describe (the test guest's custom modes use
 * the same): horizontal front porch, sync, total blank; vertical too. */
enum { H_FRONT = 48, H_SYNC = 32, H_BLANK = 160, V_FRONT = 3, V_SYNC = 6, V_BLANK = 30 };

static void detailed_timing(uint8_t d[18], uint32_t w, uint32_t h, uint32_t w_mm, uint32_t h_mm)
{
    /* 60 Hz, or what a 16-bit clock (655.35 MHz) allows for huge modes. */
    uint64_t total = (uint64_t)(w + H_BLANK) * (h + V_BLANK);
    uint64_t hz = MIN(60u, 655350000u / total);
    uint32_t clock_10khz = (uint32_t)(total * hz / 10000);
    d[0] = clock_10khz & 0xff;
    d[1] = (clock_10khz >> 8) & 0xff;
    d[2] = w & 0xff;
    d[3] = H_BLANK & 0xff;
    d[4] = (uint8_t)(((w >> 8) & 0xf) << 4 | ((H_BLANK >> 8) & 0xf));
    d[5] = h & 0xff;
    d[6] = V_BLANK & 0xff;
    d[7] = (uint8_t)(((h >> 8) & 0xf) << 4 | ((V_BLANK >> 8) & 0xf));
    d[8] = H_FRONT & 0xff;
    d[9] = H_SYNC & 0xff;
    d[10] = (uint8_t)((V_FRONT & 0xf) << 4 | (V_SYNC & 0xf));
    d[11] = (uint8_t)(((H_FRONT >> 8) & 3) << 6 | ((H_SYNC >> 8) & 3) << 4 |
                      ((V_FRONT >> 4) & 3) << 2 | ((V_SYNC >> 4) & 3));
    d[12] = w_mm & 0xff;
    d[13] = h_mm & 0xff;
    d[14] = (uint8_t)(((w_mm >> 8) & 0xf) << 4 | ((h_mm >> 8) & 0xf));
    d[15] = d[16] = 0;   /* no borders */
    d[17] = 0x18 | 0x06; /* digital separate sync, both polarities positive */
}

static void text_descriptor(uint8_t d[18], uint8_t tag, const char *text)
{
    memset(d, 0, 18);
    d[3] = tag;
    size_t n = strlen(text);
    for (size_t i = 0; i < 13; i++)
        d[5 + i] = i < n ? (uint8_t)text[i] : i == n ? '\n' : ' ';
}

bool vgpu_edid_generate(uint8_t e[VGPU_EDID_SIZE], uint32_t width, uint32_t height)
{
    if (!width || !height || width > 4095 || height > 4095)
        return false;
    static const uint8_t header[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
    /* sRGB primaries and white point, as monitors commonly report them. */
    static const uint8_t chroma[10] = {0xee, 0x91, 0xa3, 0x54, 0x4c, 0x99, 0x26, 0x0f, 0x50, 0x54};
    uint32_t w_mm = width * 254 / 960, h_mm = height * 254 / 960;
    memset(e, 0, VGPU_EDID_SIZE);
    memcpy(e, header, sizeof(header));
    /* Manufacturer "SGL": three 5-bit letters, big-endian. */
    uint16_t id = (uint16_t)(('S' - '@') << 10 | ('G' - '@') << 5 | ('L' - '@'));
    e[8] = id >> 8;
    e[9] = id & 0xff;
    e[10] = 0x01; /* product code */
    e[17] = 2026 - 1990;
    e[18] = 1; /* EDID 1.4 */
    e[19] = 4;
    e[20] = 0x80; /* digital input */
    e[21] = (uint8_t)((w_mm + 5) / 10);
    e[22] = (uint8_t)((h_mm + 5) / 10);
    e[23] = 120;  /* gamma 2.2 */
    e[24] = 0x06; /* sRGB; the first detailed timing is the native mode */
    memcpy(e + 25, chroma, sizeof(chroma));
    for (int i = 0; i < 8; i++) /* standard timings: unused */
        e[38 + 2 * i] = e[39 + 2 * i] = 0x01;
    detailed_timing(e + 54, width, height, w_mm, h_mm);
    text_descriptor(e + 72, 0xfc, "spicegl"); /* monitor name */
    text_descriptor(e + 90, 0xfe, "virtio-gpu");
    text_descriptor(e + 108, 0x10, ""); /* dummy */
    memset(e + 108 + 5, 0, 13);
    unsigned sum = 0;
    for (int i = 0; i < VGPU_EDID_SIZE - 1; i++)
        sum += e[i];
    e[127] = (uint8_t)(256 - sum % 256);
    return true;
}
