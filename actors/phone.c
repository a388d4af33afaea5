/* actors/phone.c — the phone registry (p:<E.164>): which account a number belongs to, unique.
 *
 * MSG_PHONE_CLAIM [device] (the edge, after a verified OTP) answers {"user", "created"}: the
 * number's account with the device registered — created on the first claim. One claim runs at
 * a time; the others wait. A new account's id is random (1…2^53−1); it is recorded as *pending*
 * before u:<id> is asked to create itself, so a claim retried after a crash reuses it, and an id
 * another account holds (u:<id> answers eexist) is replaced by a fresh one. Two claims of one
 * number can therefore never make two accounts.
 * One-time codes (MSG_OTP_REQUEST / MSG_OTP_VERIFY): 6 digits from libsodium's generator,
 * stored only as a salted BLAKE2b hash, valid 5 minutes, used once, void after 5 wrong tries,
 * at most 3 requested per number an hour; a right code becomes a claim.
 * Durable layout: p:<phone> → {user, pending, oh (hash), os (salt), oe (expiry), ot (wrong
 * tries), rq (the latest request times)}.
 */
#include "actors/phone.h"

#include <sodium.h>
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

enum {
    CLAIM_TRIES = 5,
    OTP_REQUESTS_PER_HOUR = 3,
    OTP_TRIES_MAX = 5, /* wrong codes before the code is void */
    OTP_VALID_MS = 5 * 60 * 1000,
    HOUR_MS = 3600 * 1000,
};

typedef struct {
    base_t base;
    char phone[PHONE_BYTES_MAX + 1];
    uint64_t user, pending;
    roost_env_t *claim; /* the claim being served (kept) */
    char device[DEVICE_BYTES_MAX + 1];
    uint64_t corr;
    uint32_t tries;
    roost_env_t *queue, *queue_tail; /* claims waiting their turn */
    /* the current one-time code, hashed (BLAKE2b of salt | phone | code) */
    uint8_t otp_hash[32], otp_salt[16];
    uint64_t otp_expires_ms;
    uint32_t otp_tries;
    uint64_t requests_ms[OTP_REQUESTS_PER_HOUR]; /* the latest code requests */
} phone_t;

static void s_put(phone_t *p, store_ops_t *ops)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 7);
    mp_kv_u64(&b.pk, "user", p->user);
    mp_kv_u64(&b.pk, "pending", p->pending);
    mp_pack_str(&b.pk, "oh");
    mp_pack_bin(&b.pk, p->otp_hash, sizeof p->otp_hash);
    mp_pack_str(&b.pk, "os");
    mp_pack_bin(&b.pk, p->otp_salt, sizeof p->otp_salt);
    mp_kv_u64(&b.pk, "oe", p->otp_expires_ms);
    mp_kv_u64(&b.pk, "ot", p->otp_tries);
    mp_pack_str(&b.pk, "rq");
    msgpack_pack_array(&b.pk, OTP_REQUESTS_PER_HOUR);
    for (int i = 0; i < OTP_REQUESTS_PER_HOUR; i++)
        msgpack_pack_uint64(&b.pk, p->requests_ms[i]);
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
        mp_str_t h, salt;
        if (mp_get_bin(&up.data, "oh", 32, &h) == MP_OK && h.len == 32 &&
            mp_get_bin(&up.data, "os", 16, &salt) == MP_OK && salt.len == 16) {
            memcpy(p->otp_hash, h.ptr, 32);
            memcpy(p->otp_salt, salt.ptr, 16);
            mp_get_u64(&up.data, "oe", &p->otp_expires_ms);
            uint64_t tries = 0;
            mp_get_u64(&up.data, "ot", &tries);
            p->otp_tries = (uint32_t)tries;
        }
        const msgpack_object *rq;
        if (mp_get_array(&up.data, "rq", &rq) == MP_OK)
            for (uint32_t i = 0; i < rq->via.array.size && i < OTP_REQUESTS_PER_HOUR; i++)
                mp_as_u64(&rq->via.array.ptr[i], &p->requests_ms[i]);
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
    memset(p->otp_hash, 0, sizeof p->otp_hash);
    p->otp_expires_ms = 0;
    p->otp_tries = 0;
    memset(p->requests_ms, 0, sizeof p->requests_ms);
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

/* Serves the envelope being handled as a claim for p->device. */
static void s_start_claim(roost_ctx_t *ctx, phone_t *p)
{
    p->claim = roost_ctx_keep(ctx);
    p->tries = 0;
    if (p->user)
        s_ask_user(ctx, p, p->user);
    else
        s_new_account(ctx, p);
}

/* Claims, and code checks that become claims, wait their turn. */
static bool s_queue_if_busy(roost_ctx_t *ctx, phone_t *p)
{
    if (!p->claim)
        return false;
    roost_env_t *kept = roost_ctx_keep(ctx);
    kept->next = NULL;
    if (p->queue_tail)
        p->queue_tail->next = kept;
    else
        p->queue = kept;
    p->queue_tail = kept;
    return true;
}

/* ---- one-time codes ---------------------------------------------------------------------- */

static void s_otp_hash(const phone_t *p, const char *code, size_t len, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, p->otp_salt, sizeof p->otp_salt);
    crypto_generichash_update(&st, (const uint8_t *)p->phone, strlen(p->phone));
    crypto_generichash_update(&st, (const uint8_t *)code, len);
    crypto_generichash_final(&st, out, 32);
}

