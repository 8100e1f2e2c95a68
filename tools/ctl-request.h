/* spicegl-ctl's command line: parsed and checked into a struct
 * spicegl_ctl_invocation holding the one request line to send
 * (docs/control.md). Caller-allocated: _parse fills it (also on failure),
 * _finish frees it. Pure: reads only the ticket file it is given. */
#ifndef SPICEGL_CTL_REQUEST_H
#define SPICEGL_CTL_REQUEST_H

#include <stdbool.h>

#include <glib.h>

struct spicegl_ctl_invocation {
    char *control; /* the daemon's control socket */
    bool json;     /* print the reply as it came */
    char *command; /* the command's name */
    char *request; /* the line to send, newline-terminated */
    char *output;  /* screenshot: the PNG file to write */
};

/* False with error: a usage mistake (exit status 2), the message says what
 * to change. stdin_ticket: the ticket when none was given by file (read
 * by the caller from standard input), or NULL. */
bool spicegl_ctl_parse(struct spicegl_ctl_invocation *inv, int argc, char **argv,
                       const char *stdin_ticket, GError **error);
void spicegl_ctl_finish(struct spicegl_ctl_invocation *inv);

/* Whether argv names set-ticket with no --ticket-file (the ticket then
 * comes from standard input). */
bool spicegl_ctl_wants_stdin_ticket(int argc, char **argv);

extern const char spicegl_ctl_usage[];

#endif
