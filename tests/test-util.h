/* Helpers shared by the cmocka tests. Include after cmocka.h's prerequisites. */
#ifndef SGL_TEST_UTIL_H
#define SGL_TEST_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

/* Prints "# " what ": " text as one TAP diagnostic line of any length.
 * cmocka's print_message cuts its output at 1024 bytes, newline included,
 * which glues the next line (a test's "ok N") onto a long one: the probe's
 * JSON is longer than that. */
static inline void sgl_test_diagnostic(const char *what, const char *text)
{
    size_t n = strlen(text);
    while (n && text[n - 1] == '\n')
        n--;
    printf("# %s: %.*s\n", what, (int)n, text);
    fflush(stdout);
}

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

/* Built with --enable-sanitizers: code runs several times slower, so
 * real-time rates (frames delivered per second) are not the code's; tests
 * keep every correctness check and loosen only those. */
static inline int sgl_test_sanitizers(void)
{
    const char *s = getenv("SGL_SANITIZERS");
    return s && strcmp(s, "yes") == 0;
}

/* Tests that want both cores to themselves (a TCG guest, a 30 fps stream
 * with its client) take this lock, so make check -j2 runs them one after
 * the other. Held until the process exits. */
static inline void sgl_test_heavy_lock(void)
{
    const char *dir = getenv("SGL_BUILDDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/.heavy-tests.lock", dir ? dir : ".");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
        flock(fd, LOCK_EX);
}

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
