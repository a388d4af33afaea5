/* actors/base.c — loading, stashing and ordered writes for domain actors (see base.h). */
#include "actors/base.h"

#include <stdlib.h>
#include <string.h>

#include "actors/akey.h"
#include "actors/mp.h"
#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/util.h"
#include "shards/store.h"

static const char *const COMP = "actor";

void base_init(base_t *b, void *self, int (*load)(roost_ctx_t *, void *),
               void (*reset)(roost_ctx_t *, void *))
{
    *b = (base_t){.self = self, .load = load, .reset = reset, .phase = BASE_INIT};
}

void base_fini(roost_ctx_t *ctx, base_t *b)
{
    for (roost_env_t *e = b->stash, *next; e; e = next) {
        next = e->next;
        roost_env_free(e);
    }
    b->stash = b->stash_tail = NULL;
    base_wait_t *waits = b->waits; /* detached: callbacks may try to write again */
    b->waits = b->waits_tail = NULL;
    b->closing = true;
    for (base_wait_t *w = waits, *next; w; w = next) {
        next = w->next;
        if (w->fn) /* lets the callback free what it holds; its answer goes nowhere useful */
            w->fn(ctx, b->self, w->arg, w->done ? w->status : ROOST_ECLOSED);
        free(w);
    }
    b->waits = b->waits_tail = NULL;
}

static void s_stash(roost_ctx_t *ctx, base_t *b, roost_env_t *env)
{
    if (b->nstash >= BASE_STASH_MAX) {
        if (env->flags & ROOST_ENV_REQUEST)
            roost_ctx_reply_error(ctx, env, ROOST_EAGAIN);
        return;
    }
    roost_ctx_keep(ctx);
    env->next = NULL;
    if (b->stash_tail)
        b->stash_tail->next = env;
    else
        b->stash = env;
    b->stash_tail = env;
    b->nstash++;
}

static void s_refuse_stash(roost_ctx_t *ctx, base_t *b, int code)
{
    for (roost_env_t *e = b->stash, *next; e; e = next) {
        next = e->next;
        if (e->flags & ROOST_ENV_REQUEST)
            roost_ctx_reply_error(ctx, e, code);
        roost_env_free(e);
    }
    b->stash = b->stash_tail = NULL;
    b->nstash = 0;
}

static void s_open(roost_ctx_t *ctx, base_t *b)
{
    b->phase = BASE_OPENING;
    b->open_attempts++;
    if (store_open(ctx, &b->open_corr) != ROOST_OK) {
        b->open_corr = 0;
        roost_ctx_timer_start(ctx, BASE_OPEN_RETRY_MS, 0, BASE_TIMER_OPEN);
    }
}

static void s_opened(roost_ctx_t *ctx, base_t *b, const roost_env_t *env)
{
    b->open_corr = 0;
    int rc = (env->flags & ROOST_ENV_ERROR) ? env->status : b->load(ctx, b->self);
    if (rc == ROOST_OK) {
        b->phase = BASE_READY;
        b->write_err = ROOST_OK; /* what failed went with the state that made it */
        b->open_attempts = 0;
        b->epoch = roost_ctx_epoch(ctx);
        roost_env_t *stash = b->stash;
        b->stash = b->stash_tail = NULL;
        b->nstash = 0;
        roost_ctx_unstash(ctx, stash);
        return;
    }
    b->reset(ctx, b->self);
    bool retry =
        (rc == ROOST_EUNAVAIL || rc == ROOST_ETIMEDOUT) && b->open_attempts < BASE_OPEN_ATTEMPTS;
    if (retry) {
        roost_ctx_timer_start(ctx, BASE_OPEN_RETRY_MS, 0, BASE_TIMER_OPEN);
        return;
    }
    ROOST_WARN(COMP, "cannot load state", "actor=%s err=%s", roost_ctx_self(ctx),
               roost_strerror(rc));
    s_refuse_stash(ctx, b, rc);
    b->phase = BASE_INIT;
    b->open_attempts = 0;
    roost_ctx_passivate(ctx);
}

/* Broken and every write answered: drop the state and load it again. */
static void s_maybe_restart(roost_ctx_t *ctx, base_t *b)
{
    if (b->phase != BASE_BROKEN || b->waits)
        return;
    b->reset(ctx, b->self);
    b->open_attempts = 0;
    s_open(ctx, b);
}

static void s_run_done(roost_ctx_t *ctx, base_t *b)
{
    while (b->waits && (b->waits->done || b->waits->corr == 0)) {
        base_wait_t *w = b->waits;
        b->waits = w->next;
        if (!b->waits)
            b->waits_tail = NULL;
        if (w->corr && w->status != ROOST_OK && b->write_err == ROOST_OK)
            b->write_err = w->status;
        /* a marker (base_after) answers for every write before it: it once always said 0,
         * so a request whose write had failed was answered ok (a block that never took
         * effect: sim seed 3, 3 nodes; an inbox's deliver the conversation then skipped) */
        if (w->fn)
            w->fn(ctx, b->self, w->arg, w->corr ? w->status : b->write_err);
        free(w);
    }
    s_maybe_restart(ctx, b);
}

