/* spicegl-vm's options and QEMU command line: each default, each bad option
 * refused with its exact message (by the parser and by the program: exit
 * 2), the disk's format from its header, and the QEMU arguments a VM gets. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/wait.h>

#include "tools/qemu-command.h"
#include "tools/vm-options.h"

struct fixture {
    char *dir, *disk, *qcow2, *ticket;
};

static int setup(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);
    f->dir = g_dir_make_tmp("sgl-vm-options-XXXXXX", NULL);
    f->disk = g_build_filename(f->dir, "disk.img", NULL);
    f->qcow2 = g_build_filename(f->dir, "disk,1.qcow2", NULL);
    f->ticket = g_build_filename(f->dir, "ticket", NULL);
    assert_true(g_file_set_contents(f->disk, "\xeb\x63\x90 a boot sector", -1, NULL));
    assert_true(g_file_set_contents(f->qcow2, "QFI\xfb\x00\x00\x00\x03", 8, NULL));
    assert_true(g_file_set_contents(f->ticket, "s3cret\n", -1, NULL));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    g_unlink(f->disk);
    g_unlink(f->qcow2);
    g_unlink(f->ticket);
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->disk);
    g_free(f->qcow2);
    g_free(f->ticket);
    g_free(f);
    return 0;
}

/* "spicegl-vm ARGS", split on spaces; @DISK@ and @TICKET@ stand for the
 * fixture's files. */
static char **argv_of(const struct fixture *f, const char *args)
{
    g_autofree char *line = g_strconcat("spicegl-vm ", args, NULL);
    g_strstrip(line);
    g_auto(GStrv) parts = g_strsplit(line, " ", -1);
    for (char **p = parts; *p; p++) {
        const char *sub = g_str_equal(*p, "@DISK@")     ? f->disk
                          : g_str_equal(*p, "@QCOW2@")  ? f->qcow2
                          : g_str_equal(*p, "@TICKET@") ? f->ticket
                                                        : NULL;
        if (sub) {
            g_free(*p);
            *p = g_strdup(sub);
        }
    }
    return g_steal_pointer(&parts);
}

struct bad_case {
    const char *args;
    const char *message;
};

static const struct bad_case bad_cases[] = {
    {"", "give the VM's disk with --disk FILE (or an installer with --cdrom FILE)"},
    {"@DISK@", "unexpected argument '@DISK@': the disk is given with --disk FILE"},
    {"--disk /nonexistent/disk.img", "--disk /nonexistent/disk.img: no such readable file"},
    {"--cdrom /nonexistent/x.iso", "--cdrom /nonexistent/x.iso: no such readable file"},
    {"--disk @DISK@ --disk-format vmdk", "--disk-format is auto, raw or qcow2 (got 'vmdk')"},
    {"--disk @DISK@ --memory 4T", "--memory wants 256M..1024G, e.g. 4G or 2048M (got '4T')"},
    {"--disk @DISK@ --memory 100M", "--memory wants 256M..1024G, e.g. 4G or 2048M (got '100M')"},
    {"--disk @DISK@ --cpus 0", "--cpus wants 1..255 (got 0)"},
    {"--disk @DISK@ --accel hvf", "--accel is auto, kvm or tcg (got 'hvf')"},
    {"--disk @DISK@ --port 70000", "--port wants 1..65535 (got 70000)"},
    {"--disk @DISK@ --ticket-file /nonexistent/t",
     "--ticket-file /nonexistent/t: no such readable file"},
    {"--disk @DISK@ --size 100x100",
     "--size wants WIDTHxHEIGHT from 320x200 to 8192x8192 (got '100x100')"},
    {"--disk @DISK@ --shutdown-timeout -1", "--shutdown-timeout wants 0..3600 seconds (got -1)"},
    {"--disk @DISK@ --bogus", "Unknown option --bogus"},
};

static const char *substituted(const struct fixture *f, const char *message, char **owned)
{
    if (!strstr(message, "@DISK@"))
        return message;
    g_auto(GStrv) parts = g_strsplit(message, "@DISK@", -1);
    *owned = g_strjoinv(f->disk, parts);
    return *owned;
}

