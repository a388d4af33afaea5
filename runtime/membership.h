/* runtime/membership.h — which peers are up: failure detection over a set of peers.
 *
 * Owns: per peer, a phi-accrual detector (runtime/phi.h), the state the detector concluded and
 * the state last reported to the caller. Pure logic: no threads, no clock reads, no I/O; the
 * caller passes monotonic nanoseconds (the transport's I/O thread in a node, the simulator in
 * sim/), and one owner calls every function (not thread-safe).
 *
 * Per peer:
 *
 *        add (no event)               tick: phi > threshold, or silent >= down_after_ms
 *   ──────────────────> UP ───────────────────────────────────────────────────> DOWN
 *                        ^                                                       │
 *                        └─────────────── heartbeat (from a DOWN peer) ──────────┘
 *
 *   - A peer starts UP when added: it is only declared down after down_after_ms without any
 *     heartbeat, counted from the add (phi says nothing until the first heartbeat).
 *   - "Silent" is measured from the latest heartbeat (or the add). down_after_ms is the hard
 *     guarantee: a killed peer is declared DOWN by the first tick at or after
 *     last heartbeat + down_after_ms, whatever phi says. With the defaults phi normally gets
 *     there first, at about last heartbeat + 2 s (mean 0.5 s + 1 s acceptable pause + 5.3 sigma
 *     with sigma >= 100 ms), and never before 1.5 s (3 intervals) of silence for a steady peer.
 *   - Only ticks move a peer to DOWN; a heartbeat moves a DOWN peer to UP at once.
 *
 * Events: membership_tick reports each peer whose state differs from what was last reported,
 * then records it as reported. So each transition is reported once; a DOWN-then-UP between
 * two ticks is reported as nothing (the peer's state did not change as far as the caller knew);
 * and events that did not fit `cap` stay pending for the next tick. Removing a peer drops its
 * pending event.
 *
 * Invariants: npeers <= MEMBERSHIP_PEERS_MAX, peer ids distinct.
 */
#ifndef ROOST_MEMBERSHIP_H
#define ROOST_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/limits.h"

enum {
    /* Peers watched: every other member of the cluster map (ROOST_NODES_MAX); a linear scan
     * per heartbeat stays cheap at this size. */
    MEMBERSHIP_PEERS_MAX = ROOST_NODES_MAX,
};

/* Defaults used for a config field left 0 (or a NULL config). */
#define MEMBERSHIP_HEARTBEAT_MS_DEFAULT  500
#define MEMBERSHIP_PHI_THRESHOLD_DEFAULT 8.0
#define MEMBERSHIP_DOWN_AFTER_MS_DEFAULT 5000
/* A pause of two heartbeats (a GC, a busy I/O thread) is not suspicious. */
#define MEMBERSHIP_ACCEPTABLE_PAUSE_MS_DEFAULT 1000
/* Floor of sigma: a very regular peer must not be judged on sub-millisecond lateness. */
#define MEMBERSHIP_MIN_STD_DEV_MS_DEFAULT 100

typedef struct {
    uint32_t heartbeat_ms;        /* the interval peers send heartbeats at */
    double phi_threshold;         /* phi above this is down */
    uint32_t down_after_ms;       /* silence that always means down; >= heartbeat_ms */
    uint32_t acceptable_pause_ms; /* see phi.h */
    uint32_t min_std_dev_ms;      /* see phi.h */
} membership_config_t;

typedef enum {
    MEMBERSHIP_PEER_DOWN = 1,
    MEMBERSHIP_PEER_UP = 2,
} membership_event_kind_t;

typedef struct {
    uint32_t peer;
    membership_event_kind_t kind;
} membership_event_t;

typedef struct membership membership_t;

/* cfg may be NULL (all defaults); fields left 0 take the defaults above. Returns NULL if the
 * config is inconsistent (down_after_ms < heartbeat_ms, a negative threshold, or a
 * down_after_ms beyond what the detector's history can hold). The caller owns the result. */
membership_t *membership_new(const membership_config_t *cfg);
/* Safe on NULL; sets *self_p to NULL. */
void membership_destroy(membership_t **self_p);

/* Starts watching `peer` (UP, no event) as of now_ns. Returns 0, ROOST_EEXIST if it is
 * already watched, or ROOST_ETOOBIG beyond MEMBERSHIP_PEERS_MAX peers. */
int membership_add_peer(membership_t *self, uint32_t peer, uint64_t now_ns);
/* Stops watching `peer` (no event; a pending one is dropped). 0 or ROOST_ENOTFOUND. */
int membership_remove_peer(membership_t *self, uint32_t peer);

/* A heartbeat from `peer` arrived at now_ns. Returns 0 or ROOST_ENOTFOUND (a peer not watched:
 * an operating error the caller counts, e.g. a node removed from the map still sending). */
int membership_heartbeat(membership_t *self, uint32_t peer, uint64_t now_ns);

/* Evaluates every UP peer at now_ns, then writes up to `cap` transitions not yet reported into
 * `out` (out may be NULL when cap is 0). Returns how many were written (>= 0); the rest stay
 * pending. Call it about once per heartbeat interval. */
int membership_tick(membership_t *self, uint64_t now_ns, membership_event_t *out, size_t cap);

/* The peer's state as of the latest tick or heartbeat; false for a peer not watched. */
bool membership_is_up(const membership_t *self, uint32_t peer);
/* The peer's phi at now_ns (0 before its first heartbeat); -1 for a peer not watched. */
double membership_phi(const membership_t *self, uint32_t peer, uint64_t now_ns);
/* Peers watched. */
size_t membership_size(const membership_t *self);

#endif
