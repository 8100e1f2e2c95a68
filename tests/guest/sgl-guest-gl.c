/* sgl-guest-gl: runs inside the test guest. Renders the deterministic marker
 * frames of common/scene.h with GLES2 on a GBM surface and shows them with
 * KMS page flips at a chosen size, rate and count. Reports on stdout (the
 * serial console) as "@@SGL <event> key=value..." lines that the host
 * harness reads:
 *
 *   gl-start width= height= fps= frames=
 *   gl-renderer renderer="..."
 *   gl-frame n= ts= at=         (with --per-frame, once a flip completed; at=
 *                               the guest's clock as the line is written)
 *   gl-result status=ok presented= first= last= late= elapsed_ms= fps=
 *   gl-hold frame= ts=          (with --hold, the frame left on screen)
 *   gl-result status=error reason="..."
 *   av-start every= ahead_ms=  (with --av-sync: the sound card plays)
 *   av-flash n= flip_us= click_us= xruns=
 *                               (with --av-sync, each Nth frame: when it was
 *                               handed to the display and when the card plays
 *                               its click, CLOCK_MONOTONIC; click_us=0: none)
 *
 * Frame numbers count presented frames from 0; the timestamp is the guest's
 * CLOCK_REALTIME in microseconds when the frame's rendering began. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES2/gl2.h>
#include <drm_fourcc.h>
#include <gbm.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "common/scene.h"
#include "tests/guest/click.h"
#include "tests/guest/cursor.h"
#include "tests/guest/input-report.h"

struct options {
    const char *device;
    uint32_t width, height; /* 0: the connector's preferred mode */
    uint32_t fps;
    uint32_t frames; /* 0: until killed */
    uint32_t hold_s;
    bool per_frame;
    bool report_input;
    bool follow_mode;  /* switch when the connector's preferred mode changes */
    bool cursor;       /* a hardware cursor that circles */
    bool second;       /* also the second connector, once connected */
    uint32_t av_every; /* --av-sync: each Nth frame comes with a click; 0: off */
};

/* How many frames ahead a click is asked for: past what the sound card has
 * been filled with (SGL_GUEST_CLICK_AHEAD_US), with a frame to spare. */
static uint32_t click_lead(uint32_t fps)
{
    return (uint32_t)((uint64_t)SGL_GUEST_CLICK_AHEAD_US * fps / 1000000u) + 2;
}

struct kms {
    int fd;
    uint32_t connector_id, crtc_id;
    drmModeModeInfo mode;
};

struct gl {
    struct gbm_device *gbm;
    struct gbm_surface *surface;
    EGLDisplay display;
    EGLContext context;
    EGLSurface egl_surface;
    GLuint program;
    GLint color_loc;
};

static void fail(const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    for (char *c = reason; *c; c++)
        if (*c == '"')
            *c = '\'';
    printf("@@SGL gl-result status=error reason=\"%s\"\n", reason);
    fflush(stdout);
}

static uint64_t now_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_until_us(uint64_t deadline_us)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_us / 1000000u),
                          .tv_nsec = (long)(deadline_us % 1000000u) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static bool parse_size(const char *s, uint32_t *w, uint32_t *h)
{
    char *end;
    unsigned long a = strtoul(s, &end, 10);
    if (*end != 'x' || a == 0 || a > 16384)
        return false;
    unsigned long b = strtoul(end + 1, &end, 10);
    if (*end != '\0' || b == 0 || b > 16384)
        return false;
    *w = (uint32_t)a;
    *h = (uint32_t)b;
    return true;
}

static bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end != '\0' || end == s || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"device", required_argument, NULL, 'd'},
        {"size", required_argument, NULL, 's'},
        {"fps", required_argument, NULL, 'r'},
        {"frames", required_argument, NULL, 'n'},
        {"hold", required_argument, NULL, 'H'},
        {"per-frame", no_argument, NULL, 'p'},
        {"report-input", no_argument, NULL, 'i'},
        {"follow-mode", no_argument, NULL, 'f'},
        {"cursor", no_argument, NULL, 'c'},
        {"second-output", no_argument, NULL, 'S'},
        {"av-sync", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct options){.device = "/dev/dri/card0", .fps = 30, .frames = 300};
    int c;
    while ((c = getopt_long(argc, argv, "d:s:r:n:H:pifcSa:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->device = optarg;
            break;
        case 's':
            if (!parse_size(optarg, &o->width, &o->height)) {
                fprintf(stderr, "sgl-guest-gl: --size wants WIDTHxHEIGHT, e.g. 1280x800\n");
                return -1;
            }
            break;
        case 'r':
            if (!parse_u32(optarg, 1000, &o->fps) || o->fps == 0) {
                fprintf(stderr, "sgl-guest-gl: --fps wants 1..1000\n");
                return -1;
            }
            break;
        case 'n':
            if (!parse_u32(optarg, UINT32_MAX, &o->frames)) {
                fprintf(stderr, "sgl-guest-gl: --frames wants a count (0 = until killed)\n");
                return -1;
            }
            break;
        case 'H':
            if (!parse_u32(optarg, 86400, &o->hold_s)) {
                fprintf(stderr, "sgl-guest-gl: --hold wants seconds\n");
                return -1;
            }
            break;
        case 'p':
            o->per_frame = true;
            break;
        case 'i':
            o->report_input = true;
            break;
        case 'f':
            o->follow_mode = true;
            break;
        case 'c':
            o->cursor = true;
            break;
        case 'S':
            o->second = true;
            break;
        case 'a':
            if (!parse_u32(optarg, 100000, &o->av_every) || o->av_every == 0) {
                fprintf(stderr, "sgl-guest-gl: --av-sync wants a frame count (each Nth frame)\n");
                return -1;
            }
            break;
        case 'h':
            printf("usage: sgl-guest-gl [--device PATH] [--size WxH] [--fps N] [--frames N]\n"
                   "                    [--hold SECONDS] [--per-frame] [--report-input]\n"
                   "                    [--follow-mode] [--cursor] [--second-output]\n"
                   "                    [--av-sync N]\n");
            return 1;
        default:
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "sgl-guest-gl: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (o->av_every && o->av_every <= click_lead(o->fps)) {
        fprintf(stderr, "sgl-guest-gl: --av-sync wants more than %u frames at %u fps\n",
                click_lead(o->fps), o->fps);
        return -1;
    }
    return 0;
}

/* A mode of the requested size: the connector's own if it lists one, else
 * the preferred mode's timings stretched to the size (virtio-gpu takes any
 * size up to its maximum). */
static void choose_mode(const drmModeConnector *conn, uint32_t w, uint32_t h, drmModeModeInfo *mode)
{
    const drmModeModeInfo *preferred = &conn->modes[0];
    for (int i = 0; i < conn->count_modes; i++) {
        if (conn->modes[i].type & DRM_MODE_TYPE_PREFERRED)
            preferred = &conn->modes[i];
        if (w && conn->modes[i].hdisplay == w && conn->modes[i].vdisplay == h) {
            *mode = conn->modes[i];
            return;
        }
    }
    *mode = *preferred;
    if (!w)
        return;
    mode->hdisplay = (uint16_t)w;
    mode->hsync_start = (uint16_t)(w + 48);
    mode->hsync_end = (uint16_t)(w + 80);
    mode->htotal = (uint16_t)(w + 160);
    mode->vdisplay = (uint16_t)h;
    mode->vsync_start = (uint16_t)(h + 3);
    mode->vsync_end = (uint16_t)(h + 9);
    mode->vtotal = (uint16_t)(h + 30);
    mode->vrefresh = 60;
    mode->clock = (uint32_t)((uint64_t)mode->htotal * mode->vtotal * 60 / 1000);
    mode->type = DRM_MODE_TYPE_USERDEF;
    snprintf(mode->name, sizeof(mode->name), "%ux%u", w, h);
}

/* Picks a connected connector (the first one, or connector index `only`
 * when >= 0), a mode of w x h (0: preferred) and a CRTC; kms->fd is open.
 * quiet: a connector that is not (yet) connected is no failure to report. */
static int kms_pick(struct kms *kms, int only, uint32_t w, uint32_t h, bool quiet)
{
    drmModeRes *res = drmModeGetResources(kms->fd);
    if (!res) {
        fail("drmModeGetResources: %s", strerror(errno));
        return -1;
    }
    int ret = -1;
    drmModeConnector *conn = NULL;
    for (int i = 0; i < res->count_connectors && !conn; i++) {
        if (only >= 0 && i != only)
            continue;
        conn = drmModeGetConnector(kms->fd, res->connectors[i]);
        if (conn && (conn->connection != DRM_MODE_CONNECTED || conn->count_modes == 0)) {
            drmModeFreeConnector(conn);
            conn = NULL;
        }
    }
    if (!conn) {
        if (!quiet)
            fail("no connected connector with modes");
        goto out;
    }
    kms->connector_id = conn->connector_id;
    choose_mode(conn, w, h, &kms->mode);

    /* The connector's current encoder's CRTC, else the first it can use. */
    kms->crtc_id = 0;
    drmModeEncoder *enc = conn->encoder_id ? drmModeGetEncoder(kms->fd, conn->encoder_id) : NULL;
    if (enc && enc->crtc_id)
        kms->crtc_id = enc->crtc_id;
    drmModeFreeEncoder(enc);
    for (int e = 0; e < conn->count_encoders && !kms->crtc_id; e++) {
        enc = drmModeGetEncoder(kms->fd, conn->encoders[e]);
        for (int c = 0; enc && c < res->count_crtcs; c++) {
            if (enc->possible_crtcs & (1u << c)) {
                kms->crtc_id = res->crtcs[c];
                break;
            }
        }
        drmModeFreeEncoder(enc);
    }
    if (!kms->crtc_id) {
        fail("no CRTC for connector %u", kms->connector_id);
        goto out;
    }
    ret = 0;
out:
    drmModeFreeConnector(conn);
    drmModeFreeResources(res);
    return ret;
}

static int kms_init(struct kms *kms, const struct options *o)
{
    kms->fd = open(o->device, O_RDWR | O_CLOEXEC);
    if (kms->fd < 0) {
        fail("open %s: %s", o->device, strerror(errno));
        return -1;
    }
    return kms_pick(kms, -1, o->width, o->height, false);
}

static GLuint compile(GLenum type, const char *src)
{
    GLuint s = glCreateShader(type);
    glShaderSource(s, 1, &src, NULL);
    glCompileShader(s);
    GLint ok = 0;
    glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
    if (!ok) {
        char log[256] = "";
        glGetShaderInfoLog(s, sizeof(log), NULL, log);
        fail("shader: %s", log);
        glDeleteShader(s);
        return 0;
    }
    return s;
}

static int gl_program_init(struct gl *gl)
{
    static const char *vs = "attribute vec2 pos;\n"
                            "void main() { gl_Position = vec4(pos, 0.0, 1.0); }\n";
    static const char *fs = "precision mediump float;\n"
                            "uniform vec4 color;\n"
                            "void main() { gl_FragColor = color; }\n";
    GLuint v = compile(GL_VERTEX_SHADER, vs), f = compile(GL_FRAGMENT_SHADER, fs);
    if (!v || !f)
        return -1;
    gl->program = glCreateProgram();
    glAttachShader(gl->program, v);
    glAttachShader(gl->program, f);
    glBindAttribLocation(gl->program, 0, "pos");
    glLinkProgram(gl->program);
    glDeleteShader(v);
    glDeleteShader(f);
    GLint ok = 0;
    glGetProgramiv(gl->program, GL_LINK_STATUS, &ok);
    if (!ok) {
        fail("shader program did not link");
        return -1;
    }
    gl->color_loc = glGetUniformLocation(gl->program, "color");
    return 0;
}

static int gl_init(struct gl *gl, const struct kms *kms)
{
    uint32_t w = kms->mode.hdisplay, h = kms->mode.vdisplay;
    gl->gbm = gbm_create_device(kms->fd);
    if (!gl->gbm) {
        fail("gbm_create_device failed");
        return -1;
    }
    gl->surface = gbm_surface_create(gl->gbm, w, h, GBM_FORMAT_XRGB8888,
                                     GBM_BO_USE_SCANOUT | GBM_BO_USE_RENDERING);
    if (!gl->surface) {
        fail("gbm_surface_create %ux%u failed", w, h);
        return -1;
    }
    gl->display = eglGetPlatformDisplay(EGL_PLATFORM_GBM_KHR, gl->gbm, NULL);
    EGLint major, minor;
    if (gl->display == EGL_NO_DISPLAY || !eglInitialize(gl->display, &major, &minor)) {
        fail("EGL initialisation failed (0x%x)", eglGetError());
        return -1;
    }
    eglBindAPI(EGL_OPENGL_ES_API);
    static const EGLint attribs[] = {EGL_SURFACE_TYPE,
                                     EGL_WINDOW_BIT,
                                     EGL_RED_SIZE,
                                     8,
                                     EGL_GREEN_SIZE,
                                     8,
                                     EGL_BLUE_SIZE,
                                     8,
                                     EGL_ALPHA_SIZE,
                                     0,
                                     EGL_RENDERABLE_TYPE,
                                     EGL_OPENGL_ES2_BIT,
                                     EGL_NONE};
    EGLConfig configs[64], config = NULL;
    EGLint count = 0;
    eglChooseConfig(gl->display, attribs, configs, 64, &count);
    for (EGLint i = 0; i < count && !config; i++) {
        EGLint id;
        if (eglGetConfigAttrib(gl->display, configs[i], EGL_NATIVE_VISUAL_ID, &id) &&
            (uint32_t)id == GBM_FORMAT_XRGB8888)
            config = configs[i];
    }
    if (!config) {
        fail("no EGL config for XRGB8888");
        return -1;
    }
    static const EGLint ctx_attribs[] = {EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE};
    gl->context = eglCreateContext(gl->display, config, EGL_NO_CONTEXT, ctx_attribs);
    gl->egl_surface = eglCreatePlatformWindowSurface(gl->display, config, gl->surface, NULL);
    if (gl->context == EGL_NO_CONTEXT || gl->egl_surface == EGL_NO_SURFACE ||
        !eglMakeCurrent(gl->display, gl->egl_surface, gl->egl_surface, gl->context)) {
        fail("EGL context or surface failed (0x%x)", eglGetError());
        return -1;
    }
    if (gl_program_init(gl) < 0)
        return -1;
    glViewport(0, 0, (GLsizei)w, (GLsizei)h);
    glEnable(GL_SCISSOR_TEST);
    glUseProgram(gl->program);
    glEnableVertexAttribArray(0);
    return 0;
}

static void gl_finish(struct gl *gl)
{
    if (gl->display != EGL_NO_DISPLAY && gl->display) {
        eglMakeCurrent(gl->display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
        if (gl->egl_surface)
            eglDestroySurface(gl->display, gl->egl_surface);
        if (gl->context)
            eglDestroyContext(gl->display, gl->context);
        eglTerminate(gl->display);
    }
    if (gl->surface)
        gbm_surface_destroy(gl->surface);
    if (gl->gbm)
        gbm_device_destroy(gl->gbm);
}

struct draw_ctx {
    const struct gl *gl;
    uint32_t width, height;
};

/* Rectangles land on whole pixels: scissored clears are exact, and the
 * shaded quad's edges sit on pixel boundaries, so coverage is exact too. */
static void draw_rect(const struct sgl_scene_rect *r, void *user)
{
    const struct draw_ctx *d = user;
    GLint y = (GLint)(d->height - r->y - r->h);
    glScissor((GLint)r->x, y, (GLsizei)r->w, (GLsizei)r->h);
    if (r->kind == SGL_SCENE_FILL) {
        glClearColor(r->r / 255.0f, r->g / 255.0f, r->b / 255.0f, 1.0f);
        glClear(GL_COLOR_BUFFER_BIT);
        return;
    }
    float x0 = 2.0f * r->x / d->width - 1.0f, x1 = 2.0f * (r->x + r->w) / d->width - 1.0f;
    float y0 = 1.0f - 2.0f * r->y / d->height, y1 = 1.0f - 2.0f * (r->y + r->h) / d->height;
    const GLfloat quad[] = {x0, y0, x1, y0, x0, y1, x1, y1};
    glUniform4f(d->gl->color_loc, r->r / 255.0f, r->g / 255.0f, r->b / 255.0f, 1.0f);
    glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 0, quad);
    glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
}

static void fb_destroy(struct gbm_bo *bo, void *data)
{
    int fd = gbm_device_get_fd(gbm_bo_get_device(bo));
    uint32_t fb = (uint32_t)(uintptr_t)data;
    drmModeRmFB(fd, fb);
}

static uint32_t fb_for_bo(int fd, struct gbm_bo *bo)
{
    uint32_t fb = (uint32_t)(uintptr_t)gbm_bo_get_user_data(bo);
    if (fb)
        return fb;
    uint32_t handles[4] = {gbm_bo_get_handle(bo).u32}, strides[4] = {gbm_bo_get_stride(bo)};
    uint32_t offsets[4] = {0};
    if (drmModeAddFB2(fd, gbm_bo_get_width(bo), gbm_bo_get_height(bo), GBM_FORMAT_XRGB8888, handles,
                      strides, offsets, &fb, 0) != 0) {
        fail("drmModeAddFB2: %s", strerror(errno));
        return 0;
    }
    gbm_bo_set_user_data(bo, (void *)(uintptr_t)fb, fb_destroy);
    return fb;
}

static void flip_done(int fd, unsigned seq, unsigned sec, unsigned usec, void *data)
{
    *(bool *)data = false;
}

/* Queues a flip to fb and waits for it to complete. */
static int flip(const struct kms *kms, uint32_t fb)
{
    int fd = kms->fd;
    bool pending = true;
    if (drmModePageFlip(fd, kms->crtc_id, fb, DRM_MODE_PAGE_FLIP_EVENT, &pending)) {
        fail("drmModePageFlip: %s", strerror(errno));
        return -1;
    }
    drmEventContext ev = {.version = 2, .page_flip_handler = flip_done};
    while (pending) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, 5000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fail("page flip did not complete within 5 s");
            return -1;
        }
        drmHandleEvent(fd, &ev);
    }
    return 0;
}

