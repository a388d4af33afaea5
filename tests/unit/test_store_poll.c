/* tests/unit/test_store_poll.c — the store path driven without a single thread, the way the
 * simulator will drive it (sim/README.md): a node polled by roost_node_poll on a fake clock,
 * the in-memory engine, and the group-commit syncer run by syncer_poll when the test decides
 * the fsync completes. The same seed gives the same bytes on the disk; a write is answered only
 * after the sync that made it durable; a crash before that sync loses only unanswered writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/errors.h"
#include "runtime/hash.h"
#include "runtime/node.h"
#include "shards/engine_mem.h"
#include "shards/keys.h"
#include "shards/kv.h"
#include "shards/proto.h"
#include "shards/replog.h"
#include "shards/replog_internal.h" /* replog_scrub_budget */
#include "shards/store.h"
#include "shards/syncer.h"
#include "tests/support/fake_clock.h"

enum { P = 4, MSG_GO = 1, WRITES = 60 };

static int g_ok, g_err;

/* "@1:0/cli": sends WRITES puts to kv:<i % 7>, counts the answers. */
static void cli_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    if (env->flags & ROOST_ENV_RESPONSE) {
        if (env->flags & ROOST_ENV_ERROR)
            g_err++;
        else
            g_ok++;
        return;
    }
    for (int i = 0; i < WRITES; i++) {
        char key[16], val[16];
        snprintf(key, sizeof key, "kv:%d", i % 7);
        int n = snprintf(val, sizeof val, "v%d", i);
        roost_ctx_request(ctx, key, MSG_KV_PUT, val, (size_t)n, 60000, NULL);
    }
}

static const roost_behaviour_t cli_beh = {.kind = "@cli", .on_message = cli_message};

typedef struct {
    fake_clock_t clock;
    engine_t *engine;
    store_t store;
    syncer_t *syncer;
    roost_node_t *node;
} world_t;

static void s_open(world_t *w, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    fake_clock_init(&w->clock, 1000000000ull);
    w->engine = engine_mem_new(NULL);
    w->store = (store_t){.engine = w->engine,
                         .rf = 1,
                         .consistency = CONSISTENCY_QUORUM,
                         .sync = SYNC_BATCH,
                         .append_timeout_ms = 60000};
    roost_node_config_t nc = {
        .node_id = 1, .workers = 1, .partitions = P, .clock = &w->clock.base, .seed = seed};
    w->node = roost_node_new(&nc);
    roost_node_register(w->node, &replog_behaviour);
    roost_node_register(w->node, &kv_behaviour);
    roost_node_register(w->node, &cli_beh);
    roost_node_set_service(w->node, STORE_SERVICE, &w->store);
    w->syncer = syncer_new(w->node, w->engine); /* never started: syncer_poll drives it */
    roost_node_set_service(w->node, SYNCER_SERVICE, w->syncer);
    msg_role_t m = {.epoch = 1, .primary = 1, .nreplicas = 1, .replicas = {1}};
    for (uint32_t p = 0; p < P; p++) {
        roost_node_set_primary(w->node, p, 1, 1);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msg_role_encode(&sb, &m);
        char key[64];
        replog_key(key, sizeof key, 1, p);
        roost_node_send(w->node, roost_env_new(key, NULL, MSG_LOG_ROLE, sb.data, sb.size));
        msgpack_sbuffer_destroy(&sb);
    }
}

static void s_close(world_t *w)
{
    syncer_destroy(&w->syncer);
    roost_node_destroy(&w->node);
    engine_destroy(&w->engine);
}

static void s_go(world_t *w)
{
    char key[64];
    roost_key_make_local(key, sizeof key, 1, 0, "cli", NULL);
    roost_node_send(w->node, roost_env_new(key, NULL, MSG_GO, NULL, 0));
}

/* Polls the node (and, when `sync`, the syncer) for `rounds`, a millisecond of fake time each
 * idle round. */
static void s_run(world_t *w, int rounds, bool sync)
{
    for (int i = 0; i < rounds; i++) {
        bool more = roost_node_poll(w->node);
        uint32_t synced = sync ? syncer_poll(w->syncer) : 0;
        if (!more && !synced)
            fake_clock_advance_ms(&w->clock, 1);
    }
}

