/* tests/unit/test_groups.c — groups through the messaging actors, driven as an edge drives
 * them (on one in-process shard node, or over three real shard processes with MW_CLUSTER):
 * create (idempotent on cmid), fan-out, admin rights, removal (also while another member
 * streams), the last admin leaving, rename, info, a missing group; a blocked member's messages
 * and the receipts that must not cover them; a 256-member group's fan-out, write count and
 * receipts. */
#include <pthread.h>
#include <stdatomic.h>

#ifdef MW_CLUSTER /* the same tests over three real shard processes */
#include "tests/support/msg_cluster.h"
#else
#include "tests/support/msg_world.h"
#endif
#include "tests/support/msg_steps.h"

#include "runtime/fault.h"
#include "runtime/hash.h"

/* a (session 0) creates a group (name and cmid `name`) with b, and c unless NULL; its id and
 * conversation key come back. */
static void s_group_with(const user_ref_t *a, const user_ref_t *b, const user_ref_t *c,
                         const char *name, char gid[32], char gconv[40])
{
    char json[256], more[40] = "";
    if (c)
        snprintf(more, sizeof more, ",\"%s\"", c->id);
    snprintf(json, sizeof json,
             "{\"t\":\"group.create\",\"name\":\"%s\",\"members\":[\"%s\"%s],\"cmid\":\"%s\"}",
             name, b->id, more, name);
    msgpack_unpacked up;
    assert_string_equal(sess_call(0, a->key, a->id, "a1", json, &up), "ok");
    sess_str(&up.data, "group", gid, 32);
    msgpack_unpacked_destroy(&up);
    snprintf(gconv, 40, "g:%s", gid);
}

/* In a group, R blocks S: S's message never reaches R, and no receipt R's acks or reads cause
 * may ever cover it — not even when another member's later message is acknowledged and read
 * (receipts are cumulative: "everything up to seq"). */
