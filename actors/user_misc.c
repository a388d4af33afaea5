/* actors/user_misc.c — the user's smaller requests: contacts, blocks, privacy, profile,
 * prekeys (keys.put/keys.get), reports, group.create (idempotent on cmid) and account.delete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal/curve.h>
#include <signal/signal_protocol.h>

#include "actors/conv.h"
#include "actors/msgs.h"
#include "actors/user.h"
#include "runtime/errors.h"
#include "runtime/hash.h"
#include "runtime/util.h"
#include "shards/store.h"

enum {
    ACT_CONTACT = 0,
    ACT_BLOCK = 1,
    ACT_UNBLOCK = 2,
    PREKEYS_PER_PUT_MAX = 100,
    REASON_BYTES_MAX = 512,
    GROUP_CREATE_TRIES = 3,
};

static void s_stored(roost_ctx_t *ctx, user_t *u, roost_env_t *req, store_ops_t *ops)
{
    base_write(ctx, &u->base, ops, NULL, NULL);
    store_ops_fini(ops);
    user_ok_after(ctx, u, req);
}

static bool s_user_field(roost_ctx_t *ctx, creq_t *r, roost_env_t *env, uint64_t *out)
{
    mp_str_t s;
    if (mp_get_str(r->frame, "user", 1, ID_BYTES_MAX, &s) != MP_OK ||
        !(*out = id_parse(s.ptr, s.len))) {
        client_bad_field(ctx, env, "user");
        return false;
    }
    return true;
}

static pend_t *s_request(roost_ctx_t *ctx, user_t *u, const char *key, uint32_t type,
                         const mp_buf_t *b, int kind, roost_env_t *req, uint64_t a, const char *s)
{
    uint64_t corr = 0;
    if (roost_ctx_request(ctx, key, type, b ? b->sb.data : NULL, b ? b->sb.size : 0, 0, &corr) !=
        ROOST_OK) {
        client_err(ctx, req, CODE_UNAVAILABLE, "try again");
        roost_env_free(req);
        return NULL;
    }
    pend_t *p = pend_add(&u->pend, corr, kind, req);
    p->a = a;
    if (s)
        snprintf(p->s, sizeof p->s, "%s", s);
    user_ensure_tick(ctx, u);
    return p;
}

/* ---- contacts and blocks: the other user must exist first ------------------------------- */

static void s_contact_like(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env, int act)
{
    uint64_t other;
    mp_str_t name = {"", 0};
    if (!s_user_field(ctx, r, env, &other))
        return;
    if (act == ACT_CONTACT &&
        mp_get_str(r->frame, "name", 0, USER_NAME_BYTES_MAX, &name) == MP_BADTYPE)
        return client_bad_field(ctx, env, "name");
    if (other == u->id && act != ACT_CONTACT)
        return client_err(ctx, env, CODE_BAD_REQUEST, "cannot block yourself");
    if (act == ACT_CONTACT && !user_contact(u, other, false) && u->ncontacts >= USER_CONTACTS_MAX)
        return client_err(ctx, env, CODE_CONFLICT, "too many contacts");
    char key[ID_BYTES_MAX + 3], nm[USER_NAME_BYTES_MAX + 1];
    id_key(key, 'u', other);
    mp_str_copy(name, nm, sizeof nm);
    s_request(ctx, u, key, MSG_USER_EXISTS, NULL, PEND_CONTACT_CHECK, roost_ctx_keep(ctx),
              (uint64_t)act << 56 | other, nm);
}

static void s_block_recorded(roost_ctx_t *ctx, user_t *u, pend_t *p, const roost_env_t *env)
{
    if (env->flags & ROOST_ENV_ERROR)
        return client_err(ctx, p->req, CODE_UNAVAILABLE, "try again");
    contact_t *c = user_contact(u, p->a, true);
    if (!c)
        return client_err(ctx, p->req, CODE_CONFLICT, "too many contacts");
    c->blocked = p->b == ACT_BLOCK;
    store_ops_t ops;
    store_ops_init(&ops);
    user_put_record(u, &ops);
    s_stored(ctx, u, p->req, &ops);
    p->req = NULL;
}