/* The second output (--second-output): connector 1, on the same DRM fd
 * (one process is the DRM master), its own GBM/EGL surface, the same scene
 * at its own size. */
struct output {
    struct kms kms;
    struct gl gl;
    struct gbm_bo *shown;
    bool on;
};

/* Starts it once connector 1 is connected; the main output's context is
 * current again afterwards. */
static int second_try_start(struct output *out, const struct kms *main_kms,
                            const struct gl *main_gl)
{
    out->kms = (struct kms){.fd = main_kms->fd};
    if (kms_pick(&out->kms, 1, 0, 0, true) < 0)
        return 0; /* not yet */
    if (gl_init(&out->gl, &out->kms) < 0)
        return -1;
    out->on = true;
    printf("@@SGL gl2-start width=%u height=%u\n", out->kms.mode.hdisplay, out->kms.mode.vdisplay);
    eglMakeCurrent(main_gl->display, main_gl->egl_surface, main_gl->egl_surface, main_gl->context);
    return 0;
}

static int second_frame(struct output *out, const struct gl *main_gl, const struct sgl_marker *m)
{
    uint32_t w = out->kms.mode.hdisplay, h = out->kms.mode.vdisplay;
    eglMakeCurrent(out->gl.display, out->gl.egl_surface, out->gl.egl_surface, out->gl.context);
    struct draw_ctx draw = {.gl = &out->gl, .width = w, .height = h};
    sgl_scene_for_each(w, h, m, draw_rect, &draw);
    int ret = -1;
    if (!eglSwapBuffers(out->gl.display, out->gl.egl_surface)) {
        fail("second output: eglSwapBuffers failed (0x%x)", eglGetError());
        goto out;
    }
    struct gbm_bo *bo = gbm_surface_lock_front_buffer(out->gl.surface);
    uint32_t fb = bo ? fb_for_bo(out->kms.fd, bo) : 0;
    if (!fb) {
        fail("second output: no framebuffer");
        goto out;
    }
    if (!out->shown) {
        if (drmModeSetCrtc(out->kms.fd, out->kms.crtc_id, fb, 0, 0, &out->kms.connector_id, 1,
                           &out->kms.mode)) {
            fail("second output: drmModeSetCrtc %ux%u: %s", w, h, strerror(errno));
            goto out;
        }
    } else {
        if (flip(&out->kms, fb) < 0)
            goto out;
        gbm_surface_release_buffer(out->gl.surface, out->shown);
    }
    out->shown = bo;
    ret = 0;
out:
    eglMakeCurrent(main_gl->display, main_gl->egl_surface, main_gl->egl_surface, main_gl->context);
    return ret;
}

