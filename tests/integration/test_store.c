/* tests/integration/test_store.c — the replicated store across real processes.
 *
 * Three roostd shard nodes (RF 3, QUORUM, sync batch) from a generated manifest on free
 * 127.0.0.1 ports; this process joins as the manifest's edge node through the store probe and
 * writes 10,000 distinct values (kv:w<i> = v<i>), up to 64 in flight, retrying any write that
 * fails. Mid-stream: kill -9 of one node (it leads a third of the partitions and follows the
 * rest) and its restart, then the same for another, then a kill -9 and immediate restart
 * (back before the failure detector noticed: the same map epoch). Afterwards every node is stopped
 * and its RocksDB opened directly: every acknowledged write is in every node's log, and the three
 * logs of every partition agree entry for entry (tests/support/store_cluster.h). And all three
 * killed at once and restarted (a blackout), and under sync: none an unclean stop's rejoin.
 */
#include <pthread.h>

#include "tests/support/store_cluster.h"

static void test_acknowledged_writes_survive_kill_and_restart(void **state)
{
    (void)state;
    s_start_cluster();
    probe_route(W->probe, 1); /* s1 forwards to each partition's primary; it is never killed */

    assert_true(s_write_until(2500));
    proc_stop(&W->node[3], SIGKILL, 1000); /* a third of the primaries, and a replica */
    assert_true(s_write_until(5000));
    s_start(3);
    assert_true(s_write_until(6500));
    proc_stop(&W->node[2], SIGKILL, 1000);
    assert_true(s_write_until(8000));
    s_start(2);
    assert_true(s_write_until(9000));
    /* a primary killed and back at once, before anyone notices: same map epoch, so it must
     * lead under a fresh term (replog.c s_term_for) or two entries could share (term, lsn) */
    proc_stop(&W->node[3], SIGKILL, 1000);
    s_start(3);
    assert_true(s_write_until(WRITES));
    fprintf(stderr, "acknowledged %d writes; %d attempts failed and were retried\n",
            atomic_load(&W->acked), atomic_load(&W->failed));

    probe_destroy(&W->probe);
    s_stop_and_verify();
}

/* Every node killed (-9) in the same instant and all three restarted: the simulator's blackout
 * on real processes. Under sync: batch each node loses what RocksDB still buffered unsynced
 * (its WAL buffer: `manual_wal_flush`), fsyncs under way included, and the control plane and
 * every log come back from their disks alone; every write acknowledged before is still there,
 * on every node, once they have caught up. */
static void *s_kill_all_soon(void *arg)
{
    (void)arg;
    proc_sleep_ms(30);
    for (int i = 1; i <= 3; i++)
        kill(W->node[i].pid, SIGKILL);
    return NULL;
}

static void test_acknowledged_writes_survive_killing_every_node_at_once(void **state)
{
    (void)state;
    s_start_cluster();
    probe_route(W->probe, 1);
    assert_true(s_write_until(3000));
    pthread_t killer; /* kills while this thread keeps a window of writes in flight */
    assert_int_equal(pthread_create(&killer, NULL, s_kill_all_soon, NULL), 0);
    s_write_loop(WRITES, proc_now_ms() + 60);
    pthread_join(killer, NULL);
    int in_flight = atomic_load(&W->inflight);
    int before = atomic_load(&W->acked);
    for (int i = 1; i <= 3; i++)
        proc_stop(&W->node[i], SIGKILL, 1000); /* reaped */
    for (int i = 1; i <= 3; i++)
        s_start(i);
    for (int i = 1; i <= 3; i++)
        s_wait_maps(i, 1, 30);
    assert_true(s_write_until(before + 3000));
    fprintf(stderr,
            "acknowledged %d writes (%d before the kill, %d in flight at it); %d attempts failed "
            "and were retried\n",
            atomic_load(&W->acked), before, in_flight, atomic_load(&W->failed));
    probe_destroy(&W->probe);
    s_stop_and_verify();
}

static int setup_sync_none(void **state)
{
    g_sync = "none";
    return setup(state);
}

/* sync: none: a node killed (-9) comes back as a non-voter — its unsynced writes may be gone —
 * and votes again once caught up; a node stopped cleanly comes back as a voter at once. */
static void test_an_unclean_stop_under_sync_none_rejoins_as_a_non_voter(void **state)
{
    (void)state;
    const char *rejoin = "unclean stop under sync: none: rejoining as a non-voter";
    s_start_cluster();
    probe_route(W->probe, 1);
    assert_true(s_write_until(500));
    proc_stop(&W->node[3], SIGKILL, 1000);
    s_start(3);
    s_wait_maps(3, 1, 30);
    assert_true(s_write_until(1500));
    uint64_t until = proc_now_ms() + 20000;
    while (s_log_count(3, "rejoined: caught up, voting again") == 0 && proc_now_ms() < until)
        assert_true(s_write_until(atomic_load(&W->acked) + 50));
    assert_int_equal(s_log_count(3, rejoin), 1);
    assert_true(s_log_count(3, "rejoined: caught up, voting again") > 0);
    int status = proc_stop(&W->node[3], SIGTERM, 30000); /* clean: back as a voter */
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    s_start(3);
    s_wait_maps(3, 1, 30);
    assert_true(s_write_until(2500));
    assert_int_equal(s_log_count(3, rejoin), 1); /* not again */
    probe_destroy(&W->probe);
    s_stop_and_verify();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_acknowledged_writes_survive_kill_and_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_acknowledged_writes_survive_killing_every_node_at_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_unclean_stop_under_sync_none_rejoins_as_a_non_voter,
                                        setup_sync_none, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
