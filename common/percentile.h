/* Percentiles of samples (latency and the like): the measuring clients'
 * and the daemon's own. Any thread; the caller owns the array. */
#ifndef SGL_PERCENTILE_H
#define SGL_PERCENTILE_H

#include <glib.h>

/* The nearest-rank q-quantile (0..1) of an array of doubles, which it
 * sorts in place; NAN when the array is empty. */
double sgl_percentile(GArray *values, double q);

#endif
