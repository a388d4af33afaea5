/* sim/buggify.h — BUGGIFY (after FoundationDB): the seed makes the code take rare but legal paths
 * more often. It is the fault-point hook (runtime/fault.h) while a run is on: each site of
 * BUGGIFY_SITES is switched on for the whole run with probability 1/4 — decided at its first
 * check, from the seed and the site's name — and a site that is on fires on 1%, 5% or 25% of
 * its checks (the seed picks which). Only while the run injects faults, so the heal phase
 * converges. A planted bug (`--plant NAME`) fires at every check of its site, to show the
 * checkers catch what it breaks:
 *   ack-one   (replog.plant_ack_one): a primary acknowledges a write at its first durable copy,
 *             not at a quorum;
 *   sync-all  (replog.plant_sync_all): a sync answer is taken to cover every write so far, those
 *             written while its fsync ran too — an acknowledgement before the copy is durable.
 *
 * A site belongs here only if its path is one the system must survive anyway (a message lost
 * on the way, a read error, a replica rebuilt instead of fed): a path that breaks a guarantee
 * by design (a hung fsync, a disk that refuses writes) is a fault the world injects with its
 * consequences (faults.c), not a BUGGIFY. */
#ifndef ROOST_SIM_BUGGIFY_H
#define ROOST_SIM_BUGGIFY_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sim_buggify sim_buggify_t;

typedef enum { SIM_PLANT_NONE = 0, SIM_PLANT_ACK_ONE, SIM_PLANT_SYNC_ALL } sim_plant_t;

/* The --plant name of a bug, and back (false: no such name). */
const char *sim_plant_name(sim_plant_t plant);
bool sim_plant_parse(const char *name, sim_plant_t *out);

/* Installs the hook for a run of `seed`; `on` says whether sites may fire now (the world's
 * "faults on" flag, read at every check). */
sim_buggify_t *sim_buggify_install(uint64_t seed, const bool *on, sim_plant_t plant);
/* Uninstalls the hook and frees it. */
void sim_buggify_remove(sim_buggify_t **self_p);
/* How many checks fired, and how many sites were switched on. */
uint64_t sim_buggify_fired(const sim_buggify_t *self);
uint32_t sim_buggify_sites_on(const sim_buggify_t *self);

#endif
