/* PSNR between two 32-bit frames of the same size and channel order, over
 * channels 0-2 (byte 3 is padding or alpha and is ignored). */
#ifndef SGL_PSNR_H
#define SGL_PSNR_H

#include <stdint.h>

/* Returns the PSNR in dB, INFINITY for identical frames, or a negative value
 * for invalid arguments. */
double sgl_psnr(const uint8_t *a, uint32_t stride_a, const uint8_t *b, uint32_t stride_b,
                uint32_t width, uint32_t height);

#endif
