/* Where spicegl-gpu's log goes. GLib's default (stderr) unless:
 * --log-file PATH (appended to, created 0640; it becomes stderr, so what
 * libraries write there goes to it as well), or, when stderr is
 * /dev/null or closed (libvirt starts vhost-user backends so), the systemd
 * journal where one runs, else syslog (LOG_DAEMON). G_MESSAGES_DEBUG
 * selects the levels as it does for stderr.
 *
 * Caller-allocated and owned by main, for the whole process (static): the
 * writer spicegl_log_init installs (once per process) keeps a pointer to
 * it. _finish sends later messages to stderr. The writer runs on any
 * thread; _use_file and _finish are called while main is the only thread
 * that logs. */
#ifndef SPICEGL_LOG_H
#define SPICEGL_LOG_H

#include <stdbool.h>

#include <glib.h>

enum spicegl_log_sink {
    SPICEGL_LOG_STDERR, /* also the file of --log-file, made stderr */
    SPICEGL_LOG_JOURNAL,
    SPICEGL_LOG_SYSLOG,
};

struct spicegl_log {
    enum spicegl_log_sink sink;
};

void spicegl_log_init(struct spicegl_log *log);
/* From now on, to the file at path. */
bool spicegl_log_use_file(struct spicegl_log *log, const char *path, GError **error);
/* The reason the daemon stops: on stderr, and in the log if that is
 * elsewhere. */
void spicegl_log_failure(struct spicegl_log *log, const char *message);
void spicegl_log_finish(struct spicegl_log *log);

#endif
