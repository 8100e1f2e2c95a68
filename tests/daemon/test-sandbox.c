/* The sandbox in a child process: what the daemon needs still works
 * (threads, pipes, unix sockets, reading files, ioctls), what it does not
 * need fails with EPERM and is logged (writing, creating, renaming,
 * removing or changing files, typing into a terminal), and exec kills the
 * process. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "daemon/sandbox.h"
#include "tests/test-util.h"

/* Child exit codes: 0 all as expected, else the failed step. */
enum {
    STEP_ENTER = 10,
    STEP_STATUS,
    STEP_THREAD,
    STEP_PIPE,
    STEP_UNIX,
    STEP_READ,
    STEP_INET,
    STEP_CREATE,
    STEP_EXEC_RETURNED,
    STEP_DENIED,
    STEP_ALLOWED
};

static void *thread_main(void *arg)
{
    *(int *)arg = 42;
    return NULL;
}

static bool status_has(const char *line)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    return strstr(buf, line) != NULL;
}

/* In the child: enter, then try each thing. */
static int child(const void *data)
{
    bool try_exec = *(const bool *)data;
    GError *error = NULL;
    if (!sgl_sandbox_enter(&error)) {
        fprintf(stderr, "%s\n", error->message);
        return STEP_ENTER;
    }
    if (!status_has("NoNewPrivs:\t1") || !status_has("Seccomp:\t2"))
        return STEP_STATUS;
    /* glibc starts threads with clone3, which the filter turns into ENOSYS
     * so that it falls back on clone. */
    pthread_t t;
    int value = 0;
    if (pthread_create(&t, NULL, thread_main, &value) != 0 || pthread_join(t, NULL) != 0 ||
        value != 42)
        return STEP_THREAD;
    int p[2];
    char c = 'x';
    if (pipe2(p, O_CLOEXEC) < 0 || write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1)
        return STEP_PIPE;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return STEP_UNIX;
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return STEP_READ;
    close(fd);
    /* Not needed once started: a new internet socket, creating files. */
    errno = 0;
    if (socket(AF_INET, SOCK_STREAM, 0) >= 0 || errno != EPERM)
        return STEP_INET;
    errno = 0;
    if (open("/tmp/sgl-sandbox-test-created", O_CREAT | O_WRONLY, 0600) >= 0 || errno != EPERM)
        return STEP_CREATE;
    if (try_exec) {
        char *argv[] = {"/bin/true", NULL};
        execve(argv[0], argv, environ);
        return STEP_EXEC_RETURNED;
    }
    return 0;
}

/* Runs body(data) in a fork; its stderr in *err (owned by the caller). */
static int run_child(int (*body)(const void *data), const void *data, char **err)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        _exit(body(data));
    }
    close(p[1]);
    GString *s = g_string_new(NULL);
    char buf[512];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof(buf))) > 0)
        g_string_append_len(s, buf, n);
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *err = g_string_free(s, FALSE);
    return status;
}

/* The child's stderr as TAP comments, a line at a time (print_message
 * truncates long messages). */
static void print_child_stderr(const char *err)
{
    g_auto(GStrv) lines = g_strsplit(err, "\n", -1);
    for (char **l = lines; *l; l++)
        if (**l)
            print_message("# child's stderr: %s\n", *l);
}

static void test_needed_calls_work_others_fail(void **state)
{
    (void)state;
    g_autofree char *err = NULL;
    bool try_exec = false;
    int status = run_child(child, &try_exec, &err);
    print_child_stderr(err);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The denied calls are named: socket is 41, openat 257 on x86-64. */
#if defined(__x86_64__)
    assert_non_null(strstr(err, "sandbox: denied system call 41 (EPERM)"));
    assert_non_null(strstr(err, "sandbox: denied system call 257 (EPERM)"));
#else
    assert_non_null(strstr(err, "sandbox: denied system call"));
#endif
    assert_false(g_file_test("/tmp/sgl-sandbox-test-created", G_FILE_TEST_EXISTS));
}

/* A system call the sandbox must refuse with EPERM and log. */
struct attempt {
    const char *call;
    long nr;
    long arg[5];
};

/* The call's name, its number and its arguments. */
#define ATTEMPT(sys, ...) ((struct attempt){.call = #sys, .nr = (sys), .arg = {__VA_ARGS__}})

struct attempts {
    const struct attempt *attempt;
    size_t n;
    const char *dir; /* a directory to open */
    int pipe_fd;     /* not a terminal */
};

/* In the child: enter, make each attempt, then the calls that must still
 * work. Failures are named on stderr. */
