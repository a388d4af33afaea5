/* actors/conv_fanout.c — log-driven fan-out: every durable record reaches the inbox of every
 * member concerned, in seq order, exactly once there (the user actor is idempotent on seq).
 *
 * Per member the conversation knows `fanout`, the highest seq already in its inbox. While it is
 * behind, one MSG_DELIVER [conv, prev, floor, [records], era?] is outstanding (up to 64
 * consecutive records after prev; era: the partition's fence, when it has one); the answer
 * [last_seq] moves `fanout`; errors retry with backoff
 * (100 ms doubling to 5 s), forever. Progress is checkpointed (member records and the head's
 * `fdone`) at most once a second; after a failover or passivation the fan-out restarts from
 * the checkpoint and resends what may already be there (answered idempotently). The
 * partition's index ~f/<conv> lists conversations whose fan-out is unfinished, so a new primary
 * wakes them (actors/sweep.c) even if no one writes to them again.
 */
#include <stdio.h>
#include <stdlib.h>

#include "actors/actors.h"
#include "actors/conv.h"
#include "actors/msgs.h"
#include "runtime/errors.h"
#include "shards/store.h"

static uint64_t s_target(const conv_t *c, const member_t *m)
{
    uint64_t end = m->owed_upto ? m->owed_upto : m->left;
    return end && end < c->durable ? end : c->durable;
}

/* A re-added member's owed records are all in its inbox: it goes on from its new joining. */
static void s_owed_done(member_t *m)
{
    if (!m->owed_upto || m->fanout < m->owed_upto)
        return;
    m->owed_upto = m->owed_floor = 0;
    if (m->joined && m->fanout < m->joined - 1)
        m->fanout = m->joined - 1;
    m->dirty = true;
}

static void s_send(roost_ctx_t *ctx, conv_t *c, member_t *m)
{
    uint64_t target = s_target(c, m);
    mp_buf_t recs;
    mp_buf_init(&recs);
    uint32_t n = 0;
    uint64_t seq = m->fanout + 1;
    for (; seq <= target && n < CONV_DELIVER_RECORDS_MAX && recs.sb.size < CONV_DELIVER_BYTES_MAX;
         seq++, n++) {
        void *val;
        size_t len;
        if (conv_read_record(ctx, c, seq, &val, &len) != ROOST_OK)
            break; /* the store cannot serve it now: retried */
        mp_pack_bin(&recs.pk, val, len);
        free(val);
    }
    if (n == 0) {
        mp_buf_fini(&recs);
        m->retry_at_ns = roost_ctx_now_ns(ctx) + CONV_RETRY_MAX_MS * 1000000ull;
        conv_arm(ctx, c, CONV_TIMER_FANOUT, &c->fanout_armed, CONV_RETRY_MAX_MS);
        return;
    }
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, c->era ? 5 : 4);
    mp_pack_str(&b.pk, c->key);
    msgpack_pack_uint64(&b.pk, m->fanout);
    msgpack_pack_uint64(&b.pk, conv_member_floor(m));
    msgpack_pack_array(&b.pk, n);
    msgpack_sbuffer_write(&b.sb, recs.sb.data, recs.sb.size);
    if (c->era)
        msgpack_pack_uint64(&b.pk, c->era);
    char key[ID_BYTES_MAX + 3];
    id_key(key, 'u', m->user);
    m->sending_upto = m->fanout + n;
    if (roost_ctx_request(ctx, key, MSG_DELIVER, b.sb.data, b.sb.size, CONV_DELIVER_TIMEOUT_MS,
                          &m->deliver_corr) != ROOST_OK)
        m->deliver_corr = 0;
    mp_buf_fini(&b);
    mp_buf_fini(&recs);
}

static uint64_t s_done_point(const conv_t *c)
{
    uint64_t done = c->durable;
    for (uint32_t i = 0; i < c->nmembers; i++) {
        const member_t *m = &c->members[i];
        if (m->fanout < s_target(c, m) && m->fanout < done)
            done = m->fanout;
    }
    return done;
}

