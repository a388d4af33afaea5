/* tests/unit/test_messaging.c — the messaging actors on one in-process shard node (real
 * runtime, real store API over RocksDB, RF 1), driven through test sessions exactly as an edge
 * drives them: accounts, 1:1 send/deliver/ack/receipts, dedupe, offline delivery and resume,
 * multi-device cursors, history, blocking, groups, typing, presence and privacy, errors. */
#ifdef MW_CLUSTER /* the same tests over three real shard processes */
#include "tests/support/msg_cluster.h"
#else
#include "tests/support/msg_world.h"
#endif
#include "tests/support/procs.h"

#include <signal/curve.h>
#include <signal/signal_protocol.h>
#include <sodium.h>

#include "runtime/errors.h"

typedef struct {
    char id[32];
    char key[40]; /* u:<id> */
} user_ref_t;

static void s_user(uint32_t sess, const char *phone, const char *device, user_ref_t *u)
{
    /* (over processes a partition may still be settling: claims are retried, as a client's) */
    for (uint64_t deadline = proc_now_ms() + 30000;; proc_sleep_ms(100)) {
        sess_claim(sess, phone, device, u->id);
        if (u->id[0] || proc_now_ms() > deadline)
            break;
    }
    assert_true(u->id[0] != '\0' && strlen(u->id) < sizeof u->id);
    memcpy(u->key, "u:", 2);
    memcpy(u->key + 2, u->id, strlen(u->id) + 1);
}

/* auth on session i as user/device; returns from_n (0 if none). */
static uint64_t s_auth(uint32_t i, const user_ref_t *u, const char *device, int64_t resume)
{
    char json[128];
    if (resume >= 0)
        snprintf(json, sizeof json, "{\"t\":\"auth\",\"resume\":%lld}", (long long)resume);
    else
        snprintf(json, sizeof json, "{\"t\":\"auth\"}");
    msgpack_unpacked up;
    const char *t = sess_call(i, u->key, u->id, device, json, &up);
    assert_non_null(t);
    assert_string_equal(t, "ok");
    uint64_t from = sess_u64(&up.data, "from_n");
    char buf[32];
    assert_string_equal(sess_str(&up.data, "user", buf, sizeof buf), u->id);
    msgpack_unpacked_destroy(&up);
    return from;
}

static void s_conv_of(const user_ref_t *a, const user_ref_t *b, char out[48])
{
    uint64_t x = strtoull(a->id, NULL, 10), y = strtoull(b->id, NULL, 10);
    snprintf(out, 48, "d:%llu:%llu", (unsigned long long)(x < y ? x : y),
             (unsigned long long)(x < y ? y : x));
}

/* from sends text to `to` (a user or "g:<id>" conversation key given as target). */
static uint64_t s_send(uint32_t i, const user_ref_t *from, const char *device, const char *conv,
                       const char *to, const char *cmid, const char *text)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"t\":\"send\",\"to\":\"%s\",\"cmid\":\"%s\",\"kind\":\"text\",\"body\":\"%s\"}", to,
             cmid, text);
    msgpack_unpacked up;
    const char *t = sess_call(i, conv, from->id, device, json, &up);
    assert_non_null(t);
    char buf[64];
    if (strcmp(t, "ok") != 0)
        fail_msg("send failed: %s", sess_str(&up.data, "msg", buf, sizeof buf));
    uint64_t seq = sess_u64(&up.data, "seq");
    msgpack_unpacked_destroy(&up);
    return seq;
}

/* The next push to session i must be of type t; returns it unpacked in *up. */
static void s_expect(uint32_t i, const char *t, msgpack_unpacked *up)
{
    if (!sess_next(i, up, 5000))
        fail_msg("no %s push on session %u", t, i);
    char buf[32];
    sess_str(&up->data, "t", buf, sizeof buf);
    if (strcmp(buf, t) != 0)
        fail_msg("expected %s, got %s", t, buf);
}

static inline void s_no_push(uint32_t i, int ms)
{
    msgpack_unpacked up;
    bool got = sess_next(i, &up, ms);
    char buf[32] = "";
    if (got)
        sess_str(&up.data, "t", buf, sizeof buf);
    msgpack_unpacked_destroy(&up);
    if (got)
        fail_msg("unexpected %s push on session %u", buf, i);
}

static void test_direct_send_deliver_ack_receipt(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550000001", "phoneA", &a);
    s_user(1, "+15550000002", "phoneB", &b);
    char again[32];
    sess_claim(2, "+15550000001", "phoneA", again); /* the same number: the same account */
    assert_string_equal(again, a.id);
    s_auth(0, &a, "phoneA", -1);
    s_auth(1, &b, "phoneB", -1);
    char conv[48], to[40];
    s_conv_of(&a, &b, conv);
    snprintf(to, sizeof to, "u:%s", b.id);
    assert_int_equal(s_send(0, &a, "phoneA", conv, to, "c1", "hello"), 1);
    assert_int_equal(s_send(0, &a, "phoneA", conv, to, "c1", "hello"), 1); /* same cmid */
    assert_int_equal(s_send(0, &a, "phoneA", conv, to, "c2", "again"), 2);

    msgpack_unpacked up;
    char buf[64];
    s_expect(1, "msg", &up);
    assert_int_equal(sess_u64(&up.data, "n"), 1);
    assert_int_equal(sess_u64(&up.data, "seq"), 1);
    assert_string_equal(sess_str(&up.data, "from", buf, sizeof buf), a.id);
    assert_string_equal(sess_str(&up.data, "conv", buf, sizeof buf), conv);
    mp_str_t body;
    assert_int_equal(mp_get_bin(&up.data, "body", 100, &body), MP_OK);
    assert_true(mp_str_eq(body, "hello"));
    msgpack_unpacked_destroy(&up);
    s_expect(1, "msg", &up);
    assert_int_equal(sess_u64(&up.data, "n"), 2);
    msgpack_unpacked_destroy(&up);

    const char *t = sess_call(1, b.key, b.id, "phoneB", "{\"t\":\"recv.ack\",\"n\":2}", &up);
    assert_string_equal(t, "ok");
    msgpack_unpacked_destroy(&up);
    /* the sender's inbox: its own messages (for its other devices), then the receipt */
    s_expect(0, "receipt", &up);
    assert_int_equal(sess_u64(&up.data, "seq"), 2);
    assert_string_equal(sess_str(&up.data, "status", buf, sizeof buf), "delivered");
    assert_string_equal(sess_str(&up.data, "by", buf, sizeof buf), b.id);
    assert_int_equal(sess_u64(&up.data, "n"), 3); /* n 1, 2: its own messages, not pushed back */
    msgpack_unpacked_destroy(&up);

    char json[128];
    snprintf(json, sizeof json, "{\"t\":\"read\",\"conv\":\"%s\",\"seq\":2}", conv);
    t = sess_call(1, b.key, b.id, "phoneB", json, &up);
    assert_string_equal(t, "ok");
    msgpack_unpacked_destroy(&up);
    s_expect(0, "receipt", &up);
    assert_string_equal(sess_str(&up.data, "status", buf, sizeof buf), "read");
    msgpack_unpacked_destroy(&up);
}

