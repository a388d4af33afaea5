/* actors/conv_users.c — what a conversation must ask its users' actors before it can answer:
 * whether users exist (MSG_USER_EXISTS; a user found missing answers not_found for 10 s) and
 * members' current devices (MSG_DEVICES_GET, for `bodies`). A request that needs an answer
 * not cached yet is parked until every check is answered, and is then handled again from the
 * start (finding the answers cached). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/conv.h"
#include "actors/msgs.h"
#include "runtime/errors.h"
#include "runtime/util.h"

enum { KNOWN_MAX = 4096, MISSING_NS = 10ull * 1000000000ull };

static bool s_known(const conv_t *c, uint64_t user)
{
    if (c->group && conv_member((conv_t *)c, user)) /* a direct one lists both from the start */
        return true;
    for (uint32_t i = 0; i < c->nknown; i++)
        if (c->known[i] == user)
            return true;
    return false;
}

static bool s_missing(const conv_t *c, uint64_t user, uint64_t now)
{
    for (uint32_t i = 0; i < sizeof c->missing / sizeof *c->missing; i++)
        if (c->missing[i].user == user && c->missing[i].until_ns > now)
            return true;
    return false;
}

static bool s_checking(const conv_t *c, uint64_t user, bool devices)
{
    for (uint32_t i = 0; i < c->nchecks; i++)
        if (c->checks[i].user == user && c->checks[i].devices == devices)
            return true;
    return false;
}

static void s_not_found(roost_ctx_t *ctx, const roost_env_t *env)
{
    if (env->type == MSG_CLIENT)
        client_err(ctx, env, CODE_NOT_FOUND, "no such user");
    else if (env->flags & ROOST_ENV_REQUEST)
        roost_ctx_reply_error(ctx, env, ROOST_ENOTFOUND);
}

static void s_check(roost_ctx_t *ctx, conv_t *c, uint64_t user, bool devices)
{
    char key[ID_BYTES_MAX + 3];
    id_key(key, 'u', user);
    uint64_t corr = 0;
    if (roost_ctx_request(ctx, key, devices ? MSG_DEVICES_GET : MSG_USER_EXISTS, NULL, 0, 0,
                          &corr) != ROOST_OK)
        return;
    if (c->nchecks == c->checks_cap) {
        c->checks_cap = c->checks_cap ? c->checks_cap * 2 : 4;
        c->checks = roost_xrealloc(c->checks, c->checks_cap * sizeof *c->checks);
    }
    c->checks[c->nchecks].user = user;
    c->checks[c->nchecks].corr = corr;
    c->checks[c->nchecks].devices = devices;
    c->nchecks++;
}

static void s_park(roost_ctx_t *ctx, conv_t *c)
{
    roost_env_t *kept = roost_ctx_keep(ctx);
    kept->next = NULL;
    if (c->parked_tail)
        c->parked_tail->next = kept;
    else
        c->parked = kept;
    c->parked_tail = kept;
    if (c->nchecks == 0) { /* could not even ask: answer unavailable now */
        c->parked = c->parked_tail = NULL;
        if (kept->type == MSG_CLIENT)
            client_err(ctx, kept, CODE_UNAVAILABLE, "try again");
        else
            roost_ctx_reply_error(ctx, kept, ROOST_EUNAVAIL);
        roost_env_free(kept);
    }
}

bool conv_users_exist(roost_ctx_t *ctx, conv_t *c, const uint64_t *users, uint32_t n)
{
    const roost_env_t *env = NULL;
    uint64_t now = roost_ctx_now_ns(ctx);
    bool all = true;
    for (uint32_t i = 0; i < n; i++) {
        if (s_known(c, users[i]))
            continue;
        all = false;
        if (s_missing(c, users[i], now)) {
            env = roost_ctx_keep(ctx);
            s_not_found(ctx, env);
            roost_env_free((roost_env_t *)env);
            return false;
        }
    }
    if (all)
        return true;
    for (uint32_t i = 0; i < n; i++)
        if (!s_known(c, users[i]) && !s_checking(c, users[i], false))
            s_check(ctx, c, users[i], false);
    s_park(ctx, c);
    return false;
}

bool conv_devices_known(roost_ctx_t *ctx, conv_t *c)
{
    uint64_t now = roost_ctx_now_ns(ctx);
    bool all = true;
    for (uint32_t i = 0; i < c->nmembers; i++) {
        member_t *m = &c->members[i];
        if (m->left || (m->devs && m->devs_until_ns > now))
            continue;
        all = false;
        if (!s_checking(c, m->user, true))
            s_check(ctx, c, m->user, true);
    }
    if (!all)
        s_park(ctx, c);
    return all;
}

