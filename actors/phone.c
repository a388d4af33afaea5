/* actors/phone.c — the phone registry (p:<E.164>): which account a number belongs to, unique.
 *
 * MSG_PHONE_CLAIM [device] (the edge, after a verified OTP) answers {"user", "created"}: the
 * number's account with the device registered — created on the first claim. One claim runs at
 * a time; the others wait. A new account's id is random (1…2^53−1); it is recorded as *pending*
 * before u:<id> is asked to create itself, so a claim retried after a crash reuses it, and an id
 * another account holds (u:<id> answers eexist) is replaced by a fresh one. Two claims of one
 * number can therefore never make two accounts.
 * Durable layout: p:<phone> → {user, pending}.
 */
#include "actors/phone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/base.h"
#include "actors/ids.h"
#include "actors/mp.h"
#include "actors/msgs.h"
#include "runtime/errors.h"
#include "runtime/util.h"
#include "shards/store.h"

enum { CLAIM_TRIES = 5 };

typedef struct {
    base_t base;
    char phone[PHONE_BYTES_MAX + 1];
    uint64_t user, pending;
    roost_env_t *claim; /* the claim being served (kept) */
    char device[DEVICE_BYTES_MAX + 1];
    uint64_t corr;
    uint32_t tries;
    roost_env_t *queue, *queue_tail; /* claims waiting their turn */
} phone_t;

static void s_put(phone_t *p, store_ops_t *ops)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 2);
    mp_kv_u64(&b.pk, "user", p->user);
    mp_kv_u64(&b.pk, "pending", p->pending);
    char key[PHONE_BYTES_MAX + 3];
    snprintf(key, sizeof key, "p:%s", p->phone);
    store_ops_put(ops, key, strlen(key), b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

static int s_load(roost_ctx_t *ctx, void *self)
{
    phone_t *p = self;
    char key[PHONE_BYTES_MAX + 3];
    snprintf(key, sizeof key, "p:%s", p->phone);
    msgpack_unpacked up;
    int rc = base_get_doc(ctx, key, strlen(key), &up);
    if (rc == ROOST_OK) {
        mp_get_u64(&up.data, "user", &p->user);
        mp_get_u64(&up.data, "pending", &p->pending);
    }
    msgpack_unpacked_destroy(&up);
    return rc == ROOST_ENOTFOUND ? ROOST_OK : rc;
}

static void s_drop_claims(phone_t *p)
{
    roost_env_free(p->claim);
    p->claim = NULL;
    for (roost_env_t *e = p->queue, *next; e; e = next) {
        next = e->next;
        roost_env_free(e);
    }
    p->queue = p->queue_tail = NULL;
}

static void s_reset(roost_ctx_t *ctx, void *self)
{
    (void)ctx;
    phone_t *p = self;
    s_drop_claims(p);
    p->user = p->pending = p->corr = 0;
    p->tries = 0;
}

static void s_reply(roost_ctx_t *ctx, phone_t *p, bool created)
{
    char id[ID_BYTES_MAX + 1];
    id_format(id, p->user);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 3);
    mp_kv_str(&b.pk, "t", "ok");
    mp_kv_str(&b.pk, "user", id);
    mp_kv_bool(&b.pk, "created", created);
    roost_ctx_reply(ctx, p->claim, MSG_PHONE_CLAIM, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

static void s_next_claim(roost_ctx_t *ctx, phone_t *p)
{
    roost_env_free(p->claim);
    p->claim = NULL;
    p->tries = 0;
    if (!p->queue)
        return;
    roost_env_t *next = p->queue; /* handled again from the start, in order */
    p->queue = p->queue_tail = NULL;
    roost_ctx_unstash(ctx, next);
}

static void s_fail(roost_ctx_t *ctx, phone_t *p, int code)
{
    roost_ctx_reply_error(ctx, p->claim, code);
    s_next_claim(ctx, p);
}

static void s_ask_user(roost_ctx_t *ctx, phone_t *p, uint64_t id)
{
    char key[ID_BYTES_MAX + 3];
    id_key(key, 'u', id);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 2);
    mp_pack_str(&b.pk, p->phone);
    mp_pack_str(&b.pk, p->device);
    if (roost_ctx_request(ctx, key, MSG_USER_CREATE, b.sb.data, b.sb.size, 0, &p->corr) != ROOST_OK)
        s_fail(ctx, p, ROOST_EUNAVAIL);
    mp_buf_fini(&b);
}

static void s_pending_stored(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)arg;
    phone_t *p = self;
    if (!p->claim)
        return;
    if (status != ROOST_OK)
        return s_fail(ctx, p, status);
    s_ask_user(ctx, p, p->pending);
}

/* A fresh id, recorded as pending before anyone is asked to create it. */
static void s_new_account(roost_ctx_t *ctx, phone_t *p)
{
    if (++p->tries > CLAIM_TRIES)
        return s_fail(ctx, p, ROOST_EUNAVAIL);
    if (!p->pending)
        p->pending = 1 + roost_rng_below(roost_ctx_rng(ctx), ID_MAX);
    store_ops_t ops;
    store_ops_init(&ops);
    s_put(p, &ops);
    base_write(ctx, &p->base, &ops, s_pending_stored, NULL);
    store_ops_fini(&ops);
}

