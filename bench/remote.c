/* bench/remote.c — two nodes in one process, each with its own ZeroMQ transport on loopback.
 * Node 1 owns partition 0 and node 2 partition 1 (P = 2), so every ping crosses the network
 * and every pong comes back over it.
 *   phase 1 (peak): `pairs` pingers on node 1 keep `window` pings in flight each to their
 *            ponger on node 2 for `seconds`: messages handled per second on both nodes.
 *   phase 2 (latency): pingers send timestamped pings paced by a 1 ms timer so that the total
 *            rate is half the measured peak; round-trip p50/p99 from the returned pongs, and
 *            each way's (the ponger stamps its own time: both nodes read one clock).
 * --timeline 1: phase 2's round trips by the 5 ms window they were sent in, on stderr.
 * --curve 1: the transports encrypt and authenticate with CurveZMQ, as a cluster whose manifest
 * turns security.curve on. --io thread (default, as runtime.io) runs each transport's I/O loop on a
 * thread of its own; --io worker on its node's worker. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "runtime/hash.h"
#include "runtime/node.h"
#include "runtime/transport_zmq.h"

#include <zmq.h>

enum { MSG_BALL = 1, MSG_PACE, PACERS = 10 };

static _Atomic bool g_stop;
static lat_hist_t g_lat, g_out, g_back; /* round trip; ping to pong; pong to ping */
static bench_timeline_t g_timeline;
static double g_pings_per_tick; /* per pacer, set before phase 2 */

typedef struct {
    char peer[32];
    double credit;
} pacer_t;

static void s_bounce(roost_ctx_t *ctx, roost_env_t *env)
{
    char tmp[ROOST_KEY_BYTES_MAX + 1];
    if (env->target_len != env->sender_len)
        return;
    memcpy(tmp, env->target, env->target_len);
    memcpy(env->target, env->sender, env->target_len);
    memcpy(env->sender, tmp, env->target_len);
    roost_ctx_send_env(ctx, env);
}

/* A timed ping's payload: when the pinger sent it, then when the ponger bounced it. */
typedef struct {
    uint64_t sent_ns, bounced_ns;
} stamps_t;

static void pong_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    if (env->payload_len == sizeof(stamps_t)) {
        uint64_t now = roost_ctx_now_ns(ctx);
        memcpy(env->payload + offsetof(stamps_t, bounced_ns), &now, sizeof now);
    }
    if (!atomic_load_explicit(&g_stop, memory_order_relaxed))
        s_bounce(ctx, env);
}

static void ping_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    pacer_t *p = state;
    if (env->type == MSG_PACE) { /* phase 2: start pacing toward the sender of this message */
        memcpy(p->peer, env->payload, env->payload_len < 31 ? env->payload_len : 31);
        /* pacer i ticks at offset i·(1000/PACERS) µs: sends spread evenly, not in bursts */
        roost_ctx_timer_start_us(ctx, 1000 + env->corr * (1000 / PACERS), 1000, 0);
        return;
    }
    if (env->payload_len == sizeof(stamps_t)) {
        stamps_t st;
        memcpy(&st, env->payload, sizeof st);
        uint64_t now = roost_ctx_now_ns(ctx);
        lat_record(&g_lat, now - st.sent_ns);
        lat_record(&g_out, st.bounced_ns - st.sent_ns);
        lat_record(&g_back, now - st.bounced_ns);
        bench_timeline_record(&g_timeline, st.sent_ns, now - st.sent_ns);
        return;
    }
    pong_message(ctx, state, env);
}

static void ping_timer(roost_ctx_t *ctx, void *state, uint64_t id, uint64_t tag)
{
    (void)id, (void)tag;
    pacer_t *p = state;
    if (atomic_load_explicit(&g_stop, memory_order_relaxed))
        return;
    for (p->credit += g_pings_per_tick; p->credit >= 1.0; p->credit -= 1.0) {
        stamps_t st = {.sent_ns = roost_ctx_now_ns(ctx)};
        roost_ctx_send(ctx, p->peer, MSG_BALL, &st, sizeof st);
    }
}

