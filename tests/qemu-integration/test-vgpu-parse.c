/* vgpu-parse: every malformed guest command is rejected with the error the
 * guest gets back, and the arithmetic on guest sizes cannot overflow. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "qemu-integration/virtio-gpu/vgpu-parse.h"
#include "tests/test-util.h"

static const struct vgpu_limits lim = {.num_scanouts = 2, .num_capsets = 2, .virgl = true};

static uint32_t parse(const void *buf, size_t len, struct vgpu_cmd *cmd)
{
    const char *why = NULL;
    uint32_t code = vgpu_parse(buf, len, &lim, cmd, &why);
    assert_true(code == 0 || why != NULL); /* every rejection says why */
    return code;
}

static void test_header_and_length(void **state)
{
    struct vgpu_cmd cmd;
    struct virtio_gpu_resource_create_2d c = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
                                              .resource_id = 1,
                                              .format = VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
                                              .width = 64,
                                              .height = 64};
    assert_int_equal(parse(&c, sizeof(c), &cmd), 0);
    assert_int_equal(cmd.u.create_2d.width, 64);
    /* Every shorter length is rejected, none read past the buffer. */
    for (size_t len = 0; len < sizeof(c); len++)
        assert_int_equal(parse(&c, len, &cmd), VIRTIO_GPU_RESP_ERR_UNSPEC);
    struct virtio_gpu_ctrl_hdr h = {.type = 0x1234};
    assert_int_equal(parse(&h, sizeof(h), &cmd), VIRTIO_GPU_RESP_ERR_UNSPEC);
    h.type = VIRTIO_GPU_RESP_OK_NODATA; /* a response is not a command */
    assert_int_equal(parse(&h, sizeof(h), &cmd), VIRTIO_GPU_RESP_ERR_UNSPEC);
}

