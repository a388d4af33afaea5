/* shards/store.h — the store as actors see it, and the node-wide store service behind it.
 *
 * Actor API (what actors/ programs against; no RocksDB, no sockets):
 *   store_append  — commit a batch of puts/deletes to the actor's partition: the batch is
 *                   appended to the partition's replicated log on its primary and the actor
 *                   receives a response (type MSG_STORE_APPENDED, payload [lsn]) once it is
 *                   durable at the configured consistency — or an error response (eunavail:
 *                   this node is not the serving primary; eio: the disk refused it).
 *   store_get     — read the partition's committed state (synchronous, local).
 * The service (store_t) is registered on the node as "store"; one per shard node: the engine,
 * the replication settings and the counters.
 */
#ifndef ROOST_STORE_H
#define ROOST_STORE_H

#include <stdatomic.h>
#include <stdint.h>

#include "runtime/actor.h"
#include "shards/engine.h"
#include "shards/ops.h"

#define STORE_SERVICE "store"

typedef enum { CONSISTENCY_ONE = 1, CONSISTENCY_QUORUM, CONSISTENCY_ALL } store_consistency_t;
typedef enum { SYNC_BATCH = 1, SYNC_ALWAYS, SYNC_NONE } store_sync_t;

typedef struct {
    engine_t *engine; /* not owned */
    uint32_t rf;
    store_consistency_t consistency;
    store_sync_t sync;
    uint32_t append_timeout_ms;
    struct {
        _Atomic uint64_t appends, commits, entries_written, repaired, corrupt;
    } stats;
} store_t;

/* Acknowledgements needed out of rf replicas (the primary's own write counts as one). */
uint32_t store_acks_needed(const store_t *s);

/* Asks for `ops` to be committed in the calling actor's partition; *corr identifies the
 * response. 0, ROOST_EUNAVAIL (no store on this node) or ROOST_EINVAL. */
int store_append(roost_ctx_t *ctx, const store_ops_t *ops, uint64_t *corr);
/* Reads key (the actor's own key bytes in the state table) of the actor's partition; the
 * caller frees *val. 0, ROOST_ENOTFOUND, ROOST_EUNAVAIL or ROOST_EIO. */
int store_get(roost_ctx_t *ctx, const void *key, size_t klen, void **val, size_t *vlen);
/* The lsn carried by a MSG_STORE_APPENDED response (0 if malformed). */
uint64_t store_appended_lsn(const roost_env_t *env);

#endif
