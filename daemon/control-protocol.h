/* The control socket's messages (docs/control.md): one JSON object a line.
 *
 *   request:  {"execute": "NAME", "arguments": {...}, "id": ANY}
 *   reply:    {"return": {...}, "id": ANY}
 *          or {"error": {"class": "CLASS", "desc": "what went wrong"}, "id": ANY}
 *
 * This layer alone reads what a control client sent: a request is parsed
 * into a validated struct sgl_control_request, every argument checked, and
 * nothing after it re-checks. Pure functions, any thread. */
#ifndef SGL_CONTROL_PROTOCOL_H
#define SGL_CONTROL_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>

#include <json-glib/json-glib.h>

#include "spice-gl/server.h"

/* The longest request line, newline included. The largest valid request
 * (set-ticket with the longest ticket) is far below it; a longer line is
 * a client gone wrong, answered with an error and disconnected, so a
 * client cannot make the daemon buffer without bound. */
#define SGL_CONTROL_MAX_LINE 4096

/* The most seconds a ticket's lifetime may be set to (a year): beyond
 * spice-server's time_t arithmetic on 32-bit hosts, and no operator's
 * intent. */
#define SGL_CONTROL_MAX_LIFETIME_S (366u * 24 * 3600)

enum sgl_control_command {
    SGL_CONTROL_STATUS,        /* version, uptime, servers, displays */
    SGL_CONTROL_SET_TICKET,    /* the password clients must give */
    SGL_CONTROL_EXPIRE_TICKET, /* no new logins, now or in a while */
    SGL_CONTROL_CLIENTS,       /* who is connected */
    SGL_CONTROL_DISCONNECT,    /* drop one client */
    SGL_CONTROL_STATS,         /* the counters */
    SGL_CONTROL_SCREENSHOT,    /* a display as PNG */
    SGL_CONTROL_METRICS,       /* the counters in Prometheus' text format */
};

enum sgl_control_error {
    SGL_CONTROL_ERROR_PARSE,    /* not JSON, or not one object */
    SGL_CONTROL_ERROR_REQUEST,  /* no "execute", or a member that does not belong */
    SGL_CONTROL_ERROR_COMMAND,  /* no such command */
    SGL_CONTROL_ERROR_ARGUMENT, /* a missing, unknown or bad argument */
    SGL_CONTROL_ERROR_FAILED,   /* the command was valid and did not succeed */
    SGL_CONTROL_ERROR_TOO_LONG, /* the line was over SGL_CONTROL_MAX_LINE */
};
#define SGL_CONTROL_ERROR (g_quark_from_static_string("sgl-control"))

struct sgl_control_request {
    enum sgl_control_command command;
    JsonNode *id; /* owned; NULL: none given */
    union {
        struct {
            char ticket[SGL_SERVER_TICKET_MAX + 1];
            uint32_t lifetime_s; /* 0: no expiry */
            bool disconnect;     /* disconnect the connected clients */
        } set_ticket;
        struct {
            uint32_t in_s; /* 0: now */
        } expire_ticket;
        struct {
            uint32_t connection_id;
        } disconnect;
        struct {
            uint32_t display;
        } screenshot;
    };
};

/* Parses one line (without its newline). False with error (domain
 * SGL_CONTROL_ERROR): req->id is still set when the line had one, so the
 * error reply can carry it. Either way, finish req. */
bool sgl_control_parse(const char *line, size_t len, struct sgl_control_request *req,
                       GError **error);
void sgl_control_request_finish(struct sgl_control_request *req);

/* The reply lines, newline-terminated (g_free). ret: the return object
 * (NULL: {}), taken. */
char *sgl_control_reply_return(JsonNode *id, JsonObject *ret);
char *sgl_control_reply_error(JsonNode *id, const GError *error);

/* The names of the commands and error classes in messages. */
const char *sgl_control_command_name(enum sgl_control_command command);
const char *sgl_control_error_class(int code);

#endif
