/* A real desktop through spicegl, end to end: the guest image's desktop
 * profile boots X.Org (modesetting, glamor on Mesa's virgl) on spicegl-gpu
 * with twm, an xterm and glxgears (tests/guest/desktop), and spicegl-probe
 * watches it over SPICE as a remote client does. The client's pictures show
 * the desktop's windows where the guest put them, the GL window animates
 * while the rest stands still, and X's hardware cursor reaches the client's
 * cursor channel. The guest's own agent (spice-vdagent) reaches clients
 * through the daemon's agent multiplexer: the clipboard both ways, a file
 * transfer, a resize that the agent applies to X, and the agent restarting
 * mid-session. */
#include "config.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "tests/e2e/daemon.h"
#include "tests/test-util.h"

/* tests/guest/desktop's layout on the 1280x800 screen: the root's colour,
 * and areas inside the xterm (below its text), inside glxgears' window and
 * on the bare root. */
#define ROOT_R 0x2e
#define ROOT_G 0x5a
#define ROOT_B 0x88
struct area {
    int x, y, w, h;
};
/* The file sent to the guest's agent: several hundred chunks. */
#define SGL_E2E_AGENT_FILE_BYTES (1024u * 1024u + 123u)
static const struct area xterm_area = {100, 250, 500, 200};
static const struct area gears_area = {704, 64, 294, 294};
static const struct area root_area = {1000, 450, 270, 340};

struct picture {
    png_image image;
    uint8_t *rgb;
};

/* NULL, or why path could not be read as the guest's 1280x800 screen. */
static char *picture_load(struct picture *p, const char *path)
{
    memset(p, 0, sizeof(*p));
    p->image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&p->image, path))
        return g_strdup_printf("cannot read %s: %s", path, p->image.message);
    p->image.format = PNG_FORMAT_RGB;
    p->rgb = g_malloc(PNG_IMAGE_SIZE(p->image));
    if (!png_image_finish_read(&p->image, NULL, p->rgb, 0, NULL))
        return g_strdup_printf("cannot decode %s: %s", path, p->image.message);
    if (p->image.width != 1280 || p->image.height != 800)
        return g_strdup_printf("%s is %ux%u, not the guest's 1280x800", path, p->image.width,
                               p->image.height);
    return NULL;
}

static const uint8_t *pixel(const struct picture *p, int x, int y)
{
    return p->rgb + ((size_t)y * p->image.width + (size_t)x) * 3;
}

/* The area's mean colour. */
static void mean(const struct picture *p, const struct area *a, double rgb[3])
{
    double sum[3] = {0};
    for (int y = a->y; y < a->y + a->h; y++)
        for (int x = a->x; x < a->x + a->w; x++)
            for (int c = 0; c < 3; c++)
                sum[c] += pixel(p, x, y)[c];
    for (int c = 0; c < 3; c++)
        rgb[c] = sum[c] / (a->w * a->h);
}

/* Pixels of the area near a pure colour: channel c bright, the others dark. */
static int count_primary(const struct picture *p, const struct area *a, int c)
{
    int n = 0;
    for (int y = a->y; y < a->y + a->h; y++)
        for (int x = a->x; x < a->x + a->w; x++) {
            const uint8_t *px = pixel(p, x, y);
            bool match = px[c] > 150;
            for (int o = 0; o < 3; o++)
                match = match && (o == c || px[o] < 90);
            n += match;
        }
    return n;
}

/* The share of the area's pixels that differ by more than 40 levels in a
 * channel between two pictures. */
static double changed(const struct picture *a, const struct picture *b, const struct area *r)
{
    int n = 0;
    for (int y = r->y; y < r->y + r->h; y++)
        for (int x = r->x; x < r->x + r->w; x++) {
            const uint8_t *pa = pixel(a, x, y), *pb = pixel(b, x, y);
            for (int c = 0; c < 3; c++)
                if (abs(pa[c] - pb[c]) > 40) {
                    n++;
                    break;
                }
        }
    return (double)n / (r->w * r->h);
}

