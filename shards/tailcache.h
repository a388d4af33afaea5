/* shards/tailcache.h — the newest records of one partition's log, kept in memory beside the
 * engine, so the hot paths (applying entries as they commit, the prev-epoch check of an
 * append) need not read back from RocksDB what this node wrote moments before.
 *
 * A direct-mapped ring by lsn: slot lsn % TAILCACHE_SLOTS holds that entry's record if the
 * slot's lsn matches, else nothing. Contract (kept by replog*.c): every record put to the log
 * is put here with the same bytes, every entry deleted or given back is forgotten, and after
 * a write the engine refused the cache is cleared; so what the cache returns is byte for byte
 * what the engine holds (or is about to, for a primary's numbered, unwritten batch). Reads that
 * exist to check the disk (the scrubber, streaming to a replica, repair) still go to the engine.
 *
 * Memory: at most TAILCACHE_SLOTS records of at most TAILCACHE_RECORD_BYTES_MAX each per log;
 * a slot's buffer is reused, so a steady stream of puts allocates nothing. The caller owns the
 * tailcache_t (embedded in the log's state); returned pointers are valid until the next put,
 * forget or clear.
 */
#ifndef ROOST_TAILCACHE_H
#define ROOST_TAILCACHE_H

#include <stddef.h>
#include <stdint.h>

enum {
    /* Entries between "written" and "applied" under load: a few hundred per partition at
     * most with a client window of 1,024 over 64 partitions; a power of two. */
    TAILCACHE_SLOTS = 256,
    /* Larger records (media metadata, big batches) are read back from the engine instead:
     * bounds the cache at 1 MiB per log. */
    TAILCACHE_RECORD_BYTES_MAX = 4096,
};

typedef struct {
    uint64_t lsn; /* 0: empty */
    uint32_t len, cap;
    uint8_t *rec;
} tailcache_slot_t;

typedef struct {
    tailcache_slot_t slots[TAILCACHE_SLOTS];
} tailcache_t;

void tailcache_init(tailcache_t *c);
/* Frees every slot's buffer; the cache is empty (and usable) afterwards. */
void tailcache_fini(tailcache_t *c);
/* Remembers entry lsn (>= 1) as these bytes; a record over the size bound forgets lsn instead. */
void tailcache_put(tailcache_t *c, uint64_t lsn, const void *rec, size_t len);
/* The record of entry lsn, or NULL if it is not cached. */
const void *tailcache_get(const tailcache_t *c, uint64_t lsn, size_t *len);
/* Forgets entry lsn. */
void tailcache_forget(tailcache_t *c, uint64_t lsn);
/* Forgets every entry at or above lsn (a tail replaced or given back). */
void tailcache_forget_from(tailcache_t *c, uint64_t lsn);
/* Forgets everything (a log rewritten or dropped, a failed write). */
void tailcache_clear(tailcache_t *c);

#endif
