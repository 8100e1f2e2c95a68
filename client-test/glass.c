/* sgl-glass: glass-to-glass latency as a user sees it. On an X display
 * (Xvfb) where a SPICE client shows a marker stream, it finds the marker,
 * then grabs just the marker's area every ~2 ms and notes when each frame
 * number first appears. Latency = that moment minus the marker's timestamp
 * (both the host's wall clock: valid for a source on the same host).
 * Prints frames seen, p50/p95/min latency; --json for one line. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <glib.h>

#include "common/marker.h"
#include "common/percentile.h"

static bool read_image(XImage *im, struct sgl_marker_image *out)
{
    if (!im || im->bits_per_pixel != 32)
        return false;
    *out = (struct sgl_marker_image){(const uint8_t *)im->data, (uint32_t)im->width,
                                     (uint32_t)im->height, (uint32_t)im->bytes_per_line};
    return true;
}

int main(int argc, char **argv)
{
    gint seconds = 5;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "How long to watch (default 5)", "S"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON line", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- glass-to-glass latency on $DISPLAY");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || seconds < 1) {
        fprintf(stderr, "sgl-glass: %s\n", error ? error->message : "--seconds >= 1");
        return 2;
    }
    Display *dpy = XOpenDisplay(NULL);
    if (!dpy) {
        fprintf(stderr, "sgl-glass: cannot open the X display (DISPLAY=%s)\n",
                g_getenv("DISPLAY") ? g_getenv("DISPLAY") : "");
        return 1;
    }
    Window root = DefaultRootWindow(dpy);
    XWindowAttributes attr;
    XGetWindowAttributes(dpy, root, &attr);

    /* Where is the marker? One whole-screen grab. */
    uint32_t mx = 0, my = 0;
    struct sgl_marker m;
    struct sgl_marker_image view;
    XImage *full =
        XGetImage(dpy, root, 0, 0, (unsigned)attr.width, (unsigned)attr.height, AllPlanes, ZPixmap);
    bool found =
        read_image(full, &view) && sgl_marker_find(&view, SGL_MARKER_BLOCK_DEFAULT, &mx, &my, &m);
    if (full)
        XDestroyImage(full);
    if (!found) {
        fprintf(stderr, "sgl-glass: no marker on the screen\n");
        XCloseDisplay(dpy);
        return 1;
    }

    const unsigned w = sgl_marker_width(SGL_MARKER_BLOCK_DEFAULT);
    const unsigned h = sgl_marker_height(SGL_MARKER_BLOCK_DEFAULT);
    GArray *lat = g_array_new(FALSE, FALSE, sizeof(double));
    uint32_t last = m.frame, grabs = 0;
    int64_t end = g_get_monotonic_time() + (int64_t)seconds * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < end) {
        XImage *im = XGetImage(dpy, root, (int)mx, (int)my, w, h, AllPlanes, ZPixmap);
        int64_t now = g_get_real_time();
        grabs++;
        if (read_image(im, &view) && sgl_marker_read(&view, 0, 0, SGL_MARKER_BLOCK_DEFAULT, &m) &&
            m.frame != last) {
            double ms = (now - (int64_t)m.timestamp_us) / 1000.0;
            g_array_append_val(lat, ms);
            last = m.frame;
        }
        if (im)
            XDestroyImage(im);
        g_usleep(2000);
    }
    XCloseDisplay(dpy);

    double p50 = sgl_percentile(lat, 0.5), p95 = sgl_percentile(lat, 0.95);
    double min = sgl_percentile(lat, 0);
    double grab_ms = seconds * 1000.0 / grabs;
    if (json)
        printf("{\"frames\":%u,\"glass_p50_ms\":%.1f,\"glass_p95_ms\":%.1f,\"glass_min_ms\":%.1f,"
               "\"grab_interval_ms\":%.2f}\n",
               lat->len, p50, p95, min, grab_ms);
    else
        printf("%u frames seen; glass-to-glass p50 %.1f ms, p95 %.1f, min %.1f (a grab every "
               "%.2f ms)\n",
               lat->len, p50, p95, min, grab_ms);
    g_array_unref(lat);
    return 0;
}
