/* tests/support/replog_world.h — the replicated log's test world: three threaded nodes in one
 * process, each with its own RocksDB, on an in-process network (inproc_net.h), driven through
 * the store probe (kv actors), with the checks the replog tests share (logs and states agree).
 * Header-only, one test file at a time (test_replog.c, test_replog_rebuild.c). */
#ifndef ROOST_TEST_REPLOG_WORLD_H
#define ROOST_TEST_REPLOG_WORLD_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "runtime/errors.h"
#include "runtime/fault.h"
#include "runtime/node.h"
#include "shards/engine_rocksdb.h"
#include "shards/entry.h"
#include "shards/keys.h"
#include "shards/kv.h"
#include "shards/proto.h"
#include "shards/replog.h"
#include "shards/replog_internal.h" /* REPLOG_REJOIN_GRACE_MS */
#include "shards/store.h"
#include "shards/syncer.h"
#include "tests/support/inproc_net.h"
#include "tests/support/tmpdir.h"

enum { N = 3, P = 8, MSG_GO = 1 };

static _Atomic int g_done, g_failed;

/* "@<node>:0/cli": sends `count` PUTs (payload [count, first]) to kv:<first..>, counts answers. */
static void cli_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    if (env->flags & ROOST_ENV_RESPONSE) {
        if (env->flags & ROOST_ENV_ERROR)
            atomic_fetch_add(&g_failed, 1);
        else
            atomic_fetch_add(&g_done, 1);
        return;
    }
    uint64_t arg[2];
    memcpy(arg, env->payload, sizeof arg);
    for (uint64_t i = arg[1]; i < arg[1] + arg[0]; i++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "kv:%llu", (unsigned long long)(i % 97));
        int n = snprintf(val, sizeof val, "v%llu", (unsigned long long)i);
        roost_ctx_request(ctx, key, MSG_KV_PUT, val, (size_t)n, 10000, NULL);
    }
}

static const roost_behaviour_t cli_beh = {.kind = "@cli", .on_message = cli_message};

enum { JOINER = N + 1 }; /* a fourth node, started by the handoff test */

typedef struct {
    char dir[64];
    inproc_net_t net;
    roost_node_t *node[N + 2];
    syncer_t *syncer[N + 2];
    engine_t *engine[N + 2];
    store_t store[N + 2];
} world_t;

static world_t *W;

static inline void s_route_all(uint32_t primary, uint64_t epoch)
{
    for (uint32_t id = 1; id <= JOINER; id++)
        for (uint32_t p = 0; p < P && W->node[id]; p++)
            roost_node_set_primary(W->node[id], p, primary, epoch);
}

/* Tells node `to`'s log actors their role for every partition. */
/* Tells every log actor of node `to` its role message m. */
static inline void s_send_role(uint32_t to, const msg_role_t *m)
{
    for (uint32_t p = 0; p < P; p++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msg_role_encode(&sb, m);
        char key[64];
        replog_key(key, sizeof key, to, p);
        roost_node_send(W->node[to], roost_env_new(key, NULL, MSG_LOG_ROLE, sb.data, sb.size));
        msgpack_sbuffer_destroy(&sb);
    }
}

static inline void s_role(uint32_t to, uint32_t primary, uint64_t epoch)
{
    msg_role_t m = {.epoch = epoch, .primary = primary, .nreplicas = N};
    for (uint32_t i = 0; i < N; i++)
        m.replicas[i] = i + 1;
    s_send_role(to, &m);
}

static uint64_t g_log_keep, g_log_hold; /* retention of the world's stores (0: defaults) */

/* Node id's runtime over its (already open) engine: a fresh process, as far as the log knows. */
static inline void s_open_node(uint32_t id)
{
    W->store[id] = (store_t){.engine = W->engine[id],
                             .rf = N,
                             .consistency = CONSISTENCY_QUORUM,
                             .sync = SYNC_BATCH,
                             .append_timeout_ms = 8000, /* sanitizers, two cores */
                             .scrub_per_s = 4000,       /* ~50 entries per log per round */
                             .scrub_interval_ms = 100,
                             .log_keep = g_log_keep,
                             .log_hold_max = g_log_hold};
    roost_node_config_t nc = {.node_id = id, .workers = 2, .partitions = P};
    W->node[id] = roost_node_new(&nc);
    roost_node_register(W->node[id], &replog_behaviour);
    roost_node_register(W->node[id], &kv_behaviour);
    roost_node_register(W->node[id], &cli_beh);
    roost_node_set_service(W->node[id], STORE_SERVICE, &W->store[id]);
    W->syncer[id] = syncer_new(W->node[id], W->engine[id]);
    roost_node_set_service(W->node[id], SYNCER_SERVICE, W->syncer[id]);
    assert_int_equal(syncer_start(W->syncer[id]), 0);
    roost_node_set_transport(W->node[id], inproc_transport(&W->net, id));
}

