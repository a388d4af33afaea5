/* sim/chat_keys.c — the phones' end-to-end keys (PROTOCOL.md, "Keys"): each phone's first
 * device, once logged in, uploads its bundle (keys.put: a signed prekey and CHAT_PREKEYS_PUT
 * one-time prekeys, their ids never used before by that phone), and now and then fetches
 * another phone's bundles (keys.get), as a sender starting a Signal session does.
 *
 * The second half of checker 10: a one-time prekey is handed out at most once (per user,
 * device and id). Under sync: none a second handout is excused only if the user's partition
 * lost writes around the first one (the delete that took it went with them).
 *
 * The identity key, signed prekey and its XEdDSA signature are one valid triple made once with
 * libsignal-protocol-c (the provider in tests/unit/test_accounts.c): the server verifies the
 * signature, and nothing here needs the private keys. One-time prekeys are only checked for
 * their form (33 bytes, 0x05 first), so the phones make them from their ids.
 */
#include <stdio.h>
#include <string.h>

#include "actors/mp.h"
#include "runtime/hash.h"
#include "sim/chat_internal.h"
#include "sim/world.h"

static const uint8_t IDENTITY[33] = {
    0x05, 0x73, 0x80, 0xee, 0xe7, 0x01, 0xd7, 0x67, 0x5f, 0xfc, 0x85,
    0xc1, 0x60, 0x1a, 0x2c, 0x42, 0x79, 0x5d, 0x83, 0x3b, 0x96, 0xfb,
    0x7e, 0x35, 0xd5, 0x53, 0xe1, 0x16, 0x22, 0x37, 0xfb, 0xd8, 0x23,
};
static const uint8_t SIGNED_PREKEY[33] = {
    0x05, 0xfb, 0x6c, 0x64, 0xac, 0x89, 0x73, 0x2d, 0xf7, 0xc0, 0x09,
    0xf8, 0xbe, 0x23, 0x57, 0x4f, 0x0a, 0x3c, 0x25, 0x73, 0xde, 0xc8,
    0x33, 0x70, 0x7a, 0xd0, 0x08, 0x0d, 0xa0, 0x2e, 0x18, 0x31, 0x4a,
};
static const uint8_t SIGNATURE[64] = {
    0x78, 0x2b, 0x84, 0xbb, 0x4a, 0xcb, 0xa6, 0x4c, 0x33, 0xee, 0x9a, 0x12, 0x31, 0xe4, 0xbe, 0xe9,
    0xe9, 0x2d, 0x8f, 0x1c, 0x1c, 0x6c, 0x9c, 0xdf, 0xb6, 0x96, 0xb0, 0x70, 0xcf, 0xad, 0x4c, 0x13,
    0x27, 0xe9, 0xbf, 0x4a, 0xe3, 0x19, 0xfc, 0xcb, 0x1c, 0x0c, 0x30, 0x26, 0x03, 0x8b, 0xad, 0x08,
    0xf0, 0xc8, 0x03, 0x35, 0xc9, 0x41, 0x34, 0xc0, 0xf4, 0xbb, 0x15, 0x8d, 0x1d, 0x07, 0xf4, 0x0d,
};

static void s_put(roost_ctx_t *ctx, simdev_t *d)
{
    mp_buf_t f;
    mp_buf_init(&f);
    msgpack_pack_map(&f.pk, 5);
    mp_kv_str(&f.pk, "t", "keys.put");
    mp_kv_u64(&f.pk, "registration_id", 1 + d->user % 0x3FFF);
    mp_pack_str(&f.pk, "identity");
    mp_pack_bin(&f.pk, IDENTITY, sizeof IDENTITY);
    mp_pack_str(&f.pk, "signed_prekey");
    msgpack_pack_map(&f.pk, 3);
    mp_kv_u64(&f.pk, "id", 1);
    mp_pack_str(&f.pk, "key");
    mp_pack_bin(&f.pk, SIGNED_PREKEY, sizeof SIGNED_PREKEY);
    mp_pack_str(&f.pk, "sig");
    mp_pack_bin(&f.pk, SIGNATURE, sizeof SIGNATURE);
    mp_pack_str(&f.pk, "prekeys");
    msgpack_pack_array(&f.pk, CHAT_PREKEYS_PUT);
    for (uint32_t k = 0; k < CHAT_PREKEYS_PUT; k++) {
        uint64_t id = d->next_prekey + k;
        uint8_t key[33] = {0x05};
        memcpy(key + 1, &id, sizeof id);
        memcpy(key + 9, &d->user, sizeof d->user);
        msgpack_pack_map(&f.pk, 2);
        mp_kv_u64(&f.pk, "id", id);
        mp_pack_str(&f.pk, "key");
        mp_pack_bin(&f.pk, key, sizeof key);
    }
    chat_request(ctx, d, d->user_key, &f, BUSY_KEYS_PUT);
    mp_buf_fini(&f);
}

