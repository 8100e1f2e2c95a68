#include "config.h"

#include <math.h>

#include "common/percentile.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double sgl_percentile(GArray *values, double q)
{
    if (!values->len)
        return NAN;
    g_array_sort(values, cmp_double);
    return g_array_index(values, double, MIN(values->len - 1, (guint)(q * values->len)));
}
