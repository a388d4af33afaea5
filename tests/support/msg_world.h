/* tests/support/msg_world.h — one shard node in this process (RocksDB in a temp dir, RF 1,
 * serving every partition) with the messaging actors and test sessions (sessions.h): the
 * world the messaging unit tests drive through the real runtime and the real store API.
 * With ROOST_TEST_ENGINE=mem the same store API runs over the in-memory engine instead (kept
 * across a restart of the node, as a disk is). Header-only, one test file at a time. */
#ifndef ROOST_TEST_MSG_WORLD_H
#define ROOST_TEST_MSG_WORLD_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "actors/actors.h"
#include "runtime/hash.h"
#include "runtime/node.h"
#include "shards/engine_locked.h"
#include "shards/engine_mem.h"
#include "shards/engine_rocksdb.h"
#include "shards/keys.h"
#include "shards/proto.h"
#include "shards/replog.h"
#include "shards/store.h"
#include "shards/syncer.h"
#include "tests/support/sessions.h"
#include "tests/support/tmpdir.h"

enum { MW_NODE = 1, MW_P = 16 };

typedef struct {
    char dir[64];
    bool mem; /* the in-memory engine (ROOST_TEST_ENGINE=mem) */
    roost_node_t *node;
    syncer_t *syncer;
    engine_t *engine;
    store_t store;
    actors_config_t cfg;
} msg_world_t;

static msg_world_t *MW;

static void mw_roles(void)
{
    msg_role_t m = {.epoch = 1, .primary = MW_NODE, .nreplicas = 1, .replicas = {MW_NODE}};
    for (uint32_t p = 0; p < MW_P; p++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msg_role_encode(&sb, &m);
        char key[64];
        replog_key(key, sizeof key, MW_NODE, p);
        roost_node_send(MW->node, roost_env_new(key, NULL, MSG_LOG_ROLE, sb.data, sb.size));
        msgpack_sbuffer_destroy(&sb);
    }
}

static void mw_open(bool fresh)
{
    if (fresh) {
        MW = calloc(1, sizeof *MW);
        snprintf(MW->dir, sizeof MW->dir, "/tmp/roost-msg-XXXXXX");
        assert_non_null(mkdtemp(MW->dir));
        MW->cfg = (actors_config_t){.retention_ms = 30ull * 24 * 3600 * 1000,
                                    .retention_count = 10000,
                                    .group_max_members = 256};
        const char *engine = getenv("ROOST_TEST_ENGINE");
        MW->mem = engine && strcmp(engine, "mem") == 0;
    }
    char err[256];
    if (MW->mem && !MW->engine)
        MW->engine = engine_locked_new(engine_mem_new(NULL)); /* workers and the syncer */
    else if (!MW->mem)
        MW->engine = engine_rocksdb_open(MW->dir, NULL, err, sizeof err);
    assert_non_null(MW->engine);
    MW->store = (store_t){.engine = MW->engine,
                          .rf = 1,
                          .consistency = CONSISTENCY_QUORUM,
                          .sync = SYNC_BATCH,
                          .append_timeout_ms = 5000,
                          .serving_hook = ACTORS_SERVING_HOOK};
    roost_node_config_t nc = {.node_id = MW_NODE, .workers = 2, .partitions = MW_P};
    MW->node = roost_node_new(&nc);
    roost_node_register(MW->node, &replog_behaviour);
    assert_int_equal(actors_register(MW->node), 0);
    roost_node_register(MW->node, &sess_behaviour);
    roost_node_set_service(MW->node, STORE_SERVICE, &MW->store);
    roost_node_set_service(MW->node, ACTORS_CONFIG_SERVICE, &MW->cfg);
    MW->syncer = syncer_new(MW->node, MW->engine);
    roost_node_set_service(MW->node, SYNCER_SERVICE, MW->syncer);
    assert_int_equal(syncer_start(MW->syncer), 0);
    for (uint32_t p = 0; p < MW_P; p++)
        roost_node_set_primary(MW->node, p, MW_NODE, 1);
    g_hub.node = MW->node;
    g_hub.node_id = MW_NODE;
    assert_int_equal(roost_node_start(MW->node), 0);
    mw_roles();
}

