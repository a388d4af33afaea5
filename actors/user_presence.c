/* actors/user_presence.c — presence: online while any session is registered, last seen when the
 * last one ends; watchers (presence.sub of other users' sessions, a 60 s lease their own user
 * actor renews every 20 s) get `presence` events when the owner's privacy lets them see it
 * (last_seen: everyone, contacts, nobody; never someone the owner blocks). Typing relays
 * (MSG_RELAY) go to every live session, stored nowhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/msgs.h"
#include "actors/user.h"
#include "runtime/errors.h"
#include "runtime/util.h"

static bool s_allowed(user_t *u, uint64_t watcher)
{
    if (watcher == u->id)
        return true;
    if (user_blocks(u, watcher) || u->ls_privacy == LS_NOBODY)
        return false;
    if (u->ls_privacy == LS_EVERYONE)
        return true;
    contact_t *c = user_contact(u, watcher, false);
    return c && c->contact;
}

static void s_push_presence(roost_ctx_t *ctx, user_t *u, const char *session)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 4);
    mp_kv_str(&b.pk, "t", "presence");
    mp_kv_str(&b.pk, "user", u->id_s);
    mp_kv_str(&b.pk, "status", u->nsessions ? "online" : "offline");
    mp_pack_str(&b.pk, "last_seen");
    if (u->nsessions || !u->last_seen_ms)
        msgpack_pack_nil(&b.pk);
    else
        msgpack_pack_uint64(&b.pk, u->last_seen_ms);
    roost_ctx_send(ctx, session, MSG_PUSH, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

void user_presence_changed(roost_ctx_t *ctx, user_t *u)
{
    uint64_t now = roost_ctx_now_ns(ctx);
    for (uint32_t i = 0; i < u->nwatchers; i++)
        if (u->watchers[i].expires_ns > now && s_allowed(u, u->watchers[i].user))
            s_push_presence(ctx, u, u->watchers[i].session);
}

/* [watcher, session] */
void user_on_watch(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = &up.data;
    mp_str_t w, sess;
    uint64_t watcher = 0;
    char session[ROOST_KEY_BYTES_MAX + 1];
    if (!mp_parse(&up, env->payload, env->payload_len) || a->type != MSGPACK_OBJECT_ARRAY ||
        a->via.array.size != 2 || !mp_as_str(&a->via.array.ptr[0], &w) ||
        !(watcher = id_parse(w.ptr, w.len)) || !mp_as_str(&a->via.array.ptr[1], &sess) ||
        !mp_str_copy(sess, session, sizeof session) || sess.len == 0)
        goto out;
    uint64_t now = roost_ctx_now_ns(ctx);
    watcher_t *found = NULL;
    for (uint32_t i = 0; i < u->nwatchers && !found; i++)
        if (u->watchers[i].user == watcher && strcmp(u->watchers[i].session, session) == 0)
            found = &u->watchers[i];
    bool fresh = !found;
    if (!found) {
        if (u->nwatchers == USER_WATCHERS_MAX)
            u->watchers[0] = u->watchers[--u->nwatchers]; /* the oldest slot gives way */
        if (u->nwatchers == u->watchers_cap) {
            u->watchers_cap = u->watchers_cap ? u->watchers_cap * 2 : 4;
            u->watchers = roost_xrealloc(u->watchers, u->watchers_cap * sizeof *u->watchers);
        }
        found = &u->watchers[u->nwatchers++];
        found->user = watcher;
        memcpy(found->session, session, sizeof session);
    }
    found->expires_ns = now + USER_WATCH_TTL_MS * 1000000ull;
    if (fresh && s_allowed(u, watcher))
        s_push_presence(ctx, u, session);
    user_ensure_tick(ctx, u);
out:
    msgpack_unpacked_destroy(&up);
}

/* [session] */
void user_on_unwatch(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    (void)ctx;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t sess;
    if (mp_parse(&up, env->payload, env->payload_len) && up.data.type == MSGPACK_OBJECT_ARRAY &&
        up.data.via.array.size == 1 && mp_as_str(&up.data.via.array.ptr[0], &sess)) {
        for (uint32_t i = 0; i < u->nwatchers;) {
            if (mp_str_eq(sess, u->watchers[i].session))
                u->watchers[i] = u->watchers[--u->nwatchers];
            else
                i++;
        }
    }
    msgpack_unpacked_destroy(&up);
}

