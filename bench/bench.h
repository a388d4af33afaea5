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
