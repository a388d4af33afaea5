/* tests/unit/test_sim_raft.c — the simulator's control plane (sim/raft.c over sim/raft_io.c):
 * real libraft servers on a simulated disk and network take and install snapshots, lose what a
 * crash interrupted, restart from their disks and still apply the same maps; and the same seed
 * gives the same run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/errors.h"
#include "sim/raft.h"

enum { VOTERS = 5, PARTITIONS = 16, RF = 3 };

typedef struct {
    uint64_t applied[VOTERS + 1]; /* map version last published by each voter */
    uint64_t publishes;
} seen_t;

static void s_on_map(void *arg, uint32_t id, const clustermap_t *map)
{
    seen_t *seen = arg;
    seen->applied[id] = clustermap_version(map);
    seen->publishes++;
}

static uint64_t s_ms;

static void s_run(sim_raft_t *r, uint64_t ms)
{
    for (uint64_t end = s_ms + ms; s_ms < end; s_ms += 10)
        sim_raft_advance(r, s_ms);
}

static uint32_t s_await_leader(sim_raft_t *r)
{
    for (int i = 0; i < 1000 && sim_raft_leader(r) == 0; i++)
        s_run(r, 10);
    uint32_t leader = sim_raft_leader(r);
    assert_int_not_equal(leader, 0);
    return leader;
}

/* Members 1..VOTERS, then `n` commands that each change the map (a member down, then up). */
static void s_propose_many(sim_raft_t *r, int n)
{
    static clustermap_cmd_t cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.type = CLUSTERMAP_CMD_SET_MEMBERS;
    for (uint32_t id = 1; id <= VOTERS; id++) {
        char name[16], addr[16];
        snprintf(name, sizeof name, "s%u", id);
        snprintf(addr, sizeof addr, "sim:%u", id);
        assert_int_equal(clustermap_cmd_add_member(&cmd, id, name, addr), ROOST_OK);
    }
    s_await_leader(r);
    assert_int_equal(sim_raft_propose(r, &cmd), ROOST_OK);
    for (int i = 0; i < n; i++) {
        memset(&cmd, 0, sizeof cmd);
        cmd.type = i % 2 == 0 ? CLUSTERMAP_CMD_NODE_DOWN : CLUSTERMAP_CMD_NODE_UP;
        cmd.node_id = VOTERS;
        s_await_leader(r);
        while (sim_raft_propose(r, &cmd) != ROOST_OK)
            s_run(r, 10);
        s_run(r, 20);
    }
}

static sim_raft_t *s_new(uint64_t seed, seen_t *seen)
{
    roost_rng_t rng;
    roost_rng_seed(&rng, seed);
    memset(seen, 0, sizeof *seen);
    s_ms = 0;
    sim_raft_t *r = sim_raft_new(VOTERS, PARTITIONS, RF, &rng, s_on_map, seen);
    assert_non_null(r);
    return r;
}

static void s_assert_agree(sim_raft_t *r, const seen_t *seen)
{
    uint32_t leader = s_await_leader(r);
    uint64_t version = clustermap_version(sim_raft_map(r, leader));
    for (uint32_t id = 1; id <= VOTERS; id++) {
        assert_int_equal(clustermap_version(sim_raft_map(r, id)), version);
        assert_int_equal(seen->applied[id], version);
    }
    sim_raft_stats_t st;
    sim_raft_stats(r, &st);
    assert_int_equal(st.diverged, 0);
}

/* Every link to and from voter `id` carries messages or drops them. */
static void s_set_links(sim_raft_t *r, uint32_t id, bool up)
{
    for (uint32_t other = 1; other <= VOTERS; other++) {
        sim_raft_set_link(r, id, other, up);
        sim_raft_set_link(r, other, id, up);
    }
}

static void test_voters_take_snapshots_and_agree(void **state)
{
    (void)state;
    seen_t seen;
    sim_raft_t *r = s_new(7, &seen);
    s_propose_many(r, 300);
    s_run(r, 3000);
    s_assert_agree(r, &seen);
    sim_raft_stats_t st;
    sim_raft_stats(r, &st);
    assert_true(st.snapshots >= VOTERS * 3); /* 300 entries, a snapshot every 8–39 */
    assert_true(st.committed >= 300);
    sim_raft_destroy(&r);
}

/* A voter down while the others move on and trim their logs comes back from its own disk and
 * is brought up to date by an installed snapshot; another crashes with appends in flight. */
static void test_a_restarted_voter_catches_up_from_a_snapshot(void **state)
{
    (void)state;
    seen_t seen;
    sim_raft_t *r = s_new(11, &seen);
    s_propose_many(r, 10);
    s_run(r, 2000);
    uint32_t down = sim_raft_leader(r) % VOTERS + 1; /* a follower */
    sim_raft_set_alive(r, down, false);
    uint64_t before = seen.applied[down];
    s_propose_many(r, 200);
    uint32_t other = down % VOTERS + 1;
    if (other == sim_raft_leader(r))
        other = other % VOTERS + 1;
    sim_raft_set_alive(r, other, false); /* mid-stream: its last appends are lost */
    s_run(r, 500);
    sim_raft_set_alive(r, other, true);
    sim_raft_set_alive(r, down, true);
    assert_true(seen.applied[down] <= before + 1); /* only what its disk had */
    s_run(r, 5000);
    s_assert_agree(r, &seen);
    sim_raft_stats_t st;
    sim_raft_stats(r, &st);
    assert_int_equal(st.restarts, 2);
    assert_true(st.installs >= 1);
    sim_raft_destroy(&r);
}

