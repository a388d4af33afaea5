/* tests/support/store_cluster.h — a three-shard roostd cluster for store integration tests:
 * a generated manifest on free 127.0.0.1 ports with a client node, the processes (their
 * "map applied" lines counted, the Raft leader noted), the store probe writing distinct values
 * with a window and retrying failures, clean stops, and the on-disk checks (every acknowledged
 * write in every node's log, every partition's logs identical). Header-only, for one test file
 * at a time. $ROOSTD names the daemon; $ROOST_KEEP_TMP keeps the data; $ROOST_TEST_IO sets the
 * manifests' runtime.io (`worker`: the network loop on the first worker; default `thread`). */
#ifndef ROOST_TEST_STORE_CLUSTER_H
#define ROOST_TEST_STORE_CLUSTER_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/manifest.h"
#include "cluster/probe.h"
#include "runtime/errors.h"
#include "runtime/hash.h"
#include "shards/engine_rocksdb.h"
#include "shards/entry.h"
#include "shards/keys.h"
#include "shards/ops.h"
#include "tests/support/ports.h"
#include "tests/support/procs.h"
#include "tests/support/tmpdir.h"

#ifndef STORE_CLUSTER_NODES
#define STORE_CLUSTER_NODES 3 /* shard processes a test may start (s1..sN) */
#endif

enum {
    N = STORE_CLUSTER_NODES,
    CHECKED = 3, /* s1..s3: the nodes every acknowledged write must end up on */
    P = 32,
    WRITES = 10000,
    WINDOW = 64,
    RUN_WAIT_MS = 180000,
};

typedef struct {
    char dir[64], manifest[96];
    char node_manifest[N + 1][96]; /* a node's own manifest, when not `manifest` */
    int ports[N + 1][3];
    proc_t node[N + 1];
    int maps[N + 1];        /* "map applied" lines seen */
    int leader;             /* the Raft leader named by the latest map line */
    char down[N + 1][64];   /* each node's latest map: its down=[…] list */
    char faults[N + 1][96]; /* each node's fault file (test builds: cluster/faults.h) */
    manifest_t m;
    probe_t *probe;
    _Atomic uint8_t state[WRITES]; /* 0 idle, 1 in flight, 2 acknowledged */
    _Atomic int acked, failed, inflight;
} world_t;

static world_t *W;
static const char *g_sync = "batch"; /* cluster.sync of the manifests s_write_manifest_to writes */

static void s_on_line(void *arg, const char *line)
{
    int i = (int)(intptr_t)arg;
    if (!strstr(line, "msg=\"map applied\""))
        return;
    W->maps[i]++;
    const char *l = strstr(line, " leader="), *d = strstr(line, " down=");
    if (l)
        W->leader = atoi(l + 8);
    if (d)
        sscanf(d + 6, "%63s", W->down[i]);
}

static void s_pump(void)
{
    for (int i = 1; i <= N; i++)
        if (W->node[i].pid > 0)
            proc_read_lines(&W->node[i], s_on_line, (void *)(intptr_t)i);
}

/* Cuts node i's data-plane links to the given shard nodes (none: heals them all). */
static inline void s_cut(int i, const int *peers, int n)
{
    FILE *f = fopen(W->faults[i], "w");
    assert_non_null(f);
    fputs(n ? "block" : "", f);
    for (int k = 0; k < n; k++)
        fprintf(f, " %d", peers[k]);
    fputs("\n", f);
    fclose(f);
}

static void s_start(int i)
{
    char name[16], log[128];
    snprintf(name, sizeof name, "s%d", i);
    snprintf(log, sizeof log, "%s/s%d.log", W->dir, i);
    char *manifest = W->node_manifest[i][0] ? W->node_manifest[i] : W->manifest;
    char *argv[] = {getenv("ROOSTD"), "--manifest", manifest, "--node", name,
                    "--data-root",    W->dir,       NULL};
    W->maps[i] = 0;
    setenv("ROOST_FAULTS", W->faults[i], 1);
    assert_true(proc_spawn(&W->node[i], argv, log));
    unsetenv("ROOST_FAULTS");
}

