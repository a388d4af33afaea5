/* tests/unit/test_replog.c — the replicated log: three threaded nodes in one process, each
 * with its own RocksDB, on an in-process network (tests/support/inproc_net.h), driven through the
 * store probe (kv actors). Acknowledged writes are in every replica's log; a dead replica does
 * not stop a quorum and catches up when it returns; a failover reconciles, the deposed primary
 * cannot get writes acknowledged and its unacknowledged tail is dropped; corrupt entries are
 * detected. */
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

static void s_route_all(uint32_t primary, uint64_t epoch)
{
    for (uint32_t id = 1; id <= JOINER; id++)
        for (uint32_t p = 0; p < P && W->node[id]; p++)
            roost_node_set_primary(W->node[id], p, primary, epoch);
}

/* Tells node `to`'s log actors their role for every partition. */
/* Tells every log actor of node `to` its role message m. */
static void s_send_role(uint32_t to, const msg_role_t *m)
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

static void s_role(uint32_t to, uint32_t primary, uint64_t epoch)
{
    msg_role_t m = {.epoch = epoch, .primary = primary, .nreplicas = N};
    for (uint32_t i = 0; i < N; i++)
        m.replicas[i] = i + 1;
    s_send_role(to, &m);
}

static uint64_t g_log_keep, g_log_hold; /* retention of the world's stores (0: defaults) */

/* Node id's runtime over its (already open) engine: a fresh process, as far as the log knows. */
static void s_open_node(uint32_t id)
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

static void s_open_engine_and_node(uint32_t id)
{
    char path[96], err[256];
    snprintf(path, sizeof path, "%s/n%u", W->dir, id);
    W->engine[id] = engine_rocksdb_open(path, NULL, err, sizeof err);
    assert_non_null(W->engine[id]);
    s_open_node(id);
}

static int setup(void **state)
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

static int teardown(void **state)
{
    (void)state;
    for (uint32_t id = 1; id <= JOINER; id++)
        if (W->node[id])
            roost_node_stop(W->node[id]);
    for (uint32_t id = 1; id <= JOINER; id++) {
        if (!W->node[id])
            continue;
        syncer_destroy(&W->syncer[id]);
        roost_node_destroy(&W->node[id]);
        engine_destroy(&W->engine[id]);
    }
    test_rmtree(W->dir);
    free(W);
    return 0;
}

static void s_go(uint32_t via, uint64_t count, uint64_t first)
{
    uint64_t arg[2] = {count, first};
    char key[64];
    roost_key_make_local(key, sizeof key, via, 0, "cli", NULL);
    roost_node_send(W->node[via], roost_env_new(key, NULL, MSG_GO, arg, sizeof arg));
}

static bool s_wait(bool (*cond)(void), int seconds)
{
    struct timespec pause = {0, 2000000};
    for (int i = 0; i < seconds * 500; i++) {
        if (cond())
            return true;
        nanosleep(&pause, NULL);
    }
    return cond();
}

static void s_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int g_want;
static bool s_answered(void)
{
    return atomic_load(&g_done) + atomic_load(&g_failed) >= g_want;
}

/* The log of partition p on node id as (lsn, epoch, checksum) triples; returns the count. */
static int s_log(uint32_t id, uint32_t p, uint64_t (*out)[3], int cap)
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
static bool s_logs_agree(void)
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

static int s_total_entries(uint32_t id)
{
    int total = 0;
    for (uint32_t p = 0; p < P; p++)
        total += s_log(id, p, g_a, LOG_CAP);
    return total;
}

static void test_acknowledged_writes_are_on_every_replica(void **state)
{
    (void)state;
    g_want = 2000;
    s_go(1, 2000, 0);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);
    assert_true(s_wait(s_logs_agree, 10));
    assert_int_equal(s_total_entries(2), 2000);
    assert_true(syncer_syncs(W->syncer[1]) < 2000); /* group commit shared syncs */
}

static void test_a_dead_replica_neither_blocks_nor_loses(void **state)
{
    (void)state;
    inproc_isolate(&W->net, 3, true);
    g_want = 1000;
    s_go(1, 1000, 0);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0); /* a quorum of 2 of 3 */
    assert_int_equal(s_total_entries(3), 0);
    inproc_isolate(&W->net, 3, false); /* it returns: catch-up by LSN */
    assert_true(s_wait(s_logs_agree, 20));
    assert_int_equal(s_total_entries(3), 1000);
}