/* Every key and value on the engine, hashed in key order. */
static uint64_t s_disk_digest(engine_t *e)
{
    uint8_t lo[1] = {0}, hi[1] = {0xff};
    engine_iter_t *it = engine_iter_new(e, lo, 0, hi, sizeof hi);
    uint64_t h = 0;
    for (; engine_iter_valid(it); engine_iter_next(it)) {
        size_t kl, vl;
        const void *k = engine_iter_key(it, &kl), *v = engine_iter_value(it, &vl);
        h = h * 1099511628211ull ^ roost_hash64(k, kl) ^ (roost_hash64(v, vl) << 1);
    }
    engine_iter_destroy(&it);
    return h;
}

static uint64_t s_one_run(uint64_t seed)
{
    world_t w;
    g_ok = g_err = 0;
    s_open(&w, seed);
    s_go(&w);
    s_run(&w, 2000, true);
    assert_int_equal(g_ok, WRITES);
    assert_int_equal(g_err, 0);
    uint64_t digest = s_disk_digest(w.engine);
    s_close(&w);
    return digest;
}

static void test_the_same_seed_writes_the_same_bytes(void **state)
{
    (void)state;
    uint64_t a = s_one_run(7), b = s_one_run(7);
    assert_int_equal(a, b);
}

/* Log entries of partition p on the engine. */
static int s_partition_entries(engine_t *e, uint32_t p)
{
    uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES];
    key_prefix(lo, p, KEY_TABLE_LOG);
    key_prefix(hi, p, KEY_TABLE_LOG + 1);
    engine_iter_t *it = engine_iter_new(e, lo, sizeof lo, hi, sizeof hi);
    int n = 0;
    for (; engine_iter_valid(it); engine_iter_next(it))
        n++;
    engine_iter_destroy(&it);
    return n;
}

/* Log entries of every partition on the engine. */
static int s_log_entries(engine_t *e)
{
    int n = 0;
    for (uint32_t p = 0; p < P; p++)
        n += s_partition_entries(e, p);
    return n;
}

/* Partitions whose log holds entries. */
static int s_logs_with_entries(engine_t *e)
{
    int n = 0;
    for (uint32_t p = 0; p < P; p++)
        n += s_partition_entries(e, p) > 0;
    return n;
}

static void test_nothing_is_answered_before_its_sync(void **state)
{
    (void)state;
    world_t w;
    g_ok = g_err = 0;
    s_open(&w, 3);
    s_go(&w);
    s_run(&w, 500, false); /* written, never synced */
    assert_int_equal(g_ok, 0);
    assert_int_equal(s_log_entries(w.engine), WRITES);
    /* power loss: the process and the unsynced writes go; the disk keeps what was synced */
    engine_t *disk = w.engine;
    w.engine = NULL;
    engine_mem_crash(disk);
    syncer_destroy(&w.syncer);
    roost_node_destroy(&w.node);
    assert_int_equal(s_log_entries(disk), 0); /* lost, and none of it was acknowledged */
    engine_destroy(&disk);
    s_close(&w);
}

/* Writes arriving while a sync is outstanding are written (and would be shipped) at once, and
 * the sync that was asked for before them covers them if it starts after: one fsync answers
 * both waves. (Until session 20 the second wave waited unwritten for the first sync's answer,
 * then needed a sync of its own: a replica saw it a whole sync later.) */
static void test_a_sync_covers_what_was_written_while_it_was_asked(void **state)
{
    (void)state;
    world_t w;
    g_ok = g_err = 0;
    s_open(&w, 5);
    s_go(&w);
    s_run(&w, 50, false); /* the first wave written; its sync asked for, not done */
    assert_int_equal(s_log_entries(w.engine), WRITES);
    s_go(&w);
    s_run(&w, 50, false);
    assert_int_equal(s_log_entries(w.engine), 2 * WRITES); /* written while the sync waits */
    assert_int_equal(g_ok, 0);
    assert_true(syncer_poll(w.syncer) > 0);
    s_run(&w, 50, false);
    assert_int_equal(syncer_syncs(w.syncer), 1);
    assert_int_equal(g_ok, 2 * WRITES);
    assert_int_equal(g_err, 0);
    s_close(&w);
}

/* What is written while an fsync runs is not covered by it: those writes are answered after
 * the next one (the simulator's two-half fsync, syncer_poll_begin/_end; `--plant sync-all`
 * breaks exactly this). */
