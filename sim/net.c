/* sim/net.c — see net.h. The queue is a binary min-heap on (time, sequence). */
#include "sim/net.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/envelope.h"
#include "runtime/errors.h"
#include "runtime/hash.h"
#include "runtime/util.h"

typedef struct {
    uint64_t at_ns, seq;
    uint32_t from, to;
    void *bytes; /* the envelope's wire form */
    size_t len;
} delivery_t;

typedef struct {
    roost_transport_t base;
    sim_net_t *net;
    uint32_t id;
    roost_transport_sink_fn sink;
    void *arg;
} sim_tr_t;

struct sim_net {
    roost_rng_t *rng;
    const uint64_t *now_ns;
    sim_net_faults_t faults;
    sim_tr_t tr[SIM_NODES_MAX];
    bool up[SIM_NODES_MAX];
    uint64_t cut_until[SIM_NODES_MAX][SIM_NODES_MAX]; /* [from][to] */
    delivery_t *heap;
    size_t n, cap;
    uint64_t seq;
    sim_net_stats_t stats;
};

/* ---- the heap ------------------------------------------------------------------------------ */

static bool s_before(const delivery_t *a, const delivery_t *b)
{
    return a->at_ns < b->at_ns || (a->at_ns == b->at_ns && a->seq < b->seq);
}

static void s_swap(delivery_t *a, delivery_t *b)
{
    delivery_t t = *a;
    *a = *b;
    *b = t;
}

static void s_push(sim_net_t *n, delivery_t d)
{
    if (n->n == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 1024;
        n->heap = roost_xrealloc(n->heap, n->cap * sizeof *n->heap);
    }
    size_t i = n->n++;
    n->heap[i] = d;
    while (i > 0 && s_before(&n->heap[i], &n->heap[(i - 1) / 2])) {
        s_swap(&n->heap[i], &n->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

static delivery_t s_pop(sim_net_t *n)
{
    delivery_t top = n->heap[0];
    n->heap[0] = n->heap[--n->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n->n && s_before(&n->heap[l], &n->heap[m]))
            m = l;
        if (r < n->n && s_before(&n->heap[r], &n->heap[m]))
            m = r;
        if (m == i)
            break;
        s_swap(&n->heap[i], &n->heap[m]);
        i = m;
    }
    return top;
}

/* ---- sending --------------------------------------------------------------------------------- */

static bool s_chance(sim_net_t *n, uint32_t ppm)
{
    return ppm && roost_rng_below(n->rng, 1000000) < ppm;
}

static uint64_t s_latency_ns(sim_net_t *n)
{
    uint64_t us = n->faults.latency_us;
    if (n->faults.jitter_us)
        us += roost_rng_below(n->rng, n->faults.jitter_us);
    if (s_chance(n, n->faults.slow_ppm))
        us *= 20;
    return us * 1000u;
}

static void s_queue(sim_net_t *n, uint32_t from, uint32_t to, const void *bytes, size_t len)
{
    delivery_t d = {.at_ns = *n->now_ns + s_latency_ns(n),
                    .seq = n->seq++,
                    .from = from,
                    .to = to,
                    .bytes = roost_xmalloc(len ? len : 1),
                    .len = len};
    memcpy(d.bytes, bytes, len);
    s_push(n, d);
}

static int s_send(roost_transport_t *base, uint32_t to, roost_env_t *env)
{
    sim_tr_t *t = (sim_tr_t *)base;
    sim_net_t *n = t->net;
    n->stats.sent++;
    if (to == 0 || to >= SIM_NODES_MAX || !n->up[t->id]) {
        roost_env_free(env);
        n->stats.down++;
        return ROOST_ENOTFOUND;
    }
    if (sim_net_is_cut(n, t->id, to) || s_chance(n, n->faults.drop_ppm)) {
        roost_env_free(env);
        n->stats.dropped++;
        return ROOST_OK; /* lost on the way: the sender cannot tell */
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    roost_env_encode(env, &pk);
    roost_env_free(env);
    s_queue(n, t->id, to, sb.data, sb.size);
    if (s_chance(n, n->faults.dup_ppm)) {
        s_queue(n, t->id, to, sb.data, sb.size);
        n->stats.duplicated++;
    }
    msgpack_sbuffer_destroy(&sb);
    return ROOST_OK;
}

static void s_set_sink(roost_transport_t *base, roost_transport_sink_fn fn, void *arg)
{
    sim_tr_t *t = (sim_tr_t *)base;
    t->sink = fn;
    t->arg = arg;
}

static const roost_transport_ops_t s_ops = {.send = s_send, .set_sink = s_set_sink};

/* ---- public ---------------------------------------------------------------------------------- */

sim_net_t *sim_net_new(roost_rng_t *rng, const uint64_t *now_ns)
{
    sim_net_t *n = roost_xcalloc(1, sizeof *n);
    n->rng = rng;
    n->now_ns = now_ns;
    for (uint32_t i = 0; i < SIM_NODES_MAX; i++)
        n->tr[i] = (sim_tr_t){.base.ops = &s_ops, .net = n, .id = i};
    return n;
}

void sim_net_destroy(sim_net_t **self_p)
{
    sim_net_t *n = *self_p;
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        free(n->heap[i].bytes);
    free(n->heap);
    free(n);
    *self_p = NULL;
}

void sim_net_set_faults(sim_net_t *self, const sim_net_faults_t *faults)
{
    self->faults = *faults;
}

roost_transport_t *sim_net_transport(sim_net_t *self, uint32_t id)
{
    return id > 0 && id < SIM_NODES_MAX ? &self->tr[id].base : NULL;
}

void sim_net_set_up(sim_net_t *self, uint32_t id, bool up)
{
    if (id > 0 && id < SIM_NODES_MAX)
        self->up[id] = up;
}

void sim_net_cut(sim_net_t *self, uint32_t from, uint32_t to, uint64_t until_ns)
{
    if (from < SIM_NODES_MAX && to < SIM_NODES_MAX)
        self->cut_until[from][to] = until_ns;
}

bool sim_net_is_cut(const sim_net_t *self, uint32_t from, uint32_t to)
{
    return self->cut_until[from][to] > *self->now_ns;
}

uint64_t sim_net_next_ns(const sim_net_t *self)
{
    return self->n ? self->heap[0].at_ns : UINT64_MAX;
}

static uint64_t s_mix(uint64_t h, uint64_t v)
{
    uint64_t words[2] = {h, v};
    return roost_hash64(words, sizeof words);
}

uint32_t sim_net_deliver_due(sim_net_t *self)
{
    uint32_t count = 0;
    while (self->n && self->heap[0].at_ns <= *self->now_ns) {
        delivery_t d = s_pop(self);
        sim_tr_t *to = &self->tr[d.to];
        roost_env_t *env = NULL;
        if (!self->up[d.to] || !to->sink) {
            self->stats.down++;
        } else if (roost_env_decode_bytes(d.bytes, d.len, &env) == ROOST_OK) {
            uint64_t h = s_mix(self->stats.trace, d.at_ns);
            h = s_mix(h, (uint64_t)d.from << 32 | d.to);
            self->stats.trace = s_mix(h, roost_hash64(d.bytes, d.len));
            self->stats.delivered++;
            count++;
            to->sink(to->arg, d.from, env);
            to->sink(to->arg, d.from, NULL); /* a delivery is a batch of one */
        }
        free(d.bytes);
    }
    return count;
}

void sim_net_stats(const sim_net_t *self, sim_net_stats_t *out)
{
    *out = self->stats;
}
