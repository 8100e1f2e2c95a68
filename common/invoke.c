#include "config.h"

#include "invoke.h"

struct call {
    void (*fn)(void *data);
    void *data;
    GDestroyNotify free_data;
};

static gboolean run(gpointer p)
{
    struct call *c = p;
    c->fn(c->data);
    return G_SOURCE_REMOVE;
}

static void call_free(gpointer p)
{
    struct call *c = p;
    if (c->free_data)
        c->free_data(c->data);
    g_free(c);
}

void sgl_invoke(GMainContext *context, void (*fn)(void *data), void *data, GDestroyNotify free_data)
{
    struct call *c = g_new(struct call, 1);
    *c = (struct call){fn, data, free_data};
    GSource *s = g_idle_source_new();
    g_source_set_priority(s, G_PRIORITY_DEFAULT);
    g_source_set_callback(s, run, c, call_free);
    g_source_attach(s, context);
    g_source_unref(s);
}

void sgl_invoke_copy(GMainContext *context, void (*fn)(void *data), const void *data, size_t size)
{
    sgl_invoke(context, fn, g_memdup2(data, size), g_free);
}
