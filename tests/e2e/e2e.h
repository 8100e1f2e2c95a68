/* What the end-to-end tests share: the test guest image and QEMU checks
 * (group setup), booting, waiting for the guest's console reports, and
 * running spicegl-probe. Failures go through cmocka (fail_msg). */
#ifndef SGL_E2E_H
#define SGL_E2E_H

#include <gio/gio.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "tests/harness/guest-image.h"
#include "tests/harness/vm.h"

#define SGL_E2E_BOOT_MS 60000
#define SGL_E2E_EXIT_MS 30000

struct sgl_e2e {
    struct sgl_guest_image image;
    char *problem; /* why the end-to-end tests cannot run here, or NULL */
    const char *builddir;
    struct sgl_vm *vm;
    /* A process the test started beside QEMU (spicegl-gpu): the per-test
     * teardown frees it after the VM, also when the test failed. */
    void *helper;
    void (*helper_free)(void *helper);
};

/* cmocka group setup/teardown (state: struct sgl_e2e *) and a per-test
 * teardown that stops the VM. The desktop setup takes the guest image's
 * desktop profile (tests/guest/build-guest --profile desktop). */
int sgl_e2e_group_setup(void **state);
int sgl_e2e_group_setup_desktop(void **state);
int sgl_e2e_group_teardown(void **state);
int sgl_e2e_test_teardown(void **state);

/* Boots the guest (skips, or fails under CI, when it cannot run here);
 * the console goes to tests/e2e/NAME.console.log. */
struct sgl_vm *sgl_e2e_boot(struct sgl_e2e *e, const char *name, struct sgl_vm_config *config);

const struct sgl_console_event *sgl_e2e_expect(struct sgl_vm *vm, const char *name, int timeout_ms);
guint64 sgl_e2e_expect_uint(const struct sgl_console_event *ev, const char *key);
void sgl_e2e_expect_field(const struct sgl_console_event *ev, const char *key, const char *want);
void sgl_e2e_expect_contains(const struct sgl_console_event *ev, const char *key, const char *want);
void sgl_e2e_expect_clean_exit(struct sgl_vm *vm);

/* Runs spicegl-probe --json with args (NULL-terminated) and returns its
 * object (owned by *parser); *status is its exit status. */
JsonObject *sgl_e2e_probe(const char *builddir, const char *const *args, int *status,
                          JsonParser **parser);
/* The same probe left running while the test waits for something else
 * (give it a --seconds longer than the wait); the caller owns it and ends
 * it with sgl_e2e_probe_stop, which sends SIGUSR1 (the probe's window ends
 * there), waits, requires exit 0 and returns its object. "stopped" in it
 * is true only if the probe was still running then. */
GSubprocess *sgl_e2e_probe_spawn(const char *builddir, const char *const *args);
JsonObject *sgl_e2e_probe_stop(GSubprocess *probe, JsonParser **parser);

#endif
