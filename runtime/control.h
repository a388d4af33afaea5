/* runtime/control.h — the control plane: one Raft group replicating the cluster map.
 *
 * Owns: a libraft 0.15 server (raft_uv on disk, libraft's own TCP transport), the libuv loop
 * and the thread that runs it ("the control thread"), the replicated clustermap_t, and the
 * bounded queue through which other threads submit commands.
 *
 *   control_new ──> control_start ──> (running: maps applied, on_map fired) ──> control_destroy
 *                   │ on an empty data dir every voter bootstraps the same configuration;
 *                   │ the first leader that sees an empty map commits SET_MEMBERS(initial).
 *
 * Commands reach the log only through the leader: control_submit queues a command on any node,
 * and the control thread raft_apply()s it only if this node is leader at that moment; otherwise
 * it is dropped and counted (control_dropped). This is deliberate: failure detectors on every
 * node report the same failure, only the leader's reports take effect, and a report lost
 * during an election is sent again by the detector that still sees the failure. Commands are
 * idempotent (NODE_DOWN of a DOWN node changes nothing), so duplicates are harmless.
 *
 * Threads: everything is thread-safe from any thread except control_destroy (one caller, once,
 * not from on_map). on_map runs on the control thread after every command that changed the map
 * (and after a snapshot restore); it must not block and must not call control_destroy. The map
 * it gets is the state machine's working copy, valid during the call only: clustermap_copy it
 * (never retain it) or use control_map_get to keep one.
 * The process must ignore SIGPIPE (libuv writes to peers that may have died).
 */
#ifndef ROOST_CONTROL_H
#define ROOST_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/clustermap.h"

enum {
    /* Voting members of the Raft group: 5 tolerates 2 failures; more only slows commits. */
    CONTROL_VOTERS_MAX = 5,
    /* "a.b.c.d:port" for the Raft transport (libraft's TCP transport takes IPv4 dotted quads). */
    CONTROL_ADDR_BYTES_MAX = 63,
    /* A data directory path, NUL excluded (libraft keeps file names under it short). */
    CONTROL_DIR_BYTES_MAX = 200,
    /* Commands queued for the control thread: failure reports and admin changes are rare; a
     * full queue means the control thread is stuck, and the caller gets ROOST_EAGAIN. */
    CONTROL_SUBMIT_QUEUE_MAX = 64,
    /* Defaults when the config leaves a timeout at 0. */
    CONTROL_HEARTBEAT_MS_DEFAULT = 100,
    CONTROL_ELECTION_MS_DEFAULT = 1000,
    /* A snapshot sent to a lagging voter that never answered is sent again after this many
     * election timeouts. libraft's default, 30 s, left a voter whose snapshot was lost on a cut
     * link applying no map for 30 s, and the partitions it led stuck mid-handoff (the
     * simulator's seed 7090). A map snapshot is small: sending one twice costs little. */
    CONTROL_INSTALL_SNAPSHOT_ELECTIONS = 2,
    /* Log entries between snapshots: a snapshot is one small map, so snapshot often and keep
     * the log (and a restarting node's replay) short. */
    CONTROL_SNAPSHOT_THRESHOLD_DEFAULT = 64,
};

typedef struct {
    uint32_t id; /* the member id; Raft ids are member ids (> 0) */
    char address[CONTROL_ADDR_BYTES_MAX + 1];
} control_voter_t;

typedef void (*control_on_map_fn)(void *arg, const clustermap_t *map);
/* Sends one tunnel frame to node `peer` (control_tunnel.h); called on the control thread. */
typedef void (*control_tunnel_send_fn)(void *arg, uint32_t peer, const void *frame, size_t len);

typedef struct {
    uint32_t self_id;     /* this node's member id; must be one of the voters */
    const char *data_dir; /* created if missing (one level); holds the Raft log and snapshots */
    uint32_t n_voters;
    control_voter_t voters[CONTROL_VOTERS_MAX];
    uint32_t partitions; /* P, a power of two */
    uint32_t rf;
    uint32_t n_members; /* the initial member list, committed once by the first leader */
    const clustermap_member_t *members; /* copied by control_new; status is ignored */
    unsigned heartbeat_ms;              /* 0: CONTROL_HEARTBEAT_MS_DEFAULT */
    unsigned election_ms;               /* 0: CONTROL_ELECTION_MS_DEFAULT; > heartbeat_ms */
    unsigned snapshot_threshold;        /* 0: CONTROL_SNAPSHOT_THRESHOLD_DEFAULT */
    control_on_map_fn on_map;           /* may be NULL */
    void *on_map_arg;
    /* Raft over the caller's transport (control_tunnel.h: authenticated and encrypted with it)
     * instead of libraft's TCP on the voters' addresses: frames go out through tunnel_send and
     * come in through control_tunnel_frame. NULL: TCP. */
    control_tunnel_send_fn tunnel_send;
    void *tunnel_arg;
} control_config_t;

typedef struct control control_t;

/* Validates and copies cfg (nothing is started, no I/O). Returns NULL on a bad config (self not
 * a voter, duplicate ids, bad map shape or member list) or out of memory. Caller owns it. */
control_t *control_new(const control_config_t *cfg);

/* Opens the data dir, bootstraps it if pristine, starts Raft and the control thread.
 * Returns 0, ROOST_EIO (data dir or Raft failed to start; details logged) or ROOST_EINVAL if
 * already started. Call once. */
int control_start(control_t *self);

/* Stops the control thread (closing Raft cleanly), frees everything and NULLs *self_p.
 * Safe on NULL and on a control that was never started. */
void control_destroy(control_t **self_p);

/* Queues cmd for the control thread (see the header comment for the leader-only rule).
 * Returns 0, ROOST_EAGAIN if the queue is full, ROOST_ECLOSED if not running, ROOST_ENOMEM. */
int control_submit(control_t *self, const clustermap_cmd_t *cmd);

/* This node's view as of the control thread's last look (at most one tick, 50 ms, old). */
bool control_is_leader(control_t *self);
/* The known leader's member id, or 0 if none is known. */
uint32_t control_leader_id(control_t *self);
/* This node's Raft role ("leader", "candidate", "follower", "unavailable") and current term, as
 * of the same look. */
const char *control_raft_role(control_t *self, uint64_t *term);

/* The latest applied map, as a shared immutable snapshot: the caller owns one reference and
 * gives it back with clustermap_release. Never NULL (version 0, empty, before the first
 * command is applied). */
clustermap_t *control_map_get(control_t *self);

/* Commands submitted on this node and dropped because it was not the leader. */
uint64_t control_dropped(control_t *self);

/* A tunnel frame from node `from` (any thread); ignored without a tunnel or when not running. */
void control_tunnel_frame(control_t *self, uint32_t from, const void *frame, size_t len);

#endif
