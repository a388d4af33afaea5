/* shards/engine_rocksdb.h — the shard node's storage engine: one RocksDB instance per node.
 *
 * Owns: the RocksDB handle, its options and the mapping of engine.h onto the RocksDB C API.
 * See engine_rocksdb.c for the options chosen for this workload and why, and for how
 * durability maps (write with sync=true is a synced WriteBatch; engine_sync is FlushWAL(true)).
 *
 * Thread-safe: write, sync, get, iterator creation and approximate_size may be called from any
 * thread at once (RocksDB serialises writers itself and merges concurrent synced writes into
 * one fsync). An iterator belongs to one thread. engine_destroy: one caller, after all others.
 *
 * Every RocksDB failure becomes ROOST_EIO with the RocksDB status text in a log line (comp
 * "engine") and in the engine's health (see engine.h).
 */
#ifndef ROOST_SHARDS_ENGINE_ROCKSDB_H
#define ROOST_SHARDS_ENGINE_ROCKSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shards/engine.h"

enum {
    /* Memtable size: 32 MiB absorbs a burst of about 100k 200-byte messages before a flush, and
     * two of them (active + flushing) stay small next to a shard node's RAM. */
    ENGINE_ROCKSDB_WRITE_BUFFER_BYTES_DEFAULT = 32 * 1024 * 1024,
    /* Block cache for data, index and filter blocks: recent conversations are read back soon
     * after they are written; 64 MiB holds a busy node's working set without crowding actors. */
    ENGINE_ROCKSDB_BLOCK_CACHE_BYTES_DEFAULT = 64 * 1024 * 1024,
};

/* How RocksDB compacts (engine_rocksdb.c says why universal is the default). */
typedef enum {
    ENGINE_ROCKSDB_COMPACTION_UNIVERSAL = 0, /* size-tiered: low write cost, needs disk headroom */
    ENGINE_ROCKSDB_COMPACTION_LEVEL,         /* leveled: ~10% space overhead, more rewriting */
} engine_rocksdb_compaction_t;

typedef struct {
    /* Memtable size in bytes; 0 = ENGINE_ROCKSDB_WRITE_BUFFER_BYTES_DEFAULT. */
    size_t write_buffer_bytes;
    /* LRU block cache in bytes; 0 = ENGINE_ROCKSDB_BLOCK_CACHE_BYTES_DEFAULT. */
    size_t block_cache_bytes;
    /* Open without write access (inspection tools, a node's data examined offline): the
     * directory must exist; every write fails with ROOST_EIO and latches the engine's health. */
    bool read_only;
    /* Writes not asked to sync stay in RocksDB's WAL buffer (manual_wal_flush) until the next
     * synced write or engine_sync, which write and sync them in one go: one write() per sync
     * instead of one per batch. A process crash then loses them as a power loss would, so only
     * for a store that acknowledges nothing before its sync (sync: batch or always). */
    bool buffer_unsynced;
    /* Compaction style; 0 = universal. */
    engine_rocksdb_compaction_t compaction;
} engine_rocksdb_options_t;

/* Opens (creating if missing, unless read_only) the database in dir. opts may be NULL (all
 * defaults). Returns the engine (caller owns it: engine_destroy), or NULL with the reason,
 * RocksDB's text included, written to err (if errcap > 0; truncated to fit). */
engine_t *engine_rocksdb_open(const char *dir, const engine_rocksdb_options_t *opts, char *err,
                              size_t errcap);

/* Flushes the memtable and compacts every key into the bottommost level, returning when done
 * (offline maintenance; tests that need table files below level 0). 0 or ROOST_EIO. */
int engine_rocksdb_compact(engine_t *e);

/* Returns once RocksDB has no flush running or due and no compaction running, seen twice 10 ms
 * apart (a compaction a flush schedules is running by then): ROOST_OK, or
 * ROOST_ETIMEDOUT after timeout_ms (tests that measure what compaction wrote; offline upkeep). */
int engine_rocksdb_wait_idle(engine_t *e, int timeout_ms);

/* Bytes of the table files the database currently uses (RocksDB's live-sst-files-size): what a
 * full merge under universal compaction reads, and about what it writes beside it. */
uint64_t engine_rocksdb_live_bytes(engine_t *e);

#endif
