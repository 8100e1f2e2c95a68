#include "config.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <unistd.h>

#include "common/error.h"

static bool stderr_discarded(void)
{
    struct stat st;
    if (fstat(STDERR_FILENO, &st) < 0)
        return true;
    return S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

static int syslog_priority(GLogLevelFlags level)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL))
        return LOG_ERR;
    if (level & G_LOG_LEVEL_CRITICAL)
        return LOG_CRIT;
    if (level & G_LOG_LEVEL_WARNING)
        return LOG_WARNING;
    if (level & G_LOG_LEVEL_MESSAGE)
        return LOG_NOTICE;
    if (level & G_LOG_LEVEL_INFO)
        return LOG_INFO;
    return LOG_DEBUG;
}

static const char *field(const GLogField *fields, gsize n, const char *key)
{
    for (gsize i = 0; i < n; i++)
        if (g_str_equal(fields[i].key, key) && fields[i].length < 0)
            return fields[i].value;
    return NULL;
}

static GLogWriterOutput write_log(GLogLevelFlags level, const GLogField *fields, gsize n,
                                  gpointer user)
{
    struct spicegl_log *log = user;
    if (log->sink == SPICEGL_LOG_STDERR)
        return g_log_writer_default(level, fields, n, NULL);
    if (g_log_writer_default_would_drop(level, field(fields, n, "GLIB_DOMAIN")))
        return G_LOG_WRITER_HANDLED;
    if (log->sink == SPICEGL_LOG_JOURNAL &&
        g_log_writer_journald(level, fields, n, NULL) == G_LOG_WRITER_HANDLED)
        return G_LOG_WRITER_HANDLED;
    const char *message = field(fields, n, "MESSAGE");
    syslog(syslog_priority(level), "%s", message ? message : "");
    return G_LOG_WRITER_HANDLED;
}

void spicegl_log_init(struct spicegl_log *log)
{
    *log = (struct spicegl_log){.sink = SPICEGL_LOG_STDERR};
    if (stderr_discarded()) {
        if (access("/run/systemd/journal/socket", W_OK) == 0) {
            log->sink = SPICEGL_LOG_JOURNAL;
        } else {
            /* Connected now, before the sandbox. */
            openlog("spicegl-gpu", LOG_PID | LOG_NDELAY, LOG_DAEMON);
            log->sink = SPICEGL_LOG_SYSLOG;
        }
    }
    g_log_set_writer_func(write_log, log, NULL);
}

bool spicegl_log_use_file(struct spicegl_log *log, const char *path, GError **error)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0)
        return sgl_error_set(error, G_IO_ERROR, g_io_error_from_errno(errno), "--log-file %s: %s",
                             path, g_strerror(errno));
    /* The file becomes stderr: what libraries and the sandbox's handler
     * write there lands in it too. */
    bool ok = dup2(fd, STDERR_FILENO) == STDERR_FILENO;
    int e = errno;
    close(fd);
    if (!ok)
        return sgl_error_set(error, G_IO_ERROR, g_io_error_from_errno(e), "--log-file %s: %s", path,
                             g_strerror(e));
    if (log->sink == SPICEGL_LOG_SYSLOG)
        closelog();
    log->sink = SPICEGL_LOG_STDERR;
    return true;
}

void spicegl_log_failure(struct spicegl_log *log, const char *message)
{
    fprintf(stderr, "spicegl-gpu: %s\n", message);
    if (log->sink != SPICEGL_LOG_STDERR)
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "MESSAGE", "%s", message);
}

void spicegl_log_finish(struct spicegl_log *log)
{
    enum spicegl_log_sink sink = log->sink;
    /* The writer stays installed: what is logged after goes to stderr. */
    log->sink = SPICEGL_LOG_STDERR;
    if (sink == SPICEGL_LOG_SYSLOG)
        closelog();
}