/* A request that must fail with `code`. */
static void s_err(uint32_t i, const char *target, const user_ref_t *u, const char *device,
                  const char *json, const char *code)
{
    msgpack_unpacked up;
    const char *t = sess_call(i, target, u->id, device, json, &up);
    char buf[64], msg[128];
    assert_non_null(t);
    if (strcmp(t, "err") != 0 || strcmp(sess_str(&up.data, "code", buf, sizeof buf), code) != 0)
        fail_msg("%s: expected %s, got %s %s (%s)", json, code, t, buf,
                 sess_str(&up.data, "msg", msg, sizeof msg));
    msgpack_unpacked_destroy(&up);
}

static void s_ok(uint32_t i, const char *target, const user_ref_t *u, const char *device,
                 const char *json)
{
    msgpack_unpacked up;
    const char *t = sess_call(i, target, u->id, device, json, &up);
    char buf[128];
    if (!t || strcmp(t, "ok") != 0)
        fail_msg("%s: %s %s", json, t ? t : "(no answer)",
                 t ? sess_str(&up.data, "msg", buf, sizeof buf) : "");
    msgpack_unpacked_destroy(&up);
}

/* Expects msg pushes with n = first… and bodies "<prefix><k>" for k = from…to. */
static void s_expect_msgs(uint32_t i, uint64_t first_n, const char *prefix, int from, int to)
{
    for (int k = from; k <= to; k++, first_n++) {
        msgpack_unpacked up;
        s_expect(i, "msg", &up);
        char want[32];
        snprintf(want, sizeof want, "%s%d", prefix, k);
        mp_str_t body;
        assert_int_equal(mp_get_bin(&up.data, "body", 100, &body), MP_OK);
        if (!mp_str_eq(body, want))
            fail_msg("session %u: expected body %s, got %.*s", i, want, (int)body.len, body.ptr);
        assert_int_equal(sess_u64(&up.data, "n"), first_n);
        msgpack_unpacked_destroy(&up);
    }
}

static void test_offline_resume_multi_device(void **state)
{
    (void)state;
    user_ref_t a, b, b2;
    s_user(0, "+15550000011", "a1", &a);
    s_user(1, "+15550000012", "b1", &b);
    s_user(2, "+15550000012", "b2", &b2);
    assert_string_equal(b.id, b2.id);
    s_auth(0, &a, "a1", -1);
    char conv[48], to[40], cmid[16], text[16];
    s_conv_of(&a, &b, conv);
    snprintf(to, sizeof to, "u:%s", b.id);
    for (int k = 1; k <= 5; k++) { /* b is offline */
        snprintf(cmid, sizeof cmid, "m%d", k);
        snprintf(text, sizeof text, "t%d", k);
        assert_int_equal(s_send(0, &a, "a1", conv, to, cmid, text), (uint64_t)k);
    }
    s_auth(1, &b, "b1", -1);
    s_expect_msgs(1, 1, "t", 1, 5);
    s_ok(1, b.key, &b, "b1", "{\"t\":\"recv.ack\",\"n\":3}");
    s_auth(2, &b, "b2", -1); /* its own cursor: everything */
    s_expect_msgs(2, 1, "t", 1, 5);
    s_auth(3, &b, "b1", -1); /* b1 reconnects: after its ack */
    s_expect_msgs(3, 4, "t", 4, 5);
    s_auth(4, &b, "b1", 5); /* resume acts as an ack */
    s_no_push(4, 300);
    s_err(5, b.key, &b, "b1", "{\"t\":\"auth\",\"resume\":99}", "bad_request");
    s_err(5, b.key, &b, "b9", "{\"t\":\"auth\"}", "unauthorized");
    /* b writes from b1: its other device gets it, b1 does not, a does */
    snprintf(to, sizeof to, "u:%s", a.id);
    assert_int_equal(s_send(4, &b, "b1", conv, to, "x1", "back"), 6);
    msgpack_unpacked up;
    char buf[32];
    s_expect(2, "msg", &up);
    assert_string_equal(sess_str(&up.data, "from", buf, sizeof buf), b.id);
    assert_string_equal(sess_str(&up.data, "device", buf, sizeof buf), "b1");
    assert_int_equal(sess_u64(&up.data, "n"), 6);
    msgpack_unpacked_destroy(&up);
    s_no_push(4, 300);
    s_expect(0, "msg", &up);
    assert_int_equal(sess_u64(&up.data, "seq"), 6);
    msgpack_unpacked_destroy(&up);
}

