#include "record.h"

#include <errno.h>
#include <stdio.h>

#include "common/le.h"

/* fuzz-vhost-user's operations (tests/fuzz/fuzz-vhost-user.c). */
enum { OP_MESSAGE = 0, OP_REQUEST = 2, OP_REM_REG = 4, OP_ADD_REG = 5, OP_TABLE = 6, OP_TURNS = 7 };

struct vgpu_record {
    char *dir;
    FILE *session, *vhost;
    size_t written, vhost_written;
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
    g_autofree char *vhost = g_build_filename(dir, "vhost-user.bin", NULL);
    r->vhost = fopen(vhost, "wb");
    if (!r->vhost) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "--record-commands: %s: %s", vhost, g_strerror(errno));
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
    if (r->vhost)
        fclose(r->vhost);
    if (r->per_type)
        g_hash_table_unref(r->per_type);
    g_free(r->dir);
    g_free(r);
}

/* One operation for fuzz-vhost-user: head bytes, then body. */
static void vhost_op(struct vgpu_record *r, const uint8_t *head, size_t head_len,
                     const uint8_t *body, size_t len)
{
    if (r->vhost_written + head_len + len > VGPU_RECORD_MAX_BYTES)
        return;
    if (fwrite(head, 1, head_len, r->vhost) == head_len && fwrite(body, 1, len, r->vhost) == len)
        r->vhost_written += head_len + len;
    fflush(r->vhost);
}

void vgpu_record_message(struct vgpu_record *r, uint32_t request, uint32_t flags,
                         const uint8_t *payload, uint32_t size)
{
    uint8_t head[11] = {OP_MESSAGE};
    switch (request) {
    case 5: /* SET_MEM_TABLE */
        head[0] = OP_TABLE;
        head[1] = 1; /* both regions */
        vhost_op(r, head, 2, NULL, 0);
        return;
    case 37: /* ADD_MEM_REG */
    case 38: /* REM_MEM_REG */
        head[0] = request == 37 ? OP_ADD_REG : OP_REM_REG;
        head[1] = 1;
        vhost_op(r, head, 2, NULL, 0);
        return;
    case 9: /* SET_VRING_ADDR: QEMU's addresses, not the fuzzer's */
        return;
    default:
        sgl_le32_put(head + 1, request);
        sgl_le32_put(head + 5, flags);
        head[9] = (uint8_t)size;
        head[10] = (uint8_t)(size >> 8);
        vhost_op(r, head, sizeof(head), payload, size);
        return;
    }
}

void vgpu_record_request(struct vgpu_record *r, bool cursor_queue, const uint8_t *req, size_t len)
{
    uint8_t op[4] = {OP_REQUEST, cursor_queue, (uint8_t)len, (uint8_t)(len >> 8)};
    if (len <= 0x1f00) {
        vhost_op(r, op, sizeof(op), req, len);
        const uint8_t turns[2] = {OP_TURNS, 4};
        vhost_op(r, turns, sizeof(turns), NULL, 0);
    }
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
