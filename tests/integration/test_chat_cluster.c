/* tests/integration/test_chat_cluster.c — the messaging actors in three real `roostd` shard
 * processes (RF 3, QUORUM), driven by client sessions on a client node joined over ZeroMQ:
 *   - two users sending each other 1,000 messages each at once: each side's other device sees
 *     one order, identical on both sides and in `history`;
 *   - `kill -9` of the conversation's primary after its `ok` and before the fan-out (held by
 *     fault injection): the recipient still gets the message, exactly once;
 *   - `kill -9` of the conversation's primary after it handed out a receipt the sender's actor
 *     never stored (lost once by the fault point `user.receipt_lost`): the new primary sends
 *     it again.
 */
#include <pthread.h>

#include "tests/support/msg_cluster.h"

enum { PER_SIDE = 1000 };

/* ---- helpers --------------------------------------------------------------------------- */

typedef struct {
    char id[32], key[40];
} user_t;

static void s_user(uint32_t sess, const char *phone, const char *device, user_t *u)
{
    for (uint64_t deadline = proc_now_ms() + 30000;; proc_sleep_ms(100)) {
        sess_claim(sess, phone, device, u->id);
        if (u->id[0] || proc_now_ms() > deadline)
            break;
    }
    assert_true(u->id[0] != '\0');
    snprintf(u->key, sizeof u->key, "u:%s", u->id);
}

static void s_auth(uint32_t i, const user_t *u, const char *device)
{
    msgpack_unpacked up;
    const char *t = sess_call(i, u->key, u->id, device, "{\"t\":\"auth\"}", &up);
    msgpack_unpacked_destroy(&up);
    assert_non_null(t);
    assert_string_equal(t, "ok");
}

static void s_conv(const user_t *a, const user_t *b, char out[48])
{
    uint64_t x = strtoull(a->id, NULL, 10), y = strtoull(b->id, NULL, 10);
    snprintf(out, 48, "d:%llu:%llu", (unsigned long long)(x < y ? x : y),
             (unsigned long long)(x < y ? y : x));
}

/* Sends, retrying (same cmid) on `unavailable` until a deadline; returns the seq. */
static uint64_t s_send(uint32_t i, const user_t *from, const char *device, const char *conv,
                       const user_t *to, const char *cmid)
{
    char json[256], buf[64];
    snprintf(json, sizeof json,
             "{\"t\":\"send\",\"to\":\"u:%s\",\"cmid\":\"%s\",\"kind\":\"text\",\"body\":\"%s\"}",
             to->id, cmid, cmid);
    uint64_t deadline = proc_now_ms() + 30000;
    for (;;) {
        msgpack_unpacked up;
        const char *t = sess_call(i, conv, from->id, device, json, &up);
        uint64_t seq = t && strcmp(t, "ok") == 0 ? sess_u64(&up.data, "seq") : 0;
        if (t && !seq)
            sess_str(&up.data, "code", buf, sizeof buf);
        msgpack_unpacked_destroy(&up);
        if (seq)
            return seq;
        if (proc_now_ms() > deadline)
            fail_msg("send %s failed: %s", cmid, t ? buf : "no answer");
        proc_sleep_ms(50);
    }
}

typedef struct {
    uint32_t sess;
    const user_t *from, *to;
    const char *device, *conv, *prefix;
} sender_t;

static void *s_sender(void *arg)
{
    sender_t *s = arg;
    char cmid[32];
    for (int k = 0; k < PER_SIDE; k++) {
        snprintf(cmid, sizeof cmid, "%s%d", s->prefix, k);
        s_send(s->sess, s->from, s->device, s->conv, s->to, cmid);
    }
    return NULL;
}

