#include "config.h"

#include "ctl-print.h"

#include <stdio.h>

#include <json-glib/json-glib.h>

static void print_status(JsonObject *r)
{
    printf("spicegl-gpu %s, up %.0f s, source %s", json_object_get_string_member(r, "version"),
           json_object_get_double_member(r, "uptime_s"),
           json_object_get_string_member(r, "source"));
    if (json_object_has_member(r, "qemu_connected"))
        printf(json_object_get_boolean_member(r, "qemu_connected") ? " (QEMU connected)"
                                                                   : " (waiting for QEMU)");
    printf(", %" G_GINT64_FORMAT " display(s), sandbox %s, ticket %s\n",
           json_object_get_int_member(r, "displays"),
           json_object_get_boolean_member(r, "sandbox") ? "on" : "off",
           json_object_get_boolean_member(r, "ticket") ? "set" : "none");
    JsonArray *servers = json_object_get_array_member(r, "servers");
    for (guint i = 0; i < json_array_get_length(servers); i++) {
        JsonObject *s = json_array_get_object_element(servers, i);
        if (g_str_equal(json_object_get_string_member(s, "kind"), "tcp"))
            printf("  spice://%s:%" G_GINT64_FORMAT "\n",
                   json_object_get_string_member(s, "address"),
                   json_object_get_int_member(s, "port"));
        else
            printf("  spice+unix://%s (%s)\n", json_object_get_string_member(s, "path"),
                   json_object_get_string_member(s, "picture"));
    }
}

static void print_clients(JsonObject *r)
{
    JsonArray *clients = json_object_get_array_member(r, "clients");
    guint n = json_array_get_length(clients);
    if (!n) {
        printf("no clients\n");
        return;
    }
    printf("%-10s %-24s %-24s %9s  %s\n", "ID", "ADDRESS", "SERVER", "CONNECTED", "CHANNELS");
    for (guint i = 0; i < n; i++) {
        JsonObject *c = json_array_get_object_element(clients, i);
        g_autoptr(GString) channels = g_string_new(NULL);
        JsonArray *ch = json_object_get_array_member(c, "channels");
        for (guint k = 0; k < json_array_get_length(ch); k++) {
            JsonObject *o = json_array_get_object_element(ch, k);
            g_string_append_printf(channels, "%s%s:%" G_GINT64_FORMAT, k ? " " : "",
                                   json_object_get_string_member(o, "type"),
                                   json_object_get_int_member(o, "id"));
        }
        printf("%-10" G_GINT64_FORMAT " %-24s %-24s %8.0fs  %s%s\n",
               json_object_get_int_member(c, "id"), json_object_get_string_member(c, "address"),
               json_object_get_string_member(c, "server"),
               json_object_get_double_member(c, "connected_s"), channels->str,
               json_object_get_boolean_member(c, "tls") ? " (TLS)" : "");
        JsonArray *displays = json_object_get_array_member(c, "displays");
        for (guint k = 0; k < json_array_get_length(displays); k++) {
            JsonObject *o = json_array_get_object_element(displays, k);
            JsonNode *codec = json_object_get_member(o, "codec");
            printf("%10s display %" G_GINT64_FORMAT ": %s, %.1f fps, %.0f kbit/s, wait %.1f ms, "
                   "encode %.1f ms\n",
                   "", json_object_get_int_member(o, "display"),
                   JSON_NODE_HOLDS_NULL(codec) ? "not streaming" : json_node_get_string(codec),
                   json_object_get_double_member(o, "fps"),
                   json_object_get_double_member(o, "kbps"),
                   json_object_get_double_member(o, "wait_ms"),
                   json_object_get_double_member(o, "encode_ms"));
        }
    }
}

static int write_screenshot(const struct spicegl_ctl_invocation *inv, JsonObject *r)
{
    gsize size = 0;
    g_autofree guchar *png = g_base64_decode(json_object_get_string_member(r, "png"), &size);
    g_autoptr(GError) error = NULL;
    if (!g_file_set_contents(inv->output, (const char *)png, (gssize)size, &error)) {
        fprintf(stderr, "spicegl-ctl: %s\n", error->message);
        return 1;
    }
    printf("%s: display %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "\n",
           inv->output, json_object_get_int_member(r, "display"),
           json_object_get_int_member(r, "width"), json_object_get_int_member(r, "height"));
    return 0;
}

int spicegl_ctl_print(const struct spicegl_ctl_invocation *inv, const char *reply)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root = NULL;
    if (json_parser_load_from_data(parser, reply, -1, NULL))
        root = json_parser_get_root(parser);
    JsonObject *o = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    JsonObject *ret = o && json_object_has_member(o, "return")
                          ? json_object_get_object_member(o, "return")
                          : NULL;
    JsonObject *err =
        o && json_object_has_member(o, "error") ? json_object_get_object_member(o, "error") : NULL;
    if (inv->json || g_str_equal(inv->command, "send")) {
        printf("%s\n", reply);
        return ret ? 0 : 1;
    }
    if (err) {
        fprintf(stderr, "spicegl-ctl: %s: %s\n", json_object_get_string_member(err, "class"),
                json_object_get_string_member(err, "desc"));
        return 1;
    }
    if (!ret) {
        fprintf(stderr, "spicegl-ctl: the daemon's reply is not one: %.200s\n", reply);
        return 1;
    }
    const char *cmd = inv->command;
    if (g_str_equal(cmd, "status")) {
        print_status(ret);
    } else if (g_str_equal(cmd, "clients")) {
        print_clients(ret);
    } else if (g_str_equal(cmd, "metrics")) {
        fputs(json_object_get_string_member(ret, "text"), stdout);
    } else if (g_str_equal(cmd, "screenshot")) {
        return write_screenshot(inv, ret);
    } else if (g_str_equal(cmd, "stats")) {
        g_autofree char *pretty = json_to_string(json_object_get_member(o, "return"), TRUE);
        printf("%s\n", pretty);
    } else {
        printf("ok\n");
    }
    return 0;
}
