/* tests/integration/test_disk_alarms.c — a shard node's disk alarms, end to end over real
 * sockets (3 shards, 2 edges; cluster/daemon_disk.c): a disk that refuses writes takes its node
 * out of service while clients keep sending through the other replicas, and a disk short of the
 * room a full compaction needs raises a warning while the node keeps serving. Both are provoked
 * by fault points, so in a build without them (Release) the tests skip themselves. */
#include "tests/support/edge_cluster.h"

/* s3's disk refuses every write from the start (the fault point engine.write); s2's
 * filesystem reports no free space (disk.headroom). */
static int s_setup_bad_disk(void **state)
{
    (void)state;
    ec_prepare();
    ec_write_files();
    for (int i = 1; i <= EC_NODES; i++) {
        if (i == EC_SHARDS)
            setenv("ROOST_FAULT_POINTS", "engine.write", 1);
        if (i == EC_SHARDS - 1)
            setenv("ROOST_FAULT_POINTS", "disk.headroom", 1);
        ec_start(i);
        unsetenv("ROOST_FAULT_POINTS");
    }
    return 0;
}

/* The node never acknowledges what it could not store: it raises the alarm (log, status,
 * metrics, /healthz 503), goes quiet, and its partitions fail over to the two replicas that
 * can still write, so clients keep sending and receiving. */
static void test_a_failed_disk_fails_over_and_raises_the_alarm(void **state)
{
    (void)state;
    if (!ROOST_FAULTS_ARMED)
        skip(); /* a build without fault points (Release): nothing to provoke it */
    char code[8];
    int st = 0;
    for (int i = 0; i < 300 && st != 202; i++, proc_sleep_ms(200))
        st = ec_code(0, "+15550005000", code);
    assert_int_equal(st, 202);
    bool failed_over = false; /* s1 and s2 lead every partition between them */
    for (int i = 0; i < 120 && !failed_over; i++) {
        json_t *j = ec_status_json(NULL);
        json_t *nodes = json_object_get(j, "nodes");
        failed_over =
            ec_int(json_object_get(json_array_get(nodes, 0), "partitions"), "primary") +
                ec_int(json_object_get(json_array_get(nodes, 1), "partitions"), "primary") ==
            EC_P;
        json_decref(j);
        if (!failed_over)
            proc_sleep_ms(500);
    }
    assert_true(failed_over);
    rc_session_t a, b;
    ec_login(&a, 0, false, "+15550005001", "a1");
    ec_login(&b, 1, false, "+15550005002", "b1");
    json_decref(ec_ok(rc_session_connect(&a, 10000)));
    json_decref(ec_ok(rc_session_connect(&b, 10000)));
    char to_b[32];
    ec_to(to_b, &b);
    for (int k = 0; k < 5; k++) {
        char cmid[16];
        snprintf(cmid, sizeof cmid, "d%d", k);
        json_t *ok = NULL;
        for (int i = 0; i < 150 && !ok; i++) { /* until the failover is in: same cmid */
            ok = ec_send(a.conn, to_b, cmid, "eA==");
            if (!ok || strcmp(ec_str(ok, "t"), "ok") != 0) {
                json_decref(ok);
                ok = NULL;
                proc_sleep_ms(200);
            }
        }
        assert_non_null(ok);
        json_decref(ok);
    }
    for (int k = 0; k < 5; k++) {
        json_t *m = ec_event(b.conn, "msg", 15000);
        assert_non_null(m);
        rc_ack(b.conn, (uint64_t)ec_int(m, "n"));
        json_decref(m);
    }
    assert_true(ec_log_has("s3", "disk refused a write: this node stops serving"));
    char *body = NULL;
    assert_int_equal(rc_http("127.0.0.1", (uint16_t)EC->metrics[EC_SHARDS], "GET", "/healthz", NULL,
                             5000, &st, &body),
                     0);
    assert_int_equal(st, 503);
    assert_non_null(strstr(body, "disk refused a write"));
    free(body);
    rc_http("127.0.0.1", (uint16_t)EC->metrics[EC_SHARDS], "GET", "/metrics", NULL, 5000, &st,
            &body);
    assert_non_null(strstr(body, "\nroost_store_read_only 1\n"));
    free(body);
    rc_http("127.0.0.1", (uint16_t)EC->metrics[1], "GET", "/healthz", NULL, 5000, &st, &body);
    assert_int_equal(st, 200);
    free(body);
    json_t *j = ec_status_json(NULL);
    json_t *s3 = json_array_get(json_object_get(j, "nodes"), EC_SHARDS - 1);
    assert_string_equal(ec_str(s3, "status"), "up");
    assert_string_equal(ec_str(s3, "disk"), "read-only");
    json_decref(j);
    rc_free(&a.conn);
    rc_free(&b.conn);
}

/* A node whose disk lacks the room a full compaction needs warns (log, status, metrics) and
 * keeps serving: /healthz stays 200 and it keeps its partitions. */
static void test_low_headroom_warns_and_keeps_serving(void **state)
{
    (void)state;
    if (!ROOST_FAULTS_ARMED)
        skip();
    assert_true(ec_log_has("s2", "disk headroom low: a full compaction may not fit"));
    json_t *j = ec_status_json(NULL);
    json_t *s2 = json_array_get(json_object_get(j, "nodes"), EC_SHARDS - 2);
    assert_string_equal(ec_str(s2, "name"), "s2");
    assert_string_equal(ec_str(s2, "status"), "up");
    assert_string_equal(ec_str(s2, "disk"), "low-headroom");
    assert_int_equal(ec_int(s2, "disk_free_bytes"), 0);
    assert_true(ec_int(json_object_get(s2, "partitions"), "primary") > 0);
    json_decref(j);
    char *body = NULL;
    int st = 0;
    rc_http("127.0.0.1", (uint16_t)EC->metrics[EC_SHARDS - 1], "GET", "/metrics", NULL, 5000, &st,
            &body);
    assert_non_null(strstr(body, "\nroost_store_disk_headroom_low 1\n"));
    free(body);
    rc_http("127.0.0.1", (uint16_t)EC->metrics[EC_SHARDS - 1], "GET", "/healthz", NULL, 5000, &st,
            &body);
    assert_int_equal(st, 200);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_failed_disk_fails_over_and_raises_the_alarm),
        cmocka_unit_test(test_low_headroom_warns_and_keeps_serving),
    };
    return cmocka_run_group_tests(tests, s_setup_bad_disk, ec_teardown);
}
