/* tests/unit/test_base.c — actors/base.c's fence: state an actor loaded under one epoch of its
 * partition is never written back after the epoch changed, whatever wakes the actor (a timer,
 * a message). One in-process shard node (RocksDB in a temp dir, RF 1) and a small counter
 * actor built on base_t, as every domain actor is.
 *
 * The simulator found the timer case (seed 280 with 30 phones): a conversation loaded while
 * its node briefly led the partition stayed active when the partition moved on; when the node
 * led again, its checkpoint timer wrote the old head record over the newer one. Also: an answer
 * given after a write (base_after) reports the write's failure. */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "actors/base.h"
#include "runtime/errors.h"
#include "runtime/fault.h"
#include "runtime/hash.h"
#include "runtime/node.h"
#include "shards/engine_rocksdb.h"
#include "shards/keys.h"
#include "shards/proto.h"
#include "shards/replog.h"
#include "shards/store.h"
#include "shards/syncer.h"
#include "tests/support/tmpdir.h"

enum { NODE = 1, P = 4, MSG_TC_SET = 1, MSG_TC_SET_AFTER = 2, TC_TIMER = 7 };
enum { AFTER_NONE = 1 };                 /* g_after before any base_after answered */
static _Atomic int g_after = AFTER_NONE; /* the status the last base_after was given */
static const char REC[] = "tc-record";   /* the one state key every counter actor writes */

/* ---- the counter actor: loads REC, sets it, and checkpoints it from a timer -------------- */

typedef struct {
    base_t base;
    uint64_t value;
} counter_t;

static int s_load(roost_ctx_t *ctx, void *self)
{
    counter_t *c = self;
    return base_get_u64(ctx, REC, sizeof REC - 1, &c->value);
}

static void s_reset(roost_ctx_t *ctx, void *self)
{
    (void)ctx;
    ((counter_t *)self)->value = 0;
}

static void s_write(roost_ctx_t *ctx, counter_t *c)
{
    uint8_t v[8];
    key_be64(v, c->value);
    store_ops_t ops;
    store_ops_init(&ops);
    store_ops_put(&ops, REC, sizeof REC - 1, v, sizeof v);
    base_write(ctx, &c->base, &ops, NULL, NULL);
    store_ops_fini(&ops);
}

static int s_activate(roost_ctx_t *ctx, void **state)
{
    (void)ctx;
    counter_t *c = calloc(1, sizeof *c);
    base_init(&c->base, c, s_load, s_reset);
    *state = c;
    return 0;
}

static void s_after(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)ctx, (void)self, (void)arg;
    atomic_store(&g_after, status);
}

/* MSG_TC_SET [value (0: the loaded value + 1), checkpoint after ms (0: none)];
 * MSG_TC_SET_AFTER the same, and then base_after, as a request's answer is (g_after). */
static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    counter_t *c = state;
    if (base_filter(ctx, &c->base, env) ||
        (env->type != MSG_TC_SET && env->type != MSG_TC_SET_AFTER) ||
        env->payload_len != 2 * sizeof(uint64_t))
        return;
    uint64_t arg[2];
    memcpy(arg, env->payload, sizeof arg);
    c->value = arg[0] ? arg[0] : c->value + 1;
    s_write(ctx, c);
    if (env->type == MSG_TC_SET_AFTER)
        base_after(ctx, &c->base, s_after, NULL);
    if (arg[1])
        roost_ctx_timer_start(ctx, arg[1], 0, TC_TIMER);
}

static void s_timer(roost_ctx_t *ctx, void *state, uint64_t id, uint64_t tag)
{
    (void)id;
    counter_t *c = state;
    if (base_timer(ctx, &c->base, tag) || !base_ready(&c->base) || tag != TC_TIMER)
        return;
    s_write(ctx, c); /* the checkpoint: what this activation holds */
}

static void s_passivate(roost_ctx_t *ctx, void *state)
{
    counter_t *c = state;
    base_fini(ctx, &c->base);
    free(c);
}

static const roost_behaviour_t counter_behaviour = {.kind = "tc",
                                                    .on_activate = s_activate,
                                                    .on_message = s_message,
                                                    .on_timer = s_timer,
                                                    .on_passivate = s_passivate};

/* ---- the world ------------------------------------------------------------------------------ */

static struct {
    char dir[64];
    roost_node_t *node;
    syncer_t *syncer;
    engine_t *engine;
    store_t store;
} * W;

static void s_role(uint32_t p, uint64_t epoch)
{
    roost_node_set_primary(W->node, p, NODE, epoch);
    msg_role_t m = {.epoch = epoch, .primary = NODE, .nreplicas = 1, .replicas = {NODE}};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msg_role_encode(&sb, &m);
    char key[64];
    replog_key(key, sizeof key, NODE, p);
    roost_node_send(W->node, roost_env_new(key, NULL, MSG_LOG_ROLE, sb.data, sb.size));
    msgpack_sbuffer_destroy(&sb);
}