static void test_writes_made_while_a_sync_runs_wait_for_the_next(void **state)
{
    (void)state;
    world_t w;
    g_ok = g_err = 0;
    s_open(&w, 5);
    s_go(&w);
    s_run(&w, 50, false); /* the first wave written, its sync asked for */
    assert_true(syncer_poll_begin(w.syncer) > 0);
    uint64_t mark = engine_mem_sync_begin(w.engine);
    s_go(&w);
    s_run(&w, 50, false); /* the second wave written while the fsync runs */
    assert_int_equal(s_log_entries(w.engine), 2 * WRITES);
    assert_true(syncer_poll_end(w.syncer, engine_mem_sync_end(w.engine, mark)) > 0);
    s_run(&w, 50, false);
    assert_int_equal(g_ok, WRITES); /* the first wave only */
    assert_true(engine_mem_unsynced(w.engine) > 0);
    assert_true(syncer_poll(w.syncer) > 0); /* the second wave asked for the next sync itself */
    s_run(&w, 50, false);
    assert_int_equal(g_ok, 2 * WRITES);
    assert_int_equal(g_err, 0);
    s_close(&w);
}

/* A scrubber round's share is exact over time: never rounded up to one read per round (which
 * multiplied the budget on a node with many logs), never lost to rounding down. */
static void test_the_scrubber_budget_is_exact_over_rounds(void **state)
{
    (void)state;
    const struct {
        uint64_t per_s, ms;
        uint32_t logs;
    } cases[] = {{2000, 250, 192}, {2000, 250, 5000}, {400, 100, 4}, {7, 1000, 3}, {1, 250, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint64_t credit = 0, sum = 0, rounds = 1000;
        for (uint64_t i = 0; i < rounds; i++)
            sum += replog_scrub_budget(&credit, cases[c].per_s, cases[c].ms, cases[c].logs);
        uint64_t want = cases[c].per_s * cases[c].ms * rounds / (1000u * cases[c].logs);
        assert_int_equal(sum, want);
    }
}

/* The logs of a node are activated together, but each scrubs at its own phase of the interval:
 * the node's budget is spread over it, not read in one burst (session 20: 10,000 reads at once
 * every 5 s stalled a loaded node's worker for 30-80 ms). */
static void test_the_scrubber_spreads_its_rounds(void **state)
{
    (void)state;
    world_t w;
    g_ok = g_err = 0;
    s_open(&w, 11);
    w.store.scrub_per_s = 400;
    w.store.scrub_interval_ms = 100; /* 10 reads per log per round, 4 logs */
    s_go(&w);
    s_run(&w, 2000, true);
    assert_int_equal(g_ok, WRITES);
    bool hit[100] = {false};
    uint64_t before = atomic_load(&w.store.stats.scrubbed), last = before, bursts = 0;
    for (int ms = 0; ms < 1000; ms++) {
        while (roost_node_poll(w.node))
            ;
        uint64_t now = atomic_load(&w.store.stats.scrubbed);
        if (now != last) {
            hit[ms % 100] = true;
            bursts++;
            assert_true(now - last <= 10); /* one log's round at a time */
        }
        last = now;
        fake_clock_advance_ms(&w.clock, 1);
    }
    int phases = 0, logs = s_logs_with_entries(w.engine); /* an empty log reads nothing */
    for (int i = 0; i < 100; i++)
        phases += hit[i];
    assert_true(logs >= 2);
    assert_true(phases >= 2); /* all at one phase: the burst */
    assert_true(bursts >= 10u * (unsigned)logs);
    uint64_t read = last - before; /* 100 a second per log, give or take a round */
    assert_true(read >= 90u * (unsigned)logs && read <= 110u * (unsigned)logs);
    s_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_same_seed_writes_the_same_bytes),
        cmocka_unit_test(test_nothing_is_answered_before_its_sync),
        cmocka_unit_test(test_a_sync_covers_what_was_written_while_it_was_asked),
        cmocka_unit_test(test_writes_made_while_a_sync_runs_wait_for_the_next),
        cmocka_unit_test(test_the_scrubber_budget_is_exact_over_rounds),
        cmocka_unit_test(test_the_scrubber_spreads_its_rounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
