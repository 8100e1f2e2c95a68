/* What the fuzz targets that run the real renderer share: a quiet log
 * (every rejected command would be logged, and logging is not what is
 * fuzzed) and the one device of the process (virglrenderer keeps its
 * state in globals). Header-only: each target is built from its own file
 * and the sources it needs (run-fuzz.sh). */
#ifndef SGL_FUZZ_GPU_H
#define SGL_FUZZ_GPU_H

#include <stdio.h>
#include <stdlib.h>

#include "qemu-integration/virtio-gpu/vgpu.h"

static GLogWriterOutput fuzz_gpu_quiet(GLogLevelFlags level, const GLogField *fields, gsize n,
                                       gpointer user)
{
    (void)level;
    (void)fields;
    (void)n;
    (void)user;
    return G_LOG_WRITER_HANDLED;
}

/* Two 640x400 scanouts with 3D, under cap; aborts when the renderer does
 * not start (a fuzz run without it is no run). */
static inline struct vgpu *fuzz_gpu_create(const char *target, uint64_t cap, bool qemu_console)
{
    g_log_set_writer_func(fuzz_gpu_quiet, NULL, NULL);
    struct vgpu_config c = {.num_scanouts = 2,
                            .width = 640,
                            .height = 400,
                            .max_host_bytes = cap,
                            .virgl = true,
                            .qemu_console = qemu_console};
    GError *error = NULL;
    struct vgpu *g = vgpu_create(&c, NULL, NULL, &error);
    if (!g) {
        fprintf(stderr, "%s: %s\n", target, error->message);
        abort();
    }
    return g;
}

#endif
