/* tests/unit/test_clustermap.c — the cluster map's commands, epochs, determinism and codecs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/clustermap.h"
#include "runtime/errors.h"
#include "runtime/rng.h"

enum { P = 256, RF = 3, FUZZ_ROUNDS = 2000, FUZZ_BYTES_MAX = 256 };

static clustermap_cmd_t s_members_cmd(uint32_t n)
{
    clustermap_cmd_t cmd = {.type = CLUSTERMAP_CMD_SET_MEMBERS};
    for (uint32_t i = 1; i <= n; i++) {
        char name[32], addr[32];
        snprintf(name, sizeof name, "shard-%u", i);
        snprintf(addr, sizeof addr, "127.0.0.1:%u", 7000 + i);
        assert_int_equal(clustermap_cmd_add_member(&cmd, i, name, addr), ROOST_OK);
    }
    return cmd;
}

static clustermap_cmd_t s_node_cmd(clustermap_cmd_type_t type, uint32_t id)
{
    clustermap_cmd_t cmd = {.type = type, .node_id = id};
    return cmd;
}

/* A P=256, RF=3 map with members 1..n applied at index 1. */
static clustermap_t *s_map_with(uint32_t n)
{
    clustermap_t *map = clustermap_new(P, RF);
    assert_non_null(map);
    clustermap_cmd_t cmd = s_members_cmd(n);
    assert_int_equal(clustermap_apply(map, &cmd, 1), ROOST_OK);
    return map;
}

static uint32_t s_first_replica(const clustermap_t *map, uint32_t p)
{
    uint32_t reps[ROOST_RF_MAX];
    assert_int_equal(clustermap_replicas_of(map, p, reps, ROOST_RF_MAX), RF);
    return reps[0];
}

static void test_new_map_has_no_members_and_no_primaries(void **state)
{
    (void)state;
    clustermap_t *map = clustermap_new(P, RF);
    assert_non_null(map);
    uint32_t reps[ROOST_RF_MAX];
    assert_int_equal(clustermap_version(map), 0);
    assert_int_equal(clustermap_member_count(map), 0);
    assert_int_equal(clustermap_primary_of(map, 0), ROOST_NO_PRIMARY);
    assert_int_equal(clustermap_replicas_of(map, 0, reps, ROOST_RF_MAX), 0);
    assert_null(clustermap_new(100, RF)); /* not a power of two */
    assert_null(clustermap_new(P, 0));
    clustermap_release(&map);
    assert_null(map);
}

static void test_set_members_makes_preferred_replica_primary_at_epoch_1(void **state)
{
    (void)state;
    clustermap_t *map = s_map_with(5);
    assert_int_equal(clustermap_version(map), 1);
    assert_int_equal(clustermap_member_count(map), 5);
    assert_int_equal(clustermap_member_by_name(map, "shard-3")->id, 3);
    assert_null(clustermap_member_by_name(map, "shard-9"));
    for (uint32_t p = 0; p < P; p++) {
        assert_int_equal(clustermap_primary_of(map, p), s_first_replica(map, p));
        assert_int_equal(clustermap_epoch_of(map, p), 1);
    }
    clustermap_release(&map);
}

static clustermap_cmd_t s_handoff_cmd(clustermap_cmd_type_t type, const clustermap_t *map,
                                      uint32_t p)
{
    clustermap_cmd_t cmd = {.type = type, .partition = p, .epoch = clustermap_epoch_of(map, p)};
    return cmd;
}

