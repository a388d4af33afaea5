/* bench/pingpong.c — local throughput: `pairs` pairs of actors bounce one message each way for
 * `seconds`; counts every message handled. Pair i is ("pp:<i>a", "pp:<i>b"), spread over the
 * partitions, so most pairs cross workers. Each pair keeps `window` messages in flight. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "runtime/node.h"

enum { MSG_BALL = 1 };
static _Atomic bool g_stop;

static void pp_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    if (atomic_load_explicit(&g_stop, memory_order_relaxed))
        return;
    /* Bounce the same envelope back: no allocation, no copy. */
    const char *self = roost_ctx_self(ctx);
    size_t len = strlen(self);
    if (len != env->target_len || env->sender_len != len)
        return;
    memcpy(env->target, env->sender, len);
    memcpy(env->sender, self, len);
    roost_ctx_send_env(ctx, env);
}

static const roost_behaviour_t s_pp = {.kind = "pp", .on_message = pp_message};

/* --timers N: TIMER_ACTORS actors hold N timers an hour out between them, so the workers'
 * heaps hold N pending timers while the ping-pong runs (the "1M pending timers don't slow
 * message processing" check) without also growing the actor table. */
enum { TIMER_ACTORS = 1000 };

static void tm_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    uint64_t n;
    memcpy(&n, env->payload, sizeof n);
    for (uint64_t i = 0; i < n; i++)
        roost_ctx_timer_start(ctx, 3600 * 1000 + i % 1000, 0, 0);
}

static void tm_timer(roost_ctx_t *ctx, void *state, uint64_t id, uint64_t tag)
{
    (void)ctx, (void)state, (void)id, (void)tag;
}

static const roost_behaviour_t s_tm = {
    .kind = "tm", .on_message = tm_message, .on_timer = tm_timer};

static void s_arm_timers(roost_node_t *node, uint64_t n)
{
    char key[32];
    for (uint64_t i = 0; i < TIMER_ACTORS; i++) {
        uint64_t share = n / TIMER_ACTORS + (i < n % TIMER_ACTORS);
        snprintf(key, sizeof key, "tm:%" PRIu64, i);
        roost_node_send(node, roost_env_new(key, NULL, 1, &share, sizeof share));
    }
    roost_node_stats_t st = {0};
    struct timespec pause = {0, 1000000};
    while (st.timers_pending < n) {
        nanosleep(&pause, NULL);
        roost_node_stats(node, &st);
    }
    bench_progress("pingpong: %" PRIu64 " timers pending", st.timers_pending);
}

int bench_pingpong(int argc, char **argv)
{
    uint64_t pairs = bench_opt_u64(argc, argv, "--pairs", 1000);
    uint64_t seconds = bench_opt_u64(argc, argv, "--seconds", 5);
    uint64_t window = bench_opt_u64(argc, argv, "--window", 4);
    uint64_t timers = bench_opt_u64(argc, argv, "--timers", 0);
    roost_node_config_t cfg = {.node_id = 1,
                               .workers = (uint32_t)bench_opt_u64(argc, argv, "--workers", 0),
                               .idle_spin_us = (uint32_t)bench_opt_u64(argc, argv, "--spin-us", 0)};
    roost_node_t *node = roost_node_new(&cfg);
    roost_node_register(node, &s_pp);
    roost_node_register(node, &s_tm);
    roost_node_start(node);
    if (timers)
        s_arm_timers(node, timers);
    for (uint64_t i = 0; i < pairs; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "pp:%09" PRIu64 "a", i); /* equal lengths: bounce in place */
        snprintf(b, sizeof b, "pp:%09" PRIu64 "b", i);
        for (uint64_t w = 0; w < window; w++)
            roost_node_send(node, roost_env_new(a, b, MSG_BALL, "ball", 4));
    }
    roost_node_stats_t s0, s1;
    struct timespec warm = {0, 200000000};
    nanosleep(&warm, NULL);
    roost_node_stats(node, &s0);
    uint64_t t0 = bench_now_ns();
    for (uint64_t s = 0; s < seconds; s++) {
        struct timespec one = {1, 0};
        nanosleep(&one, NULL);
        bench_progress("pingpong: %" PRIu64 "/%" PRIu64 " s", s + 1, seconds);
    }
    roost_node_stats(node, &s1);
    uint64_t t1 = bench_now_ns();
    atomic_store(&g_stop, true);
    roost_node_stop(node);
    double rate = (double)(s1.messages - s0.messages) / ((double)(t1 - t0) / 1e9);
    printf("{\"pairs\":%" PRIu64 ",\"window\":%" PRIu64 ",\"seconds\":%" PRIu64
           ",\"workers\":%u,\"timers_pending\":%" PRIu64 ",\"msgs_per_s\":%.0f}\n",
           pairs, window, seconds, roost_node_workers(node), s1.timers_pending, rate);
    roost_node_destroy(&node);
    return 0;
}
