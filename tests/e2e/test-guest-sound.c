/* The VM's sound through spicegl, both ways, end to end: one guest boot for
 * the sound both ways and several clients, one for A/V sync (test_av_sync).
 * The test guest has a sound card (QEMU's intel-hda with hda-duplex, on the
 * D-Bus audio backend). First it records: spicegl-probe sends a tone from
 * its "microphone" on the record channel, spicegl-gpu hands it to QEMU, and
 * the guest measures what it recorded. Then it plays a sine: QEMU's D-Bus
 * display hands the samples to spicegl-gpu, which plays them on its SPICE
 * playback channel, and the probe decodes what it receives (Opus) and
 * measures the tone. (One after the other: an emulated guest cannot keep
 * both going at real time, and the test measures spicegl, not TCG.) Then
 * a second boot runs the GL program with clicks on the sound card: the
 * picture against its sound. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "common/percentile.h"
#include "tests/e2e/daemon.h"
#include "tests/test-util.h"

#define TONE_HZ 440.0
#define MIC_HZ  1000.0
/* The guest records this long from boot: the probe's tone, sent from just
 * after the recording starts for 4 s, falls inside it. */
#define RECORD_S 10
/* While it plays, the guest steps its card's level every this many
 * seconds: 40 %, 40 % muted, 80 % (sgl.mixer). */
#define MIXER_STEP_S 2
/* A client listens this long: every step of the cycle at least once. */
#define LISTEN_S (3 * MIXER_STEP_S + 1)
/* spice-server up to 0.15.1 keeps a client's microphone in a ring of 8192
 * frames and copies the part of a packet that wraps around its end from
 * the wrong offset (fixed upstream after 0.15.1): at each wrap the stream
 * repeats 24*k frames and loses as many (k: the wrap's number, modulo 15).
 * A 1 kHz tone (48 frames a period) shows the odd wraps as breaks, 170.7 ms
 * apart in the client's stream; every break the guest hears must be one. */
#define SPICE_RECORD_WRAP_S (8192 / 48000.0)
#define WRAP_SLACK_S        0.012

/* The breaks at the comma-separated times (s from the tone's start) that
 * the spice-server wrap does not explain. */
static int unexplained_breaks(const char *at)
{
    int n = 0;
    g_auto(GStrv) times = g_strsplit(at ? at : "", ",", 0);
    for (guint i = 0; times[i] && strcmp(times[i], "none"); i++) {
        double t = g_ascii_strtod(times[i], NULL);
        long k = lround(t / SPICE_RECORD_WRAP_S);
        if (k % 2 == 0 || fabs(t - k * SPICE_RECORD_WRAP_S) > WRAP_SLACK_S)
            n++;
    }
    return n;
}

/* The probe's 1 kHz reaches the guest's recording: the server asks the
 * probe to record, in SPICE's format; the guest hears the right frequency
 * (within 2 Hz), as one stretch of tone of at least 3 s at a level near
 * what was sent (-6 dBFS, through the guest's capture volume), with no
 * break but spice-server's own (above: at most 3 at each odd wrap of its
 * ring) and 2 others; the daemon says it serves QEMU's capture voice
 * and handed the client's samples over. Instrumented, the guest (late to
 * empty its card's buffer, as when playing) may lose a few stretches of
 * samples. */
