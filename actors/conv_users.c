/* actors/conv_users.c — whether the users a request names exist (MSG_USER_EXISTS to their
 * actors), cached: a request naming an unchecked user is parked until the checks answer and
 * is then handled again from the start; a user found missing answers not_found for 10 s. */
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

static bool s_checking(const conv_t *c, uint64_t user)
{
    for (uint32_t i = 0; i < c->nchecks; i++)
        if (c->checks[i].user == user)
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

static void s_check(roost_ctx_t *ctx, conv_t *c, uint64_t user)
{
    char key[ID_BYTES_MAX + 3];
    id_key(key, 'u', user);
    uint64_t corr = 0;
    if (roost_ctx_request(ctx, key, MSG_USER_EXISTS, NULL, 0, 0, &corr) != ROOST_OK)
        return;
    if (c->nchecks == c->checks_cap) {
        c->checks_cap = c->checks_cap ? c->checks_cap * 2 : 4;
        c->checks = roost_xrealloc(c->checks, c->checks_cap * sizeof *c->checks);
    }
    c->checks[c->nchecks].user = user;
    c->checks[c->nchecks].corr = corr;
    c->nchecks++;
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
        if (!s_known(c, users[i]) && !s_checking(c, users[i]))
            s_check(ctx, c, users[i]);
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
    return false;
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
    c->checks[i] = c->checks[--c->nchecks];
    if (!(env->flags & ROOST_ENV_ERROR)) {
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