static bool s_has(const uint32_t *ids, uint32_t n, uint32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* A join plans handoffs and moves nothing yet; each HANDOFF_DONE then switches one partition
 * to its new list under a new epoch (keeping a primary that stays in the list), and
 * HANDOFF_SETTLED forgets the old list. About P·RF/N replica slots move. */
static void test_set_members_plans_handoffs_and_done_switches(void **state)
{
    (void)state;
    clustermap_t *map = s_map_with(5);
    clustermap_t *before = clustermap_copy(map);
    clustermap_cmd_t cmd = s_members_cmd(6);
    uint64_t index = 2;
    assert_int_equal(clustermap_apply(map, &cmd, index++), ROOST_OK);
    uint32_t moving = clustermap_moving(map), slots = 0;
    assert_true(moving > P * RF / 6 / 2 && moving < P / 2 + P / 4);
    for (uint32_t p = 0; p < P; p++) {
        uint32_t old[ROOST_RF_MAX], reps[ROOST_RF_MAX], next[ROOST_RF_MAX];
        clustermap_replicas_of(before, p, old, ROOST_RF_MAX);
        clustermap_replicas_of(map, p, reps, ROOST_RF_MAX);
        assert_memory_equal(old, reps, RF * sizeof *old); /* nothing jumps */
        assert_int_equal(clustermap_epoch_of(map, p), clustermap_epoch_of(before, p));
        uint32_t n = clustermap_next_of(map, p, next, ROOST_RF_MAX);
        if (n == 0)
            continue;
        assert_int_equal(n, RF);
        assert_true(s_has(next, n, 6)); /* only the newcomer can make a list change */
        slots++;
        uint32_t primary = clustermap_primary_of(map, p);
        uint64_t epoch = clustermap_epoch_of(map, p);
        clustermap_cmd_t stale = s_handoff_cmd(CLUSTERMAP_CMD_HANDOFF_DONE, map, p);
        stale.epoch++;
        assert_int_equal(clustermap_apply(map, &stale, index++), ROOST_ESTALE);
        clustermap_cmd_t done = s_handoff_cmd(CLUSTERMAP_CMD_HANDOFF_DONE, map, p);
        assert_int_equal(clustermap_apply(map, &done, index++), ROOST_OK);
        assert_int_equal(clustermap_apply(map, &done, index++), ROOST_ESTALE); /* epoch moved */
        clustermap_replicas_of(map, p, reps, ROOST_RF_MAX);
        assert_memory_equal(reps, next, RF * sizeof *reps);
        assert_int_equal(clustermap_epoch_of(map, p), epoch + 1);
        assert_int_equal(clustermap_primary_of(map, p),
                         s_has(next, RF, primary) ? primary : next[0]);
        uint32_t prev[ROOST_RF_MAX];
        assert_int_equal(clustermap_prev_of(map, p, prev, ROOST_RF_MAX), RF);
        assert_memory_equal(prev, old, RF * sizeof *prev);
        clustermap_cmd_t settled = s_handoff_cmd(CLUSTERMAP_CMD_HANDOFF_SETTLED, map, p);
        assert_int_equal(clustermap_apply(map, &settled, index++), ROOST_OK);
        assert_int_equal(clustermap_prev_of(map, p, prev, ROOST_RF_MAX), 0);
        assert_int_equal(clustermap_apply(map, &settled, index++), ROOST_ESTALE);
    }
    assert_int_equal(slots, moving);
    assert_int_equal(clustermap_moving(map), 0);
    clustermap_release(&before);
    clustermap_release(&map);
}

/* A removed member stays (unconfigured) while a list names it, and leaves the map with the
 * last handoff that took its partitions away; it is never placed in a next list. */
static void test_removed_member_stays_until_its_partitions_moved(void **state)
{
    (void)state;
    clustermap_t *map = s_map_with(6);
    clustermap_cmd_t cmd = s_members_cmd(5);
    uint64_t index = 2;
    assert_int_equal(clustermap_apply(map, &cmd, index++), ROOST_OK);
    const clustermap_member_t *six = clustermap_member_by_id(map, 6);
    assert_non_null(six);
    assert_false(six->configured);
    assert_true(clustermap_member_by_id(map, 1)->configured);
    for (uint32_t p = 0; p < P; p++) {
        uint32_t next[ROOST_RF_MAX];
        if (clustermap_next_of(map, p, next, ROOST_RF_MAX) == 0)
            continue;
        assert_false(s_has(next, RF, 6));
        clustermap_cmd_t done = s_handoff_cmd(CLUSTERMAP_CMD_HANDOFF_DONE, map, p);
        assert_int_equal(clustermap_apply(map, &done, index++), ROOST_OK);
        assert_non_null(clustermap_member_by_id(map, 6)); /* prev still names it */
        clustermap_cmd_t settled = s_handoff_cmd(CLUSTERMAP_CMD_HANDOFF_SETTLED, map, p);
        assert_int_equal(clustermap_apply(map, &settled, index++), ROOST_OK);
    }
    assert_null(clustermap_member_by_id(map, 6));
    assert_int_equal(clustermap_member_count(map), 5);
    /* and it can come back */
    cmd = s_members_cmd(6);
    assert_int_equal(clustermap_apply(map, &cmd, index++), ROOST_OK);
    assert_true(clustermap_member_by_id(map, 6)->configured);
    assert_true(clustermap_moving(map) > 0);
    void *bytes;
    size_t len;
    clustermap_t *copy;
    assert_int_equal(clustermap_encode(map, &bytes, &len), ROOST_OK);
    assert_int_equal(clustermap_decode(bytes, len, &copy), ROOST_OK);
    assert_int_equal(clustermap_digest(copy), clustermap_digest(map));
    free(bytes);
    clustermap_release(&copy);
    clustermap_release(&map);
}

static void test_node_down_moves_its_primaries_to_first_up_replica(void **state)
{
    (void)state;
    clustermap_t *map = s_map_with(5);
    clustermap_t *before = clustermap_copy(map);
    clustermap_cmd_t down = s_node_cmd(CLUSTERMAP_CMD_NODE_DOWN, 2);
    assert_int_equal(clustermap_apply(map, &down, 2), ROOST_OK);
    assert_int_equal(clustermap_member_by_id(map, 2)->status, CLUSTERMAP_DOWN);
    for (uint32_t p = 0; p < P; p++) {
        uint32_t reps[ROOST_RF_MAX];
        clustermap_replicas_of(map, p, reps, ROOST_RF_MAX);
        if (clustermap_primary_of(before, p) == 2) {
            uint32_t expect = reps[0] != 2 ? reps[0] : reps[1];
            assert_int_equal(clustermap_primary_of(map, p), expect);
            assert_int_equal(clustermap_epoch_of(map, p), clustermap_epoch_of(before, p) + 1);
        } else {
            assert_int_equal(clustermap_primary_of(map, p), clustermap_primary_of(before, p));
            assert_int_equal(clustermap_epoch_of(map, p), clustermap_epoch_of(before, p));
        }
    }
    clustermap_release(&before);
    clustermap_release(&map);
}

static void test_node_down_is_idempotent(void **state)
{
    (void)state;
    clustermap_t *map = s_map_with(5);
    clustermap_cmd_t down = s_node_cmd(CLUSTERMAP_CMD_NODE_DOWN, 4);
    assert_int_equal(clustermap_apply(map, &down, 2), ROOST_OK);
    clustermap_t *once = clustermap_copy(map);
    assert_int_equal(clustermap_apply(map, &down, 3), ROOST_OK);
    for (uint32_t p = 0; p < P; p++) {
        assert_int_equal(clustermap_primary_of(map, p), clustermap_primary_of(once, p));
        assert_int_equal(clustermap_epoch_of(map, p), clustermap_epoch_of(once, p));
    }
    clustermap_release(&once);
    clustermap_release(&map);
}

static void test_all_replicas_down_leaves_no_primary_until_one_returns(void **state)
{
    (void)state;
    clustermap_t *map = s_map_with(3); /* RF=3 of 3: every member holds every partition */
    uint64_t index = 2;
    for (uint32_t id = 1; id <= 3; id++) {
        clustermap_cmd_t down = s_node_cmd(CLUSTERMAP_CMD_NODE_DOWN, id);
        assert_int_equal(clustermap_apply(map, &down, index++), ROOST_OK);
    }
    clustermap_t *dark = clustermap_copy(map);
    for (uint32_t p = 0; p < P; p++)
        assert_int_equal(clustermap_primary_of(map, p), ROOST_NO_PRIMARY);
    clustermap_cmd_t up = s_node_cmd(CLUSTERMAP_CMD_NODE_UP, 2);
    assert_int_equal(clustermap_apply(map, &up, index++), ROOST_OK);
    for (uint32_t p = 0; p < P; p++) {
        assert_int_equal(clustermap_primary_of(map, p), 2);
        assert_int_equal(clustermap_epoch_of(map, p), clustermap_epoch_of(dark, p) + 1);
    }
    clustermap_release(&dark);
    clustermap_release(&map);
}

static void test_node_up_never_moves_existing_primaries(void **state)
{
    (void)state;
    clustermap_t *map = s_map_with(5);
    clustermap_cmd_t down = s_node_cmd(CLUSTERMAP_CMD_NODE_DOWN, 1);
    clustermap_cmd_t up = s_node_cmd(CLUSTERMAP_CMD_NODE_UP, 1);
    assert_int_equal(clustermap_apply(map, &down, 2), ROOST_OK);
    clustermap_t *before = clustermap_copy(map);
    assert_int_equal(clustermap_apply(map, &up, 3), ROOST_OK);
    assert_int_equal(clustermap_member_by_id(map, 1)->status, CLUSTERMAP_UP);
    for (uint32_t p = 0; p < P; p++) {
        assert_int_equal(clustermap_primary_of(map, p), clustermap_primary_of(before, p));
        assert_int_equal(clustermap_epoch_of(map, p), clustermap_epoch_of(before, p));
    }
    clustermap_release(&before);
    clustermap_release(&map);
}

static void test_rejected_commands_leave_the_map_untouched(void **state)
{
    (void)state;
    clustermap_t *map = s_map_with(5);
    uint64_t digest = clustermap_digest(map);
    clustermap_cmd_t unknown = s_node_cmd(CLUSTERMAP_CMD_NODE_DOWN, 42);
    clustermap_cmd_t too_few = s_members_cmd(2);
    clustermap_cmd_t dup = s_members_cmd(4);
    dup.members[3].id = 1;
    clustermap_cmd_t ok = s_node_cmd(CLUSTERMAP_CMD_NODE_DOWN, 1);
    assert_int_equal(clustermap_apply(map, &unknown, 2), ROOST_ENOTFOUND);
    assert_int_equal(clustermap_apply(map, &too_few, 2), ROOST_EINVAL);
    assert_int_equal(clustermap_apply(map, &dup, 2), ROOST_EINVAL);
    assert_int_equal(clustermap_apply(map, &ok, 1), ROOST_ESTALE);
    assert_int_equal(clustermap_digest(map), digest);
    clustermap_release(&map);
}

/* A random but valid-looking command: membership changes among ids 1..8, downs and ups. */
/* Membership changes, failures, and handoffs of random partitions (some stale). */
static clustermap_cmd_t s_random_cmd(roost_rng_t *rng, const clustermap_t *map)
{
    uint64_t kind = roost_rng_below(rng, 12);
    if (kind == 0)
        return s_members_cmd(3 + (uint32_t)roost_rng_below(rng, 6));
    if (kind >= 10) {
        uint32_t p = (uint32_t)roost_rng_below(rng, P);
        clustermap_cmd_t cmd = s_handoff_cmd(
            kind == 10 ? CLUSTERMAP_CMD_HANDOFF_DONE : CLUSTERMAP_CMD_HANDOFF_SETTLED, map, p);
        cmd.epoch -= roost_rng_below(rng, 2);
        return cmd;
    }
    uint32_t id = 1 + (uint32_t)roost_rng_below(rng, 9); /* 9 is sometimes unknown */
    return s_node_cmd(kind < 6 ? CLUSTERMAP_CMD_NODE_DOWN : CLUSTERMAP_CMD_NODE_UP, id);
}

static void test_epochs_never_decrease(void **state)
{
    (void)state;
    roost_rng_t rng;
    roost_rng_seed(&rng, 11);
    clustermap_t *map = s_map_with(6);
    static uint64_t last[P];
    for (uint64_t index = 2; index < 500; index++) {
        clustermap_cmd_t cmd = s_random_cmd(&rng, map);
        (void)clustermap_apply(map, &cmd, index);
        for (uint32_t p = 0; p < P; p++) {
            assert_true(clustermap_epoch_of(map, p) >= last[p]);
            last[p] = clustermap_epoch_of(map, p);
        }
    }
    clustermap_release(&map);
}

static void test_same_commands_give_same_digest(void **state)
{
    (void)state;
    roost_rng_t rng;
    roost_rng_seed(&rng, 5);
    clustermap_t *a = clustermap_new(P, RF), *b = clustermap_new(P, RF);
    for (uint64_t index = 1; index < 200; index++) {
        clustermap_cmd_t cmd = index == 1 ? s_members_cmd(5) : s_random_cmd(&rng, a);
        void *bytes;
        size_t len;
        clustermap_cmd_t wire;
        assert_int_equal(clustermap_cmd_encode(&cmd, &bytes, &len), ROOST_OK);
        assert_int_equal(clustermap_cmd_decode(bytes, len, &wire), ROOST_OK);
        free(bytes);
        assert_int_equal(clustermap_apply(a, &cmd, index), clustermap_apply(b, &wire, index));
        assert_int_equal(clustermap_digest(a), clustermap_digest(b));
    }
    clustermap_cmd_t down = s_node_cmd(CLUSTERMAP_CMD_NODE_DOWN, 3);
    uint64_t before = clustermap_digest(a);
    if (clustermap_apply(a, &down, 1000) == ROOST_OK)
        assert_int_not_equal(clustermap_digest(a), before);
    clustermap_release(&a);
    clustermap_release(&b);
}

static void test_map_roundtrips_through_its_encoding(void **state)
{
    (void)state;
    clustermap_t *map = s_map_with(7);
    clustermap_cmd_t down = s_node_cmd(CLUSTERMAP_CMD_NODE_DOWN, 3);
    assert_int_equal(clustermap_apply(map, &down, 9), ROOST_OK);
    void *bytes;
    size_t len;
    clustermap_t *back = NULL;
    assert_int_equal(clustermap_encode(map, &bytes, &len), ROOST_OK);
    assert_int_equal(clustermap_decode(bytes, len, &back), ROOST_OK);
    assert_int_equal(clustermap_digest(back), clustermap_digest(map));
    assert_int_equal(clustermap_version(back), 9);
    assert_int_equal(clustermap_member_by_id(back, 3)->status, CLUSTERMAP_DOWN);
    free(bytes);
    clustermap_release(&back);
    clustermap_release(&map);
}

static void test_truncated_encodings_are_eproto(void **state)
{
    (void)state;
    clustermap_t *map = s_map_with(5), *out = NULL;
    clustermap_cmd_t cmd = s_members_cmd(8), cmd_out;
    void *mbytes, *cbytes;
    size_t mlen, clen;
    assert_int_equal(clustermap_encode(map, &mbytes, &mlen), ROOST_OK);
    assert_int_equal(clustermap_cmd_encode(&cmd, &cbytes, &clen), ROOST_OK);
    for (size_t n = 0; n < mlen; n++) {
        assert_int_equal(clustermap_decode(mbytes, n, &out), ROOST_EPROTO);
        assert_null(out);
    }
    for (size_t n = 0; n < clen; n++)
        assert_int_equal(clustermap_cmd_decode(cbytes, n, &cmd_out), ROOST_EPROTO);
    free(mbytes);
    free(cbytes);
    clustermap_release(&map);
}

static void test_random_bytes_are_eproto(void **state)
{
    (void)state;
    roost_rng_t rng;
    roost_rng_seed(&rng, 99);
    unsigned char buf[FUZZ_BYTES_MAX];
    clustermap_t *out = NULL;
    clustermap_cmd_t cmd;
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        size_t len = 1 + roost_rng_below(&rng, sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)roost_rng_next(&rng);
        if (round % 2)
            buf[0] = 0x90 | (unsigned char)roost_rng_below(&rng, 16); /* look like an array */
        assert_int_equal(clustermap_cmd_decode(buf, len, &cmd), ROOST_EPROTO);
        assert_int_equal(clustermap_decode(buf, len, &out), ROOST_EPROTO);
    }
}