static inline void s_open_engine_and_node(uint32_t id)
{
    char path[96], err[256];
    snprintf(path, sizeof path, "%s/n%u", W->dir, id);
    W->engine[id] = engine_rocksdb_open(path, NULL, err, sizeof err);
    assert_non_null(W->engine[id]);
    s_open_node(id);
}

static inline int setup(void **state)
{
    (void)state;
    W = calloc(1, sizeof *W);
    snprintf(W->dir, sizeof W->dir, "/tmp/roost-replog-XXXXXX");
    assert_non_null(mkdtemp(W->dir));
    for (uint32_t id = 1; id <= N; id++)
        s_open_engine_and_node(id);
    s_route_all(1, 1);
    for (uint32_t id = 1; id <= N; id++) {
        assert_int_equal(roost_node_start(W->node[id]), 0);
        s_role(id, 1, 1);
    }
    atomic_store(&g_done, 0);
    atomic_store(&g_failed, 0);
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    for (uint32_t id = 1; id <= JOINER; id++)
        if (W->node[id])
            roost_node_stop(W->node[id]);
    for (uint32_t id = 1; id <= JOINER; id++) { /* (a node a test killed left its engine) */
        if (W->node[id]) {
            syncer_destroy(&W->syncer[id]);
            roost_node_destroy(&W->node[id]);
        }
        engine_destroy(&W->engine[id]);
    }
    test_rmtree(W->dir);
    free(W);
    return 0;
}

static inline void s_go(uint32_t via, uint64_t count, uint64_t first)
{
    uint64_t arg[2] = {count, first};
    char key[64];
    roost_key_make_local(key, sizeof key, via, 0, "cli", NULL);
    roost_node_send(W->node[via], roost_env_new(key, NULL, MSG_GO, arg, sizeof arg));
}

static inline bool s_wait(bool (*cond)(void), int seconds)
{
    struct timespec pause = {0, 2000000};
    for (int i = 0; i < seconds * 500; i++) {
        if (cond())
            return true;
        nanosleep(&pause, NULL);
    }
    return cond();
}

static inline void s_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int g_want;
static inline bool s_answered(void)
{
    return atomic_load(&g_done) + atomic_load(&g_failed) >= g_want;
}

/* The log of partition p on node id as (lsn, epoch, checksum) triples; returns the count. */
static inline int s_log(uint32_t id, uint32_t p, uint64_t (*out)[3], int cap)
{
    uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES];
    key_prefix(lo, p, KEY_TABLE_LOG);
    key_prefix(hi, p, KEY_TABLE_LOG + 1);
    engine_iter_t *it = engine_iter_new(W->engine[id], lo, sizeof lo, hi, sizeof hi);
    int n = 0;
    for (; engine_iter_valid(it) && n < cap; engine_iter_next(it), n++) {
        size_t len;
        const void *v = engine_iter_value(it, &len);
        log_entry_t e;
        if (entry_decode(v, len, &e) != 0) { /* corrupt: never equal to a good copy */
            out[n][0] = out[n][1] = out[n][2] = 0;
            continue;
        }
        out[n][0] = e.lsn;
        out[n][1] = e.epoch;
        out[n][2] = entry_checksum(e.ops, e.ops_len);
    }
    engine_iter_destroy(&it);
    return n;
}

enum { LOG_CAP = 20000 };
static uint64_t g_a[LOG_CAP][3], g_b[LOG_CAP][3];

/* The nodes whose logs must agree (s_logs_agree): 1..N unless a test changes it. */
static uint32_t g_agree[N] = {1, 2, 3};

/* Every replica's log of every partition is identical, entry for entry. */
static inline bool s_logs_agree(void)
{
    for (uint32_t p = 0; p < P; p++) {
        int na = s_log(g_agree[0], p, g_a, LOG_CAP);
        for (uint32_t i = 1; i < N; i++) {
            int nb = s_log(g_agree[i], p, g_b, LOG_CAP);
            if (na != nb || memcmp(g_a, g_b, (size_t)na * sizeof g_a[0]) != 0)
                return false;
        }
    }
    return true;
}

static inline int s_total_entries(uint32_t id)
{
    int total = 0;
    for (uint32_t p = 0; p < P; p++)
        total += s_log(id, p, g_a, LOG_CAP);
    return total;
}

static inline int setup_short_logs(void **state)
{
    g_log_keep = 16; /* every replica keeps 16 entries behind its applied point … */
    g_log_hold = 64; /* … and a primary holds at most 64 for a lagging replica */
    return setup(state);
}

static inline int teardown_short_logs(void **state)
{
    g_log_keep = g_log_hold = 0;
    return teardown(state);
}