/* The connector's preferred mode now (a display change re-probes it). */
static bool preferred_mode(const struct kms *kms, drmModeModeInfo *mode)
{
    drmModeConnector *conn = drmModeGetConnector(kms->fd, kms->connector_id);
    bool ok = conn && conn->connection == DRM_MODE_CONNECTED && conn->count_modes > 0;
    if (ok)
        choose_mode(conn, 0, 0, mode);
    drmModeFreeConnector(conn);
    return ok;
}

int main(int argc, char **argv)
{
    struct options o;
    int r = parse_options(argc, argv, &o);
    if (r != 0)
        return r < 0 ? 2 : 0;
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct kms kms = {.fd = -1};
    struct gl gl = {0};
    struct gbm_bo *shown = NULL;
    struct sgl_input_report input = {0};
    struct sgl_guest_cursor cursor = {0};
    struct output second = {0};
    struct sgl_guest_click click = {0};
    int status = 1;
    if (kms_init(&kms, &o) < 0 || gl_init(&gl, &kms) < 0)
        goto out;

    uint32_t w = kms.mode.hdisplay, h = kms.mode.vdisplay;
    printf("@@SGL gl-start width=%u height=%u fps=%u frames=%u\n", w, h, o.fps, o.frames);
    printf("@@SGL gl-renderer renderer=\"%s\"\n", (const char *)glGetString(GL_RENDERER));

    if (o.report_input)
        sgl_input_report_open(&input);
    if (o.av_every) {
        if (sgl_guest_click_init(&click, "plughw:0,0") < 0) {
            fail("no sound card to click on for --av-sync");
            goto out;
        }
        printf("@@SGL av-start every=%u ahead_ms=%u\n", o.av_every,
               SGL_GUEST_CLICK_AHEAD_US / 1000u);
    }
    /* --av-sync: how long after its due time a frame goes to the display
     * (a moving average), the frame whose click is asked for, the one
     * whose click the card plays and when. */
    uint64_t flip_lag_us = 0, clicked_us = 0;
    uint32_t click_frame = 0, clicked_frame = 0;
    const uint64_t period = 1000000u / o.fps;
    uint64_t start = now_us(CLOCK_MONOTONIC), next = start;
    uint32_t presented = 0, late = 0;
    struct sgl_marker marker = {0};
    struct draw_ctx draw = {.gl = &gl, .width = w, .height = h};
    for (uint32_t n = 0; o.frames == 0 || n < o.frames; n++) {
        uint64_t t = now_us(CLOCK_MONOTONIC);
        if (t < next) {
            sleep_until_us(next);
        } else if (t > next + period) {
            /* Behind by more than a frame: count it and re-anchor rather
             * than burst to catch up. */
            late++;
            next = t;
        }
        const uint64_t due = next;
        next += period;
        if (o.av_every) {
            uint32_t lead = click_lead(o.fps);
            if ((n + lead) % o.av_every == 0) {
                click_frame = n + lead;
                sgl_guest_click_at(&click, due + lead * period + flip_lag_us);
            }
            if (sgl_guest_click_pump(&click)) {
                clicked_frame = click_frame;
                clicked_us = click.clicked_us;
            }
        }

        drmModeModeInfo next_mode;
        if (o.follow_mode && n % (o.fps / 2 + 1) == 0 && preferred_mode(&kms, &next_mode) &&
            (next_mode.hdisplay != w || next_mode.vdisplay != h)) {
            /* A new size: new buffers, and a modeset with the next frame. */
            if (shown)
                gbm_surface_release_buffer(gl.surface, shown);
            shown = NULL;
            gl_finish(&gl);
            gl = (struct gl){0};
            kms.mode = next_mode;
            if (gl_init(&gl, &kms) < 0)
                goto out;
            w = draw.width = kms.mode.hdisplay;
            h = draw.height = kms.mode.vdisplay;
            printf("@@SGL gl-mode width=%u height=%u frame=%u\n", w, h, n);
        }
        marker = (struct sgl_marker){.frame = n, .timestamp_us = now_us(CLOCK_REALTIME)};
        sgl_scene_for_each(w, h, &marker, draw_rect, &draw);
        if (!eglSwapBuffers(gl.display, gl.egl_surface)) {
            fail("eglSwapBuffers failed (0x%x)", eglGetError());
            goto out;
        }
        struct gbm_bo *bo = gbm_surface_lock_front_buffer(gl.surface);
        uint32_t fb = bo ? fb_for_bo(kms.fd, bo) : 0;
        if (!fb) {
            fail("no framebuffer for frame %u", n);
            goto out;
        }
        const uint64_t flip_at = now_us(CLOCK_MONOTONIC);
        if (!shown) {
            if (drmModeSetCrtc(kms.fd, kms.crtc_id, fb, 0, 0, &kms.connector_id, 1, &kms.mode)) {
                fail("drmModeSetCrtc %ux%u: %s", w, h, strerror(errno));
                goto out;
            }
        } else {
            if (flip(&kms, fb) < 0)
                goto out;
            gbm_surface_release_buffer(gl.surface, shown);
        }
        if (!shown && o.cursor && !cursor.handle)
            sgl_guest_cursor_init(&cursor, kms.fd, kms.crtc_id); /* once the CRTC is set */
        sgl_guest_cursor_move(&cursor, (int)(w / 2 + (w / 4) * cos(n * 0.1)),
                              (int)(h / 2 + (h / 4) * sin(n * 0.1)));
        shown = bo;
        if (o.av_every) {
            flip_lag_us = (7 * flip_lag_us + (flip_at - due)) / 8;
            if (n && n % o.av_every == 0)
                printf("@@SGL av-flash n=%u flip_us=%" PRIu64 " click_us=%" PRIu64 " xruns=%u\n", n,
                       flip_at, clicked_frame == n ? clicked_us : 0, click.xruns);
            if (sgl_guest_click_pump(&click)) {
                clicked_frame = click_frame;
                clicked_us = click.clicked_us;
            }
        }
        if (o.second && !second.on && n % (o.fps / 2 + 1) == 0 &&
            second_try_start(&second, &kms, &gl) < 0)
            goto out;
        if (second.on && second_frame(&second, &gl, &marker) < 0)
            goto out;
        presented++;
        if (o.per_frame)
            printf("@@SGL gl-frame n=%u ts=%" PRIu64 " at=%" PRIu64 "\n", n, marker.timestamp_us,
                   now_us(CLOCK_REALTIME));
        sgl_input_report_poll(&input);
    }
    uint64_t elapsed = now_us(CLOCK_MONOTONIC) - start;
    printf("@@SGL gl-result status=ok presented=%u first=0 last=%u late=%u elapsed_ms=%" PRIu64
           " fps=%.2f\n",
           presented, presented ? presented - 1 : 0, late, elapsed / 1000,
           elapsed ? presented * 1e6 / (double)elapsed : 0.0);
    if (o.hold_s && presented) {
        printf("@@SGL gl-hold frame=%u ts=%" PRIu64 "\n", marker.frame, marker.timestamp_us);
        sleep(o.hold_s);
    }
    status = 0;
out:
    if (second.on)
        gl_finish(&second.gl);
    sgl_guest_cursor_finish(&cursor);
    sgl_guest_click_finish(&click);
    sgl_input_report_close(&input);
    gl_finish(&gl);
    if (kms.fd >= 0)
        close(kms.fd);
    return status;
}
