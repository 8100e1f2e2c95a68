/* Agent streams for the agent tests: messages as spice-server and the guest
 * agent write them (VDIChunkHeader chunks carrying VDAgentMessage). */
#ifndef TESTS_AGENT_MESSAGE_H
#define TESTS_AGENT_MESSAGE_H

#include <stdint.h>

#include <glib.h>

static inline void put32(GByteArray *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    g_byte_array_append(b, x, 4);
}

/* One agent message, split into chunks of at most chunk bytes. */
static inline GByteArray *message(uint32_t port, uint32_t protocol, uint32_t type,
                                  const uint8_t *data, uint32_t size, uint32_t chunk)
{
    GByteArray *body = g_byte_array_new();
    put32(body, protocol);
    put32(body, type);
    put32(body, 0);
    put32(body, 0); /* opaque */
    put32(body, size);
    g_byte_array_append(body, data, size);
    GByteArray *out = g_byte_array_new();
    for (guint off = 0; off < body->len; off += chunk) {
        uint32_t n = MIN(chunk, body->len - off);
        put32(out, port);
        put32(out, n);
        g_byte_array_append(out, body->data + off, n);
    }
    g_byte_array_unref(body);
    return out;
}

#endif
