#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "encoder/adapt.h"

#define FRAME_US 33333

/* Runs `seconds` of 30 fps frames, dropping every `drop_every`-th (0: none);
 * returns the last bitrate. */
static uint32_t run(struct sgl_adapt *a, int64_t *now, double seconds, int drop_every)
{
    uint32_t kbps = a->current_kbps;
    for (int i = 0; i < (int)(seconds * 30); i++, *now += FRAME_US)
        kbps = sgl_adapt_frame(a, *now, drop_every && i % drop_every == 0);
    return kbps;
}

static void test_steady_without_pressure(void **state)
{
    struct sgl_adapt a;
    int64_t now = 0;
    sgl_adapt_init(&a, 8000, now);
    assert_int_equal(run(&a, &now, 30, 0), 8000);
    /* A few drops (below a fifth) are not congestion. */
    assert_int_equal(run(&a, &now, 10, 10), 8000);
}

static void test_pressure_lowers_then_recovers(void **state)
{
    struct sgl_adapt a;
    int64_t now = 0;
    sgl_adapt_init(&a, 8000, now);
    /* Half the frames dropped: one step per window, 8000 -> 6000 -> 4500 ... */
    assert_int_equal(run(&a, &now, 1.1, 2), 6000);
    assert_int_equal(run(&a, &now, 1.0, 2), 4500);
    /* Sustained: down to the floor (target / 8), never below. */
    assert_int_equal(run(&a, &now, 20, 2), 1000);
    /* Pressure gone: nothing changes for RECOVER_US, then steps back up. */
    assert_int_equal(run(&a, &now, 1.9, 0), 1000);
    uint32_t k = run(&a, &now, 1.2, 0);
    assert_true(k > 1000 && k < 8000);
    assert_int_equal(run(&a, &now, 60, 0), 8000);
}

static void test_floor_and_new_target(void **state)
{
    struct sgl_adapt a;
    int64_t now = 0;
    sgl_adapt_init(&a, 400, now);
    assert_int_equal(run(&a, &now, 30, 1), 100);
    sgl_adapt_set_target(&a, 2000, now);
    assert_int_equal(a.current_kbps, 2000);
    sgl_adapt_init(&a, 50, now);
    assert_int_equal(run(&a, &now, 10, 1), 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_without_pressure),
        cmocka_unit_test(test_pressure_lowers_then_recovers),
        cmocka_unit_test(test_floor_and_new_target),
    };
    return cmocka_run_group_tests_name("adapt", tests, NULL, NULL);
}