typedef struct {
    roost_env_t *req;
    char code[8];
} otp_reply_t;

static void s_otp_stored(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)self;
    otp_reply_t *o = arg;
    if (status == ROOST_OK) {
        mp_buf_t b;
        mp_buf_init(&b);
        msgpack_pack_array(&b.pk, 1);
        mp_pack_str(&b.pk, o->code);
        roost_ctx_reply(ctx, o->req, MSG_OTP_REQUEST, b.sb.data, b.sb.size);
        mp_buf_fini(&b);
    } else {
        roost_ctx_reply_error(ctx, o->req, status);
    }
    roost_env_free(o->req);
    sodium_memzero(o->code, sizeof o->code);
    free(o);
}

/* A new code (3 an hour per number): stored hashed, answered in clear for the SMS. */
static void s_on_otp_request(roost_ctx_t *ctx, phone_t *p)
{
    uint64_t now = roost_ctx_wall_ms(ctx);
    uint32_t recent = 0, oldest = 0;
    for (uint32_t i = 0; i < OTP_REQUESTS_PER_HOUR; i++) {
        recent += p->requests_ms[i] && p->requests_ms[i] + HOUR_MS > now;
        if (p->requests_ms[i] < p->requests_ms[oldest])
            oldest = i;
    }
    roost_env_t *req = roost_ctx_keep(ctx);
    if (recent >= OTP_REQUESTS_PER_HOUR) {
        roost_ctx_reply_error(ctx, req, ROOST_ELIMIT);
        roost_env_free(req);
        return;
    }
    otp_reply_t *o = roost_xcalloc(1, sizeof *o);
    o->req = req;
    snprintf(o->code, sizeof o->code, "%06u", (unsigned)roost_ctx_secret_uniform(ctx, 1000000));
    roost_ctx_secret_bytes(ctx, p->otp_salt, sizeof p->otp_salt);
    s_otp_hash(p, o->code, 6, p->otp_hash);
    p->otp_expires_ms = now + OTP_VALID_MS;
    p->otp_tries = 0;
    p->requests_ms[oldest] = now;
    store_ops_t ops;
    store_ops_init(&ops);
    s_put(p, &ops);
    base_write(ctx, &p->base, &ops, s_otp_stored, o);
    store_ops_fini(&ops);
}

static void s_refused(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)self, (void)status;
    roost_env_t *req = arg;
    roost_ctx_reply_error(ctx, req, ROOST_EACCES);
    roost_env_free(req);
}

/* [code, device]: the right code, in time, once, within 5 tries — then a claim. */
static void s_on_otp_verify(roost_ctx_t *ctx, phone_t *p, roost_env_t *env)
{
    if (s_queue_if_busy(ctx, p))
        return;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t code, dev;
    bool ok = mp_parse(&up, env->payload, env->payload_len) &&
              up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size == 2 &&
              mp_as_str(&up.data.via.array.ptr[0], &code) && code.len <= 16 &&
              mp_as_str(&up.data.via.array.ptr[1], &dev) && device_valid(dev.ptr, dev.len);
    if (!ok) {
        msgpack_unpacked_destroy(&up);
        roost_ctx_reply_error(ctx, env, ROOST_EPROTO);
        return;
    }
    mp_str_copy(dev, p->device, sizeof p->device);
    uint8_t h[32];
    s_otp_hash(p, code.ptr, code.len, h);
    msgpack_unpacked_destroy(&up);
    bool live = p->otp_expires_ms && roost_ctx_wall_ms(ctx) < p->otp_expires_ms;
    bool match = live && sodium_memcmp(h, p->otp_hash, sizeof h) == 0;
    if (!match && live && ++p->otp_tries >= OTP_TRIES_MAX)
        p->otp_expires_ms = 0; /* too many wrong tries: the code is void */
    if (match)
        p->otp_expires_ms = 0; /* used once */
    store_ops_t ops;
    store_ops_init(&ops);
    s_put(p, &ops);
    base_write(ctx, &p->base, &ops, match ? NULL : s_refused, match ? NULL : roost_ctx_keep(ctx));
    store_ops_fini(&ops);
    if (match)
        s_start_claim(ctx, p); /* answered after the claim, which writes after this */
}

static void s_on_claim(roost_ctx_t *ctx, phone_t *p, roost_env_t *env)
{
    if (s_queue_if_busy(ctx, p)) /* one at a time */
        return;
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
    s_start_claim(ctx, p);
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

/* The operator's lookup: [user id] of this number's account; creates nothing. */
static void s_lookup(roost_ctx_t *ctx, phone_t *p, roost_env_t *env)
{
    if (!(env->flags & ROOST_ENV_REQUEST))
        return;
    if (!p->user) {
        roost_ctx_reply_error(ctx, env, ROOST_ENOTFOUND);
        return;
    }
    char id[ID_BYTES_MAX + 1];
    id_format(id, p->user);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 1);
    mp_pack_str(&b.pk, id);
    roost_ctx_reply(ctx, env, MSG_PHONE_LOOKUP, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
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
    else if (env->type == MSG_OTP_REQUEST)
        s_on_otp_request(ctx, p);
    else if (env->type == MSG_OTP_VERIFY)
        s_on_otp_verify(ctx, p, env);
    else if (env->type == MSG_PHONE_RELEASE)
        s_released(ctx, p, env);
    else if (env->type == MSG_PHONE_LOOKUP)
        s_lookup(ctx, p, env);
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
