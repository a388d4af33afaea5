/* tests/unit/test_sessions_receipts.c — sessions, receipts and presence on one in-process shard
 * node (real runtime, real RocksDB, RF 1), driven through test sessions as an edge drives them:
 * receipts coalesced in an offline sender's inbox and paced for an online one, read receipts
 * off, a retried send joining the attempt still in flight, session expiry ending presence (and
 * a watcher's subscriptions), last_seen for contacts only, the device limit, and what a device
 * added later may vouch for. */
#include "tests/support/msg_world.h"
#include "runtime/errors.h"
#include "runtime/fault.h"
#include "tests/support/msg_steps.h"

/* Session i sends a request and does not wait: s_answer collects its answer. */
static void s_post(uint32_t i, const char *target, const user_ref_t *u, const char *device,
                   const char *json)
{
    sess_post_call(i, target, u->id, device, json);
}

/* The answer to session i's posted request within ms ("ok"/"err", the map in *up), or NULL. */
static const char *s_answer(uint32_t i, int ms, msgpack_unpacked *up)
{
    return sess_answer(i, ms, up);
}

/* What an edge tells the user actor about session i (MSG_SESSION_RENEW / MSG_SESSION_CLOSE). */
static void s_session_msg(uint32_t type, uint32_t i, const user_ref_t *u, const char *device)
{
    char key[ROOST_KEY_BYTES_MAX + 1];
    sess_key(i, key);
    mp_buf_t m;
    mp_buf_init(&m);
    msgpack_pack_array(&m.pk, 2);
    mp_pack_str(&m.pk, device);
    mp_pack_str(&m.pk, key);
    roost_node_send(MW->node, roost_env_new(u->key, key, type, m.sb.data, m.sb.size));
    mp_buf_fini(&m);
}

/* up (a push) is u's presence with this status; returns its last_seen (0: null). */
static uint64_t s_is_presence(msgpack_unpacked *up, const user_ref_t *u, const char *status)
{
    char buf[32];
    assert_string_equal(sess_str(&up->data, "t", buf, sizeof buf), "presence");
    assert_string_equal(sess_str(&up->data, "user", buf, sizeof buf), u->id);
    assert_string_equal(sess_str(&up->data, "status", buf, sizeof buf), status);
    uint64_t seen = sess_u64(&up->data, "last_seen");
    msgpack_unpacked_destroy(up);
    return seen;
}

static uint64_t s_presence(uint32_t i, const user_ref_t *u, const char *status)
{
    msgpack_unpacked up;
    if (!sess_next(i, &up, 5000))
        fail_msg("no presence push on session %u", i);
    return s_is_presence(&up, u, status);
}

static void s_read(uint32_t i, const user_ref_t *u, const char *device, const char *conv,
                   uint64_t seq)
{
    char json[128];
    snprintf(json, sizeof json, "{\"t\":\"read\",\"conv\":\"%s\",\"seq\":%llu}", conv,
             (unsigned long long)seq);
    s_ok(i, u->key, u, device, json);
}

static void s_ack(uint32_t i, const user_ref_t *u, const char *device, uint64_t n)
{
    char json[64];
    snprintf(json, sizeof json, "{\"t\":\"recv.ack\",\"n\":%llu}", (unsigned long long)n);
    s_ok(i, u->key, u, device, json);
}

/* The next push to session i is a receipt by `by` with this status; returns its seq. */
static uint64_t s_receipt(uint32_t i, const user_ref_t *by, const char *status)
{
    msgpack_unpacked up;
    char buf[32];
    s_expect(i, "receipt", &up);
    assert_string_equal(sess_str(&up.data, "by", buf, sizeof buf), by->id);
    assert_string_equal(sess_str(&up.data, "status", buf, sizeof buf), status);
    uint64_t seq = sess_u64(&up.data, "seq");
    msgpack_unpacked_destroy(&up);
    return seq;
}

/* a writes k messages "<prefix>1…" to b (whose session bs is live and gets them at n from). */
static void s_write(const user_ref_t *a, const user_ref_t *b, uint32_t bs, const char *prefix,
                    int k, char conv[48])
{
    char to[40], cmid[16];
    s_conv_of(a, b, conv);
    snprintf(to, sizeof to, "u:%s", b->id);
    for (int j = 1; j <= k; j++) {
        snprintf(cmid, sizeof cmid, "%s%d", prefix, j);
        assert_int_equal(s_send(0, a, "a1", conv, to, cmid, cmid), (uint64_t)j);
    }
    s_expect_msgs(bs, 1, prefix, 1, k);
}

