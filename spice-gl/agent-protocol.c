#include "config.h"

#include "agent-protocol.h"

#include <stdio.h>
#include <string.h>

#include <spice/vd_agent.h>

#include "common/le.h"

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static bool fail(struct sgl_agent_parser *p, const char *what, uint32_t value)
{
    snprintf(p->error, sizeof(p->error), "%s (%u)", what, value);
    p->broken = true;
    return false;
}

void sgl_agent_parser_init(struct sgl_agent_parser *p)
{
    memset(p, 0, sizeof(*p));
    sgl_agent_splitter_init(&p->split, SGL_AGENT_MAX_CHUNK);
}

static bool parse_monitors(struct sgl_agent_parser *p, const struct sgl_agent_assembly *a,
                           struct sgl_agent_in *in)
{
    if (a->size < 8)
        return fail(p, "monitors config shorter than its header", a->size);
    uint32_t n = sgl_le32_get(a->data);
    if (n == 0 || n > SGL_AGENT_MAX_MONITORS)
        return fail(p, "monitors config: monitor count out of range", n);
    if ((uint64_t)a->size < 8 + (uint64_t)n * 20)
        return fail(p, "monitors config shorter than its monitors", a->size);
    in->kind = SGL_AGENT_IN_MONITORS;
    in->n_monitors = n;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *m = a->data + 8 + 20 * i;
        /* VDAgentMonConfig: height first. */
        in->monitors[i] = (struct sgl_agent_monitor){.height = sgl_le32_get(m),
                                                     .width = sgl_le32_get(m + 4),
                                                     .x = (int32_t)sgl_le32_get(m + 12),
                                                     .y = (int32_t)sgl_le32_get(m + 16)};
        if (in->monitors[i].width > 16384 || in->monitors[i].height > 16384)
            return fail(p, "monitors config: size out of range", in->monitors[i].width);
    }
    return true;
}

static bool finish_message(struct sgl_agent_parser *p, struct sgl_agent_assembly *a,
                           sgl_agent_in_fn fn, void *user)
{
    struct sgl_agent_in in = {.kind = SGL_AGENT_IN_OTHER, .type = sgl_le32_get(a->head + 4)};
    bool complete = a->size <= SGL_AGENT_MAX_MESSAGE;
    switch (in.type) {
    case VD_AGENT_ANNOUNCE_CAPABILITIES:
        if (!complete || a->size < 8)
            return fail(p, "capabilities message of odd size", a->size);
        in.kind = SGL_AGENT_IN_CAPABILITIES;
        in.request = sgl_le32_get(a->data) != 0;
        in.caps0 = sgl_le32_get(a->data + 4);
        break;
    case VD_AGENT_MONITORS_CONFIG:
        if (!complete)
            return fail(p, "monitors config too long", a->size);
        if (!parse_monitors(p, a, &in))
            return false;
        break;
    case VD_AGENT_CLIENT_DISCONNECTED:
        in.kind = SGL_AGENT_IN_CLIENT_GONE;
        break;
    case VD_AGENT_MOUSE_STATE:
        /* VDAgentMouseState: x, y, buttons, display_id (13 bytes). */
        if (a->size != 13)
            return fail(p, "mouse state of odd size", a->size);
        in.kind = SGL_AGENT_IN_MOUSE;
        in.mouse_x = sgl_le32_get(a->data);
        in.mouse_y = sgl_le32_get(a->data + 4);
        in.mouse_buttons = sgl_le32_get(a->data + 8);
        in.mouse_display = a->data[12];
        break;
    default:
        break;
    }
    a->size = a->got = 0;
    fn(&in, user);
    return true;
}

static bool parse_begin(uint32_t port, uint32_t type, uint32_t size, const uint8_t *head,
                        void *user)
{
    struct sgl_agent_parser *p = user;
    if (p->broken)
        return false;
    struct sgl_agent_assembly *a = &p->assembly[port - 1];
    memcpy(a->head, head, SGL_AGENT_HEADER_SIZE);
    a->size = size;
    a->got = 0;
    return true;
}

static void parse_data(uint32_t port, const uint8_t *d, uint32_t n, void *user)
{
    struct sgl_agent_parser *p = user;
    struct sgl_agent_assembly *a = &p->assembly[port - 1];
    if (a->got < SGL_AGENT_MAX_MESSAGE)
        memcpy(a->data + a->got, d, min_u32(n, SGL_AGENT_MAX_MESSAGE - a->got));
    a->got += n;
}

static void parse_end(uint32_t port, void *user)
{
    struct sgl_agent_parser *p = user;
    if (!p->broken)
        finish_message(p, &p->assembly[port - 1], p->fn, p->user);
}

static const struct sgl_agent_splitter_callbacks parse_split = {parse_begin, parse_data, parse_end};

bool sgl_agent_parser_feed(struct sgl_agent_parser *p, const uint8_t *data, size_t len,
                           sgl_agent_in_fn fn, void *user)
{
    if (p->broken)
        return false;
    p->fn = fn;
    p->user = user;
    if (!sgl_agent_splitter_feed(&p->split, data, len, &parse_split, p)) {
        snprintf(p->error, sizeof(p->error), "%s", p->split.error);
        p->broken = true;
    }
    return !p->broken;
}