/* The primary is cut off; the map moves partitions to node 2 at epoch 2. Node 1 cannot get a
 * write acknowledged any more; node 2 can; after healing, node 1's unacknowledged tail is gone
 * and every acknowledged write is in every log. */
static void test_failover_fences_the_old_primary(void **state)
{
    (void)state;
    g_want = 300;
    s_go(1, 300, 0);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);

    inproc_isolate(&W->net, 1, true);
    s_route_all(2, 2);
    s_role(2, 2, 2);
    s_role(3, 2, 2);
    atomic_store(&g_done, 0);
    g_want = 200;
    s_go(1, 200, 1000); /* to the deposed primary: must never be acknowledged */
    s_go(2, 200, 2000); /* to the new one: must be */
    roost_node_set_primary(W->node[1], 0, 1, 1); /* node 1 still believes it leads */
    assert_true(s_wait(s_answered, 30));
    int ok_new = atomic_load(&g_done);
    struct timespec settle = {3, 0}; /* past node 1's append timeout */
    nanosleep(&settle, NULL);
    assert_int_equal(atomic_load(&g_done), ok_new);
    assert_true(ok_new >= 200 - 10); /* node 2's (a few may race the role change) */

    inproc_isolate(&W->net, 1, false);
    s_route_all(2, 2);
    s_role(1, 2, 2);
    assert_true(s_wait(s_logs_agree, 20));
    assert_int_equal(s_total_entries(1), s_total_entries(2));
}

/* An entry the primary must stream to a returning replica is corrupt on the primary: the
 * checksum catches it, a good copy comes from the other replica, and the stream resumes. */
static void test_a_corrupt_entry_is_repaired_from_a_replica(void **state)
{
    (void)state;
    inproc_isolate(&W->net, 3, true);
    g_want = 300;
    s_go(1, 300, 0);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);
    assert_true(s_log(1, 0, g_a, LOG_CAP) > 0);
    uint8_t key[KEY_LOG_BYTES];
    key_log(key, 0, 1);
    void *val;
    size_t len;
    assert_int_equal(engine_get(W->engine[1], key, sizeof key, &val, &len), 0);
    ((uint8_t *)val)[len - 1] ^= 0x5a; /* one flipped bit pattern in the ops */
    engine_batch_t *b = engine_batch_new();
    engine_batch_put(b, key, sizeof key, val, len);
    assert_int_equal(engine_write(W->engine[1], b, true), 0);
    engine_batch_destroy(&b);
    free(val);
    inproc_isolate(&W->net, 3, false);
    assert_true(s_wait(s_logs_agree, 20));
    assert_true(atomic_load(&W->store[1].stats.corrupt) >= 1);
    assert_true(atomic_load(&W->store[1].stats.repaired) >= 1);
    assert_int_equal(s_total_entries(3), 300);
}

static bool s_node3_repaired(void)
{
    return atomic_load(&W->store[3].stats.repaired) >= 1;
}

/* An entry rots on a replica's disk and nobody reads it (no writes, no catch-up): the
 * scrubber finds it and repairs it from the other replicas. */
static void test_the_scrubber_finds_and_repairs_rot(void **state)
{
    (void)state;
    g_want = 200;
    s_go(1, 200, 0);
    assert_true(s_wait(s_answered, 30));
    assert_true(s_wait(s_logs_agree, 20));
    uint8_t key[KEY_LOG_BYTES];
    key_log(key, 0, 2);
    void *val;
    size_t len;
    assert_int_equal(engine_get(W->engine[3], key, sizeof key, &val, &len), 0);
    engine_batch_t *b = engine_batch_new();
    engine_batch_put(b, key, sizeof key, val, len / 2); /* truncated */
    assert_int_equal(engine_write(W->engine[3], b, true), 0);
    engine_batch_destroy(&b);
    free(val);
    assert_false(s_logs_agree());
    assert_true(s_wait(s_node3_repaired, 20));
    assert_true(atomic_load(&W->store[3].stats.corrupt) >= 1);
    assert_true(atomic_load(&W->store[3].stats.scrubbed) > 0);
    assert_true(s_wait(s_logs_agree, 20));
}

