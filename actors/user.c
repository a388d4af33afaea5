/* actors/user.c — the user actor: its durable layout, loading, dispatch and the account's own
 * messages (create, exists, device check). Durable layout (schemas/messaging.md), keys in the
 * user's partition:
 *   u:<id>                     {phone, created, deleted, name, status, lsp, rr,
 *                               devices: [[id, added]…],
 *                               contacts: [[user, name, contact, blocked]…]}
 *   u:<id>/d/<device>          cursor: the last n the device acknowledged
 *   u:<id>/n                   next_n
 *   u:<id>/fence               [era, (lo, hi)…]: positions skipped after fences
 *   u:<id>/f                   first_n (retention)
 *   u:<id>/s                   last_seen (ms)
 *   u:<id>/i/<be64 n>          an inbox entry (the event frame without n; msg: a reference)
 *   u:<id>/c/<conv>            last_seq delivered from that conversation
 *   u:<id>/r/<conv>/<by>/<st>  [seq, n] the latest receipt event of that kind
 *   u:<id>/w/<conv>            a delivered watermark its conversation has not confirmed yet
 *   u:<id>/gc/<cmid>           the group a group.create with that cmid made
 *   u:<id>/k/<device>          prekey bundle
 *   u:<id>/o/<device>/<be64>   a one-time prekey (by id)
 *   u:<id>/ps/<device>/<be64>  a one-time prekey handed out: the hash of its key (never again)
 */
#include "actors/user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/actors.h"
#include "actors/msgs.h"
#include "runtime/errors.h"
#include "runtime/util.h"
#include "shards/store.h"

device_t *user_device(user_t *u, const char *id)
{
    for (uint32_t i = 0; i < u->ndevices; i++)
        if (strcmp(u->devices[i].id, id) == 0)
            return &u->devices[i];
    return NULL;
}

device_t *user_device_add(user_t *u)
{
    if (u->ndevices >= USER_DEVICES_LIMIT)
        return NULL;
    if (u->ndevices == u->devices_cap) {
        uint32_t cap = u->devices_cap ? u->devices_cap * 2 : 2;
        cap = cap > USER_DEVICES_LIMIT ? USER_DEVICES_LIMIT : cap;
        device_t *grown = realloc(u->devices, cap * sizeof *grown);
        if (!grown)
            return NULL;
        u->devices = grown;
        u->devices_cap = cap;
    }
    device_t *d = &u->devices[u->ndevices++];
    memset(d, 0, sizeof *d);
    return d;
}

uint64_t user_session_ttl_ns(roost_ctx_t *ctx)
{
    uint32_t ms = actors_config(ctx)->session_ttl_ms;
    return (ms ? ms : USER_SESSION_TTL_MS) * 1000000ull;
}

uint32_t user_max_devices(roost_ctx_t *ctx)
{
    uint32_t n = actors_config(ctx)->max_devices;
    return n == 0 ? USER_DEVICES_DEFAULT : n > USER_DEVICES_LIMIT ? USER_DEVICES_LIMIT : n;
}

contact_t *user_contact(user_t *u, uint64_t user, bool create)
{
    for (uint32_t i = 0; i < u->ncontacts; i++)
        if (u->contacts[i].user == user)
            return &u->contacts[i];
    if (!create || u->ncontacts >= USER_CONTACTS_MAX)
        return NULL;
    if (u->ncontacts == u->contacts_cap) {
        u->contacts_cap = u->contacts_cap ? u->contacts_cap * 2 : 8;
        u->contacts = roost_xrealloc(u->contacts, u->contacts_cap * sizeof *u->contacts);
    }
    contact_t *c = &u->contacts[u->ncontacts++];
    memset(c, 0, sizeof *c);
    c->user = user;
    return c;
}

bool user_blocks(const user_t *u, uint64_t other)
{
    for (uint32_t i = 0; i < u->ncontacts; i++)
        if (u->contacts[i].user == other)
            return u->contacts[i].blocked;
    return false;
}

/* ---- the main record --------------------------------------------------------------------- */

