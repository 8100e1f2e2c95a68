/* The QXLInterface callbacks a GL-only QXL display does nothing in:
 * spice-server calls every callback without a NULL check, and in GL mode
 * there are no QXL commands, so the queues stay empty. local.c (the GL
 * path) and pointer.c (client mouse mode) build their interfaces from
 * these, adding their own async_complete and client_monitors_config.
 * Called on spice-server's worker thread; they touch nothing. */
#ifndef SGL_QXL_H
#define SGL_QXL_H

#include <spice.h>

void sgl_qxl_attached(QXLInstance *qin);
void sgl_qxl_set_compression_level(QXLInstance *qin, int level);
void sgl_qxl_get_init_info(QXLInstance *qin, QXLDevInitInfo *info);
int sgl_qxl_get_command(QXLInstance *qin, struct QXLCommandExt *cmd);
int sgl_qxl_req_notification(QXLInstance *qin);
void sgl_qxl_release_resource(QXLInstance *qin, struct QXLReleaseInfoExt info);
void sgl_qxl_notify_update(QXLInstance *qin, uint32_t update_id);
int sgl_qxl_flush_resources(QXLInstance *qin);
void sgl_qxl_update_area_complete(QXLInstance *qin, uint32_t surface_id, struct QXLRect *rects,
                                  uint32_t n);
void sgl_qxl_set_client_capabilities(QXLInstance *qin, uint8_t present,
                                     uint8_t caps[SPICE_CAPABILITIES_SIZE]);

#define SGL_QXL_NOOP_CALLBACKS                                                                     \
    .attached_worker = sgl_qxl_attached, .set_compression_level = sgl_qxl_set_compression_level,   \
    .get_init_info = sgl_qxl_get_init_info, .get_command = sgl_qxl_get_command,                    \
    .req_cmd_notification = sgl_qxl_req_notification,                                              \
    .release_resource = sgl_qxl_release_resource, .get_cursor_command = sgl_qxl_get_command,       \
    .req_cursor_notification = sgl_qxl_req_notification, .notify_update = sgl_qxl_notify_update,   \
    .flush_resources = sgl_qxl_flush_resources,                                                    \
    .update_area_complete = sgl_qxl_update_area_complete,                                          \
    .set_client_capabilities = sgl_qxl_set_client_capabilities

#endif
