/* vhost-user, split rings and the virtio-gpu device, driven the way QEMU
 * and a guest would: messages over a socketpair, guest RAM in a memfd,
 * rings laid out in it by the test. Malformed messages close the
 * connection with a reason; malformed rings break their queue only;
 * malformed commands get virtio-gpu errors. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <linux/virtio_gpu.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qemu-integration/virtio-gpu/vgpu.h"
#include "qemu-integration/vhost-user/vhost-user.h"
#include "qemu-integration/vhost-user/virtq.h"
#include "tests/qemu-integration/vu-test-guest.h"
#include "tests/test-util.h"

struct fixture {
    struct vu_test_guest g;
    char *why; /* disconnected */
    unsigned kicks;
    struct vu_virtq *kicked;
};

static void on_kick(void *user, struct vu_virtq *vq)
{
    struct fixture *f = user;
    f->kicks++;
    f->kicked = vq;
}

static void on_disconnected(void *user, const char *why)
{
    struct fixture *f = user;
    g_free(f->why);
    f->why = g_strdup(why);
}

static void get_config(void *user, uint32_t offset, uint8_t *buf, uint32_t size)
{
    for (uint32_t i = 0; i < size; i++)
        buf[i] = (uint8_t)(offset + i);
}

static const struct vu_iface iface = {
    .features = 1ull << 0,
    .num_queues = 2,
    .config_size = 16,
    .get_config = get_config,
    .kick = on_kick,
    .disconnected = on_disconnected,
};

static int setup(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);
    vu_test_guest_init(&f->g, &iface, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vu_test_guest_finish(&f->g);
    g_free(f->why);
    g_free(f);
    return 0;
}

static void map_ram(struct fixture *f)
{
    vu_test_map_ram(&f->g, f->g.ram_fd);
    assert_null(f->why);
}

static int kick_fd_for(struct fixture *f, uint32_t index)
{
    int kick = vu_test_start_queue(&f->g, index);
    assert_null(f->why);
    return kick;
}

static void test_negotiation_replies(void **state)
{
    struct fixture *f = *state;
    vu_test_send(&f->g, VU_GET_FEATURES, 0, NULL, 0, NULL, 0);
    uint64_t features = vu_test_reply_u64(&f->g, VU_GET_FEATURES);
    assert_true(features & (1ull << VU_F_PROTOCOL_FEATURES));
    assert_true(features & (1ull << VU_F_VERSION_1));
    assert_true(features & 1);
    vu_test_send(&f->g, VU_GET_PROTOCOL_FEATURES, 0, NULL, 0, NULL, 0);
    uint64_t pf = vu_test_reply_u64(&f->g, VU_GET_PROTOCOL_FEATURES);
    assert_true(pf & (1ull << VU_PF_CONFIG)); /* QEMU insists on it for GPUs */
    assert_true(pf & (1ull << VU_PF_REPLY_ACK));
    vu_test_send(&f->g, VU_GET_QUEUE_NUM, 0, NULL, 0, NULL, 0);
    assert_int_equal(vu_test_reply_u64(&f->g, VU_GET_QUEUE_NUM), 2);

    vu_test_set_u64(&f->g, VU_SET_PROTOCOL_FEATURES, 1ull << VU_PF_REPLY_ACK);
    /* A request we do not know is answered as failed, not fatal. */
    vu_test_send(&f->g, 99, VU_FLAG_NEED_REPLY, NULL, 0, NULL, 0);
    assert_int_equal(vu_test_reply_u64(&f->g, 99), 1);
    /* Config reads come back with their header. */
    uint8_t cfg[12 + 4] = {4, 0, 0, 0, 4, 0, 0, 0};
    vu_test_send(&f->g, VU_GET_CONFIG, 0, cfg, sizeof(cfg), NULL, 0);
    struct {
        struct vu_msg_header h;
        uint8_t body[16];
    } __attribute__((packed)) r;
    assert_int_equal(recv(f->g.peer, &r, sizeof(r), 0), sizeof(r));
    assert_int_equal(r.body[12], 4);
    assert_int_equal(r.body[15], 7);
    assert_null(f->why);
}

