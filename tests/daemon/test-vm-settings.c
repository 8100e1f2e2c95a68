/* spicegl-gpu started by libvirt: which VM QEMU runs (its command line, and
 * the process on the other end of --fd, found both ways), and that VM's
 * settings file: applied as options, every mistake refused naming the file. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/options.h"
#include "daemon/vm-identity.h"

#define CMDLINE(s) s, sizeof(s) - 1

/* As libvirt and people write it: -name guest=,, escapes a comma, the
 * implied key, and -display dbus with its bus (or none). */
static void test_cmdline(void **state)
{
    (void)state;
    struct spicegl_vm_identity id = {0};
    spicegl_vm_identity_parse_cmdline(
        &id, CMDLINE("/usr/bin/qemu-system-x86_64\0-name\0guest=vm,,1,debug-threads=on\0-display\0"
                     "dbus,addr=unix:path=/run/libvirt/qemu/dbus/1-vm-dbus.sock,gl=on\0"));
    assert_string_equal(id.name, "vm,1");
    assert_string_equal(id.display_address, "unix:path=/run/libvirt/qemu/dbus/1-vm-dbus.sock");
    spicegl_vm_identity_finish(&id);

    spicegl_vm_identity_parse_cmdline(&id, CMDLINE("qemu\0-name\0desk,process=q\0-display\0"
                                                   "dbus,p2p=yes\0-display\0none\0-name"));
    assert_string_equal(id.name, "desk");
    assert_null(id.display_address);
    spicegl_vm_identity_finish(&id);

    spicegl_vm_identity_parse_cmdline(&id, CMDLINE("qemu\0-display\0gtk,addr=x\0"));
    assert_null(id.name);
    assert_null(id.display_address);
    spicegl_vm_identity_finish(&id);

    /* libvirt's <channel type='dbus'> for the agent's port: its chardev,
     * not another dbus chardev's or another backend's; and folder
     * sharing's. */
    spicegl_vm_identity_parse_cmdline(
        &id, CMDLINE("qemu\0-chardev\0socket,id=charmonitor,fd=28,server=on,wait=off\0"
                     "-chardev\0dbus,id=charchannel0,name=org.spice-space.webdav.0\0"
                     "-chardev\0spiceport,id=x,name=com.redhat.spice.0\0"
                     "-chardev\0dbus,id=charchannel1,name=com.redhat.spice.0\0"
                     "-display\0dbus,addr=unix:path=/run/b.sock\0"));
    assert_string_equal(id.agent_chardev, "charchannel1");
    assert_string_equal(id.webdav_chardev, "charchannel0");
    assert_string_equal(id.display_address, "unix:path=/run/b.sock");
    assert_null(id.usb_redir_chardevs);
    spicegl_vm_identity_finish(&id);

    /* libvirt's <redirdev bus='usb' type='dbus'/>: each usb-redir device's
     * chardev, in order; a socket chardev's is not the daemon's. */
    spicegl_vm_identity_parse_cmdline(
        &id, CMDLINE("qemu\0-chardev\0dbus,id=charredir0,name=org.qemu.usbredir\0"
                     "-device\0{\"driver\":\"usb-redir\",\"chardev\":\"charredir0\"}\0"
                     "-chardev\0socket,id=charredir1,path=/s,name=org.qemu.usbredir\0"
                     "-chardev\0dbus,id=charredir2,name=org.qemu.usbredir\0"));
    assert_non_null(id.usb_redir_chardevs);
    assert_int_equal(id.usb_redir_chardevs->len, 2);
    assert_string_equal(g_ptr_array_index(id.usb_redir_chardevs, 0), "charredir0");
    assert_string_equal(g_ptr_array_index(id.usb_redir_chardevs, 1), "charredir2");
    spicegl_vm_identity_finish(&id);
    assert_null(id.usb_redir_chardevs);
}

