/* spicegl-gpu in the end-to-end tests: started beside QEMU (its log in
 * tests/e2e/NAME.daemon.log), the guest booted on it, and spicegl-probe
 * watching it. The daemon is the test's helper (struct sgl_e2e): the
 * per-test teardown stops it after QEMU, also when the test failed. */
#ifndef SGL_E2E_DAEMON_H
#define SGL_E2E_DAEMON_H

#include <stdbool.h>

#include "tests/e2e/e2e.h"

struct sgl_e2e_daemon {
    GSubprocess *proc;
    char *dir, *socket, *log, *qmp;
    guint16 port;
    GSubprocess *bus;   /* options.bus: the VM's message bus (dbus-daemon) */
    char *bus_address;  /* and its address; NULL without one */
    bool sound;         /* options.sound */
    bool no_tablet;     /* its VM gets no tablet (options) */
    unsigned usb_redir; /* its VM's usb-redir devices (options) */
};

struct sgl_e2e_daemon_options {
    bool qmp;                   /* send input to QEMU's QMP at dir/qmp.sock */
    bool bus;                   /* or: a message bus for QEMU's display, as libvirt makes */
    const char *user;           /* --user */
    bool no_sandbox;            /* --sandbox off */
    bool measured_memory;       /* instrumented: ASan's quarantine kept small (its RSS is read) */
    const char *const *wrapper; /* run under this (valgrind ...), NULL-terminated */
    int start_timeout_ms;       /* 0: 30 s */
    const char *const *args;    /* more spicegl-gpu options, NULL-terminated */
    bool sound;                 /* the VM it boots has a sound card on QEMU's D-Bus audio */
    bool no_tablet;             /* the VM it serves has no tablet: server mouse mode */
    unsigned usb_redir;         /* --usb-redir N, and the VM it boots has N usb-redir devices */
};

/* The guest's GL frame rate in these tests: halved under sanitizers, where
 * the daemon and probe take twice the CPU per frame on the same 2 cores. */
unsigned sgl_e2e_guest_fps(void);

struct sgl_e2e_daemon *sgl_e2e_daemon_start(struct sgl_e2e *e, const char *name,
                                            const struct sgl_e2e_daemon_options *options);
char *sgl_e2e_daemon_log(const struct sgl_e2e_daemon *d);
gboolean sgl_e2e_daemon_log_wait(const struct sgl_e2e_daemon *d, const char *text, int timeout_ms);
/* How many times log (one read of it) says text. */
unsigned sgl_e2e_log_count(const char *log, const char *text);
/* How many times the log says text; whether it says it n times within
 * timeout_ms. */
unsigned sgl_e2e_daemon_log_count(const struct sgl_e2e_daemon *d, const char *text);
gboolean sgl_e2e_daemon_log_wait_count(const struct sgl_e2e_daemon *d, const char *text, unsigned n,
                                       int timeout_ms);
/* Waits for the daemon to exit by itself: its exit status, 128+signal, or -1. */
int sgl_e2e_daemon_wait(struct sgl_e2e_daemon *d, int timeout_ms);
/* Its pid, or 0 once it has exited. */
int sgl_e2e_daemon_pid(const struct sgl_e2e_daemon *d);
/* The log shows no rejected guest command and no call the sandbox denied. */
void sgl_e2e_daemon_expect_clean_log(const struct sgl_e2e_daemon *d);

/* Boots the guest on the daemon at 1280x800 with guest_args and the test
 * rate; qmp: QEMU's QMP socket there (and system_reset allowed). */
struct sgl_vm *sgl_e2e_daemon_boot(struct sgl_e2e *e, const struct sgl_e2e_daemon *d,
                                   const char *name, const char *guest_args, const char *qmp);

/* spicegl-probe on the daemon's TCP port for seconds, with extra options
 * (NULL-terminated); it must exit 0. JSON owned by *parser. */
JsonObject *sgl_e2e_probe_run(const struct sgl_e2e *e, const struct sgl_e2e_daemon *d, int seconds,
                              const char *const *extra, JsonParser **parser);
/* The same, left running (sgl_e2e_probe_spawn): the caller ends it with
 * sgl_e2e_probe_stop. */
GSubprocess *sgl_e2e_probe_spawn_on(const struct sgl_e2e *e, const struct sgl_e2e_daemon *d,
                                    int seconds, const char *const *extra);

/* The guest's frames on SPICE display `display` for a few seconds: most of
 * what the guest presented, with no gap over SGL_E2E_MAX_GAP_MS and the last
 * one recent when the window ends, its exact pictures (PSNR, on every 4th
 * frame, near what the stream delivers: 47 dB on average, the worst picture
 * over SGL_E2E_MIN_PSNR), at width x height. */
#define SGL_E2E_MAX_GAP_MS 500.0
/* A new client's first picture: connecting, the stream's first access unit
 * (a key frame, asked for on connect) and the decoder starting; about
 * 600 ms. A test may connect as the guest starts drawing, when its first
 * frames wait for the host to compile their shaders: the bound allows that. */
#define SGL_E2E_FIRST_PICTURE_MS 5000.0
#define SGL_E2E_MIN_PSNR         38.0
JsonObject *sgl_e2e_expect_guest_frames_on(const struct sgl_e2e *e, const struct sgl_e2e_daemon *d,
                                           int seconds, const char *display, int width, int height,
                                           JsonParser **parser);
/* The same with the worst picture's PSNR over min_psnr. */
JsonObject *sgl_e2e_expect_guest_frames_psnr(const struct sgl_e2e *e,
                                             const struct sgl_e2e_daemon *d, int seconds,
                                             const char *display, int width, int height,
                                             double min_psnr, JsonParser **parser);

/* A number in the probe's JSON (fails the test when missing or null). */
double sgl_e2e_num(JsonObject *o, const char *key);

#endif
