/* cluster/children.c — bounded stop of our child processes (children.h). */
#include "cluster/children.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

enum { POLL_MS = 50 };

/* Reaps what has exited; returns how many still run. */
static size_t s_reap(pid_t *pids, size_t n)
{
    size_t running = 0;
    for (size_t i = 0; i < n; i++) {
        if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) != 0)
            pids[i] = 0; /* exited (or not ours to wait for) */
        running += pids[i] > 0;
    }
    return running;
}

size_t children_stop(pid_t *pids, size_t n, int wait_ms, children_killed_fn on_killed, void *arg)
{
    for (size_t i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    struct timespec tick = {0, POLL_MS * 1000000L};
    for (int waited = 0; waited < wait_ms && s_reap(pids, n) > 0; waited += POLL_MS)
        nanosleep(&tick, NULL);
    size_t killed = 0;
    for (size_t i = 0; i < n; i++) {
        if (pids[i] <= 0 || waitpid(pids[i], NULL, WNOHANG) != 0) {
            pids[i] = 0;
            continue;
        }
        kill(pids[i], SIGKILL);
        waitpid(pids[i], NULL, 0);
        if (on_killed)
            on_killed(i, pids[i], arg);
        pids[i] = 0;
        killed++;
    }
    return killed;
}
