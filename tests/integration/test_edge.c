/* tests/integration/test_edge.c — the client protocol end to end, through libroost-client
 * against a real local cluster (3 shards, 2 edges): accounts over HTTP with the file SMS sink,
 * messages both ways in JSON and msgpack, offline delivery and resume, retried cmids, tokens
 * (expiry, refresh, reuse revoking the family), every error code, bad input, pings, slow
 * readers and draining. */
#include <sys/wait.h>

#include "tests/support/edge_cluster.h"

static int s_setup(void **state)
{
    (void)state;
    ec_open("", 4);
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

/* Events wait in the inbox while the device is away; resume acts as an ack and replays only
 * what came after it; a resume above the inbox head is bad_request. */
static void test_offline_delivery_and_resume(void **state)
{
    (void)state;
    rc_session_t a, b;
    ec_login(&a, 0, false, "+15550000011", "a1");
    ec_login(&b, 1, false, "+15550000012", "b1");
    json_decref(ec_ok(rc_session_connect(&a, 10000)));
    char to_b[32];
    ec_to(to_b, &b);
    json_decref(ec_ok(ec_send(a.conn, to_b, "m1", "b25l")));
    json_decref(ec_ok(ec_send(a.conn, to_b, "m2", "dHdv")));
    json_decref(ec_ok(rc_session_connect(&b, 10000))); /* no resume: from its cursor (0) */
    json_t *m1 = ec_event(b.conn, "msg", 10000), *m2 = ec_event(b.conn, "msg", 10000);
    assert_non_null(m1);
    assert_non_null(m2);
    assert_string_equal(ec_str(m1, "body"), "b25l");
    assert_string_equal(ec_str(m2, "body"), "dHdv");
    b.last_n = (uint64_t)ec_int(m1, "n"); /* processed only the first */
    json_decref(m1);
    json_decref(m2);
    rc_free(&b.conn);
    json_decref(ec_ok(ec_send(a.conn, to_b, "m3", "dGhyZWU=")));
    json_decref(ec_ok(rc_session_connect(&b, 10000))); /* resume = n of the first */
    m2 = ec_event(b.conn, "msg", 10000);
    json_t *m3 = ec_event(b.conn, "msg", 10000);
    assert_non_null(m2);
    assert_non_null(m3);
    assert_string_equal(ec_str(m2, "body"), "dHdv");
    assert_string_equal(ec_str(m3, "body"), "dGhyZWU=");
    assert_null(ec_event(b.conn, "msg", 300)); /* nothing twice on one connection */
    int64_t head = ec_int(m3, "n");
    json_decref(m2);
    json_decref(m3);
    rc_free(&b.conn);
    rc_t *c = rc_open("ws://127.0.0.1:0", false, 100); /* a bad URL: no connection */
    assert_null(c);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/v1/ws", ec_port(1));
    c = rc_open(url, false, 5000);
    assert_non_null(c);
    ec_err(rc_auth(c, b.access, head + 5, 10000), "bad_request");
    rc_free(&c);
    rc_free(&a.conn);
}

/* The same cmid again is the same message; two sends in a row keep their order. */
static void test_retried_cmid_is_one_message(void **state)
{
    (void)state;
    rc_session_t a, b;
    ec_login(&a, 0, true, "+15550000021", "a1");
    ec_login(&b, 0, true, "+15550000022", "b1");
    json_decref(ec_ok(rc_session_connect(&a, 10000)));
    char to_b[32];
    ec_to(to_b, &b);
    json_t *x = ec_ok(ec_send(a.conn, to_b, "same", "eA=="));
    json_t *y = ec_ok(ec_send(a.conn, to_b, "same", "eA=="));
    assert_string_equal(ec_str(x, "mid"), ec_str(y, "mid"));
    assert_int_equal(ec_int(x, "seq"), ec_int(y, "seq"));
    json_decref(x);
    json_decref(y);
    /* pipelined sends without waiting: seq follows the order they were sent */
    for (int i = 0; i < 5; i++) {
        char cmid[8];
        snprintf(cmid, sizeof cmid, "p%d", i);
        json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "t", "send", "to", to_b, "cmid",
                              cmid, "kind", "text", "body", "eQ==", "rid", 100 + i);
        assert_int_equal(rc_send(a.conn, f), 0);
        json_decref(f);
    }
    int64_t last = 0;
    for (int i = 0; i < 5; i++) {
        json_t *ok = ec_ok(rc_next(a.conn, 15000));
        assert_int_equal(ec_int(ok, "rid"), 100 + i);
        assert_true(ec_int(ok, "seq") > last);
        last = ec_int(ok, "seq");
        json_decref(ok);
    }
    rc_free(&a.conn);
}

