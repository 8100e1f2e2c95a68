#include "config.h"

#include "vm.h"

#include <errno.h>
#include <gio/gio.h>
#include <signal.h>
#include <stdio.h>

#include "tools/qemu-command.h"

#define TAIL_LINES 25

struct sgl_vm {
    GSubprocess *qemu;
    GThread *reader;
    GMutex lock;
    GCond changed;
    GPtrArray *events; /* struct sgl_console_event *, in arrival order */
    guint next;        /* index after the last event sgl_vm_wait returned */
    GQueue tail;       /* last console lines, char * */
    gboolean console_closed;
    FILE *log;
    gboolean log_times;
    gboolean echo;
    gint64 started_us;
};

static void log_line(struct sgl_vm *vm, const char *prefix, const char *line)
{
    if (vm->log) {
        if (vm->log_times)
            fprintf(vm->log, "[%.6f] ", g_get_real_time() / 1e6);
        fprintf(vm->log, "%s%s\n", prefix, line);
        fflush(vm->log);
    }
}

static gpointer read_console(gpointer data)
{
    struct sgl_vm *vm = data;
    GInputStream *out = g_subprocess_get_stdout_pipe(vm->qemu);
    g_autoptr(GDataInputStream) in = g_data_input_stream_new(out);
    g_data_input_stream_set_newline_type(in, G_DATA_STREAM_NEWLINE_TYPE_ANY);
    for (;;) {
        g_autofree char *line = g_data_input_stream_read_line_utf8(in, NULL, NULL, NULL);
        if (!line) {
            /* Not UTF-8 or end of stream: a stray byte must not end reading. */
            if (g_input_stream_is_closed(G_INPUT_STREAM(in)))
                break;
            line = g_data_input_stream_read_line(in, NULL, NULL, NULL);
            if (!line)
                break;
        }
        g_strchomp(line);
        if (vm->echo) {
            printf("%s\n", line);
            fflush(stdout);
        }
        log_line(vm, "", line);
        struct sgl_console_event *ev = sgl_console_event_parse(line);
        g_mutex_lock(&vm->lock);
        if (ev)
            g_ptr_array_add(vm->events, ev);
        g_queue_push_tail(&vm->tail, g_strdup(line));
        if (g_queue_get_length(&vm->tail) > TAIL_LINES)
            g_free(g_queue_pop_head(&vm->tail));
        g_cond_broadcast(&vm->changed);
        g_mutex_unlock(&vm->lock);
    }
    g_mutex_lock(&vm->lock);
    vm->console_closed = TRUE;
    g_cond_broadcast(&vm->changed);
    g_mutex_unlock(&vm->lock);
    return NULL;
}

#define add spicegl_vm_add_arg

static GPtrArray *qemu_argv(const struct sgl_vm_config *c)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    const char *qemu = c->qemu ? c->qemu : g_getenv("QEMU");
    add(argv, "%s", qemu && *qemu ? qemu : "qemu-system-x86_64");
    /* TCG always: on the machines the tests run on, KVM guests hang. */
    add(argv, "-accel");
    add(argv, "tcg");
    add(argv, "-nodefaults");
    if (!c->allow_reset)
        add(argv, "-no-reboot");
    add(argv, "-m");
    add(argv, "%u", c->memory_mb ? c->memory_mb : 2048);
    add(argv, "-smp");
    add(argv, "%u", c->smp ? c->smp : 2);
    add(argv, "-kernel");
    add(argv, "%s", c->kernel);
    add(argv, "-initrd");
    add(argv, "%s", c->initrd);
    add(argv, "-append");
    add(argv, "console=ttyS0 quiet panic=-1 %s", c->guest_args ? c->guest_args : "");
    add(argv, "-serial");
    add(argv, "stdio");
    add(argv, "-monitor");
    add(argv, "none");
    if (c->gpu == SGL_VM_GPU_STOCK_VIRGL) {
        add(argv, "-device");
        if (c->xres && c->yres)
            add(argv, "virtio-vga-gl,xres=%u,yres=%u", c->xres, c->yres);
        else
            add(argv, "virtio-vga-gl");
        /* egl-headless renders with Mesa (llvmpipe here); no render node. */
        add(argv, "-display");
        add(argv, "egl-headless,rendernode=/dev/null");
    }
    if (c->gpu == SGL_VM_GPU_VHOST_USER)
        spicegl_vm_add_gpu_args(argv, NULL, c->memory_mb ? c->memory_mb : 2048, c->gpu_socket,
                                c->xres, c->yres, c->display_bus, c->sound, !c->no_tablet,
                                c->usb_redir);
    if (c->qmp_socket) {
        add(argv, "-qmp");
        add(argv, "unix:%s,server=on,wait=off", c->qmp_socket);
    }
    if (c->vnc_port) {
        add(argv, "-vnc");
        add(argv, "127.0.0.1:%u", c->vnc_port - 5900);
    }
    if (c->spice_port) {
        add(argv, "-spice");
        if (c->spice_streaming)
            add(argv, "port=%u,addr=127.0.0.1,disable-ticketing=on,streaming-video=%s",
                c->spice_port, c->spice_streaming);
        else
            add(argv, "port=%u,addr=127.0.0.1,disable-ticketing=on", c->spice_port);
    }
    for (const char *const *e = c->extra_args; e && *e; e++)
        add(argv, "%s", *e);
    g_ptr_array_add(argv, NULL);
    return argv;
}

