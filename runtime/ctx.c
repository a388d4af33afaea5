/* runtime/ctx.c — the handler context (actor.h): sends, requests, replies and timers on behalf
 * of the actor whose handler is running. Every function here runs on that actor's worker.
 */
#include <assert.h>
#include <sodium.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/node_internal.h"

const char *roost_ctx_self(const roost_ctx_t *ctx)
{
    return ctx->actor->key;
}

uint64_t roost_ctx_now_ns(const roost_ctx_t *ctx)
{
    return roost_clock_now_ns(ctx->w->node->clock);
}

uint64_t roost_ctx_wall_ms(const roost_ctx_t *ctx)
{
    return roost_clock_wall_ms(ctx->w->node->clock);
}

uint64_t roost_ctx_epoch(const roost_ctx_t *ctx)
{
    return roost_node_epoch(ctx->w->node, roost_ctx_partition(ctx));
}

roost_rng_t *roost_ctx_rng(roost_ctx_t *ctx)
{
    return &ctx->w->rng;
}

void roost_ctx_secret_bytes(roost_ctx_t *ctx, void *buf, size_t len)
{
    roost_node_t *n = ctx->w->node;
    if (n->secret_bytes)
        n->secret_bytes(n->secret_arg, buf, len);
    else
        randombytes_buf(buf, len);
}

uint32_t roost_ctx_secret_uniform(roost_ctx_t *ctx, uint32_t upper)
{
    uint32_t floor = (uint32_t)(-upper % upper); /* 2^32 mod upper: values below it are biased */
    for (;;) {
        uint32_t v;
        roost_ctx_secret_bytes(ctx, &v, sizeof v);
        if (v >= floor)
            return v % upper;
    }
}

void *roost_ctx_service(const roost_ctx_t *ctx, const char *name)
{
    return roost_node_service(ctx->w->node, name);
}

uint32_t roost_ctx_node_id(const roost_ctx_t *ctx)
{
    return ctx->w->node->id;
}

uint32_t roost_ctx_partition(const roost_ctx_t *ctx)
{
    return roost_node_partition_of(ctx->w->node, ctx->actor->key);
}

uint32_t roost_ctx_worker(const roost_ctx_t *ctx)
{
    return ctx->w->index;
}

roost_env_t *roost_ctx_keep(roost_ctx_t *ctx)
{
    assert(ctx->env && !ctx->env_taken);
    ctx->env_taken = true;
    return ctx->env;
}

void roost_ctx_unstash(roost_ctx_t *ctx, roost_env_t *head)
{
    if (!ctx->closing) {
        worker_prepend(ctx->w, ctx->actor, head);
        return;
    }
    for (roost_env_t *e = head, *next; e; e = next) { /* the actor is going: so are they */
        next = e->next;
        roost_env_free(e);
    }
}

int roost_ctx_send_env(roost_ctx_t *ctx, roost_env_t *env)
{
    if (env == ctx->env)
        ctx->env_taken = true;
    if (!roost_key_is_valid(env->target, env->target_len)) {
        roost_env_free(env);
        return ROOST_EINVAL;
    }
    return node_route(ctx->w->node, env, ctx->w);
}

/* The target measured and checked in one pass; the sender is the actor, whose key's length
 * is known. */
static roost_env_t *s_new(roost_ctx_t *ctx, const char *target, uint32_t type, const void *payload,
                          size_t len)
{
    size_t tlen = target ? roost_key_measure(target) : 0;
    if (tlen == 0)
        return NULL;
    roost_actor_t *a = ctx->actor;
    return roost_env_new_n(&ctx->w->pool, target, tlen, a->key, a->key_len, type, payload, len);
}

int roost_ctx_send(roost_ctx_t *ctx, const char *target, uint32_t type, const void *payload,
                   size_t len)
{
    roost_env_t *env = s_new(ctx, target, type, payload, len);
    if (!env)
        return ROOST_EINVAL;
    return node_route(ctx->w->node, env, ctx->w);
}

void ctx_timer_unlink(roost_actor_t *a, rtimer_t *t)
{
    if (t->owner_prev)
        t->owner_prev->owner_next = t->owner_next;
    else
        a->timers = t->owner_next;
    if (t->owner_next)
        t->owner_next->owner_prev = t->owner_prev;
    t->owner_prev = t->owner_next = NULL;
}

