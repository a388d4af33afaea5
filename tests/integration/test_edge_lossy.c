/* tests/integration/test_edge_lossy.c — a lossy link between the shards and the edges, end to
 * end over real sockets (3 shards, 2 edges): an inbox event lost on the way is noticed by the
 * edge at the next one and sent again, so the client still gets every message, in order, once
 * (actors/push.h; the fault point user.push_lost). */
#include "tests/support/edge_cluster.h"

/* Every shard process loses its first inbox-event push on the way (user.push_lost:1). */
static int s_setup_lossy(void **state)
{
    (void)state;
    setenv("ROOST_FAULT_POINTS", "user.push_lost:1", 1);
    ec_open("", 0);
    unsetenv("ROOST_FAULT_POINTS");
    return 0;
}

/* The push of b's first message is lost between the shard and b's edge: the edge sees the gap
 * when the second arrives (its prev is not what the edge has) and asks for everything after
 * what it has, so b still gets both, in order, once (actors/push.h). */
static void test_a_lost_push_is_sent_again(void **state)
{
    (void)state;
    rc_session_t a, b;
    ec_login(&a, 0, false, "+15550003001", "a1");
    ec_login(&b, 1, false, "+15550003002", "b1");
    json_decref(ec_ok(rc_session_connect(&a, 10000)));
    json_decref(ec_ok(rc_session_connect(&b, 10000)));
    char to_b[32];
    ec_to(to_b, &b);
    json_decref(ec_ok(ec_send(a.conn, to_b, "l1", "bDE=")));
    json_decref(ec_ok(ec_send(a.conn, to_b, "l2", "bDI=")));
    for (int64_t seq = 1; seq <= 2; seq++) {
        json_t *m = ec_event(b.conn, "msg", 15000);
        assert_non_null(m);
        assert_int_equal(ec_int(m, "seq"), seq);
        json_decref(m);
    }
    assert_null(ec_event(b.conn, "msg", 1500)); /* once */
    rc_free(&a.conn);
    rc_free(&b.conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_lost_push_is_sent_again),
    };
    return cmocka_run_group_tests(tests, s_setup_lossy, ec_teardown);
}
