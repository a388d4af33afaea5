/* actors/user_admin.c — the operator's requests to a user actor (`roostctl user`, through a
 * node's admin bridge): the account summary, and the account's role — read, or set durably
 * before the answer. The role is recorded here; the RBAC issue gives it powers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/msgs.h"
#include "actors/user.h"
#include "runtime/errors.h"
#include "runtime/log.h"

static const char *const COMP = "user";

static const char *const s_roles[] = {"user", "moderator", "admin", NULL};

bool user_role_valid(const char *role, size_t len)
{
    for (int i = 0; s_roles[i]; i++)
        if (strlen(s_roles[i]) == len && memcmp(s_roles[i], role, len) == 0)
            return true;
    return false;
}

static uint32_t s_count_contacts(const user_t *u, bool blocked)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < u->ncontacts; i++)
        n += blocked ? u->contacts[i].blocked : u->contacts[i].contact;
    return n;
}

/* {id, phone, name, status, role, created_ms, deleted, last_seen_ms, sessions, contacts,
 *  blocked, inbox: {first_n, next_n}, devices: [{id, added_ms, cursor}]} */
static void s_show(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    if (!u->exists) {
        roost_ctx_reply_error(ctx, env, ROOST_ENOTFOUND);
        return;
    }
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 13);
    mp_kv_str(&b.pk, "id", u->id_s);
    mp_kv_str(&b.pk, "phone", u->phone);
    mp_kv_str(&b.pk, "name", u->display_name);
    mp_kv_str(&b.pk, "status", u->status_message);
    mp_kv_str(&b.pk, "role", u->role);
    mp_kv_u64(&b.pk, "created_ms", u->created_ms);
    mp_kv_bool(&b.pk, "deleted", u->deleted);
    mp_kv_u64(&b.pk, "last_seen_ms", u->last_seen_ms);
    mp_kv_u64(&b.pk, "sessions", u->nsessions);
    mp_kv_u64(&b.pk, "contacts", s_count_contacts(u, false));
    mp_kv_u64(&b.pk, "blocked", s_count_contacts(u, true));
    mp_pack_str(&b.pk, "inbox");
    msgpack_pack_map(&b.pk, 2);
    mp_kv_u64(&b.pk, "first_n", u->first_n);
    mp_kv_u64(&b.pk, "next_n", u->next_n);
    mp_pack_str(&b.pk, "devices");
    msgpack_pack_array(&b.pk, u->ndevices);
    for (uint32_t i = 0; i < u->ndevices; i++) {
        msgpack_pack_map(&b.pk, 3);
        mp_kv_str(&b.pk, "id", u->devices[i].id);
        mp_kv_u64(&b.pk, "added_ms", u->devices[i].added_ms);
        mp_kv_u64(&b.pk, "cursor", u->devices[i].cursor);
    }
    roost_ctx_reply(ctx, env, MSG_ADMIN_USER_SHOW, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

static void s_reply_roles(roost_ctx_t *ctx, roost_env_t *env, const char *old, const char *now)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 2);
    mp_pack_str(&b.pk, old);
    mp_pack_str(&b.pk, now);
    roost_ctx_reply(ctx, env, MSG_ADMIN_USER_ROLE, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

typedef struct {
    roost_env_t *req;
    char old[USER_ROLE_BYTES_MAX + 1], now[USER_ROLE_BYTES_MAX + 1];
} role_set_t;

static void s_role_stored(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)self;
    role_set_t *rs = arg;
    if (status == ROOST_OK)
        s_reply_roles(ctx, rs->req, rs->old, rs->now);
    else
        roost_ctx_reply_error(ctx, rs->req, status);
    roost_env_free(rs->req);
    free(rs);
}

/* [role or nil]: nil reads the role; a role sets it. */
static void s_role(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    if (!u->exists || u->deleted) {
        roost_ctx_reply_error(ctx, env, ROOST_ENOTFOUND);
        return;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t role = {0};
    bool read = false;
    bool ok = mp_parse(&up, env->payload, env->payload_len) &&
              up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size == 1;
    if (ok) {
        const msgpack_object *o = &up.data.via.array.ptr[0];
        read = o->type == MSGPACK_OBJECT_NIL;
        ok = read || (mp_as_str(o, &role) && user_role_valid(role.ptr, role.len));
    }
    if (!ok || read) {
        if (ok)
            s_reply_roles(ctx, env, u->role, u->role);
        else
            roost_ctx_reply_error(ctx, env, ROOST_EINVAL);
        msgpack_unpacked_destroy(&up);
        return;
    }
    role_set_t *rs = calloc(1, sizeof *rs);
    snprintf(rs->old, sizeof rs->old, "%s", u->role);
    mp_str_copy(role, u->role, sizeof u->role);
    snprintf(rs->now, sizeof rs->now, "%s", u->role);
    msgpack_unpacked_destroy(&up);
    ROOST_INFO(COMP, "role set by an operator", "user=%s old=%s new=%s", u->id_s, rs->old, rs->now);
    store_ops_t ops;
    store_ops_init(&ops);
    user_put_record(u, &ops);
    base_write(ctx, &u->base, &ops, NULL, NULL);
    store_ops_fini(&ops);
    rs->req = roost_ctx_keep(ctx);
    base_after(ctx, &u->base, s_role_stored, rs);
}

void user_on_admin(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    if (!(env->flags & ROOST_ENV_REQUEST))
        return;
    if (env->type == MSG_ADMIN_USER_SHOW)
        s_show(ctx, u, env);
    else
        s_role(ctx, u, env);
}
