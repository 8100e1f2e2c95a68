#include "config.h"

#include "control-protocol.h"

#include <string.h>

#include "common/error.h"

static const char *const command_names[] = {
    [SGL_CONTROL_STATUS] = "status",
    [SGL_CONTROL_SET_TICKET] = "set-ticket",
    [SGL_CONTROL_EXPIRE_TICKET] = "expire-ticket",
    [SGL_CONTROL_CLIENTS] = "clients",
    [SGL_CONTROL_DISCONNECT] = "disconnect",
    [SGL_CONTROL_STATS] = "stats",
    [SGL_CONTROL_SCREENSHOT] = "screenshot",
    [SGL_CONTROL_METRICS] = "metrics",
};

static const char *const error_classes[] = {
    [SGL_CONTROL_ERROR_PARSE] = "ParseError",
    [SGL_CONTROL_ERROR_REQUEST] = "InvalidRequest",
    [SGL_CONTROL_ERROR_COMMAND] = "CommandNotFound",
    [SGL_CONTROL_ERROR_ARGUMENT] = "InvalidArgument",
    [SGL_CONTROL_ERROR_FAILED] = "Failed",
    [SGL_CONTROL_ERROR_TOO_LONG] = "LineTooLong",
};

const char *sgl_control_command_name(enum sgl_control_command command)
{
    return (size_t)command < G_N_ELEMENTS(command_names) ? command_names[command] : "?";
}

const char *sgl_control_error_class(int code)
{
    return code >= 0 && (size_t)code < G_N_ELEMENTS(error_classes) ? error_classes[code] : "Failed";
}

/* ---- arguments ------------------------------------------------------------ */

/* What each command takes: names and kinds, checked before any is read. */
enum arg_kind { ARG_STRING, ARG_UINT, ARG_BOOL };
struct arg_spec {
    const char *name;
    enum arg_kind kind;
    bool required;
    uint32_t max; /* ARG_UINT: the largest value; ARG_STRING: the longest, in bytes */
};

#define MAX_ARGS 3
static const struct arg_spec command_args[SGL_CONTROL_METRICS + 1][MAX_ARGS] = {
    [SGL_CONTROL_SET_TICKET] = {{"ticket", ARG_STRING, true, SGL_SERVER_TICKET_MAX},
                                {"lifetime", ARG_UINT, false, SGL_CONTROL_MAX_LIFETIME_S},
                                {"disconnect", ARG_BOOL, false, 0}},
    [SGL_CONTROL_EXPIRE_TICKET] = {{"in", ARG_UINT, false, SGL_CONTROL_MAX_LIFETIME_S}},
    [SGL_CONTROL_DISCONNECT] = {{"id", ARG_UINT, true, UINT32_MAX}},
    [SGL_CONTROL_SCREENSHOT] = {{"display", ARG_UINT, false, 15}},
};

/* A bad request: sets *error, returns false. */
#define fail(error, code, ...) sgl_error_set(error, SGL_CONTROL_ERROR, code, __VA_ARGS__)

static const struct arg_spec *find_spec(enum sgl_control_command c, const char *name)
{
    for (size_t i = 0; i < MAX_ARGS && command_args[c][i].name; i++)
        if (strcmp(command_args[c][i].name, name) == 0)
            return &command_args[c][i];
    return NULL;
}

/* Every member of args is one the command takes, of its kind and range;
 * every required one is there. */
static bool check_args(enum sgl_control_command c, JsonObject *args, GError **error)
{
    const char *cmd = command_names[c];
    g_autoptr(GList) members = args ? json_object_get_members(args) : NULL;
    for (GList *m = members; m; m = m->next) {
        const char *name = m->data;
        const struct arg_spec *spec = find_spec(c, name);
        if (!spec)
            return fail(error, SGL_CONTROL_ERROR_ARGUMENT, "%s takes no argument '%s'", cmd, name);
        JsonNode *v = json_object_get_member(args, name);
        GType t = JSON_NODE_HOLDS_VALUE(v) ? json_node_get_value_type(v) : G_TYPE_INVALID;
        switch (spec->kind) {
        case ARG_STRING:
            if (t != G_TYPE_STRING)
                return fail(error, SGL_CONTROL_ERROR_ARGUMENT, "%s: '%s' must be a string", cmd,
                            name);
            size_t len = strlen(json_node_get_string(v));
            if (len == 0 || len > spec->max)
                return fail(error, SGL_CONTROL_ERROR_ARGUMENT,
                            "%s: '%s' must be 1 to %u bytes (got %zu)", cmd, name, spec->max, len);
            break;
        case ARG_UINT:
            if (t != G_TYPE_INT64 || json_node_get_int(v) < 0 ||
                (uint64_t)json_node_get_int(v) > spec->max)
                return fail(error, SGL_CONTROL_ERROR_ARGUMENT,
                            "%s: '%s' must be an integer from 0 to %u", cmd, name, spec->max);
            break;
        case ARG_BOOL:
            if (t != G_TYPE_BOOLEAN)
                return fail(error, SGL_CONTROL_ERROR_ARGUMENT, "%s: '%s' must be true or false",
                            cmd, name);
            break;
        }
    }
    for (size_t i = 0; i < MAX_ARGS && command_args[c][i].name; i++)
        if (command_args[c][i].required &&
            !(args && json_object_has_member(args, command_args[c][i].name)))
            return fail(error, SGL_CONTROL_ERROR_ARGUMENT, "%s needs '%s'", cmd,
                        command_args[c][i].name);
    return true;
}

