/* tests/support/inproc_net.h — an in-process network for tests: a roost_transport_t per node
 * that hands envelopes to the target node's sink on the sending thread, with per-link cuts for
 * partition tests. Header-only.
 *
 * A sink is called by one thread at a time (the transport contract: a node's sink holds a batch
 * back until the batch's end): a sender queues its envelope on the target's queue and then
 * delivers whatever is queued there unless another thread is delivering to that node already,
 * which then delivers it. Nobody waits for anybody (a delivery may forward to another node,
 * and two nodes may forward to each other), so no lock. Each envelope is a batch of one. */
#ifndef ROOST_TEST_INPROC_NET_H
#define ROOST_TEST_INPROC_NET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "runtime/errors.h"
#include "runtime/mpsc.h"
#include "runtime/transport.h"

enum { INPROC_NODES_MAX = 8 };

typedef struct inproc_net inproc_net_t;

typedef struct {
    roost_transport_t base;
    inproc_net_t *net;
    uint32_t self;
    roost_transport_sink_fn sink;
    void *arg;
    _Atomic int delivering; /* senders to this node not yet returned (queued or delivering) */
    mpsc_t queue;           /* sent to this node, not yet handed to its sink */
    _Atomic int queued;     /* parcels in queue (mpsc_is_empty is the drainer's only) */
    _Atomic bool draining;  /* a thread is handing the queue to the sink */
} inproc_tr_t;

struct inproc_net {
    inproc_tr_t tr[INPROC_NODES_MAX];
    _Atomic bool cut[INPROC_NODES_MAX][INPROC_NODES_MAX]; /* [from][to] */
    _Atomic uint64_t dropped;
};

/* Waits until no envelope is being handed to t (a delivery may forward to another node, so
 * this is a count, not a lock: no two deliveries ever wait on each other). */
static inline void inproc_quiesce(inproc_tr_t *t)
{
    while (atomic_load(&t->delivering))
        ;
}

typedef struct {
    mpsc_node_t qnode; /* first: the queue's node is the parcel */
    uint32_t from;
    roost_env_t *env;
} inproc_parcel_t;

/* Hands dst's queue to its sink unless another thread is at it (which then will). */
static inline void inproc_drain(inproc_tr_t *dst)
{
    while (atomic_load(&dst->queued) > 0 && !atomic_exchange(&dst->draining, true)) {
        mpsc_node_t *q;
        while ((q = mpsc_pop(&dst->queue)) != NULL) {
            inproc_parcel_t *parcel = (inproc_parcel_t *)q;
            atomic_fetch_sub(&dst->queued, 1);
            dst->sink(dst->arg, parcel->from, parcel->env);
            dst->sink(dst->arg, parcel->from, NULL);
            free(parcel);
        }
        atomic_store(&dst->draining, false);
    }
}

static inline int inproc_send(roost_transport_t *base, uint32_t to, roost_env_t *env)
{
    inproc_tr_t *t = (inproc_tr_t *)base;
    inproc_net_t *n = t->net;
    if (to >= INPROC_NODES_MAX) {
        roost_env_free(env);
        return ROOST_EAGAIN;
    }
    /* the cut first: a node is cut off before it is replaced, so its sink is not read then
     * (and inproc_cut waits out a delivery already under way: see there) */
    atomic_fetch_add(&n->tr[to].delivering, 1);
    bool cut = atomic_load(&n->cut[t->self][to]) || !n->tr[to].sink;
    if (!cut) {
        env->next = NULL;
        inproc_parcel_t *parcel = malloc(sizeof *parcel);
        if (!parcel)
            abort();
        *parcel = (inproc_parcel_t){.from = t->self, .env = env};
        atomic_fetch_add(&n->tr[to].queued, 1);
        mpsc_push(&n->tr[to].queue, &parcel->qnode);
        inproc_drain(&n->tr[to]);
    }
    atomic_fetch_sub(&n->tr[to].delivering, 1);
    if (cut) {
        roost_env_free(env);
        atomic_fetch_add(&n->dropped, 1);
        return ROOST_EAGAIN;
    }
    return ROOST_OK;
}

static inline void inproc_set_sink(roost_transport_t *base, roost_transport_sink_fn fn, void *arg)
{
    inproc_tr_t *t = (inproc_tr_t *)base;
    t->sink = fn;
    t->arg = arg;
}

static const roost_transport_ops_t inproc_ops = {.send = inproc_send, .set_sink = inproc_set_sink};

static inline roost_transport_t *inproc_transport(inproc_net_t *n, uint32_t id)
{
    n->tr[id].base.ops = &inproc_ops;
    mpsc_init(&n->tr[id].queue);
    n->tr[id].net = n;
    n->tr[id].self = id;
    return &n->tr[id].base;
}

/* Cuts (or heals) both directions between a and b. Once it returns, no delivery across the
 * cut is still under way, and every earlier one happened before (a node cut off can then be
 * destroyed: ThreadSanitizer saw a late enqueue race the free). */
static inline void inproc_cut(inproc_net_t *n, uint32_t a, uint32_t b, bool cut)
{
    atomic_store(&n->cut[a][b], cut);
    atomic_store(&n->cut[b][a], cut);
    inproc_quiesce(&n->tr[a]);
    inproc_quiesce(&n->tr[b]);
}

/* Cuts (or heals) the direction from → to only. */
static inline void inproc_cut_one_way(inproc_net_t *n, uint32_t from, uint32_t to, bool cut)
{
    atomic_store(&n->cut[from][to], cut);
    inproc_quiesce(&n->tr[to]);
}

/* Cuts (or heals) node a from every other node. */
static inline void inproc_isolate(inproc_net_t *n, uint32_t a, bool cut)
{
    for (uint32_t b = 0; b < INPROC_NODES_MAX; b++)
        if (b != a)
            inproc_cut(n, a, b, cut);
}

#endif