struct look {
    double root[3], xterm[3];
    int red, green, blue; /* the gears' pixels */
    double xterm_changed; /* share of the xterm's area, first to last */
};

/* What the first and last pictures show; NULL, or why they could not be read. */
static char *look_at(const char *first, const char *last, struct look *l)
{
    struct picture a = {0}, b = {0};
    char *problem = picture_load(&a, first);
    if (!problem)
        problem = picture_load(&b, last);
    if (!problem) {
        mean(&a, &root_area, l->root);
        mean(&a, &xterm_area, l->xterm);
        l->red = count_primary(&a, &gears_area, 0);
        l->green = count_primary(&a, &gears_area, 1);
        l->blue = count_primary(&a, &gears_area, 2);
        l->xterm_changed = changed(&a, &b, &xterm_area);
    }
    g_free(a.rgb);
    g_free(b.rgb);
    return problem;
}

/* bytes as lowercase hex, as the guest reports text. */
static char *hex(const char *text)
{
    GString *h = g_string_new(NULL);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        g_string_append_printf(h, "%02x", *c);
    return g_string_free(h, FALSE);
}

/* A PNG's size, from its header. */
static bool png_size(const char *path, unsigned *w, unsigned *h)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, NULL) || len < 24)
        return false;
    const unsigned char *d = (const unsigned char *)data;
    *w = (unsigned)d[16] << 24 | (unsigned)d[17] << 16 | (unsigned)d[18] << 8 | d[19];
    *h = (unsigned)d[20] << 24 | (unsigned)d[21] << 16 | (unsigned)d[22] << 8 | d[23];
    return true;
}

/* The client's clipboard text as the guest reported it, and the guest's
 * answer as the probe received it. */
static const struct sgl_console_event *expect_from(struct sgl_vm *vm, guint from, const char *name)
{
    g_autoptr(GError) error = NULL;
    const struct sgl_console_event *ev = sgl_vm_wait_from(vm, from, name, 30000, &error);
    if (!ev)
        fail_msg("%s", error->message);
    return ev;
}

static void expect_clipboard(struct sgl_vm *vm, guint from, JsonObject *o, const char *sent)
{
    const struct sgl_console_event *clip = expect_from(vm, from, "clipboard");
    g_autofree char *want = hex(sent);
    sgl_e2e_expect_field(clip, "hex", want);
    g_autofree char *answer = g_strdup_printf("sgl-guest:%s", sent + strlen("sgl-client:"));
    const char *got = json_object_get_string_member_with_default(o, "clipboard_received", NULL);
    if (!got || !g_str_equal(got, answer))
        fail_msg("the client's clipboard got '%s', not the guest's '%s'", got ? got : "(nothing)",
                 answer);
}

/* An image both ways: the client's PNG (png, a picture it took) reaches the
 * guest's X clipboard whole, and the image the guest then puts there
 * reaches the client whole. */
static void expect_clipboard_image(struct sgl_e2e *e, struct sgl_e2e_daemon *d, struct sgl_vm *vm,
                                   const char *png)
{
    g_autofree char *bytes = NULL;
    gsize size = 0;
    assert_true(g_file_get_contents(png, &bytes, &size, NULL));
    g_autofree char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (guchar *)bytes, size);
    g_autofree char *opt = g_strdup_printf("--clipboard-png=%s", png);
    g_autoptr(JsonParser) parser = NULL;
    guint from = sgl_vm_position(vm);
    JsonObject *o = sgl_e2e_probe_run(e, d, 15, (const char *const[]){opt, NULL}, &parser);
    const struct sgl_console_event *in = expect_from(vm, from, "clipboard-png");
    assert_int_equal(sgl_e2e_expect_uint(in, "size"), size);
    sgl_e2e_expect_field(in, "sha256", sha);
    const struct sgl_console_event *offered = expect_from(vm, from, "clipboard-png-offered");
    JsonObject *back = json_object_get_null_member(o, "clipboard_png")
                           ? NULL
                           : json_object_get_object_member(o, "clipboard_png");
    if (!back)
        fail_msg("the guest's image never reached the client's clipboard");
    assert_int_equal((guint64)json_object_get_int_member(back, "size"),
                     sgl_e2e_expect_uint(offered, "size"));
    sgl_e2e_expect_field(offered, "sha256", json_object_get_string_member(back, "sha256"));
    print_message("# clipboard images: %zu bytes of PNG to the guest, %" G_GINT64_FORMAT
                  " back, both whole (sha256)\n",
                  (size_t)size, json_object_get_int_member(back, "size"));
}

