#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <ucontext.h>
#include <unistd.h>

#include <seccomp.h>

#define SANDBOX_ERROR (g_quark_from_static_string("sgl-sandbox"))

/* Instrumented builds report through a symbolizer the sanitizer runtime
 * spawns: there, exec and friends fail instead of killing, so a report
 * still comes out (unsymbolized). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANDBOX_FATAL SCMP_ACT_ERRNO(EPERM)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_FATAL SCMP_ACT_ERRNO(EPERM)
#endif
#endif
#ifndef SANDBOX_FATAL
#define SANDBOX_FATAL SCMP_ACT_KILL_PROCESS
#endif

bool sgl_sandbox_drop_user(const char *user, GError **error)
{
    char *end;
    errno = 0;
    struct passwd *pw = getpwnam(user);
    unsigned long uid = strtoul(user, &end, 10);
    if (!pw && *user && !*end)
        pw = getpwuid((uid_t)uid);
    if (!pw) {
        g_set_error(error, SANDBOX_ERROR, 0, "--user %s: no such user%s%s", user, errno ? ": " : "",
                    errno ? g_strerror(errno) : "");
        return false;
    }
    if (pw->pw_uid == 0) {
        g_set_error(error, SANDBOX_ERROR, 0, "--user %s is root: name an unprivileged user", user);
        return false;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
        setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
        g_set_error(error, SANDBOX_ERROR, 0,
                    "--user %s: cannot become that user (%s): run as root, "
                    "or leave --user out and start the daemon as the user",
                    user, g_strerror(errno));
        return false;
    }
    /* No way back: a process that can regain root has not dropped it. */
    if (setuid(0) == 0 || seteuid(0) == 0) {
        g_set_error(error, SANDBOX_ERROR, 0, "--user %s: root could be regained", user);
        return false;
    }
    return true;
}

/* Only async-signal-safe calls here. */
static void on_sigsys(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    char msg[96] = "spicegl-gpu: sandbox: denied system call ";
    size_t n = strlen(msg);
    char digits[12];
    int d = 0;
    unsigned v = (unsigned)info->si_syscall;
    do {
        digits[d++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && d < (int)sizeof(digits));
    while (d)
        msg[n++] = digits[--d];
    memcpy(msg + n, " (EPERM)\n", 9);
    n += 9;
    ssize_t w = write(STDERR_FILENO, msg, n);
    (void)w;
    ucontext_t *uc = context;
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
    uc->uc_mcontext.regs[0] = (unsigned long long)-EPERM;
#else
    (void)uc;
#endif
}

#if defined(__x86_64__) || defined(__aarch64__)
#define SANDBOX_DEFAULT SCMP_ACT_TRAP
#else
#define SANDBOX_DEFAULT SCMP_ACT_ERRNO(EPERM)
#endif

/* What the daemon calls once it runs: GLib's loops and threads, sockets it
 * already has, spice-server, x264, virglrenderer and Mesa's llvmpipe (its
 * JIT maps executable memory), and QMP and D-Bus over unix sockets. */
static const int allowed[] = {
    /* I/O on descriptors it has */
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(pread64),
    SCMP_SYS(pwrite64),
    SCMP_SYS(preadv),
    SCMP_SYS(pwritev),
    SCMP_SYS(close),
    SCMP_SYS(close_range),
    SCMP_SYS(lseek),
    SCMP_SYS(fcntl),
    SCMP_SYS(dup),
    SCMP_SYS(dup2),
    SCMP_SYS(dup3),
    SCMP_SYS(pipe2),
    SCMP_SYS(eventfd2),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(statx),
    SCMP_SYS(fstatfs),
    SCMP_SYS(statfs),
    SCMP_SYS(getdents64),
    SCMP_SYS(readlink),
    SCMP_SYS(readlinkat),
    SCMP_SYS(access),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2),
    SCMP_SYS(getcwd),
    SCMP_SYS(uname),
    SCMP_SYS(sysinfo),
    /* the render node's requests; the terminal filter below refuses the
     * ones that type into a terminal */
    SCMP_SYS(ioctl),
    /* frames to QEMU's console */
    SCMP_SYS(memfd_create),
    SCMP_SYS(ftruncate),
    SCMP_SYS(fallocate),
    /* waiting */
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(select),
    SCMP_SYS(pselect6),
    SCMP_SYS(epoll_create1),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_pwait2),
    SCMP_SYS(timerfd_create),
    SCMP_SYS(timerfd_settime),
    SCMP_SYS(timerfd_gettime),
    /* sockets: clients, QEMU, QMP, D-Bus */
    SCMP_SYS(accept),
    SCMP_SYS(accept4),
    SCMP_SYS(connect),
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendmmsg),
    SCMP_SYS(recvmmsg),
    SCMP_SYS(sendto),
    SCMP_SYS(recvfrom),
    SCMP_SYS(shutdown),
    SCMP_SYS(getsockopt),
    SCMP_SYS(setsockopt),
    SCMP_SYS(getsockname),
    SCMP_SYS(getpeername),
    /* memory */
    SCMP_SYS(brk),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mremap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(membarrier),
    SCMP_SYS(get_mempolicy),
    /* threads, time, signals, identity */
    SCMP_SYS(futex),
    SCMP_SYS(futex_waitv),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(get_robust_list),
    SCMP_SYS(rseq),
    SCMP_SYS(set_tid_address),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(sched_yield),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(sched_getparam),
    SCMP_SYS(sched_getscheduler),
    SCMP_SYS(sched_getattr),
    SCMP_SYS(getpriority),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_getres),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(time),
    SCMP_SYS(getrusage),
    SCMP_SYS(times),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(getppid),
    SCMP_SYS(getuid),
    SCMP_SYS(geteuid),
    SCMP_SYS(getgid),
    SCMP_SYS(getegid),
    SCMP_SYS(getresuid),
    SCMP_SYS(getresgid),
    SCMP_SYS(getgroups),
    SCMP_SYS(getrandom),
    SCMP_SYS(getrlimit),
};