/* A manifest listing s1..s<shards> (admin ports on) and the client node. */
static void s_write_manifest_to(const char *path, int shards)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "apiVersion: roost/v1\n"
            "cluster: {name: t, partitions: %d, replication_factor: 3, consistency: QUORUM,"
            " sync: %s}\n"
            "runtime: {workers: 2, heartbeat_ms: 200, down_after_ms: 1500, io: %s}\nnodes:\n",
            P, g_sync, getenv("ROOST_TEST_IO") ? getenv("ROOST_TEST_IO") : "thread");
    for (int i = 1; i <= shards; i++)
        fprintf(f,
                "  - {name: s%d, id: %d, roles: [shard], host: 127.0.0.1, peer_port: %d,"
                " raft_port: %d, admin_port: %d, data_dir: s%d}\n",
                i, i, W->ports[i][0], W->ports[i][1], W->ports[i][2], i);
    fprintf(f,
            "  - {name: client, id: 11, roles: [edge], host: 127.0.0.1, peer_port: %d,"
            " client_port: %d}\n",
            W->ports[0][0], W->ports[0][1]);
    fclose(f);
}

static void s_write_manifest(void)
{
    s_write_manifest_to(W->manifest, CHECKED);
}

static void s_result(void *arg, uint64_t tag, int status, uint64_t lsn)
{
    (void)arg, (void)lsn;
    atomic_fetch_sub(&W->inflight, 1);
    if (status == ROOST_OK) {
        atomic_store(&W->state[tag], 2);
        atomic_fetch_add(&W->acked, 1);
    } else {
        atomic_store(&W->state[tag], 0); /* retried by the writer loop */
        atomic_fetch_add(&W->failed, 1);
    }
}

/* Keeps WINDOW writes in flight until `until` writes are acknowledged or deadline_ms. */
static void s_write_loop(int until, uint64_t deadline_ms)
{
    uint64_t deadline = deadline_ms;
    int cursor = 0;
    while (atomic_load(&W->acked) < until && proc_now_ms() < deadline) {
        s_pump();
        int sent = 0;
        for (int n = 0; n < WRITES && atomic_load(&W->inflight) < WINDOW && sent < WINDOW; n++) {
            int i = (cursor + n) % WRITES;
            uint8_t idle = 0;
            if (!atomic_compare_exchange_strong(&W->state[i], &idle, 1))
                continue;
            char key[32], val[32];
            snprintf(key, sizeof key, "w%d", i);
            int len = snprintf(val, sizeof val, "v%d", i);
            atomic_fetch_add(&W->inflight, 1);
            if (probe_put(W->probe, key, val, (size_t)len, (uint64_t)i, 2000) != ROOST_OK) {
                atomic_fetch_sub(&W->inflight, 1);
                atomic_store(&W->state[i], 0);
            }
            cursor = i + 1;
            sent++;
        }
        proc_sleep_ms(sent ? 1 : 5);
    }
}

/* Writes until `until` writes are acknowledged (bounded by RUN_WAIT_MS). */
static inline bool s_write_until(int until)
{
    s_write_loop(until, proc_now_ms() + RUN_WAIT_MS);
    return atomic_load(&W->acked) >= until;
}

/* Keeps writing for ms milliseconds, or until `most` more are acknowledged; returns the
 * acknowledgements that arrived meanwhile. The bound keeps keys of the WRITES pool for what
 * the test writes later: a faster store once acknowledged 8,600 in test_partition's 3 s, and
 * the writes after the heal found no key left to write (session 17). */
static inline int s_write_for(int ms, int most)
{
    int before = atomic_load(&W->acked);
    s_write_loop(before + most, proc_now_ms() + (uint64_t)ms);
    return atomic_load(&W->acked) - before;
}

