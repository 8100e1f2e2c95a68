/* spicegl-gpu --synthetic for the tests that need a daemon but no guest:
 * started in a temporary directory of its own (its log there, with debug
 * lines), ready once it accepts SPICE connections; stopped with SIGTERM.
 * One thread, the test's. */
#ifndef SGL_TEST_SYNTHETIC_DAEMON_H
#define SGL_TEST_SYNTHETIC_DAEMON_H

#include <stdbool.h>

#include <gio/gio.h>

struct sgl_synthetic_daemon {
    GSubprocess *proc;
    char *dir;       /* the daemon's directory, removed with it */
    char *log;       /* its stdout and stderr */
    guint16 port;    /* TCP, or 0 */
    char *unix_path; /* the unix socket it serves instead, or NULL */
};

/* The build tree (SGL_BUILDDIR, or "."). */
const char *sgl_test_builddir(void);

/* spec: --synthetic's WxH@FPS; use_unix: serve dir/spice.sock, no TCP;
 * extra: more options (NULL-terminated). Under sanitizers the daemon runs
 * unsandboxed (LeakSanitizer's tracer ptraces it). NULL with error when it
 * did not start or does not accept connections within 5 s. */
struct sgl_synthetic_daemon *sgl_synthetic_daemon_start(const char *spec, bool use_unix,
                                                        const char *const *extra, GError **error);

/* Its log so far (g_free; "" when none). */
char *sgl_synthetic_daemon_log(const struct sgl_synthetic_daemon *d);
/* Its last max bytes or fewer (g_free): why it closed a connection. */
char *sgl_synthetic_daemon_log_tail(const struct sgl_synthetic_daemon *d, size_t max);

/* Stops it and removes its directory; its exit status (128 + signal when
 * killed), printed with the log when not 0, with the last stats line as a
 * TAP comment. Accepts NULL (0). */
int sgl_synthetic_daemon_stop(struct sgl_synthetic_daemon *d);

#endif
