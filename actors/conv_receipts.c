/* actors/conv_receipts.c — per-member watermarks and the receipt events they cause, typing,
 * and the block flags of a direct conversation. A receipt is a request to the sender's user
 * actor; one not answered is sent again (the inbox keeps only the newest per reader).
 *
 * `delivered` moves when the member's user actor reports that a device acknowledged messages
 * from others (MSG_ACKED); `read` on the member's `read` (MSG_READ). Both are durable before
 * they are answered, a report of nothing new too (the write of the watermark that covers it
 * may still be in flight). Receipt events are coalesced: at most one per (reader, status) per
 * second (CONV_RECEIPT_MS), always the newest watermark, sent to every other member who sent a
 * message above the previous one; a reader with read receipts off moves `read` without one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/conv.h"
#include "actors/msgs.h"
#include "runtime/errors.h"

static void s_answer(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)self;
    roost_env_t *req = arg;
    if (status == ROOST_OK)
        roost_ctx_reply(ctx, req, MSG_ACKED, NULL, 0);
    else
        roost_ctx_reply_error(ctx, req, status);
    roost_env_free(req);
}

/* [user, seq, …] */
static bool s_user_seq(const roost_env_t *env, msgpack_unpacked *up, uint64_t *user, uint64_t *seq)
{
    mp_str_t u;
    const msgpack_object *a = &up->data;
    return mp_parse(up, env->payload, env->payload_len) && a->type == MSGPACK_OBJECT_ARRAY &&
           a->via.array.size >= 2 && mp_as_str(&a->via.array.ptr[0], &u) &&
           (*user = id_parse(u.ptr, u.len)) != 0 && mp_as_u64(&a->via.array.ptr[1], seq);
}

/* Merges the hidden senders a member's watermark report carries (element i, if present). */
static void s_take_hidden(member_t *m, const msgpack_object *a, uint32_t i)
{
    hidden_t h;
    if (a->via.array.size <= i || !hidden_parse(&a->via.array.ptr[i], &h) || hidden_empty(&h))
        return;
    hidden_t before = m->hidden;
    hidden_merge(&m->hidden, &h);
    if (memcmp(&before, &m->hidden, sizeof before) != 0)
        m->dirty = true;
}

bool conv_receipts_unsettled(const conv_t *c)
{
    for (uint32_t i = 0; i < c->nmembers; i++) {
        const member_t *m = &c->members[i];
        if (m->delivered > m->rcpt_delivered_ok || m->read > m->rcpt_read_ok)
            return true;
    }
    return false;
}

/* A new watermark: durable (with the index entry that gets its receipts out after a failover)
 * before it is answered; its receipts follow within CONV_RECEIPT_MS. */
static void s_record_member(roost_ctx_t *ctx, conv_t *c, member_t *m)
{
    store_ops_t ops;
    store_ops_init(&ops);
    conv_put_member(c, &ops, m);
    conv_put_index(c, &ops);
    m->dirty = false;
    base_write(ctx, &c->base, &ops, s_answer, roost_ctx_keep(ctx));
    store_ops_fini(&ops);
    conv_arm(ctx, c, CONV_TIMER_RECEIPTS, &c->receipts_armed, CONV_RECEIPT_MS);
}

void conv_on_acked(roost_ctx_t *ctx, conv_t *c, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    uint64_t user = 0, seq = 0;
    member_t *m = NULL;
    if (!s_user_seq(env, &up, &user, &seq) || !(m = conv_member(c, user))) {
        roost_ctx_reply_error(ctx, env, m ? ROOST_EPROTO : ROOST_ENOTFOUND);
        msgpack_unpacked_destroy(&up);
        return;
    }
    s_take_hidden(m, &up.data, 2);
    if (seq <= m->delivered || seq > c->durable) { /* nothing new (or not ours to count) */
        base_after(ctx, &c->base, s_answer, roost_ctx_keep(ctx)); /* (what is, once durable) */
    } else {
        m->delivered = seq;
        s_record_member(ctx, c, m);
    }
    msgpack_unpacked_destroy(&up);
}

