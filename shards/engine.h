/* shards/engine.h — the seam between a shard node and its disk: the storage engine interface.
 *
 * Owns: the contract every engine implements (a vtable, like runtime/transport.h), the
 * engine-independent write batch, and the health state shared by all engines.
 *
 * Implementations: engine_rocksdb.c (the node's one RocksDB instance) and engine_mem.c (sorted
 * in memory, with explicit durability modelling, for tests and sim/). The replicated log and
 * the key layouts are written against this file only.
 *
 * Model. Keys and values are byte strings (0x00 and 0xFF are ordinary bytes); keys are ordered
 * bytewise (memcmp, then shorter first), so a key prefix is a contiguous range.
 *   - write(batch, sync): atomic — every operation of the batch or none. Operations apply in
 *     the order they were added. With sync the batch, and every earlier write, is durable
 *     (survives power loss) before the call returns; without sync it is visible to reads at
 *     once but durable only after a later engine_sync (group commit: many unsynced writes,
 *     then one sync). Never acknowledge anything to a peer or client before it is durable.
 *   - Iterators see the engine as it was when they were created (a snapshot).
 *
 * Health (state diagram):
 *
 *     healthy (health 0) ──write/sync fails──> writes refused (health = first error)
 *            └──────────read fails───────────> degraded (health = first error, writes allowed)
 *
 * Once a write or a sync has failed, the engine refuses every later write and sync with
 * ROOST_EIO: after a failed fsync the page cache may have dropped data we cannot name, so the
 * only safe answer is to stop acknowledging; the node turns its partitions read-only and raises
 * an alarm. Reads keep working when the engine can serve them. Reopening clears the state.
 *
 * Bounds (NULL lo = from the first key; NULL hi = no upper bound; ranges are [lo, hi)).
 *
 * Threads: engine_write, engine_sync, engine_get, engine_iter_new* and engine_approximate_size
 * are as thread-safe as the implementation says (RocksDB: yes; memory: one thread). An iterator
 * and a batch belong to one thread. Health is atomic.
 */
#ifndef ROOST_SHARDS_ENGINE_H
#define ROOST_SHARDS_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/limits.h"

enum {
    /* Keys are partition | table | ids (a few dozen bytes); 1 KiB leaves room for composite
     * keys (thread ids, content hashes) while keeping index blocks and bounds copies small. */
    ENGINE_KEY_BYTES_MAX = 1024,
    /* One value holds at most one stored envelope payload plus its record metadata. */
    ENGINE_VALUE_BYTES_MAX = ROOST_PAYLOAD_BYTES_MAX + 64 * 1024,
    /* Operations in one batch: a group commit or a replication batch carries hundreds of
     * records; a handoff's delete_range is one operation. */
    ENGINE_BATCH_OPS_MAX = 64 * 1024,
    /* Key and value bytes in one batch: a batch is copied into the WAL and the memtable in one
     * go, so a bigger one would stall other writers and double memory for no gain. */
    ENGINE_BATCH_BYTES_MAX = 64 * 1024 * 1024,
};

_Static_assert(ENGINE_VALUE_BYTES_MAX <= ENGINE_BATCH_BYTES_MAX, "a batch holds any one value");
_Static_assert(ENGINE_BATCH_BYTES_MAX <= 256 * 1024 * 1024, "batches are not a bulk channel");

typedef struct engine engine_t;
typedef struct engine_iter engine_iter_t;
typedef struct engine_batch engine_batch_t;

/* ---- write batch: an in-memory list of operations, engine-independent ---------------------- */

/* Caller owns the batch; destroy with engine_batch_destroy. Can't fail. */
engine_batch_t *engine_batch_new(void);
/* Safe on NULL; NULLs *self_p. */
void engine_batch_destroy(engine_batch_t **self_p);

/* Each adder copies its arguments. Returns 0; ROOST_EINVAL for an empty or over-long key, an
 * over-long value or (delete_range) lo > hi; ROOST_ETOOBIG when the batch would exceed
 * ENGINE_BATCH_OPS_MAX or ENGINE_BATCH_BYTES_MAX. On error the batch is unchanged. */
