/* shards/store.h — the store as actors see it, and the node-wide store service behind it.
 *
 * Actor API (what actors/ programs against; no RocksDB, no sockets):
 *   store_append  — commit a batch of puts/deletes to the actor's partition: the batch is
 *                   appended to the partition's replicated log on its primary and the actor
 *                   receives a response (type MSG_STORE_APPENDED, payload [lsn]) once it is
 *                   durable at the configured consistency — or an error response (eunavail:
 *                   this node is not the serving primary; eio: the disk refused it).
 *   store_open    — a barrier before loading state: answered (MSG_STORE_APPENDED [lsn]) once
 *                   this node serves the partition and has applied every entry appended so
 *                   far, so a following store_get sees everything ever acknowledged (after a
 *                   failover it waits for reconciliation); eunavail where it is not primary.
 *   store_get     — read the partition's committed state (synchronous, local).
 *   store_scan    — iterate the committed state under a key prefix (synchronous, local).
 * The service (store_t) is registered on the node as "store"; one per shard node: the engine,
 * the replication settings and the counters.
 */
#ifndef ROOST_STORE_H
#define ROOST_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/actor.h"
#include "runtime/metrics.h"
#include "shards/engine.h"
#include "shards/ops.h"

#define STORE_SERVICE "store"
/* A key of every partition's state (never an actor's: actor keys start with a letter or '@'):
 * the log term (be64; map epoch << 16 | incarnation) of the partition's last adoption whose quorum
 * counted replicas back from an unclean stop under sync: none — acknowledged writes before it may
 * be gone (docs/store.md, "Sync policy"). Absent: no such adoption. Written by the log as the
 * adopted tail's last entry, so an actor that opens after it reads it (store_get) and knows its
 * state may lack writes it once acknowledged to others. */
#define STORE_FENCE_KEY "!fence"
/* To the serving hook (see store_t): this node now serves the partition; its state is complete. */
#define MSG_STORE_SERVING 0x51F0u

typedef enum { CONSISTENCY_ONE = 1, CONSISTENCY_QUORUM, CONSISTENCY_ALL } store_consistency_t;

/* A whole log re-read about every entries ÷ 2,000 seconds: a million-entry node in ~8 minutes,
 * at a cost of 2,000 block-cache-or-disk reads a second, in small rounds at each log's own
 * phase of the interval. (Session 20: 5 s rounds that every log started together were a burst
 * of 10,000 reads on each node's worker, a 30-80 ms stall every 5 s: the store benchmark's
 * p99 at 2,000 writes/s went from 25 ms to 5-7 ms without it. Rounds every 250 ms cost an
 * idle 3-node cluster ~6% more of a core than 5 s rounds, in timer wake-ups; 1 s rounds ~4%,
 * at the same p99; 5 s rounds at random phases ~1%, but ~1 ms more p99 at 2,000 writes/s.) */
enum { STORE_SCRUB_PER_S_DEFAULT = 2000, STORE_SCRUB_INTERVAL_MS_DEFAULT = 1000 };
/* Entries a replica keeps behind its applied point, and how far behind a primary keeps entries
 * for a lagging replica before it rebuilds it from a snapshot instead. */
enum { STORE_LOG_KEEP_DEFAULT = 50000, STORE_LOG_HOLD_MAX_DEFAULT = 1000000 };
typedef enum { SYNC_BATCH = 1, SYNC_ALWAYS, SYNC_NONE } store_sync_t;

typedef struct {
    engine_t *engine; /* not owned */
    uint32_t rf;
    store_consistency_t consistency;
    store_sync_t sync;
    uint32_t append_timeout_ms;
    /* The kind of a node-local actor ("@<node>:<p>/<kind>") told MSG_STORE_SERVING when this
     * node starts serving partition p (NULL: none) — how actors/ resumes unfinished work. */
    const char *serving_hook;
    /* Handoff (docs/store.md): a partition's primary asks the control plane, from its worker
     * thread, to switch the partition to its `next` list (settled = false: every new replica has
     * caught up) or to forget its `prev` list (settled = true: it serves under the new list).
     * `map_epoch` is the cluster map's epoch of the partition, so a stale request is refused
     * by the map. NULL: no handoffs (tests that drive roles by hand). */
    void (*handoff)(void *arg, uint32_t partition, uint64_t map_epoch, bool settled);
    void *handoff_arg;
    /* The scrubber (replog_repair.c): log entries re-read and checked per second across the
     * node (0: STORE_SCRUB_PER_S_DEFAULT), every scrub_interval_ms (0: the default). */
    uint32_t scrub_per_s, scrub_interval_ms;
    /* Log retention (replog.c): every replica keeps log_keep entries behind its applied point
     * (0: STORE_LOG_KEEP_DEFAULT); a primary keeps more for a lagging replica, up to log_hold_max
     * behind (0: the default) — past that the replica is rebuilt from a snapshot. */
    uint64_t log_keep, log_hold_max;
    /* Set before the node starts when sync is none and the last stop was unclean: its unsynced
     * writes may be gone, acknowledged ones included, so every log here rejoins as a non-voter
     * (its promises and acks do not count) until it holds the commit point its primary had
     * when it first heard from it. */
    bool rejoining;
    struct {
        _Atomic uint64_t appends, commits, entries_written, repaired, corrupt, scrubbed;
        _Atomic uint64_t truncated, rebuilds; /* log entries dropped; snapshot rebuilds done */
        _Atomic uint32_t logs; /* log replicas active on this node (the scrubber shares a budget) */
        /* Replication lag: over the partitions this node leads, the entries its slowest
         * replica has not acknowledged (summed; refreshed every log tick, 100 ms). */
        _Atomic int64_t behind;
        /* Hints: entries the primaries here hold for replicas that lack them (summed over
         * replicas, a handoff's new ones included); handoffs: partitions led here with a
         * handoff under way. */
        _Atomic int64_t hints, handoffs;
    } stats;
    /* Optional (NULL: not measured): microseconds from an append's arrival at the primary's
     * log to its acknowledgement at the configured consistency. */
    metrics_histogram_t *commit_us;
} store_t;

/* Acknowledgements needed out of rf replicas (the primary's own write counts as one). */
uint32_t store_acks_needed(const store_t *s);

/* Asks for `ops` to be committed in the calling actor's partition; *corr identifies the
 * response. 0, ROOST_EUNAVAIL (no store on this node) or ROOST_EINVAL. */
int store_append(roost_ctx_t *ctx, const store_ops_t *ops, uint64_t *corr);
/* Reads key (the actor's own key bytes in the state table) of the actor's partition; the
 * caller frees *val. 0, ROOST_ENOTFOUND, ROOST_EUNAVAIL or ROOST_EIO. */
int store_get(roost_ctx_t *ctx, const void *key, size_t klen, void **val, size_t *vlen);
/* Asks for the barrier described above; *corr identifies the response. */
int store_open(roost_ctx_t *ctx, uint64_t *corr);
/* Calls fn for each key (without the partition prefix) under `prefix` in the actor's partition,
 * in byte order (reverse: descending), until fn returns false or `limit` keys were visited
 * (0: no limit). Returns the number visited, or ROOST_EUNAVAIL / ROOST_EIO. */
typedef bool (*store_scan_fn)(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                              size_t vlen);
int store_scan(roost_ctx_t *ctx, const void *prefix, size_t plen, bool reverse, uint32_t limit,
               store_scan_fn fn, void *arg);
/* The lsn carried by a MSG_STORE_APPENDED response (0 if malformed). */
uint64_t store_appended_lsn(const roost_env_t *env);

#endif
