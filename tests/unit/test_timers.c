/* tests/unit/test_timers.c — the timer heap: order, cancel, re-arm, and a million pending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "runtime/rng.h"
#include "runtime/timers.h"
#include "runtime/u64map.h"

static void test_timers_pop_in_deadline_order(void **state)
{
    (void)state;
    timers_t t;
    timers_init(&t, 0);
    roost_rng_t rng;
    roost_rng_seed(&rng, 3);
    for (int i = 0; i < 10000; i++)
        timers_add(&t, roost_rng_below(&rng, 1000000), 0, NULL, 1, 0);
    uint64_t last = 0;
    rtimer_t *x;
    size_t n = 0;
    while ((x = timers_pop_due(&t, UINT64_MAX - 1)) != NULL) {
        assert_true(x->deadline_ns >= last);
        last = x->deadline_ns;
        timers_release(&t, x);
        n++;
    }
    assert_int_equal(n, 10000);
    timers_fini(&t);
}

static void test_cancelled_timers_never_pop(void **state)
{
    (void)state;
    timers_t t;
    timers_init(&t, 0);
    rtimer_t *keep[100];
    for (int i = 0; i < 200; i++) {
        rtimer_t *x = timers_add(&t, (uint64_t)i, 0, NULL, 1, (uint64_t)i);
        if (i % 2)
            timers_cancel(&t, x);
        else
            keep[i / 2] = x;
    }
    assert_int_equal(timers_count(&t), 100);
    assert_ptr_equal(timers_find(&t, keep[3]->id), keep[3]);
    for (int i = 0; i < 100; i++) {
        rtimer_t *x = timers_pop_due(&t, 1000);
        assert_non_null(x);
        assert_int_equal(x->tag % 2, 0);
        timers_release(&t, x);
    }
    assert_null(timers_pop_due(&t, 1000));
    timers_fini(&t);
}

static void test_nothing_pops_before_its_deadline(void **state)
{
    (void)state;
    timers_t t;
    timers_init(&t, 0);
    rtimer_t *x = timers_add(&t, 500, 100, NULL, 1, 0);
    assert_int_equal(timers_next_deadline(&t), 500);
    assert_null(timers_pop_due(&t, 499));
    assert_ptr_equal(timers_pop_due(&t, 500), x);
    timers_rearm(&t, x, 600);
    assert_int_equal(timers_next_deadline(&t), 600);
    timers_fini(&t);
}

static void test_a_million_pending_timers(void **state)
{
    (void)state;
    enum { N = 1000000 };
    timers_t t;
    timers_init(&t, 0);
    roost_rng_t rng;
    roost_rng_seed(&rng, 9);
    for (int i = 0; i < N; i++)
        timers_add(&t, 1000 + roost_rng_below(&rng, 1u << 30), 0, NULL, 1, 0);
    rtimer_t *soon = timers_add(&t, 10, 0, NULL, 1, 77);
    assert_ptr_equal(timers_pop_due(&t, 10), soon);
    timers_release(&t, soon);
    assert_int_equal(timers_count(&t), N);
    timers_fini(&t);
}

/* A late worker skips a periodic timer's missed ticks but keeps its phase. */
static void test_a_late_periodic_timer_keeps_its_phase(void **state)
{
    (void)state;
    const uint64_t ms = 1000000;
    assert_int_equal(timers_next_period(10 * ms, ms, 10 * ms), 11 * ms);          /* on time */
    assert_int_equal(timers_next_period(10 * ms, ms, 10 * ms + 999999), 11 * ms); /* late */
    assert_int_equal(timers_next_period(10 * ms, ms, 11 * ms), 12 * ms);       /* a period late */
    assert_int_equal(timers_next_period(10 * ms, ms, 13 * ms + 400), 14 * ms); /* skips 3 */
    /* two timers 300 µs apart, both fired 2.5 ms late: still 300 µs apart */
    uint64_t a = timers_next_period(10 * ms, ms, 12 * ms + ms / 2 + 300000);
    uint64_t b = timers_next_period(10 * ms + 300000, ms, 12 * ms + ms / 2 + 300000);
    assert_int_equal(b - a, 300000);
    assert_true(a > 12 * ms + ms / 2 + 300000 - ms);
}

static void test_u64map_survives_churn(void **state)
{
    (void)state;
    u64map_t m;
    u64map_init(&m);
    for (uint64_t k = 1; k <= 50000; k++)
        u64map_put(&m, k * 7919, (void *)(uintptr_t)k);
    for (uint64_t k = 1; k <= 50000; k += 2)
        assert_int_equal((uintptr_t)u64map_take(&m, k * 7919), k);
    for (uint64_t k = 1; k <= 50000; k++) {
        void *v = u64map_get(&m, k * 7919);
        if (k % 2)
            assert_null(v);
        else
            assert_int_equal((uintptr_t)v, k);
    }
    assert_int_equal(m.count, 25000);
    u64map_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_pop_in_deadline_order),
        cmocka_unit_test(test_cancelled_timers_never_pop),
        cmocka_unit_test(test_nothing_pops_before_its_deadline),
        cmocka_unit_test(test_a_million_pending_timers),
        cmocka_unit_test(test_a_late_periodic_timer_keeps_its_phase),
        cmocka_unit_test(test_u64map_survives_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
