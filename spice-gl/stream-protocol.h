/* The SPICE stream device protocol (spice/stream-device.h), both ways:
 * a parser for what spice-server writes to the device, validating every
 * byte before anything acts on it, and writers for what the device sends.
 * Pure: no I/O, no allocation beyond the parser's fixed buffer. */
#ifndef SGL_STREAM_PROTOCOL_H
#define SGL_STREAM_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SGL_STREAM_HEADER_SIZE 8u
#define SGL_STREAM_FORMAT_SIZE 12u
/* The largest message the server sends the device (capabilities are at most
 * 1024 bytes; START_STOP at most 256). */
#define SGL_STREAM_MAX_IN 1024u

enum sgl_stream_in_kind {
    SGL_STREAM_IN_START_STOP,   /* codecs[n_codecs]; n_codecs == 0: stop */
    SGL_STREAM_IN_CAPABILITIES, /* caps[n_caps] */
    SGL_STREAM_IN_NOTIFY_ERROR, /* text */
    SGL_STREAM_IN_OTHER,        /* a valid message we do not act on */
};

struct sgl_stream_in {
    enum sgl_stream_in_kind kind;
    uint16_t type;
    const uint8_t *payload; /* valid during the callback */
    uint32_t size;
    uint8_t n_codecs;
    const uint8_t *codecs;
};

typedef void (*sgl_stream_in_fn)(const struct sgl_stream_in *msg, void *user);

struct sgl_stream_parser {
    uint8_t buf[SGL_STREAM_HEADER_SIZE + SGL_STREAM_MAX_IN];
    size_t len;
    bool broken; /* a protocol error was seen; everything after is ignored */
    char error[96];
};

void sgl_stream_parser_init(struct sgl_stream_parser *parser);

/* Feeds bytes as the server writes them (any split). Calls fn for every
 * complete message. Returns false on a protocol error (wrong version, size
 * out of bounds, a malformed START_STOP): parser->error says what, and the
 * parser stays broken until re-initialised. */
bool sgl_stream_parser_feed(struct sgl_stream_parser *parser, const uint8_t *data, size_t len,
                            sgl_stream_in_fn fn, void *user);

/* Writes a message header; returns SGL_STREAM_HEADER_SIZE. */
size_t sgl_stream_write_header(uint8_t *out, uint16_t type, uint32_t size);

/* Writes a whole FORMAT message; returns its size. */
size_t sgl_stream_write_format(uint8_t *out, uint32_t width, uint32_t height, uint8_t codec);

/* Cursors: spice-server takes shapes up to 1024x1024, 32-bit ARGB
 * (SPICE_CURSOR_TYPE_ALPHA) here. cursor_set writes the header and fixed
 * part; width * height * 4 bytes of ARGB follow. Both return bytes written. */
#define SGL_STREAM_CURSOR_MAX       1024u
#define SGL_STREAM_CURSOR_SET_SIZE  12u
#define SGL_STREAM_CURSOR_MOVE_SIZE 8u
size_t sgl_stream_write_cursor_set(uint8_t *out, uint16_t width, uint16_t height, uint16_t hot_x,
                                   uint16_t hot_y);
size_t sgl_stream_write_cursor_move(uint8_t *out, int32_t x, int32_t y);

#endif
