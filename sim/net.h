/* sim/net.h — the simulated network: one roost_transport_t per node over one event queue.
 *
 * A send encodes the envelope to its wire form (as the real transport does) and queues a
 * delivery at now + latency; the simulator's loop pops deliveries in (time, sequence) order and
 * hands a freshly decoded envelope to the target node's sink. Faults, each decided by the
 * run's seeded generator: a message is dropped (drop_ppm), delivered twice (dup_ppm), or
 * delayed by a random jitter (which reorders); a link can be cut in one direction (one-way
 * partitions) until a time; a node that is down receives nothing and sends nothing.
 *
 * Single-threaded and deterministic: the same seed and the same calls give the same deliveries.
 */
#ifndef ROOST_SIM_NET_H
#define ROOST_SIM_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/rng.h"
#include "runtime/transport.h"

enum { SIM_NODES_MAX = 16 };

typedef struct {
    uint64_t latency_us; /* base one-way latency */
    uint64_t jitter_us;  /* + uniform [0, jitter): reorders messages */
    uint32_t drop_ppm;   /* per message, in millionths */
    uint32_t dup_ppm;    /* delivered twice */
    uint32_t slow_ppm;   /* a message takes 20× longer (a slow link or a GC pause) */
} sim_net_faults_t;

typedef struct sim_net sim_net_t;

/* rng: the run's generator (not owned); now_ns: the simulated clock it reads. */
sim_net_t *sim_net_new(roost_rng_t *rng, const uint64_t *now_ns);
void sim_net_destroy(sim_net_t **self_p);
void sim_net_set_faults(sim_net_t *self, const sim_net_faults_t *faults);

/* The transport node `id` sends through (1 ≤ id < SIM_NODES_MAX). */
roost_transport_t *sim_net_transport(sim_net_t *self, uint32_t id);
/* A node that is down neither sends nor receives (its queued deliveries are dropped). */
void sim_net_set_up(sim_net_t *self, uint32_t id, bool up);
/* Cuts the link from → to until `until_ns` (0: heals it now). */
void sim_net_cut(sim_net_t *self, uint32_t from, uint32_t to, uint64_t until_ns);
bool sim_net_is_cut(const sim_net_t *self, uint32_t from, uint32_t to);

/* The time of the next delivery (UINT64_MAX: none queued). */
uint64_t sim_net_next_ns(const sim_net_t *self);
/* Delivers every message due at or before now; returns how many. */
uint32_t sim_net_deliver_due(sim_net_t *self);

typedef struct {
    uint64_t sent, delivered, dropped, duplicated, cut, down;
    uint64_t trace; /* a running hash of every delivery: (time, from, to, wire bytes) */
} sim_net_stats_t;
void sim_net_stats(const sim_net_t *self, sim_net_stats_t *out);

#endif
