/* shards/engine_mem.c — the in-memory engine; see engine_mem.h for the model and its costs.
 *
 * Structures:
 *   record  one immutable allocation holding key then value, reference-counted (held by
 *           tables and by undo entries).
 *   table   a sorted array of record pointers, reference-counted (held by the engine as `live`
 *           and by iterators as their snapshot). A table with refs > 1 is never changed: a
 *           write first copies it (copy-on-write), so an iterator's view stays fixed.
 *   undo    for every record changed since the last sync, (before, after) in write order; a
 *           crash restores `before` for each, newest first. A sync empties it.
 *
 * Invariants (s_invariants, fully checked on small tables): live->items strictly ascending by key;
 * used_bytes is the sum of key+value bytes of live's records; undo_len <=
 * ENGINE_MEM_UNSYNCED_OPS_MAX; every undo entry has before or after set.
 */
#include "shards/engine_mem.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/util.h"

enum {
    /* Tables up to this many records get the full O(n) invariant check after every write. */
    MEM_CHECK_RECORDS_MAX = 1024,
};

typedef struct {
    size_t refs;
    size_t klen;
    size_t vlen;
    unsigned char bytes[]; /* key, then value */
} mem_record_t;

typedef struct {
    size_t refs;
    size_t n;
    size_t cap;
    mem_record_t **items;
} mem_table_t;

typedef struct {
    mem_record_t *before; /* NULL: the key was absent */
    mem_record_t *after;  /* NULL: the key was deleted */
} mem_undo_t;

typedef struct {
    engine_t base; /* first: an engine_t * is a mem_engine_t * */
    mem_table_t *live;
    uint64_t used_bytes;
    uint64_t capacity_bytes;
    int fail_err;
    mem_undo_t *undo;
    size_t undo_len;
    size_t undo_cap;
} mem_engine_t;

typedef struct {
    engine_iter_t base;
    mem_table_t *table;
    size_t begin; /* [begin, end): the range's indexes in table */
    size_t end;
    size_t pos; /* current index; valid while begin <= pos < end */
    bool reverse;
} mem_iter_t;

static const engine_ops_t s_ops;
static const engine_iter_ops_t s_iter_ops;

/* ---- records and tables -------------------------------------------------------------------- */

static mem_record_t *s_record_new(const void *key, size_t klen, const void *val, size_t vlen)
{
    mem_record_t *r = roost_xmalloc(sizeof *r + klen + vlen);
    r->refs = 1;
    r->klen = klen;
    r->vlen = vlen;
    memcpy(r->bytes, key, klen);
    if (vlen)
        memcpy(r->bytes + klen, val, vlen);
    return r;
}

static mem_record_t *s_record_ref(mem_record_t *r)
{
    if (r)
        r->refs++;
    return r;
}

static void s_record_unref(mem_record_t *r)
{
    if (r && --r->refs == 0)
        free(r);
}

static mem_table_t *s_table_new(size_t cap)
{
    mem_table_t *t = roost_xcalloc(1, sizeof *t);
    t->refs = 1;
    t->cap = cap ? cap : 16;
    t->items = roost_xmalloc(t->cap * sizeof *t->items);
    return t;
}

static void s_table_unref(mem_table_t *t)
{
    if (t == NULL || --t->refs > 0)
        return;
    for (size_t i = 0; i < t->n; i++)
        s_record_unref(t->items[i]);
    free(t->items);
    free(t);
}

/* Index of the first record with key >= (key, klen); n if none. A NULL key means "before
 * everything" (index 0). */
