/* runtime/transport.h — the seam between a node and the network.
 *
 * The node sends envelopes to other nodes through a roost_transport_t and receives them through
 * the sink it registers. The real implementation is transport_zmq.c (ZeroMQ, batched, on its
 * own I/O thread); sim/ supplies an in-memory network behind the same vtable. Sends never block
 * the caller: a full or dead path fails fast with ROOST_EAGAIN and the envelope is dropped
 * (counted) — bounded memory is preferred over unbounded buffering toward a dead peer.
 */
#ifndef ROOST_TRANSPORT_H
#define ROOST_TRANSPORT_H

#include <stdint.h>

#include "runtime/envelope.h"

typedef struct roost_transport roost_transport_t;

/* Called on the transport's thread for each envelope received from node `from`; the sink owns
 * env. */
typedef void (*roost_transport_sink_fn)(void *arg, uint32_t from, roost_env_t *env);

typedef struct {
    /* Queues env for node `to`; takes ownership whatever the result. Thread-safe.
     * 0, ROOST_ENOTFOUND (unknown node) or ROOST_EAGAIN (bounded queue full). */
    int (*send)(roost_transport_t *self, uint32_t to, roost_env_t *env);
    /* Registers where received envelopes go; call before the transport starts delivering. */
    void (*set_sink)(roost_transport_t *self, roost_transport_sink_fn fn, void *arg);
} roost_transport_ops_t;

struct roost_transport {
    const roost_transport_ops_t *ops;
};

static inline int roost_transport_send(roost_transport_t *t, uint32_t to, roost_env_t *env)
{
    return t->ops->send(t, to, env);
}

#endif
