/* actors/group.c — a group conversation's membership and roles. Every change is a record in
 * the conversation's own sequence (an event), so it reaches every member concerned through the
 * same fan-out as messages: the members at that point and the users it removed (whose fan-out
 * stops at that very event: a removed member receives nothing later and can read no later
 * history). Only admins add, remove, promote and demote; any member renames, reads the info,
 * leaves. The last admin leaving promotes the oldest remaining member. A group that does not
 * exist and a group the caller is not in both answer `forbidden`.
 */
#include <stdlib.h>
#include <string.h>

#include "actors/conv.h"
#include "actors/msgs.h"
#include "runtime/errors.h"
#include "runtime/util.h"

enum { USERS_MAX = CONV_GROUP_MAX_LIMIT };

/* ---- events ------------------------------------------------------------------------------ */

typedef struct {
    roost_env_t *req; /* answered once the (last) event is durable */
    bool internal;    /* MSG_GROUP_CREATE: answered with an empty response */
} done_t;

static void s_done(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)self;
    done_t *d = arg;
    if (d->req) {
        if (d->internal && status == ROOST_OK)
            roost_ctx_reply(ctx, d->req, MSG_GROUP_CREATE, NULL, 0);
        else if (d->internal)
            roost_ctx_reply_error(ctx, d->req, status);
        else if (status == ROOST_OK)
            client_ok(ctx, d->req);
        else
            client_err(ctx, d->req, CODE_UNAVAILABLE, "not stored; try again");
        roost_env_free(d->req);
    }
    free(d);
}

/* The request being handled is answered ok once every earlier write is durable: a request
 * that changes nothing (a retried create, members already in, a role already held) must not
 * be answered from memory while the write that made it so is in flight, and may fail. */
static void s_ok_after(roost_ctx_t *ctx, conv_t *c, bool internal)
{
    done_t *d = roost_xcalloc(1, sizeof *d);
    *d = (done_t){.req = roost_ctx_keep(ctx), .internal = internal};
    base_after(ctx, &c->base, s_done, d);
}

static void s_noop(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)ctx, (void)self, (void)arg, (void)status;
}

/* Appends event `ev` by `by` naming users; the members' changes are already in c. `req` (kept,
 * or NULL) is answered when durable. Member records of `users` go in the same batch. */
static void s_event(roost_ctx_t *ctx, conv_t *c, const char *ev, uint64_t by, const uint64_t *users,
                    uint32_t n, roost_env_t *req, bool internal, store_ops_t *ops)
{
    uint64_t seq = ++c->head;
    char id[ID_BYTES_MAX + 1];
    mp_buf_t rec;
    mp_buf_init(&rec);
    bool renamed = strcmp(ev, "renamed") == 0;
    msgpack_pack_map(&rec.pk, 5 + renamed);
    mp_kv_u64(&rec.pk, "seq", seq);
    mp_kv_str(&rec.pk, "ev", ev);
    id_format(id, by);
    mp_kv_str(&rec.pk, "by", id);
    mp_pack_str(&rec.pk, "users");
    msgpack_pack_array(&rec.pk, n);
    for (uint32_t i = 0; i < n; i++) {
        id_format(id, users[i]);
        mp_pack_str(&rec.pk, id);
        member_t *m = conv_member(c, users[i]);
        if (m && m->joined == 0)
            m->joined = seq; /* created/added: their first record is this one */
        if (m && m->left == UINT64_MAX)
            m->left = seq; /* removed/left: their last record is this one */
    }
    mp_kv_u64(&rec.pk, "ts", roost_ctx_wall_ms(ctx));
    if (renamed)
        mp_kv_str(&rec.pk, "name", c->name);
    for (uint32_t i = 0; i < n; i++) {
        member_t *m = conv_member(c, users[i]);
        if (m) {
            if (m->joined == seq && !m->owed_upto && m->fanout < seq - 1)
                m->fanout = seq - 1;
            conv_put_member(c, ops, m);
            m->dirty = false;
        }
    }
    done_t *d = NULL;
    if (req) {
        d = roost_xcalloc(1, sizeof *d);
        d->req = req;
        d->internal = internal;
    }
    conv_append(ctx, c, seq, &rec, ops, req ? s_done : s_noop, d);
    mp_buf_fini(&rec);
}