/* A voter cut off from the rest cannot lead a change; when healed it learns the majority's. */
static void test_a_cut_voter_follows_the_majority_once_healed(void **state)
{
    (void)state;
    seen_t seen;
    sim_raft_t *r = s_new(13, &seen);
    s_propose_many(r, 5);
    s_run(r, 1000);
    uint32_t cut = sim_raft_leader(r);
    s_set_links(r, cut, false);
    s_run(r, 4000);
    assert_int_not_equal(sim_raft_leader(r), 0);
    assert_int_not_equal(sim_raft_leader(r), cut);
    s_propose_many(r, 40);
    s_set_links(r, cut, true);
    s_run(r, 5000);
    s_assert_agree(r, &seen);
    sim_raft_destroy(&r);
}

/* A snapshot the leader sends a lagging voter is lost (the link drops just then). Once healed
 * it must be sent again soon: with libraft's default (30 s) the leader waited for an answer that
 * could not come, and the voter applied no map for 30 s (the simulator's seed 7090, whose
 * partitions that voter led stayed mid-handoff). */
static void test_a_lost_snapshot_is_sent_again(void **state)
{
    (void)state;
    seen_t seen;
    sim_raft_t *r = s_new(17, &seen);
    s_propose_many(r, 5);
    s_run(r, 1000);
    uint32_t leader = sim_raft_leader(r), cut = leader % VOTERS + 1; /* a follower */
    s_set_links(r, cut, false);
    s_propose_many(r, 200); /* past a few snapshots: the leader's log starts above the cut one's */
    assert_int_equal(sim_raft_leader(r), leader);
    s_set_links(r, cut, true); /* its refusal of the next heartbeat brings the snapshot */
    for (int ms = 0; ms < 1000 && !sim_raft_sending_snapshot(r, cut); ms++)
        sim_raft_advance(r, ++s_ms);
    assert_true(sim_raft_sending_snapshot(r, cut));
    sim_raft_set_link(r, leader, cut, false); /* ... and the cut drops it */
    s_run(r, 200);
    sim_raft_set_link(r, leader, cut, true);
    s_run(r, 3 * 1000); /* two election timeouts and one to spare */
    s_assert_agree(r, &seen);
    sim_raft_destroy(&r);
}

/* Messages lost now and then (2%, the weather's worst): elections, appends and snapshots are
 * sent again until they land, and every voter applies every map once the loss stops. */
static void test_voters_agree_through_lost_messages(void **state)
{
    (void)state;
    seen_t seen;
    sim_raft_t *r = s_new(19, &seen);
    sim_raft_set_drop_ppm(r, 20000);
    s_propose_many(r, 200);
    uint32_t down = sim_raft_leader(r) % VOTERS + 1; /* a follower, brought back by a snapshot */
    sim_raft_set_alive(r, down, false);
    s_propose_many(r, 100);
    sim_raft_set_alive(r, down, true);
    s_run(r, 2000);
    sim_raft_set_drop_ppm(r, 0);
    s_run(r, 3000);
    s_assert_agree(r, &seen);
    sim_raft_stats_t st;
    sim_raft_stats(r, &st);
    assert_true(st.committed >= 300);
    sim_raft_destroy(&r);
}

static void s_scenario(uint64_t seed, sim_raft_stats_t *out, uint64_t *version)
{
    seen_t seen;
    sim_raft_t *r = s_new(seed, &seen);
    s_propose_many(r, 50);
    sim_raft_set_alive(r, 2, false);
    s_propose_many(r, 50);
    sim_raft_set_alive(r, 2, true);
    s_run(r, 3000);
    sim_raft_stats(r, out);
    *version = clustermap_version(sim_raft_map(r, 1));
    sim_raft_destroy(&r);
}

static void test_the_same_seed_gives_the_same_run(void **state)
{
    (void)state;
    sim_raft_stats_t a, b;
    uint64_t va, vb;
    s_scenario(21, &a, &va);
    s_scenario(21, &b, &vb);
    assert_int_equal(va, vb);
    assert_int_equal(a.messages, b.messages);
    assert_int_equal(a.snapshots, b.snapshots);
    assert_int_equal(a.elections, b.elections);
    assert_int_equal(a.committed, b.committed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_voters_take_snapshots_and_agree),
        cmocka_unit_test(test_a_restarted_voter_catches_up_from_a_snapshot),
        cmocka_unit_test(test_a_cut_voter_follows_the_majority_once_healed),
        cmocka_unit_test(test_a_lost_snapshot_is_sent_again),
        cmocka_unit_test(test_voters_agree_through_lost_messages),
        cmocka_unit_test(test_the_same_seed_gives_the_same_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
