#include "config.h"

#include "record.h"

#include <string.h>

#include <gio/gio.h>

#define RATE 48000 /* the VM records at it (qemu-audio.h) */
/* Frames taken per spice_server_record_get_samples() call. */
#define CHUNK_FRAMES 960

struct sgl_record {
    SpiceRecordInstance sin; /* first: spice-server hands it back to us */
    bool active;
    uint32_t chunk[CHUNK_FRAMES]; /* spice-server's frames: one uint32_t each */
};

static const SpiceRecordInterface interface = {
    .base = {.type = SPICE_INTERFACE_RECORD,
             .description = "spicegl record",
             .major_version = SPICE_INTERFACE_RECORD_MAJOR,
             .minor_version = SPICE_INTERFACE_RECORD_MINOR},
};

struct sgl_record *sgl_record_create(SpiceServer *server, GError **error)
{
    struct sgl_record *r = g_new0(struct sgl_record, 1);
    r->sin.base.sif = &interface.base;
    if (spice_server_add_interface(server, &r->sin.base) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "spice-server refused the record channel");
        g_free(r);
        return NULL;
    }
    /* Opus is offered only at a rate it has; 48 kHz is one. */
    spice_server_set_record_rate(&r->sin, RATE);
    return r;
}

void sgl_record_destroy(struct sgl_record *r)
{
    g_free(r);
}

void sgl_record_set_active(struct sgl_record *r, bool on)
{
    if (r->active == on)
        return;
    r->active = on;
    if (on)
        spice_server_record_start(&r->sin);
    else
        spice_server_record_stop(&r->sin);
}

void sgl_record_set_volume(struct sgl_record *r, bool mute, uint8_t left, uint8_t right)
{
    uint16_t v[2] = {(uint16_t)(left * 257u), (uint16_t)(right * 257u)};
    spice_server_record_set_volume(&r->sin, 2, v);
    spice_server_record_set_mute(&r->sin, mute);
}

size_t sgl_record_read(struct sgl_record *r, int16_t *frames, size_t n)
{
    if (!r->active)
        return 0;
    size_t done = 0, got;
    do {
        got = spice_server_record_get_samples(&r->sin, r->chunk,
                                              (uint32_t)MIN(n - done, CHUNK_FRAMES));
        if (frames)
            memcpy(frames + 2 * done, r->chunk, got * 4);
        done += got;
    } while (got && done < n);
    return done;
}
