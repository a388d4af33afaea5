/* sim/bench.h — the simulator's own speed, apart from the code it runs (roost-sim --bench-net).
 *
 * Echo actors on N simulated nodes bounce messages to one another over the simulated network
 * (latency, jitter, drops, duplicates: sim/net.h), through the real runtime: each message is
 * encoded to its wire form, queued, decoded, routed by partition and handled in an actor turn
 * that sends the next one. There is no store, no control plane and no checker: the figure is
 * what one event of simulated network traffic costs the simulator and the runtime's message
 * path, the floor under a cluster run, where each message then drives real store and
 * messaging code (docs/simulation.md, "Speed").
 */
#ifndef ROOST_SIM_BENCH_H
#define ROOST_SIM_BENCH_H

#include <stdint.h>

typedef struct {
    uint64_t seed;
    uint32_t nodes;    /* 2 … SIM_NODES_MAX - 1 (else nothing runs) */
    uint32_t inflight; /* messages bouncing at once */
    uint64_t events;   /* network deliveries to run */
} sim_bench_config_t;

typedef struct {
    uint64_t events;  /* network deliveries */
    uint64_t handled; /* actor turns (local sends included) */
    uint64_t sim_ns;  /* simulated time taken */
    uint64_t trace;   /* the network's delivery hash: the same seed gives the same */
    double wall_s;
} sim_bench_result_t;

void sim_bench_net(const sim_bench_config_t *cfg, sim_bench_result_t *out);

#endif