static void test_guest_records_client(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct sgl_e2e_daemon *d = sgl_e2e_daemon_start(
        e, "spicegl-sound", &(struct sgl_e2e_daemon_options){.qmp = true, .sound = true});
    g_autofree char *args = g_strdup_printf(
        "sgl.run= sgl.stay=1 sgl.tone=440 sgl.record=%d sgl.mixer=%d", RECORD_S, MIXER_STEP_S);
    struct sgl_vm *vm = sgl_e2e_daemon_boot(e, d, "spicegl-sound", args, d->qmp);
    const struct sgl_console_event *start = sgl_e2e_expect(vm, "record-start", SGL_E2E_BOOT_MS);
    print_message("# the guest records from its card %s (mixer: %s)\n",
                  sgl_console_event_get(start, "card"), sgl_console_event_get(start, "mixer"));
    if (!sgl_e2e_daemon_log_wait(d, "sound: the VM started recording", 20000))
        fail_msg("the daemon never saw the VM record; its log:\n%s", sgl_e2e_daemon_log(d));
    g_autoptr(JsonParser) parser = NULL;
    const char *mic[] = {"--mic", G_STRINGIFY(MIC_HZ), NULL};
    JsonObject *o = sgl_e2e_probe_run(e, d, 4, mic, &parser);
    JsonObject *m = json_object_get_object_member(o, "mic");
    print_message("# the probe was asked to record %d time(s) and sent %.1f s at %d Hz\n",
                  (int)sgl_e2e_num(m, "starts"), sgl_e2e_num(m, "seconds_sent"),
                  (int)sgl_e2e_num(m, "rate"));
    assert_true(sgl_e2e_num(m, "starts") >= 1);
    assert_int_equal((int)sgl_e2e_num(m, "bad_format"), 0);
    assert_int_equal((int)sgl_e2e_num(m, "rate"), 48000);
    assert_int_equal((int)sgl_e2e_num(m, "channels"), 2);
    assert_true(sgl_e2e_num(m, "seconds_sent") >= 3.0);

    const struct sgl_console_event *rec = sgl_e2e_expect(vm, "record", (RECORD_S + 90) * 1000);
    double hz = g_ascii_strtod(sgl_console_event_get(rec, "hz"), NULL);
    double tone_s = g_ascii_strtod(sgl_console_event_get(rec, "tone_s"), NULL);
    double ms = g_ascii_strtod(sgl_console_event_get(rec, "ms"), NULL);
    int breaks = (int)sgl_e2e_expect_uint(rec, "breaks");
    const char *at = sgl_console_event_get(rec, "breaks_at");
    double level = ms > 0 ? 10 * log10(ms / (32768.0 * 32768.0)) : -INFINITY;
    print_message("# the guest recorded %.2f Hz at %.1f dBFS for %.2f s with %d break(s), the "
                  "first at %s s\n",
                  hz, level, tone_s, breaks, at);
    if (hz < MIC_HZ - 2 || hz > MIC_HZ + 2)
        fail_msg("the guest recorded %.2f Hz, not %.0f: %s", hz, MIC_HZ, rec->line);
    assert_true(tone_s >= 3.0);
    assert_true(level > -30.0);
    int odd_wraps = (int)((tone_s / SPICE_RECORD_WRAP_S + 1) / 2);
    /* A loaded host (make -j2 runs two guests at once) can make the
     * emulated guest late to empty its card: a stretch lost there. */
    int slack = sgl_test_sanitizers() ? 8 : 2;
    if (breaks > 3 * odd_wraps + slack || unexplained_breaks(at) > slack)
        fail_msg("%d breaks in %.2f s of recorded tone (%d of spice-server's wraps), at %s s",
                 breaks, tone_s, odd_wraps, at);
    g_autofree char *log = sgl_e2e_daemon_log(d);
    assert_non_null(strstr(log, "records from SPICE clients (48000 Hz stereo)"));
    const char *stats = g_strrstr(log, "stats[microphone]: frames ");
    if (!stats)
        fail_msg("the daemon handed no microphone samples to QEMU; its log:\n%s", log);
    guint64 heard = g_ascii_strtoull(stats + strlen("stats[microphone]: frames "), NULL, 10);
    print_message("# %.*s\n", (int)strcspn(stats, "\n"), stats);
    assert_true(heard >= 3 * 48000);
    sgl_e2e_daemon_expect_clean_log(d);
}

/* A probe's "sound" member: NULL when it received none. */
static JsonObject *heard(JsonObject *probe)
{
    JsonNode *node = json_object_get_member(probe, "sound");
    return node && !JSON_NODE_HOLDS_NULL(node) ? json_node_get_object(node) : NULL;
}

