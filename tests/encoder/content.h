/* Synthetic frames for the encoder tests and benchmark, BGRX. */
#ifndef SGL_TEST_CONTENT_H
#define SGL_TEST_CONTENT_H

#include <stdint.h>

#include "encoder/encoder.h"

/* The desktop-like scene of common/scene.h, with the marker. */
void test_content_desktop(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride,
                          uint32_t frame);

/* Full motion: a moving colour field with scrolling detail, every pixel
 * changing every frame. */
void test_content_motion(uint8_t *pixels, uint32_t width, uint32_t height, uint32_t stride,
                         uint32_t frame);

/* A frame of BGRX pixels, all of it damaged, at pts_us. */
struct sgl_frame test_frame_bgrx(const uint8_t *pixels, uint32_t width, uint32_t height,
                                 uint32_t stride, int64_t pts_us);

#endif