static void test_history_and_restart(void **state)
{
    (void)state;
    user_ref_t a, b, c;
    s_user(0, "+15550000021", "a1", &a);
    s_user(1, "+15550000022", "b1", &b);
    s_user(2, "+15550000023", "c1", &c);
    char conv[48], to[40], cmid[16], text[16], json[160];
    s_conv_of(&a, &b, conv);
    snprintf(to, sizeof to, "u:%s", b.id);
    for (int k = 1; k <= 30; k++) {
        snprintf(cmid, sizeof cmid, "h%d", k);
        snprintf(text, sizeof text, "h%d", k);
        s_send(0, &a, "a1", conv, to, cmid, text);
    }
    msgpack_unpacked up;
    snprintf(json, sizeof json, "{\"t\":\"history\",\"conv\":\"%s\",\"limit\":10}", conv);
    assert_string_equal(sess_call(1, conv, b.id, "b1", json, &up), "ok");
    const msgpack_object *msgs;
    assert_int_equal(mp_get_array(&up.data, "msgs", &msgs), MP_OK);
    assert_int_equal(msgs->via.array.size, 10);
    assert_int_equal(sess_u64(&msgs->via.array.ptr[0], "seq"), 30); /* newest first */
    assert_int_equal(sess_u64(&msgs->via.array.ptr[9], "seq"), 21);
    assert_null(mp_get(&msgs->via.array.ptr[0], "n"));
    msgpack_unpacked_destroy(&up);
    snprintf(json, sizeof json, "{\"t\":\"history\",\"conv\":\"%s\",\"before\":21,\"limit\":100}",
             conv);
    assert_string_equal(sess_call(1, conv, b.id, "b1", json, &up), "ok");
    assert_int_equal(mp_get_array(&up.data, "msgs", &msgs), MP_OK);
    assert_int_equal(msgs->via.array.size, 20);
    assert_int_equal(sess_u64(&msgs->via.array.ptr[19], "seq"), 1);
    msgpack_unpacked_destroy(&up);
    s_err(2, conv, &c, "c1", json, "forbidden"); /* not one of the two */
    snprintf(json, sizeof json, "{\"t\":\"history\",\"conv\":\"%s\",\"limit\":101}", conv);
    s_err(1, conv, &b, "b1", json, "bad_request");

    /* everything survives a restart: the next seq, the dedupe entries, the inbox */
    mw_close();
    mw_open(false);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "h30", "h30"), 30); /* same cmid */
    assert_int_equal(s_send(0, &a, "a1", conv, to, "h31", "h31"), 31);
    s_auth(1, &b, "b1", -1);
    s_expect_msgs(1, 1, "h", 1, 31);
}

static void test_block(void **state)
{
    (void)state;
    user_ref_t a, a2, b;
    s_user(0, "+15550000031", "a1", &a);
    s_user(1, "+15550000031", "a2", &a2);
    s_user(2, "+15550000032", "b1", &b);
    s_auth(1, &a, "a2", -1);
    s_auth(2, &b, "b1", -1);
    char conv[48], to[40], json[128];
    s_conv_of(&a, &b, conv);
    snprintf(to, sizeof to, "u:%s", b.id);
    snprintf(json, sizeof json, "{\"t\":\"block\",\"user\":\"%s\"}", a.id);
    s_ok(2, b.key, &b, "b1", json);
    assert_int_equal(s_send(0, &a, "a1", conv, to, "k1", "blocked"), 1); /* ok as usual */
    msgpack_unpacked up;
    s_expect(1, "msg", &up); /* the sender's other device has it */
    msgpack_unpacked_destroy(&up);
    s_no_push(2, 500); /* the blocker never gets it */
    assert_string_equal(sess_call(2, b.key, b.id, "b1", "{\"t\":\"contacts.list\"}", &up), "ok");
    const msgpack_object *list;
    assert_int_equal(mp_get_array(&up.data, "contacts", &list), MP_OK);
    assert_int_equal(list->via.array.size, 1);
    bool blocked = false;
    assert_int_equal(mp_get_bool(&list->via.array.ptr[0], "blocked", &blocked), MP_OK);
    assert_true(blocked);
    msgpack_unpacked_destroy(&up);
    snprintf(json, sizeof json, "{\"t\":\"unblock\",\"user\":\"%s\"}", a.id);
    s_ok(2, b.key, &b, "b1", json);
    s_send(0, &a, "a1", conv, to, "k2", "visible");
    s_expect(2, "msg", &up);
    assert_int_equal(sess_u64(&up.data, "seq"), 2);
    assert_int_equal(sess_u64(&up.data, "n"), 1);
    msgpack_unpacked_destroy(&up);
    snprintf(json, sizeof json, "{\"t\":\"block\",\"user\":\"%s\"}", b.id);
    s_err(2, b.key, &b, "b1", json, "bad_request"); /* yourself */
    s_err(2, b.key, &b, "b1", "{\"t\":\"block\",\"user\":\"999999\"}", "not_found");
}

