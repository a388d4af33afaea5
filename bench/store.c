/* bench/store.c — `roost-bench store`: acknowledged writes per second through the replicated
 * store of a real local cluster. Starts `--nodes` roostd shard processes (temp manifest, temp
 * data), joins as the manifest's client node through the store probe, and writes `--value`-byte
 * values to distinct kv keys with `--window` writes in flight:
 *   phase 1, `--seconds`: peak acknowledged writes/s, p50/p99 latency;
 *   phase 2, `--seconds`: paced at half that rate (open loop; `--rate R`: at R): p50/p99
 *            latency.
 * Then RocksDB's own ceiling on this machine (db_bench fillrandom, batches of 100, 200-byte
 * values, sync) and the ratio writes_per_s × RF ÷ that ceiling (target ≥ 0.5). `failed`: the
 * writes sent in the measured phases that failed or timed out (not the warm-up's, even when
 * one times out inside a measured phase).
 * `--direct 1` (default): the probe follows the map the control leader pushes and sends each
 * write straight to its partition's primary; `--direct 0`: through one shard that forwards.
 * `--io thread|worker`: the manifest's runtime.io (where every node runs its network loop).
 * `--compaction universal|level`: the manifest's cluster.compaction (RocksDB's style).
 * `--keys N`: the writes cycle through N keys (N kv actors, each written again and again, as
 * a messaging node's users are) instead of a new key (a new actor) per write.
 * `--timeline 1`: the paced phase's writes per 100 ms window on stderr (count, over 5 ms, max).
 *
 * `--join 1`: the client-visible cost of a handoff instead. Under a paced load (`--rate`
 * writes/s) one more shard node starts and `roostctl apply` makes it a member; reports how long
 * apply took, what moved, the latency before and during it, the longest any acknowledged write
 * waited (the pause) and how many writes failed. */
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cluster/manifest.h"
#include "cluster/probe.h"
#include "runtime/errors.h"
#include "runtime/log.h"

enum { SLOTS = 1 << 20, NODES_MAX = 5 };

typedef struct {
    uint64_t sent_ns[SLOTS];
    _Atomic uint64_t acked, failed, inflight;
    /* Failures of writes sent since measured_from_ns (0: not measuring yet). A write sent during
     * the warm-up that times out 5 s later fails inside a measured phase, but it is the
     * warm-up's: it counted there until session 17. */
    _Atomic uint64_t measured_from_ns;
    _Atomic uint64_t failed_measured;
    _Atomic uint64_t streak; /* acknowledged in a row since the last failure */
    _Atomic uint64_t max_ns; /* the longest acknowledged write since the last reset */
    lat_hist_t lat;
    bench_timeline_t timeline; /* --timeline 1: the paced phase's, 100 ms windows, over 5 ms */
    probe_t *probe;
    char dir[64], manifest[96];
    pid_t pids[NODES_MAX + 1];
} store_bench_t;

static store_bench_t *B;

static void s_result(void *arg, uint64_t tag, int status, uint64_t lsn)
{
    (void)arg, (void)lsn;
    atomic_fetch_sub(&B->inflight, 1);
    if (status != ROOST_OK) {
        atomic_store(&B->streak, 0);
        uint64_t from = atomic_load(&B->measured_from_ns);
        if (from && B->sent_ns[tag % SLOTS] >= from)
            atomic_fetch_add(&B->failed_measured, 1);
        if (atomic_fetch_add(&B->failed, 1) < 5) /* the first few reasons, for the record */
            bench_progress("store: a write failed: %s after %.1f ms", roost_strerror(status),
                           (double)(bench_now_ns() - B->sent_ns[tag % SLOTS]) / 1e6);
        return;
    }
    uint64_t took = bench_now_ns() - B->sent_ns[tag % SLOTS];
    lat_record(&B->lat, took);
    bench_timeline_record(&B->timeline, B->sent_ns[tag % SLOTS], took);
    bench_atomic_max(&B->max_ns, took);
    atomic_fetch_add(&B->streak, 1);
    atomic_fetch_add(&B->acked, 1);
}

/* A manifest of `nodes` shard nodes (admin ports on) and the client node, at path. */
static const char *g_io = "thread";            /* --io */
static const char *g_compaction = "universal"; /* --compaction */

static int s_write_manifest_to(const char *path, int nodes, int rf, const char *consistency,
                               const char *sync, int port)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "apiVersion: roost/v1\ncluster: {name: bench, partitions: 64,"
            " replication_factor: %d, consistency: %s, sync: %s, compaction: %s}\n"
            "runtime: {workers: 1, io: %s}\nnodes:\n",
            rf, consistency, sync, g_compaction, g_io);
    for (int i = 1; i <= nodes; i++)
        fprintf(f,
                "  - {name: s%d, id: %d, roles: [shard], host: 127.0.0.1, peer_port: %d,"
                " raft_port: %d, admin_port: %d, data_dir: s%d}\n",
                i, i, port + i, port + 100 + i, port + 300 + i, i);
    fprintf(f,
            "  - {name: client, id: 50, roles: [edge], host: 127.0.0.1, peer_port: %d,"
            " client_port: %d}\n",
            port, port + 200);
    return fclose(f);
}

