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

/* Writes v in decimal at out (no NUL); returns the end. snprintf cost ~10% of the run. */
static char *s_put_u64(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *out++ = tmp[--n];
    return out;
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

/* Parses a decimal at *p up to the first non-digit; advances *p past it. */
static uint64_t s_get_u64(const char **p)
{
    uint64_t v = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++)
        v = v * 10 + (uint64_t)(**p - '0');
    return v;
}

static void s_parse(const char *key, uint64_t *size, uint64_t *num)
{
    const char *p = g_subtree ? strchr(key, '/') + 5 : key + 4; /* past "…/sky/" or "sky:" */
    *size = s_get_u64(&p);
    p++; /* ':' */
    *num = s_get_u64(&p);
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

/* The state is allocated with the actor's record (state_bytes below), zeroed. */
static int sky_activate(roost_ctx_t *ctx, void **state)
{
    sky_t *s = *state;
    s_parse(roost_ctx_self(ctx), &s->size, &s->num);
    return 0;
}

static void sky_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    sky_t *s = state;
    uint64_t size = s->size, num = s->num;
    if (env->type == MSG_SPAWN) {
        if (size == 1) {
            s_report(ctx, size, num, num);
            roost_ctx_passivate(ctx);
            return;
        }
        s->waiting = 10;
        char child[64];
        for (uint64_t i = 0; i < 10; i++) {
            s_key(child, size / 10, num + i * (size / 10));
            roost_ctx_send(ctx, child, MSG_SPAWN, NULL, 0);
        }
        return;
    }
    uint64_t v;
    memcpy(&v, env->payload, sizeof v);
    s->sum += v;
    if (--s->waiting == 0) {
        s_report(ctx, size, num, s->sum);
        roost_ctx_passivate(ctx);
    }
}

static const roost_behaviour_t s_sky = {.kind = "sky",
                                        .state_bytes = sizeof(sky_t),
                                        .on_activate = sky_activate,
                                        .on_message = sky_message};
static const roost_behaviour_t s_sky_local = {.kind = "@sky",
                                              .state_bytes = sizeof(sky_t),
                                              .on_activate = sky_activate,
                                              .on_message = sky_message};

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
    roost_node_send(node, roost_env_new(root, NULL, MSG_SPAWN, NULL, 0));
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