/* Under sync: none a replica restarts after an unclean stop having lost its unsynced history
 * (here: all of it). It rejoins as a non-voter: with the third replica cut off, the new epoch
 * does not adopt on its promise (nothing is acknowledged) until the grace period runs out; then
 * its acks count only once it holds the primary's commit point; every write is acknowledged and
 * all logs agree. */
static void test_an_unclean_sync_none_replica_rejoins_as_a_non_voter(void **state)
{
    (void)state;
    g_want = 300;
    s_go(1, 300, 0);
    assert_true(s_wait(s_answered, 30));
    assert_true(s_wait(s_logs_agree, 20));
    inproc_isolate(&W->net, 2, true); /* nobody sends into it while it is replaced */
    s_sleep_ms(100);
    roost_node_stop(W->node[2]);
    syncer_destroy(&W->syncer[2]);
    roost_node_destroy(&W->node[2]);
    engine_batch_t *b = engine_batch_new(); /* its unsynced history is gone; its promise is not */
    for (uint32_t p = 0; p < P; p++) {
        uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES], meta[KEY_META_BYTES];
        key_prefix(lo, p, KEY_TABLE_LOG);
        key_prefix(hi, p, KEY_TABLE_STATE + 1);
        engine_batch_delete_range(b, lo, sizeof lo, hi, sizeof hi);
        key_meta(meta, p, KEY_META_APPLIED);
        engine_batch_delete(b, meta, sizeof meta);
    }
    assert_int_equal(engine_write(W->engine[2], b, true), 0);
    engine_batch_destroy(&b);
    inproc_isolate(&W->net, 3, true);
    s_route_all(1, 2);
    s_role(1, 1, 2); /* node 1 reconciles a new epoch; node 2 comes back meanwhile */
    s_open_node(2);
    W->store[2].sync = SYNC_NONE;
    W->store[2].rejoining = true;
    assert_int_equal(roost_node_start(W->node[2]), 0);
    inproc_isolate(&W->net, 2, false);
    inproc_isolate(&W->net, 3, true);
    s_route_all(1, 2);
    s_role(2, 1, 2);
    g_want = 350;
    s_go(1, 50, 5000);
    s_sleep_ms(1500);
    assert_int_equal(atomic_load(&g_done), 300); /* its promise does not count, caught up or not */
    assert_true(s_wait(s_answered, 30));         /* the grace ran out */
    assert_int_equal(atomic_load(&g_failed), 0);
    inproc_isolate(&W->net, 3, false);
    s_role(3, 1, 2);
    assert_true(s_wait(s_logs_agree, 20));
    assert_int_equal(s_total_entries(2), 350);
}

/* A new primary that is itself back from an unclean stop under sync: none (so it does not vote)
 * adopts after the grace with one voting replica; the third was cut off and promises only
 * after the adoption. Its promise is then of no use, but it must be fed entries: with the
 * primary not voting, the commit point needs it. Before, the primary's tick kept asking it
 * for a promise it then ignored, never sent it an entry, and the partition reconciled forever
 * (the simulator's seed 10 with phones, sync: none). */
static void test_a_late_promiser_is_fed_after_the_adoption(void **state)
{
    (void)state;
    g_want = 300;
    s_go(1, 300, 0);
    assert_true(s_wait(s_answered, 30));
    assert_true(s_wait(s_logs_agree, 20));
    inproc_isolate(&W->net, 2, true); /* node 1 appends a tail nobody else gets … */
    inproc_isolate(&W->net, 3, true);
    s_go(1, 20, 5000);
    s_sleep_ms(300);
    inproc_isolate(&W->net, 1, true); /* … and restarts uncleanly with it (its cli's 20
                                       * requests go with the old process, unanswered) */
    roost_node_stop(W->node[1]);
    syncer_destroy(&W->syncer[1]);
    roost_node_destroy(&W->node[1]);
    s_open_node(1);
    W->store[1].sync = SYNC_NONE;
    W->store[1].rejoining = true;
    assert_int_equal(roost_node_start(W->node[1]), 0);
    inproc_isolate(&W->net, 1, false);
    inproc_isolate(&W->net, 3, true); /* node 3 stays cut off: it cannot promise in time */
    s_route_all(1, 2);
    s_role(2, 1, 2);
    s_role(1, 1, 2); /* node 1 leads epoch 2: its own promise and acks do not vote */
    s_sleep_ms(REPLOG_REJOIN_GRACE_MS + 1000); /* adopted (its tail) with node 2 and itself */
    inproc_isolate(&W->net, 3, false);
    s_role(3, 1, 2);
    atomic_store(&g_done, 0);
    atomic_store(&g_failed, 0);
    g_want = 50;
    s_go(1, 50, 6000);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);
    assert_true(s_wait(s_logs_agree, 20));
}