void user_put_record(user_t *u, store_ops_t *ops)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 10);
    mp_kv_str(&b.pk, "phone", u->phone);
    mp_kv_str(&b.pk, "role", u->role);
    mp_kv_u64(&b.pk, "created", u->created_ms);
    mp_kv_bool(&b.pk, "deleted", u->deleted);
    mp_kv_str(&b.pk, "name", u->display_name);
    mp_kv_str(&b.pk, "status", u->status_message);
    mp_kv_u64(&b.pk, "lsp", u->ls_privacy);
    mp_kv_bool(&b.pk, "rr", u->read_receipts);
    mp_pack_str(&b.pk, "devices");
    msgpack_pack_array(&b.pk, u->ndevices);
    for (uint32_t i = 0; i < u->ndevices; i++) {
        msgpack_pack_array(&b.pk, 2);
        mp_pack_str(&b.pk, u->devices[i].id);
        msgpack_pack_uint64(&b.pk, u->devices[i].added_ms);
    }
    mp_pack_str(&b.pk, "contacts");
    msgpack_pack_array(&b.pk, u->ncontacts);
    for (uint32_t i = 0; i < u->ncontacts; i++) {
        const contact_t *c = &u->contacts[i];
        char id[ID_BYTES_MAX + 1];
        id_format(id, c->user);
        msgpack_pack_array(&b.pk, 4);
        mp_pack_str(&b.pk, id);
        mp_pack_str(&b.pk, c->name);
        msgpack_pack_int(&b.pk, c->contact);
        msgpack_pack_int(&b.pk, c->blocked);
    }
    store_ops_put(ops, u->key, strlen(u->key), b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

void user_put_u64(user_t *u, store_ops_t *ops, const char *table, uint64_t v)
{
    akey_t k;
    akey_init(&k, u->key, table);
    akey_t val = {.n = 0};
    akey_be64(&val, v);
    store_ops_put(ops, k.b, k.n, val.b, val.n);
}

void user_put_next(user_t *u, store_ops_t *ops)
{
    user_put_u64(u, ops, "n", u->next_n);
    if (!u->gap_dirty)
        return;
    akey_t k, val = {.n = 0};
    akey_init(&k, u->key, "fence");
    akey_be64(&val, u->era);
    for (uint32_t i = 0; i < u->ngaps; i++) {
        akey_be64(&val, u->gaps[i][0]);
        akey_be64(&val, u->gaps[i][1]);
    }
    store_ops_put(ops, k.b, k.n, val.b, val.n);
    u->gap_dirty = false; /* (a failed write reloads the actor, which finds the jump again) */
}

uint64_t user_held_between(const user_t *u, uint64_t lo, uint64_t hi)
{
    if (hi < lo)
        return 0;
    uint64_t held = hi - lo + 1;
    for (uint32_t i = 0; i < u->ngaps; i++) {
        uint64_t a = lo > u->gaps[i][0] ? lo : u->gaps[i][0];
        uint64_t b = hi + 1 < u->gaps[i][1] ? hi + 1 : u->gaps[i][1];
        held -= a < b ? b - a : 0;
    }
    return held;
}

/* u:<id>/fence: [era, (lo, hi)…] (be64 each; absent: none). */
static int s_load_fence(roost_ctx_t *ctx, user_t *u)
{
    akey_t k;
    akey_init(&k, u->key, "fence");
    void *val;
    size_t len;
    int rc = store_get(ctx, k.b, k.n, &val, &len);
    if (rc != ROOST_OK)
        return rc == ROOST_ENOTFOUND ? ROOST_OK : rc;
    bool ok = len >= 8 && (len - 8) % 16 == 0 && (len - 8) / 16 <= USER_GAPS_MAX;
    const uint8_t *v = val;
    for (size_t off = 8; ok && off < len; off += 16) {
        u->gaps[u->ngaps][0] = akey_get_be64(v + off);
        u->gaps[u->ngaps++][1] = akey_get_be64(v + off + 8);
    }
    u->era = ok ? akey_get_be64(v) : 0;
    free(val);
    return ok ? ROOST_OK : ROOST_EPROTO;
}

/* A new gap at the head; gaps no walk starts below any more (every cursor and first_n are past
 * them) are forgotten, and the oldest one if there is still no room. */
static void s_add_gap(user_t *u, uint64_t lo, uint64_t hi)
{
    uint64_t low = u->first_n;
    for (uint32_t i = 0; i < u->ndevices; i++)
        if (u->devices[i].cursor + 1 < low)
            low = u->devices[i].cursor + 1;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < u->ngaps; i++)
        if (u->gaps[i][1] > low && !(kept == 0 && u->ngaps - i == USER_GAPS_MAX))
            memcpy(u->gaps[kept++], u->gaps[i], sizeof u->gaps[i]);
    u->ngaps = kept;
    u->gaps[u->ngaps][0] = lo;
    u->gaps[u->ngaps++][1] = hi;
}

