#include "config.h"

#include "delivery.h"

#include <glib.h>

char *sgl_delivery_check(const struct sgl_delivery *d, double reach_want, double show_want)
{
    double presented = d->shown + d->lost;
    double reached = d->decoded >= 0 ? d->decoded : d->shown;
    /* Fewer decoded than shown means the probe's count is broken, not that
     * the stream was good. */
    if (d->decoded >= 0 && d->decoded < d->shown)
        return g_strdup_printf("the probe counted %.0f frames out of its decoder but showed %.0f",
                               d->decoded, d->shown);
    if (presented <= 0)
        return g_strdup("no frame was presented in the window");
    if (reached / presented >= reach_want && d->shown / presented >= show_want)
        return NULL;
    return g_strdup_printf("of %.0f frames presented, %.0f reached the client's decoder (%.1f %%, "
                           "want >= %.0f %%) and %.0f were shown (%.1f %%, want >= %.0f %%)",
                           presented, reached, 100 * reached / presented, 100 * reach_want,
                           d->shown, 100 * d->shown / presented, 100 * show_want);
}
