#include "config.h"

#include "flashes.h"

#include <glib.h>

/* At most this many frames are kept: over an hour at one a second. */
#define MAX_FLASHES 4096

struct flash {
    uint32_t frame;
    int64_t arrived_us, decoded_us, shown_us; /* real time; 0: unknown, not yet */
};

struct probe_flashes {
    uint32_t every;
    GMutex lock;
    GArray *list; /* struct flash, in decoding order */
};

struct probe_flashes *probe_flashes_create(uint32_t every)
{
    struct probe_flashes *f = g_new0(struct probe_flashes, 1);
    f->every = every;
    g_mutex_init(&f->lock);
    f->list = g_array_new(FALSE, FALSE, sizeof(struct flash));
    return f;
}

void probe_flashes_destroy(struct probe_flashes *f)
{
    if (!f)
        return;
    g_array_unref(f->list);
    g_mutex_clear(&f->lock);
    g_free(f);
}

/* The frame's entry, looked for from the newest; NULL when not there. */
static struct flash *find(struct probe_flashes *f, uint32_t frame)
{
    for (guint i = f->list->len; i-- > 0;) {
        struct flash *x = &g_array_index(f->list, struct flash, i);
        if (x->frame == frame)
            return x;
    }
    return NULL;
}

void probe_flashes_decoded(struct probe_flashes *f, uint32_t frame, int64_t arrived_us,
                           int64_t decoded_us)
{
    if (frame % f->every)
        return;
    g_mutex_lock(&f->lock);
    if (!find(f, frame) && f->list->len < MAX_FLASHES) {
        struct flash x = {frame, arrived_us, decoded_us, 0};
        g_array_append_val(f->list, x);
    }
    g_mutex_unlock(&f->lock);
}

void probe_flashes_shown(struct probe_flashes *f, uint32_t frame)
{
    if (frame % f->every)
        return;
    int64_t now = g_get_real_time();
    g_mutex_lock(&f->lock);
    struct flash *x = find(f, frame);
    if (x && !x->shown_us)
        x->shown_us = now;
    g_mutex_unlock(&f->lock);
}

static void add_time(JsonBuilder *b, const char *name, int64_t us)
{
    json_builder_set_member_name(b, name);
    if (us)
        json_builder_add_int_value(b, us);
    else
        json_builder_add_null_value(b);
}

void probe_flashes_report(struct probe_flashes *f, JsonBuilder *b)
{
    json_builder_set_member_name(b, "flashes");
    json_builder_begin_array(b);
    g_mutex_lock(&f->lock);
    for (guint i = 0; i < f->list->len; i++) {
        const struct flash *x = &g_array_index(f->list, struct flash, i);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "frame");
        json_builder_add_int_value(b, x->frame);
        add_time(b, "arrived_us", x->arrived_us);
        add_time(b, "decoded_us", x->decoded_us);
        add_time(b, "shown_us", x->shown_us);
        json_builder_end_object(b);
    }
    g_mutex_unlock(&f->lock);
    json_builder_end_array(b);
}
