/* bench/bench_util.c — see bench.h. */
#include "bench/bench.h"
#include "cluster/children.h"

#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *bench_opt(int argc, char **argv, const char *name)
{
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

uint64_t bench_opt_u64(int argc, char **argv, const char *name, uint64_t def)
{
    const char *v = bench_opt(argc, argv, name);
    if (!v)
        return def;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*v == '\0' || *end != '\0' || *v == '-') {
        fprintf(stderr, "roost-bench: %s wants a whole number, got \"%s\"\n", name, v);
        exit(2);
    }
    return n;
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

void bench_progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("roost-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint64_t s_bucket(uint64_t us)
{
    if (us < LAT_FINE)
        return us;
    uint64_t coarse = LAT_FINE + (us - LAT_FINE) / 1000;
    return coarse < LAT_BUCKETS ? coarse : LAT_BUCKETS;
}

/* The middle of bucket i, in microseconds. */
static double s_bucket_us(uint64_t i)
{
    if (i < LAT_FINE)
        return (double)i + 0.5;
    return (double)LAT_FINE + ((double)(i - LAT_FINE) + 0.5) * 1000.0;
}

void lat_record(lat_hist_t *h, uint64_t ns)
{
    atomic_fetch_add_explicit(&h->b[s_bucket(ns / 1000)], 1, memory_order_relaxed);
}

double lat_quantile_us(lat_hist_t *h, double q)
{
    uint64_t total = 0;
    for (int i = 0; i <= LAT_BUCKETS; i++)
        total += atomic_load_explicit(&h->b[i], memory_order_relaxed);
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)total), seen = 0;
    for (int i = 0; i <= LAT_BUCKETS; i++) {
        seen += atomic_load_explicit(&h->b[i], memory_order_relaxed);
        if (seen > want)
            return s_bucket_us((uint64_t)i);
    }
    return s_bucket_us(LAT_BUCKETS);
}

pid_t bench_spawn_tool(const char *tool, const char *env, char *const args[], const char *log)
{
    char path[PATH_MAX], self[PATH_MAX];
    const char *given = getenv(env);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (given || n <= 0) {
        snprintf(path, sizeof path, "%s", given ? given : tool);
    } else {
        self[n] = '\0';
        snprintf(path, sizeof path, "%s/../cluster/%s", dirname(self), tool);
    }
    char *argv[16] = {path};
    for (int i = 0; args[i] && i < 14; i++)
        argv[i + 1] = args[i];
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr))
            _exit(126);
        execv(path, argv);
        _exit(127);
    }
    return pid;
}

pid_t bench_spawn_roostd(const char *manifest, const char *node, const char *dir)
{
    char log[PATH_MAX];
    snprintf(log, sizeof log, "%s/%s.log", dir, node);
    char *args[] = {"--manifest", (char *)manifest, "--node",       (char *)node, "--data-root",
                    (char *)dir,  "--log-level",    (char *)"warn", NULL};
    return bench_spawn_tool("roostd", "ROOSTD", args, log);
}

/* Names a node that had to be killed (children_killed_fn). */
static void s_name_killed(size_t i, pid_t pid, void *what)
{
    bench_progress("%s%zu (pid %d) did not stop within %d ms of SIGTERM: killed",
                   (const char *)what, i, (int)pid, BENCH_STOP_WAIT_MS);
}

void bench_stop_children(pid_t *pids, size_t n, const char *what)
{
    children_stop(pids, n, BENCH_STOP_WAIT_MS, s_name_killed, (void *)what);
}