/* Under sync: none the partition may have adopted a log that lost acknowledged writes (its
 * fence is newer than the one the positions follow): the inbox head may have gone back, and
 * devices may hold positions past it. Handing those out again would make the devices drop the
 * new events as ones they have (they dedupe by n), so the positions jump USER_FENCE_GAP ahead
 * (PROTOCOL.md only promises that n increases); the gap is skipped wherever positions are
 * walked. A user with no record jumps too: its record may have gone with the loss while its
 * devices, registered again, still hold positions (seeds 21 and 194; a new account only
 * starts higher). The jump goes at least to a base the fence sets: a second loss may take "n"
 * and the gaps with the record, and a jump from 1 again handed out positions the first one
 * had (seeds 1247 and 1378). */
static void s_fence_positions(roost_ctx_t *ctx, user_t *u)
{
    uint64_t fence = base_fence(ctx);
    if (fence <= u->era)
        return;
    uint64_t to = u->next_n + USER_FENCE_GAP;
    if (fence < USER_FENCE_BASE_MAX && fence << USER_FENCE_BASE_SHIFT > to)
        to = fence << USER_FENCE_BASE_SHIFT;
    s_add_gap(u, u->next_n, to);
    u->next_n = to;
    u->era = fence;
    u->gap_dirty = true;
}

void user_put_cursor(user_t *u, store_ops_t *ops, const device_t *d)
{
    akey_t k;
    akey_init(&k, u->key, "d/");
    akey_str(&k, d->id);
    akey_t val = {.n = 0};
    akey_be64(&val, d->cursor);
    akey_be64(&val, d->from_n);
    akey_be64(&val, d->start_n);
    store_ops_put(ops, k.b, k.n, val.b, val.n);
}

static void s_copy(const msgpack_object *map, const char *key, char *out, size_t cap)
{
    mp_str_t s;
    if (mp_get_str(map, key, 0, cap - 1, &s) == MP_OK)
        mp_str_copy(s, out, cap);
}

static void s_load_devices(user_t *u, const msgpack_object *arr)
{
    for (uint32_t i = 0; arr && i < arr->via.array.size; i++) {
        const msgpack_object *d = &arr->via.array.ptr[i];
        mp_str_t id;
        if (d->type != MSGPACK_OBJECT_ARRAY || d->via.array.size != 2 ||
            !mp_as_str(&d->via.array.ptr[0], &id) || id.len > DEVICE_BYTES_MAX)
            continue;
        device_t *dv = user_device_add(u);
        if (!dv)
            break;
        mp_str_copy(id, dv->id, sizeof dv->id);
        mp_as_u64(&d->via.array.ptr[1], &dv->added_ms);
    }
}

static void s_load_contacts(user_t *u, const msgpack_object *arr)
{
    for (uint32_t i = 0; arr && i < arr->via.array.size; i++) {
        const msgpack_object *c = &arr->via.array.ptr[i];
        mp_str_t id, name;
        uint64_t contact = 0, blocked = 0;
        if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 4 ||
            !mp_as_str(&c->via.array.ptr[0], &id) || !mp_as_str(&c->via.array.ptr[1], &name))
            continue;
        mp_as_u64(&c->via.array.ptr[2], &contact);
        mp_as_u64(&c->via.array.ptr[3], &blocked);
        contact_t *ct = user_contact(u, id_parse(id.ptr, id.len), true);
        if (!ct)
            break;
        mp_str_copy(name, ct->name, sizeof ct->name);
        ct->contact = contact, ct->blocked = blocked;
    }
}