static void s_contact_checked(roost_ctx_t *ctx, user_t *u, pend_t *p, const roost_env_t *env)
{
    int act = (int)(p->a >> 56);
    uint64_t other = p->a & ID_MAX;
    if (env->flags & ROOST_ENV_ERROR)
        return client_err(ctx, p->req, client_code_for(env->status),
                          env->status == ROOST_ENOTFOUND ? "no such user" : "try again");
    if (act == ACT_CONTACT) {
        contact_t *c = user_contact(u, other, true);
        if (!c)
            return client_err(ctx, p->req, CODE_CONFLICT, "too many contacts");
        c->contact = true;
        memcpy(c->name, p->s, sizeof c->name - 1);
        c->name[sizeof c->name - 1] = '\0';
        store_ops_t ops;
        store_ops_init(&ops);
        user_put_record(u, &ops);
        s_stored(ctx, u, p->req, &ops);
        p->req = NULL;
        return;
    }
    /* a block is state of the direct conversation, recorded there before the answer */
    char conv[CONV_KEY_BYTES_MAX + 1];
    conv_direct_key(conv, u->id, other);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 2);
    mp_pack_str(&b.pk, u->id_s);
    if (act == ACT_BLOCK)
        msgpack_pack_true(&b.pk);
    else
        msgpack_pack_false(&b.pk);
    uint64_t corr = 0;
    if (roost_ctx_request(ctx, conv, MSG_BLOCK_SET, b.sb.data, b.sb.size, 0, &corr) == ROOST_OK) {
        pend_t *q = pend_add(&u->pend, corr, PEND_BLOCK, p->req);
        q->a = other;
        q->b = (uint64_t)act;
        p->req = NULL;
    } else {
        client_err(ctx, p->req, CODE_UNAVAILABLE, "try again");
    }
    mp_buf_fini(&b);
}

static void s_contacts_list(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < u->ncontacts; i++)
        n += u->contacts[i].contact || u->contacts[i].blocked;
    mp_buf_t b;
    client_ok_begin(&b, 1);
    mp_pack_str(&b.pk, "contacts");
    msgpack_pack_array(&b.pk, n);
    for (uint32_t i = 0; i < u->ncontacts; i++) {
        const contact_t *c = &u->contacts[i];
        if (!c->contact && !c->blocked)
            continue;
        char id[ID_BYTES_MAX + 1];
        id_format(id, c->user);
        msgpack_pack_map(&b.pk, 3);
        mp_kv_str(&b.pk, "user", id);
        mp_kv_str(&b.pk, "name", c->name);
        mp_kv_bool(&b.pk, "blocked", c->blocked);
    }
    client_reply(ctx, env, &b);
    mp_buf_fini(&b);
}

/* ---- privacy and profile ------------------------------------------------------------------- */

static void s_privacy_set(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env)
{
    mp_str_t ls;
    bool rr;
    mp_rc_t a = mp_get_str(r->frame, "last_seen", 1, 16, &ls);
    mp_rc_t b = mp_get_bool(r->frame, "read_receipts", &rr);
    int lsp = -1;
    if (a == MP_OK)
        lsp = mp_str_eq(ls, "everyone")   ? LS_EVERYONE
              : mp_str_eq(ls, "contacts") ? LS_CONTACTS
              : mp_str_eq(ls, "nobody")   ? LS_NOBODY
                                          : -1;
    if (a == MP_BADTYPE || (a == MP_OK && lsp < 0))
        return client_bad_field(ctx, env, "last_seen");
    if (b == MP_BADTYPE)
        return client_bad_field(ctx, env, "read_receipts");
    if (a == MP_MISSING && b == MP_MISSING)
        return client_err(ctx, env, CODE_BAD_REQUEST, "nothing to set");
    if (a == MP_OK)
        u->ls_privacy = (uint8_t)lsp;
    if (b == MP_OK)
        u->read_receipts = rr;
    store_ops_t ops;
    store_ops_init(&ops);
    user_put_record(u, &ops);
    s_stored(ctx, u, roost_ctx_keep(ctx), &ops);
}