/* ---- parsing ----------------------------------------------------------------------------- */

/* A list of distinct user ids (strings) of 1..max entries; false if malformed. */
static bool s_users(const msgpack_object *arr, uint64_t *out, uint32_t *n, uint32_t max)
{
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size > max)
        return false;
    *n = 0;
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        mp_str_t s;
        uint64_t id;
        if (!mp_as_str(&arr->via.array.ptr[i], &s) || !(id = id_parse(s.ptr, s.len)))
            return false;
        bool dup = false;
        for (uint32_t j = 0; j < *n; j++)
            dup |= out[j] == id;
        if (!dup)
            out[(*n)++] = id;
    }
    return true;
}

static uint32_t s_member_count(const conv_t *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->nmembers; i++)
        n += c->members[i].left == 0;
    return n;
}

static uint32_t s_admin_count(const conv_t *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->nmembers; i++)
        n += c->members[i].left == 0 && c->members[i].role == ROLE_ADMIN;
    return n;
}

/* ---- create (from the creator's user actor) --------------------------------------------- */

void group_on_create(roost_ctx_t *ctx, conv_t *c, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = &up.data;
    mp_str_t creator_s, cmid, name;
    uint64_t users[USERS_MAX + 1];
    uint32_t n = 0;
    uint64_t creator = 0;
    if (!mp_parse(&up, env->payload, env->payload_len) || a->type != MSGPACK_OBJECT_ARRAY ||
        a->via.array.size != 4 || !mp_as_str(&a->via.array.ptr[0], &creator_s) ||
        !(creator = id_parse(creator_s.ptr, creator_s.len)) ||
        !mp_as_str(&a->via.array.ptr[1], &cmid) || cmid.len > CONV_CMID_BYTES_MAX ||
        !mp_as_str(&a->via.array.ptr[2], &name) || name.len == 0 ||
        name.len > CONV_NAME_BYTES_MAX || !s_users(&a->via.array.ptr[3], users, &n, USERS_MAX)) {
        roost_ctx_reply_error(ctx, env, ROOST_EPROTO);
        goto out;
    }
    if (c->exists) { /* the same creator and cmid again: the same group */
        bool same = creator == c->creator && cmid.len > 0 && mp_str_eq(cmid, c->create_cmid);
        if (same)
            s_ok_after(ctx, c, true);
        else
            roost_ctx_reply_error(ctx, env, ROOST_EEXIST);
        goto out;
    }
    bool has_creator = false;
    for (uint32_t i = 0; i < n; i++)
        has_creator |= users[i] == creator;
    if (!has_creator)
        users[n++] = creator;
    if (n > c->max_members) {
        roost_ctx_reply_error(ctx, env, ROOST_ETOOBIG);
        goto out;
    }
    if (!conv_users_exist(ctx, c, users, n))
        goto out;
    c->exists = true;
    c->creator = creator;
    mp_str_copy(name, c->name, sizeof c->name);
    mp_str_copy(cmid, c->create_cmid, sizeof c->create_cmid);
    for (uint32_t i = 0; i < n; i++)
        conv_add_member(c, users[i], 0, users[i] == creator ? ROLE_ADMIN : ROLE_MEMBER);
    store_ops_t ops;
    store_ops_init(&ops);
    conv_put_meta(c, &ops);
    s_event(ctx, c, "created", creator, users, n, roost_ctx_keep(ctx), true, &ops);
out:
    msgpack_unpacked_destroy(&up);
}

/* ---- client requests --------------------------------------------------------------------- */

/* After the request's own fields are checked (bad_request comes first): the caller must be a
 * member of an existing group. */
static bool s_gate(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env)
{
    if (c->exists && conv_is_member(c, r->user))
        return true;
    client_err(ctx, env, CODE_FORBIDDEN, "not a member of this group");
    return false;
}