static int s_get_u64(roost_ctx_t *ctx, user_t *u, const char *table, uint64_t *out)
{
    akey_t k;
    akey_init(&k, u->key, table);
    return base_get_u64(ctx, k.b, k.n, out);
}

static int s_load_cursor(roost_ctx_t *ctx, user_t *u, device_t *d)
{
    akey_t k;
    akey_init(&k, u->key, "d/");
    akey_str(&k, d->id);
    void *val;
    size_t len;
    int rc = store_get(ctx, k.b, k.n, &val, &len);
    if (rc != ROOST_OK)
        return rc == ROOST_ENOTFOUND ? ROOST_OK : rc;
    if (len == 16 || len == 24) { /* (16: written before start_n was kept) */
        d->cursor = akey_get_be64(val);
        d->from_n = akey_get_be64((uint8_t *)val + 8);
        d->start_n = len == 24 ? akey_get_be64((uint8_t *)val + 16) : 0;
    }
    free(val);
    return ROOST_OK;
}

static int s_load_record(roost_ctx_t *ctx, user_t *u)
{
    msgpack_unpacked up;
    int rc = base_get_doc(ctx, u->key, strlen(u->key), &up);
    if (rc == ROOST_OK) {
        const msgpack_object *m = &up.data, *arr;
        u->exists = true;
        s_copy(m, "phone", u->phone, sizeof u->phone);
        s_copy(m, "name", u->display_name, sizeof u->display_name);
        s_copy(m, "status", u->status_message, sizeof u->status_message);
        s_copy(m, "role", u->role, sizeof u->role);
        if (!user_role_valid(u->role, strlen(u->role)))
            snprintf(u->role, sizeof u->role, "%s", USER_ROLE_DEFAULT);
        mp_get_u64(m, "created", &u->created_ms);
        mp_get_bool(m, "deleted", &u->deleted);
        mp_get_bool(m, "rr", &u->read_receipts);
        uint64_t lsp = 0;
        mp_get_u64(m, "lsp", &lsp);
        u->ls_privacy = lsp <= LS_NOBODY ? (uint8_t)lsp : LS_EVERYONE;
        if (mp_get_array(m, "devices", &arr) == MP_OK)
            s_load_devices(u, arr);
        if (mp_get_array(m, "contacts", &arr) == MP_OK)
            s_load_contacts(u, arr);
    }
    msgpack_unpacked_destroy(&up);
    return rc == ROOST_ENOTFOUND ? ROOST_OK : rc;
}

static int s_load(roost_ctx_t *ctx, void *self)
{
    user_t *u = self;
    int rc = s_load_record(ctx, u);
    for (uint32_t i = 0; rc == ROOST_OK && i < u->ndevices; i++)
        rc = s_load_cursor(ctx, u, &u->devices[i]);
    for (uint32_t i = 0; rc == ROOST_OK && i < u->ndevices; i++)
        rc = user_load_tokens(ctx, u, &u->devices[i]);
    uint64_t next = 0, first = 0;
    if (rc == ROOST_OK)
        rc = s_get_u64(ctx, u, "n", &next);
    if (rc == ROOST_OK)
        rc = s_get_u64(ctx, u, "f", &first);
    if (rc == ROOST_OK)
        rc = s_get_u64(ctx, u, "s", &u->last_seen_ms);
    u->next_n = next ? next : 1;
    u->first_n = first ? first : 1;
    if (rc == ROOST_OK)
        rc = s_load_fence(ctx, u);
    if (rc == ROOST_OK)
        s_fence_positions(ctx, u);
    u->durable_n = u->next_n - 1;
    if (rc == ROOST_OK && u->exists && !u->deleted)
        rc = user_load_pending_acks(ctx, u);
    if (rc == ROOST_OK && u->exists && !u->deleted)
        rc = user_send_expired(ctx, u);
    return rc;
}

