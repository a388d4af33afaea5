/* tests/integration/test_partition.c — a primary cut off on the data plane (the transport's
 * fault hook, test builds only; its Raft link stays up) cannot get writes acknowledged once
 * the new epoch is in; the new primaries can; after healing, its unacknowledged tail is
 * dropped, every acknowledged write is in every log and the logs agree
 * (tests/support/store_cluster.h). */
#include "tests/support/store_cluster.h"

static bool s_map_says_down(int observer, int victim)
{
    char want[16];
    snprintf(want, sizeof want, "[s%d]", victim);
    s_pump();
    return strcmp(W->down[observer], want) == 0;
}

static void test_a_cut_off_primary_is_fenced(void **state)
{
    (void)state;
    s_start_cluster();
    int victim = W->leader % N + 1; /* not the Raft leader: the leader reports the failure */
    int other = victim % N + 1 == W->leader ? (victim + 1) % N + 1 : victim % N + 1;
    probe_route(W->probe, (uint32_t)victim); /* it leads a third of the partitions */
    assert_true(s_write_until(1000));

    int peers[2], n = 0;
    for (int i = 1; i <= N; i++)
        if (i != victim)
            peers[n++] = i;
    s_cut(victim, peers, n); /* the client still reaches it; its peers do not */
    uint64_t deadline = proc_now_ms() + 20000;
    while (!s_map_says_down(other, victim) && proc_now_ms() < deadline)
        proc_sleep_ms(50);
    assert_true(s_map_says_down(other, victim));
    proc_sleep_ms(2500); /* requests in flight before the new epoch time out */
    int via_victim = s_write_for(3000, 2000);
    assert_int_equal(via_victim, 0); /* the deposed primary gets nothing acknowledged */

    probe_route(W->probe, (uint32_t)other);
    int via_new = s_write_for(3000, 2000);
    assert_true(via_new > 0); /* the new primaries do */

    s_cut(victim, NULL, 0);
    deadline = proc_now_ms() + 20000;
    while (strcmp(W->down[other], "[]") != 0 && proc_now_ms() < deadline) {
        s_pump();
        proc_sleep_ms(50);
    }
    assert_string_equal(W->down[other], "[]");
    assert_true(s_write_until(atomic_load(&W->acked) + 500));
    fprintf(stderr, "cut s%d: %d acknowledged through it, %d through s%d; %d in all\n", victim,
            via_victim, via_new, other, atomic_load(&W->acked));

    probe_destroy(&W->probe);
    s_stop_and_verify();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_cut_off_primary_is_fenced, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