struct sgl_vm *sgl_vm_create(const struct sgl_vm_config *config, GError **error)
{
    g_return_val_if_fail(config && config->kernel && config->initrd, NULL);
    g_autoptr(GPtrArray) argv = NULL;
    g_autoptr(GSubprocessLauncher) launcher = NULL;
    g_autofree char *cmdline = NULL;
    struct sgl_vm *vm = g_new0(struct sgl_vm, 1);
    g_mutex_init(&vm->lock);
    g_cond_init(&vm->changed);
    g_queue_init(&vm->tail);
    vm->events = g_ptr_array_new_with_free_func((GDestroyNotify)sgl_console_event_destroy);
    vm->echo = config->echo;
    vm->log_times = config->log_times;
    if (config->log_path) {
        vm->log = fopen(config->log_path, "w");
        if (!vm->log) {
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot write %s",
                        config->log_path);
            goto fail;
        }
    }

    argv = qemu_argv(config);
    cmdline = g_strjoinv(" ", (char **)argv->pdata);
    log_line(vm, "# ", cmdline);

    launcher = g_subprocess_launcher_new(
        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
        (vm->log ? G_SUBPROCESS_FLAGS_STDERR_MERGE : G_SUBPROCESS_FLAGS_STDERR_SILENCE));
    vm->started_us = g_get_monotonic_time();
    vm->qemu = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, error);
    if (!vm->qemu)
        goto fail;
    vm->reader = g_thread_new("vm-console", read_console, vm);
    return vm;
fail:
    sgl_vm_destroy(vm);
    return NULL;
}

void sgl_vm_destroy(struct sgl_vm *vm)
{
    if (!vm)
        return;
    if (vm->qemu) {
        if (g_subprocess_get_identifier(vm->qemu)) { /* still running */
            g_subprocess_send_signal(vm->qemu, SIGTERM);
            gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
            /* GLib reaps the child on its worker thread; poll for that. */
            while (g_subprocess_get_identifier(vm->qemu) && g_get_monotonic_time() < deadline)
                g_usleep(50 * 1000);
            if (g_subprocess_get_identifier(vm->qemu))
                g_subprocess_force_exit(vm->qemu);
        }
        g_subprocess_wait(vm->qemu, NULL, NULL);
    }
    if (vm->reader)
        g_thread_join(vm->reader);
    g_clear_object(&vm->qemu);
    g_ptr_array_unref(vm->events);
    g_queue_clear_full(&vm->tail, g_free);
    if (vm->log)
        fclose(vm->log);
    g_mutex_clear(&vm->lock);
    g_cond_clear(&vm->changed);
    g_free(vm);
}

/* Caller holds the lock. */
static char *tail_text(struct sgl_vm *vm)
{
    GString *s = g_string_new(NULL);
    for (GList *l = vm->tail.head; l; l = l->next)
        g_string_append_printf(s, "\n  | %s", (const char *)l->data);
    return g_string_free(s, FALSE);
}

