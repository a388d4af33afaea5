/* tests/unit/test_ring.c — rendezvous placement: bounded movement, order independence, balance.
 *
 * "Moved" for a join or leave is the number of replica slots whose owner changed (members in
 * the new list that were not in the old one) divided by RF; for RF=1 it is exactly the number
 * of partitions whose owner changed. Bounds are 1.2 * P / N, N being the size before the change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/errors.h"
#include "runtime/ring.h"

enum { P = 1024, N_MIN = 3, N_MAX = 10, NAMES = N_MAX + 1 };

static char s_name_buf[NAMES][16];
static const char *s_names[NAMES];

static int s_setup(void **state)
{
    (void)state;
    for (int i = 0; i < NAMES; i++) {
        snprintf(s_name_buf[i], sizeof s_name_buf[i], "shard-%d", i + 1);
        s_names[i] = s_name_buf[i];
    }
    return 0;
}

/* Placement as member names: out[p * rf + i]. */
static void s_place(const char *const *names, uint32_t n, uint32_t rf, const char **out)
{
    static uint32_t idx[P * RING_RF_MAX];
    assert_int_equal(ring_place_all(names, n, P, rf, idx), ROOST_OK);
    for (uint32_t s = 0; s < P * rf; s++)
        out[s] = names[idx[s]];
}

static bool s_in_list(const char *const *list, uint32_t rf, const char *name)
{
    for (uint32_t i = 0; i < rf; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

/* Slots of `after` owned by a member absent from the same partition's `before` list. */
static uint32_t s_slots_moved(const char **before, const char **after, uint32_t rf)
{
    uint32_t moved = 0;
    for (uint32_t p = 0; p < P; p++)
        for (uint32_t i = 0; i < rf; i++)
            moved += !s_in_list(before + p * rf, rf, after[p * rf + i]);
    return moved;
}

static uint32_t s_primaries_moved(const char **before, const char **after, uint32_t rf)
{
    uint32_t moved = 0;
    for (uint32_t p = 0; p < P; p++)
        moved += strcmp(before[p * rf], after[p * rf]) != 0;
    return moved;
}

static void s_check_change(uint32_t n_before, uint32_t n_after, uint32_t rf)
{
    static const char *before[P * RING_RF_MAX], *after[P * RING_RF_MAX];
    s_place(s_names, n_before, rf, before);
    s_place(s_names, n_after, rf, after);
    double bound = 1.2 * P / n_before;
    uint32_t moved = s_slots_moved(before, after, rf);
    assert_true(moved > 0);
    assert_true((double)moved / rf <= bound);
    assert_true((double)s_primaries_moved(before, after, rf) <= bound);
}

static void test_rf_out_of_range_is_einval(void **state)
{
    (void)state;
    uint32_t out[RING_RF_MAX];
    assert_int_equal(ring_replicas(s_names, 3, 0, 0, out), ROOST_EINVAL);
    assert_int_equal(ring_replicas(s_names, 3, 0, 4, out), ROOST_EINVAL);
    assert_int_equal(ring_replicas(s_names, NAMES, 0, RING_RF_MAX + 1, out), ROOST_EINVAL);
    assert_int_equal(ring_replicas(s_names, 3, 0, 3, out), ROOST_OK);
}

static void test_bad_names_are_einval(void **state)
{
    (void)state;
    uint32_t out[P];
    const char *dup[] = {"a", "b", "a"};
    assert_int_equal(ring_place_all(dup, 3, 1, 1, out), ROOST_EINVAL);
    const char *empty[] = {"a", ""};
    assert_int_equal(ring_replicas(empty, 2, 0, 1, out), ROOST_EINVAL);
    char longname[RING_NAME_BYTES_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *toolong[] = {"a", longname};
    assert_int_equal(ring_replicas(toolong, 2, 0, 1, out), ROOST_EINVAL);
}

static void test_replicas_are_distinct_members(void **state)
{
    (void)state;
    uint32_t out[RING_RF_MAX];
    for (uint32_t p = 0; p < P; p++) {
        assert_int_equal(ring_replicas(s_names, 7, p, 5, out), ROOST_OK);
        for (int i = 0; i < 5; i++) {
            assert_true(out[i] < 7);
            for (int j = i + 1; j < 5; j++)
                assert_int_not_equal(out[i], out[j]);
        }
    }
}

static void test_placement_ignores_member_order(void **state)
{
    (void)state;
    static const char *fwd[P * 3], *rev[P * 3];
    const char *reversed[N_MAX];
    for (int i = 0; i < N_MAX; i++)
        reversed[i] = s_names[N_MAX - 1 - i];
    for (uint32_t rf = 1; rf <= 3; rf += 2) {
        s_place(s_names, N_MAX, rf, fwd);
        s_place(reversed, N_MAX, rf, rev);
        for (uint32_t s = 0; s < P * rf; s++)
            assert_string_equal(fwd[s], rev[s]);
    }
}

static void test_join_moves_at_most_p_over_n(void **state)
{
    (void)state;
    for (uint32_t n = N_MIN; n <= N_MAX; n++) {
        s_check_change(n, n + 1, 1);
        s_check_change(n, n + 1, 3);
    }
}

static void test_leave_moves_at_most_p_over_n(void **state)
{
    (void)state;
    for (uint32_t n = N_MIN + 1; n <= N_MAX + 1; n++) {
        s_check_change(n, n - 1, 1);
        s_check_change(n, n - 1, 3);
    }
}

static void test_partitions_per_node_within_25_percent(void **state)
{
    (void)state;
    static uint32_t idx[P * 3];
    for (uint32_t n = N_MIN; n <= N_MAX; n++) {
        for (uint32_t rf = 1; rf <= 3; rf += 2) {
            uint32_t count[N_MAX] = {0};
            assert_int_equal(ring_place_all(s_names, n, P, rf, idx), ROOST_OK);
            for (uint32_t s = 0; s < P * rf; s++)
                count[idx[s]]++;
            double mean = (double)P * rf / n;
            for (uint32_t m = 0; m < n; m++) {
                assert_true(count[m] >= 0.75 * mean);
                assert_true(count[m] <= 1.25 * mean);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rf_out_of_range_is_einval),
        cmocka_unit_test(test_bad_names_are_einval),
        cmocka_unit_test(test_replicas_are_distinct_members),
        cmocka_unit_test(test_placement_ignores_member_order),
        cmocka_unit_test(test_join_moves_at_most_p_over_n),
        cmocka_unit_test(test_leave_moves_at_most_p_over_n),
        cmocka_unit_test(test_partitions_per_node_within_25_percent),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