/* Expired tokens are refused; refresh gives a working pair; a spent refresh token presented
 * again revokes the device's family (its newer tokens stop working too). */
static void test_tokens_expire_refresh_and_reuse_revokes(void **state)
{
    (void)state;
    rc_session_t a;
    ec_login(&a, 0, false, "+15550000031", "a1");
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/v1/ws", ec_port(0));
    proc_sleep_ms(4500); /* access_ttl_s is 4 in this cluster */
    rc_t *c = rc_open(url, false, 5000);
    ec_err(rc_auth(c, a.access, -1, 10000), "unauthorized");
    assert_true(rc_closed(c) != 0 || (rc_pump(c, 500), rc_closed(c) != 0));
    rc_free(&c);
    char spent[256];
    snprintf(spent, sizeof spent, "%s", a.refresh);
    assert_int_equal(rc_refresh(&a), 200);
    assert_string_not_equal(a.refresh, spent);
    json_decref(ec_ok(rc_session_connect(&a, 10000)));
    rc_free(&a.conn);
    char fresh[256];
    snprintf(fresh, sizeof fresh, "%s", a.refresh);
    snprintf(a.refresh, sizeof a.refresh, "%s", spent);
    assert_int_equal(rc_refresh(&a), 401); /* reuse: the family is revoked */
    snprintf(a.refresh, sizeof a.refresh, "%s", fresh);
    assert_int_equal(rc_refresh(&a), 401);
    c = rc_open(url, false, 5000);
    ec_err(rc_auth(c, a.access, -1, 10000), "unauthorized"); /* its generation moved */
    rc_free(&c);
    /* a new login of the device starts a new family */
    ec_login(&a, 0, false, "+15550000031", "a1");
    json_decref(ec_ok(rc_session_connect(&a, 10000)));
    rc_free(&a.conn);
}

/* The HTTP side: codes, limits and errors. */
static void test_http_endpoints(void **state)
{
    (void)state;
    int st;
    char *body;
    assert_int_equal(rc_http("127.0.0.1", ec_port(0), "GET", "/healthz", NULL, 5000, &st, &body),
                     0);
    assert_int_equal(st, 200);
    assert_string_equal(body, "ok");
    free(body);
    assert_int_equal(rc_http("127.0.0.1", ec_port(0), "GET", "/metrics", NULL, 5000, &st, &body),
                     0);
    assert_int_equal(st, 200);
    assert_non_null(strstr(body, "roost_edge_connections"));
    free(body);
    assert_int_equal(rc_http("127.0.0.1", ec_port(0), "GET", "/nope", NULL, 5000, &st, &body), 0);
    assert_int_equal(st, 404);
    free(body);
    const struct {
        const char *path, *body;
        int status;
        const char *part;
    } cases[] = {
        {"/v1/auth/otp/request", "{not json", 400, "not a JSON object"},
        {"/v1/auth/otp/request", "{\"phone\":\"555\"}", 400, "'phone'"},
        {"/v1/auth/otp/verify", "{\"phone\":\"+15550000041\",\"code\":\"12\"}", 400, "'code'"},
        {"/v1/auth/otp/verify", "{\"phone\":\"+15550000041\",\"code\":\"123456\",\"device\":\"d\"}",
         401, "code"},
        {"/v1/auth/refresh", "{\"refresh_token\":\"rt1.1.d.x\"}", 401, "unauthorized"},
        {"/v1/auth/refresh", "{\"refresh_token\":\"garbage\"}", 401, "unauthorized"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(rc_http("127.0.0.1", ec_port(0), "POST", cases[i].path, cases[i].body,
                                 10000, &st, &body),
                         0);
        if (st != cases[i].status || !strstr(body, cases[i].part))
            fail_msg("%s %s: %d %s", cases[i].path, cases[i].body, st, body);
        free(body);
    }
    char big[8192];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "{\"phone\":\"", 10);
    assert_int_equal(
        rc_http("127.0.0.1", ec_port(0), "POST", "/v1/auth/otp/request", big, 5000, &st, &body), 0);
    assert_int_equal(st, 413);
    free(body);
    /* 3 codes an hour per number: the 4th is 429 */
    char code[8];
    for (int i = 0; i < 3; i++)
        assert_int_equal(ec_code(0, "+15550000042", code), 202);
    assert_int_equal(ec_code(1, "+15550000042", code), 429);
}