static int s_write_manifest(int nodes, int rf, const char *consistency, const char *sync, int port)
{
    return s_write_manifest_to(B->manifest, nodes, rf, consistency, sync, port);
}

static void s_start_nodes(int nodes)
{
    for (int i = 1; i <= nodes; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        B->pids[i] = bench_spawn_roostd(B->manifest, name, B->dir);
    }
}

/* Node s<i> is pids[i]; pids[0] is unused (0). */
static void s_stop_nodes(int nodes)
{
    bench_stop_children(B->pids, (size_t)nodes + 1, "store: node s");
}

static uint64_t g_next_tag;
static uint64_t g_keys; /* --keys: 0 = every write to a new key */

static void s_put_one(size_t vlen)
{
    static char val[4096];
    char key[32];
    uint64_t tag = g_next_tag++;
    snprintf(key, sizeof key, "b%" PRIu64, g_keys ? tag % g_keys : tag);
    B->sent_ns[tag % SLOTS] = bench_now_ns();
    atomic_fetch_add(&B->inflight, 1);
    if (probe_put(B->probe, key, val, vlen, tag, 5000) != ROOST_OK)
        atomic_fetch_sub(&B->inflight, 1);
}

/* Closed loop with `window` in flight for `seconds`: acknowledged writes per second. */
static double s_closed_loop(uint64_t window, uint64_t seconds, size_t vlen)
{
    uint64_t a0 = atomic_load(&B->acked), t0 = bench_now_ns(), end = t0 + seconds * 1000000000u;
    uint64_t next_report = t0 + 1000000000u;
    while (bench_now_ns() < end) {
        while (atomic_load(&B->inflight) < window)
            s_put_one(vlen);
        struct timespec pause = {0, 100000};
        nanosleep(&pause, NULL);
        if (bench_now_ns() >= next_report) {
            bench_progress("store: %" PRIu64 " acknowledged", atomic_load(&B->acked) - a0);
            next_report += 1000000000u;
        }
    }
    return (double)(atomic_load(&B->acked) - a0) / ((double)(bench_now_ns() - t0) / 1e9);
}

/* Open loop at `rate` writes/s for `ms`: sends what the elapsed time allows, ~every 200 µs
 * (credit from the clock, so a late wake-up does not lower the rate). */
static void s_paced_ms(double rate, uint64_t ms, size_t vlen)
{
    uint64_t t0 = bench_now_ns(), end = t0 + ms * 1000000u, sent = 0;
    for (uint64_t now = t0; now < end; now = bench_now_ns()) {
        uint64_t due = (uint64_t)(rate * (double)(now - t0) / 1e9);
        for (; sent < due; sent++)
            s_put_one(vlen);
        struct timespec pause = {0, 200000};
        nanosleep(&pause, NULL);
    }
}

static void s_paced(double rate, uint64_t seconds, size_t vlen)
{
    s_paced_ms(rate, seconds * 1000, vlen);
}

static bool s_warm_up(void)
{
    /* until 200 in a row are acknowledged: every partition serves (16 in flight; one a tick
     * made the warm-up last 20 s) */
    for (int i = 0; i < 6000 && atomic_load(&B->streak) < 200; i++) { /* ≤ 60 s */
        while (atomic_load(&B->inflight) < 16)
            s_put_one(16);
        struct timespec pause = {0, 10000000};
        nanosleep(&pause, NULL);
    }
    return atomic_load(&B->streak) >= 200;
}

static uint64_t s_disk_bytes(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "du -sb %s 2>/dev/null", B->dir);
    FILE *f = popen(cmd, "r");
    unsigned long long bytes = 0;
    if (f) {
        if (fscanf(f, "%llu", &bytes) != 1)
            bytes = 0;
        pclose(f);
    }
    return bytes;
}

/* db_bench's synced fillrandom rate on this machine (0 if db_bench is missing). */
static double s_db_bench(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "db_bench --benchmarks=fillrandom --batch_size=100 --value_size=200 --sync=true "
             "--num=100000 --db=%s/db_bench 2>/dev/null | grep '^fillrandom'",
             B->dir);
    FILE *f = popen(cmd, "r");
    double rate = 0;
    char line[512];
    if (f && fgets(line, sizeof line, f)) {
        char *ops = strstr(line, "micros/op ");
        if (ops)
            rate = strtod(ops + 10, NULL);
    }
    if (f)
        pclose(f);
    return rate;
}