static void s_reset(roost_ctx_t *ctx, void *self)
{
    (void)ctx;
    user_t *u = self;
    free(u->contacts);
    free(u->devices);
    user_seen_reset(u);
    for (uint32_t i = 0; i < u->nsessions; i++)
        free(u->sessions[i].watches);
    free(u->watchers);
    for (uint32_t i = 0; i < USER_CACHE_ENTRIES; i++)
        free(u->cache[i].rec);
    pend_clear(&u->pend);
    user_sub_checks_free(u);
    free(u->taken);
    base_t base = u->base;
    uint64_t id = u->id;
    bool ticking = u->ticking;
    memset(u, 0, sizeof *u);
    u->base = base;
    u->id = id;
    u->ticking = ticking;
    id_format(u->id_s, id);
    snprintf(u->key, sizeof u->key, "u:%s", u->id_s);
    u->read_receipts = true;
    snprintf(u->role, sizeof u->role, "%s", USER_ROLE_DEFAULT);
    u->next_n = u->first_n = 1;
}

static int s_activate(roost_ctx_t *ctx, void **state)
{
    const char *key = roost_ctx_self(ctx);
    uint64_t id = strlen(key) > 2 ? id_parse(key + 2, strlen(key) - 2) : 0;
    if (!id)
        return ROOST_ENOTFOUND;
    user_t *u = roost_xcalloc(1, sizeof *u);
    u->id = id;
    base_init(&u->base, u, s_load, s_reset);
    s_reset(ctx, u);
    *state = u;
    return ROOST_OK;
}

static void s_passivate(roost_ctx_t *ctx, void *state)
{
    user_t *u = state;
    base_fini(ctx, &u->base);
    s_reset(ctx, u);
    free(u);
}

static void s_on_devices_get(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    if (!u->exists || u->deleted) {
        roost_ctx_reply_error(ctx, env, ROOST_ENOTFOUND);
        return;
    }
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, u->ndevices);
    for (uint32_t i = 0; i < u->ndevices; i++)
        mp_pack_str(&b.pk, u->devices[i].id);
    roost_ctx_reply(ctx, env, MSG_DEVICES_GET, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

typedef struct {
    roost_ctx_t *ctx;
    user_t *u;
    size_t prefix;
} conv_scan_t;

static bool s_tell_conv(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void)val, (void)vlen;
    conv_scan_t *s = arg;
    char conv[CONV_KEY_BYTES_MAX + 1];
    size_t len = klen - s->prefix;
    if (len == 0 || len > CONV_KEY_BYTES_MAX)
        return true;
    memcpy(conv, key + s->prefix, len);
    conv[len] = '\0';
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 1);
    mp_pack_str(&b.pk, s->u->id_s);
    roost_ctx_send(s->ctx, conv, MSG_DEVICES_CHANGED, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
    return true;
}

/* Every conversation this user is in forgets the device list it may have cached. */
static void s_devices_changed(roost_ctx_t *ctx, user_t *u)
{
    akey_t k;
    akey_init(&k, u->key, "c/");
    conv_scan_t scan = {.ctx = ctx, .u = u, .prefix = k.n};
    store_scan(ctx, k.b, k.n, false, 0, s_tell_conv, &scan);
}

/* ---- account messages -------------------------------------------------------------------- */

static void s_created(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)self;
    roost_env_t *req = arg;
    if (status == ROOST_OK)
        roost_ctx_reply(ctx, req, MSG_USER_CREATE, NULL, 0);
    else
        roost_ctx_reply_error(ctx, req, status);
    roost_env_free(req);
}

/* [phone, device]: creates the account, or adds a device to it (same phone). A claim of a
 * device already here is answered once every earlier write is durable: the one registering
 * it may still be in flight, and may fail (simulator seed 370: the retry was answered from
 * memory, the write then failed, and the device could never log in). */