static void test_groups(void **state)
{
    (void)state;
    user_ref_t a, b, c;
    s_user(0, "+15550000041", "a1", &a);
    s_user(1, "+15550000042", "b1", &b);
    s_user(2, "+15550000043", "c1", &c);
    for (uint32_t i = 0; i < 3; i++)
        s_auth(i, i == 0 ? &a : i == 1 ? &b : &c, i == 0 ? "a1" : i == 1 ? "b1" : "c1", -1);
    char json[256], gid[32], gid2[32], gconv[40], gto[40], buf[64];
    snprintf(
        json, sizeof json,
        "{\"t\":\"group.create\",\"name\":\"team\",\"members\":[\"%s\",\"%s\"],\"cmid\":\"g1\"}",
        b.id, c.id);
    msgpack_unpacked up;
    assert_string_equal(sess_call(0, a.key, a.id, "a1", json, &up), "ok");
    sess_str(&up.data, "group", gid, sizeof gid);
    msgpack_unpacked_destroy(&up);
    assert_string_equal(sess_call(0, a.key, a.id, "a1", json, &up), "ok"); /* same cmid */
    assert_string_equal(sess_str(&up.data, "group", gid2, sizeof gid2), gid);
    msgpack_unpacked_destroy(&up);
    snprintf(gconv, sizeof gconv, "g:%s", gid);
    snprintf(gto, sizeof gto, "g:%s", gid);
    for (uint32_t i = 0; i < 3; i++) {
        s_expect(i, "group.event", &up);
        assert_string_equal(sess_str(&up.data, "event", buf, sizeof buf), "created");
        assert_string_equal(sess_str(&up.data, "group", buf, sizeof buf), gid);
        msgpack_unpacked_destroy(&up);
    }
    assert_int_equal(s_send(0, &a, "a1", gconv, gto, "gm1", "hi all"), 2);
    for (uint32_t i = 1; i < 3; i++) {
        s_expect(i, "msg", &up);
        assert_string_equal(sess_str(&up.data, "conv", buf, sizeof buf), gconv);
        msgpack_unpacked_destroy(&up);
    }
    s_no_push(0, 200);
    snprintf(json, sizeof json, "{\"t\":\"group.add\",\"group\":\"%s\",\"users\":[\"%s\"]}", gid,
             a.id);
    s_err(1, gconv, &b, "b1", json, "forbidden"); /* not an admin */
    snprintf(json, sizeof json, "{\"t\":\"group.remove\",\"group\":\"%s\",\"users\":[\"%s\"]}", gid,
             c.id);
    s_ok(0, gconv, &a, "a1", json);
    for (uint32_t i = 0; i < 3; i++) {
        s_expect(i, "group.event", &up);
        assert_string_equal(sess_str(&up.data, "event", buf, sizeof buf), "removed");
        msgpack_unpacked_destroy(&up);
    }
    s_send(1, &b, "b1", gconv, gto, "gm2", "without c");
    s_expect(0, "msg", &up);
    msgpack_unpacked_destroy(&up);
    s_no_push(2, 300); /* a removed member receives nothing later */
    snprintf(json, sizeof json, "{\"t\":\"history\",\"conv\":\"%s\",\"limit\":10}", gconv);
    s_err(2, gconv, &c, "c1", json, "forbidden");
    snprintf(json, sizeof json,
             "{\"t\":\"send\",\"to\":\"%s\",\"cmid\":\"x\",\"kind\":\"text\",\"body\":\"no\"}",
             gto);
    s_err(2, gconv, &c, "c1", json, "forbidden");
    snprintf(json, sizeof json, "{\"t\":\"group.info\",\"group\":\"%s\"}", gid);
    assert_string_equal(sess_call(1, gconv, b.id, "b1", json, &up), "ok");
    const msgpack_object *members, *admins;
    assert_int_equal(mp_get_array(&up.data, "members", &members), MP_OK);
    assert_int_equal(mp_get_array(&up.data, "admins", &admins), MP_OK);
    assert_int_equal(members->via.array.size, 2);
    assert_int_equal(admins->via.array.size, 1);
    assert_int_equal(sess_u64(&up.data, "max_members"), 256);
    msgpack_unpacked_destroy(&up);
    /* the last admin leaves: the oldest member is promoted */
    snprintf(json, sizeof json, "{\"t\":\"group.leave\",\"group\":\"%s\"}", gid);
    s_ok(0, gconv, &a, "a1", json);
    s_expect(1, "group.event", &up);
    assert_string_equal(sess_str(&up.data, "event", buf, sizeof buf), "left");
    msgpack_unpacked_destroy(&up);
    s_expect(1, "group.event", &up);
    assert_string_equal(sess_str(&up.data, "event", buf, sizeof buf), "promoted");
    msgpack_unpacked_destroy(&up);
    snprintf(json, sizeof json, "{\"t\":\"group.info\",\"group\":\"%s\"}", gid);
    s_err(0, gconv, &a, "a1", json, "forbidden");
    s_err(0, "g:123456789", &a, "a1", "{\"t\":\"group.info\",\"group\":\"123456789\"}",
          "forbidden"); /* no such group: the same answer */
    snprintf(json, sizeof json, "{\"t\":\"group.rename\",\"group\":\"%s\",\"name\":\"renamed\"}",
             gid);
    s_ok(1, gconv, &b, "b1", json);
    s_expect(1, "group.event", &up);
    assert_string_equal(sess_str(&up.data, "event", buf, sizeof buf), "renamed");
    msgpack_unpacked_destroy(&up);
}

static void test_typing_presence_privacy(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550000051", "a1", &a);
    s_user(1, "+15550000052", "b1", &b);
    s_auth(0, &a, "a1", -1);
    s_auth(1, &b, "b1", -1);
    char json[160], conv[48], buf[32];
    s_conv_of(&a, &b, conv);
    snprintf(json, sizeof json, "{\"t\":\"presence.sub\",\"users\":[\"%s\"]}", b.id);
    s_ok(0, a.key, &a, "a1", json);
    msgpack_unpacked up;
    s_expect(0, "presence", &up);
    assert_string_equal(sess_str(&up.data, "status", buf, sizeof buf), "online");
    msgpack_unpacked_destroy(&up);
    snprintf(json, sizeof json, "{\"t\":\"typing\",\"conv\":\"%s\",\"on\":true}", conv);
    s_ok(1, conv, &b, "b1", json);
    s_expect(0, "typing", &up);
    bool on = false;
    assert_int_equal(mp_get_bool(&up.data, "on", &on), MP_OK);
    assert_true(on);
    assert_string_equal(sess_str(&up.data, "user", buf, sizeof buf), b.id);
    msgpack_unpacked_destroy(&up);
    s_no_push(1, 200);             /* not to the typist */
    if (!sess_next(0, &up, 12000)) /* on by itself ends after 10 s */
        fail_msg("typing did not turn itself off");
    assert_string_equal(sess_str(&up.data, "t", buf, sizeof buf), "typing");
    assert_int_equal(mp_get_bool(&up.data, "on", &on), MP_OK);
    assert_false(on);
    msgpack_unpacked_destroy(&up);
    /* b's connection ends: offline with last_seen */
    char key[ROOST_KEY_BYTES_MAX + 1];
    sess_key(1, key);
    mp_buf_t m;
    mp_buf_init(&m);
    msgpack_pack_array(&m.pk, 2);
    mp_pack_str(&m.pk, "b1");
    mp_pack_str(&m.pk, key);
    roost_node_send(MW->node, roost_env_new(b.key, key, MSG_SESSION_CLOSE, m.sb.data, m.sb.size));
    mp_buf_fini(&m);
    s_expect(0, "presence", &up);
    assert_string_equal(sess_str(&up.data, "status", buf, sizeof buf), "offline");
    assert_true(sess_u64(&up.data, "last_seen") > 0);
    msgpack_unpacked_destroy(&up);
    /* privacy: nobody sees b's presence any more */
    s_ok(1, b.key, &b, "b1", "{\"t\":\"privacy.set\",\"last_seen\":\"nobody\"}");
    s_err(1, b.key, &b, "b1", "{\"t\":\"privacy.set\",\"last_seen\":\"friends\"}", "bad_request");
    s_auth(2, &b, "b1", -1);
    s_auth(3, &a, "a1", -1);
    snprintf(json, sizeof json, "{\"t\":\"presence.sub\",\"users\":[\"%s\"]}", b.id);
    s_ok(3, a.key, &a, "a1", json);
    s_no_push(3, 300);
}

