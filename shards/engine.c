/* shards/engine.c — the write batch and the engine wrappers that every implementation shares.
 *
 * The batch is one growable buffer of records  kind:u8 | alen:u32 | blen:u32 | a | b  (native
 * byte order: it never leaves the process). For a put a/b are key/value, for a delete a is the
 * key, for a delete_range a/b are lo/hi. Invariants: count <= ENGINE_BATCH_OPS_MAX,
 * bytes <= ENGINE_BATCH_BYTES_MAX, len is the sum of the records' encoded sizes.
 *
 * The wrappers validate arguments (so implementations see only well-formed calls) and keep
 * health: the first error is recorded once, with one log line, and a failed write or sync
 * latches writes_refused.
 */
#include "shards/engine.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/fault.h"
#include "runtime/log.h"
#include "runtime/util.h"

enum {
    /* Encoded header of one record: kind (1) + two 32-bit lengths. */
    BATCH_RECORD_HEADER_BYTES = 1 + 4 + 4,
    /* First allocation of a batch buffer: a few small records without a realloc. */
    BATCH_INITIAL_BYTES = 256,
};

_Static_assert(ENGINE_BATCH_BYTES_MAX < UINT32_MAX, "record lengths are 32-bit");

struct engine_batch {
    unsigned char *buf;
    size_t len;
    size_t cap;
    size_t count;
    size_t bytes;
};

