/* The loopback packet capture: tcpdump, started and read back. */
#include "config.h"

#include "tests/e2e/capture.h"

#include <signal.h>
#include <string.h>

#include <gio/gio.h>

#define CAPTURE_MAX_S "600"

struct sgl_e2e_capture {
    GSubprocess *tcpdump;
};

struct listening {
    GDataInputStream *err;
    gboolean listening, ended;
    GString *said;
};

static void on_line(GObject *source, GAsyncResult *res, gpointer data)
{
    struct listening *l = data;
    g_autofree char *line =
        g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(source), res, NULL, NULL);
    if (!line) {
        l->ended = TRUE;
        return;
    }
    g_string_append_printf(l->said, "%s\n", line);
    if (strstr(line, "listening on "))
        l->listening = TRUE;
    else
        g_data_input_stream_read_line_async(l->err, G_PRIORITY_DEFAULT, NULL, on_line, l);
}

struct sgl_e2e_capture *sgl_e2e_capture_start(const char *pcap, guint16 port, GError **error)
{
    g_autofree char *filter = g_strdup_printf("tcp port %u", port);
    /* Headers only (-s); -U: each packet reaches the file when captured, so
     * a test that fails and stops it still has the last ones. A test that
     * fails before stopping it leaves it behind: it ends itself after
     * CAPTURE_MAX_S (timeout passes stop's SIGINT on). */
    GSubprocess *p = g_subprocess_new(
        G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error, "timeout",
        CAPTURE_MAX_S, "tcpdump", "-i", "lo", "-nn", "-s", "128", "-U", "-w", pcap, filter, NULL);
    if (!p)
        return NULL;
    struct listening l = {
        .err = g_data_input_stream_new(g_subprocess_get_stderr_pipe(p)),
        .said = g_string_new(NULL),
    };
    g_data_input_stream_read_line_async(l.err, G_PRIORITY_DEFAULT, NULL, on_line, &l);
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!l.listening && !l.ended && g_get_monotonic_time() < end)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(10 * 1000);
    if (!l.listening) {
        /* The read still pending calls back into l: let it end. SIGTERM,
         * which timeout passes on to tcpdump. */
        g_subprocess_send_signal(p, SIGTERM);
        while (!l.ended)
            g_main_context_iteration(NULL, TRUE);
    }
    g_object_unref(l.err);
    if (!l.listening) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "tcpdump did not start capturing: %s",
                    l.said->str);
        g_string_free(l.said, TRUE);
        g_subprocess_wait(p, NULL, NULL);
        g_object_unref(p);
        return NULL;
    }
    g_string_free(l.said, TRUE);
    struct sgl_e2e_capture *c = g_new0(struct sgl_e2e_capture, 1);
    c->tcpdump = p;
    return c;
}

void sgl_e2e_capture_stop(struct sgl_e2e_capture *c)
{
    if (!c)
        return;
    g_subprocess_send_signal(c->tcpdump, SIGINT);
    g_subprocess_wait(c->tcpdump, NULL, NULL);
    g_object_unref(c->tcpdump);
    g_free(c);
}

/* tcpdump's text for the resets in pcap that match direction ("src" or
 * "dst") port. */
static char *resets(const char *pcap, guint16 port, const char *direction, GError **error)
{
    g_autofree char *filter =
        g_strdup_printf("%s port %u and tcp[tcpflags] & tcp-rst != 0", direction, port);
    const char *argv[] = {"tcpdump", "-nn", "-tttt", "-r", pcap, filter, NULL};
    char *out = NULL;
    g_autofree char *err = NULL;
    int status;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                      &status, error))
        return NULL;
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "tcpdump -r %s: %s", pcap, err);
        g_free(out);
        return NULL;
    }
    return out;
}

static unsigned count_lines(const char *text)
{
    unsigned n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

gboolean sgl_e2e_capture_resets(const char *pcap, guint16 port, struct sgl_e2e_resets *r,
                                GError **error)
{
    *r = (struct sgl_e2e_resets){0};
    r->server_lines = resets(pcap, port, "src", error);
    r->client_lines = r->server_lines ? resets(pcap, port, "dst", error) : NULL;
    if (!r->client_lines) {
        sgl_e2e_resets_finish(r);
        return FALSE;
    }
    r->server_sent = count_lines(r->server_lines);
    r->client_sent = count_lines(r->client_lines);
    return TRUE;
}

void sgl_e2e_resets_finish(struct sgl_e2e_resets *r)
{
    g_free(r->server_lines);
    g_free(r->client_lines);
    *r = (struct sgl_e2e_resets){0};
}
