/* Helpers shared by the cmocka tests. Include after cmocka.h's prerequisites. */
#ifndef SGL_TEST_UTIL_H
#define SGL_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int sgl_test_in_ci(void)
{
    const char *ci = getenv("CI");
    return ci && (strcmp(ci, "true") == 0 || strcmp(ci, "1") == 0);
}

/* A missing prerequisite (QEMU, the guest image, Xvfb) skips the test on a
 * developer's machine, and fails it under CI=true, where a skip would pass
 * a broken setup off as green. */
#define SGL_REQUIRE(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (sgl_test_in_ci())                                                                  \
                fail_msg(__VA_ARGS__);                                                             \
            print_message(__VA_ARGS__);                                                            \
            print_message("\n");                                                                   \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Deterministic pseudo-random numbers for test data (xorshift64*). */
static inline uint64_t sgl_test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