static void s_on_create(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = &up.data;
    mp_str_t phone, dev;
    if (!mp_parse(&up, env->payload, env->payload_len) || a->type != MSGPACK_OBJECT_ARRAY ||
        a->via.array.size != 2 || !mp_as_str(&a->via.array.ptr[0], &phone) ||
        !phone_valid(phone.ptr, phone.len) || !mp_as_str(&a->via.array.ptr[1], &dev) ||
        !device_valid(dev.ptr, dev.len)) {
        roost_ctx_reply_error(ctx, env, ROOST_EPROTO);
        goto out;
    }
    if (u->deleted || (u->exists && !mp_str_eq(phone, u->phone))) {
        roost_ctx_reply_error(ctx, env, ROOST_EEXIST); /* ids are never reused */
        goto out;
    }
    char device[DEVICE_BYTES_MAX + 1];
    mp_str_copy(dev, device, sizeof device);
    if (u->exists && user_device(u, device)) { /* once its registration is durable */
        base_after(ctx, &u->base, s_created, roost_ctx_keep(ctx));
        goto out;
    }
    if (u->ndevices >= user_max_devices(ctx)) {
        roost_ctx_reply_error(ctx, env, ROOST_ETOOBIG);
        goto out;
    }
    if (!u->exists) {
        u->exists = true;
        mp_str_copy(phone, u->phone, sizeof u->phone);
        u->created_ms = roost_ctx_wall_ms(ctx);
    }
    device_t *d = user_device_add(u);
    if (!d) {
        roost_ctx_reply_error(ctx, env, ROOST_ENOMEM);
        goto out;
    }
    memcpy(d->id, device, sizeof d->id);
    d->added_ms = roost_ctx_wall_ms(ctx);
    d->cursor = d->start_n = u->next_n - 1; /* a new device starts at the head */
    s_devices_changed(ctx, u);
    store_ops_t ops;
    store_ops_init(&ops);
    user_put_record(u, &ops);
    user_put_cursor(u, &ops, d);
    if (u->gap_dirty) /* the positions follow the partition's fence from the start */
        user_put_next(u, &ops);
    base_write(ctx, &u->base, &ops, s_created, roost_ctx_keep(ctx));
    store_ops_fini(&ops);
out:
    msgpack_unpacked_destroy(&up);
}

static void s_on_device_check(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t dev;
    char device[DEVICE_BYTES_MAX + 1] = "";
    bool ok = mp_parse(&up, env->payload, env->payload_len) &&
              up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size == 1 &&
              mp_as_str(&up.data.via.array.ptr[0], &dev) && mp_str_copy(dev, device, sizeof device);
    msgpack_unpacked_destroy(&up);
    if (ok && u->exists && !u->deleted && user_device(u, device))
        roost_ctx_reply(ctx, env, MSG_DEVICE_CHECK, NULL, 0);
    else
        roost_ctx_reply_error(ctx, env, ROOST_ENOTFOUND);
}

static void s_after_ok(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)self;
    roost_env_t *req = arg;
    if (status == ROOST_OK)
        client_ok(ctx, req);
    else
        client_err(ctx, req, CODE_UNAVAILABLE, "not stored; try again");
    roost_env_free(req);
}

