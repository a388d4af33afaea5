/* shards/engine_mem.c — the in-memory engine; see engine_mem.h for the model and its costs.
 *
 * Structures:
 *   record  one immutable allocation holding key then value, reference-counted (held by
 *           tables and by undo entries) — shards/memtable.h.
 *   table   the sorted, chunked, copy-on-write table of shards/memtable.h, held by the engine
 *           as `live` and by iterators as their snapshot; a write first makes `live` the
 *           engine's own (memtable_writable), so an iterator's view stays fixed.
 *   undo    for every record changed since the last sync, (before, after) in write order; a
 *           crash restores `before` for each, newest first. A sync empties it; the end of a
 *           two-half sync (engine_mem_sync_end) drops the entries pushed before its mark.
 *           Pushes are numbered: undo[i] is push undo_base + i + 1.
 *
 * Invariants (s_invariants, fully checked on small tables): live strictly ascending by key;
 * used_bytes is the sum of key+value bytes of live's records; undo_len <=
 * ENGINE_MEM_UNSYNCED_OPS_MAX; every undo entry has before or after set.
 */
#include "shards/engine_mem.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/util.h"
#include "shards/memtable.h"

enum {
    /* Tables up to this many records get the full O(n) invariant check after every write. */
    MEM_CHECK_RECORDS_MAX = 1024,
};

typedef struct {
    mem_record_t *before; /* NULL: the key was absent */
    mem_record_t *after;  /* NULL: the key was deleted */
} mem_undo_t;

typedef struct {
    engine_t base; /* first: an engine_t * is a mem_engine_t * */
    memtable_t *live;
    uint64_t used_bytes;
    uint64_t capacity_bytes;
    int fail_err;
    mem_undo_t *undo;
    size_t undo_len;
    size_t undo_cap;
    uint64_t undo_base;   /* pushes before undo[0] */
    uint64_t undo_pushed; /* pushes ever: undo_base + undo_len */
} mem_engine_t;

typedef struct {
    engine_iter_t base;
    memtable_t *table; /* the snapshot */
    mempos_t begin;    /* [begin, end): the range's positions in table */
    mempos_t end;
    mempos_t pos; /* current position; valid while !done and begin <= pos < end */
    bool reverse;
    bool done;
} mem_iter_t;

static const engine_ops_t s_ops;
static const engine_iter_ops_t s_iter_ops;

/* ---- undo log ------------------------------------------------------------------------------ */

/* Forgets the oldest n entries: what they changed is durable now. */
static void s_undo_drop(mem_engine_t *self, size_t n)
{
    assert(n <= self->undo_len);
    for (size_t i = 0; i < n; i++) {
        mem_record_unref(self->undo[i].before);
        mem_record_unref(self->undo[i].after);
    }
    if (n < self->undo_len) /* (undo is NULL until the first push) */
        memmove(self->undo, self->undo + n, (self->undo_len - n) * sizeof *self->undo);
    self->undo_len -= n;
    self->undo_base += n;
}

static void s_undo_clear(mem_engine_t *self)
{
    s_undo_drop(self, self->undo_len);
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
    self->undo[self->undo_len].before = mem_record_ref(before);
    self->undo[self->undo_len].after = mem_record_ref(after);
    self->undo_len++;
    self->undo_pushed++;
}

/* ---- the three mutations; `log` says whether a crash should be able to undo them ----------- */

/* Stores rec (taking the caller's reference) in place of any record with its key. */
static void s_set(mem_engine_t *self, mem_record_t *rec, bool log)
{
    memtable_t *t = self->live = memtable_writable(self->live);
    mempos_t p = memtable_lower_bound(t, rec->bytes, rec->klen);
    if (memtable_has_key(t, p, rec->bytes, rec->klen)) {
        mem_record_t *old = memtable_replace(t, p, rec);
        if (log)
            s_undo_push(self, old, rec);
        self->used_bytes -= old->klen + old->vlen;
        mem_record_unref(old);
    } else {
        if (log)
            s_undo_push(self, NULL, rec);
        memtable_insert(t, p, rec);
    }
    self->used_bytes += rec->klen + rec->vlen;
}

/* Removes n records from position p of live. */
static void s_remove_span(mem_engine_t *self, mempos_t p, size_t n, bool log)
{
    if (n == 0)
        return;
    memtable_t *t = self->live = memtable_writable(self->live);
    while (n-- > 0) {
        mem_record_t *old = memtable_remove(t, &p);
        if (log)
            s_undo_push(self, old, NULL);
        self->used_bytes -= old->klen + old->vlen;
        mem_record_unref(old);
    }
}

static void s_delete(mem_engine_t *self, const void *key, size_t klen, bool log)
{
    mempos_t p = memtable_lower_bound(self->live, key, klen);
    if (memtable_has_key(self->live, p, key, klen))
        s_remove_span(self, p, 1, log);
}

