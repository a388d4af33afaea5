/* shards/memtable.c — see memtable.h.
 *
 * Invariants: no chunk is empty; within a chunk keys ascend strictly; the last key of a chunk
 * is below the first of the next; fences[c] is the start of chunk c's last key; count is the
 * sum of the chunks' n; refs ≥ 1 for every table, chunk and record reachable from a held table.
 */
#include "shards/memtable.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/util.h"
#include "shards/engine.h"

enum { FENCE_BYTES = 16 };

/* The start of a key, kept beside the pointer to its record: a binary search compares against
 * it without touching the record (a cache miss each), and mostly decides there. */
typedef struct {
    uint8_t b[FENCE_BYTES];
    uint8_t len;  /* bytes in b: min(key length, FENCE_BYTES) */
    bool partial; /* the key is longer than b */
} fence_t;

typedef struct {
    size_t refs;
    size_t n;
    mem_record_t *items[MEMTABLE_CHUNK_MAX];
    fence_t keys[MEMTABLE_CHUNK_MAX]; /* items[i]'s key start */
} chunk_t;

struct memtable {
    size_t refs;
    size_t count;   /* records */
    size_t nchunks; /* chunks in use */
    size_t cap;     /* chunks allocated */
    chunk_t **chunks;
    fence_t *fences; /* per chunk: its last key's start (the search over chunks) */
};

/* ---- records ------------------------------------------------------------------------------- */

mem_record_t *mem_record_new(const void *key, size_t klen, const void *val, size_t vlen)
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

mem_record_t *mem_record_ref(mem_record_t *r)
{
    if (r)
        r->refs++;
    return r;
}

void mem_record_unref(mem_record_t *r)
{
    if (r && --r->refs == 0)
        free(r);
}

static int s_compare(const mem_record_t *r, const void *key, size_t klen)
{
    return engine_key_compare(r->bytes, r->klen, key, klen);
}

/* ---- fences ------------------------------------------------------------------------------- */

static void s_fence_of(fence_t *f, const mem_record_t *r)
{
    f->len = (uint8_t)(r->klen < FENCE_BYTES ? r->klen : FENCE_BYTES);
    f->partial = r->klen > FENCE_BYTES;
    memcpy(f->b, r->bytes, f->len);
}

/* A key whose fence is f against key: <0, 0, >0, as engine_key_compare — or *undecided when
 * only the whole key can tell (both share the fence's 16 bytes and are longer). */
static int s_fence_compare(const fence_t *f, const void *key, size_t klen, bool *undecided)
{
    size_t n = f->len < klen ? f->len : klen;
    int c = n ? memcmp(f->b, key, n) : 0;
    *undecided = false;
    if (c != 0)
        return c;
    if (!f->partial) /* b is the whole key */
        return f->len < klen ? -1 : f->len > klen;
    if (klen <= f->len) /* key is a prefix of the longer one */
        return 1;
    *undecided = true;
    return 0;
}

/* ---- chunks -------------------------------------------------------------------------------- */

static chunk_t *s_chunk_new(void)
{
    chunk_t *ch = roost_xmalloc(sizeof *ch);
    ch->refs = 1;
    ch->n = 0;
    return ch;
}

static void s_chunk_unref(chunk_t *ch)
{
    if (--ch->refs > 0)
        return;
    for (size_t i = 0; i < ch->n; i++)
        mem_record_unref(ch->items[i]);
    free(ch);
}

/* Chunk c of a writable table, made safe to change (copied if a snapshot shares it). */
static chunk_t *s_chunk_writable(memtable_t *t, size_t c)
{
    chunk_t *ch = t->chunks[c];
    if (ch->refs == 1)
        return ch;
    chunk_t *copy = s_chunk_new();
    copy->n = ch->n;
    for (size_t i = 0; i < ch->n; i++)
        copy->items[i] = mem_record_ref(ch->items[i]);
    memcpy(copy->keys, ch->keys, ch->n * sizeof *ch->keys);
    s_chunk_unref(ch);
    t->chunks[c] = copy;
    return copy;
}

