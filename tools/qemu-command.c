#include "config.h"

#include "qemu-command.h"

#include <gio/gio.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *spicegl_vm_disk_format(const struct spicegl_vm_options *o, GError **error)
{
    if (o->disk_format == SPICEGL_VM_DISK_RAW)
        return "raw";
    if (o->disk_format == SPICEGL_VM_DISK_QCOW2)
        return "qcow2";
    g_autoptr(GFile) file = g_file_new_for_path(o->disk);
    g_autoptr(GFileInputStream) in = g_file_read(file, NULL, error);
    if (!in)
        return NULL;
    guint8 magic[4] = {0};
    gsize n = 0;
    if (!g_input_stream_read_all(G_INPUT_STREAM(in), magic, sizeof(magic), &n, NULL, error))
        return NULL;
    return n == 4 && memcmp(magic, "QFI\xfb", 4) == 0 ? "qcow2" : "raw";
}

void spicegl_vm_add_arg(GPtrArray *argv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(argv, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* Short for what every line below does. */
#define add spicegl_vm_add_arg

/* A path inside a QEMU option list: commas doubled. */
static char *opt_path(const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, ",", -1);
    return g_strjoinv(",,", parts);
}

void spicegl_vm_add_gpu_args(GPtrArray *argv, const char *machine, uint64_t memory_mb,
                             const char *gpu_socket, unsigned xres, unsigned yres,
                             const char *display_bus, bool sound, bool tablet, unsigned usb_redir)
{
    add(argv, "-object");
    add(argv, "memory-backend-memfd,id=mem,size=%" PRIu64 "M,share=on", memory_mb);
    add(argv, "-machine");
    add(argv, "%s%smemory-backend=mem", machine ? machine : "", machine ? "," : "");
    g_autofree char *gpu = opt_path(gpu_socket);
    add(argv, "-chardev");
    add(argv, "socket,id=spicegl-gpu,path=%s", gpu);
    /* Two outputs, as spicegl-gpu serves by default: the second is off
     * until a client asks for a second monitor. */
    add(argv, "-device");
    if (xres && yres)
        add(argv, "vhost-user-vga,chardev=spicegl-gpu,max_outputs=2,xres=%u,yres=%u", xres, yres);
    else
        add(argv, "vhost-user-vga,chardev=spicegl-gpu,max_outputs=2");
    /* The daemon attaches to this display (through QMP, or on the bus)
     * for the clients' keyboard, pointer and monitor sizes; QEMU draws
     * nothing itself, and llvmpipe will do for the GL it wants. */
    add(argv, "-display");
    const char *audio = sound ? ",audiodev=spicegl-snd" : "";
    if (display_bus) {
        g_autofree char *bus = opt_path(display_bus);
        add(argv, "dbus,addr=%s,gl=on,rendernode=/dev/null%s", bus, audio);
    } else {
        add(argv, "dbus,p2p=yes,gl=on,rendernode=/dev/null%s", audio);
    }
    if (sound) {
        /* The daemon plays the card's output to SPICE clients. */
        add(argv, "-audiodev");
        add(argv, "dbus,id=spicegl-snd,out.frequency=48000,in.frequency=48000,timer-period=5000");
        add(argv, "-device");
        add(argv, "intel-hda");
        add(argv, "-device");
        add(argv, "hda-duplex,audiodev=spicegl-snd");
    }
    add(argv, "-device");
    add(argv, "virtio-keyboard-pci");
    add(argv, "-device");
    add(argv, "virtio-mouse-pci");
    if (tablet) {
        add(argv, "-device");
        add(argv, "virtio-tablet-pci");
    }
    /* SPICE's agent port, com.redhat.spice.0, for the guest's spice-vdagent
     * (clipboard, file transfer, resolution): the display hands the port to
     * the daemon, which relays it to its SPICE clients. */
    add(argv, "-chardev");
    add(argv, "dbus,id=vdagent,name=com.redhat.spice.0");
    add(argv, "-device");
    add(argv, "virtio-serial-pci");
    add(argv, "-device");
    add(argv, "virtserialport,chardev=vdagent,name=com.redhat.spice.0");
    /* Folder sharing's port, for the guest's spice-webdavd: relayed the
     * same way to the clients' shared folders. */
    add(argv, "-chardev");
    add(argv, "dbus,id=webdav,name=org.spice-space.webdav.0");
    add(argv, "-device");
    add(argv, "virtserialport,chardev=webdav,name=org.spice-space.webdav.0");
    /* USB redirection: devices on the D-Bus chardevs the daemon relays to
     * its clients' usbredir channels (spicegl-gpu --usb-redir N). */
    if (usb_redir) {
        add(argv, "-device");
        add(argv, "qemu-xhci,id=spicegl-usb");
    }
    for (unsigned i = 0; i < usb_redir; i++) {
        add(argv, "-chardev");
        add(argv, "dbus,id=usbredir%u,name=org.qemu.usbredir", i);
        add(argv, "-device");
        add(argv, "usb-redir,chardev=usbredir%u,bus=spicegl-usb.0", i);
    }
}

char **spicegl_vm_qemu_argv(const struct spicegl_vm_options *o,
                            const struct spicegl_vm_paths *paths, const char *disk_format, bool kvm)
{
    GPtrArray *argv = g_ptr_array_new();
    add(argv, "%s", o->qemu);
    add(argv, "-name");
    add(argv, "spicegl-vm");
    add(argv, "-nodefaults");
    add(argv, "-no-user-config");
    add(argv, "-accel");
    add(argv, kvm ? "kvm" : "tcg");
    if (kvm) {
        add(argv, "-cpu");
        add(argv, "host");
    }
    add(argv, "-m");
    add(argv, "%" PRIu64 "M", o->memory_mb);
    add(argv, "-smp");
    add(argv, "%u", o->cpus);
    spicegl_vm_add_gpu_args(argv, "q35", o->memory_mb, paths->gpu_socket, o->width, o->height, NULL,
                            o->sound, true, SPICEGL_VM_USB_REDIR);
    g_autofree char *daemon_qmp = opt_path(paths->daemon_qmp);
    g_autofree char *control_qmp = opt_path(paths->control_qmp);
    add(argv, "-qmp");
    add(argv, "unix:%s,server=on,wait=off", daemon_qmp);
    add(argv, "-qmp");
    add(argv, "unix:%s,server=on,wait=off", control_qmp);
    if (o->disk) {
        g_autofree char *disk = opt_path(o->disk);
        add(argv, "-drive");
        add(argv, "file=%s,format=%s,if=virtio,discard=unmap%s", disk, disk_format,
            o->snapshot ? ",snapshot=on" : "");
    }
    if (o->cdrom) {
        g_autofree char *cdrom = opt_path(o->cdrom);
        add(argv, "-drive");
        add(argv, "file=%s,media=cdrom,readonly=on", cdrom);
        add(argv, "-boot");
        add(argv, o->disk ? "order=c,menu=off" : "order=d,menu=off");
    }
    if (o->network) {
        add(argv, "-nic");
        add(argv, "user,model=virtio-net-pci");
    }
    add(argv, "-device");
    add(argv, "virtio-rng-pci");
    if (o->console) {
        g_autofree char *console = opt_path(o->console);
        add(argv, "-chardev");
        add(argv, "file,id=console,path=%s", console);
        add(argv, "-serial");
        add(argv, "chardev:console");
    }
    add(argv, "-monitor");
    add(argv, "none");
    for (char **a = o->qemu_args; a && *a; a++)
        add(argv, "%s", *a);
    g_ptr_array_add(argv, NULL);
    return (char **)g_ptr_array_free(argv, FALSE);
}