static void s_mapped(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)arg;
    phone_t *p = self;
    if (!p->claim)
        return;
    if (status != ROOST_OK)
        return s_fail(ctx, p, status);
    s_reply(ctx, p, true);
    s_next_claim(ctx, p);
}

static void s_on_user_answer(roost_ctx_t *ctx, phone_t *p, const roost_env_t *env)
{
    p->corr = 0;
    int st = (env->flags & ROOST_ENV_ERROR) ? env->status : ROOST_OK;
    if (p->user) { /* an existing account: the device was added, or not */
        if (st == ROOST_OK) {
            s_reply(ctx, p, false);
            return s_next_claim(ctx, p);
        }
        if (st != ROOST_EEXIST)
            return s_fail(ctx, p, st);
        p->user = 0; /* that account was deleted: this number gets a new one */
        return s_new_account(ctx, p);
    }
    if (st == ROOST_EEXIST) { /* the id is someone else's: another */
        p->pending = 0;
        return s_new_account(ctx, p);
    }
    if (st != ROOST_OK)
        return s_fail(ctx, p, st);
    p->user = p->pending;
    p->pending = 0;
    store_ops_t ops;
    store_ops_init(&ops);
    s_put(p, &ops);
    base_write(ctx, &p->base, &ops, s_mapped, NULL);
    store_ops_fini(&ops);
}

static void s_on_claim(roost_ctx_t *ctx, phone_t *p, roost_env_t *env)
{
    if (p->claim) { /* one at a time */
        roost_env_t *kept = roost_ctx_keep(ctx);
        kept->next = NULL;
        if (p->queue_tail)
            p->queue_tail->next = kept;
        else
            p->queue = kept;
        p->queue_tail = kept;
        return;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t dev;
    bool ok = mp_parse(&up, env->payload, env->payload_len) &&
              up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size == 1 &&
              mp_as_str(&up.data.via.array.ptr[0], &dev) && device_valid(dev.ptr, dev.len);
    if (ok)
        mp_str_copy(dev, p->device, sizeof p->device);
    msgpack_unpacked_destroy(&up);
    if (!ok) {
        roost_ctx_reply_error(ctx, env, ROOST_EPROTO);
        return;
    }
    p->claim = roost_ctx_keep(ctx);
    p->tries = 0;
    if (p->user)
        s_ask_user(ctx, p, p->user);
    else
        s_new_account(ctx, p);
}

static void s_released(roost_ctx_t *ctx, phone_t *p, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t u;
    if (mp_parse(&up, env->payload, env->payload_len) && up.data.type == MSGPACK_OBJECT_ARRAY &&
        up.data.via.array.size == 1 && mp_as_str(&up.data.via.array.ptr[0], &u) && p->user &&
        id_parse(u.ptr, u.len) == p->user && !p->claim) {
        p->user = 0;
        store_ops_t ops;
        store_ops_init(&ops);
        s_put(p, &ops);
        base_write(ctx, &p->base, &ops, NULL, NULL);
        store_ops_fini(&ops);
    }
    msgpack_unpacked_destroy(&up);
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    phone_t *p = state;
    if (base_filter(ctx, &p->base, env))
        return;
    if (env->flags & ROOST_ENV_RESPONSE) {
        if (p->corr && env->corr == p->corr && p->claim)
            s_on_user_answer(ctx, p, env);
        return;
    }
    if (env->type == MSG_PHONE_CLAIM)
        s_on_claim(ctx, p, env);
    else if (env->type == MSG_PHONE_RELEASE)
        s_released(ctx, p, env);
    else if (env->flags & ROOST_ENV_REQUEST)
        roost_ctx_reply_error(ctx, env, ROOST_EINVAL);
}

static void s_timer(roost_ctx_t *ctx, void *state, uint64_t id, uint64_t tag)
{
    (void)id;
    phone_t *p = state;
    base_timer(ctx, &p->base, tag);
}

static int s_activate(roost_ctx_t *ctx, void **state)
{
    const char *key = roost_ctx_self(ctx);
    if (strlen(key) < 3 || !phone_valid(key + 2, strlen(key) - 2))
        return ROOST_ENOTFOUND;
    phone_t *p = roost_xcalloc(1, sizeof *p);
    snprintf(p->phone, sizeof p->phone, "%s", key + 2);
    base_init(&p->base, p, s_load, s_reset);
    *state = p;
    return ROOST_OK;
}

static void s_passivate(roost_ctx_t *ctx, void *state)
{
    phone_t *p = state;
    base_fini(ctx, &p->base);
    s_reset(ctx, p);
    free(p);
}

const roost_behaviour_t phone_behaviour = {.kind = "p",
                                           .on_activate = s_activate,
                                           .on_message = s_message,
                                           .on_timer = s_timer,
                                           .on_passivate = s_passivate};
