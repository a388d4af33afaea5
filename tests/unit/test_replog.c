/* tests/unit/test_replog.c — the replicated log (tests/support/replog_world.h): acknowledged
 * writes are in every replica's log; a dead replica does not stop a quorum and catches up when
 * it returns; a failover reconciles, the deposed primary cannot get writes acknowledged and its
 * unacknowledged tail is dropped; corrupt entries are detected and repaired; a restarted
 * primary keeps its committed tail; a handoff moves a copy; every ack status crosses the wire.
 * (Rejoining under sync: none and snapshot rebuilds: test_replog_rebuild.c.) */
#include "tests/support/replog_world.h"

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

/* A primary that leads the next epoch too (a handoff may keep it; here the map re-leads it)
 * with a tail its replicas hold but it never saw acknowledged: they acknowledge it as soon as
 * they have promised, so the commit point reaches the end of its log before it adopts. It must
 * serve then. Before, it waited for the commit point to move again, adopted the same tail anew
 * on every tick, and the partition reconciled for good (the simulator's seed 128). */
static void test_a_tail_committed_while_reconciling_is_served(void **state)
{
    (void)state;
    g_want = 200;
    s_go(1, 200, 0);
    assert_true(s_wait(s_answered, 30));
    assert_true(s_wait(s_logs_agree, 20));
    s_write_a_tail_only_the_replicas_hold(40, 1000);
    s_route_all(1, 2);
    for (uint32_t id = 1; id <= N; id++)
        s_role(id, 1, 2);
    for (uint32_t id = 2; id <= N; id++) /* now they can promise, and acknowledge the tail */
        inproc_cut_one_way(&W->net, id, 1, false);
    s_new_writes_succeed();
    assert_true(s_wait(s_logs_agree, 20));
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

/* A switch whose new list holds the committed log on no quorum yet does not settle: node 2
 * lags (it missed 300 writes), the new replica is cut off, and the primary's appends are lost,
 * so only node 1 of the new list {1, 2, 4} holds them — the old list's quorum is what does.
 * The adoption had nothing to re-stamp and served at once; it asked to forget the old list at
 * once too, and a failure of node 1 then lost committed writes (the simulator's seed 1127: a
 * new replica at 0 and a stale copy led the next epoch). Once node 2 catches up, it settles. */
static void test_a_switch_settles_once_the_new_list_holds_the_log(void **state)
{
    (void)state;
    const uint32_t old_list[N] = {1, 2, 3}, new_list[N] = {1, 2, JOINER};
    atomic_store(&g_asked_settled, 0);
    W->store[1].handoff = s_handoff_hook;
    g_want = 300;
    s_go(1, 300, 0);
    assert_true(s_wait(s_answered, 30));
    inproc_isolate(&W->net, 2, true);
    g_want = 600;
    s_go(1, 300, 10000); /* committed by nodes 1 and 3 */
    assert_true(s_wait(s_answered, 30));
    s_open_engine_and_node(JOINER);
    inproc_isolate(&W->net, JOINER, true);
    assert_int_equal(roost_node_start(W->node[JOINER]), 0);
    roost_fault_arm("replog.append_lost", -1);
    inproc_isolate(&W->net, 2, false);
    s_route_all(1, 2);
    for (uint32_t id = 1; id <= 3; id++)
        s_role_lists(id, 2, new_list, NULL, old_list);
    s_sleep_ms(1500); /* promised by 1 and 2 (both lists), adopted, serving: 2 still at 300 */
    assert_int_equal(atomic_load(&g_asked_settled), 0);
    roost_fault_reset();
    assert_true(s_wait(s_all_asked_settled, 30));
    atomic_store(&g_done, 0);
    g_want = 50;
    s_go(1, 50, 20000); /* served by 1 and 2, a quorum of the new list */
    assert_true(s_wait(s_answered, 30));
    assert_int_equal(atomic_load(&g_failed), 0);
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
        T(test_a_restarted_primary_keeps_its_committed_tail),
        T(test_a_tail_committed_while_reconciling_is_served),
        T(test_handoff_moves_a_copy_without_losing_writes),
        T(test_a_switch_settles_once_the_new_list_holds_the_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