/* What only an exploit wants: the process dies. */
static const int fatal[] = {
    SCMP_SYS(execve),
    SCMP_SYS(execveat),
    SCMP_SYS(fork),
    SCMP_SYS(vfork),
    SCMP_SYS(ptrace),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev),
    SCMP_SYS(mount),
    SCMP_SYS(umount2),
    SCMP_SYS(pivot_root),
    SCMP_SYS(chroot),
    SCMP_SYS(unshare),
    SCMP_SYS(setns),
    SCMP_SYS(init_module),
    SCMP_SYS(finit_module),
    SCMP_SYS(delete_module),
    SCMP_SYS(kexec_load),
    SCMP_SYS(kexec_file_load),
    SCMP_SYS(bpf),
    SCMP_SYS(perf_event_open),
    SCMP_SYS(setuid),
    SCMP_SYS(setgid),
    SCMP_SYS(setreuid),
    SCMP_SYS(setregid),
    SCMP_SYS(setresuid),
    SCMP_SYS(setresgid),
    SCMP_SYS(setgroups),
    SCMP_SYS(capset),
    SCMP_SYS(personality),
    SCMP_SYS(keyctl),
    SCMP_SYS(add_key),
    SCMP_SYS(request_key),
    SCMP_SYS(userfaultfd),
    SCMP_SYS(swapon),
    SCMP_SYS(swapoff),
    SCMP_SYS(reboot),
    SCMP_SYS(iopl),
    SCMP_SYS(ioperm),
    SCMP_SYS(open_by_handle_at),
    SCMP_SYS(name_to_handle_at),
    SCMP_SYS(settimeofday),
    SCMP_SYS(clock_settime),
};

/* The open flags that write, append, create, truncate or make an unnamed
 * file (O_TMPFILE without the O_DIRECTORY it shares with opendir). */
#define OPEN_WRITING (O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY))