static void test_errors(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550000061", "a1", &a);
    s_user(1, "+15550000062", "b1", &b);
    char conv[48], json[256];
    s_conv_of(&a, &b, conv);
    s_err(0, conv, &a, "a1", "{\"t\":\"send\",\"to\":\"u:1\",\"kind\":\"text\",\"body\":\"x\"}",
          "bad_request"); /* no cmid */
    snprintf(json, sizeof json,
             "{\"t\":\"send\",\"to\":\"u:%s\",\"cmid\":\"c\",\"kind\":\"gif\",\"body\":\"x\"}",
             b.id);
    s_err(0, conv, &a, "a1", json, "bad_request");
    snprintf(json, sizeof json, "{\"t\":\"send\",\"to\":\"u:%s\",\"cmid\":\"c\",\"kind\":\"text\"}",
             b.id);
    s_err(0, conv, &a, "a1", json, "bad_request"); /* neither body nor bodies */
    char *big = malloc(70000 + 200);
    int n = snprintf(big, 200,
                     "{\"t\":\"send\",\"to\":\"u:%s\",\"cmid\":\"c\",\"kind\":\"text\",\"body\":\"",
                     b.id);
    memset(big + n, 'x', 66000);
    strcpy(big + n + 66000, "\"}");
    s_err(0, conv, &a, "a1", big, "too_large");
    free(big);
    s_err(0, "d:1:999999", &a, "a1",
          "{\"t\":\"send\",\"to\":\"u:999999\",\"cmid\":\"c\",\"kind\":\"text\",\"body\":\"x\"}",
          "forbidden"); /* a is not one of d:1:999999 */
    char nconv[48];
    user_ref_t ghost = {.id = "999998", .key = "u:999998"};
    s_conv_of(&a, &ghost, nconv);
    s_err(0, nconv, &a, "a1",
          "{\"t\":\"send\",\"to\":\"u:999998\",\"cmid\":\"c\",\"kind\":\"text\",\"body\":\"x\"}",
          "not_found");
    s_err(0, a.key, &a, "a1", "{\"t\":\"no.such\"}", "bad_request");
    s_err(0, a.key, &a, "a1", "{\"t\":\"recv.ack\",\"n\":5}", "bad_request"); /* above head */
    s_err(0, a.key, &a, "a1", "{\"t\":\"recv.ack\"}", "bad_request");
    s_err(0, a.key, &a, "a1", "{\"t\":\"profile.set\",\"display_name\":5}", "bad_request");
    s_ok(0, a.key, &a, "a1", "{\"t\":\"profile.set\",\"display_name\":\"Ann\"}");
    s_err(0, "u:999997", &a, "a1", "{\"t\":\"keys.get\",\"user\":\"999997\"}", "not_found");
    s_err(0, a.key, &a, "a1", "{\"t\":\"contacts.add\",\"user\":\"999997\",\"name\":\"x\"}",
          "not_found");
    snprintf(json, sizeof json, "{\"t\":\"read\",\"conv\":\"%s\",\"seq\":9}", conv);
    s_err(0, a.key, &a, "a1", json, "not_found");
    s_ok(0, a.key, &a, "a1", "{\"t\":\"account.delete\"}");
    s_err(0, a.key, &a, "a1", "{\"t\":\"auth\"}", "unauthorized");
    char again[32];
    sess_claim(1, "+15550000061", "a1", again); /* the number gets a new account */
    assert_true(again[0] && strcmp(again, a.id) != 0);
}

static void test_retention_expired(void **state)
{
    (void)state;
    mw_set_retention_count(3);
    user_ref_t a, b;
    s_user(0, "+15550000071", "a1", &a);
    s_user(1, "+15550000072", "b1", &b);
    s_auth(0, &a, "a1", -1);
    char conv[48], to[40], cmid[16], text[16];
    s_conv_of(&a, &b, conv);
    snprintf(to, sizeof to, "u:%s", b.id);
    for (int k = 1; k <= 6; k++) {
        snprintf(cmid, sizeof cmid, "r%d", k);
        snprintf(text, sizeof text, "r%d", k);
        s_send(0, &a, "a1", conv, to, cmid, text);
    }
    /* b's device lags by 6 > 3: the oldest three are dropped, a hears they expired */
    msgpack_unpacked up;
    for (int k = 1; k <= 3; k++) {
        s_expect(0, "expired", &up);
        char buf[32];
        assert_string_equal(sess_str(&up.data, "user", buf, sizeof buf), b.id);
        assert_int_equal(sess_u64(&up.data, "seq"), (uint64_t)k);
        msgpack_unpacked_destroy(&up);
    }
    s_no_push(0, 1000);                           /* each told once */
    assert_int_equal(s_auth(1, &b, "b1", -1), 4); /* from_n: the first still held */
    s_expect_msgs(1, 4, "r", 4, 6);
}

/* Waits until the store has been quiet (no new appends) for quiet_ms; returns the count. */
static uint64_t s_settled_appends(int quiet_ms)
{
    uint64_t last = mw_appends();
    for (int still = 0; still < quiet_ms; still += 50) {
        proc_sleep_ms(50);
        uint64_t now = mw_appends();
        if (now != last)
            still = 0, last = now;
    }
    return last;
}

static void test_group_256_fanout_and_receipts(void **state)
{
    (void)state;
    enum { M = 256 };
    static user_ref_t u[M];
    char phone[32], dev[16];
    for (int k = 0; k < M; k++) {
        snprintf(phone, sizeof phone, "+1556%07d", k);
        snprintf(dev, sizeof dev, "d%d", k);
        s_user(0, phone, dev, &u[k]);
    }
    size_t cap = 64 + (size_t)M * 20;
    char *json = malloc(cap);
    int n = snprintf(json, cap, "{\"t\":\"group.create\",\"name\":\"all\",\"members\":[");
    for (int k = 1; k < M; k++)
        n += snprintf(json + n, cap - (size_t)n, "%s\"%s\"", k > 1 ? "," : "", u[k].id);
    snprintf(json + n, cap - (size_t)n, "]}");
    msgpack_unpacked up;
    char gid[32], gconv[40];
    assert_string_equal(sess_call(0, u[0].key, u[0].id, "d0", json, &up), "ok");
    sess_str(&up.data, "group", gid, sizeof gid);
    msgpack_unpacked_destroy(&up);
    free(json);
    snprintf(gconv, sizeof gconv, "g:%s", gid);
    uint64_t before = s_settled_appends(300);
    assert_int_equal(s_send(0, &u[0], "d0", gconv, gconv, "big", "to everyone"), 2);
    uint64_t after = s_settled_appends(300);
    if (after) { /* counted where the store is in this process */
        fprintf(stderr, "one message to a group of %d: %llu replicated writes\n", M,
                (unsigned long long)(after - before));
        assert_true(after - before <= M + 2); /* the message's batch, then one per inbox */
    }
    /* every member has it (after the group's creation event), and acknowledges it */
    for (int k = 1; k < M; k++) {
        char d[16];
        snprintf(d, sizeof d, "d%d", k);
        uint32_t sess = 1 + (uint32_t)(k % 8);
        s_auth(sess, &u[k], d, -1);
        s_expect(sess, "group.event", &up);
        msgpack_unpacked_destroy(&up);
        s_expect(sess, "msg", &up);
        assert_int_equal(sess_u64(&up.data, "n"), 2);
        msgpack_unpacked_destroy(&up);
        s_ok(sess, u[k].key, &u[k], d, "{\"t\":\"recv.ack\",\"n\":2}");
        sess_drain(sess);
    }
    /* the sender hears from each of them: one delivered receipt per reader */
    s_auth(9, &u[0], "d0", 1);
    int receipts = 0;
    while (receipts < M - 1) {
        s_expect(9, "receipt", &up);
        assert_int_equal(sess_u64(&up.data, "seq"), 2);
        msgpack_unpacked_destroy(&up);
        receipts++;
    }
    s_no_push(9, 1500); /* coalesced: no more than one per reader */
}