static void s_profile_set(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env)
{
    mp_str_t name, status;
    mp_rc_t a = mp_get_str(r->frame, "display_name", 0, USER_NAME_BYTES_MAX, &name);
    mp_rc_t b = mp_get_str(r->frame, "status_message", 0, USER_STATUS_BYTES_MAX, &status);
    if (a == MP_BADTYPE)
        return client_bad_field(ctx, env, "display_name");
    if (b == MP_BADTYPE)
        return client_bad_field(ctx, env, "status_message");
    if (a == MP_MISSING && b == MP_MISSING)
        return client_err(ctx, env, CODE_BAD_REQUEST, "nothing to set");
    if (a == MP_OK)
        mp_str_copy(name, u->display_name, sizeof u->display_name);
    if (b == MP_OK)
        mp_str_copy(status, u->status_message, sizeof u->status_message);
    store_ops_t ops;
    store_ops_init(&ops);
    user_put_record(u, &ops);
    s_stored(ctx, u, roost_ctx_keep(ctx), &ops);
}

/* ---- prekeys ------------------------------------------------------------------------------- */

static bool s_key33(const msgpack_object *o)
{
    return o && (o->type == MSGPACK_OBJECT_BIN) && o->via.bin.size == 33 &&
           (uint8_t)o->via.bin.ptr[0] == 0x05;
}

/* The XEdDSA signature of the signed prekey by the identity key (libsignal-protocol-c). */
static bool s_signature_ok(const msgpack_object *identity, const msgpack_object *key,
                           const msgpack_object *sig)
{
    signal_context *sc = NULL;
    ec_public_key *pub = NULL;
    bool ok = false;
    if (signal_context_create(&sc, NULL) == 0 &&
        curve_decode_point(&pub, (const uint8_t *)identity->via.bin.ptr, 33, sc) == 0)
        ok = curve_verify_signature(pub, (const uint8_t *)key->via.bin.ptr, 33,
                                    (const uint8_t *)sig->via.bin.ptr, sig->via.bin.size) == 1;
    if (pub)
        SIGNAL_UNREF(pub);
    if (sc)
        signal_context_destroy(sc);
    return ok;
}

/* u:<id>/o/<device>/<be64 id> (a one-time prekey), or with table "ps/" the mark that it was
 * handed out: the hash of its key. */
static void s_prekey_key(const user_t *u, const char *table, const char *device, uint64_t id,
                         akey_t *k)
{
    akey_init(k, u->key, table);
    akey_str(k, device);
    akey_str(k, "/");
    akey_be64(k, id);
}

static bool s_taken(const user_t *u, const char *device, uint64_t id);

/* Whether device's one-time prekey (id, key) was handed out already — a keys.put retried after
 * its answer was lost, or a client that uploads its keys again, must not bring it back: it
 * would be handed out a second time (found by the simulator, docs/simulation.md). */
static bool s_spent(roost_ctx_t *ctx, const user_t *u, const char *device, uint64_t id,
                    const msgpack_object *key)
{
    if (s_taken(u, device, id))
        return true; /* its handout is being stored */
    akey_t k;
    s_prekey_key(u, "ps/", device, id, &k);
    void *val = NULL;
    size_t len = 0;
    if (store_get(ctx, k.b, k.n, &val, &len) != ROOST_OK)
        return false;
    uint64_t h = roost_hash64(key->via.bin.ptr, key->via.bin.size);
    bool same = len == sizeof h && memcmp(val, &h, sizeof h) == 0;
    free(val);
    return same;
}