/* The oldest remaining member becomes admin when none is left. */
static void s_ensure_admin(roost_ctx_t *ctx, conv_t *c, uint64_t by, roost_env_t *req)
{
    member_t *oldest = NULL;
    if (s_admin_count(c) == 0)
        for (uint32_t i = 0; i < c->nmembers; i++) {
            member_t *m = &c->members[i];
            if (m->left == 0 && (!oldest || m->joined < oldest->joined ||
                                 (m->joined == oldest->joined && m->user < oldest->user)))
                oldest = m;
        }
    if (!oldest) {
        if (req) {
            done_t *d = roost_xcalloc(1, sizeof *d);
            d->req = req;
            base_after(ctx, &c->base, s_done, d);
        }
        return;
    }
    oldest->role = ROLE_ADMIN;
    store_ops_t ops;
    store_ops_init(&ops);
    s_event(ctx, c, "promoted", by, &oldest->user, 1, req, false, &ops);
}

static void s_add(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env)
{
    uint64_t users[USERS_MAX], fresh[USERS_MAX];
    uint32_t n = 0, nfresh = 0;
    if (!s_users(mp_get(r->frame, "users"), users, &n, USERS_MAX) || n == 0)
        return client_bad_field(ctx, env, "users");
    if (!s_gate(ctx, c, r, env))
        return;
    if (conv_member(c, r->user)->role != ROLE_ADMIN)
        return client_err(ctx, env, CODE_FORBIDDEN, "only admins add members");
    for (uint32_t i = 0; i < n; i++)
        if (!conv_is_member(c, users[i]))
            fresh[nfresh++] = users[i];
    if (nfresh == 0)
        return s_ok_after(ctx, c, false);
    for (uint32_t i = 0; i < nfresh; i++) {
        const member_t *old = conv_member(c, users[i]);
        if (old && old->owed_upto && old->fanout < old->left) /* a second gap: one at a time */
            return client_err(ctx, env, CODE_UNAVAILABLE,
                              "a member's earlier messages are still on their way; try again");
    }
    if (s_member_count(c) + nfresh > c->max_members)
        return client_err(ctx, env, CODE_CONFLICT, "the group is full");
    if (!conv_users_exist(ctx, c, fresh, nfresh))
        return;
    for (uint32_t i = 0; i < nfresh; i++)
        conv_add_member(c, fresh[i], 0, ROLE_MEMBER);
    store_ops_t ops;
    store_ops_init(&ops);
    s_event(ctx, c, "added", r->user, fresh, nfresh, roost_ctx_keep(ctx), false, &ops);
}

static void s_remove(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env)
{
    uint64_t users[USERS_MAX], gone[USERS_MAX];
    uint32_t n = 0, ngone = 0;
    if (!s_users(mp_get(r->frame, "users"), users, &n, USERS_MAX) || n == 0)
        return client_bad_field(ctx, env, "users");
    if (!s_gate(ctx, c, r, env))
        return;
    if (conv_member(c, r->user)->role != ROLE_ADMIN)
        return client_err(ctx, env, CODE_FORBIDDEN, "only admins remove members");
    for (uint32_t i = 0; i < n; i++)
        if (conv_is_member(c, users[i]))
            gone[ngone++] = users[i];
    if (ngone == 0)
        return client_err(ctx, env, CODE_NOT_FOUND, "none of them is a member");
    for (uint32_t i = 0; i < ngone; i++)
        conv_member(c, gone[i])->left = UINT64_MAX; /* set to the event's seq */
    store_ops_t ops;
    store_ops_init(&ops);
    bool need_admin = s_admin_count(c) == 0 && s_member_count(c) > 0;
    roost_env_t *req = roost_ctx_keep(ctx);
    s_event(ctx, c, "removed", r->user, gone, ngone, need_admin ? NULL : req, false, &ops);
    if (need_admin)
        s_ensure_admin(ctx, c, r->user, req);
}

