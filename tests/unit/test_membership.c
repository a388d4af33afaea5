/* tests/unit/test_membership.c — failure detection over a set of peers on a fake clock: steady
 * and jittery peers stay up, a stopped peer goes down after ~3 intervals and before the hard
 * deadline, a returning peer comes back once, and every transition is reported exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/errors.h"
#include "runtime/membership.h"
#include "runtime/rng.h"

#define MS      1000000ull
#define TICK_MS 10 /* finer than the node's tick, to measure when a transition happens */

enum { EVENTS_CAP = MEMBERSHIP_PEERS_MAX };

/* Ticks once at now; returns the number of events and fails on anything but `want_kind`. */
static int s_tick(membership_t *m, uint64_t now, membership_event_t *ev, int want_kind)
{
    int n = membership_tick(m, now, ev, EVENTS_CAP);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(ev[i].kind, want_kind);
    return n;
}

/* All peers heartbeat every interval_ms until `until`, ticking every TICK_MS; no event. */
static uint64_t s_run_steady(membership_t *m, const uint32_t *peers, int npeers, uint64_t from,
                             uint64_t until, uint64_t interval_ms)
{
    membership_event_t ev[EVENTS_CAP];
    uint64_t next_beat = from, t = from;
    for (; t <= until; t += TICK_MS * MS) {
        if (t >= next_beat) {
            for (int i = 0; i < npeers; i++)
                assert_int_equal(membership_heartbeat(m, peers[i], t), ROOST_OK);
            next_beat += interval_ms * MS;
        }
        assert_int_equal(membership_tick(m, t, ev, EVENTS_CAP), 0);
    }
    return next_beat - interval_ms * MS; /* the last heartbeat */
}

static void test_steady_heartbeats_keep_every_peer_up(void **state)
{
    (void)state;
    membership_t *m = membership_new(NULL);
    assert_non_null(m);
    const uint32_t peers[] = {2, 3, 7};
    for (int i = 0; i < 3; i++)
        assert_int_equal(membership_add_peer(m, peers[i], 0), ROOST_OK);
    s_run_steady(m, peers, 3, 0, 120000 * MS, 500);
    for (int i = 0; i < 3; i++)
        assert_true(membership_is_up(m, peers[i]));
    membership_destroy(&m);
    assert_null(m);
    membership_destroy(&m); /* safe on NULL */
}

/* Returns ms of silence before the peer was reported down (ticking every TICK_MS). */
static uint64_t s_silence_until_down(const membership_config_t *cfg)
{
    membership_t *m = membership_new(cfg);
    assert_non_null(m);
    const uint32_t peer = 9;
    assert_int_equal(membership_add_peer(m, peer, 0), ROOST_OK);
    uint64_t last = s_run_steady(m, &peer, 1, 0, 30000 * MS, 500);
    membership_event_t ev[EVENTS_CAP];
    uint64_t t = last;
    while (s_tick(m, t, ev, MEMBERSHIP_PEER_DOWN) == 0) {
        assert_true(membership_is_up(m, peer));
        t += TICK_MS * MS;
        assert_true(t - last <= 60000 * MS);
    }
    assert_int_equal(ev[0].peer, peer);
    assert_false(membership_is_up(m, peer));
    membership_destroy(&m);
    return (t - last) / MS;
}

static void test_stopped_peer_goes_down_after_3_intervals_and_before_the_deadline(void **state)
{
    (void)state;
    uint64_t silent_ms = s_silence_until_down(NULL);
    assert_true(silent_ms >= 3 * MEMBERSHIP_HEARTBEAT_MS_DEFAULT);
    assert_true(silent_ms < MEMBERSHIP_DOWN_AFTER_MS_DEFAULT);
}

static void test_the_deadline_holds_when_phi_would_wait_longer(void **state)
{
    (void)state;
    /* A huge pause allowance makes phi useless; down_after_ms still decides, to the tick. */
    membership_config_t cfg = {.acceptable_pause_ms = 50000, .down_after_ms = 3000};
    assert_int_equal(s_silence_until_down(&cfg), 3000);
}

static void test_jittery_heartbeats_do_not_cause_false_downs(void **state)
{
    (void)state;
    membership_t *m = membership_new(NULL);
    assert_non_null(m);
    assert_int_equal(membership_add_peer(m, 1, 0), ROOST_OK);
    roost_rng_t rng;
    roost_rng_seed(&rng, 42);
    membership_event_t ev[EVENTS_CAP];
    uint64_t next_beat = 0;
    for (uint64_t t = 0; t <= 600000 * MS; t += TICK_MS * MS) {
        if (t >= next_beat) {
            assert_int_equal(membership_heartbeat(m, 1, t), ROOST_OK);
            /* 500 ms ± 200 ms, and one beat in 50 delayed to 1.2 s (a stalled sender). */
            uint64_t gap_ms =
                roost_rng_below(&rng, 50) == 0 ? 1200 : 300 + roost_rng_below(&rng, 401);
            next_beat = t + gap_ms * MS;
        }
        assert_int_equal(membership_tick(m, t, ev, EVENTS_CAP), 0);
        assert_true(membership_is_up(m, 1));
    }
    membership_destroy(&m);
}