void user_ok_after(roost_ctx_t *ctx, user_t *u, roost_env_t *kept)
{
    base_after(ctx, &u->base, s_after_ok, kept);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static void s_client(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    creq_t r;
    if (!creq_parse(&r, env)) {
        client_err(ctx, env, CODE_BAD_REQUEST, "malformed request");
        return;
    }
    bool self = r.user == u->id;
    if (self && (!u->exists || u->deleted)) {
        client_err(ctx, env, CODE_UNAUTHORIZED, "no such account");
    } else if (self && mp_str_eq(r.t, "auth")) {
        user_on_auth(ctx, u, &r, env);
    } else if (self && mp_str_eq(r.t, "recv.ack")) {
        user_on_ack(ctx, u, &r, env);
    } else if (self && mp_str_eq(r.t, "read")) {
        user_on_read(ctx, u, &r, env);
    } else if (self && mp_str_eq(r.t, "presence.sub")) {
        user_on_presence_sub(ctx, u, &r, env);
    } else if (!user_misc_client(ctx, u, &r, env)) {
        client_err(ctx, env, CODE_BAD_REQUEST, "unknown request type for a user");
    }
    creq_fini(&r);
}

static void s_answer(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    pend_t *p = pend_take(&u->pend, env->corr);
    if (!p)
        return;
    if (!user_sessions_answer(ctx, u, p, env) && !user_presence_answer(ctx, u, p, env))
        user_misc_answer(ctx, u, p, env);
    pend_free(p);
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    user_t *u = state;
    if (base_filter(ctx, &u->base, env))
        return;
    if (env->flags & ROOST_ENV_RESPONSE) {
        s_answer(ctx, u, env);
        return;
    }
    switch (env->type) {
    case MSG_CLIENT:
        s_client(ctx, u, env);
        return;
    case MSG_USER_CREATE:
        s_on_create(ctx, u, env);
        return;
    case MSG_USER_EXISTS:
        if (u->exists && !u->deleted)
            roost_ctx_reply(ctx, env, MSG_USER_EXISTS, NULL, 0);
        else
            roost_ctx_reply_error(ctx, env, ROOST_ENOTFOUND);
        return;
    case MSG_DEVICE_CHECK:
        s_on_device_check(ctx, u, env);
        return;
    case MSG_DEVICES_GET:
        s_on_devices_get(ctx, u, env);
        return;
    case MSG_ADMIN_USER_SHOW:
    case MSG_ADMIN_USER_ROLE:
        user_on_admin(ctx, u, env);
        return;
    }
    if (!u->exists || u->deleted) { /* everything else is for live accounts only */
        if (env->flags & ROOST_ENV_REQUEST)
            roost_ctx_reply_error(ctx, env, ROOST_ENOTFOUND);
        return;
    }
    switch (env->type) {
    case MSG_DELIVER:
        user_on_deliver(ctx, u, env);
        break;
    case MSG_RECEIPT:
        user_on_receipt(ctx, u, env);
        break;
    case MSG_EXPIRED:
        user_on_expired(ctx, u, env);
        break;
    case MSG_TOKEN_ISSUE:
    case MSG_TOKEN_REFRESH:
    case MSG_TOKEN_CHECK:
        user_on_token(ctx, u, env);
        break;
    case MSG_SESSION_RENEW:
        user_on_renew(ctx, u, env);
        break;
    case MSG_SESSION_RESEND:
        user_on_resend(ctx, u, env);
        break;
    case MSG_SESSION_CLOSE:
        user_on_close(ctx, u, env);
        break;
    case MSG_WATCH:
        user_on_watch(ctx, u, env);
        break;
    case MSG_UNWATCH:
        user_on_unwatch(ctx, u, env);
        break;
    case MSG_RELAY:
        user_on_relay(ctx, u, env);
        break;
    default:
        if (env->flags & ROOST_ENV_REQUEST)
            roost_ctx_reply_error(ctx, env, ROOST_EINVAL);
    }
}

enum { USER_TIMER_TICK = 1 };

void user_ensure_tick(roost_ctx_t *ctx, user_t *u)
{
    if (u->ticking)
        return;
    u->ticking = true;
    roost_ctx_timer_start(ctx, USER_TICK_MS, 0, USER_TIMER_TICK);
}

static void s_timer(roost_ctx_t *ctx, void *state, uint64_t id, uint64_t tag)
{
    (void)id;
    user_t *u = state;
    if (base_timer(ctx, &u->base, tag))
        return;
    if (tag != USER_TIMER_TICK)
        return;
    u->ticking = false;
    if (!base_ready(&u->base))
        return;
    user_sessions_tick(ctx, u);
    user_watchers_tick(ctx, u);
    if (u->nsessions || u->nwatchers || u->pend)
        user_ensure_tick(ctx, u); /* keeps the actor active while anything is live */
}

const roost_behaviour_t user_behaviour = {.kind = "u",
                                          .on_activate = s_activate,
                                          .on_message = s_message,
                                          .on_timer = s_timer,
                                          .on_passivate = s_passivate};
