/* The sandbox in a child process: what the daemon needs still works
 * (threads, pipes, unix sockets, reading files), what it does not need
 * fails with EPERM and is logged, and exec kills the process. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "spice-gl/sandbox.h"
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
    STEP_EXEC_RETURNED
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
static int child(bool try_exec)
{
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

/* Runs child() in a fork; its stderr in *err (owned by the caller). */
static int run_child(bool try_exec, char **err)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        _exit(child(try_exec));
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

static void test_needed_calls_work_others_fail(void **state)
{
    (void)state;
    g_autofree char *err = NULL;
    int status = run_child(false, &err);
    print_message("# child's stderr: %s", err);
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

static void test_exec_kills(void **state)
{
    (void)state;
    g_autofree char *err = NULL;
    int status = run_child(true, &err);
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
        cmocka_unit_test(test_exec_kills),
        cmocka_unit_test(test_user),
    };
    return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
