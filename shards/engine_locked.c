/* shards/engine_locked.c — see engine_locked.h. */
#include "shards/engine_locked.h"

#include <pthread.h>
#include <stdlib.h>

#include "runtime/util.h"

typedef struct {
    engine_t base;
    engine_t *inner;
    pthread_mutex_t lock;
} locked_t;

typedef struct {
    engine_iter_t base;
    engine_iter_t *inner;
    locked_t *owner;
} locked_iter_t;

static const engine_ops_t s_ops;
static const engine_iter_ops_t s_iter_ops;

static int s_write(engine_t *e, const engine_batch_t *batch, bool sync)
{
    locked_t *l = (locked_t *)e;
    pthread_mutex_lock(&l->lock);
    int rc = l->inner->ops->write(l->inner, batch, sync);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static int s_sync(engine_t *e)
{
    locked_t *l = (locked_t *)e;
    pthread_mutex_lock(&l->lock);
    int rc = l->inner->ops->sync(l->inner);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static int s_get(engine_t *e, const void *key, size_t klen, void **val, size_t *vlen)
{
    locked_t *l = (locked_t *)e;
    pthread_mutex_lock(&l->lock);
    int rc = l->inner->ops->get(l->inner, key, klen, val, vlen);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static engine_iter_t *s_iter_new(engine_t *e, const void *lo, size_t lolen, const void *hi,
                                 size_t hilen, bool reverse)
{
    locked_t *l = (locked_t *)e;
    locked_iter_t *it = roost_xcalloc(1, sizeof *it);
    it->base.ops = &s_iter_ops;
    it->base.engine = e;
    it->owner = l;
    pthread_mutex_lock(&l->lock);
    it->inner = l->inner->ops->iter_new(l->inner, lo, lolen, hi, hilen, reverse);
    pthread_mutex_unlock(&l->lock);
    return &it->base;
}

static int s_approximate_size(engine_t *e, const void *lo, size_t lolen, const void *hi,
                              size_t hilen, uint64_t *bytes)
{
    locked_t *l = (locked_t *)e;
    pthread_mutex_lock(&l->lock);
    int rc = l->inner->ops->approximate_size(l->inner, lo, lolen, hi, hilen, bytes);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static void s_destroy(engine_t *e)
{
    locked_t *l = (locked_t *)e;
    l->inner->ops->destroy(l->inner);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static const engine_ops_t s_ops = {.write = s_write,
                                   .sync = s_sync,
                                   .get = s_get,
                                   .iter_new = s_iter_new,
                                   .approximate_size = s_approximate_size,
                                   .destroy = s_destroy};

/* ---- iterators: each step under the owner's lock ------------------------------------------- */

static bool s_it_valid(const engine_iter_t *base)
{
    const locked_iter_t *it = (const locked_iter_t *)base;
    pthread_mutex_lock(&it->owner->lock);
    bool v = it->inner->ops->valid(it->inner);
    pthread_mutex_unlock(&it->owner->lock);
    return v;
}

static void s_it_next(engine_iter_t *base)
{
    locked_iter_t *it = (locked_iter_t *)base;
    pthread_mutex_lock(&it->owner->lock);
    it->inner->ops->next(it->inner);
    pthread_mutex_unlock(&it->owner->lock);
}

static const void *s_it_key(const engine_iter_t *base, size_t *len)
{
    const locked_iter_t *it = (const locked_iter_t *)base;
    pthread_mutex_lock(&it->owner->lock);
    const void *k = it->inner->ops->key(it->inner, len);
    pthread_mutex_unlock(&it->owner->lock);
    return k;
}

static const void *s_it_value(const engine_iter_t *base, size_t *len)
{
    const locked_iter_t *it = (const locked_iter_t *)base;
    pthread_mutex_lock(&it->owner->lock);
    const void *v = it->inner->ops->value(it->inner, len);
    pthread_mutex_unlock(&it->owner->lock);
    return v;
}

static int s_it_error(const engine_iter_t *base)
{
    const locked_iter_t *it = (const locked_iter_t *)base;
    pthread_mutex_lock(&it->owner->lock);
    int rc = it->inner->ops->error(it->inner);
    pthread_mutex_unlock(&it->owner->lock);
    return rc;
}

static void s_it_destroy(engine_iter_t *base)
{
    locked_iter_t *it = (locked_iter_t *)base;
    pthread_mutex_lock(&it->owner->lock);
    it->inner->ops->destroy(it->inner);
    pthread_mutex_unlock(&it->owner->lock);
    free(it);
}

static const engine_iter_ops_t s_iter_ops = {.valid = s_it_valid,
                                             .next = s_it_next,
                                             .key = s_it_key,
                                             .value = s_it_value,
                                             .error = s_it_error,
                                             .destroy = s_it_destroy};

/* ---- public -------------------------------------------------------------------------------- */

engine_t *engine_locked_new(engine_t *inner)
{
    locked_t *l = roost_xcalloc(1, sizeof *l);
    engine_base_init(&l->base, &s_ops, inner->name);
    l->inner = inner;
    pthread_mutex_init(&l->lock, NULL);
    return &l->base;
}

engine_t *engine_locked_inner(engine_t *self)
{
    return ((locked_t *)self)->inner;
}
