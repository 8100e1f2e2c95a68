/* libFuzzer: the virtio-gpu device with a real virglrenderer (surfaceless
 * EGL, llvmpipe): a sequence of requests, each a little-endian u32 (length,
 * bit 31 for the cursor queue) and its bytes -- the format spicegl-gpu
 * --record-commands writes, so guest sessions are the seeds. 2D and 3D
 * resources, transfers, contexts and command-stream submission all reach
 * virglrenderer after our checks. Each input starts from a reset device
 * (no guest RAM: backing tables are refused). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/le.h"
#include "qemu-integration/record.h"
#include "qemu-integration/vgpu.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* virglrenderer keeps its state in globals: one device for the process. */
static struct vgpu *device;

/* A rejected command is logged, every time: quiet, or the log is the work. */
static GLogWriterOutput quiet(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer user)
{
    (void)level;
    (void)fields;
    (void)n;
    (void)user;
    return G_LOG_WRITER_HANDLED;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_log_set_writer_func(quiet, NULL, NULL);
    struct vgpu_config c = {.num_scanouts = 2,
                            .width = 640,
                            .height = 400,
                            .max_host_bytes = 256u << 20,
                            .virgl = true};
    GError *error = NULL;
    device = vgpu_create(&c, NULL, NULL, &error);
    if (!device) {
        fprintf(stderr, "fuzz-vgpu-device: %s\n", error->message);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t resp[65536 + 64];
    size_t off = 0;
    while (size - off >= 4) {
        uint32_t head = sgl_le32_get(data + off);
        size_t len = head & ~VGPU_RECORD_CURSOR;
        off += 4;
        if (len > size - off)
            len = size - off;
        vgpu_process(device, head & VGPU_RECORD_CURSOR, data + off, len, resp, sizeof(resp));
        off += len;
    }
    vgpu_reset(device);
    return 0;
}
