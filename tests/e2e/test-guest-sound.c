/* The VM's sound through spicegl, end to end: the test guest plays a sine
 * on its sound card (QEMU's intel-hda with hda-duplex, on the D-Bus audio
 * backend); QEMU's D-Bus display hands the samples to spicegl-gpu, which
 * plays them on its SPICE playback channel; spicegl-probe decodes what it
 * receives (Opus) and measures the tone. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "tests/e2e/daemon.h"
#include "tests/test-util.h"

#define TONE_HZ 440.0

/* The guest's 440 Hz reaches a client: the right frequency (within 2 Hz),
 * at the sine's level, as Opus, with no discontinuity in the tone and no
 * gap in arrival over 20 ms after the first 200 ms; the daemon refused and
 * dropped nothing. The daemon says which of QEMU's voices it plays.
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
    struct sgl_e2e_daemon *d = sgl_e2e_daemon_start(
        e, "spicegl-sound", &(struct sgl_e2e_daemon_options){.qmp = true, .sound = true});
    struct sgl_vm *vm =
        sgl_e2e_daemon_boot(e, d, "spicegl-sound", "sgl.run= sgl.stay=1 sgl.tone=440", d->qmp);
    const struct sgl_console_event *tone = sgl_e2e_expect(vm, "tone-start", SGL_E2E_BOOT_MS);
    print_message("# the guest plays %s Hz on its card %s\n", sgl_console_event_get(tone, "hz"),
                  sgl_console_event_get(tone, "card"));
    if (!sgl_e2e_daemon_log_wait(d, "sound: the VM started playing", 20000))
        fail_msg("the daemon never heard the VM play; its log:\n%s", sgl_e2e_daemon_log(d));
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = sgl_e2e_probe_run(e, d, 4, NULL, &parser);
    JsonNode *node = json_object_get_member(o, "sound");
    if (!node || JSON_NODE_HOLDS_NULL(node))
        fail_msg("the probe received no sound");
    JsonObject *s = json_node_get_object(node);
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
    /* The guest's mixer (unmuted, 80 %) reached the client. */
    assert_false(json_object_get_boolean_member(s, "mute"));
    assert_true(sgl_e2e_num(s, "volume") > 0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tone_reaches_client, sgl_e2e_test_teardown),
    };
    return cmocka_run_group_tests_name("guest-sound", tests, sgl_e2e_group_setup,
                                       sgl_e2e_group_teardown);
}