/* paced_rate 0: the paced phase runs at half the peak (the target's "half load"). */
static bool g_timeline; /* --timeline */

static int s_run(int nodes, int rf, const char *consistency, uint64_t seconds, uint64_t window,
                 size_t vlen, double paced_rate)
{
    if (!s_warm_up()) {
        fprintf(stderr, "roost-bench store: the cluster did not take writes within 60 s\n");
        return 1;
    }
    memset(&B->lat, 0, sizeof B->lat);
    atomic_store(&B->measured_from_ns, bench_now_ns()); /* not the warm-up's failures */
    double peak = s_closed_loop(window, seconds, vlen);
    double p50 = lat_quantile_us(&B->lat, 0.5), p99 = lat_quantile_us(&B->lat, 0.99);
    struct timespec drain = {1, 0};
    nanosleep(&drain, NULL);
    memset(&B->lat, 0, sizeof B->lat);
    uint64_t a0 = atomic_load(&B->acked);
    if (g_timeline)
        bench_timeline_start(&B->timeline, 100 * 1000000u, 5 * 1000000u);
    s_paced(paced_rate > 0 ? paced_rate : peak / 2, seconds, vlen);
    nanosleep(&drain, NULL);
    bench_timeline_print(&B->timeline, seconds * 1000000000u);
    double half_rate = (double)(atomic_load(&B->acked) - a0) / (double)seconds;
    double hp50 = lat_quantile_us(&B->lat, 0.5), hp99 = lat_quantile_us(&B->lat, 0.99);
    uint64_t disk = s_disk_bytes();
    bench_progress("store: db_bench ceiling run");
    double ceiling = s_db_bench();
    printf("{\"nodes\":%d,\"rf\":%d,\"consistency\":\"%s\",\"io\":\"%s\",\"compaction\":\"%s\","
           "\"value_bytes\":%zu,"
           "\"window\":%" PRIu64 ",\"writes_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
           "\"half_load_writes_per_s\":%.0f,\"half_load_p50_us\":%.1f,"
           "\"half_load_p99_us\":%.1f,\"bytes_per_write\":%.0f,\"failed\":%" PRIu64
           ",\"db_bench_writes_per_s\":%.0f,\"ratio\":%.2f}\n",
           nodes, rf, consistency, g_io, g_compaction, vlen, window, peak, p50, p99, half_rate,
           hp50, hp99, (double)disk / (double)atomic_load(&B->acked),
           atomic_load(&B->failed_measured), ceiling, ceiling > 0 ? peak * rf / ceiling : 0.0);
    return 0;
}

/* The value of "field": in the JSON line roostctl printed into log (0 if absent). */
static uint64_t s_json_field(const char *log, const char *field)
{
    FILE *f = fopen(log, "r");
    char line[4096];
    uint64_t v = 0;
    while (f && fgets(line, sizeof line, f)) {
        const char *at = line[0] == '{' ? strstr(line, field) : NULL;
        if (at)
            v = strtoull(at + strlen(field), NULL, 10);
    }
    if (f)
        fclose(f);
    return v;
}

static int s_run_join(int nodes, int rf, const char *consistency, const char *sync, int port,
                      double rate, size_t vlen)
{
    char join[128], log[128];
    snprintf(join, sizeof join, "%s/join.yaml", B->dir);
    snprintf(log, sizeof log, "%s/apply.log", B->dir);
    if (!s_warm_up() || s_write_manifest_to(join, nodes + 1, rf, consistency, sync, port) != 0) {
        fprintf(stderr, "roost-bench store: the cluster did not take writes within 60 s\n");
        return 1;
    }
    memset(&B->lat, 0, sizeof B->lat);
    atomic_store(&B->max_ns, 0);
    atomic_store(&B->measured_from_ns, bench_now_ns());
    s_paced_ms(rate, 3000, vlen);
    double p99_before = lat_quantile_us(&B->lat, 0.99);
    uint64_t max_before = atomic_load(&B->max_ns);
    char name[16];
    snprintf(name, sizeof name, "s%d", nodes + 1);
    B->pids[nodes + 1] = bench_spawn_roostd(join, name, B->dir);
    s_paced_ms(rate, 1000, vlen);
    memset(&B->lat, 0, sizeof B->lat);
    atomic_store(&B->max_ns, 0);
    char *args[] = {"-m", join, "--data-dir", B->dir, "--json", "apply", NULL};
    uint64_t t0 = bench_now_ns();
    pid_t ctl = bench_spawn_tool("roostctl", "ROOSTCTL", args, log);
    int status = -1;
    while (ctl > 0 && waitpid(ctl, &status, WNOHANG) == 0) {
        s_paced_ms(rate, 50, vlen);
        bench_progress("store: apply running, %" PRIu64 " acknowledged", atomic_load(&B->acked));
    }
    double apply_ms = (double)(bench_now_ns() - t0) / 1e6;
    s_paced_ms(rate, 1000, vlen); /* stragglers of the last switch land in "during" */
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    printf("{\"nodes\":%d,\"joined\":1,\"rf\":%d,\"rate\":%.0f,\"apply_ok\":%s,"
           "\"apply_ms\":%.0f,\"partitions_moved\":%" PRIu64 ",\"copies\":%" PRIu64 ","
           "\"before_p99_us\":%.1f,\"before_max_ms\":%.1f,\"during_p50_us\":%.1f,"
           "\"during_p99_us\":%.1f,\"max_pause_ms\":%.1f,\"failed\":%" PRIu64 "}\n",
           nodes, rf, rate, ok ? "true" : "false", apply_ms,
           s_json_field(log, "\"partitions_moving\":"), s_json_field(log, "\"copies\":"),
           p99_before, (double)max_before / 1e6, lat_quantile_us(&B->lat, 0.5),
           lat_quantile_us(&B->lat, 0.99), (double)atomic_load(&B->max_ns) / 1e6,
           atomic_load(&B->failed_measured));
    return ok ? 0 : 1;
}

