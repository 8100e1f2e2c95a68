#include "config.h"

#include "vm-options.h"

#include <gio/gio.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"

void spicegl_vm_options_finish(struct spicegl_vm_options *o)
{
    g_free(o->disk);
    g_free(o->cdrom);
    g_free(o->addr);
    g_free(o->ticket_file);
    g_free(o->console);
    g_free(o->qemu);
    g_free(o->daemon);
    g_strfreev(o->daemon_args);
    g_strfreev(o->qemu_args);
    memset(o, 0, sizeof(*o));
}

/* A bad option: sets *error, returns false. */
#define fail(error, ...) sgl_error_set(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, __VA_ARGS__)

/* "4G", "512M", "2048" (MiB). */
static bool parse_memory(const char *text, uint64_t *mb)
{
    char *end;
    guint64 v = g_ascii_strtoull(text, &end, 10);
    if (end == text)
        return false;
    if (*end == 'G' || *end == 'g')
        v *= 1024, end++;
    else if (*end == 'M' || *end == 'm')
        end++;
    if (*end)
        return false;
    *mb = v;
    return true;
}

static bool parse_size(const char *text, unsigned *w, unsigned *h)
{
    char tail;
    return sscanf(text, "%ux%u%c", w, h, &tail) == 2 && *w >= 320 && *h >= 200 && *w <= 8192 &&
           *h <= 8192;
}

static bool readable_file(const char *path)
{
    return g_file_test(path, G_FILE_TEST_IS_REGULAR) && access(path, R_OK) == 0;
}

