/* tests/unit/test_detector.c — failure reports need a majority: the detector's views shared
 * through heartbeats, and the rule that keeps a cut-off leader from declaring everyone dead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/detector.h"

static const uint64_t MS = 1000000u;

static detector_t *s_new(void)
{
    uint32_t peers[] = {2, 3};
    detector_config_t cfg = {
        .self_id = 1, .heartbeat_ms = 100, .down_after_ms = 1000, .peers = peers, .npeers = 2};
    detector_t *d = detector_new(&cfg);
    assert_non_null(d);
    detector_tick(d, 1 * MS);
    return d;
}

/* A view as another node would send it: msgpack array of ids. */
static size_t s_view(uint8_t *buf, const uint32_t *ids, uint8_t n)
{
    size_t len = 0;
    buf[len++] = (uint8_t)(0x90 | n);
    for (uint8_t i = 0; i < n; i++)
        buf[len++] = (uint8_t)ids[i]; /* positive fixint */
    return len;
}

static void test_a_silent_peer_confirmed_by_another_is_down(void **state)
{
    (void)state;
    detector_t *d = s_new();
    uint8_t v[16];
    uint32_t three = 3;
    for (uint64_t t = 100; t <= 3000; t += 100) { /* 2 heartbeats, 3 is silent */
        size_t len = t >= 1500 ? s_view(v, &three, 1) : s_view(v, NULL, 0);
        detector_heartbeat(d, 2, t * MS, v, len);
        detector_tick(d, t * MS);
    }
    assert_false(detector_is_up(d, 3));
    assert_true(detector_confirmed_down(d, 3, 3000 * MS));
    assert_false(detector_confirmed_down(d, 2, 3000 * MS));
    detector_destroy(&d);
    assert_null(d);
}

static void test_a_cut_off_node_confirms_nobody_down(void **state)
{
    (void)state;
    detector_t *d = s_new();
    for (uint64_t t = 100; t <= 3000; t += 100) /* it hears nobody at all */
        detector_tick(d, t * MS);
    assert_false(detector_is_up(d, 2));
    assert_false(detector_is_up(d, 3));
    assert_false(detector_confirmed_down(d, 2, 3000 * MS));
    assert_false(detector_confirmed_down(d, 3, 3000 * MS));
    detector_destroy(&d);
}

static void test_our_view_alone_is_not_enough(void **state)
{
    (void)state;
    detector_t *d = s_new();
    uint8_t v[16];
    for (uint64_t t = 100; t <= 3000; t += 100) { /* 2 still hears 3 */
        detector_heartbeat(d, 2, t * MS, v, s_view(v, NULL, 0));
        detector_tick(d, t * MS);
    }
    assert_false(detector_is_up(d, 3));
    assert_false(detector_confirmed_down(d, 3, 3000 * MS));
    detector_destroy(&d);
}

static void test_our_view_travels_in_heartbeats(void **state)
{
    (void)state;
    detector_t *d = s_new();
    for (uint64_t t = 100; t <= 3000; t += 100) {
        detector_heartbeat(d, 2, t * MS, NULL, 0); /* malformed or empty views are ignored */
        detector_tick(d, t * MS);
    }
    uint8_t buf[64];
    size_t len = detector_view_encode(d, buf, sizeof buf);
    assert_int_equal(len, 2);
    assert_int_equal(buf[0], 0x91); /* [3] */
    assert_int_equal(buf[1], 3);
    uint8_t garbage[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    detector_heartbeat(d, 2, 3100 * MS, garbage, sizeof garbage);
    assert_true(detector_is_up(d, 2));
    detector_destroy(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_silent_peer_confirmed_by_another_is_down),
        cmocka_unit_test(test_a_cut_off_node_confirms_nobody_down),
        cmocka_unit_test(test_our_view_alone_is_not_enough),
        cmocka_unit_test(test_our_view_travels_in_heartbeats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
