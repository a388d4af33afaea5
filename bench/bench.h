/* bench/bench.h — shared pieces of roost-bench: option parsing, timing, RSS, JSON output and
 * a latency histogram. Each subcommand lives in its own file and prints one JSON object. */
#ifndef ROOST_BENCH_H
#define ROOST_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Returns the value of --name in argv (NULL if absent). */
const char *bench_opt(int argc, char **argv, const char *name);
/* --name as an unsigned number, or def; exits with a message on a malformed value. */
uint64_t bench_opt_u64(int argc, char **argv, const char *name, uint64_t def);
uint64_t bench_now_ns(void);
/* Resident set size of this process in bytes (from /proc/self/statm). */
uint64_t bench_rss_bytes(void);
/* Progress line on stderr (stdout carries only the JSON result). */
void bench_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Latency histogram: 1 µs buckets up to 20 ms, then 1 ms buckets up to 10 s, then one
 * overflow bucket. Thread-safe (atomics). */
enum { LAT_FINE = 20000, LAT_COARSE = 9980, LAT_BUCKETS = LAT_FINE + LAT_COARSE };
typedef struct {
    _Atomic uint64_t b[LAT_BUCKETS + 1];
} lat_hist_t;
void lat_record(lat_hist_t *h, uint64_t ns);
/* The q-quantile (0 < q < 1) in microseconds. */
double lat_quantile_us(lat_hist_t *h, double q);

/* A latency timeline (--timeline 1): operations by the window they were sent in — count, how
 * many took longer than `slow_ns`, the longest — to tell a tail spread over the run (queueing)
 * from one bunched in a few windows (a stall). Printed with the phase's start in wall-clock
 * time too, to line it up with other logs (RocksDB's stamps its flushes in unix µs). Recording
 * is thread-safe (atomics); an operation sent outside the windows is not recorded. */
enum { TIMELINE_WINDOWS_MAX = 2000 };
typedef struct {
    _Atomic uint64_t count, slow, max_ns;
} bench_window_t;
typedef struct {
    uint64_t t0_ns;      /* bench_now_ns() at the start; 0: not recording */
    uint64_t t0_unix_us; /* the same instant in wall-clock time */
    uint64_t window_ns, slow_ns;
    bench_window_t w[TIMELINE_WINDOWS_MAX];
} bench_timeline_t;
/* Starts recording now (clears earlier windows). */
void bench_timeline_start(bench_timeline_t *t, uint64_t window_ns, uint64_t slow_ns);
void bench_timeline_record(bench_timeline_t *t, uint64_t sent_ns, uint64_t took_ns);
/* The first `span_ns` of windows on stderr: from_ms, count, slow, max_ms. */
void bench_timeline_print(const bench_timeline_t *t, uint64_t span_ns);
/* *max = v if v is larger (atomically). */
void bench_atomic_max(_Atomic uint64_t *max, uint64_t v);

/* Starts `roostd --manifest M --node NODE --data-root DIR` ($ROOSTD, or the roostd built next
 * to roost-bench), its output in DIR/NODE.log; the child's pid (or -1). */
pid_t bench_spawn_roostd(const char *manifest, const char *node, const char *dir);
/* Starts cluster/<tool> ($<env>, or the one built next to roost-bench) with args (NULL-ended,
 * at most 14), its stdout and stderr to log; the child's pid (or -1). */
pid_t bench_spawn_tool(const char *tool, const char *env, char *const args[], const char *log);
/* SIGTERM to each child in pids (entries ≤ 0 skipped), then waits for them, bounded: one still
 * running after BENCH_STOP_WAIT_MS is killed (SIGKILL) and named on stderr as `what` followed
 * by its index. Every entry is 0 afterwards. A benchmark ends by itself even if a node hangs. */
enum { BENCH_STOP_WAIT_MS = 10000 };
void bench_stop_children(pid_t *pids, size_t n, const char *what);

int bench_skynet(int argc, char **argv);
int bench_pingpong(int argc, char **argv);
int bench_remote(int argc, char **argv);
int bench_idle(int argc, char **argv);
int bench_store(int argc, char **argv);
int bench_chat(int argc, char **argv);
int bench_connections(int argc, char **argv);
int bench_conn_worker(int argc, char **argv);

#endif