/* Each of these closes the connection, with a reason. */
static void test_malformed_messages(void **state)
{
    struct fixture *f = *state;
    static const struct {
        uint32_t request, size;
        uint8_t payload[48];
        const char *reason;
    } cases[] = {
        {VU_SET_FEATURES, 4, {0}, "SET_FEATURES wants 8 bytes"},
        {VU_SET_VRING_NUM, 8, {9, 0, 0, 0, 16}, "vring index out of range"},
        {VU_SET_VRING_NUM, 8, {0, 0, 0, 0, 3}, "power of two"},
        {VU_SET_VRING_NUM, 8, {0, 0, 0, 0, 0, 0x10}, "power of two"},
        {VU_SET_MEM_TABLE, 8 + 32, {9}, "region count"},
        {VU_GET_CONFIG, 12, {0xf0, 0, 0, 0, 0x20}, "config access out of range"},
        {VU_SET_VRING_KICK, 8, {0, 1}, "polled rings"},
        {VU_SET_VRING_CALL, 8, {7}, "bad index or fd"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *why = NULL;
        struct vu_msg_header h = {cases[i].request, VU_FLAG_VERSION, cases[i].size};
        int no_fds[1] = {-1};
        assert_false(vu_dev_handle(f->g.dev, &h, cases[i].payload, no_fds, 0, &why));
        assert_non_null(why);
        if (!strstr(why, cases[i].reason))
            fail_msg("case %zu: '%s' does not say '%s'", i, why, cases[i].reason);
    }
    /* Over the socket: a payload larger than any message. */
    struct vu_msg_header h = {VU_SET_FEATURES, VU_FLAG_VERSION, VU_MAX_PAYLOAD + 1};
    assert_int_equal(send(f->g.peer, &h, sizeof(h), 0), sizeof(h));
    for (int i = 0; i < 10; i++)
        g_main_context_iteration(f->g.context, FALSE);
    assert_non_null(f->why);
}

static void test_memory_translation(void **state)
{
    struct fixture *f = *state;
    map_ram(f);
    assert_non_null(vu_dev_gpa_to_va(f->g.dev, RAM_GPA, 16));
    uint8_t *p = vu_dev_gpa_to_va(f->g.dev, RAM_GPA + 100, 4);
    assert_non_null(p);
    f->g.ram[100] = 0x5a;
    assert_int_equal(*p, 0x5a); /* the same memory */
    assert_non_null(vu_dev_gpa_to_va(f->g.dev, RAM_GPA + RAM_SIZE - 4, 4));
    assert_null(vu_dev_gpa_to_va(f->g.dev, RAM_GPA + RAM_SIZE - 4, 5)); /* runs off the end */
    assert_null(vu_dev_gpa_to_va(f->g.dev, RAM_GPA - 1, 2));            /* starts before */
    assert_null(vu_dev_gpa_to_va(f->g.dev, RAM_GPA + 8, UINT64_MAX));   /* wraps */
    assert_null(vu_dev_gpa_to_va(f->g.dev, UINT64_MAX - 1, 8));
    assert_non_null(vu_dev_qva_to_va(f->g.dev, RAM_QVA, 16));
    assert_null(vu_dev_qva_to_va(f->g.dev, RAM_GPA, 16));
}

/* A region larger than the file behind it would fault when its last pages
 * are touched: refused, and the connection closed with the reason. */
static void test_region_past_file_end(void **state)
{
    struct fixture *f = *state;
    struct {
        uint32_t n, pad;
        uint64_t gpa, size, qva, offset;
    } t = {1, 0, RAM_GPA, 2 * RAM_SIZE, RAM_QVA, 0};
    vu_test_send(&f->g, VU_SET_MEM_TABLE, 0, &t, sizeof(t), &f->g.ram_fd, 1);
    assert_non_null(f->why);
    assert_non_null(strstr(f->why, "larger than its file"));
}

static void test_ring_chains(void **state)
{
    struct fixture *f = *state;
    int kick = kick_fd_for(f, 0);
    struct vu_virtq *vq = vu_dev_queue(f->g.dev, 0);
    struct vu_elem *elem = g_new(struct vu_elem, 1);
    const char *why = NULL;
    assert_int_equal(vu_virtq_pop(vq, elem, &why), VU_POP_EMPTY);

    /* A request: 24 readable bytes, then 24 writable. */
    vu_test_desc(&f->g)[0] = (struct vring_desc){RAM_GPA + 0x10000, 24, VRING_DESC_F_NEXT, 1};
    vu_test_desc(&f->g)[1] = (struct vring_desc){RAM_GPA + 0x11000, 24, VRING_DESC_F_WRITE, 0};
    vu_test_make_available(&f->g, 0);
    uint64_t one = 1;
    assert_int_equal(write(kick, &one, 8), 8);
    for (int i = 0; i < 10 && !f->kicks; i++)
        g_main_context_iteration(f->g.context, FALSE);
    assert_int_equal(f->kicks, 1);
    assert_int_equal(vu_virtq_pop(vq, elem, &why), VU_POP_OK);
    assert_int_equal(elem->out_num, 1);
    assert_int_equal(elem->in_num, 1);
    assert_int_equal(elem->out_len, 24);
    vu_virtq_push(vq, elem, 24);
    volatile struct vring_used *used = (volatile struct vring_used *)(f->g.ram + USED_OFF);
    assert_int_equal(used->idx, 1);
    assert_int_equal(used->ring[0].id, 0);
    assert_int_equal(used->ring[0].len, 24);

    /* An indirect table. */
    struct vring_desc *table = (struct vring_desc *)(f->g.ram + 0x12000);
    table[0] = (struct vring_desc){RAM_GPA + 0x10000, 8, VRING_DESC_F_NEXT, 1};
    table[1] = (struct vring_desc){RAM_GPA + 0x11000, 8, VRING_DESC_F_WRITE, 0};
    vu_test_desc(&f->g)[2] = (struct vring_desc){RAM_GPA + 0x12000, 32, VRING_DESC_F_INDIRECT, 0};
    vu_test_make_available(&f->g, 2);
    assert_int_equal(vu_virtq_pop(vq, elem, &why), VU_POP_OK);
    assert_int_equal(elem->out_num + elem->in_num, 2);
    vu_virtq_push(vq, elem, 0);
    g_free(elem);
    close(kick);
}

/* Each broken ring stops its queue with a reason; the device lives on. */
static void test_broken_rings(void **state)
{
    static const struct {
        struct vring_desc d[2];
        uint16_t head;
        const char *reason;
    } cases[] = {
        {{{RAM_GPA, 8, VRING_DESC_F_NEXT, 1}, {RAM_GPA, 8, VRING_DESC_F_NEXT, 0}}, 0, "loops"},
        {{{RAM_GPA, 8, VRING_DESC_F_NEXT, 0}}, 0, "loops"}, /* points at itself */
        {{{RAM_GPA, 8, 0, 0}}, QSIZE, "head descriptor index out of range"},
        {{{RAM_GPA, 8, VRING_DESC_F_NEXT, QSIZE + 3}}, 0, "next descriptor index out of range"},
        {{{RAM_GPA + RAM_SIZE - 4, 8, 0, 0}}, 0, "outside guest memory"},
        {{{0, 8, 0, 0}}, 0, "outside guest memory"},
        {{{RAM_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1}, {RAM_GPA, 8, 0, 0}},
         0,
         "after a writable one"},
        {{{RAM_GPA, 20, VRING_DESC_F_INDIRECT, 0}}, 0, "bad indirect descriptor"},
        {{{RAM_GPA + RAM_SIZE, 32, VRING_DESC_F_INDIRECT, 0}}, 0, "indirect table outside"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        void *st = NULL;
        setup(&st);
        struct fixture *f = st;
        int kick = kick_fd_for(f, 0);
        struct vu_virtq *vq = vu_dev_queue(f->g.dev, 0);
        vu_test_desc(&f->g)[0] = cases[i].d[0];
        vu_test_desc(&f->g)[1] = cases[i].d[1];
        vu_test_make_available(&f->g, cases[i].head);
        struct vu_elem *elem = g_new(struct vu_elem, 1);
        const char *why = NULL;
        assert_int_equal(vu_virtq_pop(vq, elem, &why), VU_POP_BROKEN);
        if (!strstr(why, cases[i].reason))
            fail_msg("case %zu: '%s' does not say '%s'", i, why, cases[i].reason);
        /* Broken stays broken: nothing more is taken from the guest. */
        assert_int_equal(vu_virtq_pop(vq, elem, &why), VU_POP_EMPTY);
        g_free(elem);
        close(kick);
        teardown(&st);
    }
    /* An available index running more than a ring ahead. */
    void *st = NULL;
    setup(&st);
    struct fixture *f = st;
    int kick = kick_fd_for(f, 0);
    ((volatile struct vring_avail *)(f->g.ram + AVAIL_OFF))->idx = QSIZE + 1;
    struct vu_elem *elem = g_new(struct vu_elem, 1);
    const char *why = NULL;
    assert_int_equal(vu_virtq_pop(vu_dev_queue(f->g.dev, 0), elem, &why), VU_POP_BROKEN);
    g_free(elem);
    close(kick);
    teardown(&st);
}

/* ---- the device, on this memory ---------------------------------------- */

static size_t gpu_cmd(struct vgpu *g, const void *req, size_t len, struct virtio_gpu_ctrl_hdr *resp)
{
    uint8_t out[2048];
    size_t n = vgpu_process(g, false, req, len, out, sizeof(out));
    assert_true(n >= sizeof(*resp));
    memcpy(resp, out, sizeof(*resp));
    return n;
}

static struct vgpu *gpu_new(uint64_t cap)
{
    struct vgpu_config c = {
        .num_scanouts = 1, .width = 1280, .height = 800, .max_host_bytes = cap, .virgl = true};
    g_autoptr(GError) error = NULL;
    struct vgpu *g = vgpu_create(&c, NULL, NULL, &error);
    if (!g)
        fail_msg("vgpu_create: %s", error->message);
    return g;
}

static void test_gpu_commands(void **state)
{
    struct fixture *f = *state;
    map_ram(f);
    struct vgpu *g = gpu_new(256u << 20);
    vgpu_set_dev(g, f->g.dev);
    struct virtio_gpu_ctrl_hdr r;

    struct virtio_gpu_ctrl_hdr info = {.type = VIRTIO_GPU_CMD_GET_DISPLAY_INFO};
    uint8_t out[2048];
    size_t n = vgpu_process(g, false, (uint8_t *)&info, sizeof(info), out, sizeof(out));
    assert_int_equal(n, sizeof(struct virtio_gpu_resp_display_info));
    struct virtio_gpu_resp_display_info di;
    memcpy(&di, out, sizeof(di));
    assert_int_equal(di.hdr.type, VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
    assert_int_equal(di.pmodes[0].r.width, 1280);
    assert_true(di.pmodes[0].enabled);

    assert_int_equal(vu_test_create_2d(g, 1, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(vu_test_create_2d(g, 1, 64, 64), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);

    /* Backing inside guest RAM is taken; a page outside it is not. */
    struct {
        struct virtio_gpu_resource_attach_backing a;
        struct virtio_gpu_mem_entry e;
    } __attribute__((packed)) att = {.a = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
                                           .resource_id = 1,
                                           .nr_entries = 1},
                                     .e = {RAM_GPA + RAM_SIZE - 4096, 8192, 0}};
    gpu_cmd(g, &att, sizeof(att), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_ERR_UNSPEC);
    att.e = (struct virtio_gpu_mem_entry){RAM_GPA + 0x20000, 64 * 64 * 4, 0};
    gpu_cmd(g, &att, sizeof(att), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_OK_NODATA);

    /* Transfers: inside is fine; a rectangle or offset outside is not. */
    struct virtio_gpu_transfer_to_host_2d t = {
        .hdr.type = VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, .r = {0, 0, 64, 64}, .resource_id = 1};
    gpu_cmd(g, &t, sizeof(t), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_OK_NODATA);
    t.r = (struct virtio_gpu_rect){32, 32, 64, 64};
    gpu_cmd(g, &t, sizeof(t), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    t.r = (struct virtio_gpu_rect){0, 0, 64, 64};
    t.offset = 4096;
    gpu_cmd(g, &t, sizeof(t), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

    struct virtio_gpu_set_scanout s = {
        .hdr.type = VIRTIO_GPU_CMD_SET_SCANOUT, .r = {0, 0, 128, 64}, .resource_id = 1};
    gpu_cmd(g, &s, sizeof(s), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER); /* wider than it */
    s.resource_id = 42;
    gpu_cmd(g, &s, sizeof(s), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);

    struct virtio_gpu_resource_flush fl = {
        .hdr.type = VIRTIO_GPU_CMD_RESOURCE_FLUSH, .r = {0, 0, 64, 64}, .resource_id = 9};
    gpu_cmd(g, &fl, sizeof(fl), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);

    /* A cursor command on the control queue. */
    struct virtio_gpu_update_cursor cur = {.hdr.type = VIRTIO_GPU_CMD_MOVE_CURSOR};
    gpu_cmd(g, &cur, sizeof(cur), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_ERR_UNSPEC);

    /* Capsets come from the renderer. */
    struct virtio_gpu_get_capset_info ci = {.hdr.type = VIRTIO_GPU_CMD_GET_CAPSET_INFO};
    n = gpu_cmd(g, &ci, sizeof(ci), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_OK_CAPSET_INFO);
    assert_int_equal(n, sizeof(struct virtio_gpu_resp_capset_info));

    /* EDID for the scanout's mode, and none for a scanout that is not. */
    struct virtio_gpu_cmd_get_edid ge = {.hdr.type = VIRTIO_GPU_CMD_GET_EDID};
    n = vgpu_process(g, false, (uint8_t *)&ge, sizeof(ge), out, sizeof(out));
    struct virtio_gpu_resp_edid re;
    assert_int_equal(n, sizeof(re));
    memcpy(&re, out, sizeof(re));
    assert_int_equal(re.hdr.type, VIRTIO_GPU_RESP_OK_EDID);
    assert_int_equal(re.size, 128);
    assert_int_equal(re.edid[56] | (re.edid[58] >> 4) << 8, 1280);
    ge.scanout = 1;
    gpu_cmd(g, &ge, sizeof(ge), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);

    /* A 3D context fed garbage: rejected, and the device lives on. */
    struct virtio_gpu_ctx_create cc = {
        .hdr = {.type = VIRTIO_GPU_CMD_CTX_CREATE, .ctx_id = 5}, .nlen = 4, .debug_name = "test"};
    gpu_cmd(g, &cc, sizeof(cc), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_OK_NODATA);
    struct {
        struct virtio_gpu_cmd_submit s;
        uint32_t words[64];
    } sub = {.s = {.hdr = {.type = VIRTIO_GPU_CMD_SUBMIT_3D, .ctx_id = 5}, .size = 256}};
    uint64_t seed = 3;
    for (int i = 0; i < 64; i++)
        sub.words[i] = (uint32_t)sgl_test_rand(&seed);
    gpu_cmd(g, &sub, sizeof(sub), &r);
    assert_true(r.type == VIRTIO_GPU_RESP_OK_NODATA ||
                r.type == VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
    assert_int_equal(vu_test_create_2d(g, 2, 16, 16), VIRTIO_GPU_RESP_OK_NODATA);

    struct virtio_gpu_resource_unref u = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_UNREF,
                                          .resource_id = 1};
    gpu_cmd(g, &u, sizeof(u), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_OK_NODATA);
    gpu_cmd(g, &u, sizeof(u), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
    vgpu_destroy(g);
}

/* Resources the guest creates are bounded by the configured cap: past it,
 * OUT_OF_MEMORY; freeing one makes room again. */
static void test_gpu_memory_cap(void **state)
{
    struct vgpu *g = gpu_new(64u << 20);
    uint32_t made = 0;
    while (made < 100 && vu_test_create_2d(g, made + 1, 1024, 1024) == VIRTIO_GPU_RESP_OK_NODATA)
        made++;
    assert_int_equal(made, 16); /* 4 MiB each */
    assert_int_equal(vu_test_create_2d(g, 200, 1024, 1024), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
    struct virtio_gpu_resource_create_3d c = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_3D,
                                              .resource_id = 300,
                                              .target = 2,
                                              .width = 8192,
                                              .height = 8192,
                                              .depth = 1,
                                              .array_size = 1};
    struct virtio_gpu_ctrl_hdr r;
    gpu_cmd(g, &c, sizeof(c), &r);
    assert_int_equal(r.type, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
    struct virtio_gpu_resource_unref u = {.hdr.type = VIRTIO_GPU_CMD_RESOURCE_UNREF,
                                          .resource_id = 1};
    gpu_cmd(g, &u, sizeof(u), &r);
    assert_int_equal(vu_test_create_2d(g, 200, 1024, 1024), VIRTIO_GPU_RESP_OK_NODATA);
    struct vgpu_stats st;
    vgpu_get_stats(g, &st);
    assert_int_equal(st.resources, 16);
    assert_true(st.host_bytes <= 64u << 20);
    vgpu_destroy(g);
}

/* What the device hands its consumer: the last picture and its damage. */
struct shown {
    unsigned frames;
    uint32_t n_damage;
    struct sgl_rect damage; /* the one rectangle, or zeros for none */
    uint8_t pixels[64 * 64 * 4];
};

static void on_frame(void *user, uint32_t output, const struct sgl_frame *fr)
{
    struct shown *s = user;
    assert_int_equal(fr->width, 64);
    assert_int_equal(fr->height, 64);
    assert_int_equal(fr->stride, 64 * 4);
    assert_in_range(fr->n_damage, 0, 1);
    s->frames++;
    s->n_damage = fr->n_damage;
    s->damage = fr->n_damage ? fr->damage[0] : (struct sgl_rect){0};
    memcpy(s->pixels, fr->pixels, sizeof(s->pixels));
}

/* A 64x64 picture in guest RAM at gpa whose pixels all say tag. */
static void paint(struct fixture *f, uint64_t gpa, uint8_t tag)
{
    uint8_t *p = f->g.ram + (gpa - RAM_GPA);
    for (uint32_t y = 0; y < 64; y++)
        for (uint32_t x = 0; x < 64; x++) {
            uint8_t px[4] = {(uint8_t)x, (uint8_t)y, tag, 0};
            memcpy(p + (y * 64 + x) * 4, px, 4);
        }
}

/* The rect of the picture at gpa says tag instead. */
static void paint_block(struct fixture *f, uint64_t gpa, struct sgl_rect rect, uint8_t tag)
{
    uint8_t *p = f->g.ram + (gpa - RAM_GPA);
    for (uint32_t y = rect.y; y < rect.y + rect.height; y++)
        for (uint32_t x = rect.x; x < rect.x + rect.width; x++)
            p[(y * 64 + x) * 4 + 2] = tag;
}

/* Resource id backed by the 64x64 picture at gpa, on the host. */
static void make_shown_resource(struct vgpu *g, uint32_t id, uint64_t gpa)
{
    assert_int_equal(vu_test_create_2d(g, id, 64, 64), VIRTIO_GPU_RESP_OK_NODATA);
    assert_int_equal(vu_test_attach(g, id, gpa, 64 * 64 * 4), VIRTIO_GPU_RESP_OK_NODATA);
}

static void to_host(struct vgpu *g, uint32_t id)
{
    struct virtio_gpu_transfer_to_host_2d t = {
        .hdr.type = VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, .r = {0, 0, 64, 64}, .resource_id = id};
    assert_int_equal(vu_test_gpu_cmd(g, &t, sizeof(t)), VIRTIO_GPU_RESP_OK_NODATA);
}

static void flush(struct vgpu *g, uint32_t id, struct virtio_gpu_rect rect)
{
    struct virtio_gpu_resource_flush fl = {
        .hdr.type = VIRTIO_GPU_CMD_RESOURCE_FLUSH, .r = rect, .resource_id = id};
    assert_int_equal(vu_test_gpu_cmd(g, &fl, sizeof(fl)), VIRTIO_GPU_RESP_OK_NODATA);
}

/* A one-scanout device capped at cap bytes that hands its frames to s. */
static struct vgpu *shown_device(struct fixture *f, uint64_t cap, struct shown *s)
{
    struct vgpu_config c = {
        .num_scanouts = 1, .width = 1280, .height = 800, .max_host_bytes = cap, .virgl = true};
    g_autoptr(GError) error = NULL;
    struct vgpu *g = vgpu_create(&c, &(struct sgl_source_listener){.frame = on_frame}, s, &error);
    if (!g)
        fail_msg("vgpu_create: %s", error->message);
    vgpu_set_dev(g, f->g.dev);
    return g;
}

/* Shows resource id (64x64) on the scanout. */
static void set_scanout(struct vgpu *g, uint32_t id)
{
    struct virtio_gpu_set_scanout so = {
        .hdr.type = VIRTIO_GPU_CMD_SET_SCANOUT, .r = {0, 0, 64, 64}, .resource_id = id};
    assert_int_equal(vu_test_gpu_cmd(g, &so, sizeof(so)), VIRTIO_GPU_RESP_OK_NODATA);
}

/* How many pixels of the picture say tag, inside (or outside) rect. */
static unsigned count_tag(const struct shown *s, uint8_t tag, struct sgl_rect rect, bool inside)
{
    unsigned n = 0;
    for (uint32_t y = 0; y < 64; y++)
        for (uint32_t x = 0; x < 64; x++) {
            const uint8_t *px = s->pixels + (y * 64 + x) * 4;
            bool in =
                x >= rect.x && x < rect.x + rect.width && y >= rect.y && y < rect.y + rect.height;
            if (in == inside && px[0] == x && px[1] == y && px[2] == tag)
                n++;
        }
    return n;
}

/* A flush reads back only the rectangle the guest flushed (the rest of
 * the picture is what it was), in place; the whole scanout when it shows
 * another resource, and then only what differs from the picture before is
 * damage. */
static void test_flush_reads_back_its_rectangle(void **state)
{
    struct fixture *f = *state;
    map_ram(f);
    struct shown s = {0};
    struct vgpu *g = shown_device(f, 64u << 20, &s);
    const uint64_t a = RAM_GPA + 0x20000, b = RAM_GPA + 0x30000;
    const struct sgl_rect all = {0, 0, 64, 64}, part = {8, 16, 20, 10};
    make_shown_resource(g, 1, a);
    make_shown_resource(g, 2, b);
    paint(f, a, 0x11);
    to_host(g, 1);
    set_scanout(g, 1);
    flush(g, 1, (struct virtio_gpu_rect){0, 0, 64, 64});
    assert_int_equal(s.frames, 1);
    assert_memory_equal(&s.damage, &all, sizeof(all));
    assert_int_equal(count_tag(&s, 0x11, all, true), 64 * 64);

    /* The whole resource changes on the host, the guest flushes a part:
     * that part is read, the rest stays the picture before. */
    paint(f, a, 0x22);
    to_host(g, 1);
    flush(g, 1, (struct virtio_gpu_rect){part.x, part.y, part.width, part.height});
    assert_int_equal(s.frames, 2);
    assert_memory_equal(&s.damage, &part, sizeof(part));
    assert_int_equal(count_tag(&s, 0x22, part, true), part.width * part.height);
    assert_int_equal(count_tag(&s, 0x11, part, false), 64 * 64 - part.width * part.height);

    /* Another resource on the scanout: a small flush reads it all. */
    paint(f, b, 0x33);
    to_host(g, 2);
    set_scanout(g, 2);
    flush(g, 2, (struct virtio_gpu_rect){0, 0, 4, 4});
    assert_int_equal(s.frames, 3);
    assert_memory_equal(&s.damage, &all, sizeof(all));
    assert_int_equal(count_tag(&s, 0x33, all, true), 64 * 64);

    /* A page flip back to the first resource, which now differs from the
     * picture shown only in a block: read all, and the block's band (16
     * rows, the whole 64-pixel tile) is the damage. */
    const struct sgl_rect block = {8, 20, 20, 6}, band = {0, 16, 64, 16};
    paint(f, a, 0x33);
    paint_block(f, a, block, 0x44);
    to_host(g, 1);
    set_scanout(g, 1);
    flush(g, 1, (struct virtio_gpu_rect){0, 0, 64, 64});
    assert_int_equal(s.frames, 4);
    assert_int_equal(s.n_damage, 1);
    assert_memory_equal(&s.damage, &band, sizeof(band));
    assert_int_equal(count_tag(&s, 0x44, block, true), block.width * block.height);
    assert_int_equal(count_tag(&s, 0x33, block, false), 64 * 64 - block.width * block.height);

    /* A flip to a resource holding the same picture: nothing changed. */
    const uint64_t c3 = RAM_GPA + 0x40000;
    make_shown_resource(g, 3, c3);
    memcpy(f->g.ram + (c3 - RAM_GPA), f->g.ram + (a - RAM_GPA), 64 * 64 * 4);
    to_host(g, 3);
    set_scanout(g, 3);
    flush(g, 3, (struct virtio_gpu_rect){0, 0, 64, 64});
    assert_int_equal(s.frames, 5);
    assert_int_equal(s.n_damage, 0);
    assert_int_equal(count_tag(&s, 0x44, block, true), block.width * block.height);

    struct vgpu_stats st;
    vgpu_get_stats(g, &st);
    assert_int_equal(st.read_pixels, 4 * 64 * 64 + part.width * part.height);
    assert_int_equal(st.shown_pixels, 5 * 64 * 64);
    assert_int_equal(st.changed_pixels, 2 * 64 * 64 + part.width * part.height + 64 * 16);
    vgpu_destroy(g);
}

/* A device capped at cap bytes showing resource 1 (tag 0x11), with
 * resource 2 beside it: the same picture but for a block in rows 40..43. */
static struct vgpu *flip_device(struct fixture *f, uint64_t cap, struct shown *s)
{
    struct vgpu *g = shown_device(f, cap, s);
    const uint64_t a = RAM_GPA + 0x20000, b = RAM_GPA + 0x30000;
    make_shown_resource(g, 1, a);
    make_shown_resource(g, 2, b);
    paint(f, a, 0x11);
    paint(f, b, 0x11);
    paint_block(f, b, (struct sgl_rect){5, 40, 1, 4}, 0x22);
    to_host(g, 1);
    to_host(g, 2);
    set_scanout(g, 1);
    flush(g, 1, (struct virtio_gpu_rect){0, 0, 64, 64});
    assert_int_equal(s->frames, 1);
    return g;
}

static void flip_to_2(struct vgpu *g)
{
    set_scanout(g, 2);
    flush(g, 2, (struct virtio_gpu_rect){0, 0, 64, 64});
}

/* The buffer a flipped-to picture is compared in is host memory the guest
 * causes: charged, given back on reset. Where the cap leaves no room for
 * it, the flip is still shown, whole, all of it damage. */
static void test_flip_buffer_charged(void **state)
{
    struct fixture *f = *state;
    map_ram(f);
    const struct sgl_rect all = {0, 0, 64, 64}, band = {0, 32, 64, 16};
    struct shown s = {0};
    struct vgpu *g = flip_device(f, 64u << 20, &s);
    struct vgpu_stats st;
    vgpu_get_stats(g, &st);
    uint64_t before = st.host_bytes;
    flip_to_2(g);
    assert_int_equal(s.frames, 2);
    assert_memory_equal(&s.damage, &band, sizeof(band));
    vgpu_get_stats(g, &st);
    assert_int_equal(st.host_bytes, before + 64 * 64 * 4);
    vgpu_reset(g);
    vgpu_get_stats(g, &st);
    assert_int_equal(st.host_bytes, 0);
    vgpu_destroy(g);

    /* One byte short of room for it. */
    s = (struct shown){0};
    g = flip_device(f, before + 64 * 64 * 4 - 1, &s);
    flip_to_2(g);
    assert_int_equal(s.frames, 2);
    assert_memory_equal(&s.damage, &all, sizeof(all));
    assert_int_equal(count_tag(&s, 0x22, (struct sgl_rect){5, 40, 1, 4}, true), 4);
    vgpu_get_stats(g, &st);
    assert_int_equal(st.host_bytes, before);
    vgpu_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_negotiation_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_translation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_region_past_file_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_chains, setup, teardown),
        cmocka_unit_test(test_broken_rings),
        cmocka_unit_test_setup_teardown(test_gpu_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_reads_back_its_rectangle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flip_buffer_charged, setup, teardown),
        cmocka_unit_test(test_gpu_memory_cap),
    };
    return cmocka_run_group_tests_name("vhost-user", tests, NULL, NULL);
}