static int ping_activate(roost_ctx_t *ctx, void **state)
{
    (void)ctx;
    *state = calloc(1, sizeof(pacer_t));
    return 0;
}

static void ping_passivate(roost_ctx_t *ctx, void *state)
{
    (void)ctx;
    free(state);
}

static const roost_behaviour_t s_ping = {.kind = "rp",
                                         .on_activate = ping_activate,
                                         .on_message = ping_message,
                                         .on_timer = ping_timer,
                                         .on_passivate = ping_passivate};
static const roost_behaviour_t s_pong = {.kind = "rq", .on_message = pong_message};

/* The n-th key "<kind>:<6 digits>" whose partition (of 2) is `want`. */
static void s_key_in(char *out, const char *kind, uint32_t want, uint64_t *cursor)
{
    for (;;) {
        int len = snprintf(out, 32, "%s:%06" PRIu64, kind, (*cursor)++);
        if (roost_partition_of(out, (size_t)len, 2) == want)
            return;
    }
}

typedef struct {
    roost_node_t *node[3];
    roost_transport_t *tr[3];
} duo_t;

/* With curve: a fresh key pair per node, each listing the other's (as roostd does). */
static void s_curve_keys(uint8_t pub[3][32], uint8_t sec[3][32])
{
    for (int id = 1; id <= 2; id++) {
        char p[41], k[41];
        zmq_curve_keypair(p, k);
        zmq_z85_decode(pub[id], p);
        zmq_z85_decode(sec[id], k);
    }
}

static int s_duo_start(duo_t *d, int base_port, uint32_t spin_us, bool curve, bool io_on_worker)
{
    uint8_t pub[3][32], sec[3][32];
    if (curve)
        s_curve_keys(pub, sec);
    for (uint32_t id = 1; id <= 2; id++) {
        transport_zmq_config_t tc = {.self_id = id, .npeers = 1};
        tc.curve.on = curve;
        if (curve) {
            memcpy(tc.curve.public_key, pub[id], 32);
            memcpy(tc.curve.secret_key, sec[id], 32);
            memcpy(tc.peers[0].curve_public, pub[3 - id], 32);
        }
        snprintf(tc.bind_endpoint, sizeof tc.bind_endpoint, "tcp://127.0.0.1:%d",
                 base_port + (int)id);
        tc.peers[0].id = 3 - id;
        snprintf(tc.peers[0].endpoint, TRANSPORT_ENDPOINT_BYTES_MAX, "tcp://127.0.0.1:%d",
                 base_port + (int)(3 - id));
        d->tr[id] = transport_zmq_new(&tc);
        if (!d->tr[id])
            return -1;
        roost_node_config_t nc = {
            .node_id = id, .workers = 1, .partitions = 2, .idle_spin_us = spin_us};
        d->node[id] = roost_node_new(&nc);
        roost_node_register(d->node[id], &s_ping);
        roost_node_register(d->node[id], &s_pong);
        roost_node_set_transport(d->node[id], d->tr[id]);
        if (io_on_worker)
            transport_zmq_run_on_caller(d->tr[id]);
        roost_node_set_io(d->node[id], io_on_worker);
        roost_node_set_primary(d->node[id], 0, 1, 1);
        roost_node_set_primary(d->node[id], 1, 2, 1);
        roost_node_start(d->node[id]);
        if (!io_on_worker)
            transport_zmq_start(d->tr[id]);
    }
    return 0;
}

static uint64_t s_handled(duo_t *d)
{
    uint64_t total = 0;
    for (int id = 1; id <= 2; id++) {
        roost_node_stats_t st;
        roost_node_stats(d->node[id], &st);
        total += st.messages;
    }
    return total;
}

/* Messages per second over `seconds`, with a progress line a second. */
static double s_measure(duo_t *d, uint64_t seconds, const char *phase)
{
    uint64_t m0 = s_handled(d), t0 = bench_now_ns();
    for (uint64_t s = 0; s < seconds; s++) {
        struct timespec one = {1, 0};
        nanosleep(&one, NULL);
        bench_progress("remote %s: %" PRIu64 "/%" PRIu64 " s", phase, s + 1, seconds);
    }
    return (double)(s_handled(d) - m0) / ((double)(bench_now_ns() - t0) / 1e9);
}