static void test_offline_sender_gets_one_cumulative_receipt_per_status(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550001001", "a1", &a);
    s_user(1, "+15550001002", "b1", &b);
    s_auth(1, &b, "b1", -1);
    char conv[48];
    s_write(&a, &b, 1, "c", 4, conv); /* a has no session: offline */
    s_ack(1, &b, "b1", 1);            /* two steps within a second: one receipt of them */
    s_ack(1, &b, "b1", 2);
    s_read(1, &b, "b1", conv, 2);
    proc_sleep_ms(1500); /* those receipts wait in a's inbox; the next ones replace them */
    s_ack(1, &b, "b1", 4);
    s_read(1, &b, "b1", conv, 4);
    proc_sleep_ms(2000);
    s_auth(0, &a, "a1", -1);
    assert_int_equal(s_receipt(0, &b, "delivered"), 4); /* n 1…4: a's own, not pushed back */
    assert_int_equal(s_receipt(0, &b, "read"), 4);
    s_no_push(0, 1500);
}

static void test_online_sender_gets_receipts_at_most_once_a_second(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550001011", "a1", &a);
    s_user(1, "+15550001012", "b1", &b);
    s_auth(0, &a, "a1", -1);
    s_auth(1, &b, "b1", -1);
    char conv[48];
    s_write(&a, &b, 1, "p", 3, conv);
    uint64_t t0 = proc_now_ms();
    for (uint64_t n = 1; n <= 3; n++)
        s_ack(1, &b, "b1", n);
    uint64_t acks_ms = proc_now_ms() - t0, last = t0, seq = 0;
    int count = 0;
    while (seq < 3) { /* the first a second after the first ack, then a second apart */
        seq = s_receipt(0, &b, "delivered");
        uint64_t now = proc_now_ms();
        if (now - last < 900)
            fail_msg("receipt %d came %llu ms after the last one", count + 1,
                     (unsigned long long)(now - last));
        last = now;
        count++;
    }
    if (acks_ms < 800) /* all three acks within the first second: one receipt for them */
        assert_int_equal(count, 1);
    s_no_push(0, 1500);
}

static void test_read_receipts_off_sends_delivered_but_no_read(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550001021", "a1", &a);
    s_user(1, "+15550001022", "b1", &b);
    s_auth(0, &a, "a1", -1);
    s_auth(1, &b, "b1", -1);
    s_ok(1, b.key, &b, "b1", "{\"t\":\"privacy.set\",\"read_receipts\":false}");
    char conv[48], to[40];
    s_write(&a, &b, 1, "o", 1, conv);
    s_ack(1, &b, "b1", 1);
    s_read(1, &b, "b1", conv, 1);
    assert_int_equal(s_receipt(0, &b, "delivered"), 1);
    s_no_push(0, 2500); /* no read receipt */
    /* back on: the next read is told */
    s_ok(1, b.key, &b, "b1", "{\"t\":\"privacy.set\",\"read_receipts\":true}");
    snprintf(to, sizeof to, "u:%s", b.id);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "o2", "o2"), 2);
    s_expect_msgs(1, 2, "o", 2, 2);
    s_read(1, &b, "b1", conv, 2);
    assert_int_equal(s_receipt(0, &b, "read"), 2);
}

/* The last event pushed to a session is lost on the way (user.push_lost) and nothing follows to
 * show the gap: the user actor pushes it again once it stays unacknowledged (USER_PROBE_MS). */
static void test_a_lost_last_push_comes_again(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550001031", "a1", &a);
    s_user(1, "+15550001032", "b1", &b);
    s_auth(1, &b, "b1", -1);
    char conv[48], to[40];
    s_conv_of(&a, &b, conv);
    snprintf(to, sizeof to, "u:%s", b.id);
    assert_int_equal(roost_fault_arm("user.push_lost", 1), 0);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "z1", "z1"), 1);
    s_no_push(1, 3000); /* lost */
    msgpack_unpacked up;
    if (!sess_next(1, &up, 10000))
        fail_msg("the lost push never came again");
    char t[16];
    assert_string_equal(sess_str(&up.data, "t", t, sizeof t), "msg");
    assert_int_equal(sess_u64(&up.data, "seq"), 1);
    msgpack_unpacked_destroy(&up);
    roost_fault_reset();
}

/* The conversation's write is held (replog.hold_flush: numbered, not written — syncer.stall
 * cannot be used: it drops the sync, so its partition never completes a write until a restart);
 * a second session of the same device sends the same cmid meanwhile; a later write to the
 * partition releases both. */