void conv_on_read(roost_ctx_t *ctx, conv_t *c, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    uint64_t user = 0, seq = 0;
    member_t *m = NULL;
    bool receipts = true;
    if (!s_user_seq(env, &up, &user, &seq) || up.data.via.array.size < 3 ||
        up.data.via.array.ptr[2].type != MSGPACK_OBJECT_BOOLEAN) {
        roost_ctx_reply_error(ctx, env, ROOST_EPROTO);
    } else if (!(m = conv_member(c, user)) || m->left) {
        roost_ctx_reply_error(ctx, env, ROOST_EINVAL); /* not a member: forbidden */
    } else if (seq > c->durable) {
        roost_ctx_reply_error(ctx, env, ROOST_ENOTFOUND);
    } else if (seq <= m->read) {
        base_after(ctx, &c->base, s_answer, roost_ctx_keep(ctx));
    } else {
        s_take_hidden(m, &up.data, 3);
        receipts = up.data.via.array.ptr[2].via.boolean;
        m->read = seq;
        if (!receipts && m->rcpt_out[1] == 0) /* nothing to tell: settled at once */
            m->rcpt_read = m->rcpt_read_ok = seq;
        s_record_member(ctx, c, m);
    }
    msgpack_unpacked_destroy(&up);
}

/* Once no receipt of that kind is outstanding, what was handed out counts as stored: the
 * member record (written at the next checkpoint) keeps only that, so a crash before the
 * senders confirmed re-sends the receipts (their inboxes ignore one they have). */
static void s_settle(roost_ctx_t *ctx, conv_t *c, member_t *m, int kind)
{
    uint64_t sent = kind ? m->rcpt_read : m->rcpt_delivered;
    uint64_t *ok = kind ? &m->rcpt_read_ok : &m->rcpt_delivered_ok;
    if (m->rcpt_out[kind] != 0 || sent <= *ok)
        return;
    *ok = sent;
    m->dirty = true;
    conv_arm(ctx, c, CONV_TIMER_CHECKPOINT, &c->checkpoint_armed, CONV_CHECKPOINT_MS);
}

/* False if the request could not be sent (the caller retries the whole emission later). */
static bool s_send_receipt(roost_ctx_t *ctx, conv_t *c, member_t *by, uint64_t to, uint64_t seq,
                           const char *status, uint64_t from)
{
    char key[ID_BYTES_MAX + 3], id[ID_BYTES_MAX + 1];
    id_key(key, 'u', to);
    id_format(id, by->user);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 5);
    mp_pack_str(&b.pk, c->key);
    msgpack_pack_uint64(&b.pk, seq);
    mp_pack_str(&b.pk, id);
    mp_pack_str(&b.pk, status);
    msgpack_pack_uint64(&b.pk, roost_ctx_wall_ms(ctx));
    uint64_t corr = 0;
    int kind = status[0] == 'r';
    bool sent =
        roost_ctx_request(ctx, key, MSG_RECEIPT, b.sb.data, b.sb.size, 0, &corr) == ROOST_OK;
    if (sent) {
        pend_t *p = pend_add(&c->pend, corr, kind, NULL);
        p->a = by->user;
        p->b = from;
        by->rcpt_out[kind]++;
    }
    mp_buf_fini(&b);
    return sent;
}

bool conv_receipt_answer(roost_ctx_t *ctx, conv_t *c, const roost_env_t *env)
{
    pend_t *p = pend_take(&c->pend, env->corr);
    if (!p)
        return false;
    member_t *m = conv_member(c, p->a);
    bool retry = (env->flags & ROOST_ENV_ERROR) && env->status != ROOST_ENOTFOUND &&
                 env->status != ROOST_EPROTO; /* not for an account that is gone */
    if (m && m->rcpt_out[p->kind])
        m->rcpt_out[p->kind]--;
    if (retry && m) { /* not stored: sent again (deduped there) */
        uint64_t *sent = p->kind ? &m->rcpt_read : &m->rcpt_delivered;
        if (*sent > p->b)
            *sent = p->b;
        conv_arm(ctx, c, CONV_TIMER_RECEIPTS, &c->receipts_armed, CONV_RECEIPT_MS);
    }
    if (m)
        s_settle(ctx, c, m, p->kind);
    pend_free(p);
    return true;
}

/* Everyone else who sent above `from` hears that `by` reached `upto` — capped below the first
 * of their messages `by` never received (hidden.h). */
static bool s_emit(roost_ctx_t *ctx, conv_t *c, member_t *by, uint64_t from, uint64_t upto,
                   const char *status)
{
    bool all = true;
    for (uint32_t i = 0; i < c->nmembers; i++) {
        member_t *s = &c->members[i];
        uint64_t cap = hidden_cap(&by->hidden, s->user, upto);
        if (s->user != by->user && s->last_sent > from && cap > from)
            all &= s_send_receipt(ctx, c, by, s->user, cap, status, from);
    }
    return all;
}

