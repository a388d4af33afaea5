/* tests/support/procs.h — child processes for integration tests: spawn with stdout+stderr on a
 * pipe, read lines without blocking, kill only our own pids, bounded waits. Header-only. */
#ifndef ROOST_TEST_PROCS_H
#define ROOST_TEST_PROCS_H

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { PROC_BUF_BYTES = 1 << 16 };

typedef struct {
    pid_t pid;
    int out_fd;
    char buf[PROC_BUF_BYTES];
    size_t len;
    FILE *log; /* every line read is copied here (for the test's failure report) */
} proc_t;

static inline uint64_t proc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void proc_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* argv is NULL-terminated; the child's stdout and stderr both go to the pipe. */
static inline bool proc_spawn(proc_t *p, char *const argv[], const char *log_path)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    p->pid = pid;
    p->out_fd = fds[0];
    p->len = 0;
    p->log = log_path ? fopen(log_path, "a") : NULL;
    return true;
}

/* Calls fn(arg, line) for every complete line available now. */
static inline void proc_read_lines(proc_t *p, void (*fn)(void *arg, const char *line), void *arg)
{
    if (p->out_fd < 0)
        return;
    for (;;) {
        ssize_t n = read(p->out_fd, p->buf + p->len, sizeof p->buf - 1 - p->len);
        if (n <= 0)
            break;
        p->len += (size_t)n;
        p->buf[p->len] = '\0';
        char *start = p->buf, *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            if (p->log)
                fprintf(p->log, "%s\n", start);
            fn(arg, start);
            start = nl + 1;
        }
        if (p->log)
            fflush(p->log); /* tests read the logs while the node runs */
        p->len -= (size_t)(start - p->buf);
        memmove(p->buf, start, p->len);
        if (p->len == sizeof p->buf - 1)
            p->len = 0; /* an absurdly long line: drop it rather than stall */
    }
}

static inline void proc_ignore_line(void *arg, const char *line)
{
    (void)arg, (void)line;
}

/* Sends sig to our child and reaps it (bounded: SIGKILL after wait_ms). Returns its status. */
static inline int proc_stop(proc_t *p, int sig, long wait_ms)
{
    int status = -1;
    if (p->pid <= 0)
        return status;
    kill(p->pid, sig);
    for (long waited = 0; waited < wait_ms; waited += 20) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid)
            goto out_reaped;
        proc_sleep_ms(20);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
out_reaped:
    p->pid = 0;
    proc_read_lines(p, proc_ignore_line, NULL); /* what it wrote last, into its log */
    close(p->out_fd);
    p->out_fd = -1;
    if (p->log)
        fclose(p->log);
    p->log = NULL;
    return status;
}

#endif
