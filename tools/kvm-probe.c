#include "config.h"

#include "kvm-probe.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* The child's exit codes: which step failed, and errno through a pipe. */
enum { PROBE_OK, PROBE_OPEN, PROBE_API, PROBE_VM, PROBE_VCPU, PROBE_RUN };

/* One instruction, hlt, in real mode at 0x1000: a vCPU that runs it and
 * exits with KVM_EXIT_HLT is KVM working, not merely present. */
static int run_hlt(int kvm, int vm, int vcpu, int *err)
{
    uint8_t *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return *err = errno, PROBE_RUN;
    mem[0] = 0xf4;
    struct kvm_userspace_memory_region region = {.slot = 0,
                                                 .guest_phys_addr = 0x1000,
                                                 .memory_size = 4096,
                                                 .userspace_addr = (uintptr_t)mem};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return *err = errno, PROBE_RUN;
    int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size < (int)sizeof(struct kvm_run))
        return *err = errno, PROBE_RUN;
    struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        return *err = errno, PROBE_RUN;
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        return *err = errno, PROBE_RUN;
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        return *err = errno, PROBE_RUN;
    struct kvm_regs regs = {.rip = 0x1000, .rflags = 0x2};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0 || ioctl(vcpu, KVM_RUN, 0) < 0)
        return *err = errno, PROBE_RUN;
    if (run->exit_reason != KVM_EXIT_HLT)
        return *err = 0, PROBE_RUN;
    return PROBE_OK;
}

static int probe(int *err)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        return *err = errno, PROBE_OPEN;
    int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION)
        return *err = api < 0 ? errno : 0, PROBE_API;
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        return *err = errno, PROBE_VM;
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        return *err = errno, PROBE_VCPU;
    return run_hlt(kvm, vm, vcpu, err);
}

bool spicegl_kvm_probe(int timeout_ms, char **why)
{
    int pipefd[2];
    *why = NULL;
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        *why = g_strdup_printf("pipe: %s", g_strerror(errno));
        return false;
    }
    pid_t pid = fork();
    if (pid < 0) {
        *why = g_strdup_printf("fork: %s", g_strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        return false;
    }
    if (pid == 0) {
        int err = 0, step = probe(&err);
        ssize_t unused = write(pipefd[1], &err, sizeof(err));
        (void)unused;
        _exit(step);
    }
    close(pipefd[1]);
    int status = 0;
    pid_t done = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        done = waitpid(pid, &status, WNOHANG);
        if (done != 0)
            break;
        g_usleep(10 * 1000);
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        close(pipefd[0]);
        *why = g_strdup_printf("creating a VM did not finish within %d ms", timeout_ms);
        return false;
    }
    int err = 0;
    if (read(pipefd[0], &err, sizeof(err)) != sizeof(err))
        err = 0;
    close(pipefd[0]);
    if (done < 0 || !WIFEXITED(status)) {
        *why = g_strdup("the probe process failed");
        return false;
    }
    const char *msg = err ? g_strerror(err) : "unexpected answer";
    switch (WEXITSTATUS(status)) {
    case PROBE_OK:
        return true;
    case PROBE_OPEN:
        *why = g_strdup_printf("/dev/kvm: %s", msg);
        break;
    case PROBE_API:
        *why = g_strdup_printf("/dev/kvm: API version not %d (%s)", KVM_API_VERSION, msg);
        break;
    case PROBE_VM:
        *why = g_strdup_printf("KVM_CREATE_VM: %s", msg);
        break;
    case PROBE_VCPU:
        *why = g_strdup_printf("KVM_CREATE_VCPU: %s", msg);
        break;
    default:
        *why = g_strdup_printf("a vCPU did not run (%s)", err ? msg : "no halt exit");
        break;
    }
    return false;
}

bool spicegl_kvm_probe_qemu(const char *qemu, int timeout_ms, char **why)
{
    const char *argv[] = {qemu,       "-accel",      "kvm",
                          "-cpu",     "host",        "-machine",
                          "q35",      "-nodefaults", "-no-user-config",
                          "-display", "none",        "-S",
                          "-monitor", "none",        "-serial",
                          "none",     "-qmp",        "stdio",
                          NULL};
    static const char commands[] = "{\"execute\":\"qmp_capabilities\"}\n"
                                   "{\"execute\":\"query-kvm\"}\n"
                                   "{\"execute\":\"quit\"}\n";
    g_autoptr(GError) error = NULL;
    *why = NULL;
    g_autoptr(GSubprocess) p =
        g_subprocess_newv(argv,
                          G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                              G_SUBPROCESS_FLAGS_STDERR_MERGE,
                          &error);
    if (!p) {
        *why = g_strdup(error->message);
        return false;
    }
    GOutputStream *in = g_subprocess_get_stdin_pipe(p);
    bool written = g_output_stream_write_all(in, commands, sizeof(commands) - 1, NULL, NULL, NULL);
    g_output_stream_close(in, NULL, NULL);
    for (int waited = 0; waited <= timeout_ms && g_subprocess_get_identifier(p); waited += 10)
        g_usleep(10 * 1000);
    if (g_subprocess_get_identifier(p)) {
        g_subprocess_force_exit(p);
        g_subprocess_wait(p, NULL, NULL);
        *why = g_strdup_printf("QEMU did not start a KVM machine within %d ms", timeout_ms);
        return false;
    }
    /* QEMU has exited: what it wrote is all in the pipe (a few lines). */
    char out[16384];
    gsize n = 0;
    g_input_stream_read_all(g_subprocess_get_stdout_pipe(p), out, sizeof(out) - 1, &n, NULL, NULL);
    out[n] = '\0';
    if (written && g_subprocess_get_if_exited(p) && g_subprocess_get_exit_status(p) == 0 &&
        strstr(out, "\"enabled\": true"))
        return true;
    /* QEMU's complaint: its first line that is not QMP's JSON. */
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    const char *first = NULL;
    for (char **l = lines; *l && !first; l++)
        if (**l && **l != '{')
            first = *l;
    *why = g_strdup(first ? first : "QEMU did not report KVM enabled");
    return false;
}
