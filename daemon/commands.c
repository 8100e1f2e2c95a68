/* The control socket's commands (docs/control.md), one handler each, on
 * the daemon's state. The requests are validated (control-protocol.c). */
#include "config.h"

#include <png.h>
#include <string.h>

#include "common/error.h"
#include "daemon-private.h"
#include "spice-gl/clients.h"
#include "spice-gl/local.h"
#include "spice-gl/remote.h"

/* A handler returns its answer, or NULL with error; or NULL and no error
 * when it answers the call later. */
typedef JsonObject *(*command_fn)(struct spicegl_daemon *d, const struct sgl_control_request *r,
                                  struct sgl_control_call *call, GError **error);

/* A command that cannot be done: sets *error, returns false. */
#define failed(error, ...)                                                                         \
    sgl_error_set(error, SGL_CONTROL_ERROR, SGL_CONTROL_ERROR_FAILED, __VA_ARGS__)

static const char *codec_name(uint8_t codec)
{
    switch (codec) {
    case SPICE_VIDEO_CODEC_TYPE_H264:
        return "h264";
    case SPICE_VIDEO_CODEC_TYPE_MJPEG:
        return "mjpeg";
    default:
        return NULL;
    }
}

static double seconds_since(int64_t us)
{
    return (double)(g_get_monotonic_time() - us) / 1e6;
}

/* ---- rates ---------------------------------------------------------------- */

gboolean spicegl_daemon_sample_rates(gpointer user)
{
    struct spicegl_daemon *d = user;
    int64_t now = g_get_monotonic_time();
    for (guint i = 0; i < d->remotes->len && i < d->rates->len; i++) {
        struct sgl_remote_stats st;
        sgl_remote_get_stats(g_ptr_array_index(d->remotes, i), &st);
        struct spicegl_rate *r = &g_array_index(d->rates, struct spicegl_rate, i);
        double dt = (double)(now - r->at_us) / 1e6;
        if (r->at_us && dt > 0) {
            /* New pictures only: refine passes improve a picture already shown. */
            r->fps = (double)(st.encoder.encoded - st.encoder.refined - r->encoded) / dt;
            r->kbps = (double)(st.encoder.bytes - r->bytes) * 8 / 1000 / dt;
        }
        r->encoded = st.encoder.encoded - st.encoder.refined;
        r->bytes = st.encoder.bytes;
        r->at_us = now;
    }
    return G_SOURCE_CONTINUE;
}

/* ---- status --------------------------------------------------------------- */

static JsonObject *cmd_status(struct spicegl_daemon *d, const struct sgl_control_request *r,
                              struct sgl_control_call *call, GError **error)
{
    (void)call;
    (void)r, (void)error;
    const struct spicegl_options *o = d->options;
    JsonObject *s = json_object_new();
    json_object_set_string_member(s, "version", PACKAGE_VERSION);
    json_object_set_double_member(s, "uptime_s", seconds_since(d->started_us));
    json_object_set_string_member(s, "source",
                                  o->source == SPICEGL_SOURCE_GPU ? "gpu" : "synthetic");
    if (o->source == SPICEGL_SOURCE_GPU)
        json_object_set_boolean_member(s, "qemu_connected", d->qemu_connected);
    json_object_set_int_member(s, "displays", d->outputs);
    json_object_set_boolean_member(s, "sandbox", o->sandbox);
    json_object_set_boolean_member(s, "ticket", d->ticket != NULL);
    JsonArray *servers = json_array_new();
    if (o->listen_tcp) {
        JsonObject *t = json_object_new();
        json_object_set_string_member(t, "kind", "tcp");
        json_object_set_string_member(t, "address", o->addr ? o->addr : "127.0.0.1");
        json_object_set_int_member(t, "port", o->server.port);
        if (o->server.tls_port)
            json_object_set_int_member(t, "tls_port", o->server.tls_port);
        json_array_add_object_element(servers, t);
    }
    if (o->listen_unix) {
        JsonObject *u = json_object_new();
        json_object_set_string_member(u, "kind", "unix");
        json_object_set_string_member(u, "path", o->unix_path);
        json_object_set_string_member(u, "picture", o->local_gl ? "gl" : "stream");
        json_array_add_object_element(servers, u);
    }
    json_object_set_array_member(s, "servers", servers);
    return s;
}

/* ---- tickets -------------------------------------------------------------- */

