/* shards/replog.h — one partition's replicated log on one node: the behaviour of the
 * node-local actors `@<node>:<partition>/log` (PacificA-style primary–backup; the design's
 * "Partitions, placement and epochs" and docs/store.md are the long form).
 *
 * Every replica of partition p runs one. The daemon tells each its ROLE from the cluster map
 * (epoch, primary, replica list). States:
 *
 *   REPLICA ──ROLE: primary = me, epoch e──> RECONCILING ──quorum of promises, tail
 *      ^                                          │        re-replicated under e──> SERVING
 *      └──── ROLE: someone else / refused with a higher epoch ─┴──────────────────────┘
 *
 * SERVING: store_append batches become entries (epoch, lsn, ops); entries arriving in one
 * worker pass share one engine write and one sync (group commit), then go to the replicas in
 * one LOG_APPEND each; an entry commits when store_acks_needed() copies are durable, and is then
 * applied to the state table and answered. RECONCILING: PREPARE(e) → replicas promise (durably)
 * and send their tail; the primary adopts the most up-to-date tail (highest last epoch, then
 * longest), re-stamps it with e, re-replicates it to a quorum, and only then serves.
 * Replicas refuse entries from an epoch below their promise; an entry k from a newer epoch
 * replaces older-epoch entries from k on. A primary refused with a higher epoch stops serving
 * at once. A replica that is behind answers GAP and the primary streams the missing entries.
 * A write the disk refuses is never acknowledged; the partition stops serving (read-only) and
 * the engine's health alarm stays raised.
 */
#ifndef ROOST_REPLOG_H
#define ROOST_REPLOG_H

#include <stdbool.h>

#include "runtime/actor.h"
#include "shards/engine.h"

/* Registered as kind "@log" on shard nodes (needs the "store" service). */
extern const roost_behaviour_t replog_behaviour;

/* The key of partition p's log actor on node `node` ("@node:p/log"). */
int replog_key(char *out, size_t cap, uint32_t node, uint32_t partition);

/* Whether the engine holds any log entry of partition p (a copy to retire once no list of the
 * map names this node). */
bool replog_holds_copy(engine_t *engine, uint32_t partition);

#endif
