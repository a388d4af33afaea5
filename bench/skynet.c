/* bench/skynet.c — the skynet benchmark on virtual actors: actor (size, num) with size > 1
 * activates 10 children (size/10, num + i·size/10) by sending to their keys; a leaf (size 1)
 * reports num to its parent; each parent reports its children's sum and passivates. The root
 * result for N leaves is N·(N−1)/2. Every actor is a real virtual actor: keyed, activated by
 * its first message, passivated when done.
 *
 * Placement (--placement):
 *   subtree (default) — every subtree of N/100 leaves lives in one partition, named by the
 *     key "@<node>:<partition>/sky/<size>:<num>" (a node-local key, runtime/envelope.h), as a
 *     spawning runtime keeps a child on its parent's scheduler: the 100 subtrees spread over
 *     the workers, and only their roots' messages cross between them;
 *   hash — "sky:<size>:<num>", placed by the key's hash like any cluster key: every message
 *     goes to a random partition, half of them to the other worker on two. */
#include <errno.h>
#include <inttypes.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "runtime/node.h"

enum { MSG_SPAWN = 1, MSG_RESULT };

typedef struct {
    uint64_t size, num; /* parsed from the key once, at activation */
    uint64_t sum;
    uint32_t waiting;
} sky_t;

static _Atomic uint64_t g_result;
/* Posted by the root's report. The main thread sleeps on it: it used to poll every 100 µs, and
 * those ten thousand wake-ups a second took a tenth of the CPU from the workers it measures. */
static sem_t g_done;
static uint64_t g_total;

/* "00".."99": two digits per division. */
static const char s_digits[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* Writes v in decimal at out (no NUL); returns the end. snprintf cost ~10% of the run, a digit
 * per division ~4%; the digits go straight to their places (a copy of a variable length is a
 * libc call). */
static char *s_put_u64(char *out, uint64_t v)
{
    size_t n = 1;
    for (uint64_t t = v; t >= 10; t /= 10)
        n++;
    char *end = out + n, *p = end;
    while (v >= 100) {
        uint64_t q = v / 100;
        p -= 2;
        p[0] = s_digits[(v - q * 100) * 2];
        p[1] = s_digits[(v - q * 100) * 2 + 1];
        v = q;
    }
    if (v >= 10) {
        p[-2] = s_digits[v * 2];
        p[-1] = s_digits[v * 2 + 1];
    } else {
        p[-1] = (char)('0' + v);
    }
    return end;
}

static uint64_t g_subtree;    /* leaves per co-located subtree; 0: placement by hash */
static uint32_t g_partitions; /* the node's */

/* "sky:<size>:<num>" or "@1:<partition>/sky/<size>:<num>"; out holds at least
 * 3 + 10 + 5 + 20 + 1 + 20 + 1 bytes. */
static void s_key(char out[64], uint64_t size, uint64_t num)
{
    char *p = out;
    if (g_subtree) {
        memcpy(p, "@1:", 3);
        p = s_put_u64(p + 3, (num / g_subtree) & (g_partitions - 1));
        memcpy(p, "/sky/", 5);
        p += 5;
    } else {
        memcpy(p, "sky:", 4);
        p += 4;
    }
    p = s_put_u64(p, size);
    *p++ = ':';
    p = s_put_u64(p, num);
    *p = '\0';
}

static void s_report(roost_ctx_t *ctx, uint64_t size, uint64_t num, uint64_t value)
{
    if (size == g_total) {
        atomic_store(&g_result, value);
        sem_post(&g_done);
        return;
    }
    char parent[64];
    uint64_t psize = size * 10;
    s_key(parent, psize, num - num % psize);
    roost_ctx_send(ctx, parent, MSG_RESULT, &value, sizeof value);
}

/* The state is allocated with the actor's record (state_bytes below), zeroed; the spawn that
 * activates an actor carries its (size, num), as a spawning runtime passes a child its
 * arguments, so nothing parses them back out of the key. */
static void sky_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    sky_t *s = state;
    if (env->type == MSG_SPAWN) {
        uint64_t args[2];
        memcpy(args, env->payload, sizeof args);
        uint64_t size = s->size = args[0], num = s->num = args[1];
        if (size == 1) {
            s_report(ctx, size, num, num);
            roost_ctx_passivate(ctx);
            return;
        }
        s->waiting = 10;
        char child[64];
        for (uint64_t i = 0; i < 10; i++) {
            uint64_t child_args[2] = {size / 10, num + i * (size / 10)};
            s_key(child, child_args[0], child_args[1]);
            roost_ctx_send(ctx, child, MSG_SPAWN, child_args, sizeof child_args);
        }
        return;
    }
    uint64_t v;
    memcpy(&v, env->payload, sizeof v);
    s->sum += v;
    if (--s->waiting == 0) {
        s_report(ctx, s->size, s->num, s->sum);
        roost_ctx_passivate(ctx);
    }
}

static const roost_behaviour_t s_sky = {
    .kind = "sky", .state_bytes = sizeof(sky_t), .on_message = sky_message};
static const roost_behaviour_t s_sky_local = {
    .kind = "@sky", .state_bytes = sizeof(sky_t), .on_message = sky_message};

int bench_skynet(int argc, char **argv)
{
    g_total = bench_opt_u64(argc, argv, "--actors", 1000000);
    uint64_t check = g_total;
    while (check > 1 && check % 10 == 0)
        check /= 10;
    if (check != 1) {
        fprintf(stderr, "roost-bench skynet: --actors must be a power of ten\n");
        return 2;
    }
    const char *placement = bench_opt(argc, argv, "--placement");
    placement = placement ? placement : "subtree";
    if (strcmp(placement, "subtree") != 0 && strcmp(placement, "hash") != 0) {
        fprintf(stderr, "roost-bench skynet: --placement is subtree or hash\n");
        return 2;
    }
    g_subtree = strcmp(placement, "subtree") == 0 ? (g_total >= 100 ? g_total / 100 : 1) : 0;
    roost_node_config_t cfg = {.node_id = 1,
                               .workers = (uint32_t)bench_opt_u64(argc, argv, "--workers", 0)};
    sem_init(&g_done, 0, 0);
    roost_node_t *node = roost_node_new(&cfg);
    g_partitions = roost_node_partitions(node);
    roost_node_register(node, g_subtree ? &s_sky_local : &s_sky);
    roost_node_start(node);
    char root[64];
    s_key(root, g_total, 0);
    uint64_t t0 = bench_now_ns();
    uint64_t root_args[2] = {g_total, 0};
    roost_node_send(node, roost_env_new(root, NULL, MSG_SPAWN, root_args, sizeof root_args));
    while (sem_wait(&g_done) != 0 && errno == EINTR)
        ;
    uint64_t t1 = bench_now_ns();
    roost_node_stats_t st;
    roost_node_stop(node);
    roost_node_stats(node, &st);
    uint64_t expect = g_total * (g_total - 1) / 2;
    printf("{\"actors\":%" PRIu64 ",\"activations\":%" PRIu64 ",\"ms\":%.1f,\"result\":%" PRIu64
           ",\"ok\":%s,\"workers\":%u,\"placement\":\"%s\"}\n",
           g_total, st.activations, (double)(t1 - t0) / 1e6, atomic_load(&g_result),
           atomic_load(&g_result) == expect ? "true" : "false", roost_node_workers(node),
           placement);
    roost_node_destroy(&node);
    sem_destroy(&g_done);
    return atomic_load(&g_result) == expect ? 0 : 1;
}