int engine_key_compare(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

static bool s_key_ok(const void *key, size_t klen)
{
    return key != NULL && klen > 0 && klen <= ENGINE_KEY_BYTES_MAX;
}

engine_batch_t *engine_batch_new(void)
{
    engine_batch_t *self = roost_xcalloc(1, sizeof *self);
    self->cap = BATCH_INITIAL_BYTES;
    self->buf = roost_xmalloc(self->cap);
    return self;
}

void engine_batch_destroy(engine_batch_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

static int s_batch_append(engine_batch_t *self, engine_op_kind_t kind, const void *a, size_t alen,
                          const void *b, size_t blen)
{
    if (self->count >= ENGINE_BATCH_OPS_MAX || alen + blen > ENGINE_BATCH_BYTES_MAX - self->bytes)
        return ROOST_ETOOBIG;
    size_t need = self->len + BATCH_RECORD_HEADER_BYTES + alen + blen;
    if (need > self->cap) {
        while (self->cap < need)
            self->cap *= 2;
        self->buf = roost_xrealloc(self->buf, self->cap);
    }
    unsigned char *p = self->buf + self->len;
    uint32_t a32 = (uint32_t)alen, b32 = (uint32_t)blen;
    p[0] = (unsigned char)kind;
    memcpy(p + 1, &a32, 4);
    memcpy(p + 5, &b32, 4);
    if (alen)
        memcpy(p + BATCH_RECORD_HEADER_BYTES, a, alen);
    if (blen)
        memcpy(p + BATCH_RECORD_HEADER_BYTES + alen, b, blen);
    self->len = need;
    self->count++;
    self->bytes += alen + blen;
    return ROOST_OK;
}

int engine_batch_put(engine_batch_t *self, const void *key, size_t klen, const void *val,
                     size_t vlen)
{
    assert(self != NULL);
    if (!s_key_ok(key, klen) || vlen > ENGINE_VALUE_BYTES_MAX || (val == NULL && vlen > 0))
        return ROOST_EINVAL;
    return s_batch_append(self, ENGINE_OP_PUT, key, klen, val, vlen);
}

int engine_batch_delete(engine_batch_t *self, const void *key, size_t klen)
{
    assert(self != NULL);
    if (!s_key_ok(key, klen))
        return ROOST_EINVAL;
    return s_batch_append(self, ENGINE_OP_DELETE, key, klen, NULL, 0);
}

int engine_batch_delete_range(engine_batch_t *self, const void *lo, size_t lolen, const void *hi,
                              size_t hilen)
{
    assert(self != NULL);
    if (!s_key_ok(lo, lolen) || !s_key_ok(hi, hilen) ||
        engine_key_compare(lo, lolen, hi, hilen) > 0)
        return ROOST_EINVAL;
    return s_batch_append(self, ENGINE_OP_DELETE_RANGE, lo, lolen, hi, hilen);
}

size_t engine_batch_count(const engine_batch_t *self)
{
    return self->count;
}

size_t engine_batch_bytes(const engine_batch_t *self)
{
    return self->bytes;
}

void engine_batch_clear(engine_batch_t *self)
{
    self->len = 0;
    self->count = 0;
    self->bytes = 0;
}

bool engine_batch_next(const engine_batch_t *self, size_t *pos, engine_op_t *op)
{
    assert(*pos <= self->len);
    if (*pos == self->len)
        return false;
    const unsigned char *p = self->buf + *pos;
    uint32_t a32, b32;
    memcpy(&a32, p + 1, 4);
    memcpy(&b32, p + 5, 4);
    op->kind = (engine_op_kind_t)p[0];
    op->key = p + BATCH_RECORD_HEADER_BYTES;
    op->klen = a32;
    op->val = p + BATCH_RECORD_HEADER_BYTES + a32;
    op->vlen = b32;
    *pos += BATCH_RECORD_HEADER_BYTES + (size_t)a32 + b32;
    assert(*pos <= self->len);
    return true;
}

/* ---- engine wrappers ----------------------------------------------------------------------- */

void engine_base_init(engine_t *self, const engine_ops_t *ops, const char *name)
{
    assert(ops != NULL && name != NULL);
    self->ops = ops;
    atomic_init(&self->health, 0);
    atomic_init(&self->writes_refused, false);
    atomic_init(&self->writes, 0);
    self->name = name;
}

/* Keeps the first error; a failed write or sync also latches writes_refused. */
static void s_record(engine_t *self, int err, const char *op, bool is_write)
{
    assert(err < 0);
    int expected = 0;
    if (atomic_compare_exchange_strong(&self->health, &expected, err))
        ROOST_ERROR("engine", "storage engine failed", "engine=%s op=%s err=%s writes=%s",
                    self->name, op, roost_strerror(err), is_write ? "refused" : "allowed");
    if (is_write)
        atomic_store(&self->writes_refused, true);
}

int engine_write(engine_t *self, const engine_batch_t *batch, bool sync)
{
    assert(self != NULL && batch != NULL);
    if (atomic_load(&self->writes_refused))
        return ROOST_EIO;
    if (batch->count == 0)
        return sync ? engine_sync(self) : ROOST_OK;
    int rc = roost_fault("engine.write") ? ROOST_EIO : self->ops->write(self, batch, sync);
    if (rc != ROOST_OK)
        s_record(self, rc, "write", true);
    else
        atomic_fetch_add_explicit(&self->writes, 1, memory_order_release);
    return rc;
}

uint64_t engine_writes(const engine_t *self)
{
    return atomic_load_explicit(&self->writes, memory_order_acquire);
}

int engine_sync(engine_t *self)
{
    assert(self != NULL);
    if (atomic_load(&self->writes_refused))
        return ROOST_EIO;
    int rc = self->ops->sync(self);
    if (rc != ROOST_OK)
        s_record(self, rc, "sync", true);
    return rc;
}

int engine_get(engine_t *self, const void *key, size_t klen, void **val, size_t *vlen)
{
    assert(self != NULL && val != NULL && vlen != NULL);
    *val = NULL;
    *vlen = 0;
    if (!s_key_ok(key, klen))
        return ROOST_EINVAL;
    int rc = self->ops->get(self, key, klen, val, vlen);
    if (rc != ROOST_OK && rc != ROOST_ENOTFOUND)
        s_record(self, rc, "get", false);
    return rc;
}

static engine_iter_t *s_iter_new(engine_t *self, const void *lo, size_t lolen, const void *hi,
                                 size_t hilen, bool reverse)
{
    assert(self != NULL);
    assert(lo == NULL || lolen <= ENGINE_KEY_BYTES_MAX);
    assert(hi == NULL || hilen <= ENGINE_KEY_BYTES_MAX);
    if (lo != NULL && hi != NULL && engine_key_compare(lo, lolen, hi, hilen) > 0) {
        hi = lo; /* hi < lo is an empty range: make it [lo, lo) */
        hilen = lolen;
    }
    engine_iter_t *it = self->ops->iter_new(self, lo, lo ? lolen : 0, hi, hi ? hilen : 0, reverse);
    assert(it != NULL && it->engine == self);
    return it;
}

engine_iter_t *engine_iter_new(engine_t *self, const void *lo, size_t lolen, const void *hi,
                               size_t hilen)
{
    return s_iter_new(self, lo, lolen, hi, hilen, false);
}

engine_iter_t *engine_iter_new_reverse(engine_t *self, const void *lo, size_t lolen, const void *hi,
                                       size_t hilen)
{
    return s_iter_new(self, lo, lolen, hi, hilen, true);
}

bool engine_iter_valid(const engine_iter_t *self)
{
    return self->ops->valid(self);
}

void engine_iter_next(engine_iter_t *self)
{
    assert(self->ops->valid(self));
    self->ops->next(self);
}

const void *engine_iter_key(const engine_iter_t *self, size_t *len)
{
    assert(self->ops->valid(self) && len != NULL);
    return self->ops->key(self, len);
}

const void *engine_iter_value(const engine_iter_t *self, size_t *len)
{
    assert(self->ops->valid(self) && len != NULL);
    return self->ops->value(self, len);
}

int engine_iter_error(const engine_iter_t *self)
{
    int rc = self->ops->error(self);
    if (rc != ROOST_OK)
        s_record(self->engine, rc, "iterate", false);
    return rc;
}

void engine_iter_destroy(engine_iter_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    (*self_p)->ops->destroy(*self_p);
    *self_p = NULL;
}

int engine_last_key(engine_t *self, const void *lo, size_t lolen, const void *hi, size_t hilen,
                    void **key, size_t *klen)
{
    assert(key != NULL && klen != NULL);
    *key = NULL;
    *klen = 0;
    engine_iter_t *it = engine_iter_new_reverse(self, lo, lolen, hi, hilen);
    int rc = ROOST_ENOTFOUND;
    if (engine_iter_valid(it)) {
        const void *k = engine_iter_key(it, klen);
        *key = roost_xmalloc(*klen);
        memcpy(*key, k, *klen);
        rc = ROOST_OK;
    } else if (engine_iter_error(it) != ROOST_OK) {
        rc = ROOST_EIO;
    }
    engine_iter_destroy(&it);
    return rc;
}

bool engine_prefix_end(const void *prefix, size_t plen, void *out, size_t *outlen)
{
    const unsigned char *p = prefix;
    size_t n = plen;
    while (n > 0 && p[n - 1] == 0xFF)
        n--;
    if (n == 0)
        return false;
    memcpy(out, p, n);
    ((unsigned char *)out)[n - 1]++;
    *outlen = n;
    return true;
}

int engine_approximate_size(engine_t *self, const void *lo, size_t lolen, const void *hi,
                            size_t hilen, uint64_t *bytes)
{
    assert(self != NULL && bytes != NULL);
    assert(lo == NULL || lolen <= ENGINE_KEY_BYTES_MAX);
    assert(hi == NULL || hilen <= ENGINE_KEY_BYTES_MAX);
    *bytes = 0;
    int rc = self->ops->approximate_size(self, lo, lo ? lolen : 0, hi, hi ? hilen : 0, bytes);
    if (rc != ROOST_OK)
        s_record(self, rc, "approximate_size", false);
    return rc;
}

int engine_health(const engine_t *self)
{
    return atomic_load(&((engine_t *)self)->health);
}

bool engine_writable(const engine_t *self)
{
    return !atomic_load(&((engine_t *)self)->writes_refused);
}

void engine_destroy(engine_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    (*self_p)->ops->destroy(*self_p);
    *self_p = NULL;
}
