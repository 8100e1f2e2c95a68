/* The guest's serial-console reports: lines "@@SGL <event> key=value ..."
 * where a value may be double-quoted to hold spaces. Anything else on the
 * console (kernel messages, program output) is not an event. */
#ifndef SGL_CONSOLE_H
#define SGL_CONSOLE_H

#include <glib.h>

#define SGL_CONSOLE_PREFIX "@@SGL "

struct sgl_console_event {
    char *name;
    GHashTable *fields; /* char * -> char *, owned */
    char *line;         /* the whole line as received */
};

/* Parses one console line (a trailing \r or \n is ignored). Returns NULL for
 * a line that is not an event or is malformed (unterminated quote, a field
 * without '=', an empty name). Free with sgl_console_event_destroy. */
struct sgl_console_event *sgl_console_event_parse(const char *line);

void sgl_console_event_destroy(struct sgl_console_event *event);

/* The field's value, or NULL. */
const char *sgl_console_event_get(const struct sgl_console_event *event, const char *key);

/* The field as an unsigned integer; false when absent or not a number. */
gboolean sgl_console_event_get_uint(const struct sgl_console_event *event, const char *key,
                                    guint64 *value);

#endif
