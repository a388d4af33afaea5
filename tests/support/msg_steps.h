/* tests/support/msg_steps.h — the steps messaging tests take as clients (over sessions.h):
 * register a user, auth, send, expect pushes, expect an answer. Header-only; include after
 * msg_world.h or msg_cluster.h. */
#ifndef ROOST_TEST_MSG_STEPS_H
#define ROOST_TEST_MSG_STEPS_H

#include "tests/support/procs.h"

typedef struct {
    char id[32];
    char key[40]; /* u:<id> */
} user_ref_t;

static inline void s_user(uint32_t sess, const char *phone, const char *device, user_ref_t *u)
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
static inline uint64_t s_auth(uint32_t i, const user_ref_t *u, const char *device, int64_t resume)
{
    char json[128];
    if (resume >= 0)
        snprintf(json, sizeof json, "{\"t\":\"auth\",\"resume\":%lld}", (long long)resume);
    else
        snprintf(json, sizeof json, "{\"t\":\"auth\"}");
    msgpack_unpacked up;
    const char *t;
    /* a partition still reconciling after a restart answers `unavailable` (or nothing in
     * time): a client tries again */
    for (uint64_t deadline = proc_now_ms() + 30000;; proc_sleep_ms(200)) {
        t = sess_call(i, u->key, u->id, device, json, &up);
        char code[32] = "";
        if (t && strcmp(t, "err") == 0)
            sess_str(&up.data, "code", code, sizeof code);
        bool again = (!t || strcmp(code, "unavailable") == 0) && proc_now_ms() < deadline;
        if (!again)
            break;
        msgpack_unpacked_destroy(&up);
    }
    assert_non_null(t);
    assert_string_equal(t, "ok");
    uint64_t from = sess_u64(&up.data, "from_n");
    char buf[32];
    assert_string_equal(sess_str(&up.data, "user", buf, sizeof buf), u->id);
    msgpack_unpacked_destroy(&up);
    return from;
}

static inline void s_conv_of(const user_ref_t *a, const user_ref_t *b, char out[48])
{
    uint64_t x = strtoull(a->id, NULL, 10), y = strtoull(b->id, NULL, 10);
    snprintf(out, 48, "d:%llu:%llu", (unsigned long long)(x < y ? x : y),
             (unsigned long long)(x < y ? y : x));
}

/* from sends text to `to` (a user or "g:<id>" conversation key given as target). */
static inline uint64_t s_send(uint32_t i, const user_ref_t *from, const char *device,
                              const char *conv, const char *to, const char *cmid, const char *text)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"t\":\"send\",\"to\":\"%s\",\"cmid\":\"%s\",\"kind\":\"text\",\"body\":\"%s\"}", to,
             cmid, text);
    msgpack_unpacked up;
    const char *t;
    /* as a client does: a partition still reconciling after a restart answers `unavailable`
     * (or nothing in time), and the same cmid is sent again (it can never make a second
     * message) */
    for (uint64_t deadline = proc_now_ms() + 30000;; proc_sleep_ms(200)) {
        t = sess_call(i, conv, from->id, device, json, &up);
        char code[32] = "";
        if (t && strcmp(t, "err") == 0)
            sess_str(&up.data, "code", code, sizeof code);
        if (!((!t || strcmp(code, "unavailable") == 0) && proc_now_ms() < deadline))
            break;
        if (t)
            msgpack_unpacked_destroy(&up);
    }
    assert_non_null(t);
    char buf[64];
    if (strcmp(t, "ok") != 0)
        fail_msg("send failed: %s", sess_str(&up.data, "msg", buf, sizeof buf));
    uint64_t seq = sess_u64(&up.data, "seq");
    msgpack_unpacked_destroy(&up);
    return seq;
}

/* The next push to session i must be of type t; returns it unpacked in *up. */
static inline void s_expect(uint32_t i, const char *t, msgpack_unpacked *up)
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

/* A request that must fail with `code`. */
static inline void s_err(uint32_t i, const char *target, const user_ref_t *u, const char *device,
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

static inline void s_ok(uint32_t i, const char *target, const user_ref_t *u, const char *device,
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
static inline void s_expect_msgs(uint32_t i, uint64_t first_n, const char *prefix, int from, int to)
{
    for (int k = from; k <= to; k++, first_n++) {
        msgpack_unpacked up;
        char want[32];
        snprintf(want, sizeof want, "%s%d", prefix, k);
        if (!sess_next(i, &up, 5000)) /* name the one that never came */
            fail_msg("session %u: no msg push for %s (n %llu)", i, want,
                     (unsigned long long)first_n);
        char t[32];
        if (strcmp(sess_str(&up.data, "t", t, sizeof t), "msg") != 0)
            fail_msg("session %u: expected msg %s, got %s", i, want, t);
        mp_str_t body;
        assert_int_equal(mp_get_bin(&up.data, "body", 100, &body), MP_OK);
        if (!mp_str_eq(body, want))
            fail_msg("session %u: expected body %s, got %.*s", i, want, (int)body.len, body.ptr);
        assert_int_equal(sess_u64(&up.data, "n"), first_n);
        msgpack_unpacked_destroy(&up);
    }
}

/* Waits until the store has been quiet (no new appends) for quiet_ms; returns the count (0
 * over processes, where it cannot be known: then it just waits quiet_ms). */
static inline uint64_t s_settled_appends(int quiet_ms)
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

/* conv's answer to MSG_CONV_FETCH for user's seqs first … first + n - 1, asked on session 3
 * (NULL: none in time; caller frees). */
static inline sess_item_t *s_conv_fetch(const char *conv, const user_ref_t *user, uint64_t first,
                                        uint32_t n)
{
    mp_buf_t req;
    mp_buf_init(&req);
    msgpack_pack_array(&req.pk, 2);
    mp_pack_str(&req.pk, user->id);
    msgpack_pack_array(&req.pk, n);
    for (uint64_t seq = first; seq < first + n; seq++)
        msgpack_pack_uint64(&req.pk, seq);
    sess_item_t *it = sess_raw(3, conv, MSG_CONV_FETCH, req.sb.data, req.sb.size);
    mp_buf_fini(&req);
    return it;
}

#endif