static void s_keys_put(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env)
{
    uint64_t reg, spk_id;
    const msgpack_object *identity = mp_get(r->frame, "identity"), *spk, *prekeys = NULL;
    if (mp_get_u64(r->frame, "registration_id", &reg) != MP_OK || reg == 0 || reg > 0x3FFF)
        return client_bad_field(ctx, env, "registration_id");
    if (!s_key33(identity))
        return client_bad_field(ctx, env, "identity");
    if (mp_get_map(r->frame, "signed_prekey", &spk) != MP_OK ||
        mp_get_u64(spk, "id", &spk_id) != MP_OK || !s_key33(mp_get(spk, "key")) ||
        !mp_get(spk, "sig") || mp_get(spk, "sig")->type != MSGPACK_OBJECT_BIN ||
        mp_get(spk, "sig")->via.bin.size != 64)
        return client_bad_field(ctx, env, "signed_prekey");
    mp_rc_t prc = mp_get_array(r->frame, "prekeys", &prekeys);
    if (prc == MP_BADTYPE || (prekeys && prekeys->via.array.size > PREKEYS_PER_PUT_MAX))
        return client_bad_field(ctx, env, "prekeys");
    for (uint32_t i = 0; prekeys && i < prekeys->via.array.size; i++) {
        uint64_t id;
        if (mp_get_u64(&prekeys->via.array.ptr[i], "id", &id) != MP_OK || id == 0 ||
            !s_key33(mp_get(&prekeys->via.array.ptr[i], "key")))
            return client_bad_field(ctx, env, "prekeys");
    }
    if (!s_signature_ok(identity, mp_get(spk, "key"), mp_get(spk, "sig")))
        return client_err(ctx, env, CODE_BAD_REQUEST, "signed_prekey signature does not verify");
    store_ops_t ops;
    store_ops_init(&ops);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 3);
    mp_kv_u64(&b.pk, "registration_id", reg);
    mp_pack_str(&b.pk, "identity");
    mp_pack_obj(&b.pk, identity);
    mp_pack_str(&b.pk, "signed_prekey");
    mp_pack_obj(&b.pk, spk);
    akey_t k;
    akey_init(&k, u->key, "k/");
    akey_str(&k, r->device);
    store_ops_put(&ops, k.b, k.n, b.sb.data, b.sb.size);
    for (uint32_t i = 0; prekeys && i < prekeys->via.array.size; i++) {
        uint64_t id;
        mp_get_u64(&prekeys->via.array.ptr[i], "id", &id);
        const msgpack_object *key = mp_get(&prekeys->via.array.ptr[i], "key");
        if (s_spent(ctx, u, r->device, id, key))
            continue;
        s_prekey_key(u, "o/", r->device, id, &k);
        store_ops_put(&ops, k.b, k.n, key->via.bin.ptr, key->via.bin.size);
    }
    mp_buf_fini(&b);
    s_stored(ctx, u, roost_ctx_keep(ctx), &ops);
}

typedef struct {
    const user_t *u;
    const char *device;
    uint64_t id;
    void *key;
    size_t len;
    uint8_t kb[AKEY_BYTES_MAX];
    size_t klen;
} prekey_t;

static bool s_taken(const user_t *u, const char *device, uint64_t id)
{
    for (uint32_t i = 0; i < u->ntaken; i++)
        if (u->taken[i].id == id && strcmp(u->taken[i].device, device) == 0)
            return true;
    return false;
}

/* The first one-time prekey not handed out already (its delete may still be in flight). */
static bool s_first_prekey(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                           size_t vlen)
{
    prekey_t *p = arg;
    if (klen < 8 || klen > sizeof p->kb || s_taken(p->u, p->device, akey_get_be64(key + klen - 8)))
        return true;
    p->id = akey_get_be64(key + klen - 8);
    p->key = roost_xmalloc(vlen);
    memcpy(p->key, val, vlen);
    p->len = vlen;
    memcpy(p->kb, key, klen);
    p->klen = klen;
    return false;
}