/* A primary restarts (with everyone else) with its log fully applied (its last entry at its applied
 * point) and leads again with a lagging replica as its only promise: it must keep its committed
 * tail, not adopt the shorter one. (It once forgot its last entry's epoch in exactly this case and
 * dropped acknowledged writes.) */
static void test_a_restarted_primary_keeps_its_committed_tail(void **state)
{
    (void)state;
    g_want = 150;
    s_go(1, 150, 0);
    assert_true(s_wait(s_answered, 30));
    assert_true(s_wait(s_logs_agree, 20));
    inproc_isolate(&W->net, 2, true); /* node 2 stops at the first 150 */
    atomic_store(&g_done, 0);
    s_go(1, 150, 1000);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);
    int committed = s_total_entries(1);
    assert_int_equal(committed, 300);

    /* every node restarts (stopped first, so none sends into a node being torn down) */
    for (uint32_t id = 1; id <= N; id++)
        roost_node_stop(W->node[id]);
    for (uint32_t id = 1; id <= N; id++) {
        syncer_destroy(&W->syncer[id]);
        roost_node_destroy(&W->node[id]);
        s_open_node(id);
    }
    for (uint32_t id = 1; id <= N; id++)
        assert_int_equal(roost_node_start(W->node[id]), 0);
    inproc_isolate(&W->net, 2, false);
    inproc_isolate(&W->net, 3, true); /* only node 2 (lagging) can promise */
    s_route_all(1, 2);
    s_role(1, 1, 2);
    s_role(2, 1, 2);
    struct timespec settle = {0, 300 * 1000000L};
    nanosleep(&settle, NULL);
    inproc_isolate(&W->net, 3, false);
    s_role(3, 1, 2);
    assert_true(s_wait(s_logs_agree, 20));
    assert_int_equal(s_total_entries(1), committed);
    assert_int_equal(s_total_entries(2), committed);
}

/* ---- handoff ---------------------------------------------------------------------------- */

static bool s_wait_retired(uint32_t id, int seconds)
{
    for (int i = 0; i < seconds * 50; i++) {
        if (s_total_entries(id) == 0)
            return true;
        s_sleep_ms(20);
    }
    return false;
}

static _Atomic uint64_t g_asked_done, g_asked_settled; /* bit p: the primary asked for p */

static void s_handoff_hook(void *arg, uint32_t partition, uint64_t map_epoch, bool settled)
{
    (void)arg;
    if (map_epoch == (settled ? 2u : 1u))
        atomic_fetch_or(settled ? &g_asked_settled : &g_asked_done, 1ull << partition);
}

static bool s_all_asked_done(void)
{
    return atomic_load(&g_asked_done) == (1ull << P) - 1;
}

static bool s_all_asked_settled(void)
{
    return atomic_load(&g_asked_settled) == (1ull << P) - 1;
}

/* Tells node `to` its lists for every partition (n* == 0: list not set). */
static void s_role_lists(uint32_t to, uint64_t epoch, const uint32_t *cur, const uint32_t *next,
                         const uint32_t *prev)
{
    msg_role_t m = {.epoch = epoch, .primary = 1, .nreplicas = N};
    memcpy(m.replicas, cur, N * sizeof *cur);
    if (next) {
        m.nnext = N;
        memcpy(m.next, next, N * sizeof *next);
    }
    if (prev) {
        m.nprev = N;
        memcpy(m.prev, prev, N * sizeof *prev);
    }
    s_send_role(to, &m);
}

static void s_retire_all(uint32_t on)
{
    for (uint32_t p = 0; p < P; p++) {
        char key[64];
        replog_key(key, sizeof key, on, p);
        roost_node_send(W->node[on], roost_env_new(key, NULL, MSG_LOG_RETIRE, NULL, 0));
    }
}

