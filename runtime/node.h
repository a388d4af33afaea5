/* runtime/node.h — a runtime node: its workers, behaviours, routing and the way in from outside.
 *
 * A node runs W workers. Partition p is served by worker p % W, so all actors of one partition
 * share one thread and their handlers never run concurrently. Routing: a key's partition is
 * roost_partition_of(key); its primary node comes from the node's routing table (set from the
 * cluster map with roost_node_set_primary; until then every partition is local). Envelopes for
 * another node go through the transport; envelopes for this node go to the serving worker's
 * queue (or straight into the mailbox when sent from that same worker).
 *
 * Two ways to drive it: roost_node_start (one thread per worker, the production mode) or
 * roost_node_poll from the caller's thread (the simulator and deterministic tests).
 *
 * Lifecycle: new → register behaviours / set transport → start → … → stop → destroy.
 */
#ifndef ROOST_NODE_H
#define ROOST_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/actor.h"
#include "runtime/clock.h"
#include "runtime/transport.h"

#define ROOST_NO_NODE UINT32_MAX

typedef struct roost_node roost_node_t;

typedef struct {
    uint32_t node_id;            /* this node's member id in the cluster map */
    uint32_t workers;            /* 0 → one per online CPU */
    uint32_t partitions;         /* power of two; 0 → 1024 */
    uint64_t passivate_after_ms; /* 0 → ROOST_PASSIVATE_AFTER_MS_DEFAULT */
    roost_clock_t *clock;        /* NULL → the real clock */
    uint64_t seed;               /* 0 → random seeds for the workers' generators */
    /* How long an idle worker polls its queue before sleeping: a kernel wake-up costs more
     * than a short spin when messages are dense, but a spinning worker takes the core from
     * I/O threads when cores are few. 0 → ROOST_IDLE_SPIN_US_DEFAULT. */
    uint32_t idle_spin_us;
    /* Where secrets come from (refresh tokens, one-time codes, salts): NULL → the OS's CSPRNG
     * (libsodium's randombytes_buf). The simulator passes a seeded generator so a run with
     * secrets in it replays bit for bit. Called from any worker. */
    void (*secret_bytes)(void *arg, void *buf, size_t len);
    void *secret_arg;
} roost_node_config_t;

typedef struct {
    uint64_t actors_active;
    uint64_t activations;
    uint64_t passivations;
    uint64_t messages; /* handled by on_message */
    uint64_t dropped;  /* undeliverable: no kind, late responses, transport refusals */
    uint64_t timers_fired;
    uint64_t timers_pending;
    uint64_t queued; /* envelopes sent to this node's workers and not yet in a mailbox: the
                      * backlog behind busy workers */
} roost_node_stats_t;

/* NULL on a bad configuration. Caller owns the node. */
roost_node_t *roost_node_new(const roost_node_config_t *cfg);
/* Stops the workers if running, passivates every actor, frees everything. Safe on NULL. */
void roost_node_destroy(roost_node_t **self_p);

/* Before start: one behaviour per kind. ROOST_EEXIST for a kind twice, ROOST_EINVAL for a bad
 * kind, ROOST_ETOOBIG past ROOST_KINDS_MAX. The behaviour must outlive the node. */
int roost_node_register(roost_node_t *self, const roost_behaviour_t *beh);
/* Before start: the transport to other nodes (NULL: a single-node runtime). Not owned. */
void roost_node_set_transport(roost_node_t *self, roost_transport_t *transport);
/* Before start: the first worker runs the transport's I/O between its passes (the transport
 * has serve and wait, and was started without a thread of its own). */
void roost_node_set_io(roost_node_t *self, bool on_worker);
/* Handler for runtime messages without a target (heartbeats), called on the thread running the
 * transport's I/O. */
typedef void (*roost_system_fn)(void *arg, uint32_t from, const roost_env_t *env);
void roost_node_set_system_handler(roost_node_t *self, roost_system_fn fn, void *arg);

/* Before start: makes `ptr` available to behaviours as roost_ctx_service(ctx, name) — how
 * actors reach node-wide facilities (the store) without globals. Not owned. ROOST_ETOOBIG past
 * ROOST_SERVICES_MAX, ROOST_EEXIST for a name twice. */
int roost_node_set_service(roost_node_t *self, const char *name, void *ptr);
void *roost_node_service(const roost_node_t *self, const char *name);

/* Thread-safe, any time: partition p is served by node `primary` at `epoch`. */
void roost_node_set_primary(roost_node_t *self, uint32_t partition, uint32_t primary,
                            uint64_t epoch);
uint32_t roost_node_primary(const roost_node_t *self, uint32_t partition);
uint64_t roost_node_epoch(const roost_node_t *self, uint32_t partition);
/* The partition a key belongs to (explicit for node-local keys "@node:partition/…"). */
uint32_t roost_node_partition_of(const roost_node_t *self, const char *key);
uint32_t roost_node_partitions(const roost_node_t *self);
uint32_t roost_node_id(const roost_node_t *self);
uint32_t roost_node_workers(const roost_node_t *self);

/* Starts one thread per worker. */
int roost_node_start(roost_node_t *self);
/* Signals the workers and joins them; queued envelopes stay queued. */
void roost_node_stop(roost_node_t *self);
/* Without threads: one pass over every worker on the caller's thread. True if work remains
 * (ready actors, queued envelopes or due timers). */
bool roost_node_poll(roost_node_t *self);

/* Sends an envelope from outside any actor (tests, the edge, benchmarks). Thread-safe; takes
 * ownership. Routes like an actor's send. */
int roost_node_send(roost_node_t *self, roost_env_t *env);

/* Sum of all workers' counters (relaxed reads: a consistent total only when quiet). */
void roost_node_stats(roost_node_t *self, roost_node_stats_t *out);

#endif