static void s_delete_range(mem_engine_t *self, const void *lo, size_t lolen, const void *hi,
                           size_t hilen)
{
    const memtable_t *t = self->live;
    mempos_t p = memtable_lower_bound(t, lo, lolen), end = memtable_lower_bound(t, hi, hilen);
    size_t n = 0;
    for (mempos_t q = p; memtable_pos_cmp(q, end) < 0; q = memtable_next(t, q))
        n++;
    s_remove_span(self, p, n, true);
}

/* Full check (O(n)) only on small tables, so that assertions, which stay on, cannot make a
 * big simulation quadratic. */
static bool s_invariants(const mem_engine_t *self)
{
    const memtable_t *t = self->live;
    if (self->undo_len > ENGINE_MEM_UNSYNCED_OPS_MAX)
        return false;
    if (memtable_count(t) > MEM_CHECK_RECORDS_MAX)
        return true;
    uint64_t bytes = 0;
    size_t n = 0;
    const mem_record_t *prev = NULL;
    for (mempos_t p = {0, 0}; memtable_pos_cmp(p, memtable_end(t)) < 0; p = memtable_next(t, p)) {
        const mem_record_t *r = memtable_at(t, p);
        bytes += r->klen + r->vlen;
        n++;
        if (prev && engine_key_compare(prev->bytes, prev->klen, r->bytes, r->klen) >= 0)
            return false;
        prev = r;
    }
    return bytes == self->used_bytes && n == memtable_count(t);
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
            s_set(self, mem_record_new(op.key, op.klen, op.val, op.vlen), true);
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
    mempos_t p = memtable_lower_bound(self->live, key, klen);
    if (!memtable_has_key(self->live, p, key, klen))
        return ROOST_ENOTFOUND;
    const mem_record_t *r = memtable_at(self->live, p);
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
    it->table = memtable_ref(self->live);
    it->begin = memtable_lower_bound(it->table, lo, lolen);
    it->end = hi ? memtable_lower_bound(it->table, hi, hilen) : memtable_end(it->table);
    it->reverse = reverse;
    it->done = memtable_pos_cmp(it->begin, it->end) >= 0; /* also hi < lo: an empty range */
    /* Reverse walks end-1 down to begin. */
    it->pos = it->done ? it->begin : reverse ? memtable_prev(it->table, it->end) : it->begin;
    return &it->base;
}

static int s_approximate_size(engine_t *e, const void *lo, size_t lolen, const void *hi,
                              size_t hilen, uint64_t *bytes)
{
    mem_engine_t *self = s_cast(e);
    const memtable_t *t = self->live;
    mempos_t end = hi ? memtable_lower_bound(t, hi, hilen) : memtable_end(t);
    uint64_t sum = 0;
    for (mempos_t p = memtable_lower_bound(t, lo, lolen); memtable_pos_cmp(p, end) < 0;
         p = memtable_next(t, p))
        sum += memtable_at(t, p)->klen + memtable_at(t, p)->vlen;
    *bytes = sum;
    return ROOST_OK;
}

static void s_destroy(engine_t *e)
{
    mem_engine_t *self = s_cast(e);
    s_undo_clear(self);
    free(self->undo);
    memtable_unref(self->live);
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
    return !it->done;
}

static void s_it_next(engine_iter_t *base)
{
    mem_iter_t *it = (mem_iter_t *)base;
    if (it->done)
        return;
    if (!it->reverse) {
        it->pos = memtable_next(it->table, it->pos);
        it->done = memtable_pos_cmp(it->pos, it->end) >= 0;
    } else if (memtable_pos_cmp(it->pos, it->begin) <= 0) {
        it->done = true; /* past the low end */
    } else {
        it->pos = memtable_prev(it->table, it->pos);
    }
}

static const void *s_it_key(const engine_iter_t *base, size_t *len)
{
    const mem_iter_t *it = (const mem_iter_t *)base;
    const mem_record_t *r = memtable_at(it->table, it->pos);
    *len = r->klen;
    return r->bytes;
}

static const void *s_it_value(const engine_iter_t *base, size_t *len)
{
    const mem_iter_t *it = (const mem_iter_t *)base;
    const mem_record_t *r = memtable_at(it->table, it->pos);
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
    memtable_unref(it->table);
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
    self->live = memtable_new();
    self->capacity_bytes = opts ? opts->capacity_bytes : 0;
    return &self->base;
}

void engine_mem_crash(engine_t *e)
{
    mem_engine_t *self = s_cast(e);
    for (size_t i = self->undo_len; i-- > 0;) {
        mem_undo_t *u = &self->undo[i];
        if (u->before != NULL)
            s_set(self, mem_record_ref(u->before), false);
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

uint64_t engine_mem_sync_begin(engine_t *e)
{
    return s_cast(e)->undo_pushed;
}

int engine_mem_sync_end(engine_t *e, uint64_t mark)
{
    mem_engine_t *self = s_cast(e);
    if (self->fail_err != 0)
        return engine_sync(e); /* fails, and latches the engine's health as a failed sync does */
    assert(mark <= self->undo_pushed);
    if (mark > self->undo_base)
        s_undo_drop(self, (size_t)(mark - self->undo_base));
    return ROOST_OK;
}

size_t engine_mem_unsynced(const engine_t *e)
{
    return s_cast((engine_t *)e)->undo_len;
}