int engine_batch_put(engine_batch_t *self, const void *key, size_t klen, const void *val,
                     size_t vlen);
int engine_batch_delete(engine_batch_t *self, const void *key, size_t klen);
/* Deletes every key in [lo, hi) — a partition's range on handoff. lo == hi deletes nothing. */
int engine_batch_delete_range(engine_batch_t *self, const void *lo, size_t lolen, const void *hi,
                              size_t hilen);

/* Operations added since new/clear. */
size_t engine_batch_count(const engine_batch_t *self);
/* Key and value bytes added (both bounds for a delete_range); what the batch limits count. */
size_t engine_batch_bytes(const engine_batch_t *self);
/* Empties the batch, keeping its buffer for reuse. */
void engine_batch_clear(engine_batch_t *self);

/* For engine implementations: one decoded operation. For ENGINE_OP_DELETE_RANGE, key is lo
 * and val is hi. Pointers are into the batch, valid until it is changed or destroyed. */
typedef enum {
    ENGINE_OP_PUT = 1,
    ENGINE_OP_DELETE = 2,
    ENGINE_OP_DELETE_RANGE = 3
} engine_op_kind_t;
typedef struct {
    engine_op_kind_t kind;
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
} engine_op_t;

/* Walks the batch in insertion order: start with *pos = 0; returns false after the last op. */
bool engine_batch_next(const engine_batch_t *self, size_t *pos, engine_op_t *op);

/* ---- the engine interface ------------------------------------------------------------------ */

/* Implementations fill this; the engine_* wrappers below validate arguments and keep health,
 * so an implementation never sees a NULL key, a refused engine or an empty batch. */
typedef struct {
    /* Applies batch atomically (count >= 1); durable before returning if sync. 0 or an error
     * (ROOST_EIO for anything the disk or library reports). */
    int (*write)(engine_t *self, const engine_batch_t *batch, bool sync);
    /* Makes every earlier write durable. 0 or ROOST_EIO. */
    int (*sync)(engine_t *self);
    /* 0 with *val (malloc'd, caller frees) and *vlen set, ROOST_ENOTFOUND or ROOST_EIO. */
    int (*get)(engine_t *self, const void *key, size_t klen, void **val, size_t *vlen);
    /* A positioned iterator over [lo, hi): at the first key, or (reverse) the last. Never NULL. */
    engine_iter_t *(*iter_new)(engine_t *self, const void *lo, size_t lolen, const void *hi,
                               size_t hilen, bool reverse);
    /* Approximate bytes stored in [lo, hi). 0 or ROOST_EIO. */
    int (*approximate_size)(engine_t *self, const void *lo, size_t lolen, const void *hi,
                            size_t hilen, uint64_t *bytes);
    /* Closes and frees everything the engine owns, including self. */
    void (*destroy)(engine_t *self);
} engine_ops_t;

typedef struct {
    bool (*valid)(const engine_iter_t *self);
    /* Steps toward hi (forward) or toward lo (reverse). Only while valid. */
    void (*next)(engine_iter_t *self);
    const void *(*key)(const engine_iter_t *self, size_t *len);
    const void *(*value)(const engine_iter_t *self, size_t *len);
    /* 0, or ROOST_EIO if the iteration stopped on an error rather than at the end. */
    int (*error)(const engine_iter_t *self);
    void (*destroy)(engine_iter_t *self);
} engine_iter_ops_t;

/* The first member of every engine. Implementations call engine_base_init; nobody else
 * touches the fields. */
struct engine {
    const engine_ops_t *ops;
    _Atomic int health;          /* 0, or the first error reported by any operation */
    _Atomic bool writes_refused; /* set by the first failed write or sync; cleared only by a
                                  * reopen (engine_mem_crash for the memory engine) */
    _Atomic uint64_t writes;     /* successful engine_write calls so far (engine_writes) */
    const char *name;            /* "rocksdb" | "mem", for log lines */
};

struct engine_iter {
    const engine_iter_ops_t *ops;
    engine_t *engine;
};