static void test_group_block_no_receipt(void **state)
{
    (void)state;
    user_ref_t a, r, s;
    s_user(0, "+15550000151", "a1", &a);
    s_user(1, "+15550000152", "r1", &r);
    s_user(2, "+15550000153", "s1", &s);
    char json[256], gid[32], gconv[40], buf[64];
    snprintf(json, sizeof json, "{\"t\":\"block\",\"user\":\"%s\"}", s.id);
    s_ok(1, r.key, &r, "r1", json);
    s_group_with(&a, &r, &s, "gb", gid, gconv);
    msgpack_unpacked up;
    uint64_t hidden = s_send(2, &s, "s1", gconv, gconv, "sb1", "from-s");
    uint64_t later = s_send(0, &a, "a1", gconv, gconv, "ab1", "from-a");
    assert_true(later > hidden);
    s_auth(0, &a, "a1", -1);
    s_auth(2, &s, "s1", -1);
    s_auth(1, &r, "r1", -1);
    s_expect(1, "group.event", &up);
    msgpack_unpacked_destroy(&up);
    s_expect(1, "msg", &up); /* only A's: S's is filtered at R's inbox */
    assert_string_equal(sess_str(&up.data, "from", buf, sizeof buf), a.id);
    uint64_t n = sess_u64(&up.data, "n");
    msgpack_unpacked_destroy(&up);
    snprintf(json, sizeof json, "{\"t\":\"recv.ack\",\"n\":%llu}", (unsigned long long)n);
    s_ok(1, r.key, &r, "r1", json);
    snprintf(json, sizeof json, "{\"t\":\"read\",\"conv\":\"%s\",\"seq\":%llu}", gconv,
             (unsigned long long)later);
    s_ok(1, r.key, &r, "r1", json);
    /* for 2.5 s (receipts are paced at one a second): A hears R reach A's message; S never
     * hears a receipt of R's that covers S's message */
    uint64_t a_delivered = 0, a_read = 0;
    for (uint32_t i = 0; i < 3; i += 2)
        while (sess_next(i, &up, 2500)) {
            if (strcmp(sess_str(&up.data, "t", buf, sizeof buf), "receipt") == 0) {
                uint64_t seq = sess_u64(&up.data, "seq");
                bool read = strcmp(sess_str(&up.data, "status", buf, sizeof buf), "read") == 0;
                if (i == 2 && seq >= hidden)
                    fail_msg("S got a %s receipt up to %llu: it covers its hidden message %llu",
                             read ? "read" : "delivered", (unsigned long long)seq,
                             (unsigned long long)hidden);
                if (i == 0)
                    *(read ? &a_read : &a_delivered) = seq;
            }
            msgpack_unpacked_destroy(&up);
        }
    assert_int_equal(a_delivered, later);
    assert_int_equal(a_read, later);
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

typedef struct {
    const user_ref_t *from;
    const char *gconv;
    atomic_int sent;
} streamer_t;

enum { STREAM = 40 };

/* b sends STREAM messages "s0"… into the group from its second session, one after another. */
static void *s_streamer(void *arg)
{
    streamer_t *s = arg;
    for (int k = 0; k < STREAM; k++) {
        char cmid[16];
        snprintf(cmid, sizeof cmid, "s%d", k);
        s_send(3, s->from, "b1", s->gconv, s->gconv, cmid, cmid);
        atomic_fetch_add(&s->sent, 1);
    }
    return NULL;
}

/* A member removed while another streams: it gets an unbroken prefix of the stream, then its
 * `removed` event, then nothing; the members who stay get the whole stream in order. */
static void test_removal_mid_stream(void **state)
{
    (void)state;
    user_ref_t a, b, c;
    s_user(0, "+15550000181", "a1", &a);
    s_user(1, "+15550000182", "b1", &b);
    s_user(2, "+15550000183", "c1", &c);
    s_auth(0, &a, "a1", -1);
    s_auth(2, &c, "c1", -1);
    char json[256], gid[32], gconv[40];
    s_group_with(&a, &b, &c, "gs", gid, gconv);
    msgpack_unpacked up;
    for (uint32_t i = 0; i < 3; i += 2) {
        s_expect(i, "group.event", &up);
        msgpack_unpacked_destroy(&up);
    }
    streamer_t st = {.from = &b, .gconv = gconv};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, s_streamer, &st), 0);
    while (atomic_load(&st.sent) < 10)
        proc_sleep_ms(5);
    snprintf(json, sizeof json, "{\"t\":\"group.remove\",\"group\":\"%s\",\"users\":[\"%s\"]}", gid,
             c.id);
    s_ok(0, gconv, &a, "a1", json);
    pthread_join(th, NULL);
    char t[16], body[16];
    int c_got = 0;
    bool removed = false;
    while (sess_next(2, &up, 1500)) {
        sess_str(&up.data, "t", t, sizeof t);
        if (removed)
            fail_msg("c got a %s after its removal", t);
        if (strcmp(t, "group.event") == 0) {
            removed = true;
        } else {
            assert_string_equal(t, "msg");
            mp_str_t bin;
            assert_int_equal(mp_get_bin(&up.data, "body", 15, &bin), MP_OK);
            snprintf(body, sizeof body, "s%d", c_got++);
            if (!mp_str_eq(bin, body))
                fail_msg("c: expected %s, got %.*s", body, (int)bin.len, bin.ptr);
        }
        msgpack_unpacked_destroy(&up);
    }
    assert_true(removed);
    fprintf(stderr, "c got %d of %d before its removal\n", c_got, STREAM);
    for (int k = 0; k < STREAM; k++) { /* a: the whole stream, the removal among it */
        s_expect(0, k == c_got ? "group.event" : "msg", &up);
        msgpack_unpacked_destroy(&up);
        if (k == c_got) {
            s_expect(0, "msg", &up);
            msgpack_unpacked_destroy(&up);
        }
    }
}

/* The push's body (a message) or event name (a group event), for comparing. */
static void s_what(const msgpack_object *push, char *out, size_t cap)
{
    mp_str_t bin = {0};
    char t[16] = "";
    sess_str(push, "t", t, sizeof t);
    if (strcmp(t, "msg") == 0 && mp_get_bin(push, "body", 15, &bin) == MP_OK)
        snprintf(out, cap, "%.*s", (int)bin.len, bin.ptr);
    else
        sess_str(push, strcmp(t, "group.event") == 0 ? "event" : "t", out, cap);
}

/* a (session 0, the admin) removes b from the group, or adds it back. */
static void s_move(const user_ref_t *a, const user_ref_t *b, const char *gid, const char *gconv,
                   bool add)
{
    char json[256];
    snprintf(json, sizeof json, "{\"t\":\"group.%s\",\"group\":\"%s\",\"users\":[\"%s\"]}",
             add ? "add" : "remove", gid, b->id);
    s_ok(0, gconv, a, "a1", json);
}

/* A member removed and added back before what it was owed reached it still gets all of it, then
 * its removal and its return, then what came after — never what was sent while it was out.
 * Before, its return moved its fan-out straight to the new joining, and the messages between
 * its old position and its removal were lost for it (found by the simulator, seed 4 with 30
 * phones: "delivered up to seq 37 in group 2 by 12, which lacks 20"). */