/* The VM's usb-redir devices (QEMU's command line) replace --usb-redir's
 * usbredirK: those QEMU can export on D-Bus, at most
 * SPICEGL_MAX_USB_REDIR, each one left off said so. */
static void test_usb_redir_from_qemu(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("sgl-vm-XXXXXX", NULL);
    char program[] = "spicegl-gpu"; /* argv[0]: not run */
    g_autofree char *dir_arg = g_strdup_printf("--vm-config-dir=%s", dir);
    char *argv[] = {program, "--fd=3", "--virgl", dir_arg, NULL};
    struct spicegl_options o;
    g_autoptr(GError) error = NULL;
    assert_true(spicegl_options_parse(&o, 4, argv, &error));
    struct spicegl_vm_identity vm = {.pid = 42,
                                     .name = g_strdup("vm3"),
                                     .display_address = g_strdup("unix:path=/run/vm3.sock"),
                                     .usb_redir_chardevs = g_ptr_array_new_with_free_func(g_free)};
    g_ptr_array_add(vm.usb_redir_chardevs, g_strdup("charredir0"));
    g_ptr_array_add(vm.usb_redir_chardevs, g_strdup("charua-usb"));
    for (int i = 1; i <= SPICEGL_MAX_USB_REDIR; i++)
        g_ptr_array_add(vm.usb_redir_chardevs, g_strdup_printf("charredir%d", i));
    g_autoptr(GPtrArray) said = g_ptr_array_new_with_free_func(g_free);
    assert_true(spicegl_options_apply_vm(&o, 4, argv, &vm, said, &error));
    assert_int_equal(o.usb_redir, SPICEGL_MAX_USB_REDIR);
    assert_int_equal(g_strv_length(o.usb_redir_chardevs), SPICEGL_MAX_USB_REDIR);
    assert_string_equal(o.usb_redir_chardevs[0], "charredir0");
    assert_string_equal(o.usb_redir_chardevs[1], "charredir1");
    assert_string_equal(o.usb_redir_chardevs[SPICEGL_MAX_USB_REDIR - 1], "charredir7");
    g_autoptr(GString) all = g_string_new(NULL);
    for (guint i = 0; i < said->len; i++)
        g_string_append_printf(all, "%s\n", (char *)g_ptr_array_index(said, i));
    if (!strstr(all->str, "the chardev 'charua-usb' of a usb-redir device cannot be reached on "
                          "D-Bus") ||
        !strstr(all->str, "usb-redir device on chardev 'charredir8' stays off: at most 8") ||
        !strstr(all->str, "USB redirection on 8 usb-redir device(s)"))
        fail_msg("what the daemon said:\n%s", all->str);
    spicegl_vm_identity_finish(&vm);
    spicegl_options_finish(&o);
    g_rmdir(dir);
}

struct fixture {
    char *dir;
    char **argv;
};

