/* What a client's window says about delivery, from spicegl-probe's figures:
 * a frame the daemon delivered reached the client's decoder; spice-gtk may
 * still drop it unshown when it came too late, which a client starved of
 * the CPU does. The tests hold the two apart. Pure: any thread. */
#ifndef SGL_TEST_DELIVERY_H
#define SGL_TEST_DELIVERY_H

struct sgl_delivery {
    double shown;   /* the probe's "frames" */
    double lost;    /* "lost": gaps in the marker numbers, presented but never shown */
    double decoded; /* "decoded": out of its H.264 decoder; < 0 or NaN: none watched (MJPEG) */
};

/* NULL when every frame shown came out of the decoder, at least reach_want
 * of the frames presented (shown + lost) reached the decoder (the shown
 * ones, where no decoder was watched) and at least show_want were shown.
 * Otherwise what failed, every figure named (g_free). */
char *sgl_delivery_check(const struct sgl_delivery *d, double reach_want, double show_want);

#endif
