/* sgl-vnc-probe: spicegl-probe's measurements for a VNC server (stock QEMU
 * -vnc), so bench-e2e compares like with like. An RFB client on
 * libvncclient with its usual encodings (tight with JPEG, zrle, ...):
 * after every complete framebuffer update it reads the test scene's marker
 * (frame number and guest timestamp), counts frames seen and skipped,
 * latency from the marker's timestamp to receipt, and the PSNR of the
 * picture against the scene it regenerates. Prints one JSON line with the
 * fields spicegl-probe --json uses. */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <rfb/rfbclient.h>

#include "common/frame-hash.h"
#include "common/marker.h"
#include "common/scene.h"
#include "common/percentile.h"
#include "client-test/reference.h"

struct vnc_probe {
    bool have_first;
    uint32_t first, last, frames, updates, pictures, unreadable, width, height;
    uint64_t picture_hash;
    int64_t first_us, last_us;
    GArray *latency_ms; /* double */
    double psnr_sum, psnr_min;
    uint32_t psnr_n, psnr_every; /* --psnr-every: compare every Nth frame */
    struct sgl_reference reference;
};

static struct vnc_probe *probe_of(rfbClient *cl)
{
    return rfbClientGetClientData(cl, (void *)probe_of);
}

/* The picture shown at the end against its marker's scene; NAN: none. */
static double final_psnr(struct vnc_probe *p, rfbClient *cl)
{
    uint32_t w = (uint32_t)cl->width, h = (uint32_t)cl->height;
    struct sgl_marker_image im = {cl->frameBuffer, w, h, w * 4};
    return p->have_first ? sgl_reference_psnr_marked(&p->reference, &im) : NAN;
}

static void on_update_done(rfbClient *cl)
{
    struct vnc_probe *p = probe_of(cl);
    uint32_t w = (uint32_t)cl->width, h = (uint32_t)cl->height, stride = w * 4;
    p->updates++;
    uint64_t hash = sgl_frame_hash(cl->frameBuffer, w, h, stride);
    if (!p->pictures || hash != p->picture_hash)
        p->pictures++;
    p->picture_hash = hash;
    struct sgl_marker_image im = {cl->frameBuffer, w, h, stride};
    struct sgl_marker m;
    if (!sgl_marker_read(&im, SGL_SCENE_MARKER_X, SGL_SCENE_MARKER_Y, SGL_SCENE_MARKER_BLOCK, &m)) {
        p->unreadable++;
        return;
    }
    if (p->have_first && m.frame <= p->last)
        return; /* an update of another part of the same frame */
    int64_t now = g_get_real_time();
    if (!p->have_first) {
        p->have_first = true;
        p->first = m.frame;
        p->first_us = now;
    }
    p->last = m.frame;
    p->last_us = now;
    p->frames++;
    double lat = (now - (int64_t)m.timestamp_us) / 1000.0;
    g_array_append_val(p->latency_ms, lat);
    p->width = w;
    p->height = h;
    if ((p->frames - 1) % p->psnr_every != 0)
        return;
    double psnr = sgl_reference_psnr(&p->reference, &im, &m);
    p->psnr_sum += psnr;
    p->psnr_min = p->psnr_n++ ? MIN(p->psnr_min, psnr) : psnr;
}

static void number(const char *name, double v, bool last)
{
    if (isnan(v))
        printf("\"%s\":null%s", name, last ? "" : ",");
    else
        printf("\"%s\":%.3f%s", name, v, last ? "" : ",");
}

static void quiet(const char *format, ...)
{
    (void)format;
}

