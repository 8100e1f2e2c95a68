#include "config.h"

#include "qxl.h"

#include <string.h>

void sgl_qxl_attached(QXLInstance *qin)
{
}

void sgl_qxl_set_compression_level(QXLInstance *qin, int level)
{
}

void sgl_qxl_get_init_info(QXLInstance *qin, QXLDevInitInfo *info)
{
    memset(info, 0, sizeof(*info));
    info->num_memslots_groups = 1;
    info->num_memslots = 1;
    info->memslot_gen_bits = 8;
    info->memslot_id_bits = 8;
    info->n_surfaces = 1;
}

int sgl_qxl_get_command(QXLInstance *qin, struct QXLCommandExt *cmd)
{
    return 0;
}

int sgl_qxl_req_notification(QXLInstance *qin)
{
    return 1;
}

void sgl_qxl_release_resource(QXLInstance *qin, struct QXLReleaseInfoExt info)
{
}

void sgl_qxl_notify_update(QXLInstance *qin, uint32_t update_id)
{
}

int sgl_qxl_flush_resources(QXLInstance *qin)
{
    return 0;
}

void sgl_qxl_update_area_complete(QXLInstance *qin, uint32_t surface_id, struct QXLRect *rects,
                                  uint32_t n)
{
}

void sgl_qxl_set_client_capabilities(QXLInstance *qin, uint8_t present,
                                     uint8_t caps[SPICE_CAPABILITIES_SIZE])
{
}
