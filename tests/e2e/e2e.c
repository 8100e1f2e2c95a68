#include "config.h"

#include "e2e.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gio/gio.h>
#include <signal.h>
#include <sys/wait.h>

#include "tests/test-util.h"

static gboolean qemu_usable(char **problem)
{
    const char *qemu = g_getenv("QEMU");
    if (!qemu || !*qemu)
        qemu = "qemu-system-x86_64";
    g_autofree char *out = NULL;
    const char *argv[] = {qemu, "--version", NULL};
    int status;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, &status, NULL) ||
        !g_spawn_check_wait_status(status, NULL)) {
        *problem = g_strdup_printf("%s does not run: run scripts/setup as root", qemu);
        return FALSE;
    }
    unsigned major = 0;
    const char *v = strstr(out, "version ");
    if (!v || sscanf(v, "version %u.", &major) != 1 || major < 10) {
        *problem = g_strdup_printf("%s is older than 10.0: run scripts/setup as root", qemu);
        return FALSE;
    }
    return TRUE;
}

static int group_setup(void **state, const char *profile)
{
    sgl_test_heavy_lock();
    struct sgl_e2e *e = g_new0(struct sgl_e2e, 1);
    const char *srcdir = g_getenv("SGL_SRCDIR"), *builddir = g_getenv("SGL_BUILDDIR");
    e->builddir = builddir ? builddir : ".";
    g_autoptr(GError) error = NULL;
    if (!srcdir || !builddir)
        e->problem = g_strdup("SGL_SRCDIR/SGL_BUILDDIR unset: run through make check");
    else if (qemu_usable(&e->problem) &&
             !sgl_guest_image_init(&e->image, srcdir, builddir, profile, &error))
        e->problem = g_strdup_printf("no test guest: %s", error->message);
    *state = e;
    return 0;
}

int sgl_e2e_group_setup(void **state)
{
    return group_setup(state, "base");
}

int sgl_e2e_group_setup_desktop(void **state)
{
    return group_setup(state, "desktop");
}

int sgl_e2e_group_teardown(void **state)
{
    struct sgl_e2e *e = *state;
    /* A guest that tests share, left running when the last of them did
     * not run (filtered out). */
    sgl_e2e_test_teardown(state);
    sgl_guest_image_finish(&e->image);
    g_free(e->problem);
    g_free(e);
    return 0;
}

int sgl_e2e_test_teardown(void **state)
{
    struct sgl_e2e *e = *state;
    g_clear_pointer(&e->vm, sgl_vm_destroy);
    if (e->helper && e->helper_free)
        e->helper_free(e->helper);
    e->helper = NULL;
    return 0;
}

struct sgl_vm *sgl_e2e_boot(struct sgl_e2e *e, const char *name, struct sgl_vm_config *config)
{
    SGL_REQUIRE(e->problem == NULL, "%s", e->problem);
    g_autofree char *log = g_strdup_printf("%s/tests/e2e/%s.console.log", e->builddir, name);
    config->kernel = e->image.kernel;
    config->initrd = e->image.initrd;
    config->log_path = log;
    g_autoptr(GError) error = NULL;
    e->vm = sgl_vm_create(config, &error);
    if (!e->vm)
        fail_msg("QEMU did not start: %s", error->message);
    print_message("# %s: console log %s\n", name, log);
    return e->vm;
}

const struct sgl_console_event *sgl_e2e_expect(struct sgl_vm *vm, const char *name, int timeout_ms)
{
    g_autoptr(GError) error = NULL;
    const struct sgl_console_event *ev = sgl_vm_wait(vm, name, timeout_ms, &error);
    if (!ev)
        fail_msg("%s", error->message);
    return ev;
}

guint64 sgl_e2e_expect_uint(const struct sgl_console_event *ev, const char *key)
{
    guint64 v = 0;
    if (!sgl_console_event_get_uint(ev, key, &v))
        fail_msg("'%s' has no number %s: %s", ev->name, key, ev->line);
    return v;
}

void sgl_e2e_expect_field(const struct sgl_console_event *ev, const char *key, const char *want)
{
    const char *got = sgl_console_event_get(ev, key);
    if (!got || !g_str_equal(got, want))
        fail_msg("'%s' wants %s=%s: %s", ev->name, key, want, ev->line);
}

void sgl_e2e_expect_contains(const struct sgl_console_event *ev, const char *key, const char *want)
{
    const char *got = sgl_console_event_get(ev, key);
    if (!got || !strstr(got, want))
        fail_msg("'%s' wants %s containing '%s': %s", ev->name, key, want, ev->line);
}

void sgl_e2e_expect_clean_exit(struct sgl_vm *vm)
{
    int status = -1;
    g_autoptr(GError) error = NULL;
    if (!sgl_vm_wait_exit(vm, SGL_E2E_EXIT_MS, &status, &error))
        fail_msg("%s", error->message);
    assert_int_equal(status, 0);
}

static GPtrArray *probe_argv(const char *builddir, const char *const *args)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_build_filename(builddir, "client-test", "spicegl-probe", NULL));
    g_ptr_array_add(argv, g_strdup("--json"));
    for (const char *const *a = args; *a; a++)
        g_ptr_array_add(argv, g_strdup(*a));
    g_ptr_array_add(argv, NULL);
    return argv;
}

static JsonObject *probe_parse(const char *out, JsonParser **parser)
{
    g_autoptr(GError) error = NULL;
    sgl_test_diagnostic("probe", out);
    *parser = json_parser_new();
    if (!json_parser_load_from_data(*parser, out, -1, &error))
        fail_msg("no JSON from the probe (%s): %s", error->message, out);
    return json_node_get_object(json_parser_get_root(*parser));
}

JsonObject *sgl_e2e_probe(const char *builddir, const char *const *args, int *status,
                          JsonParser **parser)
{
    g_autoptr(GPtrArray) argv = probe_argv(builddir, args);
    g_autofree char *out = NULL;
    g_autoptr(GError) error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                      status, &error))
        fail_msg("spicegl-probe: %s", error->message);
    *status = WIFEXITED(*status) ? WEXITSTATUS(*status) : 128;
    return probe_parse(out, parser);
}

GSubprocess *sgl_e2e_probe_spawn(const char *builddir, const char *const *args)
{
    g_autoptr(GPtrArray) argv = probe_argv(builddir, args);
    g_autoptr(GError) error = NULL;
    GSubprocess *probe =
        g_subprocess_newv((const char *const *)argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
    if (!probe)
        fail_msg("spicegl-probe: %s", error->message);
    return probe;
}

JsonObject *sgl_e2e_probe_stop(GSubprocess *probe, JsonParser **parser)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    /* Unreaped until the wait below: the signal reaches the probe, or
     * nothing if it had ended on its own (its JSON says "stopped": false). */
    g_subprocess_send_signal(probe, SIGUSR1);
    if (!g_subprocess_communicate_utf8(probe, NULL, NULL, &out, NULL, &error))
        fail_msg("spicegl-probe: %s", error->message);
    JsonObject *o = probe_parse(out ? out : "", parser);
    if (!g_subprocess_get_if_exited(probe) || g_subprocess_get_exit_status(probe) != 0)
        fail_msg("spicegl-probe failed (wait status %d)", g_subprocess_get_status(probe));
    return o;
}