/* Whether the client saw the server set this level: unmuted within 10
 * points of percent (of 65535), or muted. */
static bool saw_level(JsonArray *changes, bool mute, int percent)
{
    for (guint i = 0; changes && i < json_array_get_length(changes); i++) {
        JsonObject *c = json_array_get_object_element(changes, i);
        double v = sgl_e2e_num(c, "volume") * 100.0 / 65535.0;
        if (json_object_get_boolean_member(c, "mute") == mute &&
            (mute || fabs(v - percent) <= 10.0))
            return true;
    }
    return false;
}

/* Then the guest's 440 Hz reaches a client: the right frequency (within
 * 2 Hz), at the sine's level, as Opus, with no discontinuity in the tone
 * and no gap in arrival over 20 ms after the first 200 ms; the daemon
 * refused and dropped nothing. The daemon says which of QEMU's voices it
 * plays. The guest's mixer, stepped while the client listens, reaches the
 * client: 40 %, muted and 80 % again (the samples themselves are not
 * scaled: QEMU leaves the volume to the D-Bus audio backend's listener,
 * and spice-server sends it to the client as a level to apply).
 *
 * Instrumented, the daemon and the probe take much of the two cores the
 * emulated guest needs to refill its card in time: the guest's own
 * underruns then break the tone (the stream QEMU hands over already has
 * them) and the daemon's jitter buffer runs dry for the time it takes to
 * refill it. There, a few breaks and one such refill are allowed. */
static void test_tone_reaches_client(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct sgl_e2e_daemon *d = e->helper;
    struct sgl_vm *vm = e->vm;
    if (!vm || !d)
        fail_msg("no guest: the test before did not boot it");
    /* After the recording and its analysis. */
    const struct sgl_console_event *tone = sgl_e2e_expect(vm, "tone-start", (RECORD_S + 90) * 1000);
    print_message("# the guest plays %s Hz on its card %s\n", sgl_console_event_get(tone, "hz"),
                  sgl_console_event_get(tone, "card"));
    if (!sgl_e2e_daemon_log_wait(d, "sound: the VM started playing", 20000))
        fail_msg("the daemon never heard the VM play; its log:\n%s", sgl_e2e_daemon_log(d));
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *s = heard(sgl_e2e_probe_run(e, d, LISTEN_S, NULL, &parser));
    if (!s)
        fail_msg("the probe received no sound");
    double hz = sgl_e2e_num(s, "frequency_hz"), level = sgl_e2e_num(s, "level_dbfs");
    double gap = sgl_e2e_num(s, "max_gap_ms"), secs = sgl_e2e_num(s, "seconds");
    int breaks = (int)sgl_e2e_num(s, "discontinuities");
    const char *codec = json_object_get_string_member(s, "codec");
    print_message("# the probe heard %.2f Hz at %.1f dBFS for %.1f s (%s, %.0f bytes/s): %d "
                  "discontinuities, longest gap in arrival %.1f ms\n",
                  hz, level, secs, codec, sgl_e2e_num(s, "bytes_per_s"), breaks, gap);
    g_autoptr(GString) where = g_string_new(NULL);
    JsonArray *at = json_object_get_array_member(s, "discontinuities_at_s");
    for (guint i = 0; at && i < json_array_get_length(at); i++)
        g_string_append_printf(where, " %.3f", json_array_get_double_element(at, i));
    if (breaks)
        print_message("# discontinuities at (s of audio):%s\n", where->str);
    if (hz < TONE_HZ - 2 || hz > TONE_HZ + 2)
        fail_msg("the tone is %.2f Hz, not %.0f", hz, TONE_HZ);
    assert_string_equal(codec, "opus");
    assert_true(secs >= 3.0);
    assert_true(level > -20.0);
    bool instrumented = sgl_test_sanitizers();
    if (breaks > (instrumented ? 8 : 0) || gap > (instrumented ? 400.0 : 20.0))
        fail_msg("%d discontinuities, a gap of %.1f ms", breaks, gap);
    JsonArray *levels = json_object_get_array_member(s, "level_changes");
    g_autoptr(GString) seen = g_string_new(NULL);
    for (guint i = 0; levels && i < json_array_get_length(levels); i++) {
        JsonObject *c = json_array_get_object_element(levels, i);
        g_string_append_printf(seen, " %.1f s: %.0f %%%s", sgl_e2e_num(c, "at_s"),
                               sgl_e2e_num(c, "volume") * 100.0 / 65535.0,
                               json_object_get_boolean_member(c, "mute") ? " muted" : "");
    }
    print_message("# the client's volume and mute, as the server set them:%s\n", seen->str);
    if (!saw_level(levels, false, 40) || !saw_level(levels, true, 0) ||
        !saw_level(levels, false, 80))
        fail_msg("the guest's mixer steps (40 %%, muted, 80 %%) did not all reach the client:%s",
                 seen->str);
    g_autofree char *log = sgl_e2e_daemon_log(d);
    assert_non_null(strstr(log, "plays to SPICE clients (48000 Hz stereo)"));
    /* The daemon's own account: nothing refused, nothing let go. */
    assert_true(sgl_e2e_daemon_log_wait(d, "stats[sound 0]", 5000));
    g_free(log);
    log = sgl_e2e_daemon_log(d);
    const char *stats = g_strrstr(log, "stats[sound 0]");
    if (!strstr(stats, "(0 rejected), dropped 0 (jitter buffer full)"))
        fail_msg("the daemon lost sound: %.200s", stats);
    sgl_e2e_daemon_expect_clean_log(d);
}

