/* The VM's sound output, as QEMU's D-Bus display hands it out.
 *
 * QEMU started with -audiodev dbus,id=A,out.frequency=48000 and
 * -display dbus,...,audiodev=A exports org.qemu.Display1.Audio. Once the
 * daemon is attached to the display, qemu_audio_attach() registers an
 * output listener: a new p2p D-Bus connection on which QEMU calls Init,
 * SetEnabled, SetVolume, Write and Fini for each of its output voices
 * (QEMU 8.0 or later: 7.2 crashes on a p2p listener, so the caller says
 * sound is off there).
 *
 * Everything QEMU sends is checked here and only here: one voice is
 * played (the first one QEMU initialises in the format SPICE carries,
 * signed 16-bit little-endian stereo at QEMU_AUDIO_RATE); a voice in
 * another format, a second voice, a write of a size that is not whole
 * frames or above QEMU_AUDIO_MAX_WRITE, and calls for a voice QEMU never
 * initialised are dropped and logged, rate-limited, with the VM and the
 * connection kept. The callbacks receive only validated data.
 *
 * Main context only; the callbacks run there. */
#ifndef QEMU_AUDIO_H
#define QEMU_AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

#define QEMU_AUDIO_RATE 48000
/* Bytes in one Write: 100 ms of audio. QEMU writes 10 to 22 ms at a time;
 * a larger write is a misbehaving QEMU, and bounds what one call costs. */
#define QEMU_AUDIO_MAX_WRITE (QEMU_AUDIO_RATE / 10 * 4)

struct qemu_audio_callbacks {
    /* The played voice started (true) or stopped (false). */
    void (*enabled)(bool on, void *data);
    /* Volume per channel, 0..255 as QEMU gives it. */
    void (*volume)(bool mute, uint8_t left, uint8_t right, void *data);
    /* n frames of interleaved stereo S16 at QEMU_AUDIO_RATE. */
    void (*pcm)(const int16_t *frames, size_t n, void *data);
};

struct qemu_audio;

/* Nothing is registered until qemu_audio_attach(). cb is borrowed. */
struct qemu_audio *qemu_audio_create(const struct qemu_audio_callbacks *cb, void *data);
/* Accepts NULL. */
void qemu_audio_destroy(struct qemu_audio *a);

/* display: the connection QEMU's D-Bus display answers on (borrowed);
 * bus_name: QEMU's name on a message bus, NULL on a p2p connection. An
 * earlier listener is closed first. */
void qemu_audio_attach(struct qemu_audio *a, GDBusConnection *display, const char *bus_name);
/* QEMU's display went away: the listener is closed, a playing voice stops. */
void qemu_audio_detach(struct qemu_audio *a);

/* Stats: frames handed to pcm(), and writes dropped as invalid. */
uint64_t qemu_audio_frames(const struct qemu_audio *a);
uint64_t qemu_audio_rejected(const struct qemu_audio *a);

#endif