/* Packs one device's bundle, taking (deleting) one of its one-time prekeys. */
static bool s_pack_bundle(roost_ctx_t *ctx, user_t *u, const char *device, msgpack_packer *pk,
                          store_ops_t *ops)
{
    akey_t k;
    akey_init(&k, u->key, "k/");
    akey_str(&k, device);
    msgpack_unpacked up;
    if (base_get_doc(ctx, k.b, k.n, &up) != ROOST_OK || up.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(&up);
        return false;
    }
    akey_init(&k, u->key, "o/");
    akey_str(&k, device);
    akey_str(&k, "/");
    prekey_t pre = {.u = u, .device = device};
    store_scan(ctx, k.b, k.n, false, u->ntaken + 1, s_first_prekey, &pre);
    msgpack_pack_map(pk, up.data.via.map.size + 1 + (pre.key != NULL));
    mp_kv_str(pk, "device", device);
    for (uint32_t i = 0; i < up.data.via.map.size; i++) {
        mp_pack_obj(pk, &up.data.via.map.ptr[i].key);
        mp_pack_obj(pk, &up.data.via.map.ptr[i].val);
    }
    if (pre.key) {
        mp_pack_str(pk, "prekey");
        msgpack_pack_map(pk, 2);
        mp_kv_u64(pk, "id", pre.id);
        mp_pack_str(pk, "key");
        mp_pack_bin(pk, pre.key, pre.len);
        store_ops_delete(ops, pre.kb, pre.klen); /* handed out once, */
        uint64_t h = roost_hash64(pre.key, pre.len);
        s_prekey_key(u, "ps/", device, pre.id, &k); /* and never stored again */
        store_ops_put(ops, k.b, k.n, &h, sizeof h);
        u->taken = roost_xgrow_zeroed(u->taken, &u->taken_cap, sizeof *u->taken, u->ntaken);
        taken_prekey_t *t = &u->taken[u->ntaken++];
        snprintf(t->device, sizeof t->device, "%s", device);
        t->id = pre.id;
        free(pre.key);
    }
    msgpack_unpacked_destroy(&up);
    return true;
}

typedef struct {
    roost_env_t *req;
    mp_buf_t b;
    uint32_t taken; /* prekeys this answer hands out: the oldest ones of user_t.taken */
} reply_later_t;

/* Answers a keys.get once its deletes are durable (or failed: then the actor reloads, and
 * what it had taken is forgotten with its state); they no longer need marking. */
static void s_reply_later(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    user_t *u = self;
    reply_later_t *l = arg;
    if (status == ROOST_OK && l->taken && l->taken <= u->ntaken) { /* writes complete in order */
        memmove(u->taken, u->taken + l->taken, (u->ntaken - l->taken) * sizeof *u->taken);
        u->ntaken -= l->taken;
    }
    if (status == ROOST_OK)
        client_reply(ctx, l->req, &l->b);
    else
        client_err(ctx, l->req, CODE_UNAVAILABLE, "try again");
    roost_env_free(l->req);
    mp_buf_fini(&l->b);
    free(l);
}