static void s_wait_maps(int i, int at_least, int seconds)
{
    uint64_t deadline = proc_now_ms() + (uint64_t)seconds * 1000;
    while (W->maps[i] < at_least && proc_now_ms() < deadline) {
        s_pump();
        proc_sleep_ms(20);
    }
    assert_true(W->maps[i] >= at_least);
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(getenv("ROOSTD"));
    W = calloc(1, sizeof *W);
    snprintf(W->dir, sizeof W->dir, "/tmp/roost-store-XXXXXX");
    assert_non_null(mkdtemp(W->dir));
    snprintf(W->manifest, sizeof W->manifest, "%s/cluster.yaml", W->dir);
    char dir[sizeof W->dir];
    memcpy(dir, W->dir, sizeof dir);
    for (int i = 1; i <= N; i++)
        snprintf(W->faults[i], sizeof W->faults[i], "%s/s%d.faults", dir, i);
    for (int i = 0; i <= N; i++)
        for (int k = 0; k < 3; k++)
            W->ports[i][k] = test_free_port();
    s_write_manifest();
    char err[MANIFEST_ERR_BYTES_MAX];
    assert_int_equal(manifest_load(W->manifest, &W->m, err, sizeof err), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    probe_destroy(&W->probe);
    for (int i = 1; i <= N; i++)
        if (W->node[i].pid > 0)
            proc_stop(&W->node[i], SIGKILL, 1000);
    test_rmtree(W->dir);
    free(W);
    return 0;
}

/* Marks in `seen` every write i whose key a log entry of node e carries. */
static void s_scan_log(engine_t *e, uint8_t *seen)
{
    for (uint32_t p = 0; p < P; p++) {
        uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES];
        key_prefix(lo, p, KEY_TABLE_LOG);
        key_prefix(hi, p, KEY_TABLE_LOG + 1);
        engine_iter_t *it = engine_iter_new(e, lo, sizeof lo, hi, sizeof hi);
        for (; engine_iter_valid(it); engine_iter_next(it)) {
            size_t len;
            const void *v = engine_iter_value(it, &len);
            log_entry_t ent;
            store_ops_view_t ops;
            store_op_t op;
            assert_int_equal(entry_decode(v, len, &ent), 0);
            assert_int_equal(store_ops_view_init(&ops, ent.ops, ent.ops_len), 0);
            while (store_ops_view_next(&ops, &op)) {
                int i;
                if (op.klen > 4 && sscanf((const char *)op.key, "kv:w%d", &i) == 1 && i >= 0 &&
                    i < WRITES)
                    seen[i] = 1;
            }
            store_ops_view_fini(&ops);
        }
        engine_iter_destroy(&it);
    }
}

/* Acknowledged writes absent from node e's log. */
static int s_missing(engine_t *e)
{
    static uint8_t seen[WRITES];
    memset(seen, 0, sizeof seen);
    s_scan_log(e, seen);
    int missing = 0;
    for (int i = 0; i < WRITES; i++)
        missing += atomic_load(&W->state[i]) == 2 && !seen[i];
    return missing;
}

/* A digest of partition p's log: (lsn, epoch, ops) of every entry, and the count. */
static uint64_t s_log_digest(engine_t *e, uint32_t p, int *count)
{
    uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES];
    key_prefix(lo, p, KEY_TABLE_LOG);
    key_prefix(hi, p, KEY_TABLE_LOG + 1);
    engine_iter_t *it = engine_iter_new(e, lo, sizeof lo, hi, sizeof hi);
    uint64_t h = 0;
    *count = 0;
    for (; engine_iter_valid(it); engine_iter_next(it), (*count)++) {
        size_t len;
        const void *v = engine_iter_value(it, &len);
        log_entry_t ent;
        assert_int_equal(entry_decode(v, len, &ent), 0);
        uint64_t parts[3] = {ent.lsn, ent.epoch, entry_checksum(ent.ops, ent.ops_len)};
        h = roost_hash64(parts, sizeof parts) ^ (h * 31);
    }
    engine_iter_destroy(&it);
    return h;
}

