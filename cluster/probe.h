/* cluster/probe.h — a store probe client: joins the data plane as one of the manifest's
 * non-shard nodes and writes/reads `kv:<name>` values through the shards (the store's tests,
 * `roost-bench store`, and operators' write checks use it).
 *
 * Requests go to one shard of the caller's choosing (probe_route); a shard that is not the
 * partition's primary forwards to it. Results arrive through the callback, on the probe's
 * worker thread. probe_put is thread-safe.
 */
#ifndef ROOST_PROBE_H
#define ROOST_PROBE_H

#include <stdint.h>

#include "cluster/manifest.h"

typedef struct probe probe_t;

/* status 0 and the commit's lsn, or a negative roost error (etimedout, eunavail, …). */
typedef void (*probe_result_fn)(void *arg, uint64_t tag, int status, uint64_t lsn);

/* as_node: the manifest node this process acts as (not a shard). NULL on failure (logged). */
probe_t *probe_new(const manifest_t *m, const char *as_node, probe_result_fn fn, void *arg);
/* The probe's node: to register more behaviours (client sessions in tests) before start. */
struct roost_node *probe_node(probe_t *p);
int probe_start(probe_t *p);
void probe_destroy(probe_t **p_p);
/* Sends every request through shard `shard_id` from now on. */
void probe_route(probe_t *p, uint32_t shard_id);
/* Follows the cluster map the control leader pushes (every 2 s and on each change): requests go
 * straight to each partition's primary. Call before probe_start; probe_route until the first
 * map arrives. */
void probe_follow_map(probe_t *p);
/* Writes value under kv:<key>; the result comes back with `tag`. timeout_ms 0 → 5 s. */
int probe_put(probe_t *p, const char *key, const void *val, size_t len, uint64_t tag,
              uint32_t timeout_ms);

#endif