/* The console closed: how QEMU ended (it may take a moment to be reaped). */
static char *qemu_exit_text(struct sgl_vm *vm)
{
    for (int i = 0; i < 200 && g_subprocess_get_identifier(vm->qemu); i++)
        g_usleep(10 * 1000);
    if (g_subprocess_get_identifier(vm->qemu))
        return g_strdup("before its console closed (QEMU still runs)");
    if (g_subprocess_get_if_signaled(vm->qemu))
        return g_strdup_printf("before QEMU was killed by signal %d",
                               g_subprocess_get_term_sig(vm->qemu));
    return g_strdup_printf("before QEMU exited with status %d",
                           g_subprocess_get_exit_status(vm->qemu));
}

/* Caller holds the lock. The first event called name at or after from;
 * *at: its index. */
static const struct sgl_console_event *find_from(struct sgl_vm *vm, guint from, const char *name,
                                                 guint *at)
{
    for (guint i = from; i < vm->events->len; i++) {
        const struct sgl_console_event *ev = g_ptr_array_index(vm->events, i);
        if (g_str_equal(ev->name, name)) {
            *at = i;
            return ev;
        }
    }
    return NULL;
}

guint sgl_vm_position(struct sgl_vm *vm)
{
    g_mutex_lock(&vm->lock);
    guint at = vm->events->len;
    g_mutex_unlock(&vm->lock);
    return at;
}

/* from: an index, or G_MAXUINT for sgl_vm_wait's place (which then moves
 * past what is found). */
static const struct sgl_console_event *wait_event(struct sgl_vm *vm, guint from, const char *name,
                                                  int timeout_ms, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    const struct sgl_console_event *found;
    gboolean timed_out = FALSE;
    guint at = 0;
    g_mutex_lock(&vm->lock);
    while (!(found = find_from(vm, from == G_MAXUINT ? vm->next : from, name, &at)) &&
           !vm->console_closed && !timed_out)
        timed_out = !g_cond_wait_until(&vm->changed, &vm->lock, deadline);
    if (found && from == G_MAXUINT)
        vm->next = at + 1;
    if (!found) {
        g_autofree char *tail = tail_text(vm);
        g_autofree char *how = timed_out ? g_strdup("within the timeout") : qemu_exit_text(vm);
        g_set_error(error, G_IO_ERROR, timed_out ? G_IO_ERROR_TIMED_OUT : G_IO_ERROR_CLOSED,
                    "no '%s' from the guest %s (%.1f s after start); console ends:%s", name, how,
                    sgl_vm_elapsed(vm), tail);
    }
    g_mutex_unlock(&vm->lock);
    return found;
}

const struct sgl_console_event *sgl_vm_wait(struct sgl_vm *vm, const char *name, int timeout_ms,
                                            GError **error)
{
    return wait_event(vm, G_MAXUINT, name, timeout_ms, error);
}

const struct sgl_console_event *sgl_vm_wait_from(struct sgl_vm *vm, guint from, const char *name,
                                                 int timeout_ms, GError **error)
{
    return wait_event(vm, from, name, timeout_ms, error);
}

gboolean sgl_vm_wait_exit(struct sgl_vm *vm, int timeout_ms, int *status, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (g_subprocess_get_identifier(vm->qemu) && g_get_monotonic_time() < deadline)
        g_usleep(50 * 1000);
    if (g_subprocess_get_identifier(vm->qemu)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "QEMU still runs after %d ms",
                    timeout_ms);
        return FALSE;
    }
    g_subprocess_wait(vm->qemu, NULL, NULL);
    if (status)
        *status = g_subprocess_get_if_exited(vm->qemu) ? g_subprocess_get_exit_status(vm->qemu)
                                                       : 128 + g_subprocess_get_term_sig(vm->qemu);
    return TRUE;
}

double sgl_vm_elapsed(const struct sgl_vm *vm)
{
    return (double)(g_get_monotonic_time() - vm->started_us) / G_USEC_PER_SEC;
}

void sgl_vm_kill(struct sgl_vm *vm, int sig)
{
    g_subprocess_send_signal(vm->qemu, sig);
}
