/* runtime/detector.h — failure detection wired to the control plane.
 *
 * Feeds heartbeats into a phi-accrual detector per peer (plus a hard deadline) and,
 * on every tick, reconciles the cluster map with what this node observes: while this node is
 * the Raft leader, a member the map says is UP but the detector says is down gets NODE_DOWN
 * submitted (the leader then commits epoch+1 and a live replica as primary for each of its
 * partitions), and a member the map says is DOWN that heartbeats again gets NODE_UP (it rejoins
 * as a replica; primaries do not move back). A NODE_DOWN needs more than the leader's own
 * view: every heartbeat carries its sender's suspects, and the leader reports a member down
 * only when a majority of all members (itself included, counting only peers heard from
 * recently) see it down — so a leader cut off on the data plane, which sees everyone silent,
 * does not declare the rest of the cluster dead. Reconciling toward the observed state, rather than
 * acting on edges, makes a report lost during an election harmless: the next tick sends it
 * again. Submissions per member are spaced by at least DETECTOR_RESUBMIT_MS.
 *
 * Threads: every function runs on the transport's I/O thread (heartbeats and ticks both come
 * from it), so the detector needs no lock.
 */
#ifndef ROOST_DETECTOR_H
#define ROOST_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/control.h"

/* A report is re-sent at most this often while the map disagrees with the observation. */
#define DETECTOR_RESUBMIT_MS 1000

typedef struct detector detector_t;

/* What the detector needs of the control plane: the daemon's Raft (detector_control_of), or
 * the simulator's. All three run on the detector's thread. */
typedef struct {
    void *self;                           /* NULL: observe only (edges, non-voters) */
    bool (*is_leader)(void *self);        /* only the leader reports */
    clustermap_t *(*map_get)(void *self); /* the newest applied map; the caller releases it */
    int (*submit)(void *self, const clustermap_cmd_t *cmd); /* cmd stays the caller's */
} detector_control_t;

/* The port onto this node's Raft voter (control.h); NULL gives observe-only. */
detector_control_t detector_control_of(control_t *control);

typedef struct {
    uint32_t self_id;
    uint32_t heartbeat_ms;  /* the interval peers send heartbeats at */
    uint32_t down_after_ms; /* silence that always means down */
    const uint32_t *peers;  /* the members to watch (not self) */
    uint32_t npeers;
    detector_control_t control; /* {0}: observe only */
} detector_config_t;

detector_t *detector_new(const detector_config_t *cfg);
void detector_destroy(detector_t **self_p);
/* Starts watching a member that joined (roostctl apply); the caller's thread is the detector's.
 * 0, ROOST_EEXIST (self or known) or ROOST_ETOOBIG. */
int detector_add_peer(detector_t *self, uint32_t id, uint64_t now_ns);
/* A heartbeat from `from`, with its payload (the sender's view; may be empty or malformed:
 * then only the liveness counts). */
void detector_heartbeat(detector_t *self, uint32_t from, uint64_t now_ns, const void *view,
                        size_t len);
/* This node's view for its own heartbeats: the peers it sees down. Returns the length. */
size_t detector_view_encode(detector_t *self, uint8_t *buf, size_t cap);
/* True when a majority of all members (this node included) currently see `peer` down. */
bool detector_confirmed_down(const detector_t *self, uint32_t peer, uint64_t now_ns);
/* Marks peers down (phi over threshold, or silent for down_after_ms), then reconciles. */
void detector_tick(detector_t *self, uint64_t now_ns);
/* This node can no longer serve (its disk refused a write): while it leads the control plane
 * it reports itself down too (a leader otherwise never reports itself), so its partitions
 * fail over whoever leads. Its peers see it go quiet (the caller stops its heartbeats). */
void detector_set_self_down(detector_t *self);
/* This node's observation of a peer (false for an unknown id). */
bool detector_is_up(const detector_t *self, uint32_t peer);
/* The peer's current suspicion level (0 when never heard from or unknown). */
double detector_phi(const detector_t *self, uint32_t peer, uint64_t now_ns);

#endif