/* For a failure report: each partition whose logs differ, with every node's entry count. */
static void s_report_partitions(engine_t **e)
{
    for (uint32_t p = 0; p < P; p++) {
        int count[CHECKED + 1] = {0};
        uint64_t digest[CHECKED + 1] = {0};
        bool differ = false;
        for (int i = 1; i <= CHECKED; i++) {
            if (!e[i])
                continue;
            digest[i] = s_log_digest(e[i], p, &count[i]);
            differ |= i > 1 && e[1] && digest[i] != digest[1];
        }
        if (differ)
            fprintf(stderr, "partition %u: entries s1=%d s2=%d s3=%d\n", p, count[1], count[2],
                    count[3]);
    }
}

/* Opens every node's RocksDB; 0 when every acknowledged write is in every log and the logs
 * of every partition agree, else a message in err. */
static int s_check_on_disk(char *err, size_t cap)
{
    engine_t *e[CHECKED + 1] = {0};
    int bad = 0;
    for (int i = 1; i <= CHECKED; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/s%d/db", W->dir, i);
        e[i] = engine_rocksdb_open(path, NULL, err, cap);
        int missing = e[i] ? s_missing(e[i]) : -1;
        if (missing && !bad) {
            snprintf(err, cap, "s%d lacks %d acknowledged writes", i, missing);
            bad = 1;
        }
    }
    if (bad)
        s_report_partitions(e);
    for (uint32_t p = 0; p < P && !bad; p++) {
        int c1, ci;
        uint64_t d1 = s_log_digest(e[1], p, &c1);
        for (int i = 2; i <= CHECKED && !bad; i++)
            if (s_log_digest(e[i], p, &ci) != d1 || ci != c1) {
                snprintf(err, cap, "partition %u: s1 and s%d logs differ (%d vs %d entries)", p, i,
                         c1, ci);
                bad = 1;
            }
    }
    for (int i = 1; i <= CHECKED; i++)
        engine_destroy(&e[i]);
    return bad;
}

/* Lines of node i's log containing `what`. */
static inline int s_log_count(int i, const char *what)
{
    char path[160], line[1024];
    snprintf(path, sizeof path, "%s/s%d.log", W->dir, i);
    s_pump();
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* Prints the last lines of node i's log to stderr (for a failure report). */
static void s_log_tail(int i)
{
    char cmd[400];
    /* a sanitizer's report when there is one (its first 60 lines), else the log's tail */
    snprintf(cmd, sizeof cmd,
             "f=%s/s%d.log; grep -q Sanitizer $f && grep -A60 -m1 'ERROR: .*Sanitizer' $f >&2 "
             "|| tail -n 15 $f | cut -c1-300 >&2",
             W->dir, i);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log for s%d)\n", i);
}

static void s_stop_all_cleanly(void)
{
    for (int i = 1; i <= CHECKED; i++) {
        int status = proc_stop(&W->node[i], SIGTERM, 30000);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            s_log_tail(i);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("s%d did not stop cleanly: status 0x%x (see %s/s%d.log)", i, status, W->dir,
                     i);
    }
}

/* Starts the three nodes, waits for their first map, and joins the client probe through it. */
static inline void s_start_cluster(void)
{
    for (int i = 1; i <= CHECKED; i++)
        s_start(i);
    for (int i = 1; i <= CHECKED; i++)
        s_wait_maps(i, 1, 30);
    W->probe = probe_new(&W->m, "client", s_result, NULL);
    assert_non_null(W->probe);
    assert_int_equal(probe_start(W->probe), 0);
}

/* Stops every node cleanly and checks the disks; a node still catching up gets up to two more
 * runs (a loaded machine must not turn replication lag into a false data-loss report). */
static inline void s_stop_and_verify(void)
{
    char err[256] = "";
    for (int round = 0; round < 3; round++) {
        proc_sleep_ms(3000);
        s_stop_all_cleanly();
        if (s_check_on_disk(err, sizeof err) == 0)
            return;
        fprintf(stderr, "round %d: %s; letting replicas catch up\n", round, err);
        for (int i = 1; i <= CHECKED; i++)
            s_start(i);
        for (int i = 1; i <= CHECKED; i++)
            s_wait_maps(i, 1, 30);
    }
    fail_msg("%s", err);
}

#endif