/* Node 3 hands its copies to a new node 4 while writes go on: the primary streams the log to
 * node 4 (which never counts toward a quorum meanwhile) and asks for the switch once it caught
 * up; the new epoch does not serve until a quorum of the OLD list promised as well (nodes 2 and 3
 * cut off: node 1 and 4 are a majority of the new list, yet nothing is acknowledged); after the
 * switch it asks to settle, node 3 drops its copy, and every acknowledged write is in the logs
 * of 1, 2 and 4, which agree entry for entry. */
static void test_handoff_moves_a_copy_without_losing_writes(void **state)
{
    (void)state;
    const uint32_t old_list[N] = {1, 2, 3}, new_list[N] = {1, 2, JOINER};
    atomic_store(&g_asked_done, 0);
    atomic_store(&g_asked_settled, 0);
    W->store[1].handoff = s_handoff_hook;
    g_want = 600;
    s_go(1, 600, 0);
    assert_true(s_wait(s_answered, 30));

    s_open_engine_and_node(JOINER);
    W->store[JOINER].handoff = s_handoff_hook;
    s_route_all(1, 1);
    assert_int_equal(roost_node_start(W->node[JOINER]), 0);
    for (uint32_t id = 1; id <= JOINER; id++)
        s_role_lists(id, 1, old_list, new_list, NULL);
    g_want = 1200;
    s_go(1, 600, 10000); /* writes go on while node 4 catches up */
    assert_true(s_wait(s_all_asked_done, 30));
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);

    /* the switch, with writes in flight (numbered, written, or neither) and the old list's
     * majority unreachable: nothing is acknowledged until a quorum of both lists promised */
    inproc_isolate(&W->net, 2, true);
    inproc_isolate(&W->net, 3, true);
    g_want = 1400;
    roost_fault_arm("replog.hold_flush", -1); /* the next entries stay numbered, unwritten */
    s_go(1, 200, 20000);
    s_sleep_ms(200);
    roost_fault_reset();
    s_route_all(1, 2);
    for (uint32_t id = 1; id <= JOINER; id++)
        s_role_lists(id, 2, new_list, NULL, old_list);
    s_sleep_ms(500);
    assert_int_equal(atomic_load(&g_done), 1200); /* held while reconciling */
    assert_int_equal(atomic_load(&g_asked_settled), 0);
    inproc_isolate(&W->net, 3, false); /* 1 and 3: a majority of the old list */
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0); /* the switch failed no write */
    assert_true(s_wait(s_all_asked_settled, 30));
    inproc_isolate(&W->net, 2, false);

    for (uint32_t id = 1; id <= JOINER; id++)
        s_role_lists(id, 2, new_list, NULL, NULL);
    s_retire_all(3);
    g_want = 1500;
    s_go(1, 100, 30000);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);
    memcpy(g_agree, new_list, sizeof g_agree);
    assert_true(s_wait(s_logs_agree, 20));
    assert_int_equal(s_total_entries(JOINER), 1500);
    assert_int_equal(s_total_entries(2), 1500);
    assert_true(s_wait_retired(3, 10));
    memcpy(g_agree, old_list, sizeof g_agree);
}

/* ---- retention and snapshot rebuilds -------------------------------------------------- */

static int setup_short_logs(void **state)
{
    g_log_keep = 16; /* every replica keeps 16 entries behind its applied point … */
    g_log_hold = 64; /* … and a primary holds at most 64 for a lagging replica */
    return setup(state);
}

static int teardown_short_logs(void **state)
{
    g_log_keep = g_log_hold = 0;
    return teardown(state);
}

/* Partition p's state table on node id, as one hash and the pair count. */
static uint64_t s_state_digest(uint32_t id, uint32_t p, int *count)
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
static bool s_states_agree(void)
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

/* Logs are bounded: a replica cut off while the primary moved more than its hold past it can no
 * longer catch up by entries; on return it is rebuilt from a snapshot of the primary's state
 * plus the log after it, and every state table ends up identical, no write lost. */