/* First index in ch whose key is ≥ key. */
static size_t s_chunk_lower_bound(const chunk_t *ch, const void *key, size_t klen)
{
    size_t lo = 0, hi = ch->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        bool undecided;
        int c = s_fence_compare(&ch->keys[mid], key, klen, &undecided);
        if ((undecided ? s_compare(ch->items[mid], key, klen) : c) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Chunk c's fence in the table: its last key's. */
static void s_fence_set(memtable_t *t, size_t c)
{
    const chunk_t *ch = t->chunks[c];
    t->fences[c] = ch->keys[ch->n - 1];
}

/* ---- tables -------------------------------------------------------------------------------- */

memtable_t *memtable_ref(memtable_t *t)
{
    t->refs++;
    return t;
}

static memtable_t *s_table_alloc(size_t cap)
{
    memtable_t *t = roost_xcalloc(1, sizeof *t);
    t->refs = 1;
    t->cap = cap ? cap : 4;
    t->chunks = roost_xmalloc(t->cap * sizeof *t->chunks);
    t->fences = roost_xmalloc(t->cap * sizeof *t->fences);
    return t;
}

memtable_t *memtable_new(void)
{
    return s_table_alloc(0);
}

void memtable_unref(memtable_t *t)
{
    if (t == NULL || --t->refs > 0)
        return;
    for (size_t c = 0; c < t->nchunks; c++)
        s_chunk_unref(t->chunks[c]);
    free(t->chunks);
    free(t->fences);
    free(t);
}

size_t memtable_count(const memtable_t *t)
{
    return t->count;
}

memtable_t *memtable_writable(memtable_t *t)
{
    if (t->refs == 1)
        return t;
    memtable_t *copy = s_table_alloc(t->nchunks + 4);
    for (size_t c = 0; c < t->nchunks; c++) {
        copy->chunks[c] = t->chunks[c];
        copy->chunks[c]->refs++;
    }
    memcpy(copy->fences, t->fences, t->nchunks * sizeof *t->fences);
    copy->nchunks = t->nchunks;
    copy->count = t->count;
    memtable_unref(t);
    return copy;
}

/* ---- positions ----------------------------------------------------------------------------- */

mempos_t memtable_end(const memtable_t *t)
{
    return (mempos_t){.c = t->nchunks, .k = 0};
}

int memtable_pos_cmp(mempos_t a, mempos_t b)
{
    if (a.c != b.c)
        return a.c < b.c ? -1 : 1;
    return a.k < b.k ? -1 : a.k > b.k;
}

mempos_t memtable_lower_bound(const memtable_t *t, const void *key, size_t klen)
{
    if (key == NULL)
        return (mempos_t){0, 0};
    size_t lo = 0, hi = t->nchunks; /* first chunk whose last key is ≥ key */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        bool undecided;
        int c = s_fence_compare(&t->fences[mid], key, klen, &undecided);
        if (undecided) {
            const chunk_t *ch = t->chunks[mid];
            c = s_compare(ch->items[ch->n - 1], key, klen);
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->nchunks)
        return memtable_end(t);
    return (mempos_t){.c = lo, .k = s_chunk_lower_bound(t->chunks[lo], key, klen)};
}

mempos_t memtable_next(const memtable_t *t, mempos_t p)
{
    assert(p.c < t->nchunks);
    if (++p.k < t->chunks[p.c]->n)
        return p;
    return (mempos_t){.c = p.c + 1, .k = 0};
}

mempos_t memtable_prev(const memtable_t *t, mempos_t p)
{
    if (p.k > 0)
        return (mempos_t){.c = p.c, .k = p.k - 1};
    assert(p.c > 0);
    return (mempos_t){.c = p.c - 1, .k = t->chunks[p.c - 1]->n - 1};
}

const mem_record_t *memtable_at(const memtable_t *t, mempos_t p)
{
    assert(p.c < t->nchunks && p.k < t->chunks[p.c]->n);
    return t->chunks[p.c]->items[p.k];
}

bool memtable_has_key(const memtable_t *t, mempos_t p, const void *key, size_t klen)
{
    if (p.c >= t->nchunks)
        return false;
    bool undecided;
    int c = s_fence_compare(&t->chunks[p.c]->keys[p.k], key, klen, &undecided);
    return (undecided ? s_compare(memtable_at(t, p), key, klen) : c) == 0;
}

/* ---- mutations ----------------------------------------------------------------------------- */

static void s_chunks_insert(memtable_t *t, size_t c, chunk_t *ch)
{
    if (t->nchunks == t->cap) {
        t->cap *= 2;
        t->chunks = roost_xrealloc(t->chunks, t->cap * sizeof *t->chunks);
        t->fences = roost_xrealloc(t->fences, t->cap * sizeof *t->fences);
    }
    memmove(t->chunks + c + 1, t->chunks + c, (t->nchunks - c) * sizeof *t->chunks);
    memmove(t->fences + c + 1, t->fences + c, (t->nchunks - c) * sizeof *t->fences);
    t->chunks[c] = ch;
    t->nchunks++; /* (its fence is set once it holds records) */
}

mem_record_t *memtable_replace(memtable_t *t, mempos_t p, mem_record_t *rec)
{
    assert(t->refs == 1 && memtable_has_key(t, p, rec->bytes, rec->klen));
    chunk_t *ch = s_chunk_writable(t, p.c);
    mem_record_t *old = ch->items[p.k];
    ch->items[p.k] = rec;
    return old;
}

/* Splits full chunk c in two halves; the upper half becomes chunk c + 1. */
static void s_split(memtable_t *t, size_t c)
{
    chunk_t *left = s_chunk_writable(t, c), *right = s_chunk_new();
    size_t half = left->n / 2;
    right->n = left->n - half;
    memcpy(right->items, left->items + half, right->n * sizeof *right->items);
    memcpy(right->keys, left->keys + half, right->n * sizeof *right->keys);
    left->n = half;
    s_chunks_insert(t, c + 1, right);
    s_fence_set(t, c);
    s_fence_set(t, c + 1);
}

void memtable_insert(memtable_t *t, mempos_t p, mem_record_t *rec)
{
    assert(t->refs == 1);
    if (t->nchunks == 0) {
        s_chunks_insert(t, 0, s_chunk_new());
        p = (mempos_t){0, 0};
    } else if (p.c == t->nchunks) { /* past every record: the last chunk's end */
        p = (mempos_t){.c = t->nchunks - 1, .k = t->chunks[t->nchunks - 1]->n};
    }
    if (t->chunks[p.c]->n == MEMTABLE_CHUNK_MAX) {
        size_t half = MEMTABLE_CHUNK_MAX / 2;
        s_split(t, p.c);
        if (p.k > half)
            p = (mempos_t){.c = p.c + 1, .k = p.k - half};
    }
    chunk_t *ch = s_chunk_writable(t, p.c);
    memmove(ch->items + p.k + 1, ch->items + p.k, (ch->n - p.k) * sizeof *ch->items);
    memmove(ch->keys + p.k + 1, ch->keys + p.k, (ch->n - p.k) * sizeof *ch->keys);
    ch->items[p.k] = rec;
    s_fence_of(&ch->keys[p.k], rec);
    ch->n++;
    t->count++;
    if (p.k == ch->n - 1)
        s_fence_set(t, p.c);
}

mem_record_t *memtable_remove(memtable_t *t, mempos_t *p)
{
    assert(t->refs == 1 && p->c < t->nchunks);
    chunk_t *ch = s_chunk_writable(t, p->c);
    mem_record_t *old = ch->items[p->k];
    memmove(ch->items + p->k, ch->items + p->k + 1, (ch->n - p->k - 1) * sizeof *ch->items);
    memmove(ch->keys + p->k, ch->keys + p->k + 1, (ch->n - p->k - 1) * sizeof *ch->keys);
    ch->n--;
    t->count--;
    if (ch->n == 0) { /* no empty chunks: drop it; the next record is the next chunk's first */
        s_chunk_unref(ch);
        memmove(t->chunks + p->c, t->chunks + p->c + 1,
                (t->nchunks - p->c - 1) * sizeof *t->chunks);
        memmove(t->fences + p->c, t->fences + p->c + 1,
                (t->nchunks - p->c - 1) * sizeof *t->fences);
        t->nchunks--;
        p->k = 0;
    } else if (p->k == ch->n) { /* it was the last: a new fence */
        s_fence_set(t, p->c);
        *p = (mempos_t){.c = p->c + 1, .k = 0};
    }
    return old;
}