static void test_defaults(void **state)
{
    struct fixture *f = *state;
    g_auto(GStrv) argv = argv_of(f, "--disk @DISK@");
    struct spicegl_vm_options o;
    g_autoptr(GError) error = NULL;
    g_unsetenv("QEMU");
    assert_true(spicegl_vm_options_parse(&o, (int)g_strv_length(argv), argv, &error));
    assert_string_equal(o.disk, f->disk);
    assert_int_equal(o.disk_format, SPICEGL_VM_DISK_AUTO);
    assert_null(o.cdrom);
    assert_false(o.snapshot);
    assert_int_equal(o.memory_mb, 2048);
    assert_int_equal(o.cpus, 2);
    assert_int_equal(o.accel, SPICEGL_VM_ACCEL_AUTO);
    assert_string_equal(o.addr, "127.0.0.1");
    assert_int_equal(o.port, 5900);
    assert_null(o.ticket_file);
    assert_int_equal(o.width, 1280);
    assert_int_equal(o.height, 800);
    assert_true(o.network);
    assert_true(o.sound);
    assert_null(o.console);
    assert_string_equal(o.qemu, "qemu-system-x86_64");
    assert_null(o.daemon);
    assert_int_equal(o.shutdown_timeout, 60);
    spicegl_vm_options_finish(&o);
}

static void test_bad_options_parse(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_auto(GStrv) argv = argv_of(f, bad_cases[i].args);
        struct spicegl_vm_options o;
        g_autoptr(GError) error = NULL;
        g_autofree char *owned = NULL;
        const char *want = substituted(f, bad_cases[i].message, &owned);
        if (spicegl_vm_options_parse(&o, (int)g_strv_length(argv), argv, &error))
            fail_msg("accepted: %s", bad_cases[i].args);
        if (strcmp(error->message, want) != 0)
            fail_msg("for '%s'\n  wanted: %s\n     got: %s", bad_cases[i].args, want,
                     error->message);
    }
}

/* The program: "spicegl-vm: MESSAGE (see --help)" and exit 2, having
 * started nothing. */
static void test_bad_options_exit_2(void **state)
{
    struct fixture *f = *state;
    const char *builddir = g_getenv("SGL_BUILDDIR");
    assert_non_null(builddir);
    g_autofree char *program = g_build_filename(builddir, "tools", "spicegl-vm", NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_auto(GStrv) argv = argv_of(f, bad_cases[i].args);
        g_free(argv[0]);
        argv[0] = g_strdup(program);
        g_autofree char *out = NULL, *err = NULL, *owned = NULL;
        int wait_status = 0;
        assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                                 &wait_status, NULL));
        g_autofree char *want = g_strdup_printf("spicegl-vm: %s (see --help)\n",
                                                substituted(f, bad_cases[i].message, &owned));
        if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 2)
            fail_msg("'%s': wait status 0x%x, not exit 2", bad_cases[i].args, wait_status);
        if (strcmp(err, want) != 0)
            fail_msg("for '%s'\n  wanted: %s     got: %s", bad_cases[i].args, want, err);
        assert_string_equal(out, "");
    }
}

static void test_disk_format(void **state)
{
    struct fixture *f = *state;
    struct spicegl_vm_options o = {.disk = f->disk};
    g_autoptr(GError) error = NULL;
    assert_string_equal(spicegl_vm_disk_format(&o, &error), "raw");
    o.disk = f->qcow2;
    assert_string_equal(spicegl_vm_disk_format(&o, &error), "qcow2");
    o.disk_format = SPICEGL_VM_DISK_RAW; /* what the user says wins */
    assert_string_equal(spicegl_vm_disk_format(&o, &error), "raw");
    o.disk_format = SPICEGL_VM_DISK_AUTO;
    o.disk = "/nonexistent/disk";
    assert_null(spicegl_vm_disk_format(&o, &error));
    assert_non_null(error);
}

static bool has_pair(char **argv, const char *option, const char *value)
{
    for (char **a = argv; a[0] && a[1]; a++)
        if (g_str_equal(a[0], option) && g_str_equal(a[1], value))
            return true;
    return false;
}

static bool has_option(char **argv, const char *option)
{
    for (char **a = argv; *a; a++)
        if (g_str_equal(*a, option))
            return true;
    return false;
}