/* Stops the node (every actor passivated, nothing kept in memory) and closes the store. */
static void mw_close(void)
{
    roost_node_stop(MW->node);
    syncer_destroy(&MW->syncer);
    roost_node_destroy(&MW->node);
    if (!MW->mem) /* (the in-memory one lives until the teardown, as a disk would) */
        engine_destroy(&MW->engine);
    for (uint32_t i = 0; i < SESS_MAX; i++)
        sess_drain(i);
}

/* Between mw_close and mw_open: every partition gets a fence (shards/store.h), as an adoption
 * that may have lost acknowledged writes leaves one (term: the log term it names). */
static inline void mw_fence(uint64_t term)
{
    char err[256];
    engine_t *e = MW->mem ? MW->engine : engine_rocksdb_open(MW->dir, NULL, err, sizeof err);
    assert_non_null(e);
    engine_batch_t *b = engine_batch_new();
    uint8_t val[8];
    key_be64(val, term);
    for (uint32_t p = 0; p < MW_P; p++) {
        uint8_t k[KEY_BYTES_MAX];
        size_t kl = key_state(k, p, STORE_FENCE_KEY, strlen(STORE_FENCE_KEY));
        engine_batch_put(b, k, kl, val, sizeof val);
    }
    assert_int_equal(engine_write(e, b, true), 0);
    engine_batch_destroy(&b);
    if (!MW->mem)
        engine_destroy(&e);
}

/* Between mw_close and mw_open: what a loss can take from one actor — its key `owner` and every
 * "owner/…" row (table NULL), or the one row "owner/table" — in owner's partition. */
static inline void mw_forget(const char *owner, const char *table)
{
    char err[256], lo[160], hi[160];
    engine_t *e = MW->mem ? MW->engine : engine_rocksdb_open(MW->dir, NULL, err, sizeof err);
    assert_non_null(e);
    uint32_t p = roost_partition_of(owner, strlen(owner), MW_P);
    engine_batch_t *b = engine_batch_new();
    uint8_t k[KEY_BYTES_MAX], k2[KEY_BYTES_MAX];
    snprintf(lo, sizeof lo, table ? "%s/%s" : "%s", owner, table ? table : "");
    engine_batch_delete(b, k, key_state(k, p, lo, strlen(lo)));
    if (!table) { /* owner/ … owner0 ('0' follows '/') */
        snprintf(lo, sizeof lo, "%s/", owner);
        snprintf(hi, sizeof hi, "%s0", owner);
        engine_batch_delete_range(b, k, key_state(k, p, lo, strlen(lo)), k2,
                                  key_state(k2, p, hi, strlen(hi)));
    }
    assert_int_equal(engine_write(e, b, true), 0);
    engine_batch_destroy(&b);
    if (!MW->mem)
        engine_destroy(&e);
}

/* The store's acknowledged appends so far (0 where it cannot be known). */
static inline uint64_t mw_appends(void)
{
    return atomic_load(&MW->store.stats.appends);
}

/* The conversations acknowledge and deliver nothing (or deliver again). */
static inline void mw_hold_fanout(bool hold)
{
    atomic_store(&MW->cfg.hold_fanout, hold);
}

static inline void mw_set_retention_count(uint32_t n)
{
    MW->cfg.retention_count = n;
}

/* (in-process only: the manifest counts retention in days) */
static inline void mw_set_retention_ms(uint64_t ms)
{
    MW->cfg.retention_ms = ms;
}

static int mw_setup(void **state)
{
    (void)state;
    mw_open(true);
    return 0;
}

static int mw_teardown(void **state)
{
    (void)state;
    mw_close();
    engine_destroy(&MW->engine);
    test_rmtree(MW->dir);
    free(MW);
    MW = NULL;
    return 0;
}

#endif