static void test_bodies_per_device(void **state)
{
    (void)state;
    user_ref_t a, a2, b, b2;
    s_user(0, "+15550000081", "a1", &a);
    s_user(1, "+15550000081", "a2", &a2);
    s_user(2, "+15550000082", "b1", &b);
    s_user(3, "+15550000082", "b2", &b2);
    s_auth(1, &a, "a2", -1);
    s_auth(2, &b, "b1", -1);
    s_auth(3, &b, "b2", -1);
    char conv[48], json[512], buf[32];
    s_conv_of(&a, &b, conv);
    snprintf(
        json, sizeof json,
        "{\"t\":\"send\",\"to\":\"u:%s\",\"cmid\":\"e1\",\"kind\":\"text\",\"meta\":{\"enc\":"
        "\"signal\"},\"bodies\":{\"%s:b1\":\"for-b1\",\"%s:b2\":\"for-b2\",\"%s:a2\":\"for-a2\"}}",
        b.id, b.id, b.id, a.id);
    s_ok(0, conv, &a, "a1", json);
    const char *want[] = {NULL, "for-a2", "for-b1", "for-b2"};
    for (uint32_t i = 1; i <= 3; i++) {
        msgpack_unpacked up;
        s_expect(i, "msg", &up);
        mp_str_t body;
        assert_int_equal(mp_get_bin(&up.data, "body", 100, &body), MP_OK);
        assert_true(mp_str_eq(body, want[i]));
        const msgpack_object *meta;
        assert_int_equal(mp_get_map(&up.data, "meta", &meta), MP_OK);
        assert_string_equal(sess_str(meta, "enc", buf, sizeof buf), "signal");
        msgpack_unpacked_destroy(&up);
    }
    /* one device missing: conflict, with the current list */
    snprintf(json, sizeof json,
             "{\"t\":\"send\",\"to\":\"u:%s\",\"cmid\":\"e2\",\"kind\":\"text\","
             "\"bodies\":{\"%s:b1\":\"x\",\"%s:a2\":\"y\"}}",
             b.id, b.id, a.id);
    msgpack_unpacked up;
    assert_string_equal(sess_call(0, conv, a.id, "a1", json, &up), "err");
    assert_string_equal(sess_str(&up.data, "code", buf, sizeof buf), "conflict");
    const msgpack_object *devices;
    assert_int_equal(mp_get_array(&up.data, "devices", &devices), MP_OK);
    assert_int_equal(devices->via.array.size, 3);
    msgpack_unpacked_destroy(&up);
    /* b adds a device: the map that was right is not any more */
    user_ref_t b3;
    s_user(4, "+15550000082", "b3", &b3);
    snprintf(json, sizeof json,
             "{\"t\":\"send\",\"to\":\"u:%s\",\"cmid\":\"e3\",\"kind\":\"text\","
             "\"bodies\":{\"%s:b1\":\"x\",\"%s:b2\":\"x\",\"%s:a2\":\"y\"}}",
             b.id, b.id, b.id, a.id);
    s_err(0, conv, &a, "a1", json, "conflict");
}

/* ---- prekeys: real keys and XEdDSA signatures made with libsignal-protocol-c ------------- */

/* A crypto provider over libsodium: what key generation and XEdDSA signing need (random
 * bytes, SHA-512); the ciphers are not used here. */
static int s_random(uint8_t *data, size_t len, void *user)
{
    (void)user;
    randombytes_buf(data, len);
    return 0;
}

static int s_hmac_init(void **c, const uint8_t *key, size_t klen, void *user)
{
    (void)user;
    *c = malloc(sizeof(crypto_auth_hmacsha256_state));
    return crypto_auth_hmacsha256_init(*c, key, klen);
}

static int s_hmac_update(void *c, const uint8_t *d, size_t len, void *user)
{
    (void)user;
    return crypto_auth_hmacsha256_update(c, d, len);
}

static int s_hmac_final(void *c, signal_buffer **out, void *user)
{
    (void)user;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final(c, mac);
    *out = signal_buffer_create(mac, sizeof mac);
    return 0;
}

static int s_sha_init(void **c, void *user)
{
    (void)user;
    *c = malloc(sizeof(crypto_hash_sha512_state));
    return crypto_hash_sha512_init(*c);
}

static int s_sha_update(void *c, const uint8_t *d, size_t len, void *user)
{
    (void)user;
    return crypto_hash_sha512_update(c, d, len);
}

static int s_sha_final(void *c, signal_buffer **out, void *user)
{
    (void)user;
    uint8_t h[crypto_hash_sha512_BYTES];
    crypto_hash_sha512_final(c, h);
    crypto_hash_sha512_init(c); /* the library reuses a digest context */
    *out = signal_buffer_create(h, sizeof h);
    return 0;
}

static void s_cleanup(void *c, void *user)
{
    (void)user;
    free(c);
}

static int s_no_cipher(signal_buffer **out, int cipher, const uint8_t *key, size_t klen,
                       const uint8_t *iv, size_t ivlen, const uint8_t *in, size_t inlen, void *user)
{
    (void)out, (void)cipher, (void)key, (void)klen, (void)iv, (void)ivlen, (void)in, (void)inlen,
        (void)user;
    return -1;
}

typedef struct {
    signal_context *sc;
    ec_key_pair *identity, *spk, *pre[2];
} keys_t;

static void s_b64(signal_buffer *b, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, signal_buffer_data(b), signal_buffer_len(b),
                      sodium_base64_VARIANT_ORIGINAL);
}