/* Runs roost-chat with HOME-independent state in dir; its stdout (caller frees) and exit. */
static char *s_chat(const char *home, const char *args, int *status)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' --home '%s' %s 2>&1", getenv("ROOST_CHAT"), home, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = calloc(1, 65536);
    size_t n = fread(out, 1, 65535, p);
    out[n] = '\0';
    *status = WEXITSTATUS(pclose(p));
    return out;
}

/* roost-chat as a script would use it: login with the dev SMS sink, whoami, send, listen. */
static void test_roost_chat_cli(void **state)
{
    (void)state;
    char ha[128], hb[128], args[512];
    snprintf(ha, sizeof ha, "%s/chat-a", EC->dir);
    snprintf(hb, sizeof hb, "%s/chat-b", EC->dir);
    int st;
    char *out;
    snprintf(args, sizeof args,
             "--edge ws://127.0.0.1:%u login +15550000051 --code-from-file '%s' --device cli-a",
             ec_port(0), EC->sms);
    out = s_chat(ha, args, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "logged in as"));
    free(out);
    snprintf(args, sizeof args,
             "--edge ws://127.0.0.1:%u --msgpack login +15550000052 --code-from-file '%s'",
             ec_port(1), EC->sms);
    free(s_chat(hb, args, &st));
    assert_int_equal(st, 0);
    char *b_user = s_chat(hb, "whoami", &st);
    assert_int_equal(st, 0);
    b_user[strcspn(b_user, "\n")] = '\0';
    snprintf(args, sizeof args, "send u:%s 'hello from the cli'", b_user);
    out = s_chat(ha, args, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "seq 1"));
    free(out);
    out = s_chat(hb, "listen --once", &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, ": hello from the cli"));
    free(out);
    out = s_chat(hb, "listen --once", &st); /* acknowledged: not again */
    assert_null(strstr(out, "hello from the cli"));
    free(out);
    out = s_chat(ha, "send u:1 x", &st); /* a refusal: exit 1 and the code */
    assert_int_equal(st, 1);
    assert_non_null(strstr(out, "not_found"));
    free(out);
    out = s_chat(ha, "frobnicate", &st);
    assert_int_equal(st, 2);
    free(out);
    free(b_user);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_users_talk_over_json_and_msgpack),
        cmocka_unit_test(test_offline_delivery_and_resume),
        cmocka_unit_test(test_retried_cmid_is_one_message),
        cmocka_unit_test(test_tokens_expire_refresh_and_reuse_revokes),
        cmocka_unit_test(test_http_endpoints),
        cmocka_unit_test(test_roost_chat_cli),
    };
    return cmocka_run_group_tests(tests, s_setup, ec_teardown);
}