static void s_keys_get(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env)
{
    uint64_t target;
    mp_str_t dev;
    if (!s_user_field(ctx, r, env, &target))
        return;
    mp_rc_t drc = mp_get_str(r->frame, "device", 1, DEVICE_BYTES_MAX, &dev);
    if (drc == MP_BADTYPE)
        return client_bad_field(ctx, env, "device");
    if (target != u->id || !u->exists || u->deleted)
        return client_err(ctx, env, CODE_NOT_FOUND, "no such user");
    char want[DEVICE_BYTES_MAX + 1] = "";
    if (drc == MP_OK)
        mp_str_copy(dev, want, sizeof want);
    if (want[0] && !user_device(u, want))
        return client_err(ctx, env, CODE_NOT_FOUND, "no such device");
    mp_buf_t items;
    mp_buf_init(&items);
    store_ops_t ops;
    store_ops_init(&ops);
    uint32_t n = 0, taken_before = u->ntaken;
    for (uint32_t i = 0; i < u->ndevices; i++)
        if ((!want[0] || strcmp(want, u->devices[i].id) == 0) &&
            s_pack_bundle(ctx, u, u->devices[i].id, &items.pk, &ops))
            n++;
    reply_later_t *later = roost_xmalloc(sizeof *later);
    later->req = roost_ctx_keep(ctx);
    later->taken = u->ntaken - taken_before;
    client_ok_begin(&later->b, 1);
    mp_pack_str(&later->b.pk, "bundles");
    msgpack_pack_array(&later->b.pk, n);
    msgpack_sbuffer_write(&later->b.sb, items.sb.data, items.sb.size);
    mp_buf_fini(&items);
    /* answered once the one-time prekeys it hands out are gone for good */
    if (ops.count)
        base_write(ctx, &u->base, &ops, s_reply_later, later);
    else
        base_after(ctx, &u->base, s_reply_later, later);
    store_ops_fini(&ops);
}

/* ---- reports ------------------------------------------------------------------------------- */

static void s_report(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env)
{
    uint64_t target;
    mp_str_t reason, conv = {"", 0}, mid = {"", 0};
    if (!s_user_field(ctx, r, env, &target))
        return;
    if (mp_get_str(r->frame, "reason", 1, REASON_BYTES_MAX, &reason) != MP_OK)
        return client_bad_field(ctx, env, "reason");
    if (mp_get_str(r->frame, "conv", 1, CONV_KEY_BYTES_MAX, &conv) == MP_BADTYPE)
        return client_bad_field(ctx, env, "conv");
    if (mp_get_str(r->frame, "mid", 1, 64, &mid) == MP_BADTYPE)
        return client_bad_field(ctx, env, "mid");
    if (target != u->id || !u->exists || u->deleted)
        return client_err(ctx, env, CODE_NOT_FOUND, "no such user");
    uint64_t ts = roost_ctx_wall_ms(ctx);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 5);
    mp_kv_str(&b.pk, "by", r->user_s);
    mp_pack_str(&b.pk, "conv");
    mp_pack_strn(&b.pk, conv.ptr, conv.len);
    mp_pack_str(&b.pk, "mid");
    mp_pack_strn(&b.pk, mid.ptr, mid.len);
    mp_pack_str(&b.pk, "reason");
    mp_pack_strn(&b.pk, reason.ptr, reason.len);
    mp_kv_u64(&b.pk, "ts", ts);
    akey_t k;
    akey_init(&k, u->key, "rp/");
    akey_be64(&k, ts);
    akey_be64(&k, roost_rng_next(roost_ctx_rng(ctx)));
    store_ops_t ops;
    store_ops_init(&ops);
    store_ops_put(&ops, k.b, k.n, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
    s_stored(ctx, u, roost_ctx_keep(ctx), &ops);
}

/* ---- group.create -------------------------------------------------------------------------- */

static void s_create_group(roost_ctx_t *ctx, user_t *u, roost_env_t *req, uint64_t gid,
                           uint64_t tries);

static void s_gc_key(const user_t *u, const char *cmid, akey_t *k)
{
    akey_init(k, u->key, "gc/");
    akey_str(k, cmid);
}