static int child_denied(const void *data)
{
    const struct attempts *a = data;
    GError *error = NULL;
    if (!sgl_sandbox_enter(&error)) {
        fprintf(stderr, "%s\n", error->message);
        return STEP_ENTER;
    }
    int failed = 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct attempt *t = &a->attempt[i];
        errno = 0;
        long r = syscall(t->nr, t->arg[0], t->arg[1], t->arg[2], t->arg[3], t->arg[4]);
        if (r != -1 || errno != EPERM) {
            fprintf(stderr, "not denied: %s (args %#lx %#lx %#lx): returned %ld, %s\n", t->call,
                    (unsigned long)t->arg[0], (unsigned long)t->arg[1], (unsigned long)t->arg[2], r,
                    strerror(errno));
            failed++;
        }
    }
    if (failed)
        return STEP_DENIED;
    /* Still allowed: other requests on any descriptor (a pipe is no
     * terminal: ENOTTY from the kernel, not EPERM from the filter), opening
     * a directory to read it. openat2 answers ENOSYS, quietly. */
    int queued = -1;
    int dir_fd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    unsigned long winsz_request = TIOCGWINSZ;
#if ULONG_MAX > 0xffffffffUL
    winsz_request |= 1ul << 32;
#endif
    errno = 0;
    long winsz = syscall(SYS_ioctl, a->pipe_fd, winsz_request, &queued);
    int winsz_errno = errno;
    errno = 0;
#ifdef SYS_openat2
    long at2 = syscall(SYS_openat2, AT_FDCWD, a->dir, NULL, 0);
    int at2_errno = errno;
#else
    long at2 = -1;
    int at2_errno = ENOSYS;
#endif
    if (ioctl(a->pipe_fd, FIONREAD, &queued) != 0 || queued != 0 || dir_fd < 0 || winsz != -1 ||
        winsz_errno != ENOTTY || at2 != -1 || at2_errno != ENOSYS) {
        fprintf(stderr, "FIONREAD %d, directory fd %d, TIOCGWINSZ errno %d, openat2 errno %d\n",
                queued, dir_fd, winsz_errno, at2_errno);
        return STEP_ALLOWED;
    }
    close(dir_fd);
    return 0;
}

static size_t count(const char *haystack, const char *needle)
{
    size_t n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* After start-up the daemon writes only to descriptors it has: no file is
 * opened for writing (O_RDWR, O_APPEND and O_TMPFILE included), created,
 * removed, renamed, linked or changed, and no request types into a
 * terminal, whatever the request's upper 32 bits (the kernel ignores
 * them). Each attempt is refused with EPERM and logged. */
