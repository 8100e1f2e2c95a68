#include "config.h"

#include "core.h"

#include "clients.h"

#include <glib-unix.h>
#include <glib.h>

struct SpiceTimer {
    SpiceTimerFunc func;
    void *opaque;
    GMainContext *context;
    GSource *source;
};

struct SpiceWatch {
    SpiceWatchFunc func;
    void *opaque;
    GMainContext *context;
    int fd;
    GSource *source;
};

static GMainContext *current_context(void)
{
    GMainContext *c = g_main_context_get_thread_default();
    return g_main_context_ref(c ? c : g_main_context_default());
}

static gboolean timer_fired(gpointer data)
{
    SpiceTimer *t = data;
    g_clear_pointer(&t->source, g_source_unref);
    t->func(t->opaque); /* may restart or remove the timer */
    return G_SOURCE_REMOVE;
}

static SpiceTimer *timer_add(SpiceTimerFunc func, void *opaque)
{
    SpiceTimer *t = g_new0(SpiceTimer, 1);
    t->func = func;
    t->opaque = opaque;
    t->context = current_context();
    return t;
}

static void timer_cancel(SpiceTimer *t)
{
    if (t->source) {
        g_source_destroy(t->source);
        g_clear_pointer(&t->source, g_source_unref);
    }
}

static void timer_start(SpiceTimer *t, uint32_t ms)
{
    timer_cancel(t);
    t->source = g_timeout_source_new(ms);
    g_source_set_callback(t->source, timer_fired, t, NULL);
    g_source_attach(t->source, t->context);
}

static void timer_remove(SpiceTimer *t)
{
    timer_cancel(t);
    g_main_context_unref(t->context);
    g_free(t);
}

static gboolean watch_fired(gint fd, GIOCondition cond, gpointer data)
{
    SpiceWatch *w = data;
    int events = 0;
    if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
        events |= SPICE_WATCH_EVENT_READ;
    if (cond & G_IO_OUT)
        events |= SPICE_WATCH_EVENT_WRITE;
    w->func(fd, events, w->opaque);
    return G_SOURCE_CONTINUE;
}

static void watch_update_mask(SpiceWatch *w, int mask)
{
    if (w->source) {
        g_source_destroy(w->source);
        g_clear_pointer(&w->source, g_source_unref);
    }
    GIOCondition cond = 0;
    if (mask & SPICE_WATCH_EVENT_READ)
        cond |= G_IO_IN | G_IO_HUP | G_IO_ERR;
    if (mask & SPICE_WATCH_EVENT_WRITE)
        cond |= G_IO_OUT;
    if (!cond)
        return;
    w->source = g_unix_fd_source_new(w->fd, cond);
    g_source_set_callback(w->source, G_SOURCE_FUNC(watch_fired), w, NULL);
    g_source_attach(w->source, w->context);
}

static SpiceWatch *watch_add(int fd, int mask, SpiceWatchFunc func, void *opaque)
{
    SpiceWatch *w = g_new0(SpiceWatch, 1);
    w->fd = fd;
    w->func = func;
    w->opaque = opaque;
    w->context = current_context();
    watch_update_mask(w, mask);
    return w;
}

static void watch_remove(SpiceWatch *w)
{
    watch_update_mask(w, 0);
    g_main_context_unref(w->context);
    g_free(w);
}

static void channel_event(int event, SpiceChannelEventInfo *info)
{
    static const char *names[] = {"?", "connected", "initialized", "disconnected"};
    g_debug("spice channel type %d id %d %s%s", info->type, info->id,
            names[event >= 0 && event <= 3 ? event : 0],
            info->flags & SPICE_CHANNEL_EVENT_FLAG_TLS ? " (TLS)" : "");
    sgl_clients_channel_event(event, info);
}

static const SpiceCoreInterface core = {
    .base = {.type = SPICE_INTERFACE_CORE,
             .description = "spicegl GLib core",
             .major_version = SPICE_INTERFACE_CORE_MAJOR,
             .minor_version = SPICE_INTERFACE_CORE_MINOR},
    .timer_add = timer_add,
    .timer_start = timer_start,
    .timer_cancel = timer_cancel,
    .timer_remove = timer_remove,
    .watch_add = watch_add,
    .watch_update_mask = watch_update_mask,
    .watch_remove = watch_remove,
    .channel_event = channel_event,
};

const SpiceCoreInterface *sgl_spice_core_interface(void)
{
    return &core;
}