static JsonObject *cmd_set_ticket(struct spicegl_daemon *d, const struct sgl_control_request *r,
                                  struct sgl_control_call *call, GError **error)
{
    (void)call;
    for (guint i = 0; i < d->servers->len; i++)
        if (spice_server_set_ticket(g_ptr_array_index(d->servers, i), r->set_ticket.ticket,
                                    (int)r->set_ticket.lifetime_s, 0,
                                    r->set_ticket.disconnect) != 0)
            return failed(error, "spice-server refused the ticket"), NULL;
    if (d->ticket)
        memset(d->ticket, 0, strlen(d->ticket));
    g_free(d->ticket);
    d->ticket = g_strdup(r->set_ticket.ticket);
    g_message("control: ticket set%s%s", r->set_ticket.lifetime_s ? ", with a lifetime" : "",
              r->set_ticket.disconnect ? ", clients disconnected" : "");
    JsonObject *ret = json_object_new();
    json_object_set_int_member(ret, "lifetime", r->set_ticket.lifetime_s);
    return ret;
}

static JsonObject *cmd_expire_ticket(struct spicegl_daemon *d, const struct sgl_control_request *r,
                                     struct sgl_control_call *call, GError **error)
{
    (void)call;
    uint32_t in = r->expire_ticket.in_s;
    if (in && !d->ticket)
        return failed(error, "no ticket is set to expire later: set one with set-ticket"), NULL;
    /* Now: the password is cleared, which no login matches. Later: the
     * same password with a lifetime. Connected clients stay either way. */
    for (guint i = 0; i < d->servers->len; i++)
        spice_server_set_ticket(g_ptr_array_index(d->servers, i), in ? d->ticket : NULL, (int)in, 0,
                                0);
    if (!in && d->ticket) {
        memset(d->ticket, 0, strlen(d->ticket));
        g_clear_pointer(&d->ticket, g_free);
    }
    g_message("control: ticket expires %s", in ? "later" : "now");
    JsonObject *ret = json_object_new();
    json_object_set_int_member(ret, "in", in);
    return ret;
}

/* ---- clients -------------------------------------------------------------- */

/* A display stream's figures, for its clients and the stats. */
static void add_stream_figures(struct spicegl_daemon *d, guint index, JsonObject *o)
{
    struct sgl_remote_stats st;
    sgl_remote_get_stats(g_ptr_array_index(d->remotes, index), &st);
    const char *codec = codec_name(st.codec);
    if (codec)
        json_object_set_string_member(o, "codec", codec);
    else
        json_object_set_null_member(o, "codec");
    const struct spicegl_rate *rate = &g_array_index(d->rates, struct spicegl_rate, index);
    json_object_set_double_member(o, "fps", rate->fps);
    json_object_set_double_member(o, "kbps", rate->kbps);
    json_object_set_int_member(o, "target_kbps", st.encoder.bitrate_kbps);
    uint64_t pictures = st.encoder.encoded - st.encoder.refined;
    json_object_set_double_member(o, "wait_ms",
                                  pictures ? (double)st.encoder.wait_us / 1000 / pictures : 0);
    json_object_set_double_member(o, "encode_ms",
                                  pictures ? (double)st.encoder.encode_us / 1000 / pictures : 0);
    json_object_set_double_member(o, "latency_p50_ms", st.latency_p50_us / 1000.0);
    json_object_set_double_member(o, "latency_p95_ms", st.latency_p95_us / 1000.0);
}