static void s_pub_b64(const ec_key_pair *k, char *out, size_t cap)
{
    signal_buffer *b = NULL;
    assert_int_equal(ec_public_key_serialize(&b, ec_key_pair_get_public(k)), 0);
    s_b64(b, out, cap);
    signal_buffer_free(b);
}

static void test_prekeys(void **state)
{
    (void)state;
    keys_t k = {0};
    signal_crypto_provider cp = {.random_func = s_random,
                                 .hmac_sha256_init_func = s_hmac_init,
                                 .hmac_sha256_update_func = s_hmac_update,
                                 .hmac_sha256_final_func = s_hmac_final,
                                 .hmac_sha256_cleanup_func = s_cleanup,
                                 .sha512_digest_init_func = s_sha_init,
                                 .sha512_digest_update_func = s_sha_update,
                                 .sha512_digest_final_func = s_sha_final,
                                 .sha512_digest_cleanup_func = s_cleanup,
                                 .encrypt_func = s_no_cipher,
                                 .decrypt_func = s_no_cipher};
    assert_int_equal(signal_context_create(&k.sc, NULL), 0);
    assert_int_equal(signal_context_set_crypto_provider(k.sc, &cp), 0);
    assert_int_equal(curve_generate_key_pair(k.sc, &k.identity), 0);
    assert_int_equal(curve_generate_key_pair(k.sc, &k.spk), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(curve_generate_key_pair(k.sc, &k.pre[i]), 0);
    signal_buffer *spk_pub = NULL, *sig = NULL;
    ec_public_key_serialize(&spk_pub, ec_key_pair_get_public(k.spk));
    assert_int_equal(curve_calculate_signature(k.sc, &sig, ec_key_pair_get_private(k.identity),
                                               signal_buffer_data(spk_pub),
                                               signal_buffer_len(spk_pub)),
                     0);
    char id_b64[64], spk_b64[64], sig_b64[128], p1[64], p2[64];
    s_pub_b64(k.identity, id_b64, sizeof id_b64);
    s_pub_b64(k.spk, spk_b64, sizeof spk_b64);
    s_b64(sig, sig_b64, sizeof sig_b64);
    s_pub_b64(k.pre[0], p1, sizeof p1);
    s_pub_b64(k.pre[1], p2, sizeof p2);

    user_ref_t a, b;
    s_user(0, "+15550000091", "a1", &a);
    s_user(1, "+15550000092", "b1", &b);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"t\":\"keys.put\",\"registration_id\":77,\"identity\":\"b64:%s\","
             "\"signed_prekey\":{\"id\":1,\"key\":\"b64:%s\",\"sig\":\"b64:%s\"},"
             "\"prekeys\":[{\"id\":1,\"key\":\"b64:%s\"},{\"id\":2,\"key\":\"b64:%s\"}]}",
             id_b64, spk_b64, sig_b64, p1, p2);
    s_ok(0, a.key, &a, "a1", json);
    /* a signature by another key is refused */
    char bad[1024];
    snprintf(bad, sizeof bad,
             "{\"t\":\"keys.put\",\"registration_id\":77,\"identity\":\"b64:%s\","
             "\"signed_prekey\":{\"id\":1,\"key\":\"b64:%s\",\"sig\":\"b64:%s\"}}",
             spk_b64, spk_b64, sig_b64);
    s_err(0, a.key, &a, "a1", bad, "bad_request");
    snprintf(bad, sizeof bad, "{\"t\":\"keys.put\",\"registration_id\":77,\"identity\":\"short\"}");
    s_err(0, a.key, &a, "a1", bad, "bad_request");
    /* each one-time prekey is handed out once */
    snprintf(json, sizeof json, "{\"t\":\"keys.get\",\"user\":\"%s\"}", a.id);
    for (uint64_t want = 1; want <= 3; want++) {
        msgpack_unpacked up;
        assert_string_equal(sess_call(1, a.key, b.id, "b1", json, &up), "ok");
        const msgpack_object *bundles, *pre, *spk;
        assert_int_equal(mp_get_array(&up.data, "bundles", &bundles), MP_OK);
        assert_int_equal(bundles->via.array.size, 1);
        const msgpack_object *bd = &bundles->via.array.ptr[0];
        char buf[32];
        assert_string_equal(sess_str(bd, "device", buf, sizeof buf), "a1");
        assert_int_equal(sess_u64(bd, "registration_id"), 77);
        mp_str_t ident;
        assert_int_equal(mp_get_bin(bd, "identity", 64, &ident), MP_OK);
        assert_int_equal(ident.len, 33);
        assert_int_equal(mp_get_map(bd, "signed_prekey", &spk), MP_OK);
        if (want <= 2) {
            assert_int_equal(mp_get_map(bd, "prekey", &pre), MP_OK);
            assert_int_equal(sess_u64(pre, "id"), want);
        } else {
            assert_null(mp_get(bd, "prekey")); /* none left */
        }
        msgpack_unpacked_destroy(&up);
    }
    signal_buffer_free(spk_pub);
    signal_buffer_free(sig);
    SIGNAL_UNREF(k.identity);
    SIGNAL_UNREF(k.spk);
    SIGNAL_UNREF(k.pre[0]);
    SIGNAL_UNREF(k.pre[1]);
    signal_context_destroy(k.sc);
    /* reports land with the reported user */
    snprintf(json, sizeof json, "{\"t\":\"report\",\"user\":\"%s\",\"reason\":\"spam\"}", a.id);
    s_ok(1, a.key, &b, "b1", json);
    snprintf(json, sizeof json, "{\"t\":\"report\",\"user\":\"%s\"}", a.id);
    s_err(1, a.key, &b, "b1", json, "bad_request");
}

/* ---- accounts: one-time codes and refresh tokens ---------------------------------------- */

/* A raw request's answer: status (0 or an error) and the first string of an array answer. */
static int s_raw(uint32_t sess, const char *target, uint32_t type, const mp_buf_t *b, char *first,
                 size_t cap, uint64_t *second)
{
    sess_item_t *it = sess_raw(sess, target, type, b->sb.data, b->sb.size);
    assert_non_null(it);
    int status = it->status;
    if (first)
        first[0] = '\0';
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (status == 0 && it->len && mp_parse(&up, it->data, it->len) &&
        up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size >= 1) {
        mp_str_t s;
        if (first && mp_as_str(&up.data.via.array.ptr[0], &s))
            mp_str_copy(s, first, cap);
        if (second && up.data.via.array.size >= 2)
            mp_as_u64(&up.data.via.array.ptr[1], second);
    }
    msgpack_unpacked_destroy(&up);
    free(it);
    return status;
}