static void test_retry_while_the_first_attempt_is_in_flight_waits_for_it(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550001031", "a1", &a);
    s_user(1, "+15550001032", "b1", &b);
    char conv[48], to[40], json[160], mid[2][40];
    s_conv_of(&a, &b, conv);
    snprintf(to, sizeof to, "u:%s", b.id);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "w0", "w0"), 1); /* everything loaded */
    s_settled_appends(500);
    assert_int_equal(roost_fault_arm("replog.hold_flush", -1), 0);
    snprintf(json, sizeof json,
             "{\"t\":\"send\",\"to\":\"%s\",\"cmid\":\"x\",\"kind\":\"text\",\"body\":\"x\"}", to);
    s_post(0, conv, &a, "a1", json);
    proc_sleep_ms(100);
    s_post(1, conv, &a, "a1", json); /* the same device's retry on another connection */
    msgpack_unpacked up[2];
    assert_null(s_answer(0, 600, &up[0])); /* held */
    assert_null(s_answer(1, 0, &up[1]));
    roost_fault_reset();
    assert_int_equal(s_send(2, &a, "a1", conv, to, "y", "y"), 3); /* flushes x with it */
    for (uint32_t i = 0; i < 2; i++) {
        const char *t = s_answer(i, 5000, &up[i]);
        assert_non_null(t);
        assert_string_equal(t, "ok");
        assert_int_equal(sess_u64(&up[i].data, "seq"), 2);
        sess_str(&up[i].data, "mid", mid[i], sizeof mid[i]);
        msgpack_unpacked_destroy(&up[i]);
    }
    assert_true(mid[0][0] != '\0');
    assert_string_equal(mid[0], mid[1]);
    snprintf(json, sizeof json, "{\"t\":\"history\",\"conv\":\"%s\"}", conv);
    assert_string_equal(sess_call(1, conv, b.id, "b1", json, &up[0]), "ok");
    const msgpack_object *msgs;
    assert_int_equal(mp_get_array(&up[0].data, "msgs", &msgs), MP_OK);
    assert_int_equal(msgs->via.array.size, 3); /* w0, x once, y */
    char got[40];
    assert_string_equal(sess_str(&msgs->via.array.ptr[1], "mid", got, sizeof got), mid[0]);
    msgpack_unpacked_destroy(&up[0]);
}

static void test_session_expiry_ends_presence_and_subscriptions(void **state)
{
    (void)state;
    MW->cfg.session_ttl_ms = 3000; /* test sessions are never renewed unless the test does */
    user_ref_t u, w, x;
    s_user(0, "+15550001041", "u1", &u);
    s_user(1, "+15550001042", "w1", &w);
    s_user(3, "+15550001043", "x1", &x);
    char json[96];
    snprintf(json, sizeof json, "{\"t\":\"presence.sub\",\"users\":[\"%s\"]}", u.id);
    s_auth(1, &w, "w1", -1);
    s_ok(1, w.key, &w, "w1", json);
    assert_int_equal(s_presence(1, &u, "offline"), 0); /* never seen */
    s_auth(0, &u, "u1", -1);
    uint64_t t_auth = proc_now_ms(), t_renew = 0;
    s_presence(1, &u, "online");
    msgpack_unpacked up;
    bool got = false;
    while (!got && proc_now_ms() < t_auth + 9000) { /* w's edge renews w; nobody renews u */
        s_session_msg(MSG_SESSION_RENEW, 1, &w, "w1");
        t_renew = proc_now_ms();
        got = sess_next(1, &up, 1000);
    }
    if (!got)
        fail_msg("u's expired session never ended its presence");
    uint64_t elapsed = proc_now_ms() - t_auth;
    assert_true(s_is_presence(&up, &u, "offline") > 0);
    if (elapsed < 2900 || elapsed > 3000 + 2500 + 1500)
        fail_msg("offline %llu ms after auth (ttl 3000, tick 2500)", (unsigned long long)elapsed);

    /* w's own session expires: its subscription goes with it */
    proc_sleep_ms((long)(t_renew + 3000 + 2500 + 700 - proc_now_ms()));
    s_auth(3, &x, "x1", -1); /* a live watcher, for comparison */
    s_ok(3, x.key, &x, "x1", json);
    assert_true(s_presence(3, &u, "offline") > 0);
    s_auth(2, &u, "u1", -1);
    s_presence(3, &u, "online");
    s_no_push(1, 500);
}

