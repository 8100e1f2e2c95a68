#include "config.h"

#include "console.h"

#include <string.h>

void sgl_console_event_destroy(struct sgl_console_event *event)
{
    if (!event)
        return;
    g_free(event->name);
    if (event->fields)
        g_hash_table_unref(event->fields);
    g_free(event->line);
    g_free(event);
}

/* Reads one token at *p: a bare word up to a space, or "quoted text". */
static char *next_value(const char **p)
{
    const char *s = *p;
    if (*s == '"') {
        const char *end = strchr(s + 1, '"');
        if (!end)
            return NULL;
        *p = end + 1;
        return g_strndup(s + 1, (gsize)(end - s - 1));
    }
    size_t n = strcspn(s, " ");
    *p = s + n;
    return g_strndup(s, n);
}

struct sgl_console_event *sgl_console_event_parse(const char *line)
{
    if (!line)
        return NULL;
    /* The last event on the line: a reset cuts the guest's output short,
     * and the next boot's first event follows the cut-off one. */
    const char *start = g_strrstr(line, SGL_CONSOLE_PREFIX);
    if (!start)
        return NULL;
    struct sgl_console_event *ev = g_new0(struct sgl_console_event, 1);
    ev->line = g_strdup(line);
    g_strchomp(ev->line);
    ev->fields = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    const char *p = start + strlen(SGL_CONSOLE_PREFIX);
    size_t n = strcspn(p, " \r\n");
    if (n == 0)
        goto bad;
    ev->name = g_strndup(p, n);
    p += n;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == '\0' || *p == '\r' || *p == '\n')
            break;
        size_t klen = strcspn(p, "= \r\n");
        if (klen == 0 || p[klen] != '=')
            goto bad;
        char *key = g_strndup(p, klen);
        p += klen + 1;
        char *value = next_value(&p);
        if (!value) {
            g_free(key);
            goto bad;
        }
        g_strchomp(value);
        g_hash_table_replace(ev->fields, key, value);
        if (*p != '\0' && *p != ' ' && *p != '\r' && *p != '\n')
            goto bad;
    }
    return ev;
bad:
    sgl_console_event_destroy(ev);
    return NULL;
}

const char *sgl_console_event_get(const struct sgl_console_event *event, const char *key)
{
    return event ? g_hash_table_lookup(event->fields, key) : NULL;
}

gboolean sgl_console_event_get_uint(const struct sgl_console_event *event, const char *key,
                                    guint64 *value)
{
    const char *s = sgl_console_event_get(event, key);
    return s && g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, value, NULL);
}