static void test_a_replica_past_the_log_is_rebuilt_from_a_snapshot(void **state)
{
    (void)state;
    g_want = 200;
    s_go(1, 200, 0);
    assert_true(s_wait(s_answered, 30));
    inproc_isolate(&W->net, 3, true);
    g_want = 1800;
    s_go(1, 1600, 10000); /* ~200 entries a partition: far past 64 */
    assert_true(s_wait(s_answered, 60));
    assert_int_equal(atomic_load(&g_failed), 0);
    assert_true(atomic_load(&W->store[1].stats.truncated) > 0);
    assert_true(s_log(1, 0, g_a, LOG_CAP) < 100); /* bounded: not every entry */
    inproc_isolate(&W->net, 3, false);
    assert_true(s_wait(s_states_agree, 30));
    assert_true(atomic_load(&W->store[3].stats.rebuilds) >= 1);
    g_want = 1900; /* and it takes part again */
    s_go(1, 100, 20000);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);
    assert_true(s_wait(s_states_agree, 30));
}

/* Node 3 has learned the last commit point (from a later append or the primary's tick) and cut
 * its log to log_keep behind it in every partition. */
static bool s_node3_cut_its_logs(void)
{
    for (uint32_t p = 0; p < P; p++)
        if (s_log(3, p, g_a, LOG_CAP) >= 100)
            return false;
    return true;
}

/* A replica left far behind is appointed primary (the others truncated what it lacks): it
 * cannot complete its log from their tails, so it pulls a snapshot from a promiser, reconciles
 * again from the rebuilt log, and serves; nothing acknowledged is lost. */
static void test_a_lagging_new_primary_rebuilds_before_it_serves(void **state)
{
    (void)state;
    g_want = 200;
    s_go(1, 200, 0);
    assert_true(s_wait(s_answered, 30));
    inproc_isolate(&W->net, 2, true);
    g_want = 1800;
    s_go(1, 1600, 10000);
    assert_true(s_wait(s_answered, 60));
    assert_int_equal(atomic_load(&g_failed), 0);
    /* the premise: the other replica truncated what node 2 lacks (it learns the commit point
     * after the answers, so wait for it rather than race the primary's next append) */
    assert_true(s_wait(s_node3_cut_its_logs, 10));
    inproc_isolate(&W->net, 1, true); /* the old primary goes; the lagging one leads */
    inproc_isolate(&W->net, 2, false);
    inproc_isolate(&W->net, 1, true);
    s_route_all(2, 2);
    s_role(2, 2, 2);
    s_role(3, 2, 2);
    g_want = 1900;
    s_go(2, 100, 20000);
    assert_true(s_wait(s_answered, 60));
    assert_int_equal(atomic_load(&g_failed), 0);
    assert_true(atomic_load(&W->store[2].stats.rebuilds) >= 1);
    inproc_isolate(&W->net, 1, false);
    s_role(1, 2, 2);
    assert_true(s_wait(s_states_agree, 30));
}

/* The same, but the replica that truncated what the new primary lacks is back from an unclean
 * stop under sync: none (rejoining), and it is the only other promise: once the grace runs out
 * the primary rebuilds from its snapshot and serves (without a second grace). Before, it asked
 * that replica for entries it no longer held, forever (the simulator's seed 50, sync: none). */
static void test_a_new_primary_rebuilds_from_a_rejoining_replica(void **state)
{
    (void)state;
    g_want = 200;
    s_go(1, 200, 0);
    assert_true(s_wait(s_answered, 30));
    inproc_isolate(&W->net, 2, true);
    g_want = 1800;
    s_go(1, 1600, 10000);
    assert_true(s_wait(s_answered, 60));
    assert_int_equal(atomic_load(&g_failed), 0);
    assert_true(s_wait(s_node3_cut_its_logs, 10));
    inproc_isolate(&W->net, 1, true); /* the old primary goes … */
    inproc_isolate(&W->net, 3, true); /* … and node 3 restarts uncleanly, its log intact */
    s_sleep_ms(100);
    roost_node_stop(W->node[3]);
    syncer_destroy(&W->syncer[3]);
    roost_node_destroy(&W->node[3]);
    s_open_node(3);
    W->store[3].sync = SYNC_NONE;
    W->store[3].rejoining = true;
    assert_int_equal(roost_node_start(W->node[3]), 0);
    inproc_isolate(&W->net, 2, false);
    inproc_isolate(&W->net, 3, false);
    inproc_isolate(&W->net, 1, true);
    s_route_all(2, 2);
    s_role(3, 2, 2);
    s_role(2, 2, 2);
    s_sleep_ms(REPLOG_REJOIN_GRACE_MS); /* writes sent now are answered well within their time */
    g_want = 1900;
    s_go(2, 100, 20000);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);
    assert_true(atomic_load(&W->store[2].stats.rebuilds) >= 1);
    inproc_isolate(&W->net, 1, false);
    s_role(1, 2, 2);
    assert_true(s_wait(s_states_agree, 30));
}