void engine_base_init(engine_t *self, const engine_ops_t *ops, const char *name);

/* ---- what callers use ---------------------------------------------------------------------- */

/* Applies batch atomically; durable before returning if sync. An empty batch is a no-op (with
 * sync: an engine_sync). Returns 0; ROOST_EIO if the engine refuses writes (an earlier write
 * or sync failed) or this one failed — then nothing of it may be acknowledged. */
int engine_write(engine_t *self, const engine_batch_t *batch, bool sync);
/* Makes every earlier write durable (the group commit). 0 or ROOST_EIO (and writes refused). */
int engine_sync(engine_t *self);
/* Successful engine_write calls so far, counted as each returns: a sync that starts after
 * reading N makes every write that read a count <= N after returning durable. A caller reads
 * it after its write (an upper bound of its own, so waiting for it is never too early) and the
 * syncer before its engine_sync; writes need not be ordered among threads. */
uint64_t engine_writes(const engine_t *self);
/* Reads one key: 0 with *val (caller frees with free()) and *vlen; ROOST_ENOTFOUND; ROOST_EINVAL
 * for a bad key; ROOST_EIO when the engine could not read it. */
int engine_get(engine_t *self, const void *key, size_t klen, void **val, size_t *vlen);

/* Iterators over [lo, hi) in byte order, ascending (new) or descending (new_reverse); they see
 * a snapshot taken at creation. Caller owns the iterator. Can't fail: a read error shows as
 * !valid with engine_iter_error != 0. Bounds longer than ENGINE_KEY_BYTES_MAX are a bug. */
engine_iter_t *engine_iter_new(engine_t *self, const void *lo, size_t lolen, const void *hi,
                               size_t hilen);
engine_iter_t *engine_iter_new_reverse(engine_t *self, const void *lo, size_t lolen, const void *hi,
                                       size_t hilen);
bool engine_iter_valid(const engine_iter_t *self);
void engine_iter_next(engine_iter_t *self);
/* Current key / value; valid until the next engine_iter_next or destroy. Only while valid. */
const void *engine_iter_key(const engine_iter_t *self, size_t *len);
const void *engine_iter_value(const engine_iter_t *self, size_t *len);
/* 0, or ROOST_EIO if the iteration ended on a read error (recorded in engine_health). Check it
 * after a loop ends: !valid alone does not mean "no more keys". */
int engine_iter_error(const engine_iter_t *self);
/* Safe on NULL; NULLs *self_p. Destroy every iterator before its engine. */
void engine_iter_destroy(engine_iter_t **self_p);

/* The largest key in [lo, hi), copied: 0 with *key (caller frees) and *klen; ROOST_ENOTFOUND if
 * the range is empty; ROOST_EIO. Costs one seek (the replicated log's "last entry of P"). */
int engine_last_key(engine_t *self, const void *lo, size_t lolen, const void *hi, size_t hilen,
                    void **key, size_t *klen);
/* Writes into out (cap >= plen) the smallest key greater than every key starting with prefix,
 * so [prefix, out) is exactly the keys with that prefix. Returns false if there is none (the
 * prefix is empty or all 0xFF): then use hi = NULL. */
bool engine_prefix_end(const void *prefix, size_t plen, void *out, size_t *outlen);

/* The engines' key order: memcmp over the common length, then the shorter key first. <0, 0, >0. */
int engine_key_compare(const void *a, size_t alen, const void *b, size_t blen);

/* Approximate bytes stored in [lo, hi) (reporting a handoff's volume). 0 or ROOST_EIO. */
int engine_approximate_size(engine_t *self, const void *lo, size_t lolen, const void *hi,
                            size_t hilen, uint64_t *bytes);

/* 0, or the first error any operation reported since open. */
int engine_health(const engine_t *self);
/* False once a write or sync has failed: the node must turn its partitions read-only. */
bool engine_writable(const engine_t *self);

/* Closes the engine and frees it. Closing does not sync: call engine_sync first if unsynced
 * writes must survive a power loss. Safe on NULL; NULLs *self_p. */
void engine_destroy(engine_t **self_p);

#endif