static void test_last_seen_contacts_only_contacts_see_presence(void **state)
{
    (void)state;
    user_ref_t o, c, s;
    s_user(0, "+15550001051", "o1", &o);
    s_user(1, "+15550001052", "c1", &c);
    s_user(2, "+15550001053", "s1", &s);
    char json[96];
    s_ok(0, o.key, &o, "o1", "{\"t\":\"privacy.set\",\"last_seen\":\"contacts\"}");
    snprintf(json, sizeof json, "{\"t\":\"contacts.add\",\"user\":\"%s\",\"name\":\"c\"}", c.id);
    s_ok(0, o.key, &o, "o1", json);
    snprintf(json, sizeof json, "{\"t\":\"presence.sub\",\"users\":[\"%s\"]}", o.id);
    s_auth(1, &c, "c1", -1);
    s_auth(2, &s, "s1", -1);
    s_ok(1, c.key, &c, "c1", json);
    s_ok(2, s.key, &s, "s1", json); /* accepted silently */
    s_presence(1, &o, "offline");
    s_auth(3, &o, "o1", -1);
    s_presence(1, &o, "online");
    s_no_push(2, 500);
    /* a user that does not exist: not_found, and nothing of the request is kept */
    snprintf(json, sizeof json, "{\"t\":\"presence.sub\",\"users\":[\"%s\",\"999999\"]}", o.id);
    s_err(2, s.key, &s, "s1", json, "not_found");
}

/* A claim of phone by device on session 0: the status (0, or the user actor's error). */
static int s_claim_status(const char *phone, const char *device)
{
    sess_item_t *it = sess_claim_answer(0, phone, device);
    assert_non_null(it);
    int status = it->status;
    free(it);
    return status;
}

/* A device added later never had what came before it: its acks are no `delivered` receipt
 * for those messages (a receipt says "up to seq"), only once the first device has them too
 * (found by the simulator with two devices per user, seed 280). */
static void test_a_new_devices_acks_do_not_cover_what_came_before_it(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550001091", "a1", &a);
    s_user(1, "+15550001092", "b1", &b);
    s_auth(0, &a, "a1", -1);
    char conv[48], to[40], again[32];
    s_conv_of(&a, &b, conv);
    snprintf(to, sizeof to, "u:%s", b.id);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "x1", "x1"), 1);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "x2", "x2"), 2);
    /* `ok` is the conversation's write; the inbox's comes after it: let x2 land there first, or
     * b2 (claimed at the inbox head) may start before x2 (seen once under a loaded ASan run) */
    s_settled_appends(300);
    sess_claim(2, "+15550001092", "b2", again); /* b's second device, at the inbox head */
    assert_string_equal(again, b.id);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "x3", "x3"), 3);
    s_auth(2, &b, "b2", -1);
    s_expect_msgs(2, 3, "x", 3, 3);
    s_ack(2, &b, "b2", 3);
    s_no_push(0, 2500); /* b1 has had none of them: nothing is delivered to b "up to 3" */
    s_auth(1, &b, "b1", -1);
    s_expect_msgs(1, 1, "x", 1, 3);
    s_ack(1, &b, "b1", 2); /* b1 has 1 and 2, b2 has 3: all of them are on a device of b's */
    assert_int_equal(s_receipt(0, &b, "delivered"), 3);
    s_no_push(0, 1500);
}

static void test_device_limit_default_and_configured(void **state)
{
    (void)state;
    char dev[8];
    for (int k = 1; k <= 5; k++) {
        snprintf(dev, sizeof dev, "d%d", k);
        assert_int_equal(s_claim_status("+15550001061", dev), 0);
    }
    assert_int_equal(s_claim_status("+15550001061", "d6"), ROOST_ETOOBIG);
    assert_int_equal(s_claim_status("+15550001061", "d5"), 0); /* a known device: still ok */
    MW->cfg.max_devices = 2;
    assert_int_equal(s_claim_status("+15550001062", "e1"), 0);
    assert_int_equal(s_claim_status("+15550001062", "e2"), 0);
    assert_int_equal(s_claim_status("+15550001062", "e3"), ROOST_ETOOBIG);
}

int main(void)
{
    if (getenv("ROOST_TEST_FILTER")) /* one test (cmocka's * and ? patterns), for loops */
        cmocka_set_test_filter(getenv("ROOST_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offline_sender_gets_one_cumulative_receipt_per_status,
                                        mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_online_sender_gets_receipts_at_most_once_a_second,
                                        mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_read_receipts_off_sends_delivered_but_no_read,
                                        mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(
            test_retry_while_the_first_attempt_is_in_flight_waits_for_it, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_session_expiry_ends_presence_and_subscriptions,
                                        mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_last_seen_contacts_only_contacts_see_presence,
                                        mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_a_lost_last_push_comes_again, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_a_new_devices_acks_do_not_cover_what_came_before_it,
                                        mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_device_limit_default_and_configured, mw_setup,
                                        mw_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
