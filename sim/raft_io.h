/* sim/raft_io.h — libraft's I/O (struct raft_io) for the control plane's voters under the
 * simulator: a disk per voter that survives crashes and a network between them, both on one
 * simulated millisecond clock, driven event by event from the seed.
 *
 * The disk keeps what a real one keeps after a crash: the term and vote (set synchronously, as
 * raft_uv does), the entries whose append completed, and the last snapshot whose put completed
 * (a put with trailing entries trims the log below them; an installed one replaces it). An
 * append, truncate or snapshot completes after the voter's disk latency, in order; a crash
 * (closing the raft instance) cancels what had not completed, and it is gone.
 *
 * The network delivers a message after the sender's latency plus jitter (so messages reorder),
 * unless the link is cut or the receiver is down or restarted since the send (its connection
 * went with it); it never corrupts or duplicates. The clock is the world's (milliseconds).
 */
#ifndef ROOST_SIM_RAFT_IO_H
#define ROOST_SIM_RAFT_IO_H

#include <raft.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/rng.h"

enum { SIM_RAFT_IO_VOTERS_MAX = 5 };

typedef struct sim_raft_net sim_raft_net_t;

typedef struct {
    uint64_t messages, dropped;   /* sent; of those, never delivered */
    uint64_t appends, snapshots;  /* completed appends; snapshots taken (trailing > 0) */
    uint64_t installs, cancelled; /* snapshots installed from a leader; ops a crash ended */
} sim_raft_net_stats_t;

/* `voters` disks and a network between them; latencies and jitter come from `rng`'s draws
 * (a generator of its own, seeded from it). NULL on a bad count. */
sim_raft_net_t *sim_raft_net_new(uint32_t voters, roost_rng_t *rng);
/* Every voter's raft instance must be closed first. Frees the disks and what is in flight. */
void sim_raft_net_destroy(sim_raft_net_t **self_p);

/* Voter `id`'s I/O (1 ≤ id ≤ voters), for raft_init. One raft instance at a time uses it: a
 * crash is raft_close, a restart a new raft_init on the same io (it loads what the disk kept). */
struct raft_io *sim_raft_net_io(sim_raft_net_t *self, uint32_t id);
const char *sim_raft_net_address(const sim_raft_net_t *self, uint32_t id);
/* The link from → to carries messages or drops them. */
void sim_raft_net_set_link(sim_raft_net_t *self, uint32_t from, uint32_t to, bool up);
/* Of every million messages sent over links that are up, `ppm` are lost on the way. */
void sim_raft_net_set_drop_ppm(sim_raft_net_t *self, uint32_t ppm);

/* Fires the earliest event due at or before now_ms (a tick, a completed disk operation or
 * send, a delivery) and returns true, or moves the clock to now_ms and returns false. */
bool sim_raft_net_step(sim_raft_net_t *self, uint64_t now_ms);

void sim_raft_net_stats(const sim_raft_net_t *self, sim_raft_net_stats_t *out);

#endif