/* Several clients on one server (the daemon lets several watch at once):
 * spice-server offers its sound channels only to a client that connects
 * while no other is connected (reds_fill_channels: playback and record do
 * not take several clients). So the first client keeps the VM's sound,
 * unbroken, while a second connects and leaves, and the second gets none;
 * a first client without audio (spice-gtk's enable-audio off) leaves a
 * second with audio without sound too; once it has gone, the next client
 * gets the sound again. */
static void test_sound_with_several_clients(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct sgl_e2e_daemon *d = e->helper;
    if (!e->vm || !d)
        fail_msg("no guest: the test before did not boot it");
    g_autoptr(GSubprocess) first = sgl_e2e_probe_spawn_on(e, d, 60, NULL);
    g_usleep(4 * G_USEC_PER_SEC);
    g_autoptr(JsonParser) second_parser = NULL;
    JsonObject *second = sgl_e2e_probe_run(e, d, 4, NULL, &second_parser);
    g_usleep(4 * G_USEC_PER_SEC);
    g_autoptr(JsonParser) first_parser = NULL;
    JsonObject *s = heard(sgl_e2e_probe_stop(first, &first_parser));
    if (!s)
        fail_msg("the first client received no sound");
    double hz = sgl_e2e_num(s, "frequency_hz"), secs = sgl_e2e_num(s, "seconds");
    double gap = sgl_e2e_num(s, "max_gap_ms");
    int breaks = (int)sgl_e2e_num(s, "discontinuities");
    print_message("# the first of two clients heard %.2f Hz for %.1f s: %d discontinuities, "
                  "longest gap in arrival %.1f ms; the second heard %s\n",
                  hz, secs, breaks, gap, heard(second) ? "sound" : "nothing");
    if (hz < TONE_HZ - 2 || hz > TONE_HZ + 2)
        fail_msg("the tone is %.2f Hz, not %.0f", hz, TONE_HZ);
    /* Connected about 10 s: sound for (nearly) all of it. */
    assert_true(secs >= 7.0);
    /* No break in the tone; in arrival, the second client's link (on
     * the same main loop) may delay a packet or two a little past the
     * 20 ms a lone client is held to (seen: 28 ms), well within a client's
     * buffer. */
    bool instrumented = sgl_test_sanitizers();
    if (breaks > (instrumented ? 8 : 0) || gap > (instrumented ? 400.0 : 100.0))
        fail_msg("the second client broke the first's sound: %d discontinuities, a gap of %.1f "
                 "ms",
                 breaks, gap);
    if (heard(second))
        fail_msg("the second client received sound beside the first");

    const char *no_audio[] = {"--no-audio", NULL};
    g_autoptr(GSubprocess) quiet = sgl_e2e_probe_spawn_on(e, d, 60, no_audio);
    g_usleep(4 * G_USEC_PER_SEC);
    g_autoptr(JsonParser) behind_parser = NULL;
    JsonObject *behind = sgl_e2e_probe_run(e, d, 3, NULL, &behind_parser);
    g_autoptr(JsonParser) quiet_parser = NULL;
    JsonObject *q = sgl_e2e_probe_stop(quiet, &quiet_parser);
    g_autoptr(JsonParser) alone_parser = NULL;
    JsonObject *alone = heard(sgl_e2e_probe_run(e, d, 3, NULL, &alone_parser));
    print_message("# behind a client without audio, a client heard %s; alone after it, %.2f Hz\n",
                  heard(behind) ? "sound" : "nothing",
                  alone ? sgl_e2e_num(alone, "frequency_hz") : 0.0);
    if (heard(q))
        fail_msg("the client without audio received sound");
    if (heard(behind))
        fail_msg("a client behind one without audio received sound: spice-server offered it "
                 "the sound channels");
    if (!alone || fabs(sgl_e2e_num(alone, "frequency_hz") - TONE_HZ) > 2)
        fail_msg("the next client alone did not get the tone back");
    sgl_e2e_daemon_expect_clean_log(d);
}

