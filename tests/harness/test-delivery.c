/* sgl_delivery_check: which windows pass, and that each failure names its
 * figures. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <math.h>

#include "tests/harness/delivery.h"

static char *check(double shown, double lost, double decoded)
{
    const struct sgl_delivery d = {shown, lost, decoded};
    return sgl_delivery_check(&d, 0.95, 0.80);
}

static void test_good_windows_pass(void **state)
{
    (void)state;
    assert_null(check(90, 0, 90));  /* every frame decoded and shown */
    assert_null(check(80, 20, 96)); /* 96 % decoded, 80 % shown: late pictures dropped */
    assert_null(check(96, 4, -1));  /* MJPEG: no decoder watched, shown frames count */
    assert_null(check(96, 4, NAN)); /* the same, as the probe's JSON null may arrive */
}

static void test_too_few_reach_the_decoder(void **state)
{
    (void)state;
    g_autofree char *why = check(85, 15, 94);
    assert_non_null(why);
    assert_non_null(strstr(why, "of 100 frames presented, 94 reached the client's decoder "
                                "(94.0 %, want >= 95 %) and 85 were shown (85.0 %, want >= 80 %)"));
    g_autofree char *mjpeg = check(90, 10, -1);
    assert_non_null(mjpeg);
    assert_non_null(strstr(mjpeg, "90 reached the client's decoder"));
}

static void test_too_few_shown(void **state)
{
    (void)state;
    g_autofree char *why = check(79, 21, 100);
    assert_non_null(why);
    assert_non_null(strstr(why, "79 were shown (79.0 %, want >= 80 %)"));
}

static void test_broken_counts_fail(void **state)
{
    (void)state;
    g_autofree char *why = check(90, 0, 80);
    assert_non_null(why);
    assert_string_equal(why, "the probe counted 80 frames out of its decoder but showed 90");
    g_autofree char *none = check(0, 0, 0);
    assert_string_equal(none, "no frame was presented in the window");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_windows_pass),
        cmocka_unit_test(test_too_few_reach_the_decoder),
        cmocka_unit_test(test_too_few_shown),
        cmocka_unit_test(test_broken_counts_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