static void s_role(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env, bool promote)
{
    mp_str_t u;
    uint64_t user;
    if (mp_get_str(r->frame, "user", 1, ID_BYTES_MAX, &u) != MP_OK ||
        !(user = id_parse(u.ptr, u.len)))
        return client_bad_field(ctx, env, "user");
    if (!s_gate(ctx, c, r, env))
        return;
    if (conv_member(c, r->user)->role != ROLE_ADMIN)
        return client_err(ctx, env, CODE_FORBIDDEN, "only admins change roles");
    if (!conv_is_member(c, user))
        return client_err(ctx, env, CODE_NOT_FOUND, "not a member");
    member_t *m = conv_member(c, user);
    uint8_t role = promote ? ROLE_ADMIN : ROLE_MEMBER;
    if (m->role == role)
        return s_ok_after(ctx, c, false);
    if (!promote && s_admin_count(c) == 1)
        return client_err(ctx, env, CODE_CONFLICT, "a group keeps at least one admin");
    m->role = role;
    store_ops_t ops;
    store_ops_init(&ops);
    s_event(ctx, c, promote ? "promoted" : "demoted", r->user, &user, 1, roost_ctx_keep(ctx), false,
            &ops);
}

static void s_leave(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env)
{
    if (!s_gate(ctx, c, r, env))
        return;
    conv_member(c, r->user)->left = UINT64_MAX;
    bool need_admin = s_admin_count(c) == 0 && s_member_count(c) > 0;
    roost_env_t *req = roost_ctx_keep(ctx);
    store_ops_t ops;
    store_ops_init(&ops);
    s_event(ctx, c, "left", r->user, &r->user, 1, need_admin ? NULL : req, false, &ops);
    if (need_admin)
        s_ensure_admin(ctx, c, r->user, req);
}

static void s_rename(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env)
{
    mp_str_t name;
    if (mp_get_str(r->frame, "name", 1, CONV_NAME_BYTES_MAX, &name) != MP_OK)
        return client_bad_field(ctx, env, "name");
    if (!s_gate(ctx, c, r, env))
        return;
    mp_str_copy(name, c->name, sizeof c->name);
    store_ops_t ops;
    store_ops_init(&ops);
    conv_put_meta(c, &ops);
    s_event(ctx, c, "renamed", r->user, NULL, 0, roost_ctx_keep(ctx), false, &ops);
}

static void s_info(roost_ctx_t *ctx, conv_t *c, roost_env_t *env)
{
    mp_buf_t b;
    client_ok_begin(&b, 4);
    mp_kv_str(&b.pk, "name", c->name);
    char id[ID_BYTES_MAX + 1];
    for (int admins = 0; admins < 2; admins++) {
        mp_pack_str(&b.pk, admins ? "admins" : "members");
        msgpack_pack_array(&b.pk, admins ? s_admin_count(c) : s_member_count(c));
        for (uint32_t i = 0; i < c->nmembers; i++) {
            const member_t *m = &c->members[i];
            if (m->left || (admins && m->role != ROLE_ADMIN))
                continue;
            id_format(id, m->user);
            mp_pack_str(&b.pk, id);
        }
    }
    mp_kv_u64(&b.pk, "max_members", c->max_members);
    client_reply(ctx, env, &b);
    mp_buf_fini(&b);
}

bool group_on_client(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env)
{
    static const char *const TYPES[] = {"group.add",    "group.remove", "group.promote",
                                        "group.demote", "group.leave",  "group.rename",
                                        "group.info"};
    size_t t = 0;
    while (t < sizeof TYPES / sizeof *TYPES && !mp_str_eq(r->t, TYPES[t]))
        t++;
    if (t == sizeof TYPES / sizeof *TYPES)
        return false;
    mp_str_t g;
    if (mp_get_str(r->frame, "group", 1, ID_BYTES_MAX, &g) != MP_OK || !id_parse(g.ptr, g.len))
        return client_bad_field(ctx, env, "group"), true;
    if (id_parse(g.ptr, g.len) != c->gid)
        return client_err(ctx, env, CODE_FORBIDDEN, "'group' does not name this group"), true;
    switch (t) {
    case 0:
        s_add(ctx, c, r, env);
        break;
    case 1:
        s_remove(ctx, c, r, env);
        break;
    case 2:
    case 3:
        s_role(ctx, c, r, env, t == 2);
        break;
    case 4:
        s_leave(ctx, c, r, env);
        break;
    case 5:
        s_rename(ctx, c, r, env);
        break;
    default:
        if (s_gate(ctx, c, r, env))
            s_info(ctx, c, env);
    }
    return true;
}
