/* libFuzzer: what a SPICE client (through spice-server) writes to our
 * in-process devices: the stream device protocol and the vdagent stream.
 * The first byte picks the parser and how the rest is split into writes. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "spice-gl/agent-protocol.h"
#include "spice-gl/stream-protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_stream(const struct sgl_stream_in *msg, void *user)
{
    (*(size_t *)user)++;
}

static void on_agent(const struct sgl_agent_in *msg, void *user)
{
    (*(size_t *)user)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    size_t chunk = 1 + (mode >> 1), messages = 0;
    if (mode & 1) {
        struct sgl_agent_parser p;
        sgl_agent_parser_init(&p);
        for (size_t off = 0; off < size; off += chunk)
            if (!sgl_agent_parser_feed(&p, data + off, off + chunk <= size ? chunk : size - off,
                                       on_agent, &messages))
                break;
    } else {
        struct sgl_stream_parser p;
        sgl_stream_parser_init(&p);
        for (size_t off = 0; off < size; off += chunk)
            if (!sgl_stream_parser_feed(&p, data + off, off + chunk <= size ? chunk : size - off,
                                        on_stream, &messages))
                break;
    }
    return 0;
}
