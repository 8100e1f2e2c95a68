/* Test-only H.264 decoding with libavcodec, to check what the encoder made. */
#ifndef SGL_TEST_DECODE_H
#define SGL_TEST_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct test_decoder;

struct test_decoder *test_decoder_create(void);
void test_decoder_destroy(struct test_decoder *decoder);

/* Decodes one Annex-B access unit; true when a picture came out, given as
 * BGRX (BT.601, in the range the stream says) owned by the decoder until
 * the next call. */
bool test_decoder_decode(struct test_decoder *decoder, const uint8_t *data, size_t size,
                         const uint8_t **bgrx, uint32_t *width, uint32_t *height, uint32_t *stride);

/* The NAL unit types in an Annex-B access unit, as a mask of 1 << type. */
uint32_t test_nal_types(const uint8_t *data, size_t size);

#define NAL_IDR (1u << 5)
#define NAL_SPS (1u << 7)
#define NAL_PPS (1u << 8)

#endif