/* A replica whose committed history differs from the new epoch's primary below its commit
 * point (here: an entry of partition 0 the others never had, applied; under sync: none, an
 * adoption with rejoining replicas can drop acknowledged writes) is rebuilt from the primary.
 * Before, it refused the primary's entry as "committed entry differs" forever and its copy
 * stayed behind and different (the simulator's seed 6 with phones, sync: none). */
static void test_a_replica_with_another_committed_history_is_rebuilt(void **state)
{
    (void)state;
    g_want = 200;
    s_go(1, 200, 0);
    assert_true(s_wait(s_answered, 30));
    assert_true(s_wait(s_logs_agree, 20));
    inproc_isolate(&W->net, 3, true);
    s_sleep_ms(100);
    roost_node_stop(W->node[3]);
    syncer_destroy(&W->syncer[3]);
    roost_node_destroy(&W->node[3]);
    int n = s_log(3, 0, g_a, LOG_CAP); /* node 3 commits and applies an entry of its own */
    assert_true(n > 0);
    uint64_t lsn = g_a[n - 1][0] + 1;
    store_ops_t ops;
    store_ops_init(&ops);
    store_ops_put(&ops, "stray", 5, "x", 1);
    msgpack_sbuffer ob, rec;
    msgpack_sbuffer_init(&ob);
    msgpack_sbuffer_init(&rec);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &ob, msgpack_sbuffer_write);
    store_ops_encode(&ops, &pk);
    entry_encode(&rec, 1u << 16, lsn, ob.data, ob.size);
    uint8_t key[KEY_LOG_BYTES], meta[KEY_META_BYTES], be[8];
    key_log(key, 0, lsn);
    key_meta(meta, 0, KEY_META_APPLIED);
    key_be64(be, lsn);
    engine_batch_t *b = engine_batch_new();
    engine_batch_put(b, key, sizeof key, rec.data, rec.size);
    engine_batch_put(b, meta, sizeof meta, be, sizeof be);
    assert_int_equal(engine_write(W->engine[3], b, true), 0);
    engine_batch_destroy(&b);
    msgpack_sbuffer_destroy(&ob);
    msgpack_sbuffer_destroy(&rec);
    store_ops_fini(&ops);
    s_open_node(3);
    assert_int_equal(roost_node_start(W->node[3]), 0);
    s_route_all(1, 2); /* epoch 2 without node 3: node 1 writes its own entry at that lsn */
    s_role(2, 1, 2);
    s_role(1, 1, 2);
    g_want = 400;
    s_go(1, 200, 5000);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);
    inproc_isolate(&W->net, 3, false);
    s_role(3, 1, 2);
    assert_true(s_wait(s_states_agree, 30));
    assert_true(atomic_load(&W->store[3].stats.rebuilds) >= 1);
}

/* A replica that stopped in the middle of a snapshot rebuild (its marker on disk, its source
 * forgotten) pulls again from the primary whose appends reach it. Before, it ignored them while
 * the primary waited for an ack that never came: neither moved (found by the simulator). */
static void test_a_rebuild_cut_short_resumes_from_the_primary(void **state)
{
    (void)state;
    g_want = 100;
    s_go(1, 100, 0);
    assert_true(s_wait(s_answered, 30));
    inproc_isolate(&W->net, 3, true); /* node 3 "crashes" mid-rebuild: the marker, no source */
    roost_node_stop(W->node[3]);
    syncer_destroy(&W->syncer[3]);
    roost_node_destroy(&W->node[3]);
    engine_batch_t *b = engine_batch_new();
    for (uint32_t p = 0; p < P; p++) {
        uint8_t key[KEY_META_BYTES], one[8];
        key_meta(key, p, KEY_META_REBUILDING);
        key_be64(one, 1);
        engine_batch_put(b, key, sizeof key, one, sizeof one);
    }
    assert_int_equal(engine_write(W->engine[3], b, true), 0);
    engine_batch_destroy(&b);
    s_open_node(3);
    s_route_all(1, 1);
    assert_int_equal(roost_node_start(W->node[3]), 0);
    inproc_isolate(&W->net, 3, false);
    s_role(3, 1, 1);
    atomic_store(&g_done, 0);
    s_go(1, 100, 1000);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);
    assert_true(s_wait(s_states_agree, 30));
}

