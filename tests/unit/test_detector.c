/* tests/unit/test_detector.c — failure reports need a majority: the detector's views shared
 * through heartbeats, and the rule that keeps a cut-off leader from declaring everyone dead;
 * then what a leader reports, through a fake control plane (detector_control_t). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* ---- reports, through a fake control plane ------------------------------------------------ */

typedef struct {
    clustermap_t *map;
    bool leader;
    uint32_t submitted;
    clustermap_cmd_t last;
} fake_control_t;

static bool s_fake_is_leader(void *self)
{
    return ((fake_control_t *)self)->leader;
}

static clustermap_t *s_fake_map_get(void *self)
{
    return clustermap_copy(((fake_control_t *)self)->map);
}

static int s_fake_submit(void *self, const clustermap_cmd_t *cmd)
{
    fake_control_t *f = self;
    f->submitted++;
    f->last = *cmd;
    return clustermap_apply(f->map, cmd, clustermap_version(f->map) + 1);
}

/* Members 1, 2, 3 all up in f's map; a detector on node 1 reporting through f. */
static detector_t *s_new_reporting(fake_control_t *f)
{
    static clustermap_cmd_t cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.type = CLUSTERMAP_CMD_SET_MEMBERS;
    cmd.n_members = 3;
    for (uint32_t i = 0; i < 3; i++) {
        cmd.members[i].id = i + 1;
        snprintf(cmd.members[i].name, sizeof cmd.members[i].name, "s%u", i + 1);
        snprintf(cmd.members[i].address, sizeof cmd.members[i].address, "127.0.0.1:%u", 7000 + i);
    }
    f->map = clustermap_new(8, 3);
    assert_int_equal(clustermap_apply(f->map, &cmd, 1), 0);
    f->leader = true;
    uint32_t peers[] = {2, 3};
    detector_config_t cfg = {.self_id = 1,
                             .heartbeat_ms = 100,
                             .down_after_ms = 1000,
                             .peers = peers,
                             .npeers = 2,
                             .control = {.self = f,
                                         .is_leader = s_fake_is_leader,
                                         .map_get = s_fake_map_get,
                                         .submit = s_fake_submit}};
    detector_t *d = detector_new(&cfg);
    assert_non_null(d);
    return d;
}

static clustermap_status_t s_status(const fake_control_t *f, uint32_t id)
{
    return clustermap_member_by_id(f->map, id)->status;
}

/* A peer silent and seen down by another is reported down by the leader, and up again once it
 * heartbeats; a follower reports nothing. */
static void test_the_leader_reports_a_confirmed_silent_peer_and_its_return(void **state)
{
    (void)state;
    fake_control_t f = {0};
    detector_t *d = s_new_reporting(&f);
    uint8_t v[16];
    uint32_t three = 3;
    f.leader = false;
    for (uint64_t t = 100; t <= 3000; t += 100) {
        detector_heartbeat(d, 2, t * MS, v, s_view(v, &three, 1));
        detector_tick(d, t * MS);
    }
    assert_int_equal(f.submitted, 0); /* not the leader */
    f.leader = true;
    detector_tick(d, 3100 * MS);
    assert_int_equal(f.last.type, CLUSTERMAP_CMD_NODE_DOWN);
    assert_int_equal(f.last.node_id, 3);
    assert_int_equal(s_status(&f, 3), CLUSTERMAP_DOWN);
    detector_heartbeat(d, 3, 3200 * MS, v, s_view(v, NULL, 0));
    detector_tick(d, 3200 * MS);
    assert_int_equal(f.last.type, CLUSTERMAP_CMD_NODE_DOWN); /* a report a second at most */
    detector_heartbeat(d, 3, 4100 * MS, v, s_view(v, NULL, 0));
    detector_tick(d, 4100 * MS);
    assert_int_equal(f.last.type, CLUSTERMAP_CMD_NODE_UP);
    assert_int_equal(s_status(&f, 3), CLUSTERMAP_UP);
    detector_destroy(&d);
    clustermap_release(&f.map);
}

/* A leader the map says is down (reported while it was cut off, or its failed disk before a
 * restart) reports itself up: no other node would, only leaders report (found by the
 * simulator: seed 4, a restarted node leading with its old "down" forever). And one whose
 * disk failed reports itself down. */
static void test_a_leader_corrects_its_own_entry(void **state)
{
    (void)state;
    fake_control_t f = {0};
    detector_t *d = s_new_reporting(&f);
    clustermap_cmd_t down = {.type = CLUSTERMAP_CMD_NODE_DOWN, .node_id = 1};
    assert_int_equal(clustermap_apply(f.map, &down, 2), 0);
    uint8_t v[16];
    for (uint64_t t = 100; t <= 500; t += 100) {
        detector_heartbeat(d, 2, t * MS, v, s_view(v, NULL, 0));
        detector_heartbeat(d, 3, t * MS, v, s_view(v, NULL, 0));
        detector_tick(d, t * MS);
    }
    assert_int_equal(f.submitted, 1);
    assert_int_equal(f.last.type, CLUSTERMAP_CMD_NODE_UP);
    assert_int_equal(f.last.node_id, 1);
    assert_int_equal(s_status(&f, 1), CLUSTERMAP_UP);
    detector_set_self_down(d);
    detector_tick(d, 2000 * MS);
    assert_int_equal(f.last.type, CLUSTERMAP_CMD_NODE_DOWN);
    assert_int_equal(s_status(&f, 1), CLUSTERMAP_DOWN);
    detector_tick(d, 4000 * MS);
    assert_int_equal(f.submitted, 2); /* its disk failed: it stays down */
    detector_destroy(&d);
    clustermap_release(&f.map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_silent_peer_confirmed_by_another_is_down),
        cmocka_unit_test(test_a_cut_off_node_confirms_nobody_down),
        cmocka_unit_test(test_our_view_alone_is_not_enough),
        cmocka_unit_test(test_our_view_travels_in_heartbeats),
        cmocka_unit_test(test_the_leader_reports_a_confirmed_silent_peer_and_its_return),
        cmocka_unit_test(test_a_leader_corrects_its_own_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