static uint32_t uint_arg(JsonObject *args, const char *name, uint32_t fallback)
{
    return args && json_object_has_member(args, name)
               ? (uint32_t)json_object_get_int_member(args, name)
               : fallback;
}

/* The checked arguments into the request. */
static void take_args(struct sgl_control_request *req, JsonObject *args)
{
    switch (req->command) {
    case SGL_CONTROL_SET_TICKET:
        g_strlcpy(req->set_ticket.ticket, json_object_get_string_member(args, "ticket"),
                  sizeof(req->set_ticket.ticket));
        req->set_ticket.lifetime_s = uint_arg(args, "lifetime", 0);
        req->set_ticket.disconnect = json_object_has_member(args, "disconnect") &&
                                     json_object_get_boolean_member(args, "disconnect");
        break;
    case SGL_CONTROL_EXPIRE_TICKET:
        req->expire_ticket.in_s = uint_arg(args, "in", 0);
        break;
    case SGL_CONTROL_DISCONNECT:
        req->disconnect.connection_id = uint_arg(args, "id", 0);
        break;
    case SGL_CONTROL_SCREENSHOT:
        req->screenshot.display = uint_arg(args, "display", 0);
        break;
    default:
        break;
    }
}

/* ---- requests ------------------------------------------------------------- */

bool sgl_control_parse(const char *line, size_t len, struct sgl_control_request *req,
                       GError **error)
{
    memset(req, 0, sizeof(*req));
    if (len >= SGL_CONTROL_MAX_LINE)
        return fail(error, SGL_CONTROL_ERROR_TOO_LONG, "a request is at most %d bytes a line",
                    SGL_CONTROL_MAX_LINE - 1);
    if (memchr(line, '\0', len))
        return fail(error, SGL_CONTROL_ERROR_PARSE, "the request holds a NUL byte");
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) json_error = NULL;
    if (!json_parser_load_from_data(parser, line, (gssize)len, &json_error))
        return fail(error, SGL_CONTROL_ERROR_PARSE, "not JSON: %s", json_error->message);
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return fail(error, SGL_CONTROL_ERROR_PARSE, "a request is one JSON object a line");
    JsonObject *o = json_node_get_object(root);
    if (json_object_has_member(o, "id"))
        req->id = json_node_copy(json_object_get_member(o, "id"));

    g_autoptr(GList) members = json_object_get_members(o);
    for (GList *m = members; m; m = m->next)
        if (strcmp(m->data, "execute") && strcmp(m->data, "arguments") && strcmp(m->data, "id"))
            return fail(error, SGL_CONTROL_ERROR_REQUEST,
                        "unknown member '%s' (a request has execute, arguments and id)",
                        (const char *)m->data);
    JsonNode *exec = json_object_get_member(o, "execute");
    if (!exec || !JSON_NODE_HOLDS_VALUE(exec) || json_node_get_value_type(exec) != G_TYPE_STRING)
        return fail(error, SGL_CONTROL_ERROR_REQUEST, "'execute' must name a command");
    const char *name = json_node_get_string(exec);
    size_t c = 0;
    while (c < G_N_ELEMENTS(command_names) && strcmp(command_names[c], name))
        c++;
    if (c == G_N_ELEMENTS(command_names)) {
        g_autofree char *shown = g_strndup(name, 64);
        return fail(error, SGL_CONTROL_ERROR_COMMAND, "no command '%s'", shown);
    }
    req->command = (enum sgl_control_command)c;

    JsonNode *args_node = json_object_get_member(o, "arguments");
    if (args_node && !JSON_NODE_HOLDS_OBJECT(args_node))
        return fail(error, SGL_CONTROL_ERROR_REQUEST, "'arguments' must be an object");
    JsonObject *args = args_node ? json_node_get_object(args_node) : NULL;
    if (!check_args(req->command, args, error))
        return false;
    take_args(req, args);
    return true;
}

void sgl_control_request_finish(struct sgl_control_request *req)
{
    g_clear_pointer(&req->id, json_node_unref);
    /* The ticket does not outlive the request in this copy. */
    memset(req->set_ticket.ticket, 0, sizeof(req->set_ticket.ticket));
}

/* ---- replies -------------------------------------------------------------- */

static char *reply_line(JsonObject *reply, JsonNode *id)
{
    if (id)
        json_object_set_member(reply, "id", json_node_copy(id));
    g_autoptr(JsonNode) root = json_node_init_object(json_node_alloc(), reply);
    json_object_unref(reply);
    g_autofree char *text = json_to_string(root, FALSE);
    return g_strconcat(text, "\n", NULL);
}

char *sgl_control_reply_return(JsonNode *id, JsonObject *ret)
{
    JsonObject *reply = json_object_new();
    json_object_set_object_member(reply, "return", ret ? ret : json_object_new());
    return reply_line(reply, id);
}

char *sgl_control_reply_error(JsonNode *id, const GError *error)
{
    JsonObject *e = json_object_new();
    json_object_set_string_member(
        e, "class",
        error->domain == SGL_CONTROL_ERROR ? sgl_control_error_class(error->code) : "Failed");
    json_object_set_string_member(e, "desc", error->message);
    JsonObject *reply = json_object_new();
    json_object_set_object_member(reply, "error", e);
    return reply_line(reply, id);
}