static void s_group_create(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env)
{
    mp_str_t name, cmid = {"", 0};
    const msgpack_object *members;
    if (mp_get_str(r->frame, "name", 1, 128, &name) != MP_OK)
        return client_bad_field(ctx, env, "name");
    if (mp_get_array(r->frame, "members", &members) != MP_OK ||
        members->via.array.size > CONV_GROUP_MAX_LIMIT)
        return client_bad_field(ctx, env, "members");
    for (uint32_t i = 0; i < members->via.array.size; i++) {
        mp_str_t s;
        if (!mp_as_str(&members->via.array.ptr[i], &s) || !id_parse(s.ptr, s.len))
            return client_bad_field(ctx, env, "members");
    }
    if (mp_get_str(r->frame, "cmid", 1, 64, &cmid) == MP_BADTYPE)
        return client_bad_field(ctx, env, "cmid");
    uint64_t gid = 0;
    if (cmid.len) { /* the same cmid again: the same group (created, or being created) */
        char c[65];
        mp_str_copy(cmid, c, sizeof c);
        akey_t k;
        s_gc_key(u, c, &k);
        base_get_u64(ctx, k.b, k.n, &gid);
    }
    s_create_group(ctx, u, roost_ctx_keep(ctx), gid, 0);
}

/* Records cmid → gid (so a retry finds it), then asks g:<gid> to create itself. */
static void s_create_group(roost_ctx_t *ctx, user_t *u, roost_env_t *req, uint64_t gid,
                           uint64_t tries)
{
    creq_t r;
    if (!creq_parse(&r, req)) {
        roost_env_free(req);
        return;
    }
    mp_str_t name, cmid = {"", 0};
    const msgpack_object *members;
    mp_get_str(r.frame, "name", 1, 128, &name);
    mp_get_array(r.frame, "members", &members);
    mp_get_str(r.frame, "cmid", 1, 64, &cmid);
    char c[80];
    if (cmid.len)
        mp_str_copy(cmid, c, sizeof c);
    else /* no cmid: not idempotent, but the group still records who made it */
        snprintf(c, sizeof c, "@%016llx", (unsigned long long)roost_rng_next(roost_ctx_rng(ctx)));
    bool fresh = gid == 0;
    if (fresh)
        gid = 1 + roost_rng_below(roost_ctx_rng(ctx), ID_MAX);
    if (fresh && cmid.len) {
        store_ops_t ops;
        store_ops_init(&ops);
        akey_t k, v = {.n = 0};
        s_gc_key(u, c, &k);
        akey_be64(&v, gid);
        store_ops_put(&ops, k.b, k.n, v.b, v.n);
        base_write(ctx, &u->base, &ops, NULL, NULL); /* durable before the group's answer */
        store_ops_fini(&ops);
    }
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 4);
    mp_pack_str(&b.pk, u->id_s);
    mp_pack_str(&b.pk, c);
    mp_pack_strn(&b.pk, name.ptr, name.len);
    mp_pack_obj(&b.pk, members);
    char key[ID_BYTES_MAX + 3];
    id_key(key, 'g', gid);
    creq_fini(&r);
    pend_t *p = s_request(ctx, u, key, MSG_GROUP_CREATE, &b, PEND_GROUP_CREATE, req, gid, NULL);
    if (p)
        p->b = tries;
    mp_buf_fini(&b);
}

typedef struct {
    roost_env_t *req;
    uint64_t gid;
} group_made_t;

static void s_group_made(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)self;
    group_made_t *g = arg;
    if (status != ROOST_OK) {
        client_err(ctx, g->req, CODE_UNAVAILABLE, "try again with the same cmid");
    } else {
        char id[ID_BYTES_MAX + 1];
        id_format(id, g->gid);
        mp_buf_t b;
        client_ok_begin(&b, 1);
        mp_kv_str(&b.pk, "group", id);
        client_reply(ctx, g->req, &b);
        mp_buf_fini(&b);
    }
    roost_env_free(g->req);
    free(g);
}