static void test_qemu_command(void **state)
{
    struct fixture *f = *state;
    g_autofree char *args = g_strdup_printf(
        "--disk @QCOW2@ --snapshot --memory 4G --cpus 3 --size 1920x1080 --console %s/con,sole "
        "--qemu-arg=-usb --qemu /opt/qemu",
        f->dir);
    g_auto(GStrv) argv = argv_of(f, args);
    struct spicegl_vm_options o;
    g_autoptr(GError) error = NULL;
    assert_true(spicegl_vm_options_parse(&o, (int)g_strv_length(argv), argv, &error));
    struct spicegl_vm_paths paths = {"/run/a,b/gpu.sock", "/run/d.sock", "/run/c.sock"};
    const char *format = spicegl_vm_disk_format(&o, &error);
    g_auto(GStrv) kvm = spicegl_vm_qemu_argv(&o, &paths, format, true);
    assert_string_equal(kvm[0], "/opt/qemu");
    assert_true(has_pair(kvm, "-accel", "kvm"));
    assert_true(has_pair(kvm, "-cpu", "host"));
    /* vhost-user: the guest's memory shared with the daemon. */
    assert_true(has_pair(kvm, "-object", "memory-backend-memfd,id=mem,size=4096M,share=on"));
    assert_true(has_pair(kvm, "-machine", "q35,memory-backend=mem"));
    assert_true(has_pair(kvm, "-m", "4096M"));
    assert_true(has_pair(kvm, "-smp", "3"));
    /* Commas in paths are doubled, as QEMU's option syntax wants. */
    assert_true(has_pair(kvm, "-chardev", "socket,id=spicegl-gpu,path=/run/a,,b/gpu.sock"));
    assert_true(has_pair(kvm, "-device",
                         "vhost-user-vga,chardev=spicegl-gpu,max_outputs=2,xres=1920,yres=1080"));
    /* Sound: an HDA card whose output the D-Bus display hands the daemon. */
    assert_true(
        has_pair(kvm, "-display", "dbus,p2p=yes,gl=on,rendernode=/dev/null,audiodev=spicegl-snd"));
    assert_true(
        has_pair(kvm, "-audiodev",
                 "dbus,id=spicegl-snd,out.frequency=48000,in.frequency=48000,timer-period=5000"));
    assert_true(has_pair(kvm, "-device", "hda-duplex,audiodev=spicegl-snd"));
    assert_true(has_pair(kvm, "-qmp", "unix:/run/d.sock,server=on,wait=off"));
    assert_true(has_pair(kvm, "-qmp", "unix:/run/c.sock,server=on,wait=off"));
    g_autofree char *drive = g_strdup_printf(
        "file=%s/disk,,1.qcow2,format=qcow2,if=virtio,discard=unmap,snapshot=on", f->dir);
    assert_true(has_pair(kvm, "-drive", drive));
    assert_true(has_pair(kvm, "-nic", "user,model=virtio-net-pci"));
    g_autofree char *console = g_strdup_printf("file,id=console,path=%s/con,,sole", f->dir);
    assert_true(has_pair(kvm, "-chardev", console));
    assert_true(has_pair(kvm, "-serial", "chardev:console"));
    assert_string_equal(kvm[g_strv_length(kvm) - 1], "-usb"); /* --qemu-arg last */
    g_auto(GStrv) tcg = spicegl_vm_qemu_argv(&o, &paths, format, false);
    assert_true(has_pair(tcg, "-accel", "tcg"));
    assert_false(has_option(tcg, "-cpu"));
    spicegl_vm_options_finish(&o);

    /* An installer: the ISO boots, no network or sound asked for. */
    g_auto(GStrv) argv2 = argv_of(f, "--cdrom @DISK@ --no-network --no-sound");
    assert_true(spicegl_vm_options_parse(&o, (int)g_strv_length(argv2), argv2, &error));
    g_auto(GStrv) cd = spicegl_vm_qemu_argv(&o, &paths, NULL, false);
    g_autofree char *cdrom = g_strdup_printf("file=%s,media=cdrom,readonly=on", f->disk);
    assert_true(has_pair(cd, "-drive", cdrom));
    assert_true(has_pair(cd, "-boot", "order=d,menu=off"));
    assert_false(has_option(cd, "-nic"));
    assert_false(has_option(cd, "-audiodev"));
    assert_true(has_pair(cd, "-display", "dbus,p2p=yes,gl=on,rendernode=/dev/null"));
    assert_false(has_option(cd, "-serial"));
    spicegl_vm_options_finish(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),           cmocka_unit_test(test_bad_options_parse),
        cmocka_unit_test(test_bad_options_exit_2), cmocka_unit_test(test_disk_format),
        cmocka_unit_test(test_qemu_command),
    };
    return cmocka_run_group_tests_name("vm-options", tests, setup, teardown);
}