void conv_fanout_kick(roost_ctx_t *ctx, conv_t *c)
{
    uint64_t now = roost_ctx_now_ns(ctx);
    if (atomic_load_explicit(&((actors_config_t *)actors_config(ctx))->hold_fanout,
                             memory_order_relaxed)) {
        conv_arm(ctx, c, CONV_TIMER_FANOUT, &c->fanout_armed, CONV_RETRY_MAX_MS);
        return; /* fault injection: held */
    }
    bool waiting = false;
    for (uint32_t i = 0; i < c->nmembers; i++) {
        member_t *m = &c->members[i];
        s_owed_done(m); /* (a record loaded in between) */
        if (m->deliver_corr || m->fanout >= s_target(c, m))
            continue;
        if (m->retry_at_ns > now) {
            waiting = true;
            continue;
        }
        s_send(ctx, c, m);
    }
    if (waiting)
        conv_arm(ctx, c, CONV_TIMER_FANOUT, &c->fanout_armed, CONV_RETRY_MIN_MS);
    if (s_done_point(c) != c->fanout_done)
        conv_arm(ctx, c, CONV_TIMER_CHECKPOINT, &c->checkpoint_armed, CONV_CHECKPOINT_MS);
}

void conv_fanout_timer(roost_ctx_t *ctx, conv_t *c)
{
    conv_fanout_kick(ctx, c);
}

static member_t *s_by_corr(conv_t *c, uint64_t corr)
{
    for (uint32_t i = 0; corr && i < c->nmembers; i++)
        if (c->members[i].deliver_corr == corr)
            return &c->members[i];
    return NULL;
}

static void s_backoff(roost_ctx_t *ctx, conv_t *c, member_t *m)
{
    uint32_t next = m->retry_ms ? m->retry_ms * 2 : CONV_RETRY_MIN_MS;
    m->retry_ms = next > CONV_RETRY_MAX_MS ? CONV_RETRY_MAX_MS : next;
    m->retry_at_ns = roost_ctx_now_ns(ctx) + (uint64_t)m->retry_ms * 1000000ull;
    conv_arm(ctx, c, CONV_TIMER_FANOUT, &c->fanout_armed, m->retry_ms);
}

static bool s_last_seq(const roost_env_t *env, uint64_t *out)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    bool ok = mp_parse(&up, env->payload, env->payload_len) &&
              up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size >= 1 &&
              mp_as_u64(&up.data.via.array.ptr[0], out);
    msgpack_unpacked_destroy(&up);
    return ok;
}

bool conv_fanout_answer(roost_ctx_t *ctx, conv_t *c, roost_env_t *env)
{
    if (conv_check_answer(ctx, c, env))
        return true;
    member_t *m = s_by_corr(c, env->corr);
    if (!m)
        return false;
    m->deliver_corr = 0;
    uint64_t last = 0;
    if ((env->flags & ROOST_ENV_ERROR) && env->status == ROOST_ENOTFOUND) {
        m->fanout = s_target(c, m); /* the account is gone: nothing to deliver to */
        m->dirty = true;
        s_owed_done(m);
    } else if ((env->flags & ROOST_ENV_ERROR) || !s_last_seq(env, &last)) {
        s_backoff(ctx, c, m);
        return true;
    } else {
        uint64_t floor = conv_member_floor(m);
        uint64_t moved = last >= m->sending_upto ? m->sending_upto : (last > floor ? last : floor);
        if (moved != m->fanout)
            m->dirty = true;
        m->fanout = moved;
        s_owed_done(m);
        m->retry_ms = 0;
        m->retry_at_ns = 0;
    }
    conv_fanout_kick(ctx, c);
    return true;
}

static void s_checkpointed(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)ctx, (void)self, (void)arg, (void)status; /* a failure reloads (base.c) */
}

void conv_checkpoint(roost_ctx_t *ctx, conv_t *c)
{
    store_ops_t ops;
    store_ops_init(&ops);
    for (uint32_t i = 0; i < c->nmembers; i++) {
        member_t *m = &c->members[i];
        if (m->dirty)
            conv_put_member(c, &ops, m);
        m->dirty = false;
    }
    uint64_t done = s_done_point(c);
    bool head = done != c->fanout_done;
    c->fanout_done = done;
    if (head)
        conv_put_head(c, &ops);
    if (c->indexed && done >= c->head && !conv_receipts_unsettled(c)) {
        akey_t f = {.n = 0};
        akey_str(&f, "~f/");
        akey_str(&f, c->key);
        store_ops_delete(&ops, f.b, f.n);
        c->indexed = false;
    }
    if (ops.count)
        base_write(ctx, &c->base, &ops, s_checkpointed, NULL);
    store_ops_fini(&ops);
}