/* A/V sync: the guest's GL program clicks on its card with each
 * AV_EVERY-th frame, aiming the click at the instant it hands that frame
 * to the display (as far as ALSA's delay tells it), and says when it did
 * each ("av-flash": flip_us, click_us, the guest's clock). The probe
 * notes when each such frame came out of its decoder and when each click
 * reached it (its packet's arrival, plus its place in the packet). The
 * offset is the picture's time minus the click's, less what the guest
 * itself was off by (flip_us - click_us): what spicegl and spice-server
 * add, through the GPU and the encoder against QEMU's audio. */
#define AV_EVERY  30
#define AV_LISTEN 12
/* At least this many must be measured: instrumented, the guest draws at
 * half its rate (the daemon's GL is slower), and the probe listens twice
 * as long. */
#define AV_MIN_FLASHES 6
/* A click goes with the frame whose picture is nearest, within this. */
#define AV_MATCH_US 400000
/* The bounds held: the offset (p50) and its spread over the flashes. */
#define AV_MAX_OFFSET_MS 150.0
#define AV_MAX_SPREAD_MS 60.0

/* The client settles this long before the wait for a steady cushion. */
#define AV_SETTLE_S 4

/* What the daemon's sound cushion is now, as its log last said (40 ms
 * until it says otherwise). */
static unsigned cushion_ms(const struct sgl_e2e_daemon *d)
{
    g_autofree char *log = sgl_e2e_daemon_log(d);
    const char *held = g_strrstr(log, " ms are held from now on");
    if (!held)
        return 40;
    while (held > log && g_ascii_isdigit(held[-1]))
        held--;
    return (unsigned)g_ascii_strtoull(held, NULL, 10);
}

/* The click heard nearest to t, within AV_MATCH_US; 0 when none. */
static int64_t nearest_click(JsonArray *clicks, int64_t t)
{
    int64_t best = 0;
    for (guint i = 0; clicks && i < json_array_get_length(clicks); i++) {
        int64_t c = json_array_get_int_element(clicks, i);
        if (llabs(c - t) <= AV_MATCH_US && (!best || llabs(c - t) < llabs(best - t)))
            best = c;
    }
    return best;
}