static bool s_on_write_answer(roost_ctx_t *ctx, base_t *b, const roost_env_t *env)
{
    for (base_wait_t *w = b->waits; w; w = w->next) {
        if (w->corr != env->corr || w->done)
            continue;
        w->done = true;
        w->status = (env->flags & ROOST_ENV_ERROR) ? env->status : ROOST_OK;
        if (w->status != ROOST_OK && b->phase == BASE_READY) {
            ROOST_WARN(COMP, "write failed; reloading", "actor=%s err=%s", roost_ctx_self(ctx),
                       roost_strerror(w->status));
            b->phase = BASE_BROKEN;
        }
        s_run_done(ctx, b);
        return true;
    }
    return false;
}

/* State loaded under an earlier epoch of the partition is stale: another primary may have
 * written since. Whatever wakes the actor (a message, an answer, a timer) reloads it first —
 * a timer or an answer acting on the old state would write it back over the newer one. */
static bool s_fenced(roost_ctx_t *ctx, base_t *b)
{
    if (b->phase != BASE_READY || roost_ctx_epoch(ctx) == b->epoch)
        return false;
    b->phase = BASE_BROKEN;
    s_maybe_restart(ctx, b);
    return true;
}

bool base_filter(roost_ctx_t *ctx, base_t *b, roost_env_t *env)
{
    if (env->flags & ROOST_ENV_RESPONSE) {
        if (b->open_corr && env->corr == b->open_corr) {
            s_opened(ctx, b, env);
            return true;
        }
        /* answers to requests made before a reset mean nothing to the reloaded state */
        return s_on_write_answer(ctx, b, env) || s_fenced(ctx, b) || b->phase != BASE_READY;
    }
    if (b->phase == BASE_READY && roost_ctx_epoch(ctx) != b->epoch) {
        s_stash(ctx, b, env); /* handled once reloaded */
        s_fenced(ctx, b);
        return true;
    }
    if (b->phase == BASE_READY)
        return false;
    s_stash(ctx, b, env);
    if (b->phase == BASE_INIT)
        s_open(ctx, b);
    return true;
}

bool base_timer(roost_ctx_t *ctx, base_t *b, uint64_t tag)
{
    if (tag != BASE_TIMER_OPEN) {
        s_fenced(ctx, b); /* the actor's own timer then finds it not ready */
        return false;
    }
    if (b->phase == BASE_OPENING && !b->open_corr)
        s_open(ctx, b);
    return true;
}

static base_wait_t *s_push(base_t *b, uint64_t corr, base_fn fn, void *arg)
{
    base_wait_t *w = roost_xcalloc(1, sizeof *w);
    *w = (base_wait_t){.corr = corr, .fn = fn, .arg = arg};
    if (b->waits_tail)
        b->waits_tail->next = w;
    else
        b->waits = w;
    b->waits_tail = w;
    return w;
}

void base_write(roost_ctx_t *ctx, base_t *b, const store_ops_t *ops, base_fn fn, void *arg)
{
    if (b->closing) {
        if (fn)
            fn(ctx, b->self, arg, ROOST_ECLOSED);
        return;
    }
    uint64_t corr = 0;
    int rc = store_append(ctx, ops, &corr);
    if (rc != ROOST_OK) {
        base_wait_t *w = s_push(b, UINT64_MAX, fn, arg);
        w->done = true;
        w->status = rc;
        if (b->phase == BASE_READY)
            b->phase = BASE_BROKEN;
        s_run_done(ctx, b);
        return;
    }
    s_push(b, corr, fn, arg);
}

void base_after(roost_ctx_t *ctx, base_t *b, base_fn fn, void *arg)
{
    if (b->closing || !b->waits) {
        fn(ctx, b->self, arg, b->closing ? ROOST_ECLOSED : b->write_err);
        return;
    }
    s_push(b, 0, fn, arg);
}

int base_get_doc(roost_ctx_t *ctx, const void *key, size_t klen, msgpack_unpacked *up)
{
    msgpack_unpacked_init(up);
    void *val;
    size_t len;
    int rc = store_get(ctx, key, klen, &val, &len);
    if (rc != ROOST_OK)
        return rc;
    rc = mp_parse(up, val, len) ? ROOST_OK : ROOST_EPROTO;
    free(val);
    return rc;
}

int base_get_u64(roost_ctx_t *ctx, const void *key, size_t klen, uint64_t *out)
{
    void *val;
    size_t len;
    *out = 0;
    int rc = store_get(ctx, key, klen, &val, &len);
    if (rc != ROOST_OK)
        return rc == ROOST_ENOTFOUND ? ROOST_OK : rc;
    *out = len == 8 ? akey_get_be64(val) : 0;
    free(val);
    return ROOST_OK;
}

uint64_t base_fence(roost_ctx_t *ctx)
{
    uint64_t fence = 0;
    base_get_u64(ctx, STORE_FENCE_KEY, strlen(STORE_FENCE_KEY), &fence);
    return fence;
}

bool base_ready(const base_t *b)
{
    return b->phase == BASE_READY;
}

bool base_busy(const base_t *b)
{
    return b->waits != NULL;
}