/* Reads `count` msg pushes on session i (acking as it goes); their mids by seq into mids. */
static void s_collect(uint32_t i, const user_t *u, const char *device, int count, char (*mids)[40])
{
    uint64_t last_seq = 0, last_n = 0;
    for (int got = 0; got < count;) {
        msgpack_unpacked up;
        if (!sess_next(i, &up, 30000))
            fail_msg("session %u: %d of %d messages", i, got, count);
        char t[16];
        sess_str(&up.data, "t", t, sizeof t);
        if (strcmp(t, "msg") == 0) {
            uint64_t seq = sess_u64(&up.data, "seq"), n = sess_u64(&up.data, "n");
            if (seq != last_seq + 1)
                fail_msg("session %u: seq %llu after %llu", i, (unsigned long long)seq,
                         (unsigned long long)last_seq);
            assert_true(n > last_n);
            sess_str(&up.data, "mid", mids[seq], 40);
            last_seq = seq, last_n = n;
            got++;
        }
        msgpack_unpacked_destroy(&up);
        if (got % 100 == 0 || got == count) {
            char json[64];
            snprintf(json, sizeof json, "{\"t\":\"recv.ack\",\"n\":%llu}",
                     (unsigned long long)last_n);
            msgpack_unpacked a;
            sess_call(i, u->key, u->id, device, json, &a);
            msgpack_unpacked_destroy(&a);
        }
    }
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_concurrent_order(void **state)
{
    (void)state;
    user_t a, a2, b, b2;
    s_user(0, "+15551000001", "a1", &a);
    s_user(1, "+15551000001", "a2", &a2);
    s_user(2, "+15551000002", "b1", &b);
    s_user(3, "+15551000002", "b2", &b2);
    s_auth(1, &a, "a2");
    s_auth(3, &b, "b2");
    char conv[48];
    s_conv(&a, &b, conv);
    sender_t sa = {0, &a, &b, "a1", conv, "a"}, sb = {2, &b, &a, "b1", conv, "b"};
    uint64_t t0 = proc_now_ms();
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, s_sender, &sa), 0);
    s_sender(&sb);
    pthread_join(th, NULL);
    uint64_t t1 = proc_now_ms();
    fprintf(stderr, "2 x %d sends at once: %.1f s (%.0f sends/s)\n", PER_SIDE,
            (double)(t1 - t0) / 1000.0, 2.0 * PER_SIDE * 1000.0 / (double)(t1 - t0 + 1));
    static char mids_a[2 * PER_SIDE + 1][40], mids_b[2 * PER_SIDE + 1][40];
    s_collect(1, &a, "a2", 2 * PER_SIDE, mids_a);
    s_collect(3, &b, "b2", 2 * PER_SIDE, mids_b);
    for (int seq = 1; seq <= 2 * PER_SIDE; seq++)
        assert_string_equal(mids_a[seq], mids_b[seq]);
    /* history, newest first, 100 at a time: the same order */
    uint64_t before = 0;
    for (int page = 0; page < 2 * PER_SIDE / 100; page++) {
        char json[160];
        if (before)
            snprintf(json, sizeof json,
                     "{\"t\":\"history\",\"conv\":\"%s\",\"before\":%llu,\"limit\":100}", conv,
                     (unsigned long long)before);
        else
            snprintf(json, sizeof json, "{\"t\":\"history\",\"conv\":\"%s\",\"limit\":100}", conv);
        msgpack_unpacked up;
        assert_string_equal(sess_call(1, conv, a.id, "a2", json, &up), "ok");
        const msgpack_object *msgs;
        assert_int_equal(mp_get_array(&up.data, "msgs", &msgs), MP_OK);
        assert_int_equal(msgs->via.array.size, 100);
        for (uint32_t k = 0; k < msgs->via.array.size; k++) {
            uint64_t seq = sess_u64(&msgs->via.array.ptr[k], "seq");
            char mid[40];
            assert_int_equal(seq, 2 * PER_SIDE - page * 100 - k);
            assert_string_equal(sess_str(&msgs->via.array.ptr[k], "mid", mid, sizeof mid),
                                mids_a[seq]);
            before = seq;
        }
        msgpack_unpacked_destroy(&up);
    }
}