static char *write_settings(const char *dir, const char *name, const char *text)
{
    g_autofree char *file = g_strdup_printf("%s.conf", name);
    char *path = g_build_filename(dir, file, NULL);
    assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

/* Applies vm's settings to libvirt's command line; the message on error. */
static char *apply(const char *dir, const char *name, const char *display, const char *agent,
                   struct spicegl_options *o, GPtrArray *said)
{
    g_autofree char *dir_arg = g_strdup_printf("--vm-config-dir=%s", dir);
    char program[] = "spicegl-gpu"; /* argv[0]: not run */
    char *argv[] = {program, "--fd=3", "--virgl", "--render-node=/dev/null", dir_arg, NULL};
    g_autoptr(GError) error = NULL;
    assert_true(spicegl_options_parse(o, 5, argv, &error));
    struct spicegl_vm_identity vm = {.pid = 42,
                                     .name = g_strdup(name),
                                     .display_address = g_strdup(display),
                                     .agent_chardev = g_strdup(agent)};
    bool ok = spicegl_options_apply_vm(o, 5, argv, &vm, said, &error);
    spicegl_vm_identity_finish(&vm);
    return ok ? NULL : g_strdup(error->message);
}

static void test_settings(void **state)
{
    (void)state;
    g_autofree char *dir = g_dir_make_tmp("sgl-vm-XXXXXX", NULL);
    g_autofree char *ticket = g_build_filename(dir, "ticket", NULL);
    assert_true(g_file_set_contents(ticket, "t0ps3cret\n", -1, NULL));
    g_autofree char *text = g_strdup_printf("# vm1\n[spicegl-gpu]\nport=5931\nticket-file=%s\n"
                                            "addr=0.0.0.0\nscanouts=1\nsingle-client=true\n"
                                            "insecure=false\n",
                                            ticket);
    g_autofree char *path = write_settings(dir, "vm1", text);
    struct spicegl_options o;
    g_autoptr(GPtrArray) said = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *message =
        apply(dir, "vm1", "unix:path=/run/vm1.sock", "charchannel0", &o, said);
    assert_null(message);
    assert_int_equal(o.server.port, 5931);
    assert_string_equal(o.server.addr, "0.0.0.0");
    assert_string_equal(o.server.ticket, "t0ps3cret");
    assert_int_equal(o.scanouts, 1);
    assert_true(o.single_client);
    assert_int_equal(o.gpu_fd, 3);
    assert_string_equal(o.render_node, "/dev/null");
    assert_string_equal(o.dbus_address, "unix:path=/run/vm1.sock");
    assert_string_equal(o.agent_chardev, "charchannel0");
    g_autofree char *want = g_strdup_printf("VM 'vm1' (QEMU pid 42): settings from %s", path);
    assert_int_equal(said->len, 2);
    assert_string_equal(g_ptr_array_index(said, 0), want);
    spicegl_options_finish(&o);

    /* No file: the defaults, said so. */
    g_ptr_array_set_size(said, 0);
    assert_null(apply(dir, "vm2", NULL, NULL, &o, said));
    assert_int_equal(o.server.port, 5900);
    assert_null(o.dbus_address);
    assert_non_null(strstr(g_ptr_array_index(said, 0), "no settings at"));
    spicegl_options_finish(&o);

    /* An agent chardev QEMU cannot export on D-Bus (a libvirt user alias
     * with '-'): the agent stays off, said so; the daemon still starts. */
    g_ptr_array_set_size(said, 0);
    assert_null(apply(dir, "vm2", NULL, "charua-agent", &o, said));
    assert_null(o.agent_chardev);
    assert_int_equal(said->len, 2);
    assert_non_null(
        strstr(g_ptr_array_index(said, 1), "the chardev 'charua-agent' of the guest's agent"));
    spicegl_options_finish(&o);

    static const struct {
        const char *text, *message;
    } bad[] = {
        {"[spicegl-gpu]\nprot=5901\n", "unknown setting 'prot': the keys are spicegl-gpu's long "
                                       "options (see spicegl-gpu --help)"},
        {"[spicegl-gpu]\nport=99999\n", "ports are 1..65535 (--port 99999, --tls-port 0)"},
        {"[spicegl-gpu]\nsocket-path=/tmp/x\n", "'socket-path' cannot be set per VM"},
        {"[spicegl-gpu]\nuser=root\n", "'user' cannot be set per VM"},
        {"[spicegl-gpu]\ninsecure=maybe\n", "insecure is true or false"},
        {"[spice]\nport=5901\n", "unknown group [spice]: the settings go in [spicegl-gpu]"},
        {"port=5901\n", "Key file does not start with a group"},
        {"[spicegl-gpu]\naddr=0.0.0.0\n", "without a password"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *bad_path = write_settings(dir, "bad", bad[i].text);
        g_autofree char *m = apply(dir, "bad", NULL, NULL, &o, said);
        spicegl_options_finish(&o);
        if (!m || !g_str_has_prefix(m, bad_path) || !strstr(m, bad[i].message))
            fail_msg("settings '%s'\n  wanted: %s: ...%s...\n     got: %s", bad[i].text, bad_path,
                     bad[i].message, m ? m : "(accepted)");
        g_unlink(bad_path);
    }
    /* A file that cannot be reached is not "no file": no defaults then. */
    g_autofree char *unreachable = apply(ticket, "vm1", NULL, NULL, &o, said);
    spicegl_options_finish(&o);
    assert_non_null(unreachable);
    assert_non_null(strstr(unreachable, "Not a directory (QEMU's user must be able to read it)"));
    g_autofree char *m = apply(dir, "../etc/x", NULL, NULL, &o, said);
    spicegl_options_finish(&o);
    assert_non_null(m);
    assert_non_null(strstr(m, "cannot name a settings file"));
    g_unlink(path);
    g_unlink(ticket);
    g_rmdir(dir);
}

/* A stand-in for QEMU: a shell whose arguments read as QEMU's, which writes
 * its first message on fd 3 (the other end of the pair) and holds it until
 * the test closes its end (read is a builtin: the shell stays itself). */
static GSubprocess *fake_qemu(int fd)
{
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
    g_subprocess_launcher_take_fd(l, fd, 3);
    g_autoptr(GError) error = NULL;
    GSubprocess *p = g_subprocess_launcher_spawn(
        l, &error, "/bin/sh", "-c", "printf M >&3; read _ <&3", "sh", "-name", "guest=fakevm",
        "-display", "dbus,addr=unix:path=/run/fakevm.sock", NULL);
    if (!p)
        fail_msg("sh: %s", error->message);
    return p;
}

static void identify(bool listen_first)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    g_autoptr(GError) error = NULL;
    if (listen_first)
        assert_true(spicegl_vm_identity_listen(sv[0], &error));
    GSubprocess *qemu = fake_qemu(sv[1]);
    if (!listen_first) {
        /* The message is queued before credentials are asked for. */
        char c;
        assert_int_equal(recv(sv[0], &c, 1, MSG_PEEK), 1);
        assert_true(spicegl_vm_identity_listen(sv[0], &error));
    }
    struct spicegl_vm_identity id;
    if (!spicegl_vm_identity_init(&id, sv[0], &error))
        fail_msg("%s", error->message);
    assert_int_equal(id.pid, atoi(g_subprocess_get_identifier(qemu)));
    assert_string_equal(id.name, "fakevm");
    assert_string_equal(id.display_address, "unix:path=/run/fakevm.sock");
    /* The message stays for the vhost-user layer. */
    char c;
    assert_int_equal(read(sv[0], &c, 1), 1);
    assert_int_equal(c, 'M');
    spicegl_vm_identity_finish(&id);
    g_subprocess_force_exit(qemu);
    g_object_unref(qemu);
    close(sv[0]);
}

static void test_identify_sender(void **state)
{
    (void)state;
    identify(true);
}

static void test_identify_holder(void **state)
{
    (void)state;
    identify(false);
}

/* QEMU went away before saying anything. */
static void test_identify_closed(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    g_autoptr(GError) error = NULL;
    assert_true(spicegl_vm_identity_listen(sv[0], &error));
    close(sv[1]);
    struct spicegl_vm_identity id;
    assert_false(spicegl_vm_identity_init(&id, sv[0], &error));
    assert_non_null(strstr(error->message, "QEMU closed the GPU socket"));
    spicegl_vm_identity_finish(&id);
    close(sv[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmdline),         cmocka_unit_test(test_usb_redir_from_qemu),
        cmocka_unit_test(test_settings),        cmocka_unit_test(test_identify_sender),
        cmocka_unit_test(test_identify_holder), cmocka_unit_test(test_identify_closed),
    };
    return cmocka_run_group_tests_name("vm-settings", tests, NULL, NULL);
}
