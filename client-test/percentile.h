/* Percentiles of the measuring clients' samples (latency and the like). */
#ifndef SGL_CLIENT_PERCENTILE_H
#define SGL_CLIENT_PERCENTILE_H

#include <glib.h>

/* The nearest-rank q-quantile (0..1) of an array of doubles, which it
 * sorts in place; NAN when the array is empty. */
double sgl_percentile(GArray *values, double q);

#endif
