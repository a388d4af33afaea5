/* tests/unit/test_hash.c — the placement hash is a fixed contract: pin its values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/errors.h"
#include "runtime/hash.h"
#include "runtime/rng.h"

static void test_hash64_is_pinned(void **state)
{
    (void)state;
    /* If this value changes, every cluster's placement changes: the hash is a contract. */
    uint64_t h = roost_hash64("u:42", 4);
    assert_int_equal(h, 0x5b8e62c24cdb8979u); /* SipHash-2-4, key "roost.placement" */
    assert_int_not_equal(h, roost_hash64("u:43", 4));
    assert_int_equal(roost_partition_of("u:42", 4, 1024), (uint32_t)(h & 1023));
}

static void test_partitions_spread_evenly(void **state)
{
    (void)state;
    enum { P = 64, N = 64000 };
    static unsigned counts[P];
    char key[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "u:%d", i);
        counts[roost_partition_of(key, (size_t)n, P)]++;
    }
    for (int p = 0; p < P; p++) {
        assert_in_range(counts[p], N / P * 8 / 10, N / P * 12 / 10);
    }
}

static void test_rng_is_deterministic_for_a_seed(void **state)
{
    (void)state;
    roost_rng_t a, b;
    roost_rng_seed(&a, 7);
    roost_rng_seed(&b, 7);
    for (int i = 0; i < 100; i++)
        assert_int_equal(roost_rng_next(&a), roost_rng_next(&b));
    for (int i = 0; i < 1000; i++)
        assert_true(roost_rng_below(&a, 10) < 10);
}

static void test_strerror_names_every_code(void **state)
{
    (void)state;
    for (int c = 0; c >= ROOST_ERROR_MIN; c--)
        assert_string_not_equal(roost_strerror(c), "unknown");
    assert_string_equal(roost_strerror(1), "unknown");
    assert_string_equal(roost_strerror(ROOST_ERROR_MIN - 1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash64_is_pinned),
        cmocka_unit_test(test_partitions_spread_evenly),
        cmocka_unit_test(test_rng_is_deterministic_for_a_seed),
        cmocka_unit_test(test_strerror_names_every_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