/* size bytes from a seeded generator written to path (the test fails if it
 * cannot); their SHA-256 in hex, the caller's. */
static char *write_random_file(const char *path, size_t size, guint32 seed)
{
    g_autofree guint8 *bytes = g_malloc(size);
    GRand *rand = g_rand_new_with_seed(seed);
    for (size_t i = 0; i < size; i++)
        bytes[i] = (guint8)g_rand_int(rand);
    g_rand_free(rand);
    assert_true(g_file_set_contents(path, (const char *)bytes, (gssize)size, NULL));
    return g_compute_checksum_for_data(G_CHECKSUM_SHA256, bytes, size);
}
/* A transfer the client cancels part-way ends with nothing of it in the
 * guest's download folder (the agent removes the file it was writing),
 * while the finished one stays. */
static void expect_cancelled_transfer(struct sgl_e2e *e, struct sgl_e2e_daemon *d,
                                      struct sgl_vm *vm)
{
    /* Cancelled early: what the client had sent (up to the daemon's
     * queue) reaches the guest's agent before the cancel does, at the
     * guest's pace, which under TCG is seconds. */
    const size_t total = 16u << 20, cancel_after = 256u << 10;
    g_autofree char *file = g_strdup_printf("%s/tests/e2e/agent-cancelled.bin", e->builddir);
    g_free(write_random_file(file, total, 20));
    g_autofree char *file_opt = g_strdup_printf("--send-file=%s", file);
    g_autofree char *cancel_opt = g_strdup_printf("--cancel-after=%zu", cancel_after);
    /* Removed on the cancel itself, while the client is still there: the
     * agent also removes unfinished files when a client leaves, so a file
     * gone only afterwards would prove nothing. The client stays until the
     * guest reports the removal (cancel_wait_ms at most), then leaves. */
    const int cancel_wait_ms = 90000;
    guint from = sgl_vm_position(vm);
    g_autoptr(GSubprocess) probe = sgl_e2e_probe_spawn_on(
        e, d, cancel_wait_ms / 1000 + 30, (const char *const[]){file_opt, cancel_opt, NULL});
    g_autoptr(GError) gone_error = NULL;
    gint64 wait_from = g_get_monotonic_time();
    const struct sgl_console_event *gone =
        sgl_vm_wait_from(vm, from, "file-removed", cancel_wait_ms, &gone_error);
    double waited_s = (g_get_monotonic_time() - wait_from) / 1e6;
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = sgl_e2e_probe_stop(probe, &parser);
    JsonObject *t = json_object_get_object_member(o, "transfer");
    gint64 sent = json_object_get_int_member(t, "bytes");
    if (!json_object_get_boolean_member(t, "cancelled"))
        fail_msg("the probe did not cancel its transfer (%" G_GINT64_FORMAT " bytes went)", sent);
    if (!json_object_get_boolean_member(o, "stopped"))
        fail_msg("the probe had left before the guest's agent removed the file");
    if (!gone) {
        g_autoptr(GError) later_error = NULL;
        bool later = sgl_vm_wait_from(vm, from, "file-removed", 15000, &later_error) != NULL;
        sgl_test_diagnostic("cancelled transfer", gone_error->message);
        fail_msg("the guest's agent had not removed the cancelled file %d s after the client "
                 "connected (%s)",
                 cancel_wait_ms / 1000, later ? "it did once the client left" : "nor 15 s after");
    }
    sgl_e2e_expect_field(gone, "name", "agent-cancelled.bin");
    g_autoptr(JsonParser) list_parser = NULL;
    from = sgl_vm_position(vm);
    sgl_e2e_probe_run(e, d, 10,
                      (const char *const[]){"--clipboard=sgl-client:list-downloads", NULL},
                      &list_parser);
    const struct sgl_console_event *list = expect_from(vm, from, "downloads");
    const char *names = sgl_console_event_get(list, "names");
    if (!names || !strstr(names, "agent-file.bin") || strstr(names, "agent-cancelled"))
        fail_msg("after the cancelled transfer the guest's downloads are '%s'",
                 names ? names : "(none)");
    print_message("# a transfer started %.1f s after connecting, cancelled after %" G_GINT64_FORMAT
                  " of %zu bytes at %.1f s; the guest's agent removed the file at %.1f s; nothing "
                  "left in the guest (downloads: %s)\n",
                  sgl_e2e_num(t, "started_ms") / 1000, sent, total,
                  sgl_e2e_num(t, "cancelled_ms") / 1000, waited_s, names);
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names in dir, sorted (as phodav lists them). */
static GStrv folder_names(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    GPtrArray *names = g_ptr_array_new();
    for (const char *n; d && (n = g_dir_read_name(d));)
        g_ptr_array_add(names, g_strdup(n));
    g_ptr_array_sort(names, compare_names);
    g_ptr_array_add(names, NULL);
    return (GStrv)g_ptr_array_free(names, FALSE);
}

/* Waits until the guest's spice-webdavd has seen the last client leave.
 * The daemon resets the guest's side of the port when a client leaves and
 * opens it again once spice-webdavd has let go of its end (it starts over);
 * a request made in the guest before that can reach the spice-webdavd that
 * is about to start over, and be cut off. Settled: every client that had
 * the webdav channel has been seen leaving, and the port is open again. */
static void wait_shared_folder_settled(struct sgl_e2e_daemon *d)
{
    const char *came = "spice channel type 11 id 0 initialized",
               *left = "spice channel type 11 id 0 disconnected",
               *opened = "folder sharing: the guest's port is open",
               *closed = "folder sharing: the guest's port is closed";
    gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    for (;;) {
        g_autofree char *log = sgl_e2e_daemon_log(d);
        unsigned c = sgl_e2e_log_count(log, came), l = sgl_e2e_log_count(log, left),
                 o = sgl_e2e_log_count(log, opened), x = sgl_e2e_log_count(log, closed);
        if (c == l && o == x + 1)
            return;
        if (g_get_monotonic_time() > end)
            fail_msg("the folder-sharing port did not settle in 30 s: %u clients came, %u left; "
                     "it opened %u times and closed %u:\n%s",
                     c, l, o, x, log);
        g_usleep(100 * 1000);
    }
}

/* Folder sharing: the client shares a folder (read-only, as remote-viewer's
 * "Share folder" does), and the guest lists it and reads a file in it
 * through its spice-webdavd, the WebDAV requests and answers going through
 * the daemon's relay of the port org.spice-space.webdav.0; the listing
 * names what the folder holds and the file arrives whole. The client stays
 * until the guest has read it. first: the folder is emptied before. */
static void expect_shared_folder(struct sgl_e2e *e, struct sgl_e2e_daemon *d, struct sgl_vm *vm,
                                 const char *name, unsigned seed, bool first)
{
    const size_t size = 1u << 20;
    g_autofree char *dir = g_strdup_printf("%s/tests/e2e/shared", e->builddir);
    g_autofree char *file = g_build_filename(dir, name, NULL);
    if (first) {
        g_auto(GStrv) olds = folder_names(dir);
        for (char **n = olds; *n; n++) {
            g_autofree char *path = g_build_filename(dir, *n, NULL);
            g_unlink(path);
        }
    }
    g_mkdir_with_parents(dir, 0755);
    g_autofree char *sha = write_random_file(file, size, seed);
    g_auto(GStrv) want = folder_names(dir);
    g_autofree char *names = g_strjoinv(" ", want);
    g_autofree char *share_opt = g_strdup_printf("--share-dir=%s", dir);
    g_autofree char *get_opt = g_strdup_printf("--clipboard=sgl-client:webdav-get:%s", name);
    wait_shared_folder_settled(d);
    guint from = sgl_vm_position(vm);
    g_autoptr(GSubprocess) probe =
        sgl_e2e_probe_spawn_on(e, d, 120, (const char *const[]){share_opt, get_opt, NULL});
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    const struct sgl_console_event *got = sgl_vm_wait_from(vm, from, "webdav", 90000, &error);
    double took_s = (g_get_monotonic_time() - start) / 1e6;
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = sgl_e2e_probe_stop(probe, &parser);
    if (!json_object_get_boolean_member(o, "webdav_channel"))
        fail_msg("the daemon offered the client no folder-sharing channel");
    if (!got) {
        g_autoptr(GError) no_error = NULL;
        const struct sgl_console_event *bad =
            sgl_vm_wait_from(vm, from, "webdav-error", 0, &no_error);
        fail_msg("the guest did not read the shared file: %s", bad ? bad->line : error->message);
    }
    sgl_e2e_expect_field(got, "name", name);
    /* The folder's names, among which spice-gtk's own .spice-clipboard/. */
    g_autofree char *listed = g_strdup_printf(" %s ", sgl_console_event_get(got, "listed"));
    for (char **n = want; *n; n++) {
        g_autofree char *word = g_strdup_printf(" %s ", *n);
        if (!strstr(listed, word))
            fail_msg("the guest's listing of the shared folder,%slacks %s", listed, *n);
    }
    sgl_e2e_expect_field(got, "sha256", sha);
    print_message("# folder sharing: the guest listed the client's shared folder (%s) and read "
                  "%s bytes of it through spice-webdavd, whole (sha256), %.1f s after the client "
                  "connected\n",
                  names, sgl_console_event_get(got, "size"), took_s);
}

/* USB redirection: the client redirects an emulated USB CD-ROM holding a
 * file (spice-gtk's shared CD, as remote-viewer --spice-share-cd does); the
 * guest's kernel enumerates it on its xHCI controller (usb-storage, sr) and
 * reads the whole disc, the USB traffic going through the daemon's relay of
 * the usb-redir device's chardev. When the client leaves, the device goes
 * from the guest. */
static void expect_usb_cd(struct sgl_e2e *e, struct sgl_e2e_daemon *d, struct sgl_vm *vm,
                          unsigned seed)
{
    const size_t size = 4u << 20; /* whole 2048-byte sectors */
    g_autofree char *file = g_strdup_printf("%s/tests/e2e/usb-cd.bin", e->builddir);
    g_autofree char *sha = write_random_file(file, size, seed);
    g_autofree char *cd_opt = g_strdup_printf("--share-cd=%s", file);
    guint from = sgl_vm_position(vm);
    g_autoptr(GSubprocess) probe =
        sgl_e2e_probe_spawn_on(e, d, 120, (const char *const[]){cd_opt, "--no-markers", NULL});
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    const struct sgl_console_event *got = sgl_vm_wait_from(vm, from, "usb-cd", 90000, &error);
    double took_s = (g_get_monotonic_time() - start) / 1e6;
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o = sgl_e2e_probe_stop(probe, &parser);
    if (sgl_e2e_num(o, "usbredir_channels") < 1)
        fail_msg("the daemon offered the client no USB redirection channel");
    if (!got)
        fail_msg("the guest never saw the client's USB CD-ROM: %s", error->message);
    g_autofree char *want_size = g_strdup_printf("%zu", size);
    sgl_e2e_expect_field(got, "size", want_size);
    sgl_e2e_expect_field(got, "sha256", sha);
    g_autoptr(GError) gone_error = NULL;
    if (!sgl_vm_wait_from(vm, from, "usb-cd-gone", 30000, &gone_error))
        fail_msg("the USB CD-ROM stayed in the guest after its client left: %s",
                 gone_error->message);
    print_message("# USB redirection: the guest read the client's %zu-byte USB CD-ROM whole "
                  "(sha256) %.1f s after the client connected; it went when the client left\n",
                  size, took_s);
}

/* The guest's spice-vdagent through the daemon: one client offers text on
 * the clipboard, sends a file and asks for 1024x768 at once; the guest reads
 * the text (xclip asks X, X the agent, the agent the client) and answers
 * with its own, which the client reads back; the file arrives whole; the
 * agent resizes X, and the client's picture follows. An image goes both
 * ways on the clipboard, and a transfer cancelled part-way leaves nothing
 * in the guest. Then the guest's agent stops and starts again while a
 * client is connected (the daemon sees its port close and reopen), and
 * again with bytes no agent writes on the port in between (the daemon logs
 * them and resets the port); a new client's clipboard works after. */
static void expect_agent(struct sgl_e2e *e, struct sgl_e2e_daemon *d, struct sgl_vm *vm)
{
    /* UTF-8 beyond ASCII, as users copy it. */
    const char *text = "sgl-client:gr\u00fc\u00dfe \u2713 42";
    g_autofree char *file = g_strdup_printf("%s/tests/e2e/agent-file.bin", e->builddir);
    g_autofree char *sha = write_random_file(file, SGL_E2E_AGENT_FILE_BYTES, 19);
    g_autofree char *resized = g_strdup_printf("%s/tests/e2e/desktop-agent.png", e->builddir);
    g_autofree char *clip_opt = g_strdup_printf("--clipboard=%s", text);
    g_autofree char *file_opt = g_strdup_printf("--send-file=%s", file);
    g_autofree char *shot_opt = g_strdup_printf("--last-screenshot=%s", resized);
    g_autoptr(JsonParser) parser = NULL;
    guint from = sgl_vm_position(vm); /* the guest reports these in any order */
    JsonObject *o =
        sgl_e2e_probe_run(e, d, 20,
                          (const char *const[]){clip_opt, file_opt, shot_opt, "--resize=1024x768",
                                                "--no-markers", NULL},
                          &parser);
    expect_clipboard(vm, from, o, text);
    JsonObject *t = json_object_get_object_member(o, "transfer");
    const char *terr = json_object_get_string_member_with_default(t, "error", NULL);
    if (!json_object_get_boolean_member(t, "done") || terr)
        fail_msg("the file transfer did not end well: %s", terr ? terr : "not ended");
    const struct sgl_console_event *got = expect_from(vm, from, "file");
    sgl_e2e_expect_field(got, "name", "agent-file.bin");
    assert_int_equal(sgl_e2e_expect_uint(got, "size"), SGL_E2E_AGENT_FILE_BYTES);
    sgl_e2e_expect_field(got, "sha256", sha);
    const struct sgl_console_event *screen = expect_from(vm, from, "screen");
    sgl_e2e_expect_field(screen, "size", "1024x768");
    unsigned w = 0, h = 0;
    if (!png_size(resized, &w, &h) || w != 1024 || h != 768)
        fail_msg("the client's last picture is %ux%u, not the 1024x768 the agent set (%s)", w, h,
                 resized);
    print_message("# the agent: clipboard both ways, %u bytes sent (sha256 %.12s...), X resized "
                  "to 1024x768 by it\n",
                  SGL_E2E_AGENT_FILE_BYTES, sha);
    expect_clipboard_image(e, d, vm, resized);
    expect_cancelled_transfer(e, d, vm);

    /* The agent restarts under a connected client: the daemon sees the
     * port close and open once more than before (it opened at boot). */
    const char *closed = "the guest's agent closed its port",
               *opened = "the guest's agent opened its port";
    unsigned closed_before = sgl_e2e_daemon_log_count(d, closed),
             opened_before = sgl_e2e_daemon_log_count(d, opened);
    g_autoptr(JsonParser) restart_parser = NULL;
    sgl_e2e_probe_run(e, d, 12, (const char *const[]){"--clipboard=sgl-client:restart-agent", NULL},
                      &restart_parser);
    sgl_e2e_expect(vm, "agent-restarted", 30000);
    if (!sgl_e2e_daemon_log_wait_count(d, closed, closed_before + 1, 10000) ||
        !sgl_e2e_daemon_log_wait_count(d, opened, opened_before + 1, 20000))
        fail_msg("the daemon did not see the guest's agent go and come back:\n%s",
                 sgl_e2e_daemon_log(d));
    /* Bytes no agent writes on the guest's port, between two agents: the
     * daemon logs them and resets the port; the next agent serves. */
    g_autoptr(JsonParser) garbage_parser = NULL;
    from = sgl_vm_position(vm);
    sgl_e2e_probe_run(e, d, 12, (const char *const[]){"--clipboard=sgl-client:agent-garbage", NULL},
                      &garbage_parser);
    sgl_e2e_expect_field(expect_from(vm, from, "agent-restarted"), "garbage", "yes");
    if (!sgl_e2e_daemon_log_wait(d, "malformed data from the guest's agent: unknown agent port (9)",
                                 10000))
        fail_msg("the daemon did not report the guest's malformed agent data:\n%s",
                 sgl_e2e_daemon_log(d));
    g_autoptr(JsonParser) again_parser = NULL;
    from = sgl_vm_position(vm);
    JsonObject *again = sgl_e2e_probe_run(
        e, d, 12, (const char *const[]){"--clipboard=sgl-client:again", NULL}, &again_parser);
    expect_clipboard(vm, from, again, "sgl-client:again");
}

/* The desktop comes up on spicegl-gpu and a client sees it: the guest's X
 * renders with virgl, glxgears runs; the probe's 10th picture shows the
 * root's colour, a white xterm and the three gears (red, green, blue) where
 * the guest put them; its last picture, 8 s on, has the xterm unchanged,
 * while new pictures keep coming (at least 3 a second: the gears turn; a
 * picture counts when it differs from the one before); X's hardware cursor arrived on the cursor
 * channel, with opaque pixels, and arrives again for a second client; the guest's agent, folder
 * sharing and USB redirection work through the daemon; and the daemon rejected nothing. */
static void test_desktop_reaches_client(void **state)
{
    struct sgl_e2e *e = *state;
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    struct sgl_e2e_daemon *d = sgl_e2e_daemon_start(
        e, "spicegl-desktop", &(struct sgl_e2e_daemon_options){.qmp = true, .usb_redir = 1});
    struct sgl_vm *vm = sgl_e2e_daemon_boot(e, d, "spicegl-desktop", "sgl.run=desktop", d->qmp);
    const struct sgl_console_event *ready =
        sgl_e2e_expect(vm, "desktop-ready", 2 * SGL_E2E_BOOT_MS);
    sgl_e2e_expect_contains(ready, "renderer", "virgl");
    sgl_e2e_expect_field(ready, "screen", "1280x800");
    sgl_e2e_expect_field(ready, "webdav", "yes");
    const struct sgl_console_event *gears = sgl_e2e_expect(vm, "gears", 30000);
    print_message("# the guest's desktop: %s; glxgears %s frames in 5 s\n",
                  sgl_console_event_get(ready, "renderer"), sgl_console_event_get(gears, "frames"));
    assert_true(sgl_e2e_expect_uint(gears, "frames") > 0);

    g_autofree char *first = g_strdup_printf("%s/tests/e2e/desktop-first.png", e->builddir);
    g_autofree char *last = g_strdup_printf("%s/tests/e2e/desktop-last.png", e->builddir);
    g_autofree char *first_opt = g_strdup_printf("--screenshot=%s", first);
    g_autofree char *last_opt = g_strdup_printf("--last-screenshot=%s", last);
    const int seconds = 8;
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o =
        sgl_e2e_probe_run(e, d, seconds, (const char *const[]){first_opt, last_opt, NULL}, &parser);
    /* A desktop that stopped drawing: a command the daemon refused says why. */
    sgl_e2e_daemon_expect_clean_log(d);
    double pictures = sgl_e2e_num(o, "pictures");
    print_message("# the probe: %.0f pictures in %d s; cursor %.0fx%.0f (%.0f opaque pixels)\n",
                  pictures, seconds, sgl_e2e_num(o, "cursor_width"),
                  sgl_e2e_num(o, "cursor_height"), sgl_e2e_num(o, "cursor_opaque"));
    if (pictures < 3.0 * seconds)
        fail_msg("the animated desktop gave only %.0f pictures in %d s", pictures, seconds);
    if (sgl_e2e_num(o, "cursor_width") < 1 || sgl_e2e_num(o, "cursor_opaque") < 1)
        fail_msg("X's hardware cursor never reached the client's cursor channel");

    struct look l;
    g_autofree char *problem = look_at(first, last, &l);
    if (problem)
        fail_msg("%s", problem);
    print_message("# root %.0f,%.0f,%.0f; xterm %.0f,%.0f,%.0f; gears %d red, %d green, %d blue "
                  "pixels; %.2f %% of the xterm changed\n",
                  l.root[0], l.root[1], l.root[2], l.xterm[0], l.xterm[1], l.xterm[2], l.red,
                  l.green, l.blue, 100 * l.xterm_changed);
    if (fabs(l.root[0] - ROOT_R) > 8 || fabs(l.root[1] - ROOT_G) > 8 ||
        fabs(l.root[2] - ROOT_B) > 8)
        fail_msg("the root is not #2e5a88 (%s)", first);
    if (l.xterm[0] < 240 || l.xterm[1] < 240 || l.xterm[2] < 240)
        fail_msg("no white xterm at +100+250 (%s)", first);
    if (l.red < 5000 || l.green < 1000 || l.blue < 1000)
        fail_msg("glxgears' window lacks its gears (%s; last picture %s)", first, last);
    if (l.xterm_changed > 0.001)
        fail_msg("the xterm changed between %s and %s", first, last);
    /* X flushes what it drew (glxgears' window, the xterm's cursor): the
     * daemon reads back only that, and the pictures above are whole. */
    assert_true(sgl_e2e_daemon_log_wait(d, "stats[gpu]: commands", 5000));
    g_autofree char *log = sgl_e2e_daemon_log(d);
    const char *line = g_strrstr(log, "stats[gpu]: commands");
    const char *read = line ? strstr(line, "read back ") : NULL;
    double share = read ? g_ascii_strtod(read + strlen("read back "), NULL) : 100.0;
    print_message("# the daemon read back %.1f %% of the pictures' pixels\n", share);
    if (share > 50.0)
        fail_msg("the daemon read back %.1f %% of the desktop's pixels", share);

    /* A client that comes after the first left: the same cursor, which X
     * set once, long before. As long a window as the first's: a new
     * spice-gtk client drops its first pictures as late, for seconds when
     * instrumented. */
    g_autoptr(JsonParser) again_parser = NULL;
    JsonObject *again = sgl_e2e_probe_run(e, d, seconds, NULL, &again_parser);
    if (sgl_e2e_num(again, "cursor_width") < 1 || sgl_e2e_num(again, "pictures") < 3)
        fail_msg("a second client saw %.0f pictures and a cursor %.0f wide",
                 sgl_e2e_num(again, "pictures"), sgl_e2e_num(again, "cursor_width"));
    expect_agent(e, d, vm);
    /* Twice: the second client comes once the guest's side of the port,
     * reset when the first left, is open again. */
    expect_shared_folder(e, d, vm, "sgl-shared.bin", 21, true);
    expect_shared_folder(e, d, vm, "sgl-shared-again.bin", 22, false);
    /* Twice: the device attaches again for the next client. */
    expect_usb_cd(e, d, vm, 23);
    expect_usb_cd(e, d, vm, 24);
    sgl_e2e_daemon_expect_clean_log(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_desktop_reaches_client, sgl_e2e_test_teardown),
    };
    return cmocka_run_group_tests_name("guest-desktop", tests, sgl_e2e_group_setup_desktop,
                                       sgl_e2e_group_teardown);
}