/* A replica told to rebuild by a primary that has applied nothing yet pulls an empty snapshot
 * (point 0) and then the whole log. Before, the source's point 0 read as "your pin is lost" and
 * the puller asked again at once, forever, while the primary waited for its acknowledgement
 * (found by the simulator with the BUGGIFY site replog.rebuild_early). */
static void test_a_rebuild_from_a_source_at_zero_completes(void **state)
{
    (void)state;
    inproc_isolate(&W->net, 2, true);
    inproc_isolate(&W->net, 3, true); /* nothing can commit: the primary applies nothing */
    g_want = 200; /* (every partition gets some: s_states_agree wants no empty state) */
    s_go(1, 200, 0);
    s_sleep_ms(300);
    assert_int_equal(roost_fault_arm("replog.rebuild_early", -1), ROOST_OK);
    inproc_isolate(&W->net, 2, false); /* stalled at 0, behind an applied point of 0: rebuilt */
    inproc_isolate(&W->net, 3, false);
    bool rebuilt = false;
    for (int i = 0; i < 1000 && !rebuilt; i++, s_sleep_ms(10))
        rebuilt =
            atomic_load(&W->store[2].stats.rebuilds) + atomic_load(&W->store[3].stats.rebuilds);
    roost_fault_arm("replog.rebuild_early", 0);
    assert_true(rebuilt);
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);
    assert_true(s_wait(s_states_agree, 20)); /* (a later pull may pin past 0: logs then differ) */
}

/* Every acknowledgement status crosses the wire, and nothing past the last one does. The
 * decoder once stopped at ACK_FAILED, so a rejoining replica's ACK_REJOINING was dropped: the
 * primary never heard it move and streamed it the same chunk forever (the simulator's seed 5
 * under sync: none, a handoff's new replica stuck at 2048 of 4196). */
static void test_every_ack_status_crosses_the_wire(void **state)
{
    (void)state;
    for (int status = ACK_OK; status <= ACK_STATUS_MAX + 1; status++) {
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        msg_ack_t m = {.epoch = 7u << 16, .status = status, .lsn = 2048, .promised = 9u << 16};
        msg_ack_encode(&out, &m);
        msg_ack_t back;
        int rc = msg_ack_decode(out.data, out.size, &back);
        msgpack_sbuffer_destroy(&out);
        if (status > ACK_STATUS_MAX) {
            assert_int_equal(rc, ROOST_EPROTO);
            continue;
        }
        assert_int_equal(rc, ROOST_OK);
        assert_int_equal(back.status, status);
        assert_int_equal(back.epoch, m.epoch);
        assert_int_equal(back.lsn, m.lsn);
        assert_int_equal(back.promised, m.promised);
    }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_ack_status_crosses_the_wire),
        T(test_acknowledged_writes_are_on_every_replica),
        T(test_a_dead_replica_neither_blocks_nor_loses),
        T(test_failover_fences_the_old_primary),
        T(test_a_corrupt_entry_is_repaired_from_a_replica),
        T(test_the_scrubber_finds_and_repairs_rot),
        T(test_an_unclean_sync_none_replica_rejoins_as_a_non_voter),
        T(test_a_late_promiser_is_fed_after_the_adoption),
        T(test_a_restarted_primary_keeps_its_committed_tail),
        T(test_handoff_moves_a_copy_without_losing_writes),
        cmocka_unit_test_setup_teardown(test_a_replica_past_the_log_is_rebuilt_from_a_snapshot,
                                        setup_short_logs, teardown_short_logs),
        cmocka_unit_test_setup_teardown(test_a_lagging_new_primary_rebuilds_before_it_serves,
                                        setup_short_logs, teardown_short_logs),
        cmocka_unit_test_setup_teardown(test_a_new_primary_rebuilds_from_a_rejoining_replica,
                                        setup_short_logs, teardown_short_logs),
        T(test_a_replica_with_another_committed_history_is_rebuilt),
        T(test_a_rebuild_cut_short_resumes_from_the_primary),
        T(test_a_rebuild_from_a_source_at_zero_completes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
