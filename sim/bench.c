/* sim/bench.c — see bench.h. One simulated clock, N nodes of the real runtime (one worker
 * each, polled), 64 partitions spread round-robin over them, and echo actors "e:<k>": each
 * message an actor gets makes it send one to a random other echo actor. */
#include "sim/bench.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runtime/actor.h"
#include "runtime/clock.h"
#include "runtime/hash.h"
#include "runtime/node.h"
#include "runtime/rng.h"
#include "sim/net.h"

enum { BENCH_PARTITIONS = 64, BENCH_KEYS = 4096, MSG_BENCH_ECHO = 0x5E20 };

typedef struct {
    roost_clock_t base;
    const uint64_t *now_ns;
} bench_clock_t;

typedef struct {
    uint64_t handled;
} bench_counts_t;

static uint64_t s_now_ns(roost_clock_t *c)
{
    return *((bench_clock_t *)c)->now_ns;
}

static uint64_t s_wall_ms(roost_clock_t *c)
{
    return s_now_ns(c) / 1000000u;
}

static void s_echo(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    bench_counts_t *counts = roost_ctx_service(ctx, "bench");
    counts->handled++;
    char key[24];
    snprintf(key, sizeof key, "e:%u", (unsigned)roost_rng_below(roost_ctx_rng(ctx), BENCH_KEYS));
    roost_ctx_send(ctx, key, MSG_BENCH_ECHO, env->payload, env->payload_len);
}

static const roost_behaviour_t s_echo_behaviour = {.kind = "e", .on_message = s_echo};

static double s_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static roost_node_t *s_node(uint32_t id, uint32_t nodes, uint64_t seed, bench_clock_t *clock,
                            sim_net_t *net, bench_counts_t *counts)
{
    roost_node_config_t nc = {.node_id = id,
                              .workers = 1,
                              .partitions = BENCH_PARTITIONS,
                              .clock = &clock->base,
                              .seed = roost_hash64((uint64_t[]){seed, id}, 16) | 1u};
    roost_node_t *n = roost_node_new(&nc);
    roost_node_register(n, &s_echo_behaviour);
    roost_node_set_service(n, "bench", counts);
    roost_node_set_transport(n, sim_net_transport(net, id));
    for (uint32_t p = 0; p < BENCH_PARTITIONS; p++)
        roost_node_set_primary(n, p, 1 + p % nodes, 1);
    return n;
}

/* Polls every node until all are idle; true if work remains. */
static bool s_poll(roost_node_t **nodes, uint32_t n)
{
    bool any = true;
    for (int round = 0; round < 64 && any; round++) {
        any = false;
        for (uint32_t i = 0; i < n; i++)
            any |= roost_node_poll(nodes[i]);
    }
    return any;
}

void sim_bench_net(const sim_bench_config_t *cfg, sim_bench_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (cfg->nodes < 2 || cfg->nodes >= SIM_NODES_MAX) /* one node has no network to measure */
        return;
    uint64_t now_ns = 1000000000ull;
    roost_rng_t rng;
    roost_rng_seed(&rng, cfg->seed);
    sim_net_t *net = sim_net_new(&rng, &now_ns);
    sim_net_set_faults(net, &(sim_net_faults_t){.latency_us = 200,
                                                .jitter_us = 300,
                                                .drop_ppm = 1000,
                                                .dup_ppm = 1000,
                                                .slow_ppm = 1000});
    bench_clock_t clock = {.base = {.now_ns = s_now_ns, .wall_ms = s_wall_ms}, .now_ns = &now_ns};
    bench_counts_t counts = {0};
    roost_node_t *nodes[SIM_NODES_MAX] = {0};
    for (uint32_t i = 0; i < cfg->nodes; i++) {
        nodes[i] = s_node(i + 1, cfg->nodes, cfg->seed, &clock, net, &counts);
        sim_net_set_up(net, i + 1, true);
    }
    static const char payload[32] = "a simulated message's payload..";
    char key[24];
    sim_net_stats_t st = {0};
    double t0 = s_wall();
    for (uint64_t injected = 0; st.delivered < cfg->events;) {
        sim_net_stats(net, &st);
        for (; st.dropped + st.cut + st.down + cfg->inflight > injected + st.duplicated;
             injected++) {
            /* a dropped message is replaced, so the traffic never dies out */
            snprintf(key, sizeof key, "e:%u", (unsigned)roost_rng_below(&rng, BENCH_KEYS));
            roost_node_send(nodes[roost_rng_below(&rng, cfg->nodes)],
                            roost_env_new(key, NULL, MSG_BENCH_ECHO, payload, sizeof payload));
        }
        sim_net_deliver_due(net);
        bool busy = s_poll(nodes, cfg->nodes);
        uint64_t next = sim_net_next_ns(net);
        now_ns = busy || next == UINT64_MAX ? now_ns + 1000 : (next > now_ns ? next : now_ns);
    }
    out->wall_s = s_wall() - t0;
    sim_net_stats(net, &st);
    out->events = st.delivered;
    out->handled = counts.handled;
    out->sim_ns = now_ns - 1000000000ull;
    out->trace = st.trace;
    for (uint32_t i = 0; i < cfg->nodes; i++)
        roost_node_destroy(&nodes[i]);
    sim_net_destroy(&net);
}
