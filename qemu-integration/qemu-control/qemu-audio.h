/* The VM's sound, both ways, as QEMU's D-Bus display hands it out.
 *
 * QEMU started with -audiodev dbus,id=A,out.frequency=48000,in.frequency=48000
 * and -display dbus,...,audiodev=A exports org.qemu.Display1.Audio. Once the
 * daemon is attached to the display, qemu_audio_attach() registers two
 * listeners, each on a new p2p D-Bus connection: an output listener, on which
 * QEMU calls Init, SetEnabled, SetVolume, Write and Fini for each of its
 * output voices, and an input listener, on which it calls the same for its
 * capture voices and Read for their samples (QEMU 8.0 or later: 7.2 crashes
 * on a p2p listener, so the caller says sound is off there).
 *
 * Everything QEMU sends is checked here and only here: one voice each way is
 * served (the first one QEMU initialises in the format SPICE carries, signed
 * 16-bit little-endian stereo at QEMU_AUDIO_RATE); a voice in another
 * format, a second voice, a write of a size that is not whole frames or above
 * QEMU_AUDIO_MAX_WRITE, and calls for a voice QEMU never initialised are
 * dropped and logged, rate-limited, with the VM and the connection kept. The
 * callbacks receive only validated data.
 *
 * Recording: QEMU reads synchronously on its main loop, as often and as much
 * as its buffer has room for, so each Read is answered at once and paced
 * here to real time: what the clients' microphones gave (capture()), and
 * silence while they give nothing (no client, or a client without a
 * microphone), so that the VM's recording runs as a sound card's would.
 *
 * Main context only; the callbacks run there. */
#ifndef QEMU_AUDIO_H
#define QEMU_AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

#define QEMU_AUDIO_RATE 48000
/* Bytes in one Write, and at most in one answer to Read: 100 ms of audio.
 * QEMU writes 10 to 22 ms at a time; a larger write is a misbehaving QEMU,
 * and the bound caps what one call costs. */
#define QEMU_AUDIO_MAX_WRITE (QEMU_AUDIO_RATE / 10 * 4)

struct qemu_audio_callbacks {
    /* The played voice started (true) or stopped (false). */
    void (*enabled)(bool on, void *data);
    /* Volume per channel, 0..255 as QEMU gives it. */
    void (*volume)(bool mute, uint8_t left, uint8_t right, void *data);
    /* n frames of interleaved stereo S16 at QEMU_AUDIO_RATE. */
    void (*pcm)(const int16_t *frames, size_t n, void *data);
    /* The VM's capture voice opened (true) or closed (false). */
    void (*capture_enabled)(bool on, void *data);
    /* Its volume per channel, 0..255. */
    void (*capture_volume)(bool mute, uint8_t left, uint8_t right, void *data);
    /* Up to n frames of the clients' microphone (interleaved stereo S16 at
     * QEMU_AUDIO_RATE) into frames; returns how many there were, 0..n. */
    size_t (*capture)(int16_t *frames, size_t n, void *data);
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

/* Stats: frames handed to pcm(), and calls dropped as invalid. */
uint64_t qemu_audio_frames(const struct qemu_audio *a);
uint64_t qemu_audio_rejected(const struct qemu_audio *a);
/* Frames the VM recorded: from the clients, and silence in their stead. */
struct qemu_audio_capture_stats {
    uint64_t heard, silence;
};
void qemu_audio_get_capture_stats(const struct qemu_audio *a, struct qemu_audio_capture_stats *st);

#endif
