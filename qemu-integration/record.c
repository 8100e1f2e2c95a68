#include "record.h"

#include <errno.h>
#include <stdio.h>

#include "common/le.h"

struct vgpu_record {
    char *dir;
    FILE *session;
    size_t written;
    GHashTable *per_type; /* command type -> requests kept */
};

struct vgpu_record *vgpu_record_create(const char *dir, GError **error)
{
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "--record-commands %s: %s",
                    dir, g_strerror(errno));
        return NULL;
    }
    struct vgpu_record *r = g_new0(struct vgpu_record, 1);
    r->dir = g_strdup(dir);
    g_autofree char *path = g_build_filename(dir, "session.bin", NULL);
    r->session = fopen(path, "wb");
    if (!r->session) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "--record-commands: %s: %s", path, g_strerror(errno));
        vgpu_record_destroy(r);
        return NULL;
    }
    r->per_type = g_hash_table_new(NULL, NULL);
    return r;
}

void vgpu_record_destroy(struct vgpu_record *r)
{
    if (!r)
        return;
    if (r->session)
        fclose(r->session);
    if (r->per_type)
        g_hash_table_unref(r->per_type);
    g_free(r->dir);
    g_free(r);
}

void vgpu_record_request(struct vgpu_record *r, bool cursor_queue, const uint8_t *req, size_t len)
{
    if (r->written + 4 + len <= VGPU_RECORD_MAX_BYTES) {
        uint8_t head[4];
        sgl_le32_put(head, (uint32_t)len | (cursor_queue ? VGPU_RECORD_CURSOR : 0));
        if (fwrite(head, 1, 4, r->session) == 4 && fwrite(req, 1, len, r->session) == len)
            r->written += 4 + len;
        fflush(r->session);
    }
    uint32_t type = len >= 4 ? sgl_le32_get(req) : 0;
    guint kept = GPOINTER_TO_UINT(g_hash_table_lookup(r->per_type, GUINT_TO_POINTER(type)));
    if (kept >= VGPU_RECORD_PER_TYPE)
        return;
    g_hash_table_insert(r->per_type, GUINT_TO_POINTER(type), GUINT_TO_POINTER(kept + 1));
    g_autofree char *name = g_strdup_printf("cmd-%04x-%u.bin", type, kept);
    g_autofree char *path = g_build_filename(r->dir, name, NULL);
    if (!g_file_set_contents(path, (const char *)req, (gssize)len, NULL))
        g_warning("--record-commands: cannot write %s", path);
}