rtimer_t *ctx_timer_add(roost_worker_t *w, roost_actor_t *a, uint64_t delay_ns, uint64_t period_ns,
                        uint8_t kind, uint64_t tag)
{
    uint64_t now = roost_clock_now_ns(w->node->clock);
    rtimer_t *t = timers_add(&w->timers, now + delay_ns, period_ns, a, kind, tag);
    t->owner_next = a->timers;
    if (a->timers)
        a->timers->owner_prev = t;
    a->timers = t;
    atomic_fetch_add_explicit(&w->stats.timers_pending, 1, memory_order_relaxed);
    return t;
}

int roost_ctx_request(roost_ctx_t *ctx, const char *target, uint32_t type, const void *payload,
                      size_t len, uint32_t timeout_ms, uint64_t *corr_out)
{
    if (ctx->closing)
        return ROOST_ECLOSED;
    roost_env_t *env = s_new(ctx, target, type, payload, len);
    if (!env)
        return ROOST_EINVAL;
    roost_worker_t *w = ctx->w;
    uint64_t corr = ++w->next_corr;
    env->flags = ROOST_ENV_REQUEST;
    env->corr = corr;
    if (timeout_ms == 0)
        timeout_ms = ROOST_REQUEST_TIMEOUT_MS_DEFAULT;
    rtimer_t *t =
        ctx_timer_add(w, ctx->actor, (uint64_t)timeout_ms * 1000000u, 0, TIMER_REQUEST, corr);
    u64map_put(&w->pending, corr, t);
    if (corr_out)
        *corr_out = corr;
    /* A refused send still ends in exactly one response: the timeout's error. */
    node_route(w->node, env, w);
    return ROOST_OK;
}

static int s_reply(roost_ctx_t *ctx, const roost_env_t *req, uint32_t type, const void *payload,
                   size_t len, int status)
{
    if (!(req->flags & ROOST_ENV_REQUEST) || req->sender_len == 0)
        return ROOST_EINVAL;
    roost_env_t *env =
        roost_env_new_in(&ctx->w->pool, req->sender, ctx->actor->key, type, payload, len);
    if (!env)
        return ROOST_EINVAL;
    env->flags = (uint16_t)(ROOST_ENV_RESPONSE | (status ? ROOST_ENV_ERROR : 0));
    env->status = status;
    env->corr = req->corr;
    return node_route(ctx->w->node, env, ctx->w);
}

int roost_ctx_reply(roost_ctx_t *ctx, const roost_env_t *req, uint32_t type, const void *payload,
                    size_t len)
{
    return s_reply(ctx, req, type, payload, len, 0);
}

int roost_ctx_reply_error(roost_ctx_t *ctx, const roost_env_t *req, int code)
{
    assert(code < 0);
    return s_reply(ctx, req, ROOST_MSG_ERROR, NULL, 0, code);
}

uint64_t roost_ctx_timer_start(roost_ctx_t *ctx, uint64_t delay_ms, uint64_t period_ms,
                               uint64_t tag)
{
    if (ctx->closing)
        return 0;
    return ctx_timer_add(ctx->w, ctx->actor, delay_ms * 1000000u, period_ms * 1000000u, TIMER_ACTOR,
                         tag)
        ->id;
}

uint64_t roost_ctx_timer_start_us(roost_ctx_t *ctx, uint64_t delay_us, uint64_t period_us,
                                  uint64_t tag)
{
    if (ctx->closing)
        return 0;
    return ctx_timer_add(ctx->w, ctx->actor, delay_us * 1000u, period_us * 1000u, TIMER_ACTOR, tag)
        ->id;
}

bool roost_ctx_timer_cancel(roost_ctx_t *ctx, uint64_t timer_id)
{
    roost_worker_t *w = ctx->w;
    rtimer_t *t = timers_find(&w->timers, timer_id);
    if (!t || t->owner != ctx->actor || t->kind != TIMER_ACTOR || t->cancelled)
        return false;
    if (!t->in_heap) { /* cancelling itself from its own on_timer: the firing path releases */
        t->cancelled = true;
        return true;
    }
    ctx_timer_unlink(ctx->actor, t);
    timers_cancel(&w->timers, t);
    atomic_fetch_add_explicit(&w->stats.timers_pending, -1, memory_order_relaxed);
    return true;
}

void roost_ctx_passivate(roost_ctx_t *ctx)
{
    ctx->actor->flags |= ACTOR_PASSIVATE;
    /* Its removal after the handler reads this slot: start loading it while the handler ends. */
    actor_table_prefetch(&ctx->w->table, ctx->actor->hash);
}