static void s_group_answer(roost_ctx_t *ctx, user_t *u, pend_t *p, const roost_env_t *env)
{
    int st = (env->flags & ROOST_ENV_ERROR) ? env->status : ROOST_OK;
    if (st == ROOST_EEXIST && p->b + 1 < GROUP_CREATE_TRIES) { /* that id is taken: another */
        s_create_group(ctx, u, p->req, 0, p->b + 1);
        p->req = NULL;
        return;
    }
    if (st == ROOST_OK) {
        group_made_t *g = roost_xmalloc(sizeof *g);
        *g = (group_made_t){.req = p->req, .gid = p->a};
        p->req = NULL;
        base_after(ctx, &u->base, s_group_made, g); /* the cmid record is durable too */
        return;
    }
    const char *code = st == ROOST_ENOTFOUND ? CODE_NOT_FOUND
                       : st == ROOST_ETOOBIG ? CODE_CONFLICT
                       : st == ROOST_EPROTO  ? CODE_BAD_REQUEST
                                             : CODE_UNAVAILABLE;
    client_err(ctx, p->req, code,
               st == ROOST_ENOTFOUND ? "no such user"
               : st == ROOST_ETOOBIG ? "more members than the group allows"
               : st == ROOST_EPROTO  ? "invalid group"
                                     : "try again with the same cmid");
}

/* ---- account.delete ------------------------------------------------------------------------ */

static void s_deleted(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    user_t *u = self;
    roost_env_t *req = arg;
    if (status == ROOST_OK) {
        client_ok(ctx, req);
        user_kick_all(ctx, u, "account deleted");
    } else {
        client_err(ctx, req, CODE_UNAVAILABLE, "try again");
    }
    roost_env_free(req);
}

static void s_account_delete(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    char phone_key[PHONE_BYTES_MAX + 3];
    snprintf(phone_key, sizeof phone_key, "p:%s", u->phone);
    u->deleted = true;
    u->ndevices = 0;
    u->ncontacts = 0;
    u->display_name[0] = u->status_message[0] = '\0';
    store_ops_t ops;
    store_ops_init(&ops);
    user_put_record(u, &ops);
    base_write(ctx, &u->base, &ops, s_deleted, roost_ctx_keep(ctx));
    store_ops_fini(&ops);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 1);
    mp_pack_str(&b.pk, u->id_s);
    roost_ctx_send(ctx, phone_key, MSG_PHONE_RELEASE, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

bool user_misc_client(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env)
{
    bool self = r->user == u->id;
    mp_str_t t = r->t;
    if (mp_str_eq(t, "keys.get"))
        s_keys_get(ctx, u, r, env);
    else if (mp_str_eq(t, "report"))
        s_report(ctx, u, r, env);
    else if (!self)
        return false;
    else if (mp_str_eq(t, "contacts.add"))
        s_contact_like(ctx, u, r, env, ACT_CONTACT);
    else if (mp_str_eq(t, "contacts.list"))
        s_contacts_list(ctx, u, env);
    else if (mp_str_eq(t, "block"))
        s_contact_like(ctx, u, r, env, ACT_BLOCK);
    else if (mp_str_eq(t, "unblock"))
        s_contact_like(ctx, u, r, env, ACT_UNBLOCK);
    else if (mp_str_eq(t, "privacy.set"))
        s_privacy_set(ctx, u, r, env);
    else if (mp_str_eq(t, "profile.set"))
        s_profile_set(ctx, u, r, env);
    else if (mp_str_eq(t, "keys.put"))
        s_keys_put(ctx, u, r, env);
    else if (mp_str_eq(t, "group.create"))
        s_group_create(ctx, u, r, env);
    else if (mp_str_eq(t, "account.delete"))
        s_account_delete(ctx, u, env);
    else
        return false;
    return true;
}

bool user_misc_answer(roost_ctx_t *ctx, user_t *u, pend_t *p, const roost_env_t *env)
{
    switch (p->kind) {
    case PEND_CONTACT_CHECK:
        s_contact_checked(ctx, u, p, env);
        return true;
    case PEND_BLOCK:
        s_block_recorded(ctx, u, p, env);
        return true;
    case PEND_GROUP_CREATE:
        s_group_answer(ctx, u, p, env);
        return true;
    }
    return false;
}
