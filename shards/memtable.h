/* shards/memtable.h — the in-memory engine's sorted table (engine_mem.c is its one user).
 *
 * Owns: records (one immutable allocation holding key then value, reference-counted) and a
 * sorted table of them, in two levels: an array of chunks, each a sorted array of at most
 * MEMTABLE_CHUNK_MAX record pointers, every record of a chunk below every record of the next.
 * An insert or a removal moves at most one chunk's pointers (and, when a chunk splits or
 * empties, the chunk array), so a big table costs O(log n + chunk) per change, not O(n).
 * Beside every record pointer, and beside every chunk pointer for the chunk's last key, sits
 * the key's first 16 bytes (a fence): searches compare against those and read a record only
 * when two keys share the 16 bytes, so a lookup costs a few cache misses, not one per probe.
 *
 * Snapshots: tables and chunks are reference-counted. memtable_writable gives a table only
 * its caller holds (copying the chunk array if an iterator shares it); a mutation then copies
 * just the one chunk it changes if that chunk is shared. A snapshot never sees later writes.
 *
 * A position is (chunk, index in chunk); every stored position is either a record or the end
 * (nchunks, 0), because no chunk is ever left empty. Positions are invalidated by mutations,
 * except as the mutation functions say.
 *
 * Deterministic; not thread-safe: one owner thread.
 */
#ifndef ROOST_SHARDS_MEMTABLE_H
#define ROOST_SHARDS_MEMTABLE_H

#include <stdbool.h>
#include <stddef.h>

enum { MEMTABLE_CHUNK_MAX = 128 };

typedef struct {
    size_t refs;
    size_t klen;
    size_t vlen;
    unsigned char bytes[]; /* key, then value */
} mem_record_t;

typedef struct {
    size_t c; /* chunk */
    size_t k; /* index in the chunk */
} mempos_t;

typedef struct memtable memtable_t;

mem_record_t *mem_record_new(const void *key, size_t klen, const void *val, size_t vlen);
mem_record_t *mem_record_ref(mem_record_t *r); /* NULL-tolerant */
void mem_record_unref(mem_record_t *r);        /* NULL-tolerant */

memtable_t *memtable_new(void);
memtable_t *memtable_ref(memtable_t *t);
void memtable_unref(memtable_t *t); /* NULL-tolerant */
size_t memtable_count(const memtable_t *t);

/* The first record with key >= (key, klen), or the end; a NULL key means the beginning. */
mempos_t memtable_lower_bound(const memtable_t *t, const void *key, size_t klen);
mempos_t memtable_end(const memtable_t *t);
/* <0, 0, >0 as position a is before, at or after b. */
int memtable_pos_cmp(mempos_t a, mempos_t b);
mempos_t memtable_next(const memtable_t *t, mempos_t p); /* p before the end */
mempos_t memtable_prev(const memtable_t *t, mempos_t p); /* p after the beginning */
/* The record at p (p before the end). */
const mem_record_t *memtable_at(const memtable_t *t, mempos_t p);
/* Whether the record at p has exactly this key. */
bool memtable_has_key(const memtable_t *t, mempos_t p, const void *key, size_t klen);

/* A table the caller alone holds, with t's contents: t itself if nobody else holds it, else a
 * copy (t's reference passes to the copy). */
memtable_t *memtable_writable(memtable_t *t);
/* On a writable table: puts rec (the caller's reference) at p, a record with rec's key, and
 * returns the record it replaces (its reference now the caller's). */
mem_record_t *memtable_replace(memtable_t *t, mempos_t p, mem_record_t *rec);
/* On a writable table: inserts rec (the caller's reference) at p, its lower bound. */
void memtable_insert(memtable_t *t, mempos_t p, mem_record_t *rec);
/* On a writable table: removes the record at p and returns it (the caller's reference);
 * returns the position of the record that followed it in *p. */
mem_record_t *memtable_remove(memtable_t *t, mempos_t *p);

#endif