/* What the server sent, as the kernel counted it on the socket. */
static double received_bytes(int sock)
{
    struct tcp_info ti = {0};
    socklen_t len = sizeof(ti);
    return getsockopt(sock, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? (double)ti.tcpi_bytes_received
                                                                   : NAN;
}

int main(int argc, char **argv)
{
    gint seconds = 5, settle = 0, psnr_every = 1;
    GOptionEntry entries[] = {
        {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "How long to record (default 5)", "S"},
        {"settle", 0, 0, G_OPTION_ARG_INT, &settle,
         "Leave the first S seconds (a new client's first picture) out of bytes_per_s", "S"},
        {"psnr-every", 0, 0, G_OPTION_ARG_INT, &psnr_every,
         "Compare every Nth frame with its reference (default 1: every frame)", "N"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("HOST:PORT - measure a VNC display");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    char *colon = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2 || seconds < 1 ||
        settle < 0 || settle >= seconds || psnr_every < 1 || !(colon = strrchr(argv[1], ':'))) {
        fprintf(stderr, "sgl-vnc-probe: %s\n",
                error ? error->message
                      : "give HOST:PORT, --seconds >= 1, --settle below it and --psnr-every >= 1");
        return 2;
    }
    struct vnc_probe p = {.latency_ms = g_array_new(FALSE, FALSE, sizeof(double)),
                          .psnr_every = (uint32_t)psnr_every};
    rfbClientLog = rfbClientErr = quiet; /* libvncclient's chatter */
    rfbClient *cl = rfbGetClient(8, 3, 4);
    /* BGRx in memory, as the marker reader and the scene want. */
    cl->format.redShift = 16;
    cl->format.greenShift = 8;
    cl->format.blueShift = 0;
    cl->FinishedFrameBufferUpdate = on_update_done;
    rfbClientSetClientData(cl, (void *)probe_of, &p);
    cl->serverHost = g_strndup(argv[1], (gsize)(colon - argv[1]));
    cl->serverPort = atoi(colon + 1);
    int one = 1;
    char *no_args[] = {argv[0], NULL};
    if (!rfbInitClient(cl, &one, no_args)) { /* frees cl on failure */
        fprintf(stderr, "sgl-vnc-probe: cannot connect to %s\n", argv[1]);
        return 1;
    }
    gint64 start = g_get_monotonic_time(), end = start + seconds * G_USEC_PER_SEC;
    double settle_bytes = 0;
    bool failed = false, settled = !settle;
    while (g_get_monotonic_time() < end) {
        if (!settled && g_get_monotonic_time() >= start + settle * G_USEC_PER_SEC) {
            settle_bytes = received_bytes(cl->sock);
            settled = true;
        }
        int n = WaitForMessage(cl, 50000);
        if (n < 0 || (n > 0 && !HandleRFBServerMessage(cl))) {
            failed = true;
            break;
        }
    }
    double bytes = received_bytes(cl->sock);
    double span_s = (p.last_us - p.first_us) / 1e6;
    uint32_t expected = p.have_first ? p.last - p.first + 1 : 0;
    printf("{");
    number("frames", p.frames, false);
    number("lost", expected - MIN(expected, p.frames), false);
    number("fps", span_s > 0 ? (p.frames - 1) / span_s : 0, false);
    number("psnr_avg", p.psnr_n ? p.psnr_sum / p.psnr_n : NAN, false);
    number("psnr_min", p.psnr_n ? p.psnr_min : NAN, false);
    number("latency_p50_ms", sgl_percentile(p.latency_ms, 0.5), false);
    number("latency_p95_ms", sgl_percentile(p.latency_ms, 0.95), false);
    number("bytes_per_s", (bytes - settle_bytes) / (seconds - settle), false);
    number("settle_bytes", settle_bytes, false);
    number("updates", p.updates, false);
    number("pictures", p.pictures, false);
    number("final_psnr", final_psnr(&p, cl), false);
    number("unreadable", p.unreadable, false);
    number("width", p.width, false);
    number("height", p.height, true);
    printf("}\n");
    rfbClientCleanup(cl);
    g_array_unref(p.latency_ms);
    sgl_reference_finish(&p.reference);
    return failed ? 1 : 0;
}