/* Moves one watermark's receipts from *sent up to upto (all of them, or none: retried). */
static void s_emit_kind(roost_ctx_t *ctx, conv_t *c, member_t *m, int kind)
{
    uint64_t *sent = kind ? &m->rcpt_read : &m->rcpt_delivered;
    uint64_t upto = kind ? m->read : m->delivered;
    if (upto <= *sent)
        return;
    if (!s_emit(ctx, c, m, *sent, upto, kind ? "read" : "delivered")) {
        conv_arm(ctx, c, CONV_TIMER_RECEIPTS, &c->receipts_armed, CONV_RECEIPT_MS);
        return;
    }
    *sent = upto;
    s_settle(ctx, c, m, kind);
}

void conv_receipts_timer(roost_ctx_t *ctx, conv_t *c)
{
    for (uint32_t i = 0; i < c->nmembers; i++) {
        s_emit_kind(ctx, c, &c->members[i], 0);
        s_emit_kind(ctx, c, &c->members[i], 1);
    }
}

/* ---- typing ------------------------------------------------------------------------------ */

static void s_relay_typing(roost_ctx_t *ctx, conv_t *c, uint64_t user, bool on)
{
    char id[ID_BYTES_MAX + 1];
    id_format(id, user);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 1);
    msgpack_pack_map(&b.pk, 4);
    mp_kv_str(&b.pk, "t", "typing");
    mp_kv_str(&b.pk, "conv", c->key);
    mp_kv_str(&b.pk, "user", id);
    mp_kv_bool(&b.pk, "on", on);
    for (uint32_t i = 0; i < c->nmembers; i++) {
        const member_t *m = &c->members[i];
        if (m->user == user || m->left)
            continue;
        char key[ID_BYTES_MAX + 3];
        id_key(key, 'u', m->user);
        roost_ctx_send(ctx, key, MSG_RELAY, b.sb.data, b.sb.size);
    }
    mp_buf_fini(&b);
}

void conv_on_typing(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env)
{
    mp_str_t conv;
    bool on;
    if (mp_get_str(r->frame, "conv", 1, CONV_KEY_BYTES_MAX, &conv) != MP_OK)
        return client_bad_field(ctx, env, "conv");
    if (mp_get_bool(r->frame, "on", &on) != MP_OK)
        return client_bad_field(ctx, env, "on");
    if (!conv_direct_ready(ctx, c, env))
        return;
    if (!conv_is_member(c, r->user))
        return client_err(ctx, env, CODE_FORBIDDEN, "not a member of this conversation");
    member_t *m = conv_member(c, r->user);
    uint64_t now = roost_ctx_now_ns(ctx);
    bool was = m->typing_until_ns > now;
    m->typing_until_ns = on ? now + CONV_TYPING_MS * 1000000ull : 0;
    if (on || was)
        s_relay_typing(ctx, c, r->user, on);
    if (on)
        conv_arm(ctx, c, CONV_TIMER_TYPING, &c->typing_armed, CONV_TYPING_MS);
    client_ok(ctx, env);
}

void conv_typing_timer(roost_ctx_t *ctx, conv_t *c)
{
    uint64_t now = roost_ctx_now_ns(ctx), next = 0;
    for (uint32_t i = 0; i < c->nmembers; i++) {
        member_t *m = &c->members[i];
        if (!m->typing_until_ns)
            continue;
        if (m->typing_until_ns <= now) {
            m->typing_until_ns = 0;
            s_relay_typing(ctx, c, m->user, false);
        } else if (!next || m->typing_until_ns < next) {
            next = m->typing_until_ns;
        }
    }
    if (next)
        conv_arm(ctx, c, CONV_TIMER_TYPING, &c->typing_armed, (next - now) / 1000000ull + 1);
}

/* ---- blocks (direct) ----------------------------------------------------------------------- */

void conv_on_block_set(roost_ctx_t *ctx, conv_t *c, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = &up.data;
    mp_str_t u;
    uint64_t user = 0;
    if (c->group || !mp_parse(&up, env->payload, env->payload_len) ||
        a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 2 ||
        !mp_as_str(&a->via.array.ptr[0], &u) || (user = id_parse(u.ptr, u.len)) == 0 ||
        (user != c->lo && user != c->hi) || a->via.array.ptr[1].type != MSGPACK_OBJECT_BOOLEAN) {
        msgpack_unpacked_destroy(&up);
        roost_ctx_reply_error(ctx, env, ROOST_EPROTO);
        return;
    }
    bool blocked = a->via.array.ptr[1].via.boolean;
    if (user == c->lo)
        c->lo_blocks_hi = blocked;
    else
        c->hi_blocks_lo = blocked;
    msgpack_unpacked_destroy(&up);
    store_ops_t ops;
    store_ops_init(&ops);
    conv_put_head(c, &ops);
    base_write(ctx, &c->base, &ops, s_answer, roost_ctx_keep(ctx));
    store_ops_fini(&ops);
}