void sgl_agent_write_message_header(uint8_t *out, uint32_t type, uint32_t size)
{
    sgl_le32_put(out, VD_AGENT_PROTOCOL);
    sgl_le32_put(out + 4, type);
    memset(out + 8, 0, 8); /* opaque */
    sgl_le32_put(out + 16, size);
}

/* ---- the splitter ---------------------------------------------------------- */

void sgl_agent_write_chunk_header(uint8_t *out, uint32_t port, uint32_t n)
{
    sgl_le32_put(out, port);
    sgl_le32_put(out + 4, n);
}

void sgl_agent_splitter_init(struct sgl_agent_splitter *s, uint32_t max_chunk)
{
    memset(s, 0, sizeof(*s));
    s->max_chunk = max_chunk;
}

static bool split_fail(struct sgl_agent_splitter *s, const char *what, uint32_t value)
{
    snprintf(s->error, sizeof(s->error), "%s (%u)", what, value);
    s->broken = true;
    return false;
}

uint32_t sgl_agent_splitter_pending(const struct sgl_agent_splitter *s, uint32_t port)
{
    if (port != VDP_CLIENT_PORT && port != VDP_SERVER_PORT)
        return 0;
    const struct sgl_agent_splitter_port *p = &s->ports[port - 1];
    if (p->head_len == 0)
        return 0;
    if (p->head_len < SGL_AGENT_HEADER_SIZE)
        return SGL_AGENT_HEADER_SIZE - p->head_len + 1; /* at least */
    return p->size - p->got;
}

static void split_end(struct sgl_agent_splitter_port *p, uint32_t port,
                      const struct sgl_agent_splitter_callbacks *cb, void *user)
{
    if (p->wanted)
        cb->end(port, user);
    p->head_len = p->size = p->got = 0;
    p->wanted = false;
}

static bool split_message(struct sgl_agent_splitter *s, const uint8_t *d, uint32_t n,
                          const struct sgl_agent_splitter_callbacks *cb, void *user)
{
    struct sgl_agent_splitter_port *p = &s->ports[s->port - 1];
    while (n) {
        if (p->head_len < SGL_AGENT_HEADER_SIZE) {
            uint32_t take = min_u32(n, SGL_AGENT_HEADER_SIZE - p->head_len);
            memcpy(p->head + p->head_len, d, take);
            p->head_len += take;
            d += take;
            n -= take;
            if (p->head_len < SGL_AGENT_HEADER_SIZE)
                return true;
            uint32_t protocol = sgl_le32_get(p->head);
            uint32_t type = sgl_le32_get(p->head + 4);
            p->size = sgl_le32_get(p->head + 16);
            p->got = 0;
            if (protocol != VD_AGENT_PROTOCOL)
                return split_fail(s, "agent protocol version", protocol);
            if (type == 0 || type >= VD_AGENT_END_MESSAGE)
                return split_fail(s, "unknown agent message type", type);
            if (p->size > SGL_AGENT_MAX_RELAYED)
                return split_fail(s, "agent message too long", p->size);
            p->wanted = cb->begin(s->port, type, p->size, p->head, user);
            if (p->size == 0)
                split_end(p, s->port, cb, user);
            continue;
        }
        uint32_t take = min_u32(n, p->size - p->got);
        if (p->wanted)
            cb->data(s->port, d, take, user);
        p->got += take;
        d += take;
        n -= take;
        if (p->got == p->size)
            split_end(p, s->port, cb, user);
    }
    return true;
}

bool sgl_agent_splitter_feed(struct sgl_agent_splitter *s, const uint8_t *data, size_t len,
                             const struct sgl_agent_splitter_callbacks *cb, void *user)
{
    if (s->broken)
        return false;
    while (len) {
        if (s->chunk_head_len < SGL_AGENT_CHUNK_HEADER_SIZE) {
            size_t take = len < SGL_AGENT_CHUNK_HEADER_SIZE - s->chunk_head_len
                              ? len
                              : SGL_AGENT_CHUNK_HEADER_SIZE - s->chunk_head_len;
            memcpy(s->chunk_head + s->chunk_head_len, data, take);
            s->chunk_head_len += (uint32_t)take;
            data += take;
            len -= take;
            if (s->chunk_head_len < SGL_AGENT_CHUNK_HEADER_SIZE)
                return true;
            s->port = sgl_le32_get(s->chunk_head);
            s->chunk_left = sgl_le32_get(s->chunk_head + 4);
            if (s->port != VDP_CLIENT_PORT && s->port != VDP_SERVER_PORT)
                return split_fail(s, "unknown agent port", s->port);
            if (s->chunk_left > s->max_chunk)
                return split_fail(s, "agent chunk too long", s->chunk_left);
            if (s->chunk_left == 0)
                s->chunk_head_len = 0;
            continue;
        }
        uint32_t take = len < s->chunk_left ? (uint32_t)len : s->chunk_left;
        if (!split_message(s, data, take, cb, user))
            return false;
        data += take;
        len -= take;
        s->chunk_left -= take;
        if (s->chunk_left == 0)
            s->chunk_head_len = 0;
    }
    return true;
}