static int setup(void **state)
{
    (void)state;
    W = calloc(1, sizeof *W);
    snprintf(W->dir, sizeof W->dir, "/tmp/roost-base-XXXXXX");
    assert_non_null(mkdtemp(W->dir));
    char err[256];
    W->engine = engine_rocksdb_open(W->dir, NULL, err, sizeof err);
    assert_non_null(W->engine);
    W->store = (store_t){.engine = W->engine,
                         .rf = 1,
                         .consistency = CONSISTENCY_QUORUM,
                         .sync = SYNC_BATCH,
                         .append_timeout_ms = 5000};
    roost_node_config_t nc = {.node_id = NODE, .workers = 2, .partitions = P};
    W->node = roost_node_new(&nc);
    roost_node_register(W->node, &replog_behaviour);
    roost_node_register(W->node, &counter_behaviour);
    roost_node_set_service(W->node, STORE_SERVICE, &W->store);
    W->syncer = syncer_new(W->node, W->engine);
    roost_node_set_service(W->node, SYNCER_SERVICE, W->syncer);
    assert_int_equal(syncer_start(W->syncer), 0);
    assert_int_equal(roost_node_start(W->node), 0);
    for (uint32_t p = 0; p < P; p++)
        s_role(p, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    roost_node_stop(W->node);
    syncer_destroy(&W->syncer);
    roost_node_destroy(&W->node);
    engine_destroy(&W->engine);
    test_rmtree(W->dir);
    free(W);
    return 0;
}

static void s_set(const char *key, uint64_t value, uint64_t checkpoint_ms)
{
    uint64_t arg[2] = {value, checkpoint_ms};
    roost_node_send(W->node, roost_env_new(key, NULL, MSG_TC_SET, arg, sizeof arg));
}

/* REC in partition p as stored (0 if absent). */
static uint64_t s_stored(uint32_t p)
{
    uint8_t k[KEY_BYTES_MAX];
    size_t kn = key_state(k, p, REC, sizeof REC - 1);
    void *v = NULL;
    size_t len = 0;
    uint64_t out = 0;
    if (engine_get(W->engine, k, kn, &v, &len) == ROOST_OK && len == 8)
        out = key_get_be64(v);
    free(v);
    return out;
}

static bool s_wait_stored(uint32_t p, uint64_t want, int ms)
{
    struct timespec pause = {0, 2000000};
    for (int i = 0; i < ms / 2; i++) {
        if (s_stored(p) == want)
            return true;
        nanosleep(&pause, NULL);
    }
    return s_stored(p) == want;
}

static void s_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Two counter keys of one partition: a (the stale one) and b (the "other primary"). */
static uint32_t s_pair(char a[16], char b[16])
{
    snprintf(a, 16, "tc:a");
    uint32_t p = roost_partition_of(a, strlen(a), P);
    for (int i = 0;; i++) {
        snprintf(b, 16, "tc:b%d", i);
        if (roost_partition_of(b, strlen(b), P) == p)
            return p;
    }
}

/* a sets 1 and arms its checkpoint; the partition's epoch changes; b (loaded under the new
 * epoch, standing for whoever wrote while a's node did not lead) sets 2; a's checkpoint then
 * fires: it must reload, not write 1 over 2. A message to a afterwards acts on what it
 * reloaded (2 + 1). */
static void test_a_timer_never_writes_back_state_from_an_earlier_epoch(void **state)
{
    (void)state;
    char a[16], b[16];
    uint32_t p = s_pair(a, b);
    s_set(a, 1, 600);
    assert_true(s_wait_stored(p, 1, 5000));
    s_role(p, 2);
    s_set(b, 2, 0);
    assert_true(s_wait_stored(p, 2, 5000));
    s_sleep_ms(1200); /* a's checkpoint has fired */
    assert_int_equal(s_stored(p), 2);
    s_set(a, 0, 0);
    assert_true(s_wait_stored(p, 3, 5000));
}

/* A request answered after its write (base_after) is told the write failed: the answer says
 * "not stored", never ok. base_after once always said ok, so a user request whose write the
 * store refused (its primary stepping down) was answered ok: a block that never took effect
 * (found by the simulator, seed 3 with 3 nodes). Here the disk refuses the write. */
static void test_an_answer_after_a_failed_write_says_so(void **state)
{
    (void)state;
    char a[16], b[16];
    uint32_t p = s_pair(a, b);
    s_set(a, 1, 0);
    assert_true(s_wait_stored(p, 1, 5000));
    assert_int_equal(roost_fault_arm("engine.write", -1), 0);
    uint64_t arg[2] = {7, 0};
    roost_node_send(W->node, roost_env_new(a, NULL, MSG_TC_SET_AFTER, arg, sizeof arg));
    for (int i = 0; i < 2500 && atomic_load(&g_after) == AFTER_NONE; i++)
        s_sleep_ms(2);
    roost_fault_reset();
    assert_int_not_equal(atomic_load(&g_after), AFTER_NONE);
    assert_int_not_equal(atomic_load(&g_after), ROOST_OK);
    assert_int_equal(s_stored(p), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_timer_never_writes_back_state_from_an_earlier_epoch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_answer_after_a_failed_write_says_so, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