static void test_a_member_added_back_gets_what_it_was_owed(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550000191", "a1", &a);
    s_user(1, "+15550000192", "b1", &b);
    s_auth(0, &a, "a1", -1);
    s_auth(1, &b, "b1", -1);
    char gid[32], gconv[40];
    s_group_with(&a, &b, NULL, "go", gid, gconv);
    msgpack_unpacked up;
    for (uint32_t i = 0; i < 2; i++) {
        s_expect(i, "group.event", &up);
        msgpack_unpacked_destroy(&up);
    }
    mw_hold_fanout(true); /* b's fan-out falls behind */
    s_send(0, &a, "a1", gconv, gconv, "o1", "owed1");
    s_send(0, &a, "a1", gconv, gconv, "o2", "owed2");
    s_move(&a, &b, gid, gconv, false);
    s_send(0, &a, "a1", gconv, gconv, "o3", "while-out");
    s_move(&a, &b, gid, gconv, true);
    s_send(0, &a, "a1", gconv, gconv, "o4", "after");
    mw_hold_fanout(false);
    /* (sessions here never ack: the last push comes again every 5 s; new ones have a new n) */
    static const char *const want[] = {"owed1", "owed2", "removed", "added", "after"};
    uint64_t last_n = 1; /* its `created` event */
    size_t got = 0;
    char what[32];
    while (got < 5 && sess_next(1, &up, 12000)) {
        uint64_t n = sess_u64(&up.data, "n");
        s_what(&up.data, what, sizeof what);
        msgpack_unpacked_destroy(&up);
        if (n <= last_n)
            continue;
        last_n = n;
        if (strcmp(what, want[got]) != 0)
            fail_msg("push %zu: expected %s, got %s", got, want[got], what);
        got++;
    }
    assert_int_equal(got, 5);
    while (sess_next(1, &up, 1500)) { /* and nothing new: not what was sent while it was out */
        uint64_t n = sess_u64(&up.data, "n");
        s_what(&up.data, what, sizeof what);
        msgpack_unpacked_destroy(&up);
        if (n > last_n)
            fail_msg("b got %s after its return", what);
    }
}

/* Removed, added back, removed and added back again while its fan-out stood still: what it
 * is owed is what it was entitled to in its windows, never what was sent while it was out. The owed
 * span's floor was taken after the owed mark was set, so it read the stale floor (0) instead of the
 * last joining; the inbox, whose last seq for the group was from the first window, pulled the
 * fan-out back below it and got the first absence's messages (found by the simulator, seed 3111
 * with 30 phones). */
static void test_a_member_added_back_twice_gets_nothing_from_its_absences(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550000195", "a1", &a);
    s_user(1, "+15550000196", "b1", &b);
    s_auth(0, &a, "a1", -1);
    s_auth(1, &b, "b1", -1);
    char gid[32], gconv[40], what[32];
    s_group_with(&a, &b, NULL, "g2", gid, gconv);
    msgpack_unpacked up;
    s_move(&a, &b, gid, gconv, false);
    bool out = false; /* its fan-out caught up with its removal … */
    while (!out && sess_next(1, &up, 12000)) {
        s_what(&up.data, what, sizeof what);
        msgpack_unpacked_destroy(&up);
        out = strcmp(what, "removed") == 0;
    }
    assert_true(out);
    mw_hold_fanout(true); /* … and gets nothing more until both returns are done */
    s_send(0, &a, "a1", gconv, gconv, "g1", "gap1");
    s_move(&a, &b, gid, gconv, true);
    s_send(0, &a, "a1", gconv, gconv, "i2", "in2");
    s_move(&a, &b, gid, gconv, false);
    s_send(0, &a, "a1", gconv, gconv, "g2", "gap2");
    s_move(&a, &b, gid, gconv, true);
    s_send(0, &a, "a1", gconv, gconv, "a2", "after2");
    mw_hold_fanout(false);
    bool in2 = false, after2 = false;
    while (!after2 && sess_next(1, &up, 12000)) {
        s_what(&up.data, what, sizeof what);
        msgpack_unpacked_destroy(&up);
        if (strcmp(what, "gap1") == 0 || strcmp(what, "gap2") == 0)
            fail_msg("b got %s, sent while it was out", what);
        in2 |= strcmp(what, "in2") == 0;
        after2 = strcmp(what, "after2") == 0;
    }
    assert_true(in2);
    assert_true(after2);
    while (sess_next(1, &up, 1500)) { /* nor afterwards */
        s_what(&up.data, what, sizeof what);
        msgpack_unpacked_destroy(&up);
        if (strcmp(what, "gap1") == 0 || strcmp(what, "gap2") == 0)
            fail_msg("b got %s, sent while it was out", what);
    }
}

/* What a member got before its removal stays fetchable after it is added back: its inbox holds
 * references, and a restart empties the caches, so the pushes below fetch from the group. The
 * fetch used to check only the current membership (from the new joining), answered nothing, and
 * the message was skipped for good (found by the simulator, seed 18 with 30 phones). */