static void s_send_watch(roost_ctx_t *ctx, user_t *u, uint64_t target, const char *session,
                         bool watch)
{
    char key[ID_BYTES_MAX + 3];
    id_key(key, 'u', target);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, watch ? 2 : 1);
    if (watch)
        mp_pack_str(&b.pk, u->id_s);
    mp_pack_str(&b.pk, session);
    roost_ctx_send(ctx, key, watch ? MSG_WATCH : MSG_UNWATCH, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

/* ---- presence.sub: every named user must exist (else not_found), then the watches ---------- */

static session_t *s_session(user_t *u, const char *key)
{
    for (uint32_t i = 0; i < u->nsessions; i++)
        if (strcmp(u->sessions[i].key, key) == 0)
            return &u->sessions[i];
    return NULL;
}

void user_on_presence_sub(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env)
{
    const msgpack_object *users;
    if (mp_get_array(r->frame, "users", &users) != MP_OK || users->via.array.size == 0 ||
        users->via.array.size > USER_SUB_MAX)
        return client_bad_field(ctx, env, "users");
    sub_check_t *k = roost_xcalloc(1, sizeof *k);
    for (uint32_t i = 0; i < users->via.array.size; i++) {
        mp_str_t s;
        if (!mp_as_str(&users->via.array.ptr[i], &s) ||
            !(k->ids[k->n++] = id_parse(s.ptr, s.len))) {
            free(k);
            return client_bad_field(ctx, env, "users");
        }
    }
    if (!s_session(u, r->session)) {
        free(k);
        return client_err(ctx, env, CODE_UNAUTHORIZED, "no session: auth first");
    }
    k->tag = ++u->sub_tag;
    k->req = roost_ctx_keep(ctx);
    snprintf(k->session, sizeof k->session, "%s", r->session);
    k->next = u->sub_checks;
    u->sub_checks = k;
    for (uint32_t i = 0; i < k->n; i++) {
        char key[ID_BYTES_MAX + 3];
        id_key(key, 'u', k->ids[i]);
        uint64_t corr = 0;
        if (roost_ctx_request(ctx, key, MSG_USER_EXISTS, NULL, 0, 0, &corr) != ROOST_OK) {
            k->failed = true;
            continue;
        }
        pend_t *p = pend_add(&u->pend, corr, PEND_SUB_CHECK, NULL);
        p->a = k->ids[i];
        p->b = k->tag;
        k->waiting++;
    }
    if (k->waiting == 0) { /* nothing was sent: k is still the first on the list */
        u->sub_checks = k->next;
        client_err(ctx, env, CODE_UNAVAILABLE, "try again");
        roost_env_free(k->req);
        free(k);
    }
}

static void s_sub_watch(roost_ctx_t *ctx, user_t *u, const sub_check_t *k)
{
    session_t *sess = s_session(u, k->session);
    if (!sess)
        return client_err(ctx, k->req, CODE_UNAUTHORIZED, "the session ended");
    for (uint32_t i = 0; i < k->n; i++) {
        uint64_t id = k->ids[i];
        bool have = false;
        for (uint32_t j = 0; j < sess->nwatches; j++)
            have |= sess->watches[j] == id;
        if (!have && sess->nwatches < USER_WATCHES_MAX) {
            sess->watches = roost_xrealloc(sess->watches, (sess->nwatches + 1) * sizeof(uint64_t));
            sess->watches[sess->nwatches++] = id;
        }
        s_send_watch(ctx, u, id, sess->key, true);
    }
    client_ok(ctx, k->req);
}

bool user_presence_answer(roost_ctx_t *ctx, user_t *u, pend_t *p, const roost_env_t *env)
{
    if (p->kind != PEND_SUB_CHECK)
        return false;
    sub_check_t **pp = &u->sub_checks;
    while (*pp && (*pp)->tag != p->b)
        pp = &(*pp)->next;
    sub_check_t *k = *pp;
    if (!k)
        return true;
    if ((env->flags & ROOST_ENV_ERROR) && env->status == ROOST_ENOTFOUND && !k->missing)
        k->missing = p->a;
    else if (env->flags & ROOST_ENV_ERROR)
        k->failed = true;
    if (--k->waiting > 0)
        return true;
    *pp = k->next;
    char msg[64];
    snprintf(msg, sizeof msg, "no such user: %llu", (unsigned long long)k->missing);
    if (k->missing)
        client_err(ctx, k->req, CODE_NOT_FOUND, msg);
    else if (k->failed)
        client_err(ctx, k->req, CODE_UNAVAILABLE, "try again");
    else
        s_sub_watch(ctx, u, k);
    roost_env_free(k->req);
    free(k);
    return true;
}

void user_sub_checks_free(user_t *u)
{
    while (u->sub_checks) {
        sub_check_t *k = u->sub_checks;
        u->sub_checks = k->next;
        roost_env_free(k->req);
        free(k);
    }
}

void user_unwatch_all(roost_ctx_t *ctx, user_t *u, session_t *s)
{
    for (uint32_t i = 0; i < s->nwatches; i++)
        s_send_watch(ctx, u, s->watches[i], s->key, false);
    s->nwatches = 0;
}

void user_renew_watches(roost_ctx_t *ctx, user_t *u)
{
    for (uint32_t i = 0; i < u->nsessions; i++)
        for (uint32_t j = 0; j < u->sessions[i].nwatches; j++)
            s_send_watch(ctx, u, u->sessions[i].watches[j], u->sessions[i].key, true);
}

void user_watchers_tick(roost_ctx_t *ctx, user_t *u)
{
    uint64_t now = roost_ctx_now_ns(ctx);
    for (uint32_t i = 0; i < u->nwatchers;) {
        if (u->watchers[i].expires_ns <= now)
            u->watchers[i] = u->watchers[--u->nwatchers];
        else
            i++;
    }
    if (now - u->last_renew_ns >= USER_WATCH_RENEW_MS * 1000000ull) {
        u->last_renew_ns = now;
        user_renew_watches(ctx, u);
    }
}

/* [frame]: an ephemeral event for every live session (typing). */
void user_on_relay(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (mp_parse(&up, env->payload, env->payload_len) && up.data.type == MSGPACK_OBJECT_ARRAY &&
        up.data.via.array.size == 1 && up.data.via.array.ptr[0].type == MSGPACK_OBJECT_MAP) {
        mp_str_t from;
        if (mp_get_str(&up.data.via.array.ptr[0], "user", 1, ID_BYTES_MAX, &from) == MP_OK &&
            user_blocks(u, id_parse(from.ptr, from.len))) {
            msgpack_unpacked_destroy(&up);
            return; /* nothing from someone this user blocks */
        }
        mp_buf_t b;
        mp_buf_init(&b);
        mp_pack_obj(&b.pk, &up.data.via.array.ptr[0]);
        for (uint32_t i = 0; i < u->nsessions; i++)
            if (u->sessions[i].authed)
                roost_ctx_send(ctx, u->sessions[i].key, MSG_PUSH, b.sb.data, b.sb.size);
        mp_buf_fini(&b);
    }
    msgpack_unpacked_destroy(&up);
}
