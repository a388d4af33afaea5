/* shards/kv.c — the store probe behaviour (see kv.h). Each PUT is one store batch; the
 * request is kept until the store answers, then answered with the commit's lsn. */
#include "shards/kv.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/util.h"
#include "shards/proto.h"
#include "shards/store.h"

enum { KV_WAITING_MAX = 1024 }; /* outstanding writes per kv actor; more are refused eagain */

typedef struct waiting {
    struct waiting *next;
    uint64_t corr;
    roost_env_t *req;
} waiting_t;

typedef struct {
    waiting_t *head;
    uint32_t count;
} kv_t;

static int s_activate(roost_ctx_t *ctx, void **state)
{
    (void)ctx;
    *state = roost_xcalloc(1, sizeof(kv_t));
    return ROOST_OK;
}

static void s_passivate(roost_ctx_t *ctx, void *state)
{
    kv_t *kv = state;
    while (kv->head) {
        waiting_t *w = kv->head;
        kv->head = w->next;
        roost_ctx_reply_error(ctx, w->req, ROOST_EUNAVAIL);
        roost_env_free(w->req);
        free(w);
    }
    free(kv);
}

static void s_put(roost_ctx_t *ctx, kv_t *kv, roost_env_t *env)
{
    if (kv->count >= KV_WAITING_MAX) {
        roost_ctx_reply_error(ctx, env, ROOST_EAGAIN);
        return;
    }
    store_ops_t ops;
    store_ops_init(&ops);
    const char *self = roost_ctx_self(ctx);
    uint64_t corr = 0;
    int rc = store_ops_put(&ops, self, strlen(self), env->payload, env->payload_len);
    if (rc == ROOST_OK)
        rc = store_append(ctx, &ops, &corr);
    store_ops_fini(&ops);
    if (rc != ROOST_OK) {
        roost_ctx_reply_error(ctx, env, rc);
        return;
    }
    waiting_t *w = roost_xcalloc(1, sizeof *w);
    w->corr = corr;
    w->req = roost_ctx_keep(ctx);
    w->next = kv->head;
    kv->head = w;
    kv->count++;
}

static void s_get(roost_ctx_t *ctx, roost_env_t *env)
{
    const char *self = roost_ctx_self(ctx);
    void *val;
    size_t len;
    int rc = store_get(ctx, self, strlen(self), &val, &len);
    if (rc != ROOST_OK) {
        roost_ctx_reply_error(ctx, env, rc);
        return;
    }
    roost_ctx_reply(ctx, env, MSG_KV_VALUE, val, len);
    free(val);
}

/* The store answered one of our appends: answer the PUT that caused it. */
static void s_stored(roost_ctx_t *ctx, kv_t *kv, const roost_env_t *env)
{
    for (waiting_t **p = &kv->head; *p; p = &(*p)->next) {
        waiting_t *w = *p;
        if (w->corr != env->corr)
            continue;
        *p = w->next;
        kv->count--;
        if (env->flags & ROOST_ENV_ERROR)
            roost_ctx_reply_error(ctx, w->req, env->status);
        else
            roost_ctx_reply(ctx, w->req, MSG_KV_DONE, env->payload, env->payload_len);
        roost_env_free(w->req);
        free(w);
        return;
    }
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    kv_t *kv = state;
    if (env->flags & ROOST_ENV_RESPONSE)
        s_stored(ctx, kv, env);
    else if (!(env->flags & ROOST_ENV_REQUEST))
        return;
    else if (env->type == MSG_KV_PUT)
        s_put(ctx, kv, env);
    else if (env->type == MSG_KV_GET)
        s_get(ctx, env);
    else
        roost_ctx_reply_error(ctx, env, ROOST_EINVAL);
}

const roost_behaviour_t kv_behaviour = {
    .kind = "kv",
    .on_activate = s_activate,
    .on_message = s_message,
    .on_passivate = s_passivate,
};