static void test_kill_primary_between_ok_and_fanout(void **state)
{
    (void)state;
    user_t a, b;
    s_user(0, "+15552000001", "a1", &a);
    s_user(1, "+15552000002", "b1", &b);
    char conv[48];
    s_conv(&a, &b, conv);
    for (int i = 1; i <= MW_N; i++)
        mw_fault(i, "hold-fanout\n");
    proc_sleep_ms(600); /* the fault files are read on the heartbeat tick */
    assert_int_equal(s_send(0, &a, "a1", conv, &b, "held"), 1);
    s_auth(1, &b, "b1");
    msgpack_unpacked up;
    assert_false(sess_next(1, &up, 1000)); /* acknowledged, not delivered */
    msgpack_unpacked_destroy(&up);
    uint32_t part = roost_partition_of(conv, strlen(conv), MW_P);
    int victim = mw_primary_of(part);
    assert_true(victim > 0);
    fprintf(stderr, "conversation %s: partition %u, primary s%d: kill -9\n", conv, part, victim);
    mw_kill(victim);
    mw_route(victim == 1 ? 2 : 1);
    for (int i = 1; i <= MW_N; i++)
        if (i != victim)
            mw_fault(i, "");
    /* the new primary resumes the fan-out by itself (its index); b reconnects and gets it */
    uint64_t deadline = proc_now_ms() + 30000;
    bool got = false;
    for (uint32_t sess = 2; !got && proc_now_ms() < deadline; sess++) {
        mw_pump();
        msgpack_unpacked r;
        const char *t = sess_call(sess % SESS_MAX, b.key, b.id, "b1", "{\"t\":\"auth\"}", &r);
        msgpack_unpacked_destroy(&r);
        if (t && strcmp(t, "ok") == 0 && sess_next(sess % SESS_MAX, &up, 3000)) {
            char buf[16];
            assert_string_equal(sess_str(&up.data, "t", buf, sizeof buf), "msg");
            assert_int_equal(sess_u64(&up.data, "seq"), 1);
            assert_int_equal(sess_u64(&up.data, "n"), 1);
            got = true;
            msgpack_unpacked_destroy(&up);
            assert_false(sess_next(sess % SESS_MAX, &up, 1500)); /* once */
        }
        msgpack_unpacked_destroy(&up);
        if (!got)
            proc_sleep_ms(500);
    }
    assert_true(got);
    assert_int_equal(s_send(0, &a, "a1", conv, &b, "after"), 2);
    mw_start(victim); /* it comes back and catches up */
}

static uint32_t s_part(const char *key)
{
    return roost_partition_of(key, strlen(key), MW_P);
}

static void test_kill_primary_with_a_receipt_unconfirmed(void **state)
{
    (void)state;
    user_t a, b;
    char conv[48], phone[32];
    s_user(0, "+15553000001", "a1", &a);
    /* a conversation led by another node than a's user actor, whose first receipt is lost */
    for (int k = 2;; k++) {
        snprintf(phone, sizeof phone, "+155530000%02d", k);
        s_user(1, phone, "b1", &b);
        s_conv(&a, &b, conv);
        if (mw_primary_of(s_part(conv)) != mw_primary_of(s_part(a.key)) || k == 60)
            break;
    }
    int victim = mw_primary_of(s_part(conv));
    assert_true(victim > 0 && victim != mw_primary_of(s_part(a.key)));
    assert_int_equal(s_send(0, &a, "a1", conv, &b, "r1"), 1);
    s_auth(1, &b, "b1");
    msgpack_unpacked up;
    assert_true(sess_next(1, &up, 10000));
    msgpack_unpacked_destroy(&up);
    assert_string_equal(sess_call(1, b.key, b.id, "b1", "{\"t\":\"recv.ack\",\"n\":1}", &up), "ok");
    msgpack_unpacked_destroy(&up);
    proc_sleep_ms(2500); /* the receipt went out (≤ 1 s) and was lost; a checkpoint passed */
    fprintf(stderr, "conversation %s: primary s%d: kill -9 with its receipt unconfirmed\n", conv,
            victim);
    mw_kill(victim);
    mw_route(victim == 1 ? 2 : 1);
    bool got = false;
    for (uint64_t deadline = proc_now_ms() + 30000; !got && proc_now_ms() < deadline;) {
        mw_pump();
        const char *t = sess_call(2, a.key, a.id, "a1", "{\"t\":\"auth\"}", &up);
        msgpack_unpacked_destroy(&up);
        while (t && strcmp(t, "ok") == 0 && !got && sess_next(2, &up, 3000)) {
            char buf[16];
            if (strcmp(sess_str(&up.data, "t", buf, sizeof buf), "receipt") == 0) {
                assert_int_equal(sess_u64(&up.data, "seq"), 1);
                got = true;
            }
            msgpack_unpacked_destroy(&up);
        }
    }
    assert_true(got);
    mw_start(victim);
}

/* Every node's first receipt stored is lost (ROOST_FAULT_POINTS, read at its start). */
static int s_setup_receipt_lost(void **state)
{
    setenv("ROOST_FAULT_POINTS", "user.receipt_lost:1", 1);
    int rc = mw_setup(state);
    unsetenv("ROOST_FAULT_POINTS");
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_order, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_kill_primary_between_ok_and_fanout, mw_setup,
                                        mw_teardown),
        cmocka_unit_test_setup_teardown(test_kill_primary_with_a_receipt_unconfirmed,
                                        s_setup_receipt_lost, mw_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