int bench_remote(int argc, char **argv)
{
    uint64_t seconds = bench_opt_u64(argc, argv, "--seconds", 5);
    uint64_t pairs = bench_opt_u64(argc, argv, "--pairs", 2000);
    uint64_t window = bench_opt_u64(argc, argv, "--window", 8);
    int base_port = (int)bench_opt_u64(argc, argv, "--port", 27100);
    duo_t d = {0};
    uint32_t spin_us = (uint32_t)bench_opt_u64(argc, argv, "--spin-us", 0);
    bool curve = bench_opt_u64(argc, argv, "--curve", 0) != 0;
    const char *io = bench_opt(argc, argv, "--io");
    bool io_on_worker = io && strcmp(io, "worker") == 0;
    if (s_duo_start(&d, base_port, spin_us, curve, io_on_worker) != 0) {
        fprintf(stderr, "roost-bench remote: cannot bind 127.0.0.1:%d-%d\n", base_port + 1,
                base_port + 2);
        return 1;
    }
    char ping[32], pong[32];
    uint64_t c0 = 0, c1 = 0;
    for (uint64_t i = 0; i < pairs; i++) {
        s_key_in(ping, "rp", 0, &c0);
        s_key_in(pong, "rq", 1, &c1);
        for (uint64_t w = 0; w < window; w++)
            roost_node_send(d.node[1], roost_env_new(pong, ping, MSG_BALL, "ball", 4));
    }
    struct timespec warm = {0, 500000000};
    nanosleep(&warm, NULL);
    double peak = s_measure(&d, seconds, "peak");
    atomic_store(&g_stop, true); /* drain phase 1's balls */
    nanosleep(&warm, NULL);
    /* half the peak unless --paced-rate says otherwise; a ping and its pong are 2 messages */
    double paced_rate = (double)bench_opt_u64(argc, argv, "--paced-rate", (uint64_t)(peak / 2));
    g_pings_per_tick = paced_rate / 2.0 / 1000.0 / PACERS;
    atomic_store(&g_stop, false);
    c0 = c1 = 1000000 - 200000; /* fresh pacer keys */
    for (int i = 0; i < PACERS; i++) {
        s_key_in(ping, "rp", 0, &c0);
        s_key_in(pong, "rq", 1, &c1);
        roost_env_t *pace = roost_env_new(ping, NULL, MSG_PACE, pong, strlen(pong));
        pace->corr = (uint64_t)i; /* the pacer's index: its phase within each millisecond */
        roost_node_send(d.node[1], pace);
    }
    nanosleep(&warm, NULL);
    memset(&g_lat, 0, sizeof g_lat);
    memset(&g_out, 0, sizeof g_out);
    memset(&g_back, 0, sizeof g_back);
    if (bench_opt_u64(argc, argv, "--timeline", 0))
        bench_timeline_start(&g_timeline, 5 * 1000000u, 1000000u);
    double paced = s_measure(&d, seconds, "latency");
    atomic_store(&g_stop, true);
    bench_timeline_print(&g_timeline, seconds * 1000000000u);
    printf("{\"msgs_per_s\":%.0f,\"pairs\":%" PRIu64 ",\"window\":%" PRIu64
           ",\"curve\":%s,\"io\":\"%s\",\"latency_load_msgs_per_s\":%.0f,\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"out_p50_us\":%.1f,\"out_p99_us\":%.1f,\"back_p50_us\":%.1f,"
           "\"back_p99_us\":%.1f}\n",
           peak, pairs, window, curve ? "true" : "false", io_on_worker ? "worker" : "thread", paced,
           lat_quantile_us(&g_lat, 0.50), lat_quantile_us(&g_lat, 0.99),
           lat_quantile_us(&g_out, 0.50), lat_quantile_us(&g_out, 0.99),
           lat_quantile_us(&g_back, 0.50), lat_quantile_us(&g_back, 0.99));
    for (int id = 1; id <= 2; id++) {
        roost_node_stop(d.node[id]);
        transport_zmq_destroy(&d.tr[id]);
        roost_node_destroy(&d.node[id]);
    }
    return 0;
}
