/* shards/engine_mem.h — an in-memory storage engine with explicit durability, for tests and sim/.
 *
 * Owns: a sorted set of (key, value) records and a model of what a disk would have kept.
 *
 * Durability model. A write with sync=false is "in the page cache": visible at once, lost by
 * engine_mem_crash. engine_sync, or a write with sync=true, makes every earlier write durable.
 * engine_mem_crash is a power loss followed by a restart: every write since the last sync is
 * forgotten — the worst a power loss allows — and the engine comes back healthy, as a reopened
 * one would. The kernel does write dirty pages back eventually; the model says so by treating
 * everything as synced once ENGINE_MEM_UNSYNCED_OPS_MAX records are pending (it also bounds the
 * undo log).
 *
 * Faults. engine_mem_fail_writes(e, err) makes every later write and sync fail with err (a
 * disk that returns EIO or ENOSPC); capacity_bytes (0 = unlimited) is a disk size: a write
 * whose key and value bytes would take the stored total past it fails with ROOST_EIO, as a full
 * disk does. Both survive a crash (they describe the disk, not the process). A failure latches
 * the engine's health like any engine (see engine.h).
 *
 * Complexity (n records, k in a range, c = MEMTABLE_CHUNK_MAX): get and seek O(log n); put and
 * delete O(log n + c) (a chunked sorted table, shards/memtable.h); delete_range O(k·c);
 * iterator creation O(log n) and next O(1). Iterators are snapshots: they share the table, and
 * the first write while one is open copies its chunk array (O(n/c) pointers) and then each
 * chunk it changes (copy-on-write).
 *
 * Deterministic: no threads, no clock, no randomness. Not thread-safe: one owner thread.
 */
#ifndef ROOST_SHARDS_ENGINE_MEM_H
#define ROOST_SHARDS_ENGINE_MEM_H

#include <stdint.h>

#include "shards/engine.h"

enum {
    /* Unsynced records kept for a crash to undo before the model deems them written back (the
     * kernel's dirty-page writeback); also the bound on the undo log's memory. */
    ENGINE_MEM_UNSYNCED_OPS_MAX = 1024 * 1024,
};

typedef struct {
    /* Disk size in key+value bytes; 0 = unlimited. */
    uint64_t capacity_bytes;
} engine_mem_options_t;

/* A new, empty engine; opts may be NULL (defaults). Caller owns it: engine_destroy. Can't fail. */
engine_t *engine_mem_new(const engine_mem_options_t *opts);

/* Power loss and restart: forgets every write since the last sync, clears health. Iterators
 * still open keep their snapshot (memory-safe), though a real crash would have ended them. */
void engine_mem_crash(engine_t *self);

/* Every later write and sync fails with err (< 0, normally ROOST_EIO); 0 stops the injection.
 * An engine that already refused writes keeps refusing until engine_mem_crash. */
void engine_mem_fail_writes(engine_t *self, int err);

/* A sync in two halves, as a real fsync takes time (the simulator): _begin marks the writes so
 * far; _end makes exactly those durable — not what was written between the two, which waits for
 * a later sync — and returns 0, or the error a failed sync returns (then nothing more is
 * durable). A crash between the two loses what the mark covered, as a power loss during an
 * fsync may. The usual engine_sync and synced writes still make everything durable at once. */
uint64_t engine_mem_sync_begin(engine_t *self);
int engine_mem_sync_end(engine_t *self, uint64_t mark);

/* Key and value bytes stored now (what capacity_bytes limits). */
uint64_t engine_mem_used_bytes(const engine_t *self);
/* Records a crash would undo now (0 right after a sync). */
size_t engine_mem_unsynced(const engine_t *self);

#endif
