/* sim/raft.h — the control plane under the simulator: the cluster map's real Raft state machine
 * (runtime/control_fsm.c, the one every roostd voter runs) on real libraft servers, one per
 * voting shard node, over a simulated disk and network (sim/raft_io.h), stepped on the world's
 * clock.
 *
 * Real: libraft (elections with pre-vote, replication, commit, snapshots taken every few dozen
 * entries and installed on lagging voters), the entry framing and the state machine with its
 * snapshot and restore, so every voter applies the same sequence of maps at the same indexes —
 * or the map checker here says where they diverged. A crashed node's server is closed and what
 * its disk had not completed is lost; a restart is a new server that loads the disk (snapshot,
 * then entries). The links follow the simulated network's cuts, and its weather drops messages.
 *
 * Voter `id` (1 ≤ id ≤ voters) is the node of that id.
 */
#ifndef ROOST_SIM_RAFT_H
#define ROOST_SIM_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/clustermap.h"
#include "runtime/rng.h"

enum { SIM_RAFT_VOTERS_MAX = 5 };

typedef struct sim_raft sim_raft_t;

/* Called when voter `id` applied a command (or restored a snapshot); `map` is its new map,
 * valid for the call. */
typedef void (*sim_raft_map_fn)(void *arg, uint32_t id, const clustermap_t *map);

/* `voters` servers (1..SIM_RAFT_VOTERS_MAX) bootstrapped with all of them voting; the seed's
 * generator picks their election timeouts and latencies. NULL on a bad shape. */
sim_raft_t *sim_raft_new(uint32_t voters, uint32_t partitions, uint32_t rf, roost_rng_t *rng,
                         sim_raft_map_fn on_map, void *on_map_arg);
void sim_raft_destroy(sim_raft_t **self_p);
uint32_t sim_raft_voters(const sim_raft_t *self);

/* Fires every control-plane event due by now_ms (the world's clock, in ms). */
void sim_raft_advance(sim_raft_t *self, uint64_t now_ms);
/* A crash closes the node's server (losing what its disk had not completed); a restart starts
 * a new one on that disk. */
void sim_raft_set_alive(sim_raft_t *self, uint32_t id, bool alive);
/* The link from → to carries messages or drops them (cuts, isolation). */
void sim_raft_set_link(sim_raft_t *self, uint32_t from, uint32_t to, bool up);

/* Of every million control-plane messages, `ppm` are lost on the way (the network's weather:
 * the tunnel's queue to a peer over its bound, a connection reset with messages in it). */
void sim_raft_set_drop_ppm(sim_raft_t *self, uint32_t ppm);

/* The live server that believes it leads with the highest term, or 0 (an election is on). */
uint32_t sim_raft_leader(const sim_raft_t *self);
/* Proposes a command through the current leader (sim_raft_leader). ROOST_OK (proposed: it
 * commits unless that leader is deposed first), ROOST_ENOTLEADER (no leader) or ROOST_ENOMEM. */
int sim_raft_propose(sim_raft_t *self, const clustermap_cmd_t *cmd);
/* The map voter `id` applied last in its current life (never NULL: empty before its first apply,
 * and again after a crash until its restarted server restores or applies one). */
const clustermap_t *sim_raft_map(const sim_raft_t *self, uint32_t id);

/* Whether the leader is sending voter `id` a snapshot and waits for its answer (libraft's
 * progress in snapshot mode): the window in which a test loses one on purpose. */
bool sim_raft_sending_snapshot(const sim_raft_t *self, uint32_t id);
/* One line on voter `id`'s Raft state for a failure report: its role and term, its log's last
 * index, commit and applied indexes, and — from the leader — the replication progress. */
void sim_raft_describe(const sim_raft_t *self, uint32_t id, char *out, size_t len);

typedef struct {
    uint64_t proposed, committed, lost; /* lost: not committed (the leader was deposed) */
    uint64_t elections;                 /* leader changes seen */
    uint64_t restarts;                  /* servers restarted from their disks after a crash */
    uint64_t snapshots, installs;       /* snapshots taken; installed from a leader */
    uint64_t messages;                  /* Raft messages sent */
    uint64_t diverged;                  /* applies whose map differs from another voter's at
                                           the same version: must stay 0 */
    char first_divergence[160];
} sim_raft_stats_t;
void sim_raft_stats(const sim_raft_t *self, sim_raft_stats_t *out);

#endif