/* [device…] into the member's cache. */
static void s_devices(roost_ctx_t *ctx, conv_t *c, uint64_t user, const roost_env_t *env)
{
    member_t *m = conv_member(c, user);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (m && mp_parse(&up, env->payload, env->payload_len) &&
        up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size <= 64) {
        size_t total = 0;
        for (uint32_t i = 0; i < up.data.via.array.size; i++) {
            mp_str_t d;
            if (mp_as_str(&up.data.via.array.ptr[i], &d) && device_valid(d.ptr, d.len))
                total += d.len + 1;
        }
        free(m->devs);
        m->devs = roost_xmalloc(total + 1);
        m->ndevs = 0;
        size_t off = 0;
        for (uint32_t i = 0; i < up.data.via.array.size; i++) {
            mp_str_t d;
            if (!mp_as_str(&up.data.via.array.ptr[i], &d) || !device_valid(d.ptr, d.len))
                continue;
            memcpy(m->devs + off, d.ptr, d.len);
            m->devs[off + d.len] = '\0';
            off += d.len + 1;
            m->ndevs++;
        }
        m->devs_until_ns = roost_ctx_now_ns(ctx) + CONV_DEVICES_TTL_MS * 1000000ull;
    } else if (m) {
        c->check_failed = true;
    }
    msgpack_unpacked_destroy(&up);
}

void conv_on_devices_changed(conv_t *c, const roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t u;
    if (mp_parse(&up, env->payload, env->payload_len) && up.data.type == MSGPACK_OBJECT_ARRAY &&
        up.data.via.array.size == 1 && mp_as_str(&up.data.via.array.ptr[0], &u)) {
        member_t *m = conv_member(c, id_parse(u.ptr, u.len));
        if (m) {
            free(m->devs);
            m->devs = NULL;
        }
    }
    msgpack_unpacked_destroy(&up);
}

bool conv_direct_ready(roost_ctx_t *ctx, conv_t *c, const roost_env_t *env)
{
    (void)env;
    if (c->group || c->exists)
        return true;
    uint64_t users[2] = {c->lo, c->hi};
    if (!conv_users_exist(ctx, c, users, c->lo == c->hi ? 1 : 2))
        return false;
    c->exists = true;
    return true;
}

bool conv_check_answer(roost_ctx_t *ctx, conv_t *c, const roost_env_t *env)
{
    uint32_t i = 0;
    while (i < c->nchecks && c->checks[i].corr != env->corr)
        i++;
    if (env->corr == 0 || i == c->nchecks)
        return false;
    uint64_t user = c->checks[i].user;
    bool devices = c->checks[i].devices;
    c->checks[i] = c->checks[--c->nchecks];
    if (devices && !(env->flags & ROOST_ENV_ERROR)) {
        s_devices(ctx, c, user, env);
    } else if (devices && env->status == ROOST_ENOTFOUND) {
        member_t *m = conv_member(c, user); /* a deleted account has no devices */
        if (m) {
            free(m->devs);
            m->devs = roost_xcalloc(1, 1);
            m->ndevs = 0;
            m->devs_until_ns = roost_ctx_now_ns(ctx) + CONV_DEVICES_TTL_MS * 1000000ull;
        }
    } else if (!(env->flags & ROOST_ENV_ERROR)) {
        if (c->nknown == c->known_cap && c->known_cap < KNOWN_MAX) {
            c->known_cap = c->known_cap ? c->known_cap * 2 : 8;
            c->known = roost_xrealloc(c->known, c->known_cap * sizeof *c->known);
        }
        if (c->nknown < c->known_cap)
            c->known[c->nknown++] = user;
    } else if (env->status != ROOST_ENOTFOUND) {
        c->check_failed = true;
    } else {
        uint32_t slot = c->missing_next++ % (sizeof c->missing / sizeof *c->missing);
        c->missing[slot].user = user;
        c->missing[slot].until_ns = roost_ctx_now_ns(ctx) + MISSING_NS;
    }
    if (c->nchecks > 0)
        return true;
    roost_env_t *parked = c->parked; /* handled again: they find the answers cached */
    c->parked = c->parked_tail = NULL;
    if (!c->check_failed) {
        roost_ctx_unstash(ctx, parked);
        return true;
    }
    c->check_failed = false; /* a user actor could not answer: the requests may be retried */
    for (roost_env_t *e = parked, *next; e; e = next) {
        next = e->next;
        if (e->type == MSG_CLIENT)
            client_err(ctx, e, CODE_UNAVAILABLE, "try again");
        else
            roost_ctx_reply_error(ctx, e, ROOST_EUNAVAIL);
        roost_env_free(e);
    }
    return true;
}

void conv_users_reset(conv_t *c)
{
    free(c->known);
    free(c->checks);
    for (roost_env_t *e = c->parked, *next; e; e = next) {
        next = e->next;
        roost_env_free(e);
    }
    c->known = NULL;
    c->checks = NULL;
    c->parked = c->parked_tail = NULL;
    c->nknown = c->known_cap = c->nchecks = c->checks_cap = 0;
}