static void s_get(roost_ctx_t *ctx, simdev_t *d, const simdev_t *peer, uint32_t p)
{
    char target[32];
    snprintf(target, sizeof target, "u:%s", peer->user_s);
    mp_buf_t f;
    mp_buf_init(&f);
    msgpack_pack_map(&f.pk, 2);
    mp_kv_str(&f.pk, "t", "keys.get");
    mp_kv_str(&f.pk, "user", peer->user_s);
    chat_request(ctx, d, target, &f, BUSY_KEYS_GET);
    d->busy_send = p;
    d->busy_n = peer->user;
    mp_buf_fini(&f);
}

bool chat_maybe_keys(roost_ctx_t *ctx, sim_world_t *w, sim_chat_t *c, uint32_t i)
{
    simdev_t *d = &c->dev[i];
    if (!d->keys_put) {
        s_put(ctx, d);
        return true;
    }
    if (!w->writing || c->n < 2 || roost_rng_below(&w->rng, 100) != 0)
        return false;
    if (roost_rng_below(&w->rng, 3) == 0) { /* more one-time prekeys, as a client tops up */
        s_put(ctx, d);
        return true;
    }
    uint32_t p = (i + 1 + (uint32_t)roost_rng_below(&w->rng, c->n - 1)) % c->n;
    if (c->dev[p].state != DEV_ACTIVE || !c->dev[p].keys_put)
        return false;
    s_get(ctx, d, &c->dev[p], p);
    return true;
}

/* One bundle of a keys.get answer for user: its one-time prekey, if any, must be new. */
static void s_bundle(sim_world_t *w, sim_chat_t *c, uint64_t user, const msgpack_object *b)
{
    const msgpack_object *pre;
    mp_str_t dev;
    uint64_t id = 0;
    if (mp_get_map(b, "prekey", &pre) != MP_OK)
        return; /* none left (or none put) */
    if (mp_get_u64(pre, "id", &id) != MP_OK || mp_get_str(b, "device", 1, 16, &dev) != MP_OK)
        return chat_violation(c, "a bundle's prekey without an id or a device");
    uint64_t words[3] = {user, id, roost_hash64(dev.ptr, dev.len)};
    uint64_t k = roost_hash64(words, sizeof words);
    uintptr_t first = (uintptr_t)u64map_get(&c->prekeys, k);
    c->prekeys_out++;
    if (!first) {
        u64map_put(&c->prekeys, k, (void *)(uintptr_t)(w->now_ns + 1));
        return;
    }
    char ukey[32];
    int n = snprintf(ukey, sizeof ukey, "u:%llu", (unsigned long long)user);
    chat_violation_unless_lost(c, roost_partition_of(ukey, (size_t)n, c->partitions), first - 1,
                               "one-time prekey %llu of user %llu (%.*s) handed out twice",
                               (unsigned long long)id, (unsigned long long)user, (int)dev.len,
                               dev.ptr);
}

void chat_keys_answer(sim_world_t *w, sim_chat_t *c, simdev_t *d, busy_t kind, bool ok,
                      const msgpack_object *frame)
{
    if (kind == BUSY_KEYS_PUT && ok) {
        d->keys_put = true;
        d->next_prekey += CHAT_PREKEYS_PUT;
        return;
    }
    const msgpack_object *bundles;
    if (kind != BUSY_KEYS_GET || !ok || mp_get_array(frame, "bundles", &bundles) != MP_OK)
        return;
    for (uint32_t i = 0; i < bundles->via.array.size; i++)
        s_bundle(w, c, d->busy_n, &bundles->via.array.ptr[i]);
}