/* Appends a sample of us microseconds, in ms. */
static void add_ms(GArray *ms, int64_t us)
{
    double v = us / 1000.0;
    g_array_append_val(ms, v);
}

static void test_av_sync(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct sgl_e2e_daemon *d = sgl_e2e_daemon_start(
        e, "spicegl-avsync", &(struct sgl_e2e_daemon_options){.qmp = true, .sound = true});
    g_autofree char *args =
        g_strdup_printf("sgl.run=gl sgl.fps=30 sgl.frames=0 sgl.avsync=%d", AV_EVERY);
    struct sgl_vm *vm = sgl_e2e_daemon_boot(e, d, "spicegl-avsync", args, d->qmp);
    sgl_e2e_expect(vm, "av-start", SGL_E2E_BOOT_MS);
    if (!sgl_e2e_daemon_log_wait(d, "sound: the VM started playing", 20000))
        fail_msg("the daemon never heard the VM play; its log:\n%s", sgl_e2e_daemon_log(d));
    /* The steady state: a client's arrival can make the emulated guest
     * late to fill its card, which grows the daemon's cushion; it steps
     * back down once the sound comes in time. Only what comes after is
     * measured. */
    const char *extra[] = {"--av-every", G_STRINGIFY(AV_EVERY), NULL};
    bool instrumented = sgl_test_sanitizers();
    int listen_s = instrumented ? 2 * AV_LISTEN : AV_LISTEN;
    g_autoptr(GSubprocess) probe = sgl_e2e_probe_spawn_on(e, d, listen_s + 60, extra);
    g_usleep(AV_SETTLE_S * G_USEC_PER_SEC);
    unsigned held = cushion_ms(d);
    for (int i = 0; held > 40 && i < 60; i++) {
        g_usleep(G_USEC_PER_SEC / 2);
        held = cushion_ms(d);
    }
    if (held > 40)
        fail_msg("the daemon's sound cushion stayed at %u ms; its log:\n%s", held,
                 sgl_e2e_daemon_log(d));
    int64_t steady_us = g_get_real_time();
    g_usleep((gulong)listen_s * G_USEC_PER_SEC);
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = sgl_e2e_probe_stop(g_steal_pointer(&probe), &parser);
    JsonObject *s = heard(o);
    if (!s)
        fail_msg("the probe received no sound");
    JsonArray *clicks = json_object_get_array_member(s, "clicks_at_us");
    JsonArray *flashes = json_object_get_array_member(o, "flashes");
    guint n_flashes = flashes ? json_array_get_length(flashes) : 0;
    assert_true(n_flashes > 0);
    uint32_t last_frame =
        (uint32_t)sgl_e2e_num(json_array_get_object_element(flashes, n_flashes - 1), "frame");
    /* The guest's own account of each of those frames. */
    g_autoptr(GHashTable) guest = g_hash_table_new(g_direct_hash, NULL);
    for (;;) {
        g_autoptr(GError) error = NULL;
        const struct sgl_console_event *ev = sgl_vm_wait(vm, "av-flash", 10000, &error);
        if (!ev)
            fail_msg("the guest's av-flash lines stopped: %s", error->message);
        uint32_t n = (uint32_t)sgl_e2e_expect_uint(ev, "n");
        g_hash_table_insert(guest, GUINT_TO_POINTER(n), (gpointer)ev);
        if (n >= last_frame)
            break;
    }

    /* ms, doubles (sgl_percentile) */
    g_autoptr(GArray) offset = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) raw = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) shown = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) decode = g_array_new(FALSE, FALSE, sizeof(double));
    g_autoptr(GArray) skew = g_array_new(FALSE, FALSE, sizeof(double));
    guint unheard = 0;
    uint64_t xruns = 0;
    for (guint i = 0; i < n_flashes; i++) {
        JsonObject *f = json_array_get_object_element(flashes, i);
        uint32_t n = (uint32_t)sgl_e2e_num(f, "frame");
        if (json_object_get_null_member(f, "arrived_us") ||
            json_object_get_int_member(f, "arrived_us") < steady_us)
            continue;
        const struct sgl_console_event *ev = g_hash_table_lookup(guest, GUINT_TO_POINTER(n));
        if (!ev || !sgl_e2e_expect_uint(ev, "click_us"))
            continue; /* before the guest's first click, or none went with it */
        xruns = sgl_e2e_expect_uint(ev, "xruns");
        if (json_object_get_null_member(f, "decoded_us"))
            continue;
        int64_t arrived = json_object_get_int_member(f, "arrived_us");
        int64_t decoded = json_object_get_int_member(f, "decoded_us");
        int64_t click = nearest_click(clicks, arrived);
        if (!click) {
            unheard++;
            continue;
        }
        int64_t guest_off = (int64_t)sgl_e2e_expect_uint(ev, "flip_us") -
                            (int64_t)sgl_e2e_expect_uint(ev, "click_us");
        add_ms(raw, arrived - click);
        add_ms(skew, guest_off);
        add_ms(offset, arrived - click - guest_off);
        add_ms(decode, decoded - click - guest_off);
        if (!json_object_get_null_member(f, "shown_us"))
            add_ms(shown, json_object_get_int_member(f, "shown_us") - click - guest_off);
    }
    guint n = offset->len;
    double p50 = sgl_percentile(offset, 0.5); /* sorted from here on */
    double least = n ? g_array_index(offset, double, 0) : NAN;
    double most = n ? g_array_index(offset, double, n - 1) : NAN;
    print_message(
        "# A/V sync over %u flashes (%u clicks heard, %u flash(es) without a click near "
        "it): the picture %+.1f ms from its click (p50; min %+.1f, max %+.1f; positive: "
        "the picture later), %+.1f ms before the guest's own offset (p50 %+.1f ms, %" PRIu64
        " underrun(s) in the guest); decoded %+.1f ms, shown through the media clock %+.1f "
        "ms\n",
        n, clicks ? json_array_get_length(clicks) : 0, unheard, p50, least, most,
        sgl_percentile(raw, 0.5), sgl_percentile(skew, 0.5), xruns, sgl_percentile(decode, 0.5),
        sgl_percentile(shown, 0.5));
    g_autofree char *log = sgl_e2e_daemon_log(d);
    const char *stats = g_strrstr(log, "stats[sound 0]");
    if (stats)
        print_message("# %.*s\n", (int)strcspn(stats, "\n"), stats);
    /* A click with (nearly) every frame, at a steady offset: a stream
     * that lost its clicks or drifts apart fails. */
    if (n < AV_MIN_FLASHES || unheard > 1)
        fail_msg("%u flashes with their click, %u without", n, unheard);
    double spread = most - least;
    if (spread > (instrumented ? 150.0 : AV_MAX_SPREAD_MS))
        fail_msg("the offset wanders over %.1f ms", spread);
    if (fabs(p50) > (instrumented ? 2 * AV_MAX_OFFSET_MS : AV_MAX_OFFSET_MS))
        fail_msg("the picture is %+.1f ms from its sound", p50);
    sgl_e2e_daemon_expect_clean_log(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* One guest boot for both: the second test's teardown stops it. */
        cmocka_unit_test(test_guest_records_client),
        cmocka_unit_test(test_tone_reaches_client),
        cmocka_unit_test_teardown(test_sound_with_several_clients, sgl_e2e_test_teardown),
        cmocka_unit_test_teardown(test_av_sync, sgl_e2e_test_teardown),
    };
    if (g_getenv("SGL_TEST_FILTER"))
        cmocka_set_test_filter(g_getenv("SGL_TEST_FILTER"));
    return cmocka_run_group_tests_name("guest-sound", tests, sgl_e2e_group_setup,
                                       sgl_e2e_group_teardown);
}
