#include "config.h"

#include "psnr.h"

#include <math.h>
#include <stddef.h>

double sgl_psnr(const uint8_t *a, uint32_t stride_a, const uint8_t *b, uint32_t stride_b,
                uint32_t width, uint32_t height)
{
    if (!a || !b || width == 0 || height == 0 || (uint64_t)stride_a < (uint64_t)width * 4 ||
        (uint64_t)stride_b < (uint64_t)width * 4)
        return -1.0;
    uint64_t sse = 0;
    for (uint32_t y = 0; y < height; y++) {
        const uint8_t *pa = a + (size_t)y * stride_a, *pb = b + (size_t)y * stride_b;
        for (uint32_t x = 0; x < width; x++, pa += 4, pb += 4) {
            for (int c = 0; c < 3; c++) {
                int d = (int)pa[c] - (int)pb[c];
                sse += (uint64_t)(d * d);
            }
        }
    }
    if (sse == 0)
        return INFINITY;
    double mse = (double)sse / ((double)width * height * 3);
    return 10.0 * log10(255.0 * 255.0 / mse);
}
