/* runtime/transport.h — the seam between a node and the network.
 *
 * The node sends envelopes to other nodes through a roost_transport_t and receives them through
 * the sink it registers. The real implementation is transport_zmq.c (ZeroMQ, batched, on its
 * own I/O thread or on the node's first worker); sim/ supplies an in-memory network behind the same
 * vtable. Sends never block the caller: a full or dead path fails fast with ROOST_EAGAIN and the
 * envelope is dropped (counted) — bounded memory is preferred over unbounded buffering toward a
 * dead peer.
 */
#ifndef ROOST_TRANSPORT_H
#define ROOST_TRANSPORT_H

#include <stdint.h>

#include "runtime/envelope.h"

typedef struct roost_transport roost_transport_t;

/* Called on the thread running the transport's I/O (its own, or the node's first worker) for
 * each envelope received from node `from`; the sink owns env. After the envelopes of one
 * received batch (a frame) it is called once more with env NULL: the batch ended, and what the
 * sink held back to hand on together must go now. */
typedef void (*roost_transport_sink_fn)(void *arg, uint32_t from, roost_env_t *env);

typedef struct {
    /* Queues env for node `to`; takes ownership whatever the result. Thread-safe.
     * 0, ROOST_ENOTFOUND (unknown node) or ROOST_EAGAIN (bounded queue full). */
    int (*send)(roost_transport_t *self, uint32_t to, roost_env_t *env);
    /* Optional (NULL: the node sends one at a time): queues the n envelopes first → … → last,
     * linked through their qnode, each for node env->dest_node, with one hand-off; takes
     * ownership of all. Those for unknown nodes, or beyond the bounded queue, are dropped and
     * counted: a worker batches its actors' remote sends for a pass, so it no longer learns of
     * a full queue at the send (nothing relied on that: delivery to another node is never
     * promised by a send). Thread-safe. */
    void (*send_chain)(roost_transport_t *self, roost_env_t *first, roost_env_t *last, uint32_t n);
    /* Registers where received envelopes go; call before the transport starts delivering. */
    void (*set_sink)(roost_transport_t *self, roost_transport_sink_fn fn, void *arg);
    /* Optional (NULL when the transport always runs its own thread): for a transport whose
     * I/O runs on the node's first worker (roost_node_set_io). `serve`: one non-blocking pass
     * (receive, send what is queued, heartbeats when due); true if it moved anything. `wait`:
     * sleeps until the network needs a pass, a sender queued something, `fd` is readable, or
     * `timeout_ns` passed (UINT64_MAX: no timeout of the caller's). */
    bool (*serve)(roost_transport_t *self);
    void (*wait)(roost_transport_t *self, int fd, uint64_t timeout_ns);
} roost_transport_ops_t;

struct roost_transport {
    const roost_transport_ops_t *ops;
};

static inline int roost_transport_send(roost_transport_t *t, uint32_t to, roost_env_t *env)
{
    return t->ops->send(t, to, env);
}

#endif
