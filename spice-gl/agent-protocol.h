/* The SPICE agent protocol (spice/vd_agent.h) as spice-server writes it to
 * an in-process "vdagent" char device: chunks (VDIChunkHeader) that carry
 * agent messages (VDAgentMessage), from the client port or the server port.
 * Everything is validated here before anyone acts on it. The messages we act
 * on (capabilities, monitors config) are small; larger ones (clipboard, file
 * transfer) are skipped without being buffered, so a client cannot make the
 * daemon allocate. Pure: no I/O, no allocation. */
#ifndef SGL_AGENT_PROTOCOL_H
#define SGL_AGENT_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SGL_AGENT_MAX_MONITORS 16u
/* Messages longer than this are skipped (monitors config for 16 is 328). */
#define SGL_AGENT_MAX_MESSAGE 1024u
/* VD_AGENT_MAX_DATA_SIZE: no chunk from spice-server (a client's) or to it
 * is longer. The guest's agent (spice-vdagentd) writes each message as one
 * chunk as long as the message, and spice-server reads those in pieces: on
 * the guest's side chunks are bounded only through the messages' bound. */
#define SGL_AGENT_MAX_CHUNK       2048u
#define SGL_AGENT_GUEST_MAX_CHUNK UINT32_MAX

struct sgl_agent_monitor {
    uint32_t width, height;
    int32_t x, y;
};

enum sgl_agent_in_kind {
    SGL_AGENT_IN_CAPABILITIES, /* the client's capabilities; request: it wants ours */
    SGL_AGENT_IN_MONITORS,     /* the client's monitor layout (a resize request) */
    SGL_AGENT_IN_CLIENT_GONE,  /* the server says the client disconnected */
    SGL_AGENT_IN_MOUSE,        /* the server's pointer state, client mouse mode (pointer.h) */
    SGL_AGENT_IN_OTHER,        /* a well-formed message we do not act on */
};

struct sgl_agent_in {
    enum sgl_agent_in_kind kind;
    uint32_t type; /* VD_AGENT_... */
    bool request;
    uint32_t caps0; /* the first capability word */
    uint32_t n_monitors;
    struct sgl_agent_monitor monitors[SGL_AGENT_MAX_MONITORS];
    /* SGL_AGENT_IN_MOUSE: the position in display mouse_display's pixels,
     * and VD_AGENT_*BUTTON_MASK bits (wheel steps as the U and D bits). */
    uint32_t mouse_x, mouse_y, mouse_buttons;
    uint8_t mouse_display;
};

typedef void (*sgl_agent_in_fn)(const struct sgl_agent_in *msg, void *user);

/* ---- relaying: the splitter ------------------------------------------------
 * Cuts a chunk stream (either way: spice-server's or the guest agent's) into
 * messages without buffering them, for a relay that forwards some messages
 * and keeps others. Checked: the chunk's port (client or server), its size
 * (the max_chunk it was made with), each message's protocol version, type (known to
 * spice/vd_agent.h) and size (SGL_AGENT_MAX_RELAYED). */

/* The largest message relayed: a clipboard (spice-vdagent and spice-gtk
 * allow 100 MB) or a file-transfer chunk. It bounds nothing the relay
 * allocates (it holds at most a chunk header), but keeps a peer from
 * announcing a message that never ends. */
#define SGL_AGENT_MAX_RELAYED       (128u << 20)
#define SGL_AGENT_HEADER_SIZE       20u
#define SGL_AGENT_CHUNK_HEADER_SIZE 8u

struct sgl_agent_splitter_callbacks {
    /* A message starts: its port, type, data size and its header's 20
     * bytes. Returns whether its bytes (header included) are wanted. */
    bool (*begin)(uint32_t port, uint32_t type, uint32_t size, const uint8_t *head, void *user);
    /* The next n bytes of a wanted message's data. */
    void (*data)(uint32_t port, const uint8_t *bytes, uint32_t n, void *user);
    /* A wanted message is complete. */
    void (*end)(uint32_t port, void *user);
};

struct sgl_agent_splitter_port {
    uint8_t head[SGL_AGENT_HEADER_SIZE];
    uint32_t head_len;
    uint32_t size, got;
    bool wanted;
};

struct sgl_agent_splitter {
    uint8_t chunk_head[SGL_AGENT_CHUNK_HEADER_SIZE];
    uint32_t chunk_head_len, chunk_left, port, max_chunk;
    struct sgl_agent_splitter_port ports[2];
    bool broken;
    char error[96];
};

/* max_chunk: SGL_AGENT_MAX_CHUNK for spice-server's stream,
 * SGL_AGENT_GUEST_MAX_CHUNK for the guest agent's. */
void sgl_agent_splitter_init(struct sgl_agent_splitter *s, uint32_t max_chunk);
/* False on a protocol error (s->error says which); broken until
 * re-initialised. */
bool sgl_agent_splitter_feed(struct sgl_agent_splitter *s, const uint8_t *bytes, size_t n,
                             const struct sgl_agent_splitter_callbacks *cb, void *user);
/* Whether a message is under way on port: (bytes of it still to come). */
uint32_t sgl_agent_splitter_pending(const struct sgl_agent_splitter *s, uint32_t port);

/* ---- the daemon's part: the parser ---------------------------------------
 * The splitter's messages, read whole when small enough to act on. */

/* One message being assembled per port (client, server). */
struct sgl_agent_assembly {
    uint8_t head[SGL_AGENT_HEADER_SIZE]; /* VDAgentMessage header */
    uint32_t size, got;                  /* message data announced / received so far */
    uint8_t data[SGL_AGENT_MAX_MESSAGE];
};

struct sgl_agent_parser {
    struct sgl_agent_splitter split;
    struct sgl_agent_assembly assembly[2];
    sgl_agent_in_fn fn; /* during a feed */
    void *user;
    bool broken;
    char error[96];
};

void sgl_agent_parser_init(struct sgl_agent_parser *parser);

/* Feeds bytes as the server writes them (any split); calls fn for each
 * complete message. False on a protocol error (unknown port, oversized chunk,
 * wrong protocol version, malformed message): parser->error says what; the
 * parser stays broken until re-initialised. */
bool sgl_agent_parser_feed(struct sgl_agent_parser *parser, const uint8_t *data, size_t len,
                           sgl_agent_in_fn fn, void *user);

/* Writes a message's header (SGL_AGENT_HEADER_SIZE bytes): this protocol's
 * version, type, and size bytes of data to follow. */
void sgl_agent_write_message_header(uint8_t *out, uint32_t type, uint32_t size);

/* Writes a chunk header for n bytes on port. */
void sgl_agent_write_chunk_header(uint8_t *out, uint32_t port, uint32_t n);

#endif