static JsonObject *cmd_clients(struct spicegl_daemon *d, const struct sgl_control_request *r,
                               struct sgl_control_call *call, GError **error)
{
    (void)call;
    (void)r, (void)error;
    g_autoptr(GArray) clients = sgl_clients_list();
    JsonArray *list = json_array_new();
    for (guint i = 0; i < clients->len; i++) {
        const struct sgl_client *c = &g_array_index(clients, struct sgl_client, i);
        JsonObject *o = json_object_new();
        json_object_set_int_member(o, "id", c->connection_id);
        json_object_set_string_member(o, "address", c->peer);
        json_object_set_string_member(o, "server", c->local);
        json_object_set_boolean_member(o, "tls", c->tls);
        json_object_set_double_member(o, "connected_s", seconds_since(c->since_us));
        JsonArray *channels = json_array_new();
        JsonArray *displays = json_array_new();
        bool unix_client = g_str_equal(c->peer, "unix");
        for (guint k = 0; k < c->channels->len; k++) {
            const struct sgl_client_channel *ch =
                &g_array_index(c->channels, struct sgl_client_channel, k);
            JsonObject *co = json_object_new();
            json_object_set_string_member(co, "type", sgl_clients_channel_name(ch->type));
            json_object_set_int_member(co, "id", ch->id);
            json_array_add_object_element(channels, co);
            /* A display channel of a streaming server: its stream, which
             * every client of the display shares. */
            guint server = unix_client && d->options->listen_tcp ? 1 : 0;
            guint index = server * d->outputs + (guint)ch->id;
            bool streams = !(unix_client && d->options->local_gl);
            if (ch->type == SPICE_CHANNEL_DISPLAY && streams && ch->id >= 0 &&
                (guint)ch->id < d->outputs && index < d->remotes->len) {
                JsonObject *disp = json_object_new();
                json_object_set_int_member(disp, "display", ch->id);
                add_stream_figures(d, index, disp);
                json_array_add_object_element(displays, disp);
            }
        }
        json_object_set_array_member(o, "channels", channels);
        json_object_set_array_member(o, "displays", displays);
        json_array_add_object_element(list, o);
    }
    JsonObject *ret = json_object_new();
    json_object_set_array_member(ret, "clients", list);
    return ret;
}

static JsonObject *cmd_disconnect(struct spicegl_daemon *d, const struct sgl_control_request *r,
                                  struct sgl_control_call *call, GError **error)
{
    (void)call;
    (void)d;
    GError *e = NULL;
    if (!sgl_clients_disconnect(r->disconnect.connection_id, &e)) {
        failed(error, "%s", e->message);
        g_error_free(e);
        return NULL;
    }
    JsonObject *ret = json_object_new();
    json_object_set_int_member(ret, "id", r->disconnect.connection_id);
    return ret;
}

/* ---- stats ---------------------------------------------------------------- */

static JsonObject *stats_object(struct spicegl_daemon *d)
{
    JsonObject *s = json_object_new();
    json_object_set_double_member(s, "uptime_s", seconds_since(d->started_us));
    JsonObject *src = json_object_new();
    json_object_set_int_member(src, "frames", (gint64)sgl_source_frames(d->source));
    struct sgl_source_gpu_stats gs;
    if (sgl_source_gpu_stats(d->source, &gs)) {
        json_object_set_int_member(src, "commands", (gint64)gs.commands);
        json_object_set_int_member(src, "rejected", (gint64)gs.rejected);
        json_object_set_int_member(src, "flushes", (gint64)gs.flushes);
        json_object_set_int_member(src, "fences", (gint64)gs.fences);
        json_object_set_int_member(src, "resources", gs.resources);
        json_object_set_int_member(src, "contexts", gs.contexts);
        json_object_set_int_member(src, "host_bytes", (gint64)gs.host_bytes);
        json_object_set_int_member(src, "max_host_bytes", (gint64)gs.max_host_bytes);
    }
    json_object_set_object_member(s, "source", src);
    JsonArray *displays = json_array_new();
    for (guint i = 0; i < d->remotes->len; i++) {
        struct sgl_remote_stats st;
        struct sgl_remote *remote = g_ptr_array_index(d->remotes, i);
        sgl_remote_get_stats(remote, &st);
        JsonObject *o = json_object_new();
        json_object_set_int_member(o, "display", i % d->outputs);
        json_object_set_string_member(o, "server",
                                      i < d->outputs && d->options->listen_tcp ? "tcp" : "unix");
        add_stream_figures(d, i, o);
        json_object_set_int_member(o, "submitted", (gint64)st.encoder.submitted);
        json_object_set_int_member(o, "unchanged", (gint64)st.encoder.unchanged);
        json_object_set_int_member(o, "encoded", (gint64)st.encoder.encoded);
        json_object_set_int_member(o, "refine_passes", (gint64)st.encoder.refined);
        json_object_set_int_member(o, "keyframes", (gint64)st.encoder.keyframes);
        json_object_set_int_member(o, "sent", (gint64)st.sent);
        json_object_set_int_member(o, "bytes", (gint64)st.encoder.bytes);
        json_object_set_int_member(o, "errors", (gint64)st.encoder.errors);
        json_object_set_int_member(o, "client_sets", (gint64)st.starts);
        JsonObject *dropped = json_object_new();
        json_object_set_int_member(dropped, "back_pressure", (gint64)st.encoder.dropped_pressure);
        json_object_set_int_member(dropped, "pacing", (gint64)st.encoder.dropped_rate);
        json_object_set_int_member(dropped, "encoder_busy", (gint64)st.encoder.dropped_busy);
        json_object_set_int_member(dropped, "no_client", (gint64)st.encoder.dropped_paused);
        json_object_set_object_member(o, "dropped", dropped);
        json_array_add_object_element(displays, o);
    }
    json_object_set_array_member(s, "displays", displays);
    JsonArray *locals = json_array_new();
    for (guint i = 0; i < d->locals->len; i++) {
        struct sgl_local_stats st;
        sgl_local_get_stats(g_ptr_array_index(d->locals, i), &st);
        JsonObject *o = json_object_new();
        json_object_set_int_member(o, "scanouts", (gint64)st.scanouts);
        json_object_set_int_member(o, "draws", (gint64)st.draws);
        json_object_set_int_member(o, "shown", (gint64)st.done);
        json_array_add_object_element(locals, o);
    }
    json_object_set_array_member(s, "local", locals);
    g_autoptr(GArray) clients = sgl_clients_list();
    json_object_set_int_member(s, "clients", clients->len);
    return s;
}