static void test_a_member_added_back_still_fetches_what_it_got(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550000193", "a1", &a);
    s_user(1, "+15550000194", "b1", &b);
    s_auth(0, &a, "a1", -1);
    char gid[32], gconv[40];
    s_group_with(&a, &b, NULL, "gf", gid, gconv);
    s_send(0, &a, "a1", gconv, gconv, "f1", "before");
    proc_sleep_ms(500); /* in b's inbox (b is offline) */
    s_move(&a, &b, gid, gconv, false);
    s_move(&a, &b, gid, gconv, true);
    mw_close();
    mw_open(false); /* empty caches */
    s_auth(1, &b, "b1", -1);
    static const char *const want[] = {"created", "before", "removed", "added"};
    char what[32];
    msgpack_unpacked up;
    uint64_t last_n = 0;
    for (size_t k = 0; k < 4;) {
        if (!sess_next(1, &up, 10000))
            fail_msg("b: no %s", want[k]);
        uint64_t n = sess_u64(&up.data, "n");
        s_what(&up.data, what, sizeof what);
        msgpack_unpacked_destroy(&up);
        if (n <= last_n) /* the tail probe's resend of an unacknowledged push: a client dedupes */
            continue;
        last_n = n;
        if (strcmp(what, want[k]) != 0)
            fail_msg("b: push %zu: expected %s, got %s", k, want[k], what);
        k++;
    }
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

#ifndef MW_CLUSTER /* arms a fault point in this process */
/* What a user actor asks g:<gid> for a group.create (MSG_GROUP_CREATE [creator, cmid, name,
 * [members]]), posted on session i: sess_wait collects the answer. */
static void s_post_group_create(uint32_t i, const char *gkey, const user_ref_t *creator,
                                const user_ref_t *member, const char *cmid)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 4);
    mp_pack_str(&b.pk, creator->id);
    mp_pack_str(&b.pk, cmid);
    mp_pack_str(&b.pk, cmid);
    msgpack_pack_array(&b.pk, 1);
    mp_pack_str(&b.pk, member->id);
    sess_post_raw(i, gkey, MSG_GROUP_CREATE, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

/* A group.create retried (same creator, same cmid) while the write creating the group is in
 * flight is answered once that write is durable, not from memory, where the group already
 * exists: that write may still fail. (Found reading the code after the simulator's seed 370,
 * the same fault in the claim of a device.) The write is held (replog.hold_flush) until a
 * later write to the partition: a message to another group there, created beforehand (an
 * actor opening on the partition would wait for the held write). */
static void test_a_create_retried_while_the_group_is_stored_waits_for_it(void **state)
{
    (void)state;
    user_ref_t a, b;
    s_user(0, "+15550000231", "a1", &a);
    s_user(1, "+15550000232", "b1", &b);
    char gkey[2][32];
    uint32_t p0 = 0;
    for (uint64_t id = 4242, n = 0; n < 2; id++) { /* two groups in one partition */
        snprintf(gkey[n], sizeof gkey[n], "g:%llu", (unsigned long long)id);
        uint32_t p = roost_partition_of(gkey[n], strlen(gkey[n]), MW_P);
        if (n == 0 || p == p0)
            p0 = p, n++;
    }
    s_post_group_create(1, gkey[1], &a, &b, "other");
    sess_item_t *it = sess_wait(1, true, 5000);
    assert_true(it && it->status == 0);
    free(it);
    s_settled_appends(500);
    assert_int_equal(roost_fault_arm("replog.hold_flush", -1), 0);
    s_post_group_create(1, gkey[0], &a, &b, "held");
    proc_sleep_ms(100);
    s_post_group_create(2, gkey[0], &a, &b, "held"); /* the user actor's retry */
    it = sess_wait(2, true, 600);
    assert_null(it); /* not before the group is stored */
    assert_null(sess_wait(1, true, 0));
    roost_fault_reset();
    assert_int_equal(s_send(0, &a, "a1", gkey[1], gkey[1], "x", "x"), 2); /* flushes the first */
    for (uint32_t i = 1; i <= 2; i++) {
        it = sess_wait(i, true, 5000);
        assert_non_null(it);
        assert_int_equal(it->status, 0);
        free(it);
    }
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_groups, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_group_block_no_receipt, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_removal_mid_stream, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_a_member_added_back_gets_what_it_was_owed, mw_setup,
                                        mw_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_member_added_back_twice_gets_nothing_from_its_absences, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_a_member_added_back_still_fetches_what_it_got,
                                        mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_group_256_fanout_and_receipts, mw_setup, mw_teardown),
#ifndef MW_CLUSTER
        cmocka_unit_test_setup_teardown(
            test_a_create_retried_while_the_group_is_stored_waits_for_it, mw_setup, mw_teardown),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