static int s_otp_request(const char *phone, char code[8])
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 0);
    char target[32];
    snprintf(target, sizeof target, "p:%s", phone);
    int rc = s_raw(0, target, MSG_OTP_REQUEST, &b, code, 8, NULL);
    mp_buf_fini(&b);
    return rc;
}

/* The user id on success ("" and the status otherwise). */
static int s_otp_verify(const char *phone, const char *code, const char *device, char user[32])
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 2);
    mp_pack_str(&b.pk, code);
    mp_pack_str(&b.pk, device);
    char target[32];
    snprintf(target, sizeof target, "p:%s", phone);
    sess_item_t *it = sess_raw(0, target, MSG_OTP_VERIFY, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
    assert_non_null(it);
    int status = it->status;
    user[0] = '\0';
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (status == 0 && mp_parse(&up, it->data, it->len))
        sess_str(&up.data, "user", user, 32);
    msgpack_unpacked_destroy(&up);
    free(it);
    return status;
}

static void test_one_time_codes(void **state)
{
    (void)state;
    const char *phone = "+15550000101";
    char code[8], user[32], wrong[8];
    assert_int_equal(s_otp_request(phone, code), 0);
    assert_int_equal(strlen(code), 6);
    snprintf(wrong, sizeof wrong, "%06d", (atoi(code) + 1) % 1000000);
    assert_int_equal(s_otp_verify(phone, wrong, "d1", user), ROOST_EACCES);
    assert_int_equal(s_otp_verify(phone, code, "d1", user), 0);
    assert_true(user[0] != '\0');
    assert_int_equal(s_otp_verify(phone, code, "d1", user), ROOST_EACCES); /* used once */
    /* five wrong tries void the code */
    assert_int_equal(s_otp_request(phone, code), 0);
    snprintf(wrong, sizeof wrong, "%06d", (atoi(code) + 1) % 1000000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_otp_verify(phone, wrong, "d2", user), ROOST_EACCES);
    assert_int_equal(s_otp_verify(phone, code, "d2", user), ROOST_EACCES);
    /* three codes an hour per number */
    assert_int_equal(s_otp_request(phone, code), 0);
    assert_int_equal(s_otp_request(phone, code), ROOST_ELIMIT);
    /* the same number verified again: the same account, another device */
    char first[32];
    assert_int_equal(s_otp_request("+15550000102", code), 0);
    assert_int_equal(s_otp_verify("+15550000102", code, "x1", first), 0);
    assert_int_equal(s_otp_request("+15550000102", code), 0);
    assert_int_equal(s_otp_verify("+15550000102", code, "x2", user), 0);
    assert_string_equal(user, first);
}

static int s_token(uint32_t type, const user_ref_t *u, const char *device, const char *token,
                   char out[200], uint64_t *gen)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, token ? 2 : 1);
    mp_pack_str(&b.pk, device);
    if (token)
        mp_pack_str(&b.pk, token);
    int rc = s_raw(0, u->key, type, &b, out, 200, gen);
    mp_buf_fini(&b);
    return rc;
}

static int s_check_gen(const user_ref_t *u, const char *device, uint64_t gen)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 2);
    mp_pack_str(&b.pk, device);
    msgpack_pack_uint64(&b.pk, gen);
    int rc = s_raw(0, u->key, MSG_TOKEN_CHECK, &b, NULL, 0, NULL);
    mp_buf_fini(&b);
    return rc;
}

static void test_refresh_tokens(void **state)
{
    (void)state;
    user_ref_t a;
    s_user(0, "+15550000111", "a1", &a);
    char t1[200], t2[200], t3[200];
    uint64_t g1 = 0, g2 = 0, g3 = 0;
    assert_int_equal(s_token(MSG_TOKEN_ISSUE, &a, "a1", NULL, t1, &g1), 0);
    assert_true(strncmp(t1, "rt1.", 4) == 0 && strstr(t1, a.id));
    assert_int_equal(s_check_gen(&a, "a1", g1), 0);
    assert_int_equal(s_token(MSG_TOKEN_REFRESH, &a, "a1", t1, t2, &g2), 0); /* rotated */
    assert_true(strcmp(t1, t2) != 0 && g2 > g1);
    assert_int_equal(s_check_gen(&a, "a1", g1), ROOST_EACCES); /* the old generation */
    assert_int_equal(s_check_gen(&a, "a1", g2), 0);
    assert_int_equal(s_token(MSG_TOKEN_REFRESH, &a, "a9", t2, t3, &g3), ROOST_EACCES);
    /* the spent one again: the whole family goes, the live one with it */
    assert_int_equal(s_token(MSG_TOKEN_REFRESH, &a, "a1", t1, t3, &g3), ROOST_EACCES);
    assert_int_equal(s_token(MSG_TOKEN_REFRESH, &a, "a1", t2, t3, &g3), ROOST_EACCES);
    assert_int_equal(s_check_gen(&a, "a1", g2), ROOST_EACCES);
    char json[64];
    snprintf(json, sizeof json, "{\"t\":\"auth\",\"gen\":%llu}", (unsigned long long)g2);
    s_err(1, a.key, &a, "a1", json, "unauthorized"); /* its access tokens stop working */
    /* a new login starts a new family */
    assert_int_equal(s_token(MSG_TOKEN_ISSUE, &a, "a1", NULL, t3, &g3), 0);
    assert_int_equal(s_check_gen(&a, "a1", g3), 0);
    snprintf(json, sizeof json, "{\"t\":\"auth\",\"gen\":%llu}", (unsigned long long)g3);
    s_ok(1, a.key, &a, "a1", json);
    assert_int_equal(s_token(MSG_TOKEN_REFRESH, &a, "a1", "rt1.junk", t2, &g2), ROOST_EACCES);
}

int main(void)

{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_direct_send_deliver_ack_receipt, mw_setup,
                                        mw_teardown),
        cmocka_unit_test_setup_teardown(test_offline_resume_multi_device, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_history_and_restart, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_block, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_groups, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_typing_presence_privacy, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_errors, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_retention_expired, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_bodies_per_device, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_prekeys, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_one_time_codes, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_tokens, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_group_256_fanout_and_receipts, mw_setup, mw_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
