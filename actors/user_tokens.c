/* actors/user_tokens.c — refresh tokens: device-bound, single use, rotated on every use.
 *
 * A token is "rt1.<user>.<device>.<secret>" (the secret: 32 random bytes, base64url without
 * padding), so an edge knows whose actor to ask. Only BLAKE2b hashes of secrets are stored:
 * per device the live one and the one it replaced (u:<id>/t/<device> → {gen, token, spent}).
 *   issue    a new family for the device (after a verified code): gen moves on
 *   refresh  the live secret → a new one (the old becomes `spent`), gen moves on;
 *            the spent secret again → the device's whole family is revoked (eacces), gen moves
 *            on so access tokens of the family stop working at their next session;
 *            anything else → eacces
 *   check    is this generation the device's current one (an access token's `gen`)
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/msgs.h"
#include "actors/user.h"
#include "runtime/errors.h"
#include "runtime/util.h"

enum { SECRET_BYTES = 32, TOKEN_BYTES_MAX = 200 };

static void s_hash(const char *secret, size_t len, uint8_t out[32])
{
    crypto_generichash(out, 32, (const uint8_t *)secret, len, NULL, 0);
}

static void s_put(user_t *u, store_ops_t *ops, const device_t *d)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 3);
    mp_kv_u64(&b.pk, "gen", d->gen);
    mp_pack_str(&b.pk, "token");
    mp_pack_bin(&b.pk, d->token, sizeof d->token);
    mp_pack_str(&b.pk, "spent");
    mp_pack_bin(&b.pk, d->spent, sizeof d->spent);
    akey_t k;
    akey_init(&k, u->key, "t/");
    akey_str(&k, d->id);
    store_ops_put(ops, k.b, k.n, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

int user_load_tokens(roost_ctx_t *ctx, user_t *u, device_t *d)
{
    akey_t k;
    akey_init(&k, u->key, "t/");
    akey_str(&k, d->id);
    msgpack_unpacked up;
    int rc = base_get_doc(ctx, k.b, k.n, &up);
    mp_str_t t, s;
    if (rc == ROOST_OK && mp_get_bin(&up.data, "token", 32, &t) == MP_OK && t.len == 32 &&
        mp_get_bin(&up.data, "spent", 32, &s) == MP_OK && s.len == 32) {
        mp_get_u64(&up.data, "gen", &d->gen);
        memcpy(d->token, t.ptr, 32);
        memcpy(d->spent, s.ptr, 32);
    }
    msgpack_unpacked_destroy(&up);
    return rc == ROOST_ENOTFOUND || rc == ROOST_OK ? ROOST_OK : rc;
}

/* A fresh secret for d; the token string into out. */
static void s_mint(roost_ctx_t *ctx, user_t *u, device_t *d, char out[TOKEN_BYTES_MAX])
{
    uint8_t raw[SECRET_BYTES];
    roost_ctx_secret_bytes(ctx, raw, sizeof raw);
    char secret[sodium_base64_ENCODED_LEN(SECRET_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(secret, sizeof secret, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    s_hash(secret, strlen(secret), d->token);
    snprintf(out, TOKEN_BYTES_MAX, "rt1.%s.%s.%s", u->id_s, d->id, secret);
    sodium_memzero(secret, sizeof secret);
}

typedef struct {
    roost_env_t *req;
    char token[TOKEN_BYTES_MAX]; /* "" : refused (revoked) */
    uint64_t gen;
} minted_t;

static void s_minted(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)self;
    minted_t *m = arg;
    if (status != ROOST_OK || !m->token[0]) {
        roost_ctx_reply_error(ctx, m->req, status != ROOST_OK ? status : ROOST_EACCES);
    } else {
        mp_buf_t b;
        mp_buf_init(&b);
        msgpack_pack_array(&b.pk, 2);
        mp_pack_str(&b.pk, m->token);
        msgpack_pack_uint64(&b.pk, m->gen);
        roost_ctx_reply(ctx, m->req, m->req->type, b.sb.data, b.sb.size);
        mp_buf_fini(&b);
    }
    roost_env_free(m->req);
    sodium_memzero(m->token, sizeof m->token);
    free(m);
}

/* The secret of a token string if it is this user's and device's ("" otherwise). */
static bool s_secret_of(const user_t *u, const device_t *d, mp_str_t token, const char **secret,
                        size_t *len)
{
    char prefix[ID_BYTES_MAX + DEVICE_BYTES_MAX + 8];
    int n = snprintf(prefix, sizeof prefix, "rt1.%s.%s.", u->id_s, d->id);
    if (n <= 0 || token.len <= (size_t)n || token.len > TOKEN_BYTES_MAX ||
        memcmp(token.ptr, prefix, (size_t)n) != 0)
        return false;
    *secret = token.ptr + n;
    *len = token.len - (size_t)n;
    return true;
}

static void s_store_and_answer(roost_ctx_t *ctx, user_t *u, device_t *d, minted_t *m)
{
    store_ops_t ops;
    store_ops_init(&ops);
    s_put(u, &ops, d);
    m->gen = d->gen;
    base_write(ctx, &u->base, &ops, s_minted, m);
    store_ops_fini(&ops);
}

static void s_refresh(roost_ctx_t *ctx, user_t *u, device_t *d, mp_str_t token, minted_t *m)
{
    const char *secret = NULL;
    size_t len = 0;
    uint8_t h[32], zero[32] = {0};
    if (!s_secret_of(u, d, token, &secret, &len) || !memcmp(d->token, zero, 32)) {
        m->token[0] = '\0';
        base_after(ctx, &u->base, s_minted, m); /* refused; nothing changes */
        return;
    }
    s_hash(secret, len, h);
    if (sodium_memcmp(h, d->token, 32) == 0) { /* the live one: rotate */
        memcpy(d->spent, d->token, 32);
        d->gen++;
        s_mint(ctx, u, d, m->token);
    } else if (sodium_memcmp(h, d->spent, 32) == 0) { /* a spent one again: stolen? revoke */
        memset(d->token, 0, 32);
        memset(d->spent, 0, 32);
        d->gen++;
        m->token[0] = '\0';
    } else {
        m->token[0] = '\0';
        base_after(ctx, &u->base, s_minted, m);
        return;
    }
    s_store_and_answer(ctx, u, d, m);
}

void user_on_token(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = &up.data;
    mp_str_t dev, token;
    char device[DEVICE_BYTES_MAX + 1];
    device_t *d = NULL;
    uint64_t gen = 0;
    if (!mp_parse(&up, env->payload, env->payload_len) || a->type != MSGPACK_OBJECT_ARRAY ||
        a->via.array.size < 1 || !mp_as_str(&a->via.array.ptr[0], &dev) ||
        !mp_str_copy(dev, device, sizeof device)) {
        roost_ctx_reply_error(ctx, env, ROOST_EPROTO);
    } else if (!(d = user_device(u, device))) {
        roost_ctx_reply_error(ctx, env, ROOST_EACCES); /* no such device (any more) */
    } else if (env->type == MSG_TOKEN_CHECK) {
        bool ok = a->via.array.size == 2 && mp_as_u64(&a->via.array.ptr[1], &gen) &&
                  gen == d->gen && gen != 0;
        if (ok)
            roost_ctx_reply(ctx, env, MSG_TOKEN_CHECK, NULL, 0);
        else
            roost_ctx_reply_error(ctx, env, ROOST_EACCES);
    } else {
        minted_t *m = roost_xcalloc(1, sizeof *m);
        m->req = roost_ctx_keep(ctx);
        if (env->type == MSG_TOKEN_ISSUE) {
            memset(d->spent, 0, 32);
            d->gen++;
            s_mint(ctx, u, d, m->token);
            s_store_and_answer(ctx, u, d, m);
        } else if (a->via.array.size == 2 && mp_as_str(&a->via.array.ptr[1], &token)) {
            s_refresh(ctx, u, d, token, m);
        } else {
            m->token[0] = '\0';
            base_after(ctx, &u->base, s_minted, m);
        }
    }
    msgpack_unpacked_destroy(&up);
}