bool spicegl_vm_options_parse(struct spicegl_vm_options *o, int argc, char **argv, GError **error)
{
    g_autofree char *memory = NULL, *accel = NULL, *format = NULL, *size = NULL;
    gint cpus = 2, port = 5900, shutdown_timeout = 60;
    gboolean snapshot = FALSE, no_network = FALSE, no_sound = FALSE;
    memset(o, 0, sizeof(*o));
    GOptionEntry entries[] = {
        {"disk", 0, 0, G_OPTION_ARG_FILENAME, &o->disk, "The VM's disk image (qcow2 or raw)",
         "FILE"},
        {"disk-format", 0, 0, G_OPTION_ARG_STRING, &format,
         "auto (default: qcow2 by its header, else raw), raw or qcow2", "FORMAT"},
        {"cdrom", 0, 0, G_OPTION_ARG_FILENAME, &o->cdrom,
         "An ISO image (an installer); booted when there is no --disk", "FILE"},
        {"snapshot", 0, 0, G_OPTION_ARG_NONE, &snapshot,
         "Leave the disk as it is: the guest's writes go to a temporary overlay", NULL},
        {"memory", 'm', 0, G_OPTION_ARG_STRING, &memory,
         "Guest memory, e.g. 4G or 2048M (default 2G)", "SIZE"},
        {"cpus", 0, 0, G_OPTION_ARG_INT, &cpus, "Virtual CPUs (default 2)", "N"},
        {"accel", 0, 0, G_OPTION_ARG_STRING, &accel,
         "auto (default: KVM when it works, else TCG), kvm or tcg", "NAME"},
        {"addr", 0, 0, G_OPTION_ARG_STRING, &o->addr, "SPICE address (default 127.0.0.1)", "ADDR"},
        {"port", 0, 0, G_OPTION_ARG_INT, &port, "SPICE port (default 5900)", "PORT"},
        {"ticket-file", 0, 0, G_OPTION_ARG_FILENAME, &o->ticket_file,
         "SPICE password, read from this file (needed off loopback)", "FILE"},
        {"size", 0, 0, G_OPTION_ARG_STRING, &size,
         "The display's preferred mode (default 1280x800)", "WxH"},
        {"no-network", 0, 0, G_OPTION_ARG_NONE, &no_network,
         "No network card (default: user-mode networking, virtio-net)", NULL},
        {"no-sound", 0, 0, G_OPTION_ARG_NONE, &no_sound,
         "No sound card (default: an Intel HDA card, played to SPICE clients; QEMU 8.0 or later)",
         NULL},
        {"console", 0, 0, G_OPTION_ARG_FILENAME, &o->console,
         "Write the guest's serial console (ttyS0) to this file", "FILE"},
        {"shutdown-timeout", 0, 0, G_OPTION_ARG_INT, &shutdown_timeout,
         "On Ctrl-C, seconds the guest has to power off before QEMU is stopped (default 60; "
         "0: stop at once)",
         "S"},
        {"qemu", 0, 0, G_OPTION_ARG_FILENAME, &o->qemu,
         "QEMU binary (default $QEMU, else qemu-system-x86_64)", "PATH"},
        {"daemon", 0, 0, G_OPTION_ARG_FILENAME, &o->daemon,
         "spicegl-gpu binary (default: beside spicegl-vm, else in PATH)", "PATH"},
        {"daemon-arg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->daemon_args,
         "One more spicegl-gpu argument (repeatable), e.g. --daemon-arg=--bitrate=4000", "ARG"},
        {"qemu-arg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->qemu_args,
         "One more QEMU argument (repeatable), e.g. --qemu-arg=-usb", "ARG"},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("- run a VM with spicegl-gpu as its GPU and SPICE server");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(
        ctx, "Starts spicegl-gpu and QEMU for your disk image, prints the SPICE address to\n"
             "connect to, and stops both together: on Ctrl-C (the guest is asked to power\n"
             "off first), when the guest powers off, or when either process exits.");
    /* GOption removes what it parsed from the vector: it gets a copy, so
     * the caller's stays whole (and freeable). */
    g_autofree char **args = g_new0(char *, argc + 1);
    memcpy(args, argv, sizeof(char *) * (size_t)argc);
    char **rest = args;
    int n_rest = argc;
    if (!g_option_context_parse(ctx, &n_rest, &rest, error))
        goto fail;
    if (n_rest > 1) {
        fail(error, "unexpected argument '%s': the disk is given with --disk FILE", rest[1]);
        goto fail;
    }
    if (!o->disk && !o->cdrom) {
        fail(error, "give the VM's disk with --disk FILE (or an installer with --cdrom FILE)");
        goto fail;
    }
    if (o->disk && !readable_file(o->disk)) {
        fail(error, "--disk %s: no such readable file", o->disk);
        goto fail;
    }
    if (o->cdrom && !readable_file(o->cdrom)) {
        fail(error, "--cdrom %s: no such readable file", o->cdrom);
        goto fail;
    }
    if (!format || g_str_equal(format, "auto"))
        o->disk_format = SPICEGL_VM_DISK_AUTO;
    else if (g_str_equal(format, "raw"))
        o->disk_format = SPICEGL_VM_DISK_RAW;
    else if (g_str_equal(format, "qcow2"))
        o->disk_format = SPICEGL_VM_DISK_QCOW2;
    else {
        fail(error, "--disk-format is auto, raw or qcow2 (got '%s')", format);
        goto fail;
    }
    o->memory_mb = 2048;
    if (memory && (!parse_memory(memory, &o->memory_mb) || o->memory_mb < 256 ||
                   o->memory_mb > 1024 * 1024)) {
        fail(error, "--memory wants 256M..1024G, e.g. 4G or 2048M (got '%s')", memory);
        goto fail;
    }
    if (cpus < 1 || cpus > 255) {
        fail(error, "--cpus wants 1..255 (got %d)", cpus);
        goto fail;
    }
    o->cpus = (unsigned)cpus;
    if (!accel || g_str_equal(accel, "auto"))
        o->accel = SPICEGL_VM_ACCEL_AUTO;
    else if (g_str_equal(accel, "kvm"))
        o->accel = SPICEGL_VM_ACCEL_KVM;
    else if (g_str_equal(accel, "tcg"))
        o->accel = SPICEGL_VM_ACCEL_TCG;
    else {
        fail(error, "--accel is auto, kvm or tcg (got '%s')", accel);
        goto fail;
    }
    if (port < 1 || port > 65535) {
        fail(error, "--port wants 1..65535 (got %d)", port);
        goto fail;
    }
    o->port = (unsigned)port;
    if (!o->addr)
        o->addr = g_strdup("127.0.0.1");
    if (o->ticket_file && !readable_file(o->ticket_file)) {
        fail(error, "--ticket-file %s: no such readable file", o->ticket_file);
        goto fail;
    }
    o->width = 1280, o->height = 800;
    if (size && !parse_size(size, &o->width, &o->height)) {
        fail(error, "--size wants WIDTHxHEIGHT from 320x200 to 8192x8192 (got '%s')", size);
        goto fail;
    }
    if (shutdown_timeout < 0 || shutdown_timeout > 3600) {
        fail(error, "--shutdown-timeout wants 0..3600 seconds (got %d)", shutdown_timeout);
        goto fail;
    }
    o->shutdown_timeout = (unsigned)shutdown_timeout;
    o->snapshot = snapshot;
    o->network = !no_network;
    o->sound = !no_sound;
    if (!o->qemu)
        o->qemu = g_strdup(g_getenv("QEMU") && *g_getenv("QEMU") ? g_getenv("QEMU")
                                                                 : "qemu-system-x86_64");
    return true;
fail:
    spicegl_vm_options_finish(o);
    return false;
}