static void test_mutated_encodings_never_crash(void **state)
{
    (void)state;
    roost_rng_t rng;
    roost_rng_seed(&rng, 3);
    clustermap_t *map = s_map_with(4), *out = NULL;
    unsigned char *bytes;
    size_t len;
    assert_int_equal(clustermap_encode(map, (void **)&bytes, &len), ROOST_OK);
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        size_t at = roost_rng_below(&rng, len);
        unsigned char saved = bytes[at];
        bytes[at] = (unsigned char)roost_rng_next(&rng);
        int rc = clustermap_decode(bytes, len, &out);
        assert_true(rc == ROOST_OK || rc == ROOST_EPROTO);
        assert_true((rc == ROOST_OK) == (out != NULL));
        clustermap_release(&out);
        bytes[at] = saved;
    }
    free(bytes);
    clustermap_release(&map);
}

static void test_hostile_sizes_are_eproto(void **state)
{
    (void)state;
    /* An array header claiming 2^32-1 elements, a str32 claiming 4 GiB, an oversized input. */
    const unsigned char huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    const unsigned char huge_str[] = {0x94, 0x01, 0x01, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff};
    clustermap_cmd_t cmd;
    clustermap_t *out = NULL;
    assert_int_equal(clustermap_cmd_decode(huge_array, sizeof huge_array, &cmd), ROOST_EPROTO);
    assert_int_equal(clustermap_decode(huge_array, sizeof huge_array, &out), ROOST_EPROTO);
    assert_int_equal(clustermap_cmd_decode(huge_str, sizeof huge_str, &cmd), ROOST_EPROTO);
    unsigned char *big = calloc(1, CLUSTERMAP_CMD_BYTES_MAX + 1);
    assert_non_null(big);
    big[0] = 0x94;
    assert_int_equal(clustermap_cmd_decode(big, CLUSTERMAP_CMD_BYTES_MAX + 1, &cmd), ROOST_EPROTO);
    assert_int_equal(clustermap_cmd_decode(NULL, 0, &cmd), ROOST_EPROTO);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_map_has_no_members_and_no_primaries),
        cmocka_unit_test(test_set_members_makes_preferred_replica_primary_at_epoch_1),
        cmocka_unit_test(test_set_members_plans_handoffs_and_done_switches),
        cmocka_unit_test(test_removed_member_stays_until_its_partitions_moved),
        cmocka_unit_test(test_node_down_moves_its_primaries_to_first_up_replica),
        cmocka_unit_test(test_node_down_is_idempotent),
        cmocka_unit_test(test_all_replicas_down_leaves_no_primary_until_one_returns),
        cmocka_unit_test(test_node_up_never_moves_existing_primaries),
        cmocka_unit_test(test_rejected_commands_leave_the_map_untouched),
        cmocka_unit_test(test_epochs_never_decrease),
        cmocka_unit_test(test_same_commands_give_same_digest),
        cmocka_unit_test(test_map_roundtrips_through_its_encoding),
        cmocka_unit_test(test_truncated_encodings_are_eproto),
        cmocka_unit_test(test_random_bytes_are_eproto),
        cmocka_unit_test(test_mutated_encodings_never_crash),
        cmocka_unit_test(test_hostile_sizes_are_eproto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
