/* tests/unit/test_tailcache.c — shards/tailcache.c: a record put is returned byte for byte until
 * its slot is taken by a newer lsn or it is forgotten; forgetting a tail drops exactly the
 * entries at or above it; records over the size bound are never cached. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shards/tailcache.h"

static tailcache_t g_c;

static int setup(void **state)
{
    (void)state;
    tailcache_init(&g_c);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tailcache_fini(&g_c);
    return 0;
}

static void s_put_lsn(uint64_t lsn)
{
    char rec[32];
    int n = snprintf(rec, sizeof rec, "record-%llu", (unsigned long long)lsn);
    tailcache_put(&g_c, lsn, rec, (size_t)n);
}

static bool s_holds(uint64_t lsn)
{
    char want[32];
    int n = snprintf(want, sizeof want, "record-%llu", (unsigned long long)lsn);
    size_t len = 0;
    const void *got = tailcache_get(&g_c, lsn, &len);
    return got && len == (size_t)n && memcmp(got, want, len) == 0;
}

static void test_a_put_record_comes_back_byte_for_byte(void **state)
{
    (void)state;
    for (uint64_t lsn = 1; lsn <= 10; lsn++)
        s_put_lsn(lsn);
    for (uint64_t lsn = 1; lsn <= 10; lsn++)
        assert_true(s_holds(lsn));
    size_t len;
    assert_null(tailcache_get(&g_c, 11, &len));
    assert_null(tailcache_get(&g_c, 0, &len));
}

static void test_a_newer_lsn_takes_the_slot_of_an_older_one(void **state)
{
    (void)state;
    for (uint64_t lsn = 1; lsn <= TAILCACHE_SLOTS + 5; lsn++)
        s_put_lsn(lsn);
    size_t len;
    for (uint64_t lsn = 1; lsn <= 5; lsn++)
        assert_null(tailcache_get(&g_c, lsn, &len)); /* wrapped: never someone else's record */
    for (uint64_t lsn = 6; lsn <= TAILCACHE_SLOTS + 5; lsn++)
        assert_true(s_holds(lsn));
}

static void test_forgetting_a_tail_drops_exactly_it(void **state)
{
    (void)state;
    for (uint64_t lsn = 1; lsn <= 20; lsn++)
        s_put_lsn(lsn);
    tailcache_forget_from(&g_c, 12);
    tailcache_forget(&g_c, 3);
    size_t len;
    for (uint64_t lsn = 1; lsn <= 20; lsn++) {
        bool kept = lsn < 12 && lsn != 3;
        assert_true(kept ? s_holds(lsn) : tailcache_get(&g_c, lsn, &len) == NULL);
    }
    s_put_lsn(12); /* a replacement is cached again */
    assert_true(s_holds(12));
    tailcache_clear(&g_c);
    for (uint64_t lsn = 1; lsn <= 20; lsn++)
        assert_null(tailcache_get(&g_c, lsn, &len));
}

static void test_a_record_over_the_bound_is_not_cached(void **state)
{
    (void)state;
    s_put_lsn(7);
    static char big[TAILCACHE_RECORD_BYTES_MAX + 1];
    tailcache_put(&g_c, 7, big, sizeof big); /* replaces 7 on disk: the old copy must go */
    size_t len;
    assert_null(tailcache_get(&g_c, 7, &len));
    tailcache_put(&g_c, 7, big, TAILCACHE_RECORD_BYTES_MAX);
    assert_non_null(tailcache_get(&g_c, 7, &len));
    assert_int_equal(len, TAILCACHE_RECORD_BYTES_MAX);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_put_record_comes_back_byte_for_byte),
        T(test_a_newer_lsn_takes_the_slot_of_an_older_one),
        T(test_forgetting_a_tail_drops_exactly_it),
        T(test_a_record_over_the_bound_is_not_cached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
