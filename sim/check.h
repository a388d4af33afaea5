/* sim/check.h — the invariants checked at the end of a run (see check.c for the list). */
#ifndef ROOST_SIM_CHECK_H
#define ROOST_SIM_CHECK_H

#include <stdint.h>

#include "sim/world.h"

typedef struct {
    uint32_t violations;
    char first[256]; /* the first violated invariant, in words */
    uint64_t acked, log_entries;
    uint64_t lost_in_window; /* sync: none — acknowledged writes lost inside its loss window */
    uint64_t restamped;      /* shared entries whose epoch stamps differ (same batch) */
    uint64_t state_digest;   /* of every partition's state, for the run's trace */
    sim_chat_check_t chat;   /* the protocol clients' invariants (chat.h), when there are any */
} sim_check_t;

void sim_check(sim_world_t *w, sim_check_t *out);
/* sync: none's documented loss window (check.c): whether a write to partition p made (or
 * acknowledged) at at_ns may have been lost by the run's power losses (p = SIM_ANY_PARTITION:
 * a write to any partition). Always false under batch/always. */
bool sim_in_loss_window(const sim_world_t *w, uint32_t p, uint64_t at_ns);
/* Whether power loss i (w->losses) hit a node the map named for partition p then. */
bool sim_loss_hits(const sim_world_t *w, uint32_t i, uint32_t p);
/* Whether partition p lost writes inside such a window at any time from since_ns on. */
bool sim_partition_lost_since(const sim_world_t *w, uint32_t p, uint64_t since_ns);
/* True once every node is up in the map, every write is answered and every partition's
 * replicas have applied the same point. */
bool sim_world_quiet(sim_world_t *w);
/* Prints what keeps the world from being quiet (stderr). */
void sim_world_report(sim_world_t *w);

#endif
