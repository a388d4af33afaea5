/* tests/unit/test_sim_bench.c — the simulator's own speed run (sim/bench.c, roost-sim
 * --bench-net): it delivers what it was asked through the real runtime, keeps its traffic
 * alive through drops, and the same seed gives the same deliveries. (The figure itself is a
 * benchmark, docs/simulation.md, not checked here.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sim/bench.h"

static void test_the_same_seed_gives_the_same_deliveries(void **state)
{
    (void)state;
    sim_bench_config_t cfg = {.seed = 3, .nodes = 4, .inflight = 512, .events = 100000};
    sim_bench_result_t a, b, c;
    sim_bench_net(&cfg, &a);
    sim_bench_net(&cfg, &b);
    assert_true(a.events >= cfg.events);
    assert_true(a.handled >= a.events * 9 / 10); /* (a delivery is handled, bar drops; plus
                                                     sends that stayed on their node) */
    assert_true(a.sim_ns > 0);
    assert_int_equal(a.trace, b.trace);
    assert_int_equal(a.events, b.events);
    cfg.seed = 4;
    sim_bench_net(&cfg, &c);
    assert_true(c.trace != a.trace);
}

static void test_one_node_returns_at_once(void **state)
{
    (void)state;
    /* one node has no network to measure: every send would stay local, forever */
    sim_bench_config_t cfg = {.seed = 1, .nodes = 1, .inflight = 8, .events = 1000};
    sim_bench_result_t r;
    sim_bench_net(&cfg, &r);
    assert_int_equal(r.events, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_same_seed_gives_the_same_deliveries),
        cmocka_unit_test(test_one_node_returns_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
