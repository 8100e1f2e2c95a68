#include "config.h"

#include "ctl-request.h"

#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "common/error.h"

const char spicegl_ctl_usage[] =
    "usage: spicegl-ctl [--control PATH] [--json] COMMAND [ARGS]\n"
    "\n"
    "  status                          what the daemon serves\n"
    "  clients                         who is connected, with their displays' streams\n"
    "  disconnect ID                   drop a client (ID from clients)\n"
    "  stats                           the counters\n"
    "  metrics                         the counters in Prometheus' text format\n"
    "  set-ticket [--lifetime S] [--disconnect] [--ticket-file F]\n"
    "                                  a new SPICE password (read from standard input\n"
    "                                  without --ticket-file)\n"
    "  expire-ticket [--in S]          no new logins, now or in S seconds\n"
    "  screenshot [--display K] FILE   display K as PNG\n"
    "  send JSON                       one raw request; prints the raw reply\n"
    "\n"
    "--control defaults to $SPICEGL_CONTROL.\n";

/* A bad command line: sets *error, returns false. */
#define usage_error(error, ...)                                                                    \
    sgl_error_set(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, __VA_ARGS__)

static bool parse_uint(const char *text, const char *what, gint64 max, gint64 *out, GError **error)
{
    char *end;
    gint64 v = g_ascii_strtoll(text, &end, 10);
    if (!*text || *end || v < 0 || v > max)
        return usage_error(error, "%s wants a number from 0 to %" G_GINT64_FORMAT " (got '%s')",
                           what, max, text);
    *out = v;
    return true;
}

static char *line_of(JsonBuilder *b)
{
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *text = json_to_string(root, FALSE);
    return g_strconcat(text, "\n", NULL);
}

/* The request for command with its arguments (argv after the command). */
static bool build(struct spicegl_ctl_invocation *inv, int argc, char **argv,
                  const char *stdin_ticket, GError **error)
{
    const char *cmd = inv->command;
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "execute");
    json_builder_add_string_value(b, cmd);
    json_builder_set_member_name(b, "arguments");
    json_builder_begin_object(b);
    int i = 0;
    if (g_str_equal(cmd, "status") || g_str_equal(cmd, "clients") || g_str_equal(cmd, "stats") ||
        g_str_equal(cmd, "metrics")) {
        /* no arguments */
    } else if (g_str_equal(cmd, "disconnect")) {
        gint64 id;
        if (argc < 1)
            return usage_error(error, "disconnect needs the client's ID (see clients)");
        if (!parse_uint(argv[i++], "disconnect", G_MAXUINT32, &id, error))
            return false;
        json_builder_set_member_name(b, "id");
        json_builder_add_int_value(b, id);
    } else if (g_str_equal(cmd, "set-ticket")) {
        g_autofree char *ticket = NULL;
        for (; i < argc; i++) {
            gint64 v;
            if (g_str_equal(argv[i], "--lifetime") && i + 1 < argc) {
                if (!parse_uint(argv[++i], "--lifetime", 366 * 24 * 3600, &v, error))
                    return false;
                json_builder_set_member_name(b, "lifetime");
                json_builder_add_int_value(b, v);
            } else if (g_str_equal(argv[i], "--disconnect")) {
                json_builder_set_member_name(b, "disconnect");
                json_builder_add_boolean_value(b, TRUE);
            } else if (g_str_equal(argv[i], "--ticket-file") && i + 1 < argc) {
                g_autoptr(GError) e = NULL;
                if (!g_file_get_contents(argv[++i], &ticket, NULL, &e))
                    return usage_error(error, "--ticket-file: %s", e->message);
            } else {
                break;
            }
        }
        if (!ticket && stdin_ticket)
            ticket = g_strdup(stdin_ticket);
        if (!ticket || !*g_strstrip(ticket))
            return usage_error(error, "set-ticket: no ticket: give --ticket-file FILE or the "
                                      "ticket on standard input");
        json_builder_set_member_name(b, "ticket");
        json_builder_add_string_value(b, ticket);
        memset(ticket, 0, strlen(ticket));
    } else if (g_str_equal(cmd, "expire-ticket")) {
        gint64 v;
        if (i + 1 < argc && g_str_equal(argv[i], "--in")) {
            if (!parse_uint(argv[i + 1], "--in", 366 * 24 * 3600, &v, error))
                return false;
            i += 2;
            json_builder_set_member_name(b, "in");
            json_builder_add_int_value(b, v);
        }
    } else if (g_str_equal(cmd, "screenshot")) {
        gint64 v;
        if (i + 1 < argc && g_str_equal(argv[i], "--display")) {
            if (!parse_uint(argv[i + 1], "--display", 15, &v, error))
                return false;
            i += 2;
            json_builder_set_member_name(b, "display");
            json_builder_add_int_value(b, v);
        }
        if (i >= argc)
            return usage_error(error, "screenshot needs the PNG file to write");
        inv->output = g_strdup(argv[i++]);
    } else if (g_str_equal(cmd, "send")) {
        if (argc < 1)
            return usage_error(error, "send needs a JSON request");
        if (strchr(argv[0], '\n'))
            return usage_error(error, "send: the request must be one line");
        inv->request = g_strconcat(argv[0], "\n", NULL);
        i = 1;
    } else {
        return usage_error(error, "no command '%s'", cmd);
    }
    if (i < argc)
        return usage_error(error, "%s: unexpected argument '%s'", cmd, argv[i]);
    json_builder_end_object(b);
    json_builder_end_object(b);
    if (!inv->request)
        inv->request = line_of(b);
    return true;
}

bool spicegl_ctl_wants_stdin_ticket(int argc, char **argv)
{
    bool set_ticket = false;
    for (int i = 1; i < argc; i++) {
        if (g_str_equal(argv[i], "set-ticket"))
            set_ticket = true;
        else if (set_ticket && g_str_equal(argv[i], "--ticket-file"))
            return false;
    }
    return set_ticket;
}

bool spicegl_ctl_parse(struct spicegl_ctl_invocation *inv, int argc, char **argv,
                       const char *stdin_ticket, GError **error)
{
    *inv = (struct spicegl_ctl_invocation){0};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((g_str_equal(argv[i], "--control") || g_str_equal(argv[i], "-c")) && i + 1 < argc) {
            g_free(inv->control);
            inv->control = g_strdup(argv[++i]);
        } else if (g_str_equal(argv[i], "--json")) {
            inv->json = true;
        } else {
            return usage_error(error, "unknown option '%s'", argv[i]);
        }
    }
    if (!inv->control && getenv("SPICEGL_CONTROL") && *getenv("SPICEGL_CONTROL"))
        inv->control = g_strdup(getenv("SPICEGL_CONTROL"));
    if (!inv->control)
        return usage_error(error, "which daemon? give --control PATH (its --control socket) or "
                                  "set SPICEGL_CONTROL");
    if (i >= argc)
        return usage_error(error, "no command");
    inv->command = g_strdup(argv[i]);
    return build(inv, argc - i - 1, argv + i + 1, stdin_ticket, error);
}

void spicegl_ctl_finish(struct spicegl_ctl_invocation *inv)
{
    g_free(inv->control);
    g_free(inv->command);
    if (inv->request)
        memset(inv->request, 0, strlen(inv->request));
    g_free(inv->request);
    g_free(inv->output);
    *inv = (struct spicegl_ctl_invocation){0};
}