static size_t s_lower_bound(const mem_table_t *t, const void *key, size_t klen)
{
    if (key == NULL)
        return 0;
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const mem_record_t *r = t->items[mid];
        if (engine_key_compare(r->bytes, r->klen, key, klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool s_found(const mem_table_t *t, size_t i, const void *key, size_t klen)
{
    return i < t->n && engine_key_compare(t->items[i]->bytes, t->items[i]->klen, key, klen) == 0;
}

/* Makes self->live safe to change: copies it if an iterator shares it. */
static mem_table_t *s_live_writable(mem_engine_t *self)
{
    mem_table_t *t = self->live;
    if (t->refs == 1)
        return t;
    mem_table_t *copy = s_table_new(t->n + 16);
    for (size_t i = 0; i < t->n; i++)
        copy->items[i] = s_record_ref(t->items[i]);
    copy->n = t->n;
    s_table_unref(t);
    self->live = copy;
    return copy;
}

/* ---- undo log ------------------------------------------------------------------------------ */

static void s_undo_clear(mem_engine_t *self)
{
    for (size_t i = 0; i < self->undo_len; i++) {
        s_record_unref(self->undo[i].before);
        s_record_unref(self->undo[i].after);
    }
    self->undo_len = 0;
}

/* Takes its own references. Past the bound the pending records count as written back. */
static void s_undo_push(mem_engine_t *self, mem_record_t *before, mem_record_t *after)
{
    assert(before != NULL || after != NULL);
    if (self->undo_len == ENGINE_MEM_UNSYNCED_OPS_MAX)
        s_undo_clear(self);
    if (self->undo_len == self->undo_cap) {
        self->undo_cap = self->undo_cap ? self->undo_cap * 2 : 64;
        self->undo = roost_xrealloc(self->undo, self->undo_cap * sizeof *self->undo);
    }
    self->undo[self->undo_len].before = s_record_ref(before);
    self->undo[self->undo_len].after = s_record_ref(after);
    self->undo_len++;
}

/* ---- the three mutations; `log` says whether a crash should be able to undo them ----------- */

/* Stores rec (taking the caller's reference) in place of any record with its key. */
static void s_set(mem_engine_t *self, mem_record_t *rec, bool log)
{
    mem_table_t *t = s_live_writable(self);
    size_t i = s_lower_bound(t, rec->bytes, rec->klen);
    if (s_found(t, i, rec->bytes, rec->klen)) {
        mem_record_t *old = t->items[i];
        if (log)
            s_undo_push(self, old, rec);
        self->used_bytes -= old->klen + old->vlen;
        s_record_unref(old);
        t->items[i] = rec;
    } else {
        if (log)
            s_undo_push(self, NULL, rec);
        if (t->n == t->cap) {
            t->cap *= 2;
            t->items = roost_xrealloc(t->items, t->cap * sizeof *t->items);
        }
        memmove(t->items + i + 1, t->items + i, (t->n - i) * sizeof *t->items);
        t->items[i] = rec;
        t->n++;
    }
    self->used_bytes += rec->klen + rec->vlen;
}

/* Removes the records at indexes [i, j) of live. */
static void s_remove_span(mem_engine_t *self, size_t i, size_t j, bool log)
{
    if (i >= j)
        return;
    mem_table_t *t = s_live_writable(self);
    for (size_t k = i; k < j; k++) {
        mem_record_t *old = t->items[k];
        if (log)
            s_undo_push(self, old, NULL);
        self->used_bytes -= old->klen + old->vlen;
        s_record_unref(old);
    }
    memmove(t->items + i, t->items + j, (t->n - j) * sizeof *t->items);
    t->n -= j - i;
}

static void s_delete(mem_engine_t *self, const void *key, size_t klen, bool log)
{
    size_t i = s_lower_bound(self->live, key, klen);
    if (s_found(self->live, i, key, klen))
        s_remove_span(self, i, i + 1, log);
}

static void s_delete_range(mem_engine_t *self, const void *lo, size_t lolen, const void *hi,
                           size_t hilen)
{
    size_t i = s_lower_bound(self->live, lo, lolen);
    size_t j = s_lower_bound(self->live, hi, hilen);
    s_remove_span(self, i, j, true);
}

/* Full check (O(n)) only on small tables, so that assertions, which stay on, cannot make a
 * big simulation quadratic. */
static bool s_invariants(const mem_engine_t *self)
{
    const mem_table_t *t = self->live;
    if (self->undo_len > ENGINE_MEM_UNSYNCED_OPS_MAX || t->n > t->cap)
        return false;
    if (t->n > MEM_CHECK_RECORDS_MAX)
        return true;
    uint64_t bytes = 0;
    for (size_t i = 0; i < t->n; i++) {
        const mem_record_t *r = t->items[i];
        bytes += r->klen + r->vlen;
        if (i > 0 && engine_key_compare(t->items[i - 1]->bytes, t->items[i - 1]->klen, r->bytes,
                                        r->klen) >= 0)
            return false;
    }
    return bytes == self->used_bytes;
}

/* ---- engine ops ---------------------------------------------------------------------------- */

static mem_engine_t *s_cast(engine_t *e)
{
    assert(e != NULL && e->ops == &s_ops);
    return (mem_engine_t *)e;
}

static int s_write(engine_t *e, const engine_batch_t *batch, bool sync)
{
    mem_engine_t *self = s_cast(e);
    if (self->fail_err != 0)
        return self->fail_err;
    /* A disk needs room for what is written before the deletes in it free anything. */
    if (self->capacity_bytes != 0 &&
        self->used_bytes + engine_batch_bytes(batch) > self->capacity_bytes)
        return ROOST_EIO;
    size_t pos = 0;
    engine_op_t op;
    while (engine_batch_next(batch, &pos, &op)) {
        if (op.kind == ENGINE_OP_PUT)
            s_set(self, s_record_new(op.key, op.klen, op.val, op.vlen), true);
        else if (op.kind == ENGINE_OP_DELETE)
            s_delete(self, op.key, op.klen, true);
        else
            s_delete_range(self, op.key, op.klen, op.val, op.vlen);
    }
    if (sync)
        s_undo_clear(self);
    assert(s_invariants(self));
    return ROOST_OK;
}

static int s_sync(engine_t *e)
{
    mem_engine_t *self = s_cast(e);
    if (self->fail_err != 0)
        return self->fail_err;
    s_undo_clear(self);
    return ROOST_OK;
}

static int s_get(engine_t *e, const void *key, size_t klen, void **val, size_t *vlen)
{
    mem_engine_t *self = s_cast(e);
    size_t i = s_lower_bound(self->live, key, klen);
    if (!s_found(self->live, i, key, klen))
        return ROOST_ENOTFOUND;
    const mem_record_t *r = self->live->items[i];
    *val = roost_xmalloc(r->vlen);
    if (r->vlen)
        memcpy(*val, r->bytes + r->klen, r->vlen);
    *vlen = r->vlen;
    return ROOST_OK;
}

static engine_iter_t *s_iter_new(engine_t *e, const void *lo, size_t lolen, const void *hi,
                                 size_t hilen, bool reverse)
{
    mem_engine_t *self = s_cast(e);
    mem_iter_t *it = roost_xcalloc(1, sizeof *it);
    it->base.ops = &s_iter_ops;
    it->base.engine = e;
    it->table = self->live;
    it->table->refs++;
    it->begin = s_lower_bound(it->table, lo, lolen);
    it->end = hi ? s_lower_bound(it->table, hi, hilen) : it->table->n;
    if (it->end < it->begin) /* hi < lo: an empty range */
        it->end = it->begin;
    it->reverse = reverse;
    /* Reverse walks end-1 down to begin; SIZE_MAX (begin == 0) and begin-1 both read !valid. */
    it->pos = reverse ? (it->end > it->begin ? it->end - 1 : it->end) : it->begin;
    return &it->base;
}

static int s_approximate_size(engine_t *e, const void *lo, size_t lolen, const void *hi,
                              size_t hilen, uint64_t *bytes)
{
    mem_engine_t *self = s_cast(e);
    size_t i = s_lower_bound(self->live, lo, lolen);
    size_t j = hi ? s_lower_bound(self->live, hi, hilen) : self->live->n;
    uint64_t sum = 0;
    for (size_t k = i; k < j; k++)
        sum += self->live->items[k]->klen + self->live->items[k]->vlen;
    *bytes = sum;
    return ROOST_OK;
}

static void s_destroy(engine_t *e)
{
    mem_engine_t *self = s_cast(e);
    s_undo_clear(self);
    free(self->undo);
    s_table_unref(self->live);
    free(self);
}

static const engine_ops_t s_ops = {
    .write = s_write,
    .sync = s_sync,
    .get = s_get,
    .iter_new = s_iter_new,
    .approximate_size = s_approximate_size,
    .destroy = s_destroy,
};

/* ---- iterator ------------------------------------------------------------------------------ */

static bool s_it_valid(const engine_iter_t *base)
{
    const mem_iter_t *it = (const mem_iter_t *)base;
    return it->pos >= it->begin && it->pos < it->end;
}

static void s_it_next(engine_iter_t *base)
{
    mem_iter_t *it = (mem_iter_t *)base;
    if (!it->reverse)
        it->pos++;
    else if (it->pos == it->begin)
        it->pos = it->end; /* past the low end: invalid without wrapping below 0 */
    else
        it->pos--;
}

static const void *s_it_key(const engine_iter_t *base, size_t *len)
{
    const mem_iter_t *it = (const mem_iter_t *)base;
    const mem_record_t *r = it->table->items[it->pos];
    *len = r->klen;
    return r->bytes;
}

static const void *s_it_value(const engine_iter_t *base, size_t *len)
{
    const mem_iter_t *it = (const mem_iter_t *)base;
    const mem_record_t *r = it->table->items[it->pos];
    *len = r->vlen;
    return r->bytes + r->klen;
}

static int s_it_error(const engine_iter_t *base)
{
    (void)base;
    return ROOST_OK;
}

static void s_it_destroy(engine_iter_t *base)
{
    mem_iter_t *it = (mem_iter_t *)base;
    s_table_unref(it->table);
    free(it);
}

static const engine_iter_ops_t s_iter_ops = {
    .valid = s_it_valid,
    .next = s_it_next,
    .key = s_it_key,
    .value = s_it_value,
    .error = s_it_error,
    .destroy = s_it_destroy,
};

/* ---- public -------------------------------------------------------------------------------- */

engine_t *engine_mem_new(const engine_mem_options_t *opts)
{
    mem_engine_t *self = roost_xcalloc(1, sizeof *self);
    engine_base_init(&self->base, &s_ops, "mem");
    self->live = s_table_new(0);
    self->capacity_bytes = opts ? opts->capacity_bytes : 0;
    return &self->base;
}

void engine_mem_crash(engine_t *e)
{
    mem_engine_t *self = s_cast(e);
    for (size_t i = self->undo_len; i-- > 0;) {
        mem_undo_t *u = &self->undo[i];
        if (u->before != NULL)
            s_set(self, s_record_ref(u->before), false);
        else
            s_delete(self, u->after->bytes, u->after->klen, false);
    }
    s_undo_clear(self);
    atomic_store(&self->base.health, 0);
    atomic_store(&self->base.writes_refused, false);
    assert(s_invariants(self));
}

void engine_mem_fail_writes(engine_t *e, int err)
{
    assert(err <= 0);
    s_cast(e)->fail_err = err;
}

uint64_t engine_mem_used_bytes(const engine_t *e)
{
    return s_cast((engine_t *)e)->used_bytes;
}

size_t engine_mem_unsynced(const engine_t *e)
{
    return s_cast((engine_t *)e)->undo_len;
}