/* Partition p's fence in node id's state (shards/store.h, STORE_FENCE_KEY; 0: none). */
static inline uint64_t s_fence(uint32_t id, uint32_t p)
{
    uint8_t k[KEY_BYTES_MAX];
    size_t kl = key_state(k, p, STORE_FENCE_KEY, strlen(STORE_FENCE_KEY));
    void *v = NULL;
    size_t vl = 0;
    if (engine_get(W->engine[id], k, kl, &v, &vl) != 0)
        return 0;
    uint64_t fence = vl == 8 ? key_get_be64(v) : UINT64_MAX;
    free(v);
    return fence;
}

/* Partition p's state table on node id, as one hash and the pair count. */
static inline uint64_t s_state_digest(uint32_t id, uint32_t p, int *count)
{
    uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES];
    key_prefix(lo, p, KEY_TABLE_STATE);
    key_prefix(hi, p, KEY_TABLE_STATE + 1);
    engine_iter_t *it = engine_iter_new(W->engine[id], lo, sizeof lo, hi, sizeof hi);
    uint64_t h = 0;
    *count = 0;
    for (; engine_iter_valid(it); engine_iter_next(it), (*count)++) {
        size_t kl, vl;
        const void *k = engine_iter_key(it, &kl), *v = engine_iter_value(it, &vl);
        h = (h * 31) ^ entry_checksum(k, kl) ^ (entry_checksum(v, vl) << 1);
    }
    engine_iter_destroy(&it);
    return h;
}

/* Every node's state tables are identical, and the entries their logs still share agree. */
static inline bool s_states_agree(void)
{
    for (uint32_t p = 0; p < P; p++) {
        int c1, c;
        uint64_t d1 = s_state_digest(1, p, &c1);
        for (uint32_t id = 2; id <= N; id++)
            if (s_state_digest(id, p, &c) != d1 || c != c1 || c1 == 0)
                return false;
        int na = s_log(1, p, g_a, LOG_CAP);
        for (uint32_t id = 2; id <= N; id++) {
            int nb = s_log(id, p, g_b, LOG_CAP);
            if (na && nb && g_a[na - 1][0] != g_b[nb - 1][0])
                return false; /* same last entry (a log rebuilt at its end holds none yet) */
            for (int i = 0, j = 0; i < na && j < nb;) {
                if (g_a[i][0] < g_b[j][0])
                    i++;
                else if (g_a[i][0] > g_b[j][0])
                    j++;
                else if (memcmp(g_a[i++], g_b[j++], sizeof g_a[0]) != 0)
                    return false;
            }
        }
    }
    return true;
}

/* Partition p's last lsn in node id's log (0: none). */
static inline uint64_t s_last_lsn(uint32_t id, uint32_t p)
{
    int n = s_log(id, p, g_a, LOG_CAP);
    return n > 0 ? g_a[n - 1][0] : 0;
}

static inline bool s_replicas_hold_node1s_log(void)
{
    for (uint32_t p = 0; p < P; p++)
        for (uint32_t id = 2; id <= N; id++)
            if (s_last_lsn(id, p) != s_last_lsn(1, p))
                return false;
    return true;
}

/* `count` writes through node 1 that its replicas store but whose acknowledgements never reach
 * it: a tail above its commit point that they hold. The links back to node 1 stay cut (healed
 * now, the primary's next tick would have the tail acknowledged). */
static inline void s_write_a_tail_only_the_replicas_hold(int count, uint64_t first)
{
    for (uint32_t id = 2; id <= N; id++)
        inproc_cut_one_way(&W->net, id, 1, true);
    atomic_store(&g_done, 0);
    g_want = count;
    s_go(1, count, first);
    assert_true(s_wait(s_replicas_hold_node1s_log, 30));
}

/* Once the tail's writes are answered (or timed out), 50 new writes through node 1 are all
 * acknowledged: the partitions serve again. */
static inline void s_new_writes_succeed(void)
{
    assert_true(s_wait(s_answered, 30));
    atomic_store(&g_done, 0);
    atomic_store(&g_failed, 0);
    g_want = 50;
    s_go(1, 50, 5000);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);
}

/* Node id goes away as a process would: cut off first (no delivery still under way), stopped,
 * its runtime and syncer freed; its engine stays (a disk). */
static inline void s_kill_node(uint32_t id)
{
    inproc_isolate(&W->net, id, true);
    roost_node_stop(W->node[id]);
    syncer_destroy(&W->syncer[id]);
    roost_node_destroy(&W->node[id]);
}

/* …and comes back over the same engine; `unclean`: after an unclean stop under sync: none, so
 * it rejoins as a non-voter. It stays cut off until the test heals it. */
static inline void s_restart_node(uint32_t id, bool unclean)
{
    s_open_node(id);
    if (unclean) {
        W->store[id].sync = SYNC_NONE;
        W->store[id].rejoining = true;
    }
    assert_int_equal(roost_node_start(W->node[id]), 0);
}

#endif
