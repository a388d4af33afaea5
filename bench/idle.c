/* bench/idle.c — the runtime's cost of an idle actor: activate N actors (no domain state) with
 * one message each and measure the resident memory they add and the activation rate. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "bench/bench.h"
#include "runtime/node.h"

static void idle_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)ctx, (void)state, (void)env;
}

static const roost_behaviour_t s_idle = {.kind = "idle", .on_message = idle_message};

int bench_idle(int argc, char **argv)
{
    uint64_t n = bench_opt_u64(argc, argv, "--actors", 1000000);
    roost_node_config_t cfg = {.node_id = 1,
                               .workers = (uint32_t)bench_opt_u64(argc, argv, "--workers", 0),
                               .passivate_after_ms = 3600 * 1000};
    roost_node_t *node = roost_node_new(&cfg);
    roost_node_register(node, &s_idle);
    roost_node_start(node);
    uint64_t rss0 = bench_rss_bytes();
    uint64_t t0 = bench_now_ns();
    char key[32];
    for (uint64_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "idle:%" PRIu64, i);
        roost_node_send(node, roost_env_new(key, NULL, 1, NULL, 0));
    }
    roost_node_stats_t st = {0};
    struct timespec pause = {0, 200000};
    while (st.messages < n) {
        nanosleep(&pause, NULL);
        roost_node_stats(node, &st);
    }
    uint64_t t1 = bench_now_ns();
    uint64_t rss1 = bench_rss_bytes();
    printf("{\"actors\":%" PRIu64 ",\"active\":%" PRIu64 ",\"bytes_per_actor\":%.1f"
           ",\"activations_per_s\":%.0f,\"rss_bytes\":%" PRIu64 "}\n",
           n, st.actors_active, (double)(rss1 - rss0) / (double)n,
           (double)n / ((double)(t1 - t0) / 1e9), rss1);
    roost_node_destroy(&node);
    return 0;
}