static JsonObject *cmd_stats(struct spicegl_daemon *d, const struct sgl_control_request *r,
                             struct sgl_control_call *call, GError **error)
{
    (void)call;
    (void)r, (void)error;
    return stats_object(d);
}

/* The stats in Prometheus' text format: each number of stats_object, named
 * spicegl_<path>, with the display as a label. */
static void metric(GString *out, const char *name, const char *labels, JsonNode *v)
{
    if (!JSON_NODE_HOLDS_VALUE(v))
        return;
    GType t = json_node_get_value_type(v);
    if (t == G_TYPE_INT64)
        g_string_append_printf(out, "spicegl_%s%s %" G_GINT64_FORMAT "\n", name, labels,
                               json_node_get_int(v));
    else if (t == G_TYPE_DOUBLE)
        g_string_append_printf(out, "spicegl_%s%s %.3f\n", name, labels, json_node_get_double(v));
}

static void metrics_of(GString *out, const char *prefix, const char *labels, JsonObject *o)
{
    g_autoptr(GList) members = json_object_get_members(o);
    for (GList *m = members; m; m = m->next) {
        const char *key = m->data;
        if (g_str_equal(key, "display"))
            continue;
        g_autofree char *name = *prefix ? g_strdup_printf("%s_%s", prefix, key) : g_strdup(key);
        JsonNode *v = json_object_get_member(o, key);
        if (JSON_NODE_HOLDS_OBJECT(v))
            metrics_of(out, name, labels, json_node_get_object(v));
        else
            metric(out, name, labels, v);
    }
}

static JsonObject *cmd_metrics(struct spicegl_daemon *d, const struct sgl_control_request *r,
                               struct sgl_control_call *call, GError **error)
{
    (void)call;
    (void)r, (void)error;
    g_autoptr(JsonObject) s = stats_object(d);
    GString *out = g_string_new(NULL);
    /* Arrays are left out here: the displays follow, labelled. */
    metrics_of(out, "", "", s);
    JsonArray *displays = json_object_get_array_member(s, "displays");
    for (guint i = 0; i < json_array_get_length(displays); i++) {
        JsonObject *o = json_array_get_object_element(displays, i);
        g_autofree char *labels = g_strdup_printf(
            "{display=\"%" G_GINT64_FORMAT "\",server=\"%s\"}",
            json_object_get_int_member(o, "display"), json_object_get_string_member(o, "server"));
        json_object_remove_member(o, "server");
        json_object_remove_member(o, "codec");
        metrics_of(out, "display", labels, o);
    }
    JsonObject *ret = json_object_new();
    json_object_set_string_member(ret, "text", out->str);
    g_string_free(out, TRUE);
    return ret;
}

/* ---- screenshot ----------------------------------------------------------- */

/* A copy of a display's newest picture, compressed on a worker thread: a
 * large one takes long enough that the main context, which feeds the
 * clients, must not wait for it. */
struct shot {
    struct sgl_control_call *call;
    uint8_t *pixels;
    uint32_t display, width, height;
    enum sgl_format format;
};

static void shot_free(gpointer data)
{
    struct shot *s = data;
    g_free(s->pixels);
    g_free(s);
}