static void test_create_2d_fields(void **state)
{
    struct vgpu_cmd cmd;
    struct virtio_gpu_resource_create_2d c = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
                                              .resource_id = 0,
                                              .format = VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
                                              .width = 64,
                                              .height = 64};
    assert_int_equal(parse(&c, sizeof(c), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    c.resource_id = 7;
    c.format = 999;
    assert_int_equal(parse(&c, sizeof(c), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    c.format = VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM;
    /* The size arithmetic CVE-2026-3886 was about: huge sizes never get
     * as far as a multiplication. */
    c.width = 0x10000;
    c.height = 0x10000;
    assert_int_equal(parse(&c, sizeof(c), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    c.width = 0;
    c.height = 16;
    assert_int_equal(parse(&c, sizeof(c), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    c.width = VGPU_MAX_DIM;
    c.height = VGPU_MAX_DIM;
    assert_int_equal(parse(&c, sizeof(c), &cmd), 0);
}

static void test_scanout_and_capset_indexes(void **state)
{
    struct vgpu_cmd cmd;
    struct virtio_gpu_set_scanout s = {.hdr.type = VIRTIO_GPU_CMD_SET_SCANOUT,
                                       .scanout_id = 2,
                                       .resource_id = 1,
                                       .r = {0, 0, 64, 64}};
    assert_int_equal(parse(&s, sizeof(s), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
    s.scanout_id = 1;
    assert_int_equal(parse(&s, sizeof(s), &cmd), 0);
    s.r = (struct virtio_gpu_rect){0xffffff00u, 0, 0x200, 64}; /* x + width wraps */
    assert_int_equal(parse(&s, sizeof(s), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

    struct virtio_gpu_get_capset_info ci = {.hdr.type = VIRTIO_GPU_CMD_GET_CAPSET_INFO,
                                            .capset_index = 2};
    assert_int_equal(parse(&ci, sizeof(ci), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    ci.capset_index = 0xffffffffu;
    assert_int_equal(parse(&ci, sizeof(ci), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    ci.capset_index = 1;
    assert_int_equal(parse(&ci, sizeof(ci), &cmd), 0);
    struct virtio_gpu_get_capset cs = {.hdr.type = VIRTIO_GPU_CMD_GET_CAPSET, .capset_id = 3};
    assert_int_equal(parse(&cs, sizeof(cs), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    cs.capset_id = 0;
    assert_int_equal(parse(&cs, sizeof(cs), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

    struct virtio_gpu_update_cursor cur = {.hdr.type = VIRTIO_GPU_CMD_MOVE_CURSOR,
                                           .pos.scanout_id = 5};
    assert_int_equal(parse(&cur, sizeof(cur), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
}

static void test_attach_backing_entries(void **state)
{
    struct vgpu_cmd cmd;
    struct {
        struct virtio_gpu_resource_attach_backing a;
        struct vgpu_mem_entry e[2];
    } __attribute__((packed)) m = {.a = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
                                         .resource_id = 1,
                                         .nr_entries = 2},
                                   .e = {{0x1000, 4096, 0}, {0x3000, 4096, 0}}};
    assert_int_equal(parse(&m, sizeof(m), &cmd), 0);
    assert_int_equal(cmd.backing_bytes, 8192);
    /* The count says more entries than the request holds. */
    m.a.nr_entries = 3;
    assert_int_equal(parse(&m, sizeof(m), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    /* A count whose byte size would overflow 32 bits. */
    m.a.nr_entries = 0x10000001u;
    assert_int_equal(parse(&m, sizeof(m), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    m.a.nr_entries = 0;
    assert_int_equal(parse(&m, sizeof(m), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    /* An entry that wraps the address space, and an empty one. */
    m.a.nr_entries = 2;
    m.e[1] = (struct vgpu_mem_entry){0xfffffffffffff000ull, 0x2000, 0};
    assert_int_equal(parse(&m, sizeof(m), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    m.e[1] = (struct vgpu_mem_entry){0x3000, 0, 0};
    assert_int_equal(parse(&m, sizeof(m), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
}

static void test_3d_commands(void **state)
{
    struct vgpu_cmd cmd;
    struct virtio_gpu_resource_create_3d c = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_3D,
                                              .resource_id = 3,
                                              .target = 2,
                                              .width = 256,
                                              .height = 256,
                                              .depth = 1,
                                              .array_size = 1};
    assert_int_equal(parse(&c, sizeof(c), &cmd), 0);
    assert_int_equal(vgpu_resource_3d_bytes(&c), 256 * 256 * 16);
    c.depth = 0x7fffffff;
    assert_int_equal(parse(&c, sizeof(c), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    c.depth = 2048;
    c.array_size = 2048;
    c.width = c.height = VGPU_MAX_DIM; /* 2^58 bytes: beyond any cap, no overflow */
    assert_int_equal(parse(&c, sizeof(c), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    c = (struct virtio_gpu_resource_create_3d){
        .hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, .resource_id = 3, .target = 99};
    assert_int_equal(parse(&c, sizeof(c), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

    /* Without virgl, no 3D command is taken. */
    struct vgpu_limits no3d = lim;
    no3d.virgl = false;
    c.target = 2;
    const char *why;
    assert_int_equal(vgpu_parse((const uint8_t *)&c, sizeof(c), &no3d, &cmd, &why),
                     VIRTIO_GPU_RESP_ERR_UNSPEC);

    struct virtio_gpu_ctx_create cc = {.hdr = {.type = VIRTIO_GPU_CMD_CTX_CREATE, .ctx_id = 0}};
    assert_int_equal(parse(&cc, sizeof(cc), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
    cc.hdr.ctx_id = 1;
    cc.nlen = 65;
    assert_int_equal(parse(&cc, sizeof(cc), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

    struct {
        struct virtio_gpu_cmd_submit s;
        uint32_t words[4];
    } sub = {.s = {.hdr = {.type = VIRTIO_GPU_CMD_SUBMIT_3D, .ctx_id = 1}, .size = 16}};
    assert_int_equal(parse(&sub, sizeof(sub), &cmd), 0);
    sub.s.size = 20; /* past the request */
    assert_int_equal(parse(&sub, sizeof(sub), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    sub.s.size = 6; /* not whole words */
    assert_int_equal(parse(&sub, sizeof(sub), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    sub.s.size = 0xfffffffcu;
    assert_int_equal(parse(&sub, sizeof(sub), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

    struct virtio_gpu_transfer_host_3d t = {.hdr = {.type = VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D},
                                            .box = {0xfffffff0u, 0, 0, 0x20, 1, 1},
                                            .resource_id = 3};
    assert_int_equal(parse(&t, sizeof(t), &cmd), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
}

/* The state-dependent checks the device makes with them. */
static void test_boxes_and_transfers(void **state)
{
    const struct vgpu_texture tex2d = {2 /* PIPE_TEXTURE_2D */, 64, 64, 1, 1};
    struct virtio_gpu_box b = {0, 0, 0, 64, 64, 1};
    assert_true(vgpu_check_box(&b, 0, &tex2d));
    assert_false(vgpu_check_box(&b, 1, &tex2d)); /* level 1 is 32x32 */
    b.w = 32;
    b.h = 32;
    assert_true(vgpu_check_box(&b, 1, &tex2d));
    b.x = 1;
    assert_false(vgpu_check_box(&b, 1, &tex2d));
    assert_false(vgpu_check_box(&b, 16, &tex2d));

    /* Layers of arrays and cube faces are in range, up to the last. */
    const struct vgpu_texture cube = {4 /* PIPE_TEXTURE_CUBE */, 64, 64, 1, 6};
    const struct vgpu_texture array2d = {7 /* PIPE_TEXTURE_2D_ARRAY */, 64, 64, 1, 8};
    const struct vgpu_texture array1d = {6 /* PIPE_TEXTURE_1D_ARRAY */, 64, 1, 1, 8};
    const struct vgpu_texture tex3d = {3 /* PIPE_TEXTURE_3D */, 64, 64, 16, 1};
    b = (struct virtio_gpu_box){0, 0, 5, 64, 64, 1};
    assert_true(vgpu_check_box(&b, 0, &cube));
    b.z = 6;
    assert_false(vgpu_check_box(&b, 0, &cube));
    b = (struct virtio_gpu_box){0, 0, 1, 32, 32, 7};
    assert_true(vgpu_check_box(&b, 1, &array2d)); /* layers do not shrink with the level */
    b.d = 8;
    assert_false(vgpu_check_box(&b, 1, &array2d));
    b = (struct virtio_gpu_box){0, 7, 0, 64, 1, 1};
    assert_true(vgpu_check_box(&b, 0, &array1d)); /* a 1D array's layers are its rows */
    b.y = 8;
    assert_false(vgpu_check_box(&b, 0, &array1d));
    b = (struct virtio_gpu_box){0, 0, 0, 32, 32, 8};
    assert_true(vgpu_check_box(&b, 1, &tex3d)); /* a 3D texture's depth halves */
    b.d = 9;
    assert_false(vgpu_check_box(&b, 1, &tex3d));

    struct virtio_gpu_transfer_to_host_2d t = {.r = {0, 0, 64, 64}, .offset = 0};
    assert_true(vgpu_check_transfer_2d(&t, 64, 64, 4, 64 * 64 * 4));
    assert_false(vgpu_check_transfer_2d(&t, 64, 64, 4, 64 * 64 * 4 - 1)); /* backing short */
    t.offset = 4;
    assert_false(vgpu_check_transfer_2d(&t, 64, 64, 4, 64 * 64 * 4));
    t.offset = 0xffffffffffffff00ull; /* offset + rows wraps */
    assert_false(vgpu_check_transfer_2d(&t, 64, 64, 4, UINT64_MAX));
    t = (struct virtio_gpu_transfer_to_host_2d){.r = {60, 0, 8, 8}};
    assert_false(vgpu_check_transfer_2d(&t, 64, 64, 4, 64 * 64 * 4)); /* outside */
    struct virtio_gpu_rect r = {0, 0, 64, 64};
    assert_true(vgpu_check_rect(&r, 64, 64));
    r.y = 1;
    assert_false(vgpu_check_rect(&r, 64, 64));
}

/* Random bytes: whatever parses must pass its own checks again. */
static void test_random_requests(void **state)
{
    uint64_t seed = 0x5eed;
    uint8_t buf[256];
    unsigned accepted = 0;
    for (int i = 0; i < 200000; i++) {
        size_t len = sgl_test_rand(&seed) % sizeof(buf);
        for (size_t k = 0; k < len; k++)
            buf[k] = (uint8_t)sgl_test_rand(&seed);
        /* A known type half the time, so parsing goes past the header. */
        if (len >= 4 && (i & 1)) {
            static const uint32_t types[] = {0x100, 0x101, 0x103, 0x104, 0x105, 0x106, 0x108,
                                             0x109, 0x200, 0x204, 0x205, 0x207, 0x300};
            uint32_t t = types[sgl_test_rand(&seed) % (sizeof(types) / sizeof(types[0]))];
            memcpy(buf, &t, 4);
        }
        struct vgpu_cmd cmd;
        if (parse(buf, len, &cmd) == 0) {
            accepted++;
            if (cmd.hdr.type == VIRTIO_GPU_CMD_SUBMIT_3D)
                assert_true(cmd.u.submit.size <= len);
        }
    }
    print_message("# %u of 200000 random requests parsed\n", accepted);
    assert_true(accepted > 0);
}

/* LINK_SHADER never reaches the renderer: it becomes a NOP of its own
 * length; the walk follows the commands' lengths, so a word that merely
 * looks like a LINK_SHADER header inside another command is left alone. */
static void test_stream_filter(void **state)
{
    (void)state;
    enum { NOP = 0, CLEAR = 7, LINK = 52 };
    /* clang-format off */
    uint32_t words[] = {
        8u << 16 | CLEAR, 4, 0, 0, 0, 0x3f800000, 0, 0, 0, /* CLEAR */
        6u << 16 | LINK, 2, 3, 0, 0, 0, 0,                 /* LINK_SHADER */
        2u << 16 | NOP, 6u << 16 | LINK, 0,                /* NOP hiding one */
        6u << 16 | LINK, 2, 3, 0, 0, 0, 0,                 /* LINK_SHADER */
    };
    /* clang-format on */
    uint32_t want[sizeof(words) / 4];
    memcpy(want, words, sizeof(words));
    want[9] = 6u << 16 | NOP;
    want[19] = 6u << 16 | NOP;
    assert_int_equal(vgpu_filter_stream(words, sizeof(words) / 4), 2);
    assert_memory_equal(words, want, sizeof(words));
    /* A stream whose last command claims more words than there are: the
     * walk stops at the end, as the renderer's does. */
    uint32_t cut[] = {0xffffu << 16 | LINK, 1, 2};
    assert_int_equal(vgpu_filter_stream(cut, sizeof(cut) / 4), 1);
    assert_int_equal(cut[0], 0xffffu << 16 | NOP);
    assert_int_equal(vgpu_filter_stream(cut, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_length),
        cmocka_unit_test(test_create_2d_fields),
        cmocka_unit_test(test_scanout_and_capset_indexes),
        cmocka_unit_test(test_attach_backing_entries),
        cmocka_unit_test(test_3d_commands),
        cmocka_unit_test(test_boxes_and_transfers),
        cmocka_unit_test(test_random_requests),
        cmocka_unit_test(test_stream_filter),
    };
    return cmocka_run_group_tests_name("vgpu-parse", tests, NULL, NULL);
}