static int add_rules(scmp_filter_ctx f)
{
    int rc = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(allowed) && rc == 0; i++)
        rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, allowed[i], 0);
    for (size_t i = 0; i < G_N_ELEMENTS(fatal) && rc == 0; i++)
        rc = seccomp_rule_add(f, SANDBOX_FATAL, fatal[i], 0);
    if (rc)
        return rc;
    const scmp_datum_t ns = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                            CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
    const scmp_datum_t pid = (scmp_datum_t)getpid();
    /* Threads, not processes, and no namespaces. clone3 keeps its flags in
     * memory a filter cannot read: ENOSYS makes glibc use clone. */
    if ((rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, ns | CLONE_THREAD, CLONE_THREAD))) ||
        (rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) ||
        /* Opening for reading only: Mesa reads /sys and /proc. Writing,
         * appending, creating, truncating and unnamed files trap, and so
         * do the older open and creat (glibc opens with openat). openat2
         * keeps its flags in memory: ENOSYS makes callers use openat. */
        (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                               SCMP_A2(SCMP_CMP_MASKED_EQ, OPEN_WRITING, 0))) ||
        (rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0)) ||
        /* Unix sockets only: QMP reconnecting, D-Bus's socket pair. */
        (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                               SCMP_A0(SCMP_CMP_EQ, AF_UNIX))) ||
        (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
                               SCMP_A0(SCMP_CMP_EQ, AF_UNIX))) ||
        /* Signals to itself only (raise, abort). */
        (rc =
             seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, pid))) ||
        (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_EQ, pid))) ||
        /* Reading limits, not raising them. */
        (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
                               SCMP_A2(SCMP_CMP_EQ, 0))) ||
        /* GLib's thread-pool threads copy their creator's scheduling onto
         * themselves and take EPERM quietly: no scheduling changes, and no
         * log line for each thread. */
        (rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(sched_setattr), 0)) ||
        /* Thread names (GLib, Mesa). */
        (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                               SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME))) ||
        (rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                               SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME))))
        return rc;
    return 0;
}

/* Requests that type into a terminal: TIOCSTI pushes input, TIOCLINUX
 * pastes the console's selection. The kernel reads an ioctl's request as
 * 32 bits, so the filter compares the low 32 only: compared whole,
 * TIOCSTI | 1 << 32 would pass and still run (CVE-2019-10063). */
static const scmp_datum_t terminal_ioctls[] = {TIOCSTI, TIOCLINUX};

/* A filter of their own: in one filter libseccomp lets an unconditional
 * allow absorb a conditional rule for the same call, and refuses a rule
 * whose action is the default one. This filter allows everything else, the
 * main one allows ioctl, and the kernel, running both, takes the stricter
 * answer. */
static int add_terminal_rules(scmp_filter_ctx f)
{
    int rc = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(terminal_ioctls) && rc == 0; i++)
        rc = seccomp_rule_add(f, SANDBOX_DEFAULT, SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffff, terminal_ioctls[i]));
    return rc;
}

/* Builds a filter and loads it on every thread; *step names what failed. */
static int load_filter(uint32_t default_action, int (*add)(scmp_filter_ctx), const char **step)
{
    scmp_filter_ctx f = seccomp_init(default_action);
    int rc = f ? 0 : -ENOMEM;
    *step = "init";
    if (rc == 0 && (rc = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1)))
        *step = "thread sync";
    if (rc == 0 && (rc = add(f)))
        *step = "rules";
    if (rc == 0 && (rc = seccomp_load(f)))
        *step = "load";
    seccomp_release(f);
    return rc;
}

bool sgl_sandbox_enter(GError **error)
{
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0) {
        g_set_error(error, SANDBOX_ERROR, 0, "sandbox: SIGSYS: %s", g_strerror(errno));
        return false;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        g_set_error(error, SANDBOX_ERROR, 0, "sandbox: no_new_privs: %s", g_strerror(errno));
        return false;
    }
    /* The terminal filter first: the main one forbids loading another. */
    const char *step = NULL;
    int rc = load_filter(SCMP_ACT_ALLOW, add_terminal_rules, &step);
    if (rc == 0)
        rc = load_filter(SANDBOX_DEFAULT, add_rules, &step);
    if (rc) {
        g_set_error(error, SANDBOX_ERROR, 0,
                    "sandbox: seccomp %s: %s (a kernel without seccomp filters: run with "
                    "--sandbox off)",
                    step, g_strerror(-rc));
        return false;
    }
    return true;
}
