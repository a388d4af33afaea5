/* sim/world.h — one simulated cluster in one thread: N shard nodes (the real runtime, the
 * real replicated store over the in-memory engine), a client node writing through the store
 * probe, the simulated network (net.h), and the control plane's Raft group (raft.h).
 *
 * Everything is driven by sim_world_step from the caller's thread on one simulated clock (each
 * node reads it with its own fixed skew); every random choice comes from the run's seed, so a
 * seed replays bit for bit. What a step does: deliver the messages that are due, poll every
 * live node until it is idle, complete the fsyncs that are due, run the scheduled restarts,
 * step the control plane and let its leader do its duties, inject the faults the seed picks,
 * and advance the clock to the next thing that happens (at most 1 ms: node timers).
 *
 * The control plane: the real Raft state machine on real libraft servers (raft.h), one per
 * voting node (the first min(5, N)); each voter tells its own logs the roles of the map it
 * applied (exactly as the daemon does, msg_role_from_map), so voters see map changes at
 * different times, and one cut off from the leader keeps an old map. Non-voters and the client
 * follow the newest map any voter applied (the leader's push). Every shard node runs the
 * daemon's failure detector over heartbeats on the simulated network (detect.c), and the
 * leading voter's detector proposes NODE_DOWN / NODE_UP; the stores' handoff requests go to
 * whoever leads (they ask again each second until the map moves).
 */
#ifndef ROOST_SIM_WORLD_H
#define ROOST_SIM_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "edge/session.h"
#include "runtime/clustermap.h"
#include "runtime/node.h"
#include "runtime/rng.h"
#include "runtime/u64map.h"
#include "shards/engine.h"
#include "shards/store.h"
#include "shards/syncer.h"
#include "sim/buggify.h"
#include "sim/buggify.h"
#include "sim/chat.h"
#include "sim/net.h"
#include "sim/raft.h"

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
    sim_plant_t plant;   /* a planted bug the checkers must catch (buggify.h) */
    bool edges; /* the phones connect through the edge's real session actors (chat_edge.c) */
} sim_config_t;

typedef enum { WRITE_PENDING = 0, WRITE_ACKED, WRITE_FAILED } sim_write_status_t;
enum { SIM_WRITE_TIMEOUT_MS = 10000 };   /* the client's: a write is answered within it */
enum { SIM_ANY_PARTITION = UINT32_MAX }; /* (check.h: a loss window in any partition) */
enum { SIM_NO_PARTITION = UINT32_MAX - 1 };

typedef struct {
    sim_write_status_t status;
    uint64_t corr, lsn;
    uint64_t acked_ns; /* when its acknowledgement arrived */
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
    uint64_t disk_failed_ns; /* when its disk began refusing writes (and write-backs) */
    uint32_t incarnation;
    engine_t *engine; /* the disk: kept across crashes */
    store_t store;
    syncer_t *syncer;
    roost_node_t *node;
    sim_clock_t clock;
    roost_rng_t secrets;       /* its secrets (tokens, codes): seeded, so a run replays */
    uint64_t sync_at_ns;       /* the next fsync may begin then */
    uint64_t sync_end_ns;      /* the fsync begun ends then (0: none running) */
    uint64_t sync_mark;        /* what it makes durable (engine_mem_sync_begin) */
    uint64_t writeback_at_ns;  /* sync: none — the OS writes dirty pages back then */
    uint64_t *role_told;       /* per partition: a digest of the role last told */
    struct detector *detector; /* the daemon's failure detector (detect.c); NULL while down */
    bool heartbeats;           /* it sends them (not after its disk failed) */
    uint64_t next_beat_ns;
    uint64_t *retire_since_ns; /* per partition: since when no list names this copy (0: named) */
} sim_node_t;

typedef struct sim_ctl sim_ctl_t; /* scheduled control-plane actions (world.c) */

typedef struct sim_world {
    sim_config_t cfg;
    uint32_t nodes; /* shard slots: cfg.nodes, plus a spare that planned changes can add */
    bool
        configured[SIM_SHARDS_MAX + 1]; /* the operator's wish (SET_MEMBERS until the map has it) */
    roost_rng_t rng;
    uint64_t now_ns, step;
    sim_net_t *net;
    sim_node_t shard[SIM_SHARDS_MAX + 1]; /* 1..nodes */
    roost_node_t *client;                 /* id nodes + 1 */
    uint32_t client_id;
    sim_clock_t client_clock;
    roost_rng_t client_secrets;
    sim_raft_t *raft;
    clustermap_t *map;            /* the newest map any voter applied */
    uint64_t members_proposed_ns; /* SET_MEMBERS is proposed until the map has the wish */
    uint64_t retire_checked_ns;
    uint64_t next_reconcile_ns;
    sim_ctl_t *ctl; /* scheduled restarts and crashes */
    uint32_t nctl, ctl_cap;
    uint64_t ctl_seq;
    /* the client's writes: kv:<i> = v<i>, i = index */
    sim_write_t *writes;
    uint32_t nwrites, writes_cap, first_pending;
    u64map_t pending_writes; /* request corr → index + 1 of the write awaiting its answer */
    uint64_t next_write_ns;
    bool writing, faulting;
    uint64_t next_fault_ns;
    bool short_logs; /* the seed chose logs of 16 entries (held up to 64): snapshot rebuilds */
    uint32_t heartbeat_ms; /* the seed's: 100, 200 or 500 (down_after: 10 heartbeats) */
    uint64_t writeback_ns; /* sync: none — the OS's write-back delay, the seed's 5–30 s */
    struct {               /* every power loss, in order: the sync: none loss window's judge */
        uint32_t node;
        uint64_t at_ns; /* the crash, or the disk failure that preceded it: from then on
                           the OS could write nothing back */
        uint64_t parts; /* bit p: the map named the node for partition p (all bits past 64) */
    } * losses;
    uint32_t nlosses, losses_cap;
    struct {
        uint64_t crashes, restarts, cuts, disk_faults, map_changes, joins, leaves, blackouts;
        uint64_t detector_reports; /* NODE_DOWN / NODE_UP proposed by a leader's detector */
    } faults;
    uint64_t rebuilds;       /* snapshot rebuilds by stores that have since ended */
    sim_chat_t *chat;        /* NULL without clients */
    session_host_t sessions; /* with cfg.edges: the client node hosts the phones' sessions */
    tokens_t tokens;         /* … and signs their access tokens with the edge's kind of key */
    sim_buggify_t *buggify;
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
/* detect.c: the real failure detector on every shard node, over simulated heartbeats. */
void sim_detect_start(sim_world_t *w, sim_node_t *n); /* with the node's process */
void sim_detect_stop(sim_node_t *n);                  /* a crash */
void sim_detect_self_down(sim_node_t *n);             /* its disk failed: heartbeats stop */
void sim_detect_tick(sim_world_t *w);                 /* heartbeats and ticks that are due */
uint64_t sim_detect_next_ns(const sim_world_t *w);
/* A planned change: the operator applies a manifest with (or without) node `id`. */
void sim_world_configure(sim_world_t *w, uint32_t id, bool member);
/* Whether the newest map's configured members are the operator's wish. */
bool sim_world_configured(const sim_world_t *w);
void sim_world_say(const sim_world_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
