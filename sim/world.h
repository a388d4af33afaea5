/* sim/world.h — one simulated cluster in one thread: N shard nodes (the real runtime, the
 * real replicated store over the in-memory engine), a client node writing through the store
 * probe, the simulated network (net.h), and the simulator as the cluster map's only writer.
 *
 * Everything is driven by sim_world_step from the caller's thread on one simulated clock (each
 * node reads it with its own fixed skew); every random choice comes from the run's seed, so a
 * seed replays bit for bit. What a step does: deliver the messages that are due, poll every
 * live node until it is idle, complete the fsyncs that are due, apply the control plane's
 * due actions (failure detection, restarts, handoff commands), inject the faults the seed
 * picks, and advance the clock to the next thing that happens (at most 1 ms: node timers).
 *
 * The control plane: the pure cluster map (runtime/clustermap.h) with the commands the
 * detector and the handoff hooks would commit through Raft, applied after a modelled delay;
 * the map's roles reach each node's logs exactly as the daemon sends them (msg_role_from_map).
 */
#ifndef ROOST_SIM_WORLD_H
#define ROOST_SIM_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/clustermap.h"
#include "runtime/node.h"
#include "runtime/rng.h"
#include "shards/engine.h"
#include "shards/store.h"
#include "shards/syncer.h"
#include "sim/chat.h"
#include "sim/net.h"

enum { SIM_SHARDS_MAX = SIM_NODES_MAX - 2 };

typedef struct {
    uint64_t seed;
    uint32_t nodes;          /* shard nodes (RF = min(3, nodes)) */
    uint32_t partitions;     /* power of two; 0: the seed picks 4, 8 or 16 */
    uint64_t steps;          /* steps with traffic (faults stop at 70% of them) */
    uint32_t write_every_us; /* the client's pace; 0: the seed picks 500–2000 µs */
    bool faults;
    store_sync_t sync;
    uint32_t clients;    /* simulated phones speaking the protocol (0: the store alone) */
    uint32_t sends_each; /* messages each phone sends */
    bool verbose;        /* print every fault and map change */
} sim_config_t;

typedef enum { WRITE_PENDING = 0, WRITE_ACKED, WRITE_FAILED } sim_write_status_t;

typedef struct {
    sim_write_status_t status;
    uint64_t corr, lsn;
} sim_write_t;

/* A node's view of the simulated clock: the world's time plus its own fixed skew. */
typedef struct {
    roost_clock_t base;
    const uint64_t *now_ns;
    uint64_t skew_ns;
} sim_clock_t;

typedef struct {
    struct sim_world *world;
    uint32_t id;
    bool up, disk_failed;
    uint32_t incarnation;
    engine_t *engine; /* the disk: kept across crashes */
    store_t store;
    syncer_t *syncer;
    roost_node_t *node;
    sim_clock_t clock;
    uint64_t sync_at_ns; /* the next fsync completes then */
    uint64_t *role_told; /* per partition: a digest of the role last told */
} sim_node_t;

typedef struct sim_ctl sim_ctl_t; /* scheduled control-plane actions (world.c) */

typedef struct sim_world {
    sim_config_t cfg;
    roost_rng_t rng;
    uint64_t now_ns, step;
    sim_net_t *net;
    sim_node_t shard[SIM_SHARDS_MAX + 1]; /* 1..nodes */
    roost_node_t *client;                 /* id nodes + 1 */
    uint32_t client_id;
    sim_clock_t client_clock;
    clustermap_t *map;
    uint64_t map_index;
    sim_ctl_t *ctl;
    uint32_t nctl, ctl_cap;
    /* the client's writes: kv:<i> = v<i>, i = index */
    sim_write_t *writes;
    uint32_t nwrites, writes_cap, first_pending;
    uint64_t next_write_ns;
    bool writing, faulting;
    uint64_t next_fault_ns;
    bool short_logs; /* the seed chose logs of 16 entries (held up to 64): snapshot rebuilds */
    struct {
        uint64_t crashes, restarts, cuts, disk_faults, map_changes;
    } faults;
    uint64_t rebuilds; /* snapshot rebuilds by stores that have since ended */
    sim_chat_t *chat;  /* NULL without clients */
} sim_world_t;

sim_world_t *sim_world_new(const sim_config_t *cfg);
void sim_world_destroy(sim_world_t **self_p);
/* One step (see the header comment). */
void sim_world_step(sim_world_t *w);
/* Stops faults, heals every link and disk and restarts every node that is down. */
void sim_world_heal(sim_world_t *w);

/* client.c */
extern const roost_behaviour_t sim_client_behaviour;
void sim_client_tick(sim_world_t *w);

/* faults.c: maybe injects one fault (the seed decides which and when). */
void sim_faults_tick(sim_world_t *w);
/* world.c, for faults.c */
void sim_world_crash(sim_world_t *w, uint32_t id);
void sim_world_fail_disk(sim_world_t *w, uint32_t id);
void sim_world_schedule_restart(sim_world_t *w, uint32_t id, uint64_t after_ns);
void sim_world_schedule_crash(sim_world_t *w, uint32_t id, uint64_t after_ns);
void sim_world_say(const sim_world_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