int bench_store(int argc, char **argv)
{
    int nodes = (int)bench_opt_u64(argc, argv, "--nodes", 3);
    int rf = (int)bench_opt_u64(argc, argv, "--rf", 3);
    uint64_t seconds = bench_opt_u64(argc, argv, "--seconds", 10);
    uint64_t window = bench_opt_u64(argc, argv, "--window", 256);
    size_t vlen = (size_t)bench_opt_u64(argc, argv, "--value", 200);
    int port = (int)bench_opt_u64(argc, argv, "--port", 28000);
    const char *consistency = bench_opt(argc, argv, "--consistency");
    const char *sync = bench_opt(argc, argv, "--sync");
    bool join = bench_opt_u64(argc, argv, "--join", 0) != 0;
    bool direct = bench_opt_u64(argc, argv, "--direct", 1) != 0;
    /* --join: the load during the join (default 1000); else the paced phase's rate
     * (default: half the peak) */
    double rate = (double)bench_opt_u64(argc, argv, "--rate", join ? 1000 : 0);
    g_timeline = bench_opt_u64(argc, argv, "--timeline", 0) != 0;
    g_keys = bench_opt_u64(argc, argv, "--keys", 0);
    const char *io = bench_opt(argc, argv, "--io");
    g_io = io && strcmp(io, "worker") == 0 ? "worker" : "thread";
    const char *compaction = bench_opt(argc, argv, "--compaction");
    g_compaction = compaction && strcmp(compaction, "level") == 0 ? "level" : "universal";
    consistency = consistency ? consistency : "QUORUM";
    sync = sync ? sync : "batch";
    if (nodes < 1 || nodes + join > NODES_MAX || rf < 1 || rf > nodes || vlen > 4096) {
        fprintf(stderr, "roost-bench store: need 1 <= rf <= nodes <= 5 (4 with --join) and "
                        "--value <= 4096\n");
        return 2;
    }
    B = calloc(1, sizeof *B);
    snprintf(B->dir, sizeof B->dir, "/tmp/roost-bench-store-XXXXXX");
    snprintf(B->manifest, sizeof B->manifest, "%s/cluster.yaml", mkdtemp(B->dir));
    manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX];
    if (s_write_manifest(nodes, rf, consistency, sync, port) != 0 ||
        manifest_load(B->manifest, &m, err, sizeof err) != 0) {
        fprintf(stderr, "roost-bench store: %s\n", err);
        return 2;
    }
    s_start_nodes(nodes);
    B->probe = probe_new(&m, "client", s_result, NULL);
    int rc = 1;
    if (B->probe && direct)
        probe_follow_map(B->probe); /* straight to each primary once the first map is pushed */
    if (B->probe && probe_start(B->probe) == 0) {
        probe_route(B->probe, 1);
        rc = join ? s_run_join(nodes, rf, consistency, sync, port, rate, vlen)
                  : s_run(nodes, rf, consistency, seconds, window, vlen, rate);
    }
    probe_destroy(&B->probe);
    s_stop_nodes(nodes + join);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", B->dir);
    if (getenv("ROOST_KEEP_TMP")) /* the nodes' logs, to read after a failed run */
        bench_progress("store: kept %s", B->dir);
    else if (system(cmd) != 0)
        bench_progress("could not remove %s", B->dir);
    free(B);
    return rc;
}
