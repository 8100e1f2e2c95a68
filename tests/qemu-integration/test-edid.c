/* The EDID the device gives the guest: a valid 1.4 block whose preferred
 * detailed timing is the scanout's mode. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "qemu-integration/virtio-gpu/edid.h"

static void test_block(void **state)
{
    static const uint32_t sizes[][2] = {
        {1280, 800}, {1024, 576}, {1920, 1080}, {4095, 4095}, {16, 16}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t e[VGPU_EDID_SIZE];
        uint32_t w = sizes[i][0], h = sizes[i][1];
        assert_true(vgpu_edid_generate(e, w, h));
        static const uint8_t header[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
        assert_memory_equal(e, header, 8);
        unsigned sum = 0;
        for (int k = 0; k < VGPU_EDID_SIZE; k++)
            sum += e[k];
        assert_int_equal(sum % 256, 0);
        assert_int_equal(e[18], 1);
        assert_int_equal(e[19], 4);
        /* The first detailed timing decodes back to the mode. */
        const uint8_t *d = e + 54;
        assert_true(d[0] || d[1]); /* a pixel clock: a timing, not a descriptor */
        assert_int_equal(d[2] | (d[4] >> 4) << 8, w);
        assert_int_equal(d[5] | (d[7] >> 4) << 8, h);
        uint32_t clock_khz = (d[0] | d[1] << 8) * 10u;
        uint32_t htotal = w + (d[3] | (d[4] & 0xf) << 8), vtotal = h + (d[6] | (d[7] & 0xf) << 8);
        double hz = clock_khz * 1000.0 / htotal / vtotal;
        /* 60 Hz unless the pixel clock field cannot hold it. */
        if ((uint64_t)w * h <= 2560 * 1600)
            assert_true(hz > 59 && hz < 61);
        else
            assert_true(hz > 20 && hz < 61);
        /* The monitor name descriptor. */
        assert_int_equal(e[72 + 3], 0xfc);
        assert_memory_equal(e + 72 + 5, "spicegl\n", 8);
    }
    uint8_t e[VGPU_EDID_SIZE];
    assert_false(vgpu_edid_generate(e, 4096, 2160));
    assert_false(vgpu_edid_generate(e, 0, 600));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block),
    };
    return cmocka_run_group_tests_name("edid", tests, NULL, NULL);
}