static void test_returning_peer_produces_exactly_one_up(void **state)
{
    (void)state;
    membership_t *m = membership_new(NULL);
    const uint32_t peer = 4;
    assert_int_equal(membership_add_peer(m, peer, 0), ROOST_OK);
    uint64_t last = s_run_steady(m, &peer, 1, 0, 10000 * MS, 500);
    membership_event_t ev[EVENTS_CAP];
    assert_int_equal(s_tick(m, last + 5000 * MS, ev, MEMBERSHIP_PEER_DOWN), 1);
    /* Down stays down silently. */
    for (uint64_t t = last + 5000 * MS; t < last + 20000 * MS; t += 500 * MS)
        assert_int_equal(membership_tick(m, t, ev, EVENTS_CAP), 0);
    uint64_t back = last + 20000 * MS;
    assert_int_equal(membership_heartbeat(m, peer, back), ROOST_OK);
    assert_true(membership_is_up(m, peer)); /* a heartbeat is proof of life at once */
    assert_int_equal(s_tick(m, back, ev, MEMBERSHIP_PEER_UP), 1);
    assert_int_equal(ev[0].peer, peer);
    s_run_steady(m, &peer, 1, back + 500 * MS, back + 30000 * MS, 500);
    membership_destroy(&m);
}

static void test_never_heard_peer_goes_down_only_at_the_deadline_from_its_add(void **state)
{
    (void)state;
    membership_t *m = membership_new(NULL);
    const uint64_t added = 7000 * MS;
    assert_int_equal(membership_add_peer(m, 5, added), ROOST_OK);
    assert_true(membership_is_up(m, 5));
    membership_event_t ev[EVENTS_CAP];
    for (uint64_t t = 0; t < added + 5000 * MS; t += TICK_MS * MS)
        assert_int_equal(membership_tick(m, t, ev, EVENTS_CAP), 0);
    assert_true(membership_is_up(m, 5));
    assert_int_equal(s_tick(m, added + 5000 * MS, ev, MEMBERSHIP_PEER_DOWN), 1);
    assert_int_equal(membership_tick(m, added + 6000 * MS, ev, EVENTS_CAP), 0);
    membership_destroy(&m);
}

static void test_events_beyond_cap_stay_pending_for_the_next_tick(void **state)
{
    (void)state;
    membership_t *m = membership_new(NULL);
    for (uint32_t p = 10; p < 13; p++)
        assert_int_equal(membership_add_peer(m, p, 0), ROOST_OK);
    membership_event_t ev[2];
    assert_int_equal(membership_tick(m, 5000 * MS, ev, 2), 2);
    assert_int_equal(ev[0].peer, 10);
    assert_int_equal(ev[1].peer, 11);
    assert_int_equal(membership_tick(m, 5000 * MS, ev, 2), 1);
    assert_int_equal(ev[0].peer, 12);
    assert_int_equal(ev[0].kind, MEMBERSHIP_PEER_DOWN);
    assert_int_equal(membership_tick(m, 5000 * MS, NULL, 0), 0);
    membership_destroy(&m);
}

static void test_peer_set_is_bounded_and_errors_are_reported(void **state)
{
    (void)state;
    membership_t *m = membership_new(NULL);
    for (uint32_t p = 0; p < MEMBERSHIP_PEERS_MAX; p++)
        assert_int_equal(membership_add_peer(m, p * 3, 0), ROOST_OK);
    assert_int_equal(membership_size(m), MEMBERSHIP_PEERS_MAX);
    assert_int_equal(membership_add_peer(m, 1, 0), ROOST_ETOOBIG);
    assert_int_equal(membership_add_peer(m, 3, 0), ROOST_EEXIST);
    assert_int_equal(membership_heartbeat(m, 1, 0), ROOST_ENOTFOUND);
    assert_int_equal(membership_remove_peer(m, 1), ROOST_ENOTFOUND);
    assert_false(membership_is_up(m, 1));
    assert_true(membership_phi(m, 1, 0) < 0);
    /* Removal keeps the others and drops the removed peer's pending event. */
    assert_int_equal(membership_remove_peer(m, 3), ROOST_OK);
    assert_false(membership_is_up(m, 3));
    assert_int_equal(membership_add_peer(m, 1, 0), ROOST_OK);
    membership_event_t ev[EVENTS_CAP];
    assert_int_equal(membership_tick(m, 5000 * MS, ev, EVENTS_CAP), MEMBERSHIP_PEERS_MAX);
    for (int i = 0; i < MEMBERSHIP_PEERS_MAX; i++)
        assert_int_not_equal(ev[i].peer, 3);
    membership_destroy(&m);
}

static void test_inconsistent_configs_are_rejected(void **state)
{
    (void)state;
    membership_config_t cfg = {.heartbeat_ms = 1000, .down_after_ms = 500};
    assert_null(membership_new(&cfg));
    cfg = (membership_config_t){.phi_threshold = -1};
    assert_null(membership_new(&cfg));
    cfg = (membership_config_t){.heartbeat_ms = 100, .down_after_ms = 120000};
    membership_t *m = membership_new(&cfg); /* long deadlines are fine: history is capped */
    assert_non_null(m);
    membership_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_heartbeats_keep_every_peer_up),
        cmocka_unit_test(test_stopped_peer_goes_down_after_3_intervals_and_before_the_deadline),
        cmocka_unit_test(test_the_deadline_holds_when_phi_would_wait_longer),
        cmocka_unit_test(test_jittery_heartbeats_do_not_cause_false_downs),
        cmocka_unit_test(test_returning_peer_produces_exactly_one_up),
        cmocka_unit_test(test_never_heard_peer_goes_down_only_at_the_deadline_from_its_add),
        cmocka_unit_test(test_events_beyond_cap_stay_pending_for_the_next_tick),
        cmocka_unit_test(test_peer_set_is_bounded_and_errors_are_reported),
        cmocka_unit_test(test_inconsistent_configs_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
