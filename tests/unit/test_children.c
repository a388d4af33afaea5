/* tests/unit/test_children.c — cluster/children.h on real child processes: ones that stop on
 * SIGTERM are reaped without a kill, one that ignores it is killed after the wait and named,
 * and nothing outlives the call. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster/children.h"

/* A child that sleeps until a signal ends it; one that ignores SIGTERM if stubborn. It has
 * set that up when this returns (it says so through a pipe). */
static pid_t s_child(int stubborn)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (stubborn)
            signal(SIGTERM, SIG_IGN);
        char c = 1;
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    close(ready[1]);
    return pid;
}

static size_t g_named[4];
static pid_t g_named_pid[4];
static size_t g_nnamed;

static void s_on_killed(size_t i, pid_t pid, void *arg)
{
    assert_ptr_equal(arg, &g_nnamed);
    g_named[g_nnamed] = i;
    g_named_pid[g_nnamed++] = pid;
}

static long s_ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_children_that_stop_are_reaped_without_a_kill(void **state)
{
    (void)state;
    g_nnamed = 0;
    pid_t pids[3] = {s_child(0), 0, s_child(0)};
    pid_t first = pids[0], last = pids[2];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(children_stop(pids, 3, 5000, s_on_killed, &g_nnamed), 0);
    assert_true(s_ms_since(&t0) < 2000); /* not the whole wait */
    assert_int_equal(g_nnamed, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pids[i], 0);
    assert_int_equal(waitpid(first, NULL, WNOHANG), -1); /* reaped already */
    assert_int_equal(waitpid(last, NULL, WNOHANG), -1);
}

static void test_a_child_ignoring_sigterm_is_killed_after_the_wait(void **state)
{
    (void)state;
    g_nnamed = 0;
    pid_t pids[2] = {s_child(0), s_child(1)};
    pid_t stubborn = pids[1];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(children_stop(pids, 2, 300, s_on_killed, &g_nnamed), 1);
    long took = s_ms_since(&t0);
    assert_true(took >= 300 && took < 3000);
    assert_int_equal(g_nnamed, 1);
    assert_int_equal(g_named[0], 1);
    assert_int_equal(g_named_pid[0], stubborn);
    assert_int_equal(pids[0], 0);
    assert_int_equal(pids[1], 0);
    assert_int_equal(kill(stubborn, 0), -1); /* gone, and reaped */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_children_that_stop_are_reaped_without_a_kill),
        cmocka_unit_test(test_a_child_ignoring_sigterm_is_killed_after_the_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
