/* One SPICE server's record channel: the clients' microphone, for the VM.
 *
 * While the VM records (qemu-audio.h: its capture voice enabled), the
 * server asks its record client to send; the client's samples (decoded
 * from Opus by spice-server when the client sends Opus) wait in
 * spice-server's buffer until the VM reads them. The VM's capture volume
 * and mute go to the client. spice-server offers the record channel only to
 * a client that connects while no other is connected: the first keeps it.
 *
 * Main context only; destroy after spice_server_destroy(). */
#ifndef SGL_RECORD_H
#define SGL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <spice.h>

struct sgl_record;

struct sgl_record *sgl_record_create(SpiceServer *server, GError **error);
/* Accepts NULL. */
void sgl_record_destroy(struct sgl_record *r);

/* The VM started or stopped recording. */
void sgl_record_set_active(struct sgl_record *r, bool on);
/* 0..255 per channel. */
void sgl_record_set_volume(struct sgl_record *r, bool mute, uint8_t left, uint8_t right);
/* Up to n frames of the client's microphone (interleaved stereo S16 at
 * 48 kHz) into frames; returns how many there were. frames NULL: they are
 * let go (another server's client is the one heard). */
size_t sgl_record_read(struct sgl_record *r, int16_t *frames, size_t n);

#endif