static void shot_compress(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    (void)source, (void)cancel;
    struct shot *s = data;
    static const png_uint_32 png_formats[] = {[SGL_FORMAT_BGRX] = PNG_FORMAT_BGRA,
                                              [SGL_FORMAT_BGRA] = PNG_FORMAT_BGRA,
                                              [SGL_FORMAT_RGBX] = PNG_FORMAT_RGBA,
                                              [SGL_FORMAT_RGBA] = PNG_FORMAT_RGBA};
    /* The picture as clients see it: X bytes are no transparency. */
    for (size_t i = 3; i < (size_t)s->width * s->height * 4; i += 4)
        s->pixels[i] = 0xff;
    png_image image = {.version = PNG_IMAGE_VERSION,
                       .width = s->width,
                       .height = s->height,
                       .format = png_formats[s->format]};
    png_alloc_size_t size = 0;
    png_int_32 stride = (png_int_32)s->width * 4;
    g_autofree uint8_t *png = NULL;
    if (png_image_write_to_memory(&image, NULL, &size, 0, s->pixels, stride, NULL)) {
        png = g_malloc(size);
        if (!png_image_write_to_memory(&image, png, &size, 0, s->pixels, stride, NULL))
            g_clear_pointer(&png, g_free);
    }
    if (!png) {
        g_task_return_new_error(task, SGL_CONTROL_ERROR, SGL_CONTROL_ERROR_FAILED, "PNG: %s",
                                image.message);
        return;
    }
    JsonObject *ret = json_object_new();
    json_object_set_int_member(ret, "display", s->display);
    json_object_set_int_member(ret, "width", s->width);
    json_object_set_int_member(ret, "height", s->height);
    g_autofree char *b64 = g_base64_encode(png, size);
    json_object_set_string_member(ret, "png", b64);
    g_task_return_pointer(task, ret, (GDestroyNotify)json_object_unref);
}

static void shot_done(GObject *source, GAsyncResult *result, gpointer data)
{
    (void)source, (void)data;
    GTask *task = G_TASK(result);
    struct shot *s = g_task_get_task_data(task);
    g_autoptr(GError) error = NULL;
    JsonObject *ret = g_task_propagate_pointer(task, &error);
    if (ret)
        sgl_control_call_return(s->call, ret);
    else
        sgl_control_call_fail(s->call, error);
}

static JsonObject *cmd_screenshot(struct spicegl_daemon *d, const struct sgl_control_request *r,
                                  struct sgl_control_call *call, GError **error)
{
    uint32_t k = r->screenshot.display;
    if (k >= d->outputs)
        return failed(error, "no display %u: there are %u", k, d->outputs), NULL;
    if (k >= d->remotes->len)
        return failed(error,
                      "display %u is not streamed (the unix socket's GL path shows the GPU's "
                      "buffers without copying them): screenshots come from a stream",
                      k),
               NULL;
    struct shot *s = g_new0(struct shot, 1);
    s->call = call;
    s->display = k;
    if (!sgl_remote_snapshot(g_ptr_array_index(d->remotes, k), &s->pixels, &s->width, &s->height,
                             &s->format)) {
        shot_free(s);
        return failed(error, "display %u has shown no picture yet", k), NULL;
    }
    g_autoptr(GTask) task = g_task_new(NULL, NULL, shot_done, NULL);
    g_task_set_task_data(task, s, shot_free);
    g_task_run_in_thread(task, shot_compress);
    return NULL; /* answered by shot_done */
}

/* ---- dispatch ------------------------------------------------------------- */

static const command_fn commands[] = {
    [SGL_CONTROL_STATUS] = cmd_status,
    [SGL_CONTROL_SET_TICKET] = cmd_set_ticket,
    [SGL_CONTROL_EXPIRE_TICKET] = cmd_expire_ticket,
    [SGL_CONTROL_CLIENTS] = cmd_clients,
    [SGL_CONTROL_DISCONNECT] = cmd_disconnect,
    [SGL_CONTROL_STATS] = cmd_stats,
    [SGL_CONTROL_SCREENSHOT] = cmd_screenshot,
    [SGL_CONTROL_METRICS] = cmd_metrics,
};

void spicegl_daemon_execute(const struct sgl_control_request *request,
                            struct sgl_control_call *call, void *user)
{
    GError *error = NULL;
    JsonObject *ret = commands[request->command](user, request, call, &error);
    if (ret) {
        sgl_control_call_return(call, ret);
    } else if (error) {
        sgl_control_call_fail(call, error);
        g_error_free(error);
    }
}