static void test_files_and_terminals_denied(void **state)
{
    (void)state;
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("sgl-sandbox-XXXXXX", &error);
    assert_non_null(dir);
    g_autofree char *file = g_build_filename(dir, "file", NULL);
    g_autofree char *subdir = g_build_filename(dir, "subdir", NULL);
    g_autofree char *other = g_build_filename(dir, "other", NULL);
    assert_true(g_file_set_contents(file, "kept", -1, &error));
    assert_int_equal(chmod(file, 0600), 0);
    assert_int_equal(mkdir(subdir, 0700), 0);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char c = 'x';
    const long f = (long)file, o = (long)other, uid = (long)getuid(), gid = (long)getgid();
    const struct attempt attempt[] = {
        ATTEMPT(SYS_openat, AT_FDCWD, f, O_RDWR),
        ATTEMPT(SYS_openat, AT_FDCWD, f, O_WRONLY | O_APPEND),
        ATTEMPT(SYS_openat, AT_FDCWD, f, O_RDWR | O_APPEND),
        ATTEMPT(SYS_openat, AT_FDCWD, f, O_RDONLY | O_APPEND),
        ATTEMPT(SYS_openat, AT_FDCWD, f, O_RDONLY | O_TRUNC),
        ATTEMPT(SYS_openat, AT_FDCWD, (long)dir, O_TMPFILE | O_RDWR, 0600),
        ATTEMPT(SYS_unlinkat, AT_FDCWD, f, 0),
        ATTEMPT(SYS_unlinkat, AT_FDCWD, (long)subdir, AT_REMOVEDIR),
        ATTEMPT(SYS_renameat2, AT_FDCWD, f, AT_FDCWD, o, 0),
        ATTEMPT(SYS_linkat, AT_FDCWD, f, AT_FDCWD, o, 0),
        ATTEMPT(SYS_symlinkat, f, AT_FDCWD, o),
        ATTEMPT(SYS_fchmod, fd, 0777),
        ATTEMPT(SYS_fchmodat, AT_FDCWD, f, 0777),
        ATTEMPT(SYS_fchown, fd, uid, gid),
        ATTEMPT(SYS_fchownat, AT_FDCWD, f, uid, gid, 0),
        ATTEMPT(SYS_mknodat, AT_FDCWD, o, S_IFIFO | 0600, 0),
        ATTEMPT(SYS_mkdirat, AT_FDCWD, o, 0700),
        ATTEMPT(SYS_truncate, f, 0),
        ATTEMPT(SYS_utimensat, AT_FDCWD, f, 0, 0),
        ATTEMPT(SYS_ioctl, p[0], (long)TIOCSTI, (long)&c),
        ATTEMPT(SYS_ioctl, p[0], (long)TIOCLINUX, (long)&c),
#if ULONG_MAX > 0xffffffffUL
        ATTEMPT(SYS_ioctl, p[0], (long)(TIOCSTI | 1ul << 32), (long)&c),
        ATTEMPT(SYS_ioctl, p[0], (long)(TIOCSTI | 0xffffffff00000000ul), (long)&c),
        ATTEMPT(SYS_ioctl, p[0], (long)(TIOCLINUX | 1ul << 32), (long)&c),
#endif
    /* The older calls, where the architecture has them. */
#ifdef SYS_open
        ATTEMPT(SYS_open, f, O_RDWR),
#endif
#ifdef SYS_creat
        ATTEMPT(SYS_creat, o, 0600),
#endif
#ifdef SYS_unlink
        ATTEMPT(SYS_unlink, f),
#endif
#ifdef SYS_rmdir
        ATTEMPT(SYS_rmdir, (long)subdir),
#endif
#ifdef SYS_rename
        ATTEMPT(SYS_rename, f, o),
#endif
#ifdef SYS_renameat
        ATTEMPT(SYS_renameat, AT_FDCWD, f, AT_FDCWD, o),
#endif
#ifdef SYS_link
        ATTEMPT(SYS_link, f, o),
#endif
#ifdef SYS_symlink
        ATTEMPT(SYS_symlink, f, o),
#endif
#ifdef SYS_chmod
        ATTEMPT(SYS_chmod, f, 0777),
#endif
#ifdef SYS_chown
        ATTEMPT(SYS_chown, f, uid, gid),
#endif
#ifdef SYS_lchown
        ATTEMPT(SYS_lchown, f, uid, gid),
#endif
#ifdef SYS_mknod
        ATTEMPT(SYS_mknod, o, S_IFIFO | 0600, 0),
#endif
#ifdef SYS_mkdir
        ATTEMPT(SYS_mkdir, o, 0700),
#endif
#ifdef SYS_utimes
        ATTEMPT(SYS_utimes, f, 0),
#endif
#ifdef SYS_utime
        ATTEMPT(SYS_utime, f, 0),
#endif
#ifdef SYS_futimesat
        ATTEMPT(SYS_futimesat, AT_FDCWD, f, 0),
#endif
    };
    const struct attempts a = {attempt, G_N_ELEMENTS(attempt), dir, p[0]};
    g_autofree char *err = NULL;
    int status = run_child(child_denied, &a, &err);
    print_child_stderr(err);
    close(p[0]);
    close(p[1]);
    close(fd);
    /* Each attempt is logged: its call's number, once per attempt at least. */
    for (size_t i = 0; i < G_N_ELEMENTS(attempt); i++) {
        size_t expected = 0;
        for (size_t j = 0; j < G_N_ELEMENTS(attempt); j++)
            expected += attempt[j].nr == attempt[i].nr;
        g_autofree char *line =
            g_strdup_printf("sandbox: denied system call %ld (EPERM)\n", attempt[i].nr);
        if (count(err, line) < expected)
            fail_msg("%s: %zu of %zu attempts logged", attempt[i].call, count(err, line), expected);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Nothing changed: the file, its mode, the directory's entries. */
    g_autofree char *contents = NULL;
    assert_true(g_file_get_contents(file, &contents, NULL, &error));
    assert_string_equal(contents, "kept");
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_true(g_file_test(subdir, G_FILE_TEST_IS_DIR));
    assert_false(g_file_test(other, G_FILE_TEST_EXISTS));
    g_autoptr(GDir) d = g_dir_open(dir, 0, &error);
    assert_non_null(d);
    int entries = 0;
    while (g_dir_read_name(d))
        entries++;
    assert_int_equal(entries, 2);
    assert_int_equal(unlink(file), 0);
    assert_int_equal(rmdir(subdir), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_exec_kills(void **state)
{
    (void)state;
    g_autofree char *err = NULL;
    bool try_exec = true;
    int status = run_child(child, &try_exec, &err);
    if (sgl_test_sanitizers()) {
        /* Instrumented, exec fails instead (the runtime's symbolizer). */
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), STEP_EXEC_RETURNED);
    } else {
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGSYS);
    }
}

static void test_user(void **state)
{
    (void)state;
    g_autoptr(GError) error = NULL;
    assert_false(sgl_sandbox_drop_user("no-such-user-sgl", &error));
    assert_non_null(strstr(error->message, "no such user"));
    g_clear_error(&error);
    assert_false(sgl_sandbox_drop_user("root", &error));
    assert_non_null(strstr(error->message, "unprivileged"));
    g_clear_error(&error);
    SGL_REQUIRE(geteuid() == 0, "dropping to another user needs root");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        GError *e = NULL;
        if (!sgl_sandbox_drop_user("nobody", &e))
            _exit(1);
        if (getuid() != 65534 || geteuid() != 65534 || getgid() == 0 || getegid() == 0)
            _exit(2);
        gid_t groups[8];
        int n = getgroups(8, groups);
        for (int i = 0; i < n; i++)
            if (groups[i] == 0)
                _exit(3);
        _exit(setuid(0) == 0 ? 4 : 0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_needed_calls_work_others_fail),
        cmocka_unit_test(test_files_and_terminals_denied),
        cmocka_unit_test(test_exec_kills),
        cmocka_unit_test(test_user),
    };
    return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
