/* bench/bench_util.c — see bench.h. */
#include "bench/bench.h"
#include "cluster/children.h"

#include <inttypes.h>
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

void bench_atomic_max(_Atomic uint64_t *max, uint64_t v)
{
    for (uint64_t m = atomic_load(max); v > m && !atomic_compare_exchange_weak(max, &m, v);)
        ;
}

void bench_timeline_start(bench_timeline_t *t, uint64_t window_ns, uint64_t slow_ns)
{
    for (size_t i = 0; i < TIMELINE_WINDOWS_MAX; i++)
        t->w[i] = (bench_window_t){0};
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    t->t0_unix_us = (uint64_t)wall.tv_sec * 1000000u + (uint64_t)wall.tv_nsec / 1000u;
    t->window_ns = window_ns;
    t->slow_ns = slow_ns;
    t->t0_ns = bench_now_ns();
}

void bench_timeline_record(bench_timeline_t *t, uint64_t sent_ns, uint64_t took_ns)
{
    uint64_t t0 = t->t0_ns;
    if (!t0 || sent_ns < t0 || (sent_ns - t0) / t->window_ns >= TIMELINE_WINDOWS_MAX)
        return;
    bench_window_t *w = &t->w[(sent_ns - t0) / t->window_ns];
    atomic_fetch_add_explicit(&w->count, 1, memory_order_relaxed);
    if (took_ns > t->slow_ns)
        atomic_fetch_add_explicit(&w->slow, 1, memory_order_relaxed);
    bench_atomic_max(&w->max_ns, took_ns);
}

void bench_timeline_print(const bench_timeline_t *t, uint64_t span_ns)
{
    if (!t->t0_ns)
        return;
    char over[24];
    snprintf(over, sizeof over, "over_%gms", (double)t->slow_ns / 1e6);
    fprintf(stderr, "timeline from unix time %" PRIu64 " us, %g ms windows\n", t->t0_unix_us,
            (double)t->window_ns / 1e6);
    fprintf(stderr, "%8s %7s %10s %9s\n", "from_ms", "count", over, "max_ms");
    for (uint64_t i = 0; i < span_ns / t->window_ns && i < TIMELINE_WINDOWS_MAX; i++) {
        const bench_window_t *w = &t->w[i];
        fprintf(stderr, "%8g %7" PRIu64 " %10" PRIu64 " %9.2f\n", (double)(i * t->window_ns) / 1e6,
                atomic_load(&w->count), atomic_load(&w->slow),
                (double)atomic_load(&w->max_ns) / 1e6);
    }
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
